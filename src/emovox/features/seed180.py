"""``seed180``: the seed project's 180 numbers, computed from one STFT.

The seed computed, at the file's own rate with librosa's defaults (n_fft 2048,
hop 512, centred Hann frames), the time means of
``mfcc(y, sr, n_mfcc=40)``, ``chroma_stft(S=abs(stft(y)), sr)`` and
``melspectrogram(y, sr)``, each of which ran its own STFT. Here the STFT is
computed once and the three are derived from it with filter banks built once
per rate, giving the same values (tests compare with the direct librosa calls).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.signal
import scipy.sparse

from ..audio import Audio, require_duration
from ..kernels import librosa
from .base import FeatureSet, register

N_FFT = 2048
HOP = 512
N_MFCC = 40
N_CHROMA = 12
N_MELS = 128


@lru_cache(maxsize=8)
def _mel_basis(rate: int) -> scipy.sparse.csr_matrix:
    """librosa's default mel filter bank at ``rate`` (float32, as librosa's), shape ``(128, 1025)``, sparse."""
    return scipy.sparse.csr_matrix(librosa.filters.mel(sr=rate, n_fft=N_FFT, n_mels=N_MELS))


@lru_cache(maxsize=256)
def _chroma_basis(rate: int, tuning: float) -> np.ndarray:
    """librosa's chroma filter bank, shape ``(12, 1025)``; ``tuning`` comes in steps of 0.01."""
    return librosa.filters.chroma(sr=rate, n_fft=N_FFT, tuning=tuning, n_chroma=N_CHROMA)


_WINDOW = scipy.signal.get_window("hann", N_FFT, fftbins=True)


def stft_magnitude(y: np.ndarray) -> np.ndarray:
    """``np.abs(librosa.stft(y))`` with librosa's defaults, bit for bit.

    n_fft 2048, hop 512, periodic Hann, centred with zero padding; like librosa, the
    windowed frames are transformed in float64 and the result is stored at ``y``'s
    precision (complex64 for float32 samples).

    Args:
        y: waveform, shape ``(n,)``, float32 or float64.

    Returns:
        magnitude, shape ``(1025, 1 + n // 512)``, ``y``'s dtype.
    """
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, N_FFT // 2), N_FFT)[::HOP]
    spectrum = scipy.fft.rfft(frames * _WINDOW, axis=1).T
    return np.abs(spectrum.astype(np.result_type(y.dtype, np.complex64), copy=False))


def estimate_tuning(magnitude: np.ndarray, rate: int) -> float:
    """``librosa.estimate_tuning(S=magnitude, sr=rate, bins_per_octave=12)``, the same value, faster.

    librosa's ``piptrack`` looks for spectral peaks between 150 Hz and 4 kHz but
    computes its gradient, parabolic shifts and peak picking over all 1025 bins;
    here they are computed on the band's rows (and one neighbour each side) only,
    with the same arithmetic and precision, so the peaks, and the tuning, are identical.

    Args:
        magnitude: STFT magnitude, shape ``(1 + n_fft/2, t)``.
        rate: sample rate in Hz.
    """
    n_fft = 2 * (magnitude.shape[0] - 1)
    freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / rate)
    band = np.flatnonzero((freqs >= 150.0) & (freqs < min(4000.0, rate / 2)))
    if band.size == 0 or band[0] < 1 or band[-1] + 1 >= magnitude.shape[0]:
        return float(librosa.estimate_tuning(S=magnitude, sr=rate, bins_per_octave=N_CHROMA))
    low, high = int(band[0]), int(band[-1]) + 1
    rows = magnitude[low - 1:high + 1]
    peaks_in = rows * (rows > 0.1 * magnitude.max(axis=0))
    is_peak = (peaks_in[1:-1] > peaks_in[:-2]) & (peaks_in[1:-1] >= peaks_in[2:])
    bins, frames = np.nonzero(is_peak)
    if bins.size == 0:
        return 0.0
    # librosa computes the gradient and parabolic shifts everywhere, then reads them at
    # the peaks; computing them at the peaks only is the same arithmetic, element by element
    below, centre, above = rows[bins, frames], rows[bins + 1, frames], rows[bins + 2, frames]
    slope = (above - below) / 2  # np.gradient's central difference, in the input precision
    # librosa's parabolic-interpolation kernel (numba) promotes to float64 and stores at input precision
    curvature = (above + below).astype(np.float64) - 2 * centre.astype(np.float64)
    half_step = (above - below).astype(np.float64) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(half_step) >= np.abs(curvature), 0.0, -half_step / curvature)
    shift = shift.astype(magnitude.dtype)
    pitches = ((bins + low + shift) * float(rate) / n_fft).astype(magnitude.dtype)
    mags = centre + 0.5 * slope * shift
    keep = pitches > 0
    chosen = pitches[keep & (mags >= np.median(mags[keep]))]
    return float(librosa.pitch_tuning(chosen, resolution=0.01, bins_per_octave=N_CHROMA))


def seed180_frames(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seed's three frame matrices from one STFT, as librosa computes them.

    Args:
        samples: mono waveform, shape ``(n,)``; float32 (as the seed read it) or float64.
        rate: its sample rate in Hz.

    Returns:
        ``(mfcc, chroma, mel)`` with shapes ``(40, t)``, ``(12, t)``, ``(128, t)``.
    """
    magnitude = stft_magnitude(samples)
    mel = np.asarray(_mel_basis(rate) @ (magnitude ** 2))
    mfcc = scipy.fft.dct(librosa.power_to_db(mel), axis=0, type=2, norm="ortho")[:N_MFCC]
    tuning = estimate_tuning(magnitude, rate)
    chroma = librosa.util.normalize(_chroma_basis(rate, tuning) @ magnitude, norm=np.inf, axis=0)
    return mfcc, chroma, mel


@register
class Seed180(FeatureSet):
    """MFCC(40) + chroma(12) + mel(128) time means at the file's own rate (the seed's features)."""

    name = "seed180"
    version = 1
    min_seconds = 0.1

    @property
    def params(self) -> dict:
        return {}  # fixed by definition: n_fft 2048, hop 512, 40 MFCC, 12 chroma, 128 mel bands

    @property
    def dim(self) -> int:
        return N_MFCC + N_CHROMA + N_MELS

    @property
    def names(self) -> list[str]:
        return ([f"mfcc_{i}" for i in range(N_MFCC)] + [f"chroma_{i}" for i in range(N_CHROMA)]
                + [f"mel_{i}" for i in range(N_MELS)])

    def transform(self, audio: Audio) -> np.ndarray:
        require_duration(audio, self.min_seconds, f"feature set {self.name!r}")
        mfcc, chroma, mel = seed180_frames(audio.samples, audio.rate)
        return np.concatenate([mfcc.mean(axis=1), chroma.mean(axis=1), mel.mean(axis=1)]).astype(np.float32)
