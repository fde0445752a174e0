"""The ``logmel`` feature set and the PyTorch log-mel CNN, trained, exported to ONNX and bundled."""

from __future__ import annotations

import numpy as np
import pytest

from emovox.audio import from_array, load, trim_silence
from emovox.errors import AudioError, ParameterError
from emovox.features import get_feature_set
from emovox.features.logmel import FRAMES, N_MELS, log_mel_matrix

from conftest import needs_ravdess, ravdess_file, tone


def test_logmel_is_a_band_major_matrix_starting_at_the_speech():
    fs = get_feature_set("logmel")
    rate = 16000
    quiet = np.zeros(rate // 2, np.float32)
    clip = np.concatenate([quiet, tone(1.0, rate), quiet])  # 1 s of sound between silences
    vector = fs.transform(from_array(clip, rate))
    assert vector.shape == (fs.dim,) == (N_MELS * FRAMES,) and vector.dtype == np.float32
    matrix = vector.reshape(N_MELS, FRAMES)
    # trimmed: the tone starts at frame 0; after about 1 s (62.5 frames/s) comes the padding floor
    assert matrix[:, :50].mean() > matrix[:, 80:].mean() + 30.0
    assert np.all(matrix[:, 80:] == matrix.min())
    # the same numbers as the plain log-mel matrix of the trimmed clip
    plain = log_mel_matrix(trim_silence(from_array(clip, rate)).samples)
    assert 60 < plain.shape[1] < 80
    assert np.array_equal(matrix[:, :plain.shape[1]], plain)


def test_logmel_refuses_too_short_audio():
    with pytest.raises(AudioError, match="too short"):
        get_feature_set("logmel").transform(from_array(0.1 * np.sin(np.arange(100, dtype=np.float32)), 16000))


torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'emovox[neural]')")


def test_cnn_rejects_features_that_are_not_matrices():
    from emovox.models.neural import LogMelCNN

    with pytest.raises(ParameterError, match="--features logmel"):
        LogMelCNN(n_bands=64).fit(np.zeros((4, 100), np.float32), np.array([0, 1, 0, 1]))


def test_spec_augment_masks_bands_and_frames():
    from emovox.models.neural import _spec_augment

    x = torch.ones(8, 1, 64, 192)
    _spec_augment(x, np.random.default_rng(0), masks=2, max_bands=8, max_frames=20)
    zeros = (x == 0).float()
    assert 0 < zeros.mean() < 0.5
    band_masked = (zeros.mean(dim=3) == 1).sum(dim=(1, 2))  # whole bands zeroed, per example
    frame_masked = (zeros.mean(dim=2) == 1).sum(dim=(1, 2))
    assert int(band_masked.max()) <= 16 and int(frame_masked.max()) <= 40
    assert int((band_masked > 0).sum()) >= 4 and int((frame_masked > 0).sum()) >= 4


def test_cnn_learns_tones_apart_and_its_onnx_matches_torch():
    """Two 'classes' of synthetic sound (low and high tones): learnt, exported, same probabilities."""
    import onnxruntime as ort

    from emovox.models.neural import LogMelCNN

    fs = get_feature_set("logmel")
    rng = np.random.default_rng(1)
    X, y = [], []
    for i in range(24):
        label = i % 2
        freq = (140.0 if label == 0 else 600.0) * rng.uniform(0.9, 1.1)
        X.append(fs.transform(from_array(tone(rng.uniform(0.8, 2.0), 16000, freq=freq), 16000)))
        y.append(["low", "high"][label])
    X, y = np.stack(X), np.array(y)
    model = LogMelCNN(epochs=25, batch_size=8, random_state=0).fit(X[:16], y[:16])
    assert list(model.classes_) == ["high", "low"]
    assert np.mean(model.predict(X[16:]) == y[16:]) == 1.0
    session = ort.InferenceSession(model.to_onnx(fs.dim), providers=["CPUExecutionProvider"])
    label, probabilities = session.run(None, {"features": X[16:]})
    one = session.run(None, {"features": X[16:17]})[1]  # a batch of one, as the bundle probes it
    assert np.allclose(one, probabilities[:1], atol=1e-5)
    assert np.allclose(probabilities, model.predict_proba(X[16:]), atol=1e-5)
    assert np.array_equal(label, np.argmax(probabilities, axis=1))


@needs_ravdess
def test_cnn_bundle_from_ravdess_predicts_like_the_model(tmp_path):
    from emovox import load_model
    from emovox.pipeline import fit_bundle, load_dataset

    dataset = load_dataset(ravdess_file(1, 1).parents[1], ("calm", "angry"), get_feature_set("logmel"),
                           actors=["01", "02"], progress=False)
    path = fit_bundle(dataset, "logmel-cnn", tmp_path / "cnn.emovox")
    recognizer = load_model(path)
    assert sorted(recognizer.labels) == ["angry", "calm"]
    clip = ravdess_file(2, 5, intensity=2)
    prediction = recognizer.predict(clip)
    assert set(prediction.probabilities) == {"calm", "angry"}
    assert abs(sum(prediction.probabilities.values()) - 1.0) < 1e-4
    assert recognizer.predict(load(clip).samples, rate=48000).label == prediction.label
