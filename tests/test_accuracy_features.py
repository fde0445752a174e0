"""The default model's parts: TunedLR (C and temperature from inner folds by speaker), ECE in the
results, and the Whisper encoder builder's layer options."""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from emovox.corpora import Utterance
from emovox.evaluation.metrics import expected_calibration_error, scores
from emovox.evaluation.runner import cross_validate, fit_with_groups
from emovox.models import get_model_spec
from emovox.models.classical import TunedLR, _temperature


def blobs(n_speakers=6, per=20, labels=4, dim=12, seed=0, shift=1.0):
    """Gaussian classes with a per-speaker offset: rows, targets, speakers."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((labels, dim)) * shift
    x, y, g = [], [], []
    for s in range(n_speakers):
        offset = 0.5 * rng.standard_normal(dim)
        for i in range(per):
            k = i % labels
            x.append(centres[k] + offset + rng.standard_normal(dim))
            y.append(k)
            g.append(f"s{s}")
    return np.array(x, np.float32), np.array(y), np.array(g)


def test_ece_known_values():
    y = np.array([0, 0, 1, 1])
    assert expected_calibration_error(y, np.array([[1.0, 0], [1.0, 0], [0, 1.0], [0, 1.0]])) == 0.0
    # always 0.9 confident, right half the time: ECE 0.4
    p = np.array([[0.9, 0.1]] * 4)
    assert expected_calibration_error(y, p) == pytest.approx(0.4)
    result = scores(y, p.argmax(axis=1), 2, p)
    assert result["ece"] == pytest.approx(0.4) and result["nll"] == pytest.approx(-np.mean(np.log([0.9, 0.9, 0.1, 0.1])))
    assert "ece" not in scores(y, p.argmax(axis=1), 2)


def test_temperature_recovers_overconfidence():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((4000, 3)) * 2.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in probs])
    assert _temperature(logits * 3.0, y) == pytest.approx(3.0, rel=0.15)  # scores 3x too sharp -> T about 3


def test_tuned_lr_uses_speaker_folds_and_stays_a_plain_pipeline():
    x, y, g = blobs()
    model = TunedLR(Cs=(0.01, 0.1, 1.0), inner_folds=3).fit(x, y, groups=g)
    assert model.C_ in (0.01, 0.1, 1.0) and set(model.inner_scores_) == {0.01, 0.1, 1.0}
    assert 0.05 < model.temperature_ < 20
    p = model.predict_proba(x)
    assert np.allclose(p.sum(axis=1), 1) and np.array_equal(p.argmax(axis=1), model.predict(x))
    # the temperature is folded into the coefficients: the ONNX graph gives the same probabilities
    session = ort.InferenceSession(model.to_onnx(x.shape[1]), providers=["CPUExecutionProvider"])
    onnx_p = session.run(None, {"features": x})[-1]
    assert np.allclose(onnx_p, p, atol=1e-4)
    uncalibrated = TunedLR(Cs=(model.C_,), calibrate=False).fit(x, y, groups=g)
    assert uncalibrated.temperature_ == 1.0
    logits = uncalibrated.decision_function(x)
    assert np.allclose(model.decision_function(x), logits / model.temperature_, atol=1e-3)


def test_fit_with_groups_only_when_fit_takes_them():
    x, y, g = blobs(per=8)
    seen = {}

    class Takes(TunedLR):
        def fit(self, X, y, groups=None):
            seen["groups"] = groups
            return super().fit(X, y, groups)

    fit_with_groups(Takes(Cs=(0.1,)), x, y, g)
    assert list(seen["groups"]) == list(g)
    fit_with_groups(get_model_spec("stats-lr").build(0), x, y, g)  # a Pipeline: no groups, no error


def test_cross_validate_reports_ece():
    x, y, g = blobs(n_speakers=6, per=16)
    utts = [Utterance(Path(f"{s}/{i}.wav"), str(k), s, "x") for i, (k, s) in enumerate(zip(y, g))]
    result = cross_validate(x, y, utts, [str(k) for k in range(4)], get_model_spec("whisper-lr"), "speaker-kfold",
                            k=3, progress=False)
    assert {"uar", "accuracy", "macro_f1", "ece", "nll"} <= set(result["summary"])
    assert all(0 <= r["ece"] <= 1 for r in result["runs"])


def test_encoder_builder_layers_and_frames():
    from emovox.features.whisper_onnx import encoder_onnx

    rng = np.random.default_rng(0)
    width, heads, depth = 8, 2, 2
    w = {"num_heads": np.array(heads), "encoder/conv1/weight": rng.standard_normal((width, 80, 3)).astype(np.float32) * 0.1,
         "encoder/conv1/bias": np.zeros(width, np.float32),
         "encoder/conv2/weight": rng.standard_normal((width, width, 3)).astype(np.float32) * 0.1,
         "encoder/conv2/bias": np.zeros(width, np.float32),
         "encoder/position_encodings/encodings": rng.standard_normal((1500, width)).astype(np.float32) * 0.1,
         "encoder/layer_norm/gamma": np.ones(width, np.float32), "encoder/layer_norm/beta": np.zeros(width, np.float32)}
    for i in range(depth):
        p = f"encoder/layer_{i}"
        for name, shape in (("self_attention/linear_0", (3 * width, width)), ("self_attention/linear_1", (width, width)),
                            ("ffn/linear_0", (4 * width, width)), ("ffn/linear_1", (width, 4 * width))):
            w[f"{p}/{name}/weight"] = rng.standard_normal(shape).astype(np.float32) * 0.1
            w[f"{p}/{name}/bias"] = np.zeros(shape[0], np.float32)
        for name in ("self_attention/layer_norm", "ffn/layer_norm"):
            w[f"{p}/{name}/gamma"], w[f"{p}/{name}/beta"] = np.ones(width, np.float32), np.zeros(width, np.float32)
    mel = rng.standard_normal((1, 80, 40)).astype(np.float32)
    run = lambda blob: ort.InferenceSession(blob, providers=["CPUExecutionProvider"]).run(None, {"log_mel": mel})
    frames = run(encoder_onnx(w, n_layers=2, pooled_layers=(0, 1, 2), frames=True, quantize=False))
    assert [f.shape for f in frames] == [(1, 20, width)] * 3
    # the last layer of the full encoder comes after the final layer norm
    assert np.allclose(frames[2][0].mean(axis=1), 0, atol=1e-4)
    (pooled,) = run(encoder_onnx(w, n_layers=2, pooled_layers=(1, 2), quantize=False))
    expected = np.concatenate([np.concatenate([f[0].mean(axis=0), f[0].std(axis=0)]) for f in frames[1:]])
    assert np.allclose(pooled[0], expected, atol=1e-4)
    with pytest.raises(Exception, match="n_layers"):
        encoder_onnx(w, n_layers=3, pooled_layers=(3,))


def test_speaker_normalise_uses_each_speakers_own_rows():
    from emovox.adaptation import speaker_normalise

    x, _, g = blobs(n_speakers=3, per=10)
    z = speaker_normalise(x, g)
    for s in set(g):
        assert np.allclose(z[g == s].mean(axis=0), 0, atol=1e-5) and np.allclose(z[g == s].std(axis=0), 1, atol=1e-3)
    with pytest.raises(Exception, match="speaker"):
        speaker_normalise(x[:2], ["a", None])


def test_degradations_are_seeded_and_hit_their_levels():
    from emovox import augment

    rate = 16000
    t = np.arange(2 * rate) / rate
    speech = (0.3 * np.sin(2 * np.pi * 200 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)  # bursts
    rng = lambda: np.random.default_rng(7)
    noisy, r = augment.degrade(speech, rate, "pink noise 10 dB", rng())
    assert r == rate and np.array_equal(noisy, augment.degrade(speech, rate, "pink noise 10 dB", rng())[0])
    noise = noisy - speech
    assert 20 * np.log10(augment.speech_rms(speech, rate) / np.sqrt(np.mean(noise ** 2))) == pytest.approx(10, abs=0.1)
    phone, r = augment.degrade(speech, rate, "telephone", rng())
    assert r == 8000 and len(phone) == len(speech) // 2
    quiet, _ = augment.degrade(speech, rate, "quiet far mic -35 dBFS", rng())
    assert 20 * np.log10(augment.speech_rms(quiet, rate)) == pytest.approx(-35, abs=0.2)
    clipped, _ = augment.degrade(speech, rate, "clipping +12 dB", rng())
    assert np.max(np.abs(clipped)) == pytest.approx(1.0) and np.mean(np.abs(clipped) >= 0.999) > 0.1
    room = augment.room_impulse(rate, 0.5, rng())
    energy = np.cumsum(room[::-1] ** 2)[::-1]  # Schroeder decay of the tail: -60 dB about 0.5 s on
    tail = energy[int(0.0025 * rate):]
    decay = 10 * np.log10(tail / tail[0])
    assert np.argmax(decay < -30) / rate == pytest.approx(0.25, abs=0.05)
    reverberant, _ = augment.degrade(speech, rate, "reverb RT60 0.5 s", rng())
    assert len(reverberant) == len(speech)
    babble, _ = augment.degrade(speech, rate, "babble 5 dB", rng(), voices=[speech[::-1], np.roll(speech, 999)])
    assert not np.allclose(babble, speech)
    for name in augment.available_conditions():
        if name.startswith(("opus", "vorbis", "mp3")):
            decoded, r = augment.degrade(speech, rate, name, rng())
            assert r == 16000 and abs(len(decoded) - len(speech)) < 0.05 * rate
    with pytest.raises(ValueError, match="voices"):
        augment.degrade(speech, rate, "babble 10 dB", rng())


@pytest.mark.skipif(not Path(__file__).resolve().parents[2].joinpath("shared", "data", "ravdess", "Actor_01").is_dir(),
                    reason="RAVDESS corpus not found")
def test_vad_trim_finds_the_same_speech_in_noise():
    from emovox import augment
    from emovox.audio import Audio, load
    from emovox.features import get_feature_set
    from emovox.speech_presence import speech_bounds

    path = Path(__file__).resolve().parents[2] / "shared/data/ravdess/Actor_01/03-01-05-02-01-01-01.flac"
    clean = load(path, rate=16000).samples
    noisy, _ = augment.degrade(clean, 16000, "pink noise 10 dB", np.random.default_rng(0))
    (a, b), (c, d) = speech_bounds(clean), speech_bounds(noisy)
    # in noise the detector may start a little early, but it keeps the words and drops most of the rest
    assert c <= a + 0.05 * 16000 and d >= b - 0.15 * 16000 and (d - c) - (b - a) <= 0.6 * 16000
    feature_set = get_feature_set("whisper-base-vad")
    assert feature_set.params == {"trim_db": 35.0, "pad_s": 0.1}
    energy = get_feature_set("whisper-base").speech(Audio(noisy, 16000))
    vad = feature_set.speech(Audio(noisy, 16000))
    assert len(energy.samples) == len(noisy) and len(vad.samples) < 0.8 * len(noisy)  # energy trim keeps the noise
    assert speech_bounds(np.zeros(16000)) is None
