"""The cross-corpus protocol on two tiny synthetic corpora whose tones' pitch depends on the emotion."""

import json

import numpy as np
import pytest

from conftest import tone, write_audio
from emovox.errors import DataError, ParameterError
from emovox.evaluation import PROTOCOLS, make_folds, summary_line, write_report
from emovox.evaluation.cross_corpus import cross_corpus
from emovox.features import get_feature_set
from emovox.pipeline import Dataset, load_dataset

#: Fundamental frequency per emotion, far enough apart for a linear model to tell them apart.
PITCH = {"neutral": 150.0, "happy": 330.0, "sad": 110.0, "angry": 220.0, "fearful": 270.0}
RAVDESS_CODES = {"neutral": 1, "happy": 3, "sad": 4, "angry": 5}
EMODB_LETTERS = {"happy": "F", "sad": "T", "angry": "W", "fearful": "A", None: "L"}


def clip(emotion: str | None, speaker: int, take: int, seed: int) -> np.ndarray:
    """0.4 s at 16 kHz; pitch by emotion, shifted a few percent per speaker and take, with fresh noise."""
    base = PITCH.get(emotion, 180.0)
    noise = 0.01 * np.random.default_rng(seed).standard_normal(6400).astype(np.float32)
    return tone(0.4, 16000, base * (1 + 0.03 * (speaker % 3 - 1)) * (1 + 0.01 * take)) + noise


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """A RAVDESS-named corpus (3 actors x 4 emotions x 2) and an EMO-DB-named one (3 speakers x 5 emotions x 2)."""
    root = tmp_path_factory.mktemp("cross")
    for actor in (1, 2, 3):
        folder = root / "ravdess" / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        for emotion, code in RAVDESS_CODES.items():
            for rep in (1, 2):
                name = f"03-01-{code:02d}-01-01-{rep:02d}-{actor:02d}.wav"
                write_audio(folder / name, clip(emotion, actor, rep, seed=100 * actor + 10 * code + rep), 16000)
    (root / "emodb" / "wav").mkdir(parents=True)
    for i, speaker in enumerate(("03", "08", "13")):
        for emotion, letter in EMODB_LETTERS.items():
            for version in "ab":
                take = "ab".index(version)
                write_audio(root / "emodb" / "wav" / f"{speaker}a01{letter}{version}.wav",
                            clip(emotion, i, take, seed=1000 + 100 * i + 10 * "FTWAL".index(letter) + take), 16000)
    stats = get_feature_set("stats")
    options = {"jobs": 1, "use_cache": False, "progress": False}
    train = load_dataset(root / "ravdess", tuple(RAVDESS_CODES), stats, **options)
    test = load_dataset(root / "emodb", ("happy", "sad", "angry", "fearful"), stats, **options)
    return train, test


def test_cross_corpus_from_the_command_line(datasets, capsys):
    from emovox.cli import main

    train, test = datasets
    ravdess_root, emodb_root = train.utterances[0].path.parents[1], test.utterances[0].path.parent
    code = main(["evaluate", "--data", str(ravdess_root), "--emotions", "neutral,happy,sad,angry", "--recipe", "stats-lr",
                 "--features", "stats", "--protocol", "cross-corpus", "--test-data", str(emodb_root),
                 "--test-corpus", "emodb", "--json", "--no-progress", "--jobs", "1"])
    out = capsys.readouterr()
    assert code == 0, out.err
    summary = json.loads(out.out)
    assert summary["recipe"] == "stats-lr"
    (result,) = summary["results"]
    assert result["protocol"] == "cross-corpus" and result["labels"] == ["happy", "sad", "angry"]
    assert main(["evaluate", "--data", str(ravdess_root), "--emotions", "neutral,happy", "--protocol", "cross-corpus",
                 "--recipe", "stats-lr", "--no-progress"]) == 2
    assert "needs --test-data" in capsys.readouterr().err


def test_cross_corpus_result(datasets, tmp_path):
    train, test = datasets
    assert len(train.utterances) == 24 and len(test.utterances) == 24  # EMO-DB boredom skipped
    result = cross_corpus(train, test, "stats-lr", seeds=(0, 1))
    assert result["protocol"] == "cross-corpus"
    assert result["protocol_description"] == PROTOCOLS["cross-corpus"].description
    assert result["labels"] == ["happy", "sad", "angry"]  # shared, in emovox's order
    assert result["n_folds"] == 1 and result["seeds"] == [0, 1] and len(result["runs"]) == 2
    run = result["runs"][0]
    assert run["fold"] == "ravdess -> emodb" and run["n_train"] == 18 and run["n_test"] == 18
    assert np.asarray(result["confusion"]).sum() == 36
    assert result["test_data"]["per_label"] == {"angry": 6, "happy": 6, "sad": 6}
    # stats-lr gives probabilities: its calibration (ECE, NLL) is summarised with the three scores
    assert {"uar", "accuracy", "macro_f1", "ece", "nll", "uncertain", "accuracy_confident",
            "ece_pooled"} <= set(result["summary"])
    assert set(result["recall"]) == set(result["labels"])
    assert 0 <= result["summary"]["ece"]["mean"] <= 100 and result["summary"]["nll"]["mean"] > 0
    assert result["summary"]["accuracy"]["mean"] >= 80  # chance is 33 %
    assert summary_line(result).startswith("cross-corpus")
    written = write_report([result], tmp_path, train.summary())
    assert [p.name for p in written] == ["report.json", "report.md", "confusion-cross-corpus.png"]
    assert json.loads(written[0].read_text())["results"][0]["labels"] == ["happy", "sad", "angry"]
    assert "## cross-corpus" in written[1].read_text()


def test_cross_corpus_errors(datasets):
    train, test = datasets
    with pytest.raises(DataError, match="in both the training and the test data"):
        cross_corpus(train, train, "stats-lr")
    rows = np.flatnonzero(np.isin(np.array(test.labels)[test.targets], ["fearful", "happy"]))
    narrow = Dataset([test.utterances[i] for i in rows], test.features[rows],
                     np.array([("fearful", "happy").index(test.labels[t]) for t in test.targets[rows]]),
                     ("fearful", "happy"), test.feature_set)
    with pytest.raises(DataError, match="share 1; at least 2"):
        cross_corpus(train, narrow, "stats-lr")
    other = Dataset(test.utterances, test.features[:, :10], test.targets, test.labels, get_feature_set("seed180"))
    with pytest.raises(DataError, match="same feature set"):
        cross_corpus(train, other, "stats-lr")


def test_make_folds_needs_test_data(datasets):
    with pytest.raises(ParameterError, match="--test-data"):
        make_folds("cross-corpus", datasets[0].utterances)
