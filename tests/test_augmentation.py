"""Training-time augmentation, multi-corpus training and leave-one-corpus-out, and the detector memo."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import RAVDESS, needs_ravdess, ravdess_file

from emovox import augment, speech_presence
from emovox.audio import load, resample
from emovox.errors import DataError
from emovox.evaluation.runner import AugmentedRows, training_rows

EMOVO = Path(__file__).resolve().parents[2] / "shared" / "data" / "emovo"
needs_emovo = pytest.mark.skipif(not (EMOVO / "f1").is_dir(), reason=f"EMOVO corpus not found at {EMOVO} "
                                                                      "(research-only; never part of the repository)")


@needs_ravdess
def test_training_degradation_is_seeded_varied_and_bounded():
    clip = load(ravdess_file(1, 5, 2), rate=16000).samples
    outputs = [augment.training_degradation(clip, 16000, np.random.default_rng(seed)) for seed in range(12)]
    again = augment.training_degradation(clip, 16000, np.random.default_rng(3))
    assert np.array_equal(outputs[3][0], again[0]) and outputs[3][1] == again[1]
    for samples, rate in outputs:
        assert samples.dtype == np.float32 and np.all(np.isfinite(samples)) and np.max(np.abs(samples)) <= 1.0
        assert rate in (8000, 16000) and abs(len(samples) / rate - len(clip) / 16000) < 0.15 * len(clip) / 16000
        if rate == 16000 and len(samples) == len(clip):
            assert not np.allclose(samples, clip, atol=1e-4)  # something was always applied
    # the draws differ: several kinds of change over 12 seeds
    assert len({(rate, len(samples)) for samples, rate in outputs}) >= 2
    babble = augment.self_babble(clip, 16000, np.random.default_rng(0), talkers=4)
    assert len(babble) == len(clip) and np.sqrt(np.mean(babble ** 2)) == pytest.approx(1.0, rel=1e-3)
    assert abs(np.corrcoef(babble, clip)[0, 1]) < 0.3  # other "talkers", not the clip itself


@needs_ravdess
def test_augmented_copies_are_reproducible_and_cached(tmp_path):
    from emovox.features import extract_files, get_feature_set
    from emovox.features.augmented import AugmentedCopy

    base = get_feature_set("seed180")
    paths = [ravdess_file(2, e) for e in (3, 4, 5, 6)]
    copies = [AugmentedCopy(base, copy=c) for c in (0, 1)]
    assert len({base.key, copies[0].key, copies[1].key, AugmentedCopy(base, copy=0, seed=1).key}) == 4
    clean = extract_files(paths, base, jobs=1, cache_root=tmp_path, progress=False).features
    first = extract_files(paths, copies[0], jobs=1, cache_root=tmp_path, progress=False)
    second = extract_files(paths, copies[1], jobs=1, cache_root=tmp_path, progress=False)
    again = extract_files(paths, AugmentedCopy(base, copy=0), jobs=2, cache_root=tmp_path, progress=False)
    assert first.cached == 0 and again.cached == len(paths) and np.array_equal(first.features, again.features)
    assert not np.allclose(first.features, clean) and not np.allclose(first.features, second.features)
    recomputed = extract_files(paths, AugmentedCopy(base, copy=0), jobs=1, use_cache=False, progress=False)
    assert np.allclose(recomputed.features, first.features, atol=1e-5)  # seeded by the clip, not by the run



@needs_ravdess
def test_babble_in_a_copy_is_the_speakers_other_recordings(monkeypatch):
    from emovox.audio import Audio
    from emovox.features import augmented, get_feature_set

    own = [ravdess_file(2, e) for e in (3, 4, 5, 6)]
    stranger, unknown = ravdess_file(3, 5), ravdess_file(4, 2)
    voices = augmented.babble_voices([(p, "02") for p in own] + [(stranger, "03"), (unknown, None)])
    assert voices[str(own[0])] == tuple(sorted(str(p) for p in own[1:]))  # the same speaker's others, not itself
    assert voices[str(stranger)] == () and voices[str(unknown)] == ()

    clip = load(own[0], rate=16000).samples
    others = [load(p, rate=16000).samples for p in own[1:]]
    track = augment.talkers_babble(len(clip), 16000, np.random.default_rng(0), others, talkers=5)
    again = augment.talkers_babble(len(clip), 16000, np.random.default_rng(0), others, talkers=5)
    assert np.array_equal(track, again) and len(track) == len(clip)
    assert np.sqrt(np.mean(track ** 2)) == pytest.approx(1.0, rel=1e-3)
    assert abs(np.corrcoef(track, clip)[0, 1]) < 0.3

    base = get_feature_set("seed180")
    copy = augmented.AugmentedCopy(base, copy=0, voices=voices)
    assert copy.key != augmented.AugmentedCopy(base, copy=0).key  # where the babble comes from is in the key
    read = []
    real_load = augmented.load
    monkeypatch.setattr(augmented, "load", lambda path, rate: read.append(path) or real_load(path, rate=rate))
    audio = load(own[0])
    degraded = [augmented.AugmentedCopy(base, copy=c, voices=voices).degrade(audio) for c in range(12)]
    assert read and set(read) <= set(voices[str(own[0])])  # babble was drawn, only from the speaker's others
    assert all(np.all(np.isfinite(d.samples)) and np.max(np.abs(d.samples)) <= 1.0 for d in degraded)
    read.clear()
    alone = [augmented.AugmentedCopy(base, copy=c, voices=voices).degrade(Audio(audio.samples, audio.rate, "x.wav"))
             for c in range(12)]
    assert not read and len(alone) == 12  # a clip not in the map: babble from itself, nothing read


@needs_ravdess
def test_a_recipe_draws_babble_from_the_speakers_other_recordings(capsys):
    from emovox.cli import main
    from emovox.errors import ParameterError
    from emovox.features import get_feature_set
    from emovox.models import get_model_spec
    from emovox.pipeline import load_dataset

    assert get_model_spec("whisper-vad-babble-lr").babble == "speaker"
    assert get_model_spec("whisper-vad-aug-lr").babble == "self"
    options = dict(actors=["01", "02"], progress=False, augment=1)
    own = load_dataset(RAVDESS, ("calm", "angry"), get_feature_set("seed180"), babble="speaker", **options)
    plain = load_dataset(RAVDESS, ("calm", "angry"), get_feature_set("seed180"), **options)
    assert own.summary()["augmentation"]["babble"].startswith("the speaker's other recordings")
    assert "babble" not in plain.summary()["augmentation"]
    assert np.array_equal(own.features, plain.features)  # the clean clips are the same
    assert not np.allclose(own.augmented.features, plain.augmented.features)  # the copies are not
    # a fold never trains on a copy of a speaker it tests on: such a copy's babble may be a test clip
    from emovox.pipeline import evaluate

    (grouped,) = evaluate(own, "seed-mlp", ["speaker-kfold"], k=2, progress=False)
    assert all(run["n_train_augmented"] == run["n_train"] for run in grouped["runs"])
    (random_split,) = evaluate(own, "seed-mlp", ["seed"], progress=False)
    assert all(run["n_train_augmented"] == 0 for run in random_split["runs"])
    (plain_split,) = evaluate(plain, "seed-mlp", ["seed"], progress=False)  # babble from the clip itself: kept
    assert all(run["n_train_augmented"] == run["n_train"] for run in plain_split["runs"])
    with pytest.raises(ParameterError, match="babble must be one of self, speaker"):
        load_dataset(RAVDESS, ("calm", "angry"), get_feature_set("seed180"), babble="crowd", **options)
    # the recipe decides it for `emovox evaluate` (and train)
    code = main(["evaluate", "--data", str(RAVDESS), "--emotions", "calm,angry", "--actors", "01,02,03,04",
                 "--recipe", "whisper-vad-babble-lr", "--features", "seed180", "--augment", "1",
                 "--protocol", "speaker-kfold", "--no-progress", "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["data"]["augmentation"]["babble"].startswith("the speaker's other recordings")

def test_training_rows_take_only_the_training_clips_copies():
    features = np.arange(6, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    targets = np.array([0, 1, 0, 1, 0, 1])
    groups = np.array(list("aabbcc"), dtype=object)
    copies = AugmentedRows(100 + np.arange(12, dtype=np.float32)[:, None] * np.ones((1, 3)), np.tile(np.arange(6), 2))
    x, y, g = training_rows(features, targets, groups, np.array([0, 1, 4]), copies)
    assert x[:, 0].tolist() == [0, 1, 4, 100, 101, 104, 106, 107, 110]
    assert y.tolist() == [0, 1, 0, 0, 1, 0, 0, 1, 0] and g.tolist() == list("aacaacaac")
    plain = training_rows(features, targets, groups, np.array([2, 3]), None)
    assert plain[0][:, 0].tolist() == [2, 3]


@needs_ravdess
def test_cross_validation_trains_on_copies_and_tests_on_clean_clips():
    from emovox.features import get_feature_set
    from emovox.pipeline import evaluate, load_dataset

    data = load_dataset(RAVDESS, ("calm", "angry"), get_feature_set("seed180"), actors=["01", "02", "03", "04"],
                        progress=False, augment=1)
    assert len(data.augmented) == len(data.utterances) == 64
    assert data.summary()["augmentation"] == {"policy": f"emovox.augment v{augment.POLICY_VERSION}", "copies": 1,
                                              "seed": 0, "rows": 64}
    result = evaluate(data, "seed-mlp", ["speaker-kfold"], k=2, progress=False)[0]
    for run in result["runs"]:
        assert run["n_train_augmented"] == run["n_train"] and run["n_test"] == 32
    assert result["summary"]["uar"]["mean"] > 60


@needs_ravdess
@needs_emovo
def test_two_corpora_keep_speakers_apart_and_leave_one_corpus_out(tmp_path):
    from emovox.cli import main
    from emovox.evaluation.protocols import make_folds
    from emovox.features import get_feature_set
    from emovox.pipeline import load_dataset

    emotions = ("neutral", "angry", "sad")
    actors = ["ravdess:01", "ravdess:02", "emovo:f1", "emovo:m1"]
    data = load_dataset([RAVDESS, EMOVO], emotions, get_feature_set("seed180"), actors=actors, progress=False)
    assert {u.speaker for u in data.utterances} == set(actors)
    assert data.summary()["corpus"] == ["emovo", "ravdess"]
    folds = make_folds("leave-one-corpus-out", data.utterances)
    assert [f.name for f in folds] == ["ravdess -> emovo", "emovo -> ravdess"]  # test corpora in path order
    for fold in folds:
        trained = {data.utterances[i].corpus for i in fold.train}
        tested = {data.utterances[i].corpus for i in fold.test}
        assert len(trained) == len(tested) == 1 and trained != tested
    with pytest.raises(DataError, match="two corpora"):
        make_folds("leave-one-corpus-out", [u for u in data.utterances if u.corpus == "emovo"])
    with pytest.raises(DataError, match="given twice"):
        load_dataset([RAVDESS, RAVDESS], emotions, get_feature_set("seed180"), progress=False)
    from emovox.models import bundle as bundle_io
    from emovox.pipeline import fit_bundle

    manifest = bundle_io.load(fit_bundle(data, "seed-mlp", tmp_path / "both.emovox")).manifest
    assert "RAVDESS" in manifest["licence_note"] and "EMOVO" in manifest["licence_note"]
    assert "research use only" in manifest["licence_note"] and manifest["training"]["speakers"] == 4

    report = tmp_path / "report"
    code = main(["evaluate", "--data", str(RAVDESS), "--data", str(EMOVO), "--emotions", ",".join(emotions),
                 "--actors", ",".join(actors), "--recipe", "seed-mlp", "--no-progress", "--report", str(report),
                 "--json"])
    assert code == 0
    written = json.loads((report / "report.json").read_text())
    assert written["results"][0]["protocol"] == "leave-one-corpus-out"
    assert [r["fold"] for r in written["results"][0]["runs"]] == ["ravdess -> emovo", "emovo -> ravdess"]


@needs_ravdess
def test_detector_runs_once_for_the_check_and_the_cut(monkeypatch):
    """detect() after speech_bounds() of the same audio (a VAD-cut model checks, then cuts) reuses the answers."""
    audio = load(ravdess_file(3, 2))
    at_16k = resample(audio, 16000).samples
    calls = []
    vad = speech_presence._vad()
    original = vad.probability
    monkeypatch.setattr(vad, "probability", lambda frame: calls.append(1) or original(frame))
    monkeypatch.setattr(speech_presence, "_vad", lambda: vad)
    speech_presence._LOCAL.__dict__.get("memo", {}).clear()
    bounds = speech_presence.speech_bounds(at_16k)
    frames = len(calls)
    assert bounds is not None and frames == len(at_16k) // speech_presence.FRAME
    assert speech_presence.detect(audio.samples, audio.rate) is None
    assert len(calls) == frames  # remembered: not one frame more
    speech_presence._LOCAL.memo.clear()
    assert speech_presence.detect(audio.samples, audio.rate) is None
    assert frames < len(calls) < 2 * frames  # alone, it stops once it has heard enough speech
