"""A stream session: audio blocks in, :class:`~emovox.results.Prediction` rows out.

Made by :meth:`emovox.Recognizer.stream`; ``emovox listen``, the desktop app's live tab, the
WebSocket and ``process_file(..., segment="vad")`` all use it. Data flow inside :meth:`StreamSession.feed`::

    block ─► history (ring buffer, stream rate) ─► [soxr to 16 kHz] ─► VAD, 512-sample frames
                                                                         │ probability per frame
                                                        Segmenter ◄──────┘
                                                           │ end of speech decided
           history[start - pad - context : end + pad + context] ─► model ─► Prediction(kind="segment")
           every `estimate_hop_s` while in speech: last `estimate_window_s` (from `context_s` before the
           speech at most) ─► model ─► smoothed Prediction(kind="estimate")

The model resamples what it classifies to its own rate; the session works at the rate it is fed.
Everything is synchronous and single-threaded: ``feed`` returns the rows its block completed, so a
segment's ``latency_ms`` is exactly the time from the VAD's end-of-speech decision to the finished row.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Executor, Future

import numpy as np

from ..errors import EmovoxError, ParameterError
from ..results import Kind, Prediction
from ..segmentation import VoiceActivity
from .vad import FRAME, VAD_RATE, FrameVAD, Segmenter, Span, loud_part, make_vad


#: Segments that may wait for their classification on an executor before :meth:`StreamSession.feed` waits.
MAX_PENDING = 4


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


class StreamSession:
    """Segments a stream by voice activity and classifies each segment's emotion.

    Use :meth:`emovox.Recognizer.stream` to make one.

    Args:
        model: a loaded model (:func:`emovox.load_model`).
        rate_hz: sample rate of the blocks given to :meth:`feed`, Hz (any rate >= 8000; the model resamples
            what it classifies to its own rate).
        segmentation: the voice activity options (:class:`~emovox.segmentation.VoiceActivity`).
        detector: a :class:`~emovox.stream.vad.FrameVAD` instance to use instead of ``segmentation.vad``
            (tests, benchmarks).
        estimate_window_s: seconds of audio in each running estimate; ``None`` or 0 turns estimates off.
        estimate_hop_s: seconds of stream time between running estimates.
        smoothing: weight of the previous smoothed estimate, in [0, 1) (exponential moving average;
            0 = none); restarts with each segment.
        keep_audio: attach the audio classified (segment with its context) to each row as ``samples``.
        file: the ``file`` of every row (``"<stream>"`` by default).
        offset_s: added to every row's times (the stream's position in its file, seconds).
        warm_up: classify a short synthetic sound once now, so the first real segment's latency does not
            include lazy set-up (live use; batch processing skips it).
        executor: classify segments on this executor (a thread) while the detector goes on, so a file uses two
            cores; rows still come out in order, each from the first :meth:`feed` after it is ready (at most
            :data:`MAX_PENDING` wait; :meth:`close` waits for all). ``None``: classify at once (live use, where
            a segment's row must come with the block that ended it).
        speaker: a :class:`~emovox.adaptation.SpeakerProfile` to adapt to the voice heard: each segment that holds
            speech is added to it, and once it holds the model's ``min_speaker_utterances`` every row (segments
            and estimates) comes from the speaker-adaptive head on features standardised with it.

    Attributes:
        samples_in: samples given to :meth:`feed`.
        samples_processed: samples the VAD has decided on (equals ``samples_in`` after :meth:`close`).
        segments: segments found so far; skipped: segments that could not be classified (too short).
        adapting: rows now come from the speaker-adaptive head (``speaker`` given and full enough).
    """

    def __init__(self, model, rate_hz: int, *, segmentation: VoiceActivity = VoiceActivity(),
                 detector: FrameVAD | None = None, estimate_window_s: float | None = 2.0, estimate_hop_s: float = 0.5,
                 smoothing: float = 0.5, keep_audio: bool = False, file: str = "<stream>",
                 offset_s: float = 0.0, warm_up: bool = True, executor: Executor | None = None,
                 speaker=None) -> None:
        if not isinstance(rate_hz, (int, np.integer)) or isinstance(rate_hz, bool) or not 8000 <= rate_hz <= 384000:
            raise ParameterError(f"stream rate must be an integer from 8000 to 384000 Hz, got {rate_hz!r}")
        if not 0.0 <= smoothing < 1.0:
            raise ParameterError(f"smoothing must be in [0, 1), got {smoothing}")
        if estimate_window_s and estimate_hop_s <= 0:
            raise ParameterError(f"estimate_hop_s must be > 0 seconds, got {estimate_hop_s}")
        seg = segmentation
        self.model = model
        self.rate = int(rate_hz)
        self.options = seg
        self.vad: FrameVAD = detector if detector is not None else make_vad(seg.vad)
        self.segmenter = Segmenter(threshold=seg.threshold, neg_threshold=seg.neg_threshold,
                                   min_speech_s=seg.min_speech_s, min_silence_s=seg.min_silence_s,
                                   max_segment_s=seg.max_segment_s, min_resume_s=seg.min_resume_s)
        self.pad_samples = round(seg.pad_s * self.rate)
        self.context_samples = round(seg.context_s * self.rate)
        self.trim_db = float(seg.trim_db or 0.0)
        self.edge_search_samples = round(seg.edge_search_s * self.rate)
        self.estimate_window_s = float(estimate_window_s or 0.0)
        self.estimate_hop_s = float(estimate_hop_s)
        self.smoothing = float(smoothing)
        self.keep_audio = keep_audio
        self.file = file
        self.offset_s = float(offset_s)
        self.samples_in = 0
        self.samples_processed = 0
        self.segments = 0
        self.skipped = 0
        held_s = (seg.max_segment_s + 2 * seg.pad_s + 2 * seg.context_s + 2 * seg.min_silence_s
                  + self.estimate_window_s + 2.0)
        self._history = _History(int(held_s * self.rate))
        self._resampler = None
        if self.rate != VAD_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(self.rate, VAD_RATE, 1, dtype="float32", quality="MQ")
        self._pending = np.zeros(0, dtype=np.float32)  # 16 kHz samples not yet a whole frame
        self._vad_frames = 0
        self._last_end = 0  # stream sample where the previous segment (with padding) ended
        self._next_tick_s = self.estimate_hop_s
        self._smoothed: np.ndarray | None = None
        self._finished = False
        self._last_samples = np.zeros(0, dtype=np.float32)
        self._executor = executor
        self._waiting: deque[tuple[Future, int, int, int, float]] = deque()
        self.speaker = speaker
        self._min_utterances = model.min_speaker_utterances if speaker is not None else 0
        if warm_up:
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
    def adapting(self) -> bool:
        """Whether rows now come from the speaker-adaptive head (a ``speaker`` profile holding enough utterances)."""
        return self.speaker is not None and self.speaker.ready(self._min_utterances)

    @property
    def vad_name(self) -> str:
        return self.vad.name

    def feed(self, block: np.ndarray) -> list[Prediction]:
        """Process ``block`` (float32 mono, shape ``(n,)``, any ``n``, at ``rate``); return the rows it completed."""
        if self._finished:
            raise ParameterError("this stream was closed: start a new one with model.stream(rate)")
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        if block.size == 0:
            return []
        if not np.all(np.isfinite(block)):
            raise EmovoxError("audio block contains NaN or infinity")
        events: list[Prediction] = []
        step = self.rate  # one second at a time, so a long block never outruns the history buffer
        for at in range(0, block.size, step):
            piece = block[at:at + step]
            self._history.append(piece)
            self.samples_in += piece.size
            vad_in = self._resampler.resample_chunk(piece) if self._resampler else piece
            events += self._run_vad(vad_in, final=False)
        return events + self._collect(wait=False)

    def close(self) -> list[Prediction]:
        """End of stream: decide on the last partial frame, close any open segment; return the rows.

        Closing twice returns nothing the second time."""
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
        return events + self._collect(wait=True)

    # -- internals ---------------------------------------------------------------------------------------

    def _run_vad(self, samples: np.ndarray, final: bool) -> list[Prediction]:
        events: list[Prediction] = []
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
            if self.estimate_window_s and self.samples_processed >= self._next_tick_s * self.rate:
                events += self._estimate_event()
                while self._next_tick_s * self.rate <= self.samples_processed:
                    self._next_tick_s += self.estimate_hop_s
        self._pending = pending[n_frames * FRAME:].copy()
        return events

    def _to_stream(self, frames: int) -> int:
        """Stream sample index of the start of VAD frame ``frames``."""
        return round(frames * FRAME * self.rate / VAD_RATE)

    def _segment_event(self, span: Span, decided: float, end_limit: int) -> list[Prediction]:
        pad = self.pad_samples
        start = max(self._to_stream(span.start_frame) - pad, self._last_end, self._history.first)
        end = min(self._to_stream(span.end_frame) + (0 if span.forced else pad), end_limit)
        if self.trim_db:
            start, end = self._refine(start, end, span.forced, end_limit)
        context = self.context_samples
        previous_end, self._last_end = self._last_end, end
        self._smoothed = None
        index = self.segments
        self.segments += 1
        lo, hi = max(start - context, previous_end, self._history.first), min(end + context, end_limit)
        if self._executor is not None:
            samples = self._history.get(lo, hi)
            self._waiting.append((self._executor.submit(self._classify_audio, samples, True), start, end, index,
                                  decided))
            return self._collect(wait=len(self._waiting) > MAX_PENDING)
        probs = self._classify(lo, hi, utterance=True)
        if probs is None:
            return []
        return [self._event(Kind.SEGMENT, start, end, probs, decided, index)]

    def _collect(self, wait: bool) -> list[Prediction]:
        """Rows of segments classified on the executor, in order: those ready (``wait``: all but
        :data:`MAX_PENDING` - 1, or all at the end of the stream)."""
        rows: list[Prediction] = []
        while self._waiting and (self._waiting[0][0].done() or wait):
            future, start, end, index, decided = self._waiting.popleft()
            probs = future.result()
            if probs is None:
                self.skipped += 1
            else:
                rows.append(self._event(Kind.SEGMENT, start, end, probs, decided, index))
            if wait and not self._finished and len(self._waiting) < MAX_PENDING:
                wait = False
        return rows

    def _refine(self, start: int, end: int, forced: bool, end_limit: int) -> tuple[int, int]:
        """The segment's ends by level: the loud part (within ``trim_db`` of its peak, :func:`loud_part`) of the
        VAD's span widened by ``edge_search_samples`` each side (Silero's onset can lag the first word)."""
        margin = self.edge_search_samples
        lo = max(start - margin, self._last_end, self._history.first)
        hi = end if forced else min(end + margin, end_limit)
        first, last = loud_part(self._history.get(lo, hi), self.rate, self.trim_db, self.pad_samples)
        return lo + first, hi if forced else lo + last

    def _estimate_event(self) -> list[Prediction]:
        if not self.segmenter.in_speech:
            return []
        decided = time.perf_counter()
        end = self.samples_processed
        open_start = self._to_stream(self.segmenter.start) - self.pad_samples - self.context_samples
        start = max(end - round(self.estimate_window_s * self.rate), open_start, self._last_end, self._history.first)
        if end - start < self.segmenter.min_speech_frames * FRAME * self.rate / VAD_RATE:
            return []
        probs = self._classify(start, end, count_skips=False)
        if probs is None:
            return []
        if self._smoothed is not None and self.smoothing:
            probs = self.smoothing * self._smoothed + (1.0 - self.smoothing) * probs
        self._smoothed = probs
        return [self._event(Kind.ESTIMATE, start, end, probs, decided, self.segments)]

    def _classify(self, start: int, end: int, count_skips: bool = True, utterance: bool = False) -> np.ndarray | None:
        samples = self._history.get(start, end)
        self._last_samples = samples
        probs = self._classify_audio(samples, utterance)
        if probs is None and count_skips:
            self.skipped += 1
        return probs

    def _classify_audio(self, samples: np.ndarray, utterance: bool = False) -> np.ndarray | None:
        """Probabilities, shape ``(n_labels,)``, for ``samples`` at ``rate``; ``None`` if the model refuses them.

        With a ``speaker`` profile, an ``utterance`` (a whole segment, not an estimate) that holds speech is added
        to it first, so a segment is standardised with statistics that include it (as in evaluation)."""
        try:
            if self.speaker is None:
                return self.model.probabilities(samples, self.rate, name=self.file)
            features = self.model.features(samples, self.rate, name=self.file)
            if utterance and self.model.holds_speech(samples, self.rate):
                self.speaker.add(features)
            return self.model.predict_proba(features[None, :], speaker=self.speaker if self.adapting else None)[0]
        except EmovoxError:
            return None

    def _event(self, kind: Kind, start: int, end: int, probs: np.ndarray, decided: float, index: int) -> Prediction:
        labels = self.model.labels
        return Prediction(self.file, self.offset_s + start / self.rate, self.offset_s + end / self.rate,
                          labels[int(np.argmax(probs))], {label: float(p) for label, p in zip(labels, probs)},
                          kind, index, (time.perf_counter() - decided) * 1000.0,
                          self._last_samples if self.keep_audio else None, self.rate if self.keep_audio else 0,
                          self.model.is_uncertain(probs))
