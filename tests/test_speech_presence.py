"""emovox.speech_presence.detect: speech passes, silence, DC, tones, noise and music are refused with a reason."""

from functools import lru_cache

import numpy as np
import pytest
import soundfile as sf
from conftest import RAVDESS, needs_ravdess

from emovox import corpora
from emovox.speech_presence import describe, detect

RATE = 16000
T = np.arange(3 * RATE) / RATE
RNG = np.random.default_rng(0)


def _pink(n: int) -> np.ndarray:
    spectrum = np.fft.rfft(RNG.standard_normal(n)) / np.sqrt(np.maximum(np.arange(n // 2 + 1), 1))
    x = np.fft.irfft(spectrum, n)
    return 0.1 * x / x.std()


def _brown(n: int) -> np.ndarray:
    x = np.cumsum(RNG.standard_normal(n))
    x -= x.mean()
    return 0.1 * x / x.std()


def _notes() -> np.ndarray:
    t = T[: RATE // 2]
    return np.concatenate([0.2 * sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 6))
                           for f in (262, 330, 392, 523, 440, 349)])


NOT_SPEECH = [
    ("zeros", np.zeros(3 * RATE), RATE, "silence"),
    ("very quiet noise", 1e-4 * RNG.standard_normal(3 * RATE), RATE, "silence"),
    ("DC offset", np.full(3 * RATE, 0.3), RATE, "constant signal"),
    ("int16 DC", np.full(3 * RATE, 8000, dtype=np.int16), RATE, "constant signal"),
    ("440 Hz sine", 0.5 * np.sin(2 * np.pi * 440 * T), RATE, "a steady tone"),
    ("1 kHz sine at 48 kHz", 0.5 * np.sin(2 * np.pi * 1000 * np.arange(3 * 48000) / 48000), 48000, "a steady tone"),
    ("mains hum", 0.3 * np.sin(2 * np.pi * 50 * T) + 0.1 * np.sin(2 * np.pi * 150 * T), RATE, "a steady tone"),
    ("stereo sine", np.stack([0.3 * np.sin(2 * np.pi * 300 * T)] * 2, axis=1), RATE, "a steady tone"),
    ("white noise", 0.1 * RNG.standard_normal(3 * RATE), RATE, "noise without speech"),
    ("quiet white noise", 0.003 * RNG.standard_normal(3 * RATE), RATE, "noise without speech"),
    ("pink noise", _pink(3 * RATE), RATE, "noise without speech"),
    ("brown noise", _brown(3 * RATE), RATE, "noise without speech"),
    ("white noise at 44.1 kHz", 0.1 * RNG.standard_normal(3 * 44100), 44100, "noise without speech"),
    ("melody", _notes(), RATE, "music"),
]


@pytest.mark.parametrize("name, samples, rate, reason", NOT_SPEECH, ids=[c[0] for c in NOT_SPEECH])
def test_not_speech_gets_a_reason(name, samples, rate, reason):
    assert detect(samples, rate) == reason


def test_empty_and_nan():
    assert detect(np.zeros(0, np.float32), RATE) == "no audio"
    assert detect(np.full(RATE, np.nan), RATE) == "silence"


def test_describe_separates_noise_from_tone():
    noise, tone = describe(0.1 * RNG.standard_normal(RATE)), describe(0.5 * np.sin(2 * np.pi * 440 * T[:RATE]))
    assert 0.45 < noise["whitened_flatness"] < 0.7 and noise["flatness"] > 0.4
    assert tone["peak_share"] > 0.99 and tone["steadiness"] > 0.99


@lru_cache(maxsize=1)
def _ravdess() -> list:
    return corpora.open_corpus(RAVDESS)


# a fixed spread of 50 files (all 24 actors, all 8 emotions) keeps the test to seconds;
# `bench/robustness.py --presence` checks all 1440.
@needs_ravdess
@pytest.mark.parametrize("index", range(0, 1440, 29))
def test_ravdess_speech_passes(index):
    utterance = _ravdess()[index]
    samples, rate = sf.read(str(utterance.path), dtype="float32")
    assert detect(samples, rate) is None, utterance.path.name


@needs_ravdess
def test_quiet_far_speech_passes():
    samples, rate = sf.read(str(_ravdess()[100].path), dtype="float32")
    samples = samples.mean(axis=1) if samples.ndim == 2 else samples
    quiet = samples * (10 ** (-35 / 20) / np.sqrt(np.mean(samples ** 2)))  # -35 dBFS RMS
    assert detect(quiet, rate) is None
    assert detect((quiet * 32768).astype(np.int16), rate) is None


#: RAVDESS clips (shouted, strong intensity) where Silero stays below 0.5 nearly throughout.
SILERO_MISSES = ["03-01-03-02-01-01-06", "03-01-03-02-02-01-06", "03-01-03-02-02-02-06", "03-01-04-02-01-01-06",
                 "03-01-05-02-02-01-06", "03-01-05-02-02-02-06", "03-01-06-02-01-01-06", "03-01-06-02-01-02-06",
                 "03-01-06-02-02-01-06", "03-01-06-02-02-02-06", "03-01-05-02-01-02-18", "03-01-05-02-02-01-18",
                 "03-01-03-02-02-02-20", "03-01-06-02-02-02-20"]


@needs_ravdess
@pytest.mark.parametrize("stem", SILERO_MISSES)
def test_speech_silero_misses_still_passes(stem):
    samples, rate = sf.read(str(RAVDESS / f"Actor_{stem[-2:]}" / f"{stem}.flac"), dtype="float32")
    assert detect(samples, rate) is None


@needs_ravdess
def test_a_complete_check_gives_the_same_answer_and_leaves_the_bounds_to_memory(monkeypatch):
    """detect(complete=True) runs the detector over the whole clip; speech_bounds of the same audio, next (what a
    feature set that cuts at the speech does), then runs no detector at all."""
    import emovox.speech_presence as presence
    from emovox.audio import load, resample

    samples = resample(load(RAVDESS / "Actor_04" / "03-01-05-02-01-01-04.flac"), RATE).samples
    assert detect(samples, RATE) is None and detect(samples, RATE, complete=True) is None
    noise = _pink(2 * RATE).astype(np.float32)
    assert detect(noise, RATE, complete=True) == detect(noise, RATE) == "noise without speech"
    detect(samples, RATE, complete=True)

    def no_detector():
        raise AssertionError("the detector ran again")

    monkeypatch.setattr(presence, "_vad", no_detector)
    assert presence.speech_bounds(samples) is not None


@needs_ravdess
def test_windows_without_speech_cost_no_features(tiny_bundle):
    """A window of noise is refused before its features are computed; a too-short input still says so."""
    import emovox

    from conftest import tone

    model = emovox.load_model(tiny_bundle)
    computed = []
    transform = model.feature_set.transform
    model.feature_set.transform = lambda audio: computed.append(audio.duration) or transform(audio)
    noise = (0.05 * RNG.standard_normal(10 * 48000)).astype(np.float32)
    found = model.process_signal(noise, 48000, segment="windows", window_s=3.0, hop_s=1.0)
    assert not found.rows and "no window holds speech" in found.errors[0].problem and computed == []
    speech, rate = sf.read(str(RAVDESS / "Actor_04" / "03-01-05-02-01-01-04.flac"), dtype="float32")
    assert model.process_signal(np.concatenate([speech, noise]), rate, segment="windows").rows and computed
    short = model.process_signal(tone(0.05, 48000), 48000)
    assert "too short" in short.errors[0].problem
