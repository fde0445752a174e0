"""Is there speech in this audio? :func:`detect` answers ``None`` (yes) or a short reason why not.

A classifier of emotions answers for anything it is given: white noise comes back
"fearful", a tone "calm". :func:`detect` is the check to run first. It decides in
this order, on the audio resampled to 16 kHz:

1. ``"no audio"`` (no samples), ``"silence"`` (peak below -60 dBFS, or nothing but a
   DC offset below that), ``"constant signal"`` (a DC offset, nothing moving);
2. ``"a steady tone"``: one spectrum all along (frame spectra nearly identical, and each
   frame's power per bin close to the average's) whose energy sits in a few narrow
   peaks: a sine, a hum, a held chord;
3. the Silero voice activity detector (:func:`emovox.stream.vad.make_vad`, 32 ms frames;
   the energy detector when Silero is not installed) on the audio scaled to a fixed
   level, so that a quiet far microphone still counts: speech needs at least
   :data:`MIN_SPEECH_S` seconds of frames at or above :data:`THRESHOLD`. Silero misses
   some shouted or strained speech (15 of the 2028 RAVDESS and EMOVO files, ten of them
   actor 06's strong-intensity clips; none of them peaks below 0.26), so weaker evidence also
   counts when the spectrum behaves like speech's: a frame at or above
   :data:`WEAK_THRESHOLD`, frame spectra that change fast (more than 7.5 dB from frame to
   frame), no steady spectrum and no noise-like fine structure;
4. without enough speech, the reason says what the audio is instead: ``"noise without
   speech"`` (a flat spectrum, or steady broadband sound), ``"music"`` (tonal and
   changing: notes), else ``"no speech detected"``.

It checks presence only, not what is said nor whether the speech is clean.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np
import soxr

#: The rate (Hz) the checks run at, the voice activity detector's.
RATE = 16000
#: Silero's frame, in samples at :data:`RATE`.
FRAME = 512
#: Speech probability at or above which a frame counts as speech.
THRESHOLD = 0.5
#: A frame this likely counts as some evidence of speech, if the spectrum looks like speech's.
WEAK_THRESHOLD = 0.15
#: Least speech, in seconds (summed over frames), for :func:`detect` to answer ``None``.
MIN_SPEECH_S = 0.25
#: Peak level, dBFS, below which audio is silence.
SILENCE_DBFS = -60.0
#: RMS level, dBFS, the audio is scaled to before the detector runs.
TARGET_DBFS = -20.0

#: Complete detector answers remembered per thread (see :func:`speech_probabilities`).
MEMO_SIZE = 4

_LOCAL = threading.local()


def _vad():
    """One detector per thread (it is stateful), reset before each use."""
    if getattr(_LOCAL, "vad", None) is None:
        from .stream.vad import make_vad

        _LOCAL.vad = make_vad("auto")
    _LOCAL.vad.reset()
    return _LOCAL.vad


def _mono_float(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples.astype(np.float64) / float(np.iinfo(samples.dtype).max + 1)
    samples = samples.astype(np.float64, copy=False)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.ndim != 1:
        raise ValueError(f"expected samples of shape (n,) or (n, channels), got {samples.shape}")
    return samples


def _dbfs(value: float) -> float:
    return 20.0 * np.log10(max(value, 1e-12))


def _spectra(samples: np.ndarray) -> np.ndarray:
    """Power spectra of 32 ms Hann frames every 16 ms at 16 kHz, shape ``(frames, 257)``."""
    if len(samples) < FRAME:
        samples = np.pad(samples, (0, FRAME - len(samples)))
    hop = FRAME // 2
    count = 1 + (len(samples) - FRAME) // hop
    index = np.arange(FRAME)[None, :] + hop * np.arange(count)[:, None]
    return np.abs(np.fft.rfft(samples[index] * np.hanning(FRAME), axis=1)) ** 2


def describe(samples: np.ndarray) -> dict:
    """The spectral measures :func:`detect` uses, of 16 kHz float ``samples`` (for tests and tuning).

    ``flatness``: median over loud frames of the spectral flatness (geometric / arithmetic
    mean of the power, 60 Hz-7.5 kHz; 1 for white noise, near 0 for a tone);
    ``peak_share``: median share of a frame's power within +-2 bins of its 5 strongest peaks;
    ``change``: median distance between consecutive log spectra (dB, loud frames);
    ``steadiness``: correlation of each loud frame's log spectrum with their mean (median);
    ``whitened_flatness``: median flatness of the loud frames' power divided by their mean
    power per bin (about 0.56 for any stationary noise, whatever its colour; lower for
    speech and music, whose spectra change from frame to frame).
    """
    power = _spectra(samples)[:, 2:241]  # 62.5 Hz - 7.5 kHz
    power = power + max(float(power.max()), 1e-20) * 1e-9  # a floor 90 dB down: leakage is not signal
    energy = power.sum(axis=1)
    loud = energy >= energy.max() * 10 ** (-30 / 10)
    power = power[loud] if loud.sum() >= 2 else power
    flatness = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    top = np.argsort(power, axis=1)[:, -5:]
    near = np.zeros_like(power, dtype=bool)
    for shift in range(-2, 3):
        np.put_along_axis(near, np.clip(top + shift, 0, power.shape[1] - 1), True, axis=1)
    peak_share = (power * near).sum(axis=1) / power.sum(axis=1)
    logs = 10 * np.log10(power)
    change = np.median(np.sqrt(np.mean(np.diff(logs, axis=0) ** 2, axis=1))) if len(logs) > 1 else 0.0
    centred = logs - logs.mean(axis=1, keepdims=True)
    mean = centred.mean(axis=0)
    steadiness = np.median(centred @ mean / (np.linalg.norm(centred, axis=1) * np.linalg.norm(mean) + 1e-12))
    white = power / power.mean(axis=0)
    whitened = np.exp(np.mean(np.log(white), axis=1)) / np.mean(white, axis=1)
    return {"flatness": float(np.median(flatness)), "peak_share": float(np.median(peak_share)),
            "change": float(change), "steadiness": float(steadiness),
            "whitened_flatness": float(np.median(whitened))}


def speech_probabilities(samples: np.ndarray, *, enough_frames: int | None = None) -> np.ndarray:
    """The detector's speech probability for each 32 ms frame of 16 kHz float ``samples`` (at a good level).

    With ``enough_frames``, the detector stops once that many frames reached :data:`THRESHOLD`
    (the answer is then shorter than the audio). Complete answers are remembered for the
    last few inputs of each thread, so that :func:`detect` and :func:`speech_bounds` on the same
    audio (a model on VAD-cut speech checks the clip, then cuts it) run the detector once.
    """
    usable = len(samples) // FRAME * FRAME
    frames = np.pad(samples, (0, FRAME - len(samples))) if usable == 0 else samples[:usable]
    frames = np.ascontiguousarray(frames, dtype=np.float32).reshape(-1, FRAME)
    memo = _LOCAL.__dict__.setdefault("memo", {})
    key = hashlib.blake2b(frames.tobytes(), digest_size=16).digest()
    if (known := memo.get(key)) is not None:
        return known
    vad = _vad()
    probabilities, found = np.zeros(len(frames)), 0
    for i, frame in enumerate(frames):
        probabilities[i] = vad.probability(frame)
        found += probabilities[i] >= THRESHOLD
        if enough_frames is not None and found >= enough_frames:
            return probabilities[:i + 1]
    probabilities.setflags(write=False)  # shared with later callers: nobody may change it
    memo[key] = probabilities
    while len(memo) > MEMO_SIZE:
        memo.pop(next(iter(memo)))
    return probabilities


def at_level(samples_16k: np.ndarray) -> np.ndarray | None:
    """16 kHz ``samples`` without their DC offset, scaled to :data:`TARGET_DBFS` RMS and clipped (float64),
    as the detector is run on; ``None`` for all-constant audio."""
    moving = np.asarray(samples_16k, dtype=np.float64)
    moving = moving - moving.mean() if moving.size else moving
    rms = float(np.sqrt(np.mean(moving ** 2))) if moving.size else 0.0
    if rms <= 0:
        return None
    return np.clip(moving * (10 ** (TARGET_DBFS / 20) / rms), -1.0, 1.0)


def speech_seconds(samples: np.ndarray) -> float:
    """Seconds of 16 kHz float ``samples`` (already at a good level) the detector calls speech."""
    return float(np.sum(speech_probabilities(samples) >= THRESHOLD) * FRAME / RATE)


def speech_bounds(samples: np.ndarray) -> tuple[int, int] | None:
    """First and one-past-last sample of the detector's speech frames in 16 kHz float ``samples``
    (scaled to :data:`TARGET_DBFS` first), or ``None`` if no frame reaches :data:`THRESHOLD`."""
    scaled = at_level(samples)
    if scaled is None:
        return None
    probabilities = speech_probabilities(scaled)
    speech = np.flatnonzero(probabilities >= THRESHOLD)
    if speech.size == 0:
        return None
    return int(speech[0] * FRAME), int(min(len(samples), (speech[-1] + 1) * FRAME))


def detect(samples: np.ndarray, rate: int, *, complete: bool = False) -> str | None:
    """``None`` if ``samples`` hold speech, else a short reason: see the module's description.

    Args:
        samples: float (``[-1, 1]``) or integer PCM, mono ``(n,)`` or ``(n, channels)``.
        rate: their sample rate, Hz.
        complete: run the detector over all of the audio (its answer then remembered) instead of stopping
            once :data:`MIN_SPEECH_S` of speech is found: for a caller that asks :func:`speech_bounds` of
            the same audio next (a feature set that cuts at the speech), which then runs no detector.
            The answer is the same either way.

    Returns:
        ``None``, or one of ``"no audio"``, ``"silence"``, ``"constant signal"``,
        ``"a steady tone"``, ``"noise without speech"``, ``"music"``, ``"no speech detected"``.
    """
    x = _mono_float(samples)
    if x.size == 0:
        return "no audio"
    x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
    if _dbfs(float(np.max(np.abs(x)))) < SILENCE_DBFS:
        return "silence"
    if _dbfs(float(np.max(np.abs(x - np.mean(x))))) < SILENCE_DBFS:
        return "constant signal"
    # resampled as emovox.audio.resample does (float32, soxr HQ), so that a feature set that cuts the
    # same audio at the detector's bounds finds its probabilities remembered (speech_probabilities)
    at_rate = x.astype(np.float32) if rate == RATE else soxr.resample(x.astype(np.float32), rate, RATE, quality="HQ")
    scaled = at_level(at_rate)
    if scaled is None:  # the resampling took the last of the movement away
        return "constant signal"
    m = describe(at_rate - np.mean(at_rate, dtype=np.float64))  # unclipped: peaks shape the spectra
    if m["peak_share"] > 0.9 and m["steadiness"] > 0.98 and m["whitened_flatness"] > 0.8:
        return "a steady tone"
    enough = int(np.ceil(MIN_SPEECH_S * RATE / FRAME))
    probabilities = speech_probabilities(scaled, enough_frames=None if complete else enough)
    if np.sum(probabilities >= THRESHOLD) >= enough:
        return None
    if (probabilities.max() >= WEAK_THRESHOLD and m["change"] > 7.5 and m["steadiness"] < 0.9
            and m["whitened_flatness"] < 0.3):
        return None
    if m["flatness"] > 0.3 or m["whitened_flatness"] > 0.4:
        return "noise without speech"
    if m["peak_share"] > 0.5:
        return "music"
    return "no speech detected"
