"""``stats``: statistics of frame features at 16 kHz after trimming silence (emovox's own set).

Frames are 32 ms (n_fft 512) every 10 ms, all from one STFT; per frame: 20 MFCC with
deltas and delta-deltas, 64 log-mel bands, spectral centroid, bandwidth, roll-off,
flatness and 7 contrast bands, log RMS energy, zero-crossing rate, and pitch (YIN,
60-500 Hz) on the energetic frames. Each track is summarised over time by mean, std,
10th, 50th and 90th percentiles (log-mel by mean and std), plus the voiced fraction
and the speech duration: 505 numbers.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft

from ..audio import Audio, from_array
from ..kernels import librosa
from .base import SpeechFeatureSet, register

RATE = 16000
N_FFT = 512
HOP = 160
N_MELS = 64
N_MFCC = 20
PERCENTILES = (10, 50, 90)


@lru_cache(maxsize=2)
def _mel_basis() -> np.ndarray:
    return librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=50, fmax=7600)


def _summary(track: np.ndarray) -> np.ndarray:
    """(d, t) -> (5d,): mean, std, 10/50/90th percentiles over time."""
    return np.concatenate([track.mean(axis=1), track.std(axis=1),
                           *np.percentile(track, PERCENTILES, axis=1)])


def frame_tracks(samples: np.ndarray) -> dict[str, np.ndarray]:
    """The per-frame tracks of 16 kHz mono ``samples``; each value has shape ``(d, t)``."""
    magnitude = np.abs(librosa.stft(samples, n_fft=N_FFT, hop_length=HOP)).astype(np.float32)
    power = magnitude ** 2
    log_mel = np.log(_mel_basis() @ power + 1e-6)
    mfcc = scipy.fft.dct(log_mel, axis=0, type=2, norm="ortho")[:N_MFCC]
    width = 5 if mfcc.shape[1] >= 5 else (mfcc.shape[1] // 2) * 2 + 1
    delta = librosa.feature.delta(mfcc, width=max(width, 3), mode="nearest") if mfcc.shape[1] >= 3 else np.zeros_like(mfcc)
    delta2 = librosa.feature.delta(mfcc, order=2, width=max(width, 3), mode="nearest") if mfcc.shape[1] >= 3 else np.zeros_like(mfcc)
    spectral = np.vstack([
        librosa.feature.spectral_centroid(S=magnitude, sr=RATE) / 1000,
        librosa.feature.spectral_bandwidth(S=magnitude, sr=RATE) / 1000,
        librosa.feature.spectral_rolloff(S=magnitude, sr=RATE) / 1000,
        np.log(librosa.feature.spectral_flatness(S=magnitude) + 1e-6),
        librosa.feature.spectral_contrast(S=magnitude, sr=RATE, fmin=100.0, n_bands=6),
    ])
    rms = np.log(librosa.feature.rms(S=magnitude, frame_length=N_FFT) + 1e-5)
    zcr = librosa.feature.zero_crossing_rate(samples, frame_length=N_FFT, hop_length=HOP)[:, : magnitude.shape[1]]
    f0 = librosa.yin(samples, fmin=60, fmax=500, sr=RATE, frame_length=1024, hop_length=HOP)[: magnitude.shape[1]]
    voiced = rms[0] > rms.max() - 3.5  # frames within ~30 dB of the loudest
    log_f0 = np.log2(f0[voiced]) if voiced.sum() >= 2 else np.full(2, np.log2(150.0))
    return {"mfcc": mfcc, "delta": delta, "delta2": delta2, "spectral": spectral, "rms": rms, "zcr": zcr,
            "log_mel": log_mel, "log_f0": log_f0[None, :], "d_log_f0": np.diff(log_f0)[None, :],
            "voiced_fraction": np.array([voiced.mean()])}


@register
class Stats(SpeechFeatureSet):
    """Frame-feature statistics (505 values) at 16 kHz after trimming silence."""

    name = "stats"
    version = 1
    min_seconds = 0.1
    rate = RATE

    @property
    def dim(self) -> int:
        return 5 * (3 * N_MFCC + 11 + 2 + 2) + 2 * N_MELS + 2

    def warm_up(self) -> None:
        """Compile librosa's numba kernels (zero crossings, YIN) on half a second of synthetic noise."""
        noise = np.random.default_rng(0).standard_normal(RATE // 2).astype(np.float32) * 0.1
        self.transform(from_array(noise, RATE, name="<warm-up>"))

    def transform(self, audio: Audio) -> np.ndarray:
        speech = self.speech(audio)
        t = frame_tracks(speech.samples)
        parts = [_summary(t[k]) for k in ("mfcc", "delta", "delta2", "spectral", "rms", "zcr", "log_f0")]
        parts.append(_summary(t["d_log_f0"]) if t["d_log_f0"].size >= 1 else np.zeros(5))
        parts += [t["log_mel"].mean(axis=1), t["log_mel"].std(axis=1), t["voiced_fraction"],
                  np.array([speech.duration])]
        return np.concatenate(parts).astype(np.float32)
