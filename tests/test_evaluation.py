import json
from pathlib import Path

import numpy as np
import pytest

from emovox.corpora import Utterance
from emovox.errors import DataError
from emovox.evaluation import make_folds, write_report
from emovox.evaluation.metrics import scores
from emovox.evaluation.protocols import RAVDESS_SI6
from emovox.evaluation.runner import cross_validate
from emovox.models import get_model_spec


def fake_ravdess(emotions=("calm", "happy", "fearful", "disgust")):
    return [Utterance(Path(f"Actor_{a:02d}/{e}-{k}.wav"), emo, f"{a:02d}", "ravdess")
            for a in range(1, 25) for e, emo in enumerate(emotions) for k in range(8)]


def test_seed_split_sizes_and_stability():
    utts = fake_ravdess()
    (fold,) = make_folds("seed", utts)
    assert len(fold.train) == 576 and len(fold.test) == 192
    assert np.array_equal(fold.test, make_folds("seed", utts)[0].test)
    assert {utts[i].speaker for i in fold.test} & {utts[i].speaker for i in fold.train}  # speakers overlap


def test_ravdess_si6_holds_out_whole_actors():
    utts = fake_ravdess()
    folds = make_folds("ravdess-si6", utts)
    assert len(folds) == 6
    tested = []
    for fold, actors in zip(folds, RAVDESS_SI6):
        test_speakers = {utts[i].speaker for i in fold.test}
        assert test_speakers == set(actors)
        assert not test_speakers & {utts[i].speaker for i in fold.train}
        tested += list(fold.test)
    assert sorted(tested) == list(range(len(utts)))


def test_speaker_kfold_and_errors():
    utts = fake_ravdess()
    folds = make_folds("speaker-kfold", utts, k=4)
    assert len(folds) == 4
    for f in folds:
        assert not {utts[i].speaker for i in f.test} & {utts[i].speaker for i in f.train}
    with pytest.raises(DataError, match="speaker"):
        make_folds("speaker-kfold", [Utterance(Path("a"), "calm", None, "folder")] * 4)
    with pytest.raises(DataError, match="RAVDESS"):
        make_folds("ravdess-si6", [Utterance(Path("a"), "calm", "x", "folder")])


def test_metrics():
    s = scores(np.array([0, 0, 0, 0, 1, 1]), np.array([0, 0, 0, 1, 1, 0]), 3)
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["uar"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    assert s["confusion"] == [[3, 1, 0], [1, 1, 0], [0, 0, 0]]


def test_cross_validate_and_report(tmp_path):
    utts = fake_ravdess()
    rng = np.random.default_rng(0)
    targets = np.array([("calm", "happy", "fearful", "disgust").index(u.label) for u in utts])
    features = (rng.normal(size=(len(utts), 180)) + 3 * np.eye(4)[targets].repeat(45, axis=1)).astype(np.float32)
    result = cross_validate(features, targets, utts, ["calm", "happy", "fearful", "disgust"],
                            get_model_spec("seed-mlp"), "ravdess-si6", progress=False)
    assert len(result["runs"]) == 6 and result["summary"]["uar"]["mean"] > 90
    assert np.sum(result["confusion"]) == len(utts)
    written = write_report([result], tmp_path / "r", {"files": 768, "speakers": 24, "per_label": {}})
    assert [p.name for p in written] == ["report.json", "report.md", "confusion-ravdess-si6.png"]
    assert json.loads(written[0].read_text())["results"][0]["protocol"] == "ravdess-si6"
    assert "| seed-mlp | seed180 | ravdess-si6 |" in written[1].read_text()
    assert written[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
