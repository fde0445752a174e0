"""Degradations of clean speech: noise at a given SNR, babble, a telephone channel, lossy codecs,
reverberation, gain and clipping. numpy, scipy and soundfile only; every random choice comes
from the ``rng`` given, so a degradation is reproducible from its seed.

Each function takes float ``samples`` (mono, ``[-1, 1]``) and their ``rate`` and returns
``(samples, rate)``: float32, possibly at another rate (the telephone channel answers at
8 kHz), the way a recording made under those conditions would reach emovox.
:func:`degrade` applies a named :data:`CONDITIONS` entry; ``bench/robustness.py`` runs them all.
:func:`training_degradation` draws a random mix of them for training-time augmentation
(:data:`POLICY_VERSION`). Its babble is the clip's own voice, shifted and re-pitched into
several talkers (:func:`self_babble`), or, when it is given them, other recordings of the same
speaker (:func:`talkers_babble`): either way an augmented copy of a training clip never carries
another speaker's voice.

Levels: the speech level is the RMS over the frames within 35 dB of the loudest
(:func:`speech_rms`), so that the silence around a clip does not dilute it; an SNR is
speech power over noise power measured that way.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
import scipy.fft
import soundfile as sf
import soxr
from scipy import signal

#: Frame (s) of :func:`speech_rms`'s level measure.
LEVEL_FRAME_S = 0.02


def speech_rms(samples: np.ndarray, rate: int, top_db: float = 35.0) -> float:
    """RMS of the 20 ms frames within ``top_db`` of the loudest frame (the speech, not the pauses)."""
    frame = max(1, int(LEVEL_FRAME_S * rate))
    usable = len(samples) // frame * frame
    if usable == 0:
        return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    power = np.mean(np.square(samples[:usable].reshape(-1, frame), dtype=np.float64), axis=1)
    loud = power >= power.max() * 10 ** (-top_db / 10)
    return float(np.sqrt(power[loud].mean()))


def coloured_noise(n: int, rng: np.random.Generator, exponent: float = 1.0) -> np.ndarray:
    """Gaussian noise whose power falls as ``1 / f ** exponent`` (0 white, 1 pink, 2 brown), unit RMS."""
    size = scipy.fft.next_fast_len(n, real=True)
    spectrum = scipy.fft.rfft(rng.standard_normal(size))
    freqs = np.maximum(np.arange(len(spectrum)), 1.0)
    noise = scipy.fft.irfft(spectrum / freqs ** (exponent / 2), size)[:n]
    return noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)


def mix_at_snr(samples: np.ndarray, rate: int, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``samples`` plus ``noise`` (same length) scaled to ``snr_db`` below the speech level."""
    speech = speech_rms(samples, rate)
    noise_rms = np.sqrt(np.mean(np.square(noise, dtype=np.float64))) + 1e-12
    return samples + noise * (speech / noise_rms * 10 ** (-snr_db / 20))


def add_noise(samples: np.ndarray, rate: int, snr_db: float, rng: np.random.Generator,
              exponent: float = 1.0) -> tuple[np.ndarray, int]:
    """Stationary coloured noise (see :func:`coloured_noise`) at ``snr_db``."""
    return _out(mix_at_snr(samples, rate, coloured_noise(len(samples), rng, exponent), snr_db), rate)


