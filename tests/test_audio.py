import numpy as np
import pytest
import soundfile as sf

from conftest import needs_ravdess, ravdess_file, tone, write_audio
from emovox import audio
from emovox.errors import AudioError


@pytest.mark.parametrize("ext,subtype", [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS"), ("wav", "FLOAT")])
def test_load_formats_to_mono_float32(tmp_path, ext, subtype):
    samples = tone(0.5, 22050)
    a = audio.load(write_audio(tmp_path / f"x.{ext}", samples, 22050, subtype))
    assert a.samples.dtype == np.float32 and a.samples.ndim == 1 and a.rate == 22050
    assert abs(a.duration - 0.5) < 0.01
    if subtype != "VORBIS":
        assert np.max(np.abs(a.samples - samples)) < 1e-3


def test_stereo_is_downmixed(tmp_path):
    left, right = tone(0.5, 16000, 200), tone(0.5, 16000, 300)
    a = audio.load(write_audio(tmp_path / "st.wav", np.stack([left, right], axis=1), 16000, "FLOAT"))
    np.testing.assert_allclose(a.samples, (left + right) / 2, atol=1e-6)


@needs_ravdess
def test_ravdess_stereo_file_loads():
    path = ravdess_file(1, 2, 1, 1, 2)  # one of the 5 stereo files that crash the seed
    assert sf.info(str(path)).channels == 2
    a = audio.load(path)
    assert a.samples.ndim == 1 and a.rate == 48000


def test_resample(tmp_path):
    a = audio.from_array(tone(1.0, 48000), 48000, resample_to=16000)
    assert a.rate == 16000 and len(a.samples) == 16000


@pytest.mark.parametrize("content,problem", [
    (b"", "empty file"),
    (b"this is not audio at all" * 10, "not an audio file"),
])
def test_bad_bytes(tmp_path, content, problem):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError) as err:
        audio.load(path)
    assert str(path) in str(err.value) and problem in str(err.value)
    assert "\n" not in str(err.value)


def test_truncated_flac_is_corrupt(tmp_path):
    path = write_audio(tmp_path / "t.flac", tone(2.0, 16000), 16000)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(AudioError, match="corrupt|no audio samples"):
        audio.load(cut)


def test_missing_silent_and_short(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        audio.load(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="silent"):
        audio.load(write_audio(tmp_path / "s.wav", np.zeros(16000, np.float32), 16000))
    with pytest.raises(AudioError, match="0 frames"):
        audio.from_array(np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="too short"):
        audio.require_duration(audio.from_array(tone(0.05), 16000), 0.1, "x")


def test_integer_pcm_and_bad_rate():
    pcm = (tone(0.2) * 32767).astype(np.int16)
    a = audio.from_array(pcm, 16000)
    assert a.samples.dtype == np.float32 and np.max(np.abs(a.samples)) <= 1.0
    with pytest.raises(AudioError, match="sample rate"):
        audio.from_array(tone(0.2), 0)
    with pytest.raises(AudioError, match="NaN"):
        audio.from_array(np.array([0.1, np.nan], np.float32), 16000)
