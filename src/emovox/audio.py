"""Audio in: load a file or wrap an array as mono float32, validated, optionally resampled.

Every later step (features, models, streaming) takes an :class:`Audio`, so the
checks here are the only place bad input is turned away.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError

#: Peak absolute amplitude (full scale = 1.0) below which a signal counts as silence (-80 dBFS).
SILENCE_PEAK = 1e-4

#: File name extensions emovox reads as audio: the containers libsndfile reads (MP3 where this
#: libsndfile has it; check with ``soundfile.available_formats()``), and those FFmpeg reads through PyAV
#: (M4A/AAC, WebM, ...: :data:`FFMPEG_EXTENSIONS`; without PyAV they get an error saying what to install).
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".au",
                                     ".snd", ".caf", ".w64", ".rf64", ".voc") + \
    ((".mp3",) if "MP3" in sf.available_formats() else ()) + \
    (".m4a", ".mp4", ".aac", ".m4b", ".3gp", ".webm", ".mka", ".wma", ".amr")

#: Longest input, seconds, that :func:`load` reads whole into memory by default (longer inputs are
#: processed in blocks: :class:`AudioReader`).
MAX_LOAD_SECONDS = 3600.0


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


def load(path: str | os.PathLike, *, rate: int | None = None, max_duration_s: float | None = MAX_LOAD_SECONDS) -> Audio:
    """Read an audio file (WAV, FLAC, OGG, MP3, ...) whole, as mono float32, downmixing any channels.

    Args:
        path: the file (a regular file: devices and FIFOs are refused).
        rate: resample to this rate in Hz (soxr, high quality); ``None`` keeps the file's.
        max_duration_s: refuse files longer than this (checked on the decoded samples as they come).

    Raises:
        AudioError: the file is missing, empty, not audio, corrupt, has no samples,
            or is silent.
    """
    with AudioReader(path, max_duration_s=max_duration_s) as reader:
        blocks = list(reader)
        file_rate = reader.rate
    samples = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    return from_array(samples, file_rate, name=str(path), resample_to=rate)


def check_file(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`~pathlib.Path` if it is a regular file that can be read.

    Devices, FIFOs and sockets are refused by name (reading ``/dev/zero`` or a FIFO never ends).

    Raises:
        AudioError: no such file, a folder, not a regular file, or not readable.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise AudioError(path, "no such file") from None
    except OSError as exc:
        raise AudioError(path, f"cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise AudioError(path, "is a folder, not an audio file")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode)
                or stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
        raise AudioError(path, f"{kind}, not an audio file: only regular files are read")
    if info.st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise AudioError(path, "cannot read (permission denied)")
    return path


class AudioReader:
    """A file decoded in blocks of mono float32: memory stays bounded whatever the file's length.

    >>> with AudioReader("talk.flac", block_s=1.0) as reader:   # doctest: +SKIP
    ...     for block in reader:                                 # float32, shape (n,), at reader.rate
    ...         ...

    Args:
        path: a file libsndfile reads (WAV, FLAC, OGG Vorbis/Opus, MP3, AIFF, ...), or such a file opened in
            binary mode.
        block_s: length of each block, seconds (the last may be shorter).
        max_duration_s: stop with an :class:`AudioError` once more than this many seconds have been decoded
            (counted on the decoded frames, never on the header's claim); ``None``: no limit.
        start_s: begin this many seconds into the file.
        end_s: stop at this many seconds into the file (``None``: the end).
        name: what messages call it (default: the path).

    Attributes:
        rate: the file's sample rate, Hz.
        channels: its channels (blocks are downmixed by averaging).
        header_frames: frames the header claims (may be wrong for damaged files; never trusted for memory).
        frames_read: frames delivered so far.
        peak: the largest absolute sample delivered so far.

    Raises:
        AudioError: not a regular file, empty, not audio, corrupt, or longer than ``max_duration_s``.
    """

    def __init__(self, path: str | os.PathLike | BinaryIO, *, block_s: float = 1.0,
                 max_duration_s: float | None = None, start_s: float | None = None, end_s: float | None = None,
                 name: str | None = None) -> None:
        if hasattr(path, "read"):  # an open binary file (an upload held in memory, say)
            self.path, target = None, path
            self.name = name or "<bytes>"
        else:
            self.path = check_file(path)
            target = os.fsencode(self.path)  # bytes: libsndfile opens any name, even one that is not UTF-8
            self.name = name or os.fsdecode(self.path)
        self._file = self._ffmpeg = None
        try:
            self._file = sf.SoundFile(target)
        except sf.LibsndfileError as exc:
            error = _decode_error(self.name, exc)
            if not error.problem.startswith("not an audio file"):
                raise error from None
            self._ffmpeg = _FFmpegFile(target, self.name, error)  # M4A/AAC, WebM, ...: through PyAV, if installed
        except (RuntimeError, ValueError, EOFError, TypeError) as exc:
            raise AudioError(self.name, f"corrupt audio ({_short(exc)})") from None
        source = self._file if self._file is not None else self._ffmpeg
        self.rate = int(source.samplerate)
        self.channels = int(source.channels)
        self.header_frames = int(source.frames)
        if self.rate < 1000 or self.channels < 1:
            self.close()
            raise AudioError(self.name, f"invalid header ({self.rate} Hz, {self.channels} channels)")
        self.block = max(1, round(block_s * self.rate))
        self.max_frames = None if max_duration_s is None else int(max_duration_s * self.rate)
        self.max_duration_s = max_duration_s
        self.first_frame = max(0, round((start_s or 0.0) * self.rate))
        self.last_frame = None if end_s is None else max(self.first_frame, round(end_s * self.rate))
        self.frames_read = 0
        self.peak = 0.0

    @property
    def duration_s(self) -> float:
        """Seconds delivered so far."""
        return self.frames_read / self.rate

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            source = self._file if self._file is not None else self._ffmpeg
            if self.first_frame:
                if self.first_frame >= self.header_frames > 0:
                    return
                source.seek(self.first_frame)
            while True:
                want = self.block
                if self.last_frame is not None:
                    want = min(want, self.last_frame - self.first_frame - self.frames_read)
                    if want <= 0:
                        return
                data = source.read(want, dtype="float32", always_2d=True)
                if data.shape[0] == 0:
                    return
                block = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0].copy()
                if not np.all(np.isfinite(block)):
                    raise AudioError(self.name, "samples contain NaN or infinity")
                self.frames_read += block.size
                if self.max_frames is not None and self.frames_read > self.max_frames:
                    raise AudioError(self.name, f"longer than the limit of {self.max_duration_s:g} s")
                self.peak = max(self.peak, float(np.max(np.abs(block))))
                yield block
        except sf.LibsndfileError as exc:
            raise _decode_error(self.name, exc) from None
        except (RuntimeError, ValueError, EOFError) as exc:
            raise AudioError(self.name, f"corrupt audio ({_short(exc)})") from None

    def close(self) -> None:
        (self._file if self._file is not None else self._ffmpeg).close()

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: Containers libsndfile does not read, decoded through PyAV (FFmpeg) when it is installed.
FFMPEG_EXTENSIONS = (".m4a", ".mp4", ".aac", ".m4b", ".3gp", ".webm", ".mka", ".wma", ".amr")


class _FFmpegFile:
    """What :class:`AudioReader` needs of a ``soundfile.SoundFile`` (samplerate, channels, frames, read, seek,
    close), for the formats libsndfile does not read: decoded by FFmpeg through PyAV, as float32 mono.

    Raises:
        AudioError: PyAV is not installed (the message says what to install), or FFmpeg cannot read it.
    """

    def __init__(self, target, name: str, refused: AudioError) -> None:
        try:
            import av
        except ImportError:
            suffix = Path(name).suffix.lower()
            if suffix in FFMPEG_EXTENSIONS:
                raise AudioError(name, f"{suffix[1:].upper()} needs FFmpeg: pip install av (or 'emovox[formats]'), "
                                       "or convert it to WAV, FLAC or MP3") from None
            raise refused from None
        self._av = av
        if hasattr(target, "seek"):
            target.seek(0)  # libsndfile has read part of it
        elif isinstance(target, bytes):
            target = os.fsdecode(target)
        try:
            self._container = av.open(target, mode="r")
            self._stream = next(s for s in self._container.streams if s.type == "audio")
        except StopIteration:
            self._container.close()
            raise AudioError(name, "no audio stream in this file") from None
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise (refused if Path(name).suffix.lower() not in FFMPEG_EXTENSIONS
                   else AudioError(name, f"corrupt audio ({_short(exc)})")) from None
        context = self._stream.codec_context
        self.samplerate = int(context.sample_rate or self._stream.rate or 0)
        self.channels = int(getattr(context, "channels", 0) or len(context.layout.channels) or 1)
        duration = (float(self._stream.duration * self._stream.time_base) if self._stream.duration
                    else (self._container.duration or 0) / 1e6)
        self.frames = int(duration * self.samplerate)
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=self.samplerate)
        self._frames = self._decode()
        self._pending = np.zeros(0, np.float32)
        self._skip = 0

    def _decode(self) -> Iterator[np.ndarray]:
        for frame in self._container.decode(self._stream):
            for out in self._resampler.resample(frame):
                yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
        for out in self._resampler.resample(None):
            yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)

    def seek(self, frame: int) -> None:
        self._skip = frame  # decoded and dropped: exact, and files this path reads are short enough

    def read(self, n: int, *, dtype: str = "float32", always_2d: bool = True) -> np.ndarray:
        try:
            while self._pending.size < n + self._skip:
                chunk = next(self._frames, None)
                if chunk is None:
                    break
                self._pending = np.concatenate([self._pending, chunk])
        except self._av.error.FFmpegError as exc:
            raise ValueError(str(exc)) from None
        if self._skip:
            dropped = min(self._skip, self._pending.size)
            self._pending, self._skip = self._pending[dropped:], self._skip - dropped
        out, self._pending = self._pending[:n], self._pending[n:]
        return out[:, None]

    def close(self) -> None:
        self._container.close()


def _decode_error(name: str, exc: sf.LibsndfileError) -> AudioError:
    detail = (exc.error_string or "").strip().rstrip(".")
    problem = "not an audio file" if "recogni" in detail.lower() else "corrupt audio"
    return AudioError(name, f"{problem} ({detail or 'libsndfile cannot decode it'})")


def decode(data: bytes, *, name: str = "<bytes>", rate: int | None = None) -> Audio:
    """Decode the bytes of a WAV, FLAC or OGG file; see :func:`load` (``name`` is for messages)."""
    if len(data) == 0:
        raise AudioError(name, "empty file (0 bytes)")
    try:
        samples, file_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except sf.LibsndfileError as exc:
        raise _decode_error(name, exc) from None
    except (RuntimeError, ValueError, EOFError) as exc:
        raise AudioError(name, f"corrupt audio ({_short(exc)})") from None
    return from_array(samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0],
                      file_rate, name=name, resample_to=rate)


def as_mono(samples: np.ndarray, rate: int, name: str = "<array>") -> np.ndarray:
    """``samples`` as contiguous float32 mono, shape ``(n,)``: integer PCM scaled to ``[-1, 1]``, channels averaged
    (``(n, channels)``, or ``(channels, n)`` for up to 8 channels over more samples). Checks the rate and the
    layout, not the values (see :func:`from_array`).

    Raises:
        AudioError: a rate that is not an integer >= 1000 Hz, values that are not numbers, another shape.
    """
    if not isinstance(rate, (int, np.integer)) or isinstance(rate, bool) or rate < 1000:
        raise AudioError(name, f"invalid sample rate {rate!r} (expected an integer >= 1000 Hz)")
    array = np.asarray(samples)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise AudioError(name, f"samples must be numbers, got an array of {array.dtype}")
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / float(np.iinfo(array.dtype).max + 1)
    with np.errstate(over="ignore"):  # values beyond float32 become infinite, then refused as not finite
        array = array.astype(np.float32, copy=False)
    if array.ndim == 2:
        channel_axis = 0 if array.shape[0] <= 8 < array.shape[1] else 1
        array = array.mean(axis=channel_axis, dtype=np.float32)
    if array.ndim != 1:
        raise AudioError(name, f"expected samples of shape (n,) or (n, channels), got {array.shape}")
    return np.ascontiguousarray(array)


def from_array(samples: np.ndarray, rate: int, *, name: str = "<array>",
               resample_to: int | None = None) -> Audio:
    """Wrap samples in memory as a validated :class:`Audio`: :func:`as_mono`, then not empty, finite, not silent
    and not constant.

    Args:
        samples: shape ``(n,)`` mono, or ``(n, channels)`` (downmixed by averaging; ``(channels, n)`` too).
            Integer PCM is scaled to ``[-1, 1]``.
        rate: sample rate in Hz.
        name: used in error messages.
        resample_to: resample to this rate in Hz, or ``None``.
    """
    samples = as_mono(samples, rate, name)
    if samples.size == 0:
        raise AudioError(name, "no audio samples (0 frames)")
    if not np.all(np.isfinite(samples)):
        raise AudioError(name, "samples contain NaN or infinity")
    if float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise AudioError(name, "silent (peak below -80 dBFS)")
    if float(np.ptp(samples)) < 2 * SILENCE_PEAK:
        raise AudioError(name, "no sound: a constant signal (DC offset without variation)")
    audio = Audio(samples, int(rate), name)
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
    start, end = silence_trim_span(audio, top_db=top_db, pad_seconds=pad_seconds)
    if (start, end) == (0, len(audio.samples)):
        return audio
    return Audio(audio.samples[start:end], audio.rate, audio.name)


def silence_trim_span(audio: Audio, *, top_db: float = 35.0, pad_seconds: float = 0.05) -> tuple[int, int]:
    """First and one-past-last sample :func:`trim_silence` keeps (all of ``audio`` if nothing would remain)."""
    from .kernels import load

    effects = load("librosa.effects")

    frame, hop = 1024 * audio.rate // 22050 or 256, 256 * audio.rate // 22050 or 64
    _, (start, end) = effects.trim(audio.samples, top_db=top_db, frame_length=frame, hop_length=hop)
    pad = int(pad_seconds * audio.rate)
    start, end = max(0, start - pad), min(len(audio.samples), end + pad)
    if end - start < hop:
        return 0, len(audio.samples)
    return start, end