def babble(voices: Sequence[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """A babble track of ``n`` samples: each voice (same rate as the target) looped from a random
    point, each at the same level, summed, unit RMS."""
    track = np.zeros(n)
    for voice in voices:
        voice = np.asarray(voice, dtype=np.float64)
        voice = voice / (speech_rms(voice, 16000) + 1e-12)
        start = int(rng.integers(len(voice)))
        track += np.resize(np.roll(voice, -start), n)
    return track / (np.sqrt(np.mean(track ** 2)) + 1e-12)


def add_babble(samples: np.ndarray, rate: int, snr_db: float, rng: np.random.Generator,
               voices: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    """Babble mixed from ``voices`` (several talkers, at ``rate``) at ``snr_db``."""
    return _out(mix_at_snr(samples, rate, babble(voices, len(samples), rng), snr_db), rate)


def telephone(samples: np.ndarray, rate: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, int]:
    """A narrow-band telephone channel: 8 kHz, 300-3400 Hz band-pass (4th-order Butterworth),
    8-bit mu-law (G.711). Answers at 8 kHz."""
    x = soxr.resample(samples.astype(np.float64), rate, 8000, quality="HQ") if rate != 8000 else samples
    sos = signal.butter(4, [300, 3400], btype="bandpass", fs=8000, output="sos")
    x = signal.sosfilt(sos, x)
    x = np.clip(x, -1.0, 1.0)
    mu = 255.0
    code = np.round((np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu) + 1) / 2 * mu)  # 8 bits
    y = code / mu * 2 - 1
    return _out(np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu, 8000)


def codec(samples: np.ndarray, rate: int, rng: np.random.Generator | None = None, *, format: str = "OGG",
          subtype: str = "OPUS", compression_level: float = 1.0, codec_rate: int = 16000) -> tuple[np.ndarray, int]:
    """Encode and decode with libsndfile's lossy codecs (``OGG``/``OPUS``, ``OGG``/``VORBIS``,
    ``MP3``/``MPEG_LAYER_III``) at ``codec_rate``; ``compression_level`` 1 is the lowest bitrate
    (libsndfile 1.2 refuses exactly 1.0 for MP3: 0.99 is its lowest, about 18 kbit/s at 16 kHz;
    Opus at 1.0 is about 6.5 kbit/s)."""
    x = soxr.resample(samples.astype(np.float64), rate, codec_rate, quality="HQ") if rate != codec_rate else samples
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(x, -1, 1).astype(np.float32), codec_rate, format=format, subtype=subtype,
             compression_level=compression_level)
    buffer.seek(0)
    decoded, decoded_rate = sf.read(buffer, dtype="float32")
    return _out(decoded[: len(x)], decoded_rate)


def room_impulse(rate: int, rt60: float, rng: np.random.Generator, drr_db: float = 0.0) -> np.ndarray:
    """A synthetic room impulse response: a direct path, then exponentially decaying Gaussian
    noise (energy -60 dB after ``rt60`` s) starting 2.5 ms later, its energy ``drr_db`` below the direct path's."""
    n = int(rt60 * rate * 1.2)
    t = np.arange(n) / rate
    tail = rng.standard_normal(n) * np.exp(-3 * np.log(10) * t / rt60)
    tail[: int(0.0025 * rate)] = 0.0
    tail *= np.sqrt(10 ** (-drr_db / 10) / (np.sum(tail ** 2) + 1e-12))
    tail[0] = 1.0
    return tail


def reverberate(samples: np.ndarray, rate: int, rt60: float, rng: np.random.Generator,
                drr_db: float = 0.0) -> tuple[np.ndarray, int]:
    """Convolve with :func:`room_impulse`, keep the length, restore the speech level."""
    wet = signal.fftconvolve(samples, room_impulse(rate, rt60, rng, drr_db))[: len(samples)]
    return _out(wet * (speech_rms(samples, rate) / (speech_rms(wet, rate) + 1e-12)), rate)


def gain_to(samples: np.ndarray, rate: int, dbfs: float, rng: np.random.Generator | None = None,
            bits: int = 16) -> tuple[np.ndarray, int]:
    """Scale the speech level to ``dbfs`` (RMS), then quantise to ``bits`` as a recording would."""
    y = samples * (10 ** (dbfs / 20) / (speech_rms(samples, rate) + 1e-12))
    step = 2.0 ** (1 - bits)
    return _out(np.round(y / step) * step, rate)


def clip(samples: np.ndarray, rate: int, overdrive_db: float = 12.0,
         rng: np.random.Generator | None = None) -> tuple[np.ndarray, int]:
    """Amplify so the peak is ``overdrive_db`` above full scale, then hard-clip to [-1, 1]."""
    peak = float(np.max(np.abs(samples))) + 1e-12
    return _out(np.clip(samples * (10 ** (overdrive_db / 20) / peak), -1.0, 1.0), rate)


def speed(samples: np.ndarray, rate: int, factor: float, rng: np.random.Generator | None = None) -> tuple[np.ndarray, int]:
    """Play ``factor`` times faster (tempo and pitch together, as a tape would): resample and relabel."""
    return _out(soxr.resample(samples.astype(np.float64), rate, round(rate / factor), quality="HQ"), rate)


def self_babble(samples: np.ndarray, rate: int, rng: np.random.Generator, talkers: int = 4) -> np.ndarray:
    """A babble track from the clip itself: ``talkers`` copies, each played 0.7-1.4 times as fast
    (another pitch and tempo: another "talker"), looped from a random point, possibly reversed,
    each at the same level; summed, unit RMS, ``len(samples)`` long."""
    voices = []
    for _ in range(talkers):
        voice = soxr.resample(np.asarray(samples, np.float64), rate, max(1, round(rate / rng.uniform(0.7, 1.4))),
                              quality="QQ")
        voices.append(voice[::-1] if rng.random() < 0.5 else voice)
    track = np.zeros(len(samples))
    for voice in voices:
        voice = voice / (speech_rms(voice, rate) + 1e-12)
        track += np.resize(np.roll(voice, -int(rng.integers(len(voice)))), len(samples))
    return track / (np.sqrt(np.mean(track ** 2)) + 1e-12)


def talkers_babble(n: int, rate: int, rng: np.random.Generator, voices: Sequence[np.ndarray],
                   talkers: int = 4) -> np.ndarray:
    """A babble track of ``n`` samples from ``talkers`` recordings drawn from ``voices`` (mono, at ``rate``;
    without replacement when there are enough, else with): each played 0.7-1.4 times as fast (another
    pitch and tempo), possibly reversed, looped from a random point, each at the same level; summed, unit RMS.

    ``voices`` is only indexed (``voices[i]``), so it may be a lazy sequence that reads a recording when
    it is asked for one. Meant for other recordings of the clip's own speaker: other words and other
    emotions in a voice like the clip's, so that the babble says nothing about the clip's emotion
    (:func:`self_babble`'s talkers are the clip itself, and share its emotion).
    """
    chosen = rng.choice(len(voices), talkers, replace=len(voices) < talkers)
    track = np.zeros(n)
    for i in chosen:
        voice = soxr.resample(np.asarray(voices[int(i)], np.float64), rate,
                              max(1, round(rate / rng.uniform(0.7, 1.4))), quality="QQ")
        if rng.random() < 0.5:
            voice = voice[::-1]
        voice = voice / (speech_rms(voice, rate) + 1e-12)
        track += np.resize(np.roll(voice, -int(rng.integers(len(voice)))), n)
    return track / (np.sqrt(np.mean(track ** 2)) + 1e-12)


#: Version of :func:`training_degradation`'s draw: bump it whenever the same seed could give other audio.
POLICY_VERSION = 3
#: Version of the draw with ``voices`` given (:func:`talkers_babble`), likewise.
TALKERS_VERSION = 1


def training_degradation(samples: np.ndarray, rate: int, rng: np.random.Generator,
                         voices: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, int]:
    """A random degradation for training-time augmentation, every draw from ``rng``.

    Independently, in this order: a speed change of 0.9-1.1 (p 0.2); a room (RT60 0.2-1.0 s,
    direct-to-reverberant ratio -3 to +6 dB; p 0.45); noise at 0-20 dB SNR (p 0.8): coloured
    with an exponent 0-2 (white to brown) or, one time in two, babble of 3-8 "talkers" made
    from the clip's own voice (:func:`self_babble`); a channel (p 0.3): the telephone, Opus,
    Vorbis or a random band limit (50-400 Hz to 3-8 kHz); a level of -45 to -15 dBFS (p 0.2)
    or clipping by 3-15 dB (p 0.05). At least one of them is applied. Answers ``(samples, rate)`` as the
    other functions do.

    With ``voices`` (other recordings of the clip's speaker, mono at ``rate``; possibly empty), the
    noise is at 5-20 dB SNR and the babble is made from them (:func:`talkers_babble`), or from the
    clip itself where there are none. ``voices=None`` is the draw of :data:`POLICY_VERSION`, unchanged.
    """
    x = np.asarray(samples, dtype=np.float64)
    applied = 0
    while not applied:
        if rng.random() < 0.2:
            x, applied = speed(x, rate, rng.uniform(0.9, 1.1))[0].astype(np.float64), applied + 1
        if rng.random() < 0.45:
            x = reverberate(x, rate, rng.uniform(0.2, 1.0), rng, drr_db=rng.uniform(-3.0, 6.0))[0].astype(np.float64)
            applied += 1
        if rng.random() < 0.8:
            snr = rng.uniform(0.0 if voices is None else 5.0, 20.0)
            if rng.random() < 0.5:
                talkers = int(rng.integers(3, 9))
                noise = (talkers_babble(len(x), rate, rng, voices, talkers) if voices
                         else self_babble(x, rate, rng, talkers))
            else:
                noise = coloured_noise(len(x), rng, rng.uniform(0.0, 2.0))
            x, applied = mix_at_snr(x, rate, noise, snr), applied + 1
        if rng.random() < 0.3:
            channel = int(rng.integers(4))
            if channel == 0:
                x, rate = telephone(x, rate)
            elif channel == 1:
                x, rate = codec(x, rate, subtype="OPUS", compression_level=rng.uniform(0.6, 1.0))
            elif channel == 2:
                x, rate = codec(x, rate, subtype="VORBIS", compression_level=rng.uniform(0.6, 1.0))
            else:
                low, high = rng.uniform(50, 400), rng.uniform(3000, min(8000, rate / 2 - 100))
                x = signal.sosfilt(signal.butter(4, [low, high], btype="bandpass", fs=rate, output="sos"), x)
            x, applied = np.asarray(x, np.float64), applied + 1
        level = rng.random()
        if level < 0.2:
            x, applied = gain_to(x, rate, rng.uniform(-45.0, -15.0))[0].astype(np.float64), applied + 1
        elif level < 0.25:
            x, applied = clip(x, rate, rng.uniform(3.0, 15.0))[0].astype(np.float64), applied + 1
    return _out(np.clip(x, -1.0, 1.0), rate)


def _out(samples: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    return np.asarray(samples, dtype=np.float32), int(rate)


Degradation = Callable[..., tuple[np.ndarray, int]]

#: Named conditions: ``name: (function, keyword arguments)``; ``babble`` needs ``voices``.
CONDITIONS: dict[str, tuple[Degradation, dict]] = {
    **{f"pink noise {snr} dB": (add_noise, {"snr_db": snr, "exponent": 1.0}) for snr in (20, 10, 5)},
    **{f"white noise {snr} dB": (add_noise, {"snr_db": snr, "exponent": 0.0}) for snr in (20, 10, 5)},
    **{f"babble {snr} dB": (add_babble, {"snr_db": snr}) for snr in (20, 10, 5)},
    "telephone": (telephone, {}),
    "opus (lowest bitrate)": (codec, {"format": "OGG", "subtype": "OPUS", "compression_level": 1.0}),
    "vorbis (lowest bitrate)": (codec, {"format": "OGG", "subtype": "VORBIS", "compression_level": 1.0}),
    "mp3 (lowest bitrate)": (codec, {"format": "MP3", "subtype": "MPEG_LAYER_III", "compression_level": 0.99}),
    **{f"reverb RT60 {rt} s": (reverberate, {"rt60": rt}) for rt in (0.3, 0.5, 0.8)},
    "quiet far mic -35 dBFS": (gain_to, {"dbfs": -35.0}),
    "clipping +12 dB": (clip, {"overdrive_db": 12.0}),
}


def available_conditions() -> list[str]:
    """The :data:`CONDITIONS` this libsndfile can produce (MP3 needs libsndfile >= 1.1)."""
    formats = sf.available_formats()
    names = []
    for name, (function, kwargs) in CONDITIONS.items():
        if function is codec and (kwargs["format"] not in formats
                                  or kwargs["subtype"] not in sf.available_subtypes(kwargs["format"])):
            continue
        names.append(name)
    return names


def degrade(samples: np.ndarray, rate: int, condition: str, rng: np.random.Generator, *,
            voices: Sequence[np.ndarray] = ()) -> tuple[np.ndarray, int]:
    """Apply the named condition (a key of :data:`CONDITIONS`) to mono float ``samples``."""
    function, kwargs = CONDITIONS[condition]
    samples = np.asarray(samples, dtype=np.float64)
    if function is add_babble:
        if not voices:
            raise ValueError("babble needs voices (other talkers' speech at the same rate)")
        return function(samples, rate, rng=rng, voices=voices, **kwargs)
    return function(samples, rate, rng=rng, **kwargs)
