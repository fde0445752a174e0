"""The streaming recognizer: audio blocks in, emotion events out.

Data flow inside :meth:`StreamRecognizer.feed`::

    block ─► history (ring buffer, stream rate) ─► [soxr to 16 kHz] ─► VAD, 512-sample frames
                                                                         │ probability per frame
                                                        Segmenter ◄──────┘
                                                           │ end of speech decided
           history[start - pad - context : end + pad + context] ─► model ─► Event("segment")
           every `estimate_hop` s while in speech: last `estimate_window` s (from `context` s before the
           speech at most) ─► model ─► smoothed Event("estimate")

Everything is synchronous and single-threaded: ``feed`` returns the events its
block completed, so a segment's ``latency_ms`` is exactly the time from the VAD's
end-of-speech decision to the finished event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..audio import Audio
from ..errors import EmovoxError, ParameterError
from .vad import FRAME, VAD_RATE, FrameVAD, Segmenter, Span, loud_part, make_vad


@dataclass
class Event:
    """One answer from the stream.

    Attributes:
        kind: ``"segment"`` (a finished stretch of speech) or ``"estimate"`` (running, while speech goes on).
        start: start of the audio classified, seconds of stream time (0 = first sample fed).
        end: end of the audio classified, seconds of stream time.
        label: the most probable emotion.
        probabilities: emotion -> probability in the model's label order (sums to 1; smoothed for estimates).
        latency_ms: processing time from the decision (end of speech, or the estimate's tick) to this event, ms.
        index: the segment's number (0, 1, ...); for estimates, the number the open segment will get.
        samples: the audio classified, float32 shape ``(n,)`` at ``rate`` (for segments: with the recognizer's
            ``context`` around the speech), or ``None`` unless ``keep_audio``; not in :meth:`to_dict`.
        rate: sample rate of ``samples`` in Hz.
    """

    kind: str
    start: float
    end: float
    label: str
    probabilities: dict[str, float]
    latency_ms: float
    index: int = 0
    samples: np.ndarray | None = field(default=None, repr=False, compare=False)
    rate: int = 0

    @property
    def duration(self) -> float:
        """``end - start`` in seconds."""
        return self.end - self.start

    def to_dict(self) -> dict:
        """JSON-ready: every field but ``samples``, times rounded to 0.1 ms."""
        return {"kind": self.kind, "index": self.index, "start": round(self.start, 4), "end": round(self.end, 4),
                "label": self.label, "probabilities": {k: round(float(v), 6) for k, v in self.probabilities.items()},
                "latency_ms": round(self.latency_ms, 3)}


class _History:
    """The last ``capacity`` samples of the stream, addressed by absolute sample index."""

    def __init__(self, capacity: int) -> None:
        self._data = np.zeros(capacity, dtype=np.float32)
        self.total = 0  # samples written so far

    @property
    def first(self) -> int:
        """The oldest sample index still held."""
        return max(0, self.total - self._data.size)

    def append(self, block: np.ndarray) -> None:
        cap = self._data.size
        if block.size >= cap:
            self.total += block.size
            self._data[np.arange(self.total - cap, self.total) % cap] = block[-cap:]
            return
        at = self.total % cap
        head = min(block.size, cap - at)
        self._data[at:at + head] = block[:head]
        self._data[:block.size - head] = block[head:]
        self.total += block.size

    def get(self, start: int, end: int) -> np.ndarray:
        """Samples ``[start, end)`` (clipped to what is held), as a new array."""
        start, end = max(start, self.first), min(end, self.total)
        if end <= start:
            return np.zeros(0, dtype=np.float32)
        cap = self._data.size
        idx = np.arange(start, end) % cap
        return self._data[idx]


class StreamRecognizer:
    """Segments a stream by voice activity and classifies each segment's emotion.

    Args:
        model: a loaded bundle (:func:`emovox.load_model`).
        rate: sample rate in Hz of the blocks given to :meth:`feed`; the model sees segments at this rate
            unless ``classify_rate`` says otherwise (``seed180`` features depend on the rate: use the rate
            the model was trained at, 48000 for RAVDESS).
        vad: ``"auto"`` (Silero if installed, else energy), ``"silero"``, ``"energy"``, or a :class:`FrameVAD`.
        threshold: VAD probability at or above which a frame is speech.
        neg_threshold: probability below which a frame is silence (``None``: ``threshold - 0.15``).
        min_speech: seconds; shorter segments are ignored.
        min_silence: seconds of silence that end a segment (the decision comes this long after speech ends).
        pad: seconds of audio added before and after each segment.
        trim_db: when a segment ends, move its start and end inwards to the first and last 50 ms of
            audio within ``trim_db`` dB of the segment's loudest 10 ms (then add ``pad``): Silero decides
            that there is speech, the level says exactly where it starts and ends (its probability
            stays high for 50-150 ms after the last word). Only ever shortens; ``None`` or 0 turns it off.
        max_segment: seconds; longer speech is cut into segments of this length.
        estimate_window: seconds of audio in each running estimate; ``None`` or 0 turns estimates off.
        estimate_hop: seconds of stream time between running estimates.
        smoothing: weight of the previous smoothed estimate, in [0, 1) (exponential moving average;
            0 = none); restarts with each segment.
        classify_rate: resample segments to this rate in Hz before classifying (``None``: ``rate``).
        context: seconds of the stream before and after a segment given to the model with it (as much of
            the after-part as has arrived when the end is decided, about ``min_silence``). Bundles trained on
            whole RAVDESS clips saw speech with about 1 s of silence around it, and time-averaged features
            such as ``seed180`` shift when that silence is cut away; the event's ``start``/``end`` stay the
            speech's.
        keep_audio: attach the audio classified (segment with its context) as :attr:`Event.samples`.

    Attributes:
        samples_in: samples given to :meth:`feed`.
        samples_processed: samples the VAD has decided on (equals ``samples_in`` after :meth:`flush`).
        skipped: segments that could not be classified (e.g. too short for the feature set).
    """

    def __init__(self, model, *, rate: int = 16000, vad: str | FrameVAD = "auto", threshold: float = 0.5,
                 neg_threshold: float | None = None, min_speech: float = 0.25, min_silence: float = 1.0,
                 pad: float = 0.03, trim_db: float | None = 35.0, max_segment: float = 10.0,
                 estimate_window: float | None = 2.0, estimate_hop: float = 0.5, smoothing: float = 0.5,
                 classify_rate: int | None = None, context: float = 1.0, keep_audio: bool = False) -> None:
        if not isinstance(rate, (int, np.integer)) or rate < 8000:
            raise ParameterError(f"stream rate must be an integer >= 8000 Hz, got {rate!r}")
        if pad < 0:
            raise ParameterError(f"pad must be >= 0 seconds, got {pad}")
        if trim_db is not None and trim_db < 0:
            raise ParameterError(f"trim_db must be >= 0 dB (0 turns trimming off), got {trim_db}")
        if not 0.0 <= smoothing < 1.0:
            raise ParameterError(f"smoothing must be in [0, 1), got {smoothing}")
        if estimate_window and estimate_hop <= 0:
            raise ParameterError(f"estimate_hop must be > 0 seconds, got {estimate_hop}")
        self.model = model
        self.rate = int(rate)
        self.vad: FrameVAD = make_vad(vad) if isinstance(vad, str) else vad
        self.segmenter = Segmenter(threshold=threshold, neg_threshold=neg_threshold, min_speech=min_speech,
                                   min_silence=min_silence, max_segment=max_segment)
        self.pad = float(pad)
        self.trim_db = float(trim_db or 0.0)
        self.context = float(context)
        self.estimate_window = float(estimate_window or 0.0)
        self.estimate_hop = float(estimate_hop)
        self.smoothing = float(smoothing)
        self.classify_rate = int(classify_rate) if classify_rate else self.rate
        self.keep_audio = keep_audio
        self.samples_in = 0
        self.samples_processed = 0
        self.segments = 0
        self.skipped = 0
        held = max_segment + 2 * pad + 2 * context + 2 * min_silence + self.estimate_window + 2.0
        self._history = _History(int(held * self.rate))
        self._resampler = None
        if self.rate != VAD_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(self.rate, VAD_RATE, 1, dtype="float32", quality="MQ")
        self._pending = np.zeros(0, dtype=np.float32)  # 16 kHz samples not yet a whole frame
        self._vad_frames = 0
        self._last_end = 0  # stream sample where the previous segment (with padding) ended
        self._next_tick = self.estimate_hop
        self._smoothed: np.ndarray | None = None
        self._finished = False
        self._last_samples = np.zeros(0, dtype=np.float32)
        self._warm_up()

    def _warm_up(self) -> None:
        """Classify 0.5 s of synthetic sound once, so the first real segment does not pay for lazy set-up."""
        t = np.arange(self.rate // 2) / self.rate
        noise = np.random.default_rng(0).standard_normal(t.size) * 0.01
        self._classify_audio((0.1 * np.sin(2 * np.pi * 220 * t) + noise).astype(np.float32))

    @property
    def in_speech(self) -> bool:
        """True while a segment is open (speech started, its end not yet decided)."""
        return self.segmenter.in_speech

    @property
    def vad_name(self) -> str:
        return self.vad.name

    def feed(self, block: np.ndarray) -> list[Event]:
        """Process ``block`` (float32 mono, shape ``(n,)``, any ``n``, at ``rate``); return the events it completed."""
        if self._finished:
            raise ParameterError("this stream was flushed: make a new StreamRecognizer")
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        if block.size == 0:
            return []
        if not np.all(np.isfinite(block)):
            raise EmovoxError("audio block contains NaN or infinity")
        events: list[Event] = []
        step = self.rate  # one second at a time, so a long block never outruns the history buffer
        for at in range(0, block.size, step):
            piece = block[at:at + step]
            self._history.append(piece)
            self.samples_in += piece.size
            vad_in = self._resampler.resample_chunk(piece) if self._resampler else piece
            events += self._run_vad(vad_in, final=False)
        return events

    def flush(self) -> list[Event]:
        """End of stream: decide on the last partial frame, close any open segment; return the events."""
        if self._finished:
            return []
        tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True) if self._resampler else \
            np.zeros(0, np.float32)
        events = self._run_vad(tail, final=True)
        self._finished = True
        span = self.segmenter.finish()
        if span is not None:
            decided = time.perf_counter()
            events += self._segment_event(span, decided, end_limit=self.samples_in)
        self.samples_processed = self.samples_in
        return events

    # -- internals ---------------------------------------------------------------------------------------

    def _run_vad(self, samples: np.ndarray, final: bool) -> list[Event]:
        events: list[Event] = []
        pending = np.concatenate([self._pending, samples]) if self._pending.size else samples
        n_frames = pending.size // FRAME
        if final and pending.size % FRAME:
            pending = np.concatenate([pending, np.zeros(FRAME - pending.size % FRAME, np.float32)])
            n_frames += 1
        for k in range(n_frames):
            probability = self.vad.probability(pending[k * FRAME:(k + 1) * FRAME])
            span = self.segmenter.push(probability)
            decided = time.perf_counter()
            self._vad_frames += 1
            self.samples_processed = min(self.samples_in, self._to_stream(self._vad_frames))
            if span is not None:
                events += self._segment_event(span, decided, end_limit=self.samples_processed)
            if self.estimate_window and self.samples_processed >= self._next_tick * self.rate:
                events += self._estimate_event()
                while self._next_tick * self.rate <= self.samples_processed:
                    self._next_tick += self.estimate_hop
        self._pending = pending[n_frames * FRAME:].copy()
        return events

    def _to_stream(self, frames: int) -> int:
        """Stream sample index of the start of VAD frame ``frames``."""
        return round(frames * FRAME * self.rate / VAD_RATE)

    def _segment_event(self, span: Span, decided: float, end_limit: int) -> list[Event]:
        pad = round(self.pad * self.rate)
        start = max(self._to_stream(span.start) - pad, self._last_end, self._history.first)
        end = min(self._to_stream(span.end) + (0 if span.forced else pad), end_limit)
        if self.trim_db:
            first, last = loud_part(self._history.get(start, end), self.rate, self.trim_db, pad)
            start, end = start + first, end if span.forced else start + last
        context = round(self.context * self.rate)
        previous_end, self._last_end = self._last_end, end
        self._smoothed = None
        index = self.segments
        self.segments += 1
        probs = self._classify(max(start - context, previous_end, self._history.first), min(end + context, end_limit))
        if probs is None:
            return []
        return [self._event("segment", start, end, probs, decided, index)]

    def _estimate_event(self) -> list[Event]:
        if not self.segmenter.in_speech:
            return []
        decided = time.perf_counter()
        end = self.samples_processed
        open_start = self._to_stream(self.segmenter.start) - round((self.pad + self.context) * self.rate)
        start = max(end - round(self.estimate_window * self.rate), open_start, self._last_end, self._history.first)
        if end - start < self.segmenter.min_speech * FRAME * self.rate / VAD_RATE:
            return []
        probs = self._classify(start, end, count_skips=False)
        if probs is None:
            return []
        if self._smoothed is not None and self.smoothing:
            probs = self.smoothing * self._smoothed + (1.0 - self.smoothing) * probs
        self._smoothed = probs
        return [self._event("estimate", start, end, probs, decided, self.segments)]

    def _classify(self, start: int, end: int, count_skips: bool = True) -> np.ndarray | None:
        samples = self._history.get(start, end)
        self._last_samples = samples
        probs = self._classify_audio(samples)
        if probs is None and count_skips:
            self.skipped += 1
        return probs

    def _classify_audio(self, samples: np.ndarray) -> np.ndarray | None:
        """Probabilities, shape ``(n_labels,)``, for ``samples`` at ``rate``; ``None`` if the model refuses them."""
        audio = Audio(samples, self.rate, "<stream>")
        if self.classify_rate != self.rate:
            from ..audio import resample

            audio = resample(audio, self.classify_rate)
        try:
            features = self.model.feature_set.transform(audio)
            return np.asarray(self.model.predict_proba(features[None, :])[0], dtype=np.float64)
        except EmovoxError:
            return None

    def _event(self, kind: str, start: int, end: int, probs: np.ndarray, decided: float, index: int) -> Event:
        labels = self.model.labels
        event = Event(kind, start / self.rate, end / self.rate, labels[int(np.argmax(probs))],
                      {label: float(p) for label, p in zip(labels, probs)}, 0.0, index,
                      self._last_samples if self.keep_audio else None, self.rate)
        event.latency_ms = (time.perf_counter() - decided) * 1000.0
        return event
