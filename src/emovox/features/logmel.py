"""``logmel``: a fixed-size log-mel matrix for neural models (64 bands x 192 frames, flattened).

The clip is resampled to 16 kHz and trimmed of leading and trailing silence; its
power mel spectrogram (32 ms Hann windows every 16 ms, 64 bands from 50 Hz to 8 kHz)
is taken in dB (re full scale, floored 80 dB below the clip's peak). The first 192
frames (3.07 s) are kept; shorter clips are padded with the floor value, so the
speech always starts at frame 0. The vector is the matrix read row by row (band
major): reshape to ``(64, 192)`` to get it back.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..audio import Audio
from ..kernels import librosa
from .base import SpeechFeatureSet, register

RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 64
FRAMES = 192
TOP_DB = 80.0


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    return librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=50.0, fmax=8000.0)


def log_mel_matrix(samples: np.ndarray) -> np.ndarray:
    """Log-mel spectrogram of 16 kHz ``samples`` in dB: float32 ``(64, T)``, 62.5 frames per second."""
    power = np.abs(librosa.stft(samples, n_fft=N_FFT, hop_length=HOP)) ** 2
    return librosa.power_to_db(_mel_basis() @ power, ref=1.0, amin=1e-10, top_db=TOP_DB).astype(np.float32)


@register
class LogMel(SpeechFeatureSet):
    """64 log-mel bands x 192 frames (3.07 s from the start of speech), flattened: 12288 values."""

    name = "logmel"
    version = 1
    min_seconds = 0.1
    rate = RATE

    @property
    def dim(self) -> int:
        return N_MELS * FRAMES

    @property
    def shape(self) -> tuple[int, int]:
        """``(bands, frames)`` of the matrix the vector holds."""
        return N_MELS, FRAMES

    def transform(self, audio: Audio) -> np.ndarray:
        matrix = log_mel_matrix(self.speech(audio).samples)[:, :FRAMES]
        out = np.full((N_MELS, FRAMES), matrix.min(), dtype=np.float32)
        out[:, :matrix.shape[1]] = matrix
        return out.reshape(-1)
