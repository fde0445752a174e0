"""Audio sources for streaming: the microphone (PortAudio) and a file that plays the microphone.

Both are iterables of float32 mono blocks, shape ``(n,)``, at ``.rate`` Hz, so
everything downstream is the same code for a live microphone and a test file.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from .. import audio as audio_io
from ..errors import DeviceError, ParameterError


def _block_size(block_seconds: float, rate: int) -> int:
    if not block_seconds or block_seconds <= 0:
        raise ParameterError(f"block_seconds must be > 0, got {block_seconds!r}")
    return max(1, round(block_seconds * rate))


class FileSource:
    """A file delivered in blocks, at real-time pace or as fast as possible: a stand-in microphone.

    The file is decoded block by block (:class:`emovox.audio.AudioReader`), so its length does not matter.

    Args:
        path: any file libsndfile reads (downmixed to mono).
        block_seconds: length of each block in seconds (the last may be shorter).
        realtime: pace the blocks at the file's own speed (block ``k`` is returned no earlier than
            ``k * block_seconds`` after the first); else as fast as the consumer takes them.
        max_duration_s: stop with an :class:`~emovox.errors.AudioError` past this many seconds.

    Attributes:
        rate: sample rate of the blocks (the file's), Hz.
        total_samples: samples the file's header announces.
        samples_out: samples delivered so far.
        overflows: always 0 (a file never overflows); here so sources are interchangeable.

    Raises:
        AudioError: the file cannot be read (the message names it and says why).
    """

    def __init__(self, path: str | os.PathLike, *, block_seconds: float = 0.032, realtime: bool = False,
                 max_duration_s: float | None = None) -> None:
        self.path = Path(path)
        if not block_seconds or block_seconds <= 0:
            raise ParameterError(f"block_seconds must be > 0, got {block_seconds!r}")
        self._reader = audio_io.AudioReader(self.path, block_s=block_seconds, max_duration_s=max_duration_s)
        self.rate = self._reader.rate
        self.block = self._reader.block
        self.realtime = realtime
        self.total_samples = self._reader.header_frames
        self.samples_out = 0
        self.overflows = 0
        self.name = str(self.path)

    @property
    def duration(self) -> float:
        """Length of the file in seconds, as its header says."""
        return self.total_samples / self.rate

    def __iter__(self) -> Iterator[np.ndarray]:
        began = time.monotonic()
        try:
            for block in self._reader:
                if self.realtime:
                    wait = began + self.samples_out / self.rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                self.samples_out += block.size
                yield block
        finally:
            self._reader.close()

    def close(self) -> None:
        """Release the file."""
        self._reader.close()


def _sounddevice():
    try:
        import sounddevice as sd
    except OSError:
        raise DeviceError("cannot use the microphone: the PortAudio library is missing "
                          "(install libportaudio2)") from None
    except ImportError:
        raise DeviceError("cannot use the microphone: install sounddevice (pip install sounddevice)") from None
    return sd


def list_devices(kind: str = "input") -> list[dict]:
    """The audio devices PortAudio sees.

    Args:
        kind: ``"input"`` (devices with input channels), ``"output"``, or ``"all"``.

    Returns:
        one dict per device: ``index``, ``name``, ``hostapi`` (name), ``inputs``, ``outputs`` (channel
        counts), ``default_rate`` (Hz), ``default`` (true for the default device of ``kind``).

    Raises:
        DeviceError: PortAudio is missing.
    """
    if kind not in ("input", "output", "all"):
        raise ParameterError(f"kind must be input, output or all, got {kind!r}")
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot list audio devices: {exc}") from None
    default_in, default_out = (sd.default.device[0], sd.default.device[1])
    found = []
    for d in devices:
        if (kind == "input" and d["max_input_channels"] < 1) or (kind == "output" and d["max_output_channels"] < 1):
            continue
        default = d["index"] == (default_out if kind == "output" else default_in)
        found.append({"index": int(d["index"]), "name": d["name"], "hostapi": hostapis[d["hostapi"]]["name"],
                      "inputs": int(d["max_input_channels"]), "outputs": int(d["max_output_channels"]),
                      "default_rate": float(d["default_samplerate"]), "default": bool(default)})
    return found


def resolve_device(device: int | str | None) -> int | str | None:
    """A device given as an index (int or digits) or a name substring, checked to be an input device.

    Raises:
        DeviceError: no input device at all, or none matching ``device``.
    """
    sd = _sounddevice()
    if isinstance(device, str) and device.strip().isdigit():
        device = int(device)
    try:
        info = sd.query_devices(device, kind="input")
    except (sd.PortAudioError, ValueError) as exc:
        if device is None:
            raise DeviceError("no audio input device found (connect a microphone, or use --input FILE)") from None
        raise DeviceError(f"no input device {device!r} ({exc}); see `emovox listen --list-devices`") from None
    if info["max_input_channels"] < 1:
        raise DeviceError(f"device {device!r} ({info['name']}) has no input channels")
    return device


class MicrophoneSource:
    """Live audio from an input device through PortAudio, in blocks.

    PortAudio's callback thread copies each block into a queue; iteration takes
    them out in order, so no audio is dropped while the consumer keeps up on
    average. When PortAudio reports an input overflow (the consumer fell too far
    behind, samples were lost by the driver), :attr:`overflows` counts it.

    Args:
        device: input device index or (part of its) name; ``None``: the default input.
        rate: sample rate in Hz.
        block_seconds: length of each block in seconds.
        timeout: seconds without audio after which the device counts as gone (unplugged).

    Attributes:
        rate: sample rate in Hz.
        overflows: input overflows reported by PortAudio so far.
        samples_captured: samples the device delivered; samples_out: samples given to the consumer.

    Raises (on iteration):
        DeviceError: no input device, no such device, a rate it refuses, or the device stopped.
    """

    def __init__(self, device: int | str | None = None, *, rate: int = 16000, block_seconds: float = 0.032,
                 timeout: float = 2.0) -> None:
        self.device = device
        self.rate = int(rate)
        self.block = _block_size(block_seconds, self.rate)
        self.timeout = timeout
        self.overflows = 0
        self.samples_captured = 0
        self.samples_out = 0
        self.name = f"microphone {device!r}" if device is not None else "default microphone"
        self._queue: queue.Queue = queue.Queue()
        self._stream = None
        self._stopped = threading.Event()

    def _callback(self, indata, frames, time_info, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        self.samples_captured += frames
        self._queue.put(np.array(indata[:, 0], dtype=np.float32))

    def _finished(self) -> None:
        self._stopped.set()
        self._queue.put(None)

    def open(self) -> None:
        """Open and start the input stream (done by iteration if not yet)."""
        if self._stream is not None:
            return
        sd = _sounddevice()
        device = resolve_device(self.device)
        try:
            sd.check_input_settings(device=device, channels=1, samplerate=self.rate, dtype="float32")
            self._stream = sd.InputStream(device=device, channels=1, samplerate=self.rate, blocksize=self.block,
                                          dtype="float32", callback=self._callback,
                                          finished_callback=self._finished)
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._stream = None
            raise DeviceError(f"cannot open {self.name} at {self.rate} Hz: {exc}") from None

    def __iter__(self) -> Iterator[np.ndarray]:
        self.open()
        try:
            while True:
                try:
                    block = self._queue.get(timeout=self.timeout)
                except queue.Empty:
                    raise DeviceError(f"{self.name}: no audio for {self.timeout:g} s "
                                      "(device unplugged or stalled)") from None
                if block is None:
                    if self._stopping:
                        return
                    raise DeviceError(f"{self.name}: the input stream stopped (device unplugged?)")
                self.samples_out += block.size
                yield block
        finally:
            self.close()

    _stopping = False

    def close(self) -> None:
        """Stop and release the device; blocks already captured stay queued (iteration has ended)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            self._stopping = True
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001 - a device that vanished may fail to close; nothing to do
                pass
