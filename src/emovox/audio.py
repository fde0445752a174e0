"""Audio in: load a file or wrap an array as mono float32, validated, optionally resampled.

Every later step (features, models, streaming) takes an :class:`Audio`, so the
checks here are the only place bad input is turned away.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError

#: Peak absolute amplitude (full scale = 1.0) below which a signal counts as silence (-80 dBFS).
SILENCE_PEAK = 1e-4

#: File name extensions emovox reads as audio.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")


@dataclass(frozen=True)
class Audio:
    """Mono audio in memory.

    Attributes:
        samples: float32 array, shape ``(n,)``, full scale ``[-1, 1]``.
        rate: sample rate in Hz.
        name: where the samples came from (a path, or ``"<array>"``), for messages.
    """

    samples: np.ndarray
    rate: int
    name: str = "<array>"

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.rate


def load(path: str | os.PathLike, *, rate: int | None = None) -> Audio:
    """Read a WAV, FLAC or OGG file as mono float32, downmixing any channels.

    Args:
        path: the file.
        rate: resample to this rate in Hz (soxr, high quality); ``None`` keeps the file's.

    Raises:
        AudioError: the file is missing, empty, not audio, corrupt, has no samples,
            or is silent.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "no such file")
    if path.is_dir():
        raise AudioError(path, "is a folder, not an audio file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AudioError(path, f"cannot read ({exc.strerror})") from None
    return decode(data, name=str(path), rate=rate)


def decode(data: bytes, *, name: str = "<bytes>", rate: int | None = None) -> Audio:
    """Decode the bytes of a WAV, FLAC or OGG file; see :func:`load` (``name`` is for messages)."""
    if len(data) == 0:
        raise AudioError(name, "empty file (0 bytes)")
    try:
        samples, file_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except sf.LibsndfileError as exc:
        detail = (exc.error_string or "").strip().rstrip(".")
        problem = "not an audio file" if "recogni" in detail.lower() else "corrupt audio"
        raise AudioError(name, f"{problem} ({detail or 'libsndfile cannot decode it'})") from None
    except (RuntimeError, ValueError, EOFError) as exc:
        raise AudioError(name, f"corrupt audio ({_short(exc)})") from None
    return from_array(samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0],
                      file_rate, name=name, resample_to=rate)


def from_array(samples: np.ndarray, rate: int, *, name: str = "<array>",
               resample_to: int | None = None) -> Audio:
    """Wrap samples in memory as a validated :class:`Audio`.

    Args:
        samples: shape ``(n,)`` mono, or ``(n, channels)`` (downmixed by averaging).
            Integer PCM is scaled to ``[-1, 1]``.
        rate: sample rate in Hz.
        name: used in error messages.
        resample_to: resample to this rate in Hz, or ``None``.
    """
    if not isinstance(rate, (int, np.integer)) or rate < 1000:
        raise AudioError(name, f"invalid sample rate {rate!r} (expected an integer >= 1000 Hz)")
    samples = np.asarray(samples)
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    samples = samples.astype(np.float32, copy=False)
    if samples.ndim == 2:
        samples = samples.mean(axis=1, dtype=np.float32)
    if samples.ndim != 1:
        raise AudioError(name, f"expected mono samples of shape (n,) or (n, channels), got {samples.shape}")
    if samples.size == 0:
        raise AudioError(name, "no audio samples (0 frames)")
    if not np.all(np.isfinite(samples)):
        raise AudioError(name, "samples contain NaN or infinity")
    if float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise AudioError(name, "silent (peak below -80 dBFS)")
    audio = Audio(np.ascontiguousarray(samples), int(rate), name)
    return resample(audio, resample_to) if resample_to else audio


def resample(audio: Audio, rate: int) -> Audio:
    """Return ``audio`` at ``rate`` Hz (soxr high quality); the same object if already there."""
    if audio.rate == rate:
        return audio
    samples = soxr.resample(audio.samples, audio.rate, rate, quality="HQ").astype(np.float32, copy=False)
    return Audio(samples, int(rate), audio.name)


def require_duration(audio: Audio, seconds: float, needed_by: str) -> None:
    """Raise :class:`AudioError` if ``audio`` is shorter than ``seconds``."""
    if audio.duration < seconds:
        raise AudioError(audio.name, f"too short: {audio.duration:.3f} s, {needed_by} needs at least {seconds:.2f} s")


def is_audio_path(path: str | os.PathLike) -> bool:
    """True if the name ends in one of :data:`AUDIO_EXTENSIONS` (case-insensitive)."""
    return str(path).lower().endswith(AUDIO_EXTENSIONS)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] if text else type(exc).__name__


def trim_silence(audio: Audio, *, top_db: float = 35.0, pad_seconds: float = 0.05) -> Audio:
    """Cut leading and trailing stretches quieter than ``top_db`` below the peak (librosa.effects.trim),
    keeping ``pad_seconds`` either side. Returns ``audio`` unchanged if nothing would remain."""
    from .kernels import librosa

    frame, hop = 1024 * audio.rate // 22050 or 256, 256 * audio.rate // 22050 or 64
    _, (start, end) = librosa.effects.trim(audio.samples, top_db=top_db, frame_length=frame, hop_length=hop)
    pad = int(pad_seconds * audio.rate)
    start, end = max(0, start - pad), min(len(audio.samples), end + pad)
    if end - start < hop:
        return audio
    return Audio(audio.samples[start:end], audio.rate, audio.name)
