import numpy as np
import pytest
import soundfile as sf

from conftest import needs_ravdess, ravdess_file, tone, write_audio
from emovox.audio import from_array, load, resample
from emovox.errors import AudioError
from emovox.features import extract_files, get_feature_set
from emovox.features.cache import FeatureCache
from emovox.features.seed180 import estimate_tuning, stft_magnitude
from emovox.kernels import librosa


def seed_reference(y: np.ndarray, sr: int) -> np.ndarray:
    """The seed's computation, verbatim librosa calls."""
    return np.hstack([
        np.mean(librosa.feature.mfcc(y=y, sr=sr, n_mfcc=40).T, axis=0),
        np.mean(librosa.feature.chroma_stft(S=np.abs(librosa.stft(y)), sr=sr).T, axis=0),
        np.mean(librosa.feature.melspectrogram(y=y, sr=sr).T, axis=0),
    ])


@needs_ravdess
@pytest.mark.parametrize("fields", [(1, 1, 1, 1, 1), (7, 5, 2, 2, 1), (14, 6, 1, 1, 2), (24, 8, 2, 2, 2)])
def test_seed180_equals_librosa(fields):
    path = ravdess_file(*fields)
    y, sr = sf.read(str(path), dtype="float32")
    expected = seed_reference(y, sr)
    got = get_feature_set("seed180").transform(load(path))
    assert got.shape == (180,)
    scale = np.maximum(np.abs(expected), 1e-3 * np.abs(expected).max())
    assert np.max(np.abs(got - expected) / scale) < 1e-4


def test_seed180_other_rates_and_tuning():
    for rate in (8000, 16000, 22050, 44100):
        y = tone(1.0, rate, freq=233.0)
        magnitude = stft_magnitude(y)
        np.testing.assert_array_equal(magnitude, np.abs(librosa.stft(y)))
        assert estimate_tuning(magnitude, rate) == librosa.estimate_tuning(S=magnitude, sr=rate)
        np.testing.assert_allclose(get_feature_set("seed180").transform(from_array(y, rate)),
                                   seed_reference(y, rate), rtol=1e-4, atol=1e-4)


def test_too_short_is_refused():
    with pytest.raises(AudioError, match="too short"):
        get_feature_set("seed180").transform(from_array(tone(0.05), 16000))


def test_extract_many_with_cache_and_bad_files(tmp_path):
    files = [write_audio(tmp_path / f"{i}.wav", tone(0.5, 16000, 150 + 40 * i), 16000) for i in range(6)]
    (tmp_path / "bad.wav").write_bytes(b"garbage" * 50)
    paths = files[:3] + [tmp_path / "bad.wav", tmp_path / "missing.wav"] + files[3:]
    fs = get_feature_set("seed180")
    cold = extract_files(paths, fs, jobs=2, cache_root=tmp_path / "cache", progress=False)
    assert cold.ok == [0, 1, 2, 5, 6, 7] and cold.cached == 0
    assert [p for p, _ in cold.errors] == [str(tmp_path / "bad.wav"), str(tmp_path / "missing.wav")]
    assert "not an audio file" in cold.errors[0][1] and "no such file" in cold.errors[1][1]
    warm = extract_files(paths, fs, jobs=2, cache_root=tmp_path / "cache", progress=False)
    assert warm.cached == 6
    np.testing.assert_array_equal(warm.features, cold.features)
    np.testing.assert_allclose(cold.features[0], fs.transform(load(files[0])), rtol=1e-6)


def test_damaged_cache_entry_is_recomputed(tmp_path):
    path = write_audio(tmp_path / "a.wav", tone(0.5), 16000)
    fs = get_feature_set("seed180")
    first = extract_files([path], fs, jobs=1, cache_root=tmp_path / "c", progress=False).features
    entry = next((tmp_path / "c").rglob("*.f32"))
    blob = bytearray(entry.read_bytes())
    blob[-5] ^= 0xFF  # flip bits in the stored vector
    entry.write_bytes(bytes(blob))
    cache = FeatureCache(fs.key, fs.dim, tmp_path / "c")
    assert cache.get(entry.stem) is None
    again = extract_files([path], fs, jobs=1, cache_root=tmp_path / "c", progress=False)
    assert again.cached == 0
    np.testing.assert_array_equal(again.features, first)
    entry.write_bytes(entry.read_bytes()[:40])  # truncated
    assert cache.get(entry.stem) is None


def test_cache_key_changes_with_version():
    fs = get_feature_set("seed180")
    assert fs.key.startswith("seed180-v1-")
    with pytest.raises(Exception, match="version"):
        get_feature_set("seed180", version=99)


def test_stats_features_shape_trim_and_rate_independence():
    fs = get_feature_set("stats")
    speech = tone(1.0, 16000, 180)
    padded = np.concatenate([np.zeros(16000, np.float32), speech, np.zeros(8000, np.float32)])
    a = fs.transform(from_array(speech, 16000))
    b = fs.transform(from_array(padded, 16000))
    assert a.shape == (fs.dim,) == (505,) and np.all(np.isfinite(a))
    assert abs(b[-1] - 1.0) < 0.15  # the last value is the speech duration after trimming
    np.testing.assert_allclose(a[:20], b[:20], rtol=0.1, atol=0.5)  # trimmed silence leaves the MFCC means alone
    x48 = from_array(tone(1.0, 48000, 180), 48000)
    np.testing.assert_allclose(fs.transform(x48), fs.transform(resample(x48, 16000)), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name,dim", [("egemaps", 88), ("compare", 6373)])
def test_opensmile_feature_sets(name, dim):
    pytest.importorskip("opensmile", reason="openSMILE is optional: pip install 'emovox[opensmile]'")
    fs = get_feature_set(name)
    values = fs.transform(from_array(tone(1.0, 16000, 200), 16000))
    assert values.shape == (dim,) and np.all(np.isfinite(values)) and np.count_nonzero(values) > dim // 2
