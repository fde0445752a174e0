"""The loop that joins them: source blocks → :class:`StreamSession` → every sink.

Ctrl-C (SIGINT) does not interrupt a block half-processed: it sets a flag, the
loop stops after the current block, the session is closed (closing an open
segment, so it is classified and saved) and every sink is closed. A second
Ctrl-C interrupts at once.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from ..results import Kind, Prediction
from .recognizer import StreamSession


@dataclass
class StreamReport:
    """What a run did.

    Attributes:
        events: the events emitted (segments and estimates), in order.
        samples_in: samples the source delivered; samples_processed: samples the session decided on.
        seconds: stream time processed, s; wall_seconds: wall-clock time of the run, s;
        busy_seconds: time spent inside the session (feed/close), s.
        overflows: input overflows the source reported.
        interrupted: stopped by Ctrl-C (or ``stop``) before the source ended.
    """

    events: list[Prediction] = field(default_factory=list)
    samples_in: int = 0
    samples_processed: int = 0
    seconds: float = 0.0
    wall_seconds: float = 0.0
    busy_seconds: float = 0.0
    overflows: int = 0
    interrupted: bool = False

    @property
    def segments(self) -> list[Prediction]:
        return [e for e in self.events if e.kind == Kind.SEGMENT]

    @property
    def real_time_factor(self) -> float:
        """Processing time over stream time (busy_seconds / seconds)."""
        return self.busy_seconds / self.seconds if self.seconds else 0.0


def run(source: Iterable[np.ndarray], session: StreamSession, sinks: Iterable[Callable[[Prediction], None]] = (),
        *, stop: threading.Event | None = None, on_overflow: Callable[[int], None] | None = None,
        keep_events: bool = True) -> StreamReport:
    """Stream ``source`` through ``session`` into each sink until the source ends or ``stop`` is set.

    Args:
        source: iterable of float32 blocks at ``session.rate`` (a FileSource or MicrophoneSource).
        session: the :class:`StreamSession`.
        sinks: callables given each event in order; those with ``close()`` are closed at the end.
        stop: set it (from any thread) to end the stream cleanly; SIGINT sets it too (main thread only).
        on_overflow: called with the running total whenever the source's ``overflows`` count grows.
        keep_events: keep the events in the report (turn off for endless streams).
    """
    sinks = list(sinks)
    stop = stop or threading.Event()
    report = StreamReport()
    previous = install_sigint(stop)
    began = time.perf_counter()
    overflows = 0
    try:
        iterator = iter(source)
        while not stop.is_set():
            try:
                block = next(iterator)
            except StopIteration:
                break
            t = time.perf_counter()
            events = session.feed(block)
            report.busy_seconds += time.perf_counter() - t
            _deliver(events, sinks, report, keep_events)
            now = getattr(source, "overflows", 0)
            if now > overflows:
                overflows = now
                if on_overflow:
                    on_overflow(now)
        report.interrupted = stop.is_set()
        if report.interrupted and hasattr(source, "close"):
            source.close()
        t = time.perf_counter()
        events = session.close()
        report.busy_seconds += time.perf_counter() - t
        _deliver(events, sinks, report, keep_events)
    finally:
        restore_sigint(previous)
        for sink in sinks:
            close = getattr(sink, "close", None)
            if close:
                close()
    report.wall_seconds = time.perf_counter() - began
    report.samples_in = session.samples_in
    report.samples_processed = session.samples_processed
    report.seconds = session.samples_in / session.rate
    report.overflows = max(overflows, getattr(source, "overflows", 0))
    return report


def _deliver(events: list[Prediction], sinks: list, report: StreamReport, keep: bool) -> None:
    for event in events:
        for sink in sinks:
            sink(event)
        if keep:
            report.events.append(event)


def install_sigint(stop: threading.Event, on_first: Callable[[], None] | None = None):
    """Make the first Ctrl-C set ``stop`` (and call ``on_first``) and a second one raise KeyboardInterrupt.

    Returns the previous handler for :func:`restore_sigint`; ``None`` off the main thread (nothing installed).
    """
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        if on_first is not None:
            on_first()

    return signal.signal(signal.SIGINT, handler)


def restore_sigint(previous) -> None:
    """Put back the handler :func:`install_sigint` replaced."""
    if previous is not None:
        signal.signal(signal.SIGINT, previous)
