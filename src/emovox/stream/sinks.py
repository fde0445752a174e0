"""Where events go: the terminal, JSON lines, the speaker, a folder of WAV files.

A sink is any callable taking an :class:`~emovox.stream.recognizer.Event`; one
with a ``close()`` method is closed at the end of the stream (after the last event).
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Protocol, TextIO

from ..paths import atomic_write
from .recognizer import Event


class Sink(Protocol):
    def __call__(self, event: Event) -> None: ...


def bars(probabilities: dict[str, float], width: int = 10) -> str:
    """One bar per emotion, e.g. ``calm ██████···· 0.61``, in the model's label order."""
    parts = []
    for label, p in probabilities.items():
        filled = int(round(p * width))
        parts.append(f"{label} {'█' * filled}{'·' * (width - filled)} {p:.2f}")
    return "  ".join(parts)


class TerminalSink:
    """Human-readable lines: stream time, kind, label and a bar per emotion.

    Segments get a line each; with ``estimates=True`` running estimates get an
    indented ``~`` line (on a terminal, rewritten in place).
    """

    def __init__(self, stream: TextIO | None = None, *, estimates: bool = True, width: int = 10) -> None:
        self.stream = stream or sys.stdout
        self.estimates = estimates
        self.width = width
        self._live = self.stream.isatty() if hasattr(self.stream, "isatty") else False
        self._open_line = False

    def __call__(self, event: Event) -> None:
        times = f"{_clock(event.start)}–{_clock(event.end)}"
        if event.kind == "estimate":
            if not self.estimates:
                return
            line = f"  ~ {times}  {event.label:<9} {bars(event.probabilities, self.width)}"
            if self._live:
                self.stream.write("\r\x1b[2K" + line)
                self._open_line = True
            else:
                self.stream.write(line + "\n")
        else:
            prefix = "\r\x1b[2K" if self._open_line else ""
            self._open_line = False
            self.stream.write(f"{prefix}#{event.index:<3} {times}  {event.label:<9} "
                              f"{bars(event.probabilities, self.width)}  ({event.latency_ms:.0f} ms)\n")
        self.stream.flush()

    def close(self) -> None:
        if self._open_line:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


class JsonSink:
    """One JSON object per event, per line (``Event.to_dict()``)."""

    def __init__(self, stream: TextIO | None = None, *, estimates: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.estimates = estimates

    def __call__(self, event: Event) -> None:
        if event.kind == "estimate" and not self.estimates:
            return
        self.stream.write(json.dumps(event.to_dict()) + "\n")
        self.stream.flush()


class SpeakSink:
    """Says each segment's emotion aloud through an :class:`emovox.speech.Announcer` (estimates are not spoken)."""

    def __init__(self, announcer) -> None:
        self.announcer = announcer

    def __call__(self, event: Event) -> None:
        if event.kind == "segment":
            self.announcer.say(event.label)

    def close(self) -> None:
        self.announcer.close()


class SaveSink:
    """Keeps every segment as ``DIR/segment-NNNN.wav`` (16-bit) with ``segment-NNNN.json`` (its event).

    Each file is written atomically when its segment ends, so an interrupted stream
    leaves only whole files. ``written`` lists the WAV paths.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.written: list[Path] = []

    def __call__(self, event: Event) -> None:
        if event.kind != "segment" or event.samples is None:
            return
        import soundfile as sf

        stem = self.folder / f"segment-{event.index:04d}"
        buffer = io.BytesIO()
        sf.write(buffer, event.samples, event.rate, format="WAV", subtype="PCM_16")
        atomic_write(stem.with_suffix(".wav"), buffer.getvalue())
        atomic_write(stem.with_suffix(".json"), json.dumps(event.to_dict(), indent=2).encode())
        self.written.append(stem.with_suffix(".wav"))


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes):02d}:{rest:05.2f}"


