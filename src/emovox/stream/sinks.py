"""Where a stream's rows go: the terminal, JSON lines, the speaker, a folder of WAV files.

A sink is any callable taking a :class:`~emovox.results.Prediction`; one with a ``close()``
method is closed at the end of the stream (after the last row).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Protocol, TextIO

from ..paths import atomic_write
from ..results import Kind, Prediction


class Sink(Protocol):
    def __call__(self, event: Prediction) -> None: ...


def bars(probabilities: dict[str, float], width: int = 10, *, top: int | None = None,
         columns: int | None = None) -> str:
    """Bars for the most probable emotions first, e.g. ``calm ██████···· 0.61``.

    Args:
        probabilities: emotion -> probability.
        width: characters per bar.
        top: show at most this many emotions (``None``: all that fit).
        columns: characters available; emotions that do not fit are left out (``None``: no limit).
    """
    parts: list[str] = []
    used = 0
    for label, p in sorted(probabilities.items(), key=lambda kv: -kv[1])[:top]:
        filled = int(round(p * width))
        part = f"{label} {'█' * filled}{'·' * (width - filled)} {p:.2f}"
        if columns is not None and parts and used + 2 + len(part) > columns:
            break
        used += (2 if parts else 0) + len(part)
        parts.append(part)
    return "  ".join(parts)


def terminal_columns(stream: TextIO) -> int | None:
    """The width of the terminal ``stream`` writes to, or ``None`` when it is not a terminal."""
    try:
        if stream.isatty():
            return shutil.get_terminal_size((80, 24)).columns
    except (AttributeError, ValueError, OSError):
        pass
    return None


class TerminalSink:
    """Human-readable lines: stream time, kind, label and bars for the most probable emotions.

    Segments get a line each; with ``estimates=True`` running estimates get an indented ``~`` line (on a
    terminal, rewritten in place). On a terminal every line fits its width (the least probable emotions are
    left out); elsewhere ``top`` emotions are shown (all by default).
    """

    def __init__(self, stream: TextIO | None = None, *, estimates: bool = True, width: int = 10,
                 top: int | None = None) -> None:
        self.stream = stream or sys.stdout
        self.estimates = estimates
        self.width = width
        self.top = top
        self._live = self.stream.isatty() if hasattr(self.stream, "isatty") else False
        self._open_line = False

    def _bars(self, event: Prediction, used: int, tail: int = 0) -> str:
        columns = terminal_columns(self.stream)
        room = None if columns is None else max(0, columns - 1 - used - tail)
        return bars(event.probabilities, self.width, top=self.top, columns=room)

    def __call__(self, event: Prediction) -> None:
        times = f"{clock(event.start_s)}–{clock(event.end_s)}"
        if event.kind == Kind.ESTIMATE:
            if not self.estimates:
                return
            head = f"  ~ {times}  {event.label:<9} "
            line = head + self._bars(event, len(head))
            if self._live:
                self.stream.write("\r\x1b[2K" + line)
                self._open_line = True
            else:
                self.stream.write(line + "\n")
        else:
            prefix = "\r\x1b[2K" if self._open_line else ""
            self._open_line = False
            head = f"#{event.index:<3} {times}  {event.label + ('?' if event.uncertain else ''):<9} "
            tail = f"  ({event.latency_ms or 0:.0f} ms)"
            self.stream.write(f"{prefix}{head}{self._bars(event, len(head), len(tail))}{tail}\n")
        self.stream.flush()

    def close(self) -> None:
        if self._open_line:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


class JsonSink:
    """One JSON object per row, per line (``Prediction.to_dict()``)."""

    def __init__(self, stream: TextIO | None = None, *, estimates: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.estimates = estimates

    def __call__(self, event: Prediction) -> None:
        if event.kind == Kind.ESTIMATE and not self.estimates:
            return
        self.stream.write(json.dumps(event.to_dict()) + "\n")
        self.stream.flush()


class SpeakSink:
    """Says each segment's emotion aloud through an :class:`emovox.speech.Announcer` (estimates are not spoken)."""

    def __init__(self, announcer) -> None:
        self.announcer = announcer

    def __call__(self, event: Prediction) -> None:
        if event.kind == Kind.SEGMENT:
            self.announcer.say(event.label)

    def close(self) -> None:
        self.announcer.close()


class SaveSink:
    """Keeps every segment as ``DIR/segment-NNNN.wav`` (16-bit) with ``segment-NNNN.json`` (its row).

    Each file is written atomically when its segment ends, so an interrupted stream
    leaves only whole files. ``written`` lists the WAV paths.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.written: list[Path] = []

    def __call__(self, event: Prediction) -> None:
        if event.kind != Kind.SEGMENT or event.samples is None:
            return
        import soundfile as sf

        stem = self.folder / f"segment-{event.index:04d}"
        buffer = io.BytesIO()
        sf.write(buffer, event.samples, event.rate_hz, format="WAV", subtype="PCM_16")
        atomic_write(stem.with_suffix(".wav"), buffer.getvalue())
        atomic_write(stem.with_suffix(".json"), json.dumps(event.to_dict(), indent=2).encode())
        self.written.append(stem.with_suffix(".wav"))


def clock(seconds: float) -> str:
    """A time for people: ``mm:ss.ss``, or ``h:mm:ss.ss`` from an hour on."""
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{rest:05.2f}" if hours else f"{minutes:02d}:{rest:05.2f}"


