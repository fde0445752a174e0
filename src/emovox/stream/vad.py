"""Voice activity detection: per-frame speech probabilities, and a segmenter that turns them into segments.

Two detectors share one interface (:class:`FrameVAD`), both at 16 kHz in frames of
512 samples (32 ms):

- :class:`SileroVAD`: the Silero VAD network from the ``silero-vad`` package, run
  with onnxruntime from the ``.onnx`` file the package ships (no torch, no download);
- :class:`EnergyVAD`: frame energy against an adaptive noise floor, the fallback.

:class:`Segmenter` applies the same hysteresis to either: speech starts when the
probability reaches ``threshold``, ends after ``min_silence`` seconds below
``neg_threshold``; segments shorter than ``min_speech`` are dropped, longer than
``max_segment`` are cut; ``pad`` seconds are added each side.

:func:`loud_part` finds the loud part of a segment by level alone, for trimming its ends.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import ParameterError
from ..registry import Registry

#: The rate (Hz) and frame length (samples) every detector here works at.
VAD_RATE = 16000
FRAME = 512
#: Samples of the previous frame Silero sees before each frame (its model's context).
SILERO_CONTEXT = 64
#: Level frames (s) and the shortest loud run (frames, 50 ms) of :func:`loud_part`; shorter runs are clicks.
LEVEL_FRAME_SECONDS = 0.010
MIN_LOUD_RUN = 5


class FrameVAD(Protocol):
    """A stateful detector: speech probability per 512-sample frame of 16 kHz audio."""

    name: str

    def probability(self, frame: np.ndarray) -> float:
        """Speech probability in [0, 1] of one frame, float32 shape ``(512,)``, given all earlier frames."""

    def reset(self) -> None:
        """Forget earlier frames."""


def silero_model_path() -> Path | None:
    """The ``silero_vad.onnx`` file inside the installed ``silero-vad`` package, or ``None``.

    Found without importing the package (its ``__init__`` imports torch).
    """
    try:
        spec = importlib.util.find_spec("silero_vad")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data" / "silero_vad.onnx"
        if path.is_file():
            return path
    return None


class SileroVAD:
    """Silero VAD (v5/v6 ONNX graph) at 16 kHz, one onnxruntime thread.

    Args:
        model_path: the ``.onnx`` file; default :func:`silero_model_path`.

    Raises:
        ParameterError: the package or its model file is missing, or onnxruntime cannot load it.
    """

    name = "silero"

    def __init__(self, model_path: str | Path | None = None) -> None:
        path = Path(model_path) if model_path else silero_model_path()
        if path is None or not path.is_file():
            raise ParameterError("Silero VAD is not installed: pip install --no-deps silero-vad "
                                 "(or use --vad energy)")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ParameterError(f"{path}: cannot load the Silero VAD model ({exc})") from None
        self._sr = np.array(VAD_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._input = np.zeros((1, SILERO_CONTEXT + FRAME), dtype=np.float32)

    def probability(self, frame: np.ndarray) -> float:
        self._input[0, :SILERO_CONTEXT] = self._input[0, -SILERO_CONTEXT:]
        self._input[0, SILERO_CONTEXT:] = frame
        out, self._state = self._session.run(None, {"input": self._input, "state": self._state, "sr": self._sr})
        return float(out[0, 0])


class EnergyVAD:
    """Frame energy against an adaptive noise floor.

    The floor follows the quietest recent frames: it drops at once to a quieter
    frame and rises by ``floor_rise_db`` per second otherwise. A frame's probability
    is a logistic function of its level above ``floor + snr_db`` (3 dB per unit);
    frames below ``min_level_db`` (dBFS) count as silence whatever the floor.

    Args:
        snr_db: level above the noise floor, dB, at which the probability is 0.5.
        min_level_db: absolute level, dBFS, below which nothing is speech.
        floor_rise_db: how fast the floor creeps up, dB per second.
    """

    name = "energy"

    def __init__(self, *, snr_db: float = 15.0, min_level_db: float = -55.0, floor_rise_db: float = 2.0) -> None:
        self.snr_db = snr_db
        self.min_level_db = min_level_db
        self._rise = floor_rise_db * FRAME / VAD_RATE
        self.reset()

    def reset(self) -> None:
        self._floor: float | None = None

    def probability(self, frame: np.ndarray) -> float:
        level = 10.0 * np.log10(float(np.dot(frame, frame)) / frame.size + 1e-12)
        self._floor = level if self._floor is None else min(self._floor + self._rise, level)
        if level < self.min_level_db:
            return 0.0
        return float(1.0 / (1.0 + np.exp(-(level - self._floor - self.snr_db) / 3.0)))


def frame_levels(samples: np.ndarray, rate: int, frame_seconds: float = LEVEL_FRAME_SECONDS) -> tuple[np.ndarray, int]:
    """Level of each whole frame, dBFS (mean square), float64 shape ``(n,)``, and the frame length in samples."""
    hop = max(1, round(frame_seconds * rate))
    n = samples.size // hop
    frames = samples[:n * hop].astype(np.float64).reshape(n, hop)
    return 10.0 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12), hop


def loud_span(levels: np.ndarray, threshold: float, min_run: int) -> tuple[int, int] | None:
    """``(first, end)`` frames from the first to the end of the last run of ``min_run`` frames above ``threshold``.

    Shorter runs (clicks) do not count; ``None`` if there is no such run.
    """
    above = levels > threshold
    if above.size < min_run:
        return None
    starts = np.flatnonzero(np.lib.stride_tricks.sliding_window_view(above, min_run).all(axis=1))
    return (int(starts[0]), int(starts[-1]) + min_run) if starts.size else None


def loud_part(samples: np.ndarray, rate: int, below_peak_db: float, pad: int = 0) -> tuple[int, int]:
    """``(start, end)`` sample offsets in ``samples`` of its loud part, widened by ``pad`` samples, within ``[0, n]``.

    Loud: from the first to the end of the last 50 ms run of 10 ms frames within ``below_peak_db`` dB
    of the loudest frame (:func:`loud_span`); ``(0, n)`` when there is none.
    """
    levels, hop = frame_levels(samples, rate)
    if not levels.size:
        return 0, samples.size
    span = loud_span(levels, float(levels.max()) - below_peak_db, MIN_LOUD_RUN)
    if span is None:
        return 0, samples.size
    return max(0, span[0] * hop - pad), min(samples.size, span[1] * hop + pad)


#: The voice activity detectors, by name: each entry makes a new detector.
DETECTORS: Registry = Registry("VAD")
DETECTORS.register("silero")(SileroVAD)
DETECTORS.register("energy")(EnergyVAD)


def make_vad(kind: str = "auto") -> FrameVAD:
    """A new detector: a name from :data:`DETECTORS`, or ``"auto"`` (Silero if installed, else energy).

    Raises:
        ParameterError: an unknown name, or ``"silero"`` when it is not installed.
    """
    if kind == "auto":
        kind = "silero" if silero_model_path() else "energy"
    return DETECTORS.get(kind)()


@dataclass(frozen=True)
class Span:
    """Speech found by the :class:`Segmenter`, in VAD frames (32 ms each), before padding.

    ``start_frame`` is the first speech frame, ``end_frame`` one past the last; ``forced`` is true
    when the segment was cut at ``max_segment_s`` while speech went on.
    """

    start_frame: int
    end_frame: int
    forced: bool = False


class Segmenter:
    """Hysteresis on per-frame speech probabilities, as Silero's ``get_speech_timestamps``, but online.

    Feed probabilities one frame at a time with :meth:`push`; it answers a
    :class:`Span` on the frame where the end of speech is decided (that is, ``min_silence_s``
    after the last speech frame), else ``None``. Spans are in frames of ``frame_s`` seconds.

    Args:
        threshold: probability at or above which a frame is speech.
        neg_threshold: probability below which a frame is silence (between the two, the state holds);
            ``None``: ``threshold - 0.15``.
        min_speech_s: seconds; shorter segments are dropped.
        min_silence_s: seconds of silence that end a segment.
        max_segment_s: seconds; longer speech is cut into segments of this length.
        min_resume_s: once silence has begun, speech resumes only after this long at or above ``threshold``
            (at least one frame): a short blip (the onset of a noise, a click) does not hold a segment open.
        frame_s: duration of one frame, seconds.

    Attributes:
        min_speech_frames, min_silence_frames, max_segment_frames, min_resume_frames: the same, in frames.
        frame: frames pushed so far.
        start: the open segment's first frame, or ``None``.
    """

    def __init__(self, *, threshold: float = 0.5, neg_threshold: float | None = None, min_speech_s: float = 0.25,
                 min_silence_s: float = 1.0, max_segment_s: float = 10.0, min_resume_s: float = 0.0,
                 frame_s: float = FRAME / VAD_RATE) -> None:
        neg = threshold - 0.15 if neg_threshold is None else neg_threshold
        if not 0.0 < threshold <= 1.0 or not 0.0 <= neg <= threshold:
            raise ParameterError(f"VAD thresholds must satisfy 0 <= neg_threshold ({neg}) <= threshold "
                                 f"({threshold}) <= 1")
        for name, value in (("min_speech_s", min_speech_s), ("min_silence_s", min_silence_s),
                            ("max_segment_s", max_segment_s), ("min_resume_s", min_resume_s)):
            if value < 0:
                raise ParameterError(f"{name} must be >= 0 seconds, got {value}")
        if max_segment_s <= min_speech_s:
            raise ParameterError(f"max_segment_s ({max_segment_s} s) must exceed min_speech_s ({min_speech_s} s)")
        self.threshold, self.neg_threshold = threshold, neg
        self.min_speech_frames = max(1, round(min_speech_s / frame_s))
        self.min_silence_frames = max(1, round(min_silence_s / frame_s))
        self.max_segment_frames = max(self.min_speech_frames + 1, round(max_segment_s / frame_s))
        self.min_resume_frames = max(1, round(min_resume_s / frame_s))
        self.frame = 0
        self.start: int | None = None
        self._silence_from: int | None = None
        self._loud_run = 0  # frames at or above threshold in a row

    @property
    def in_speech(self) -> bool:
        """True between a segment's first speech frame and the decision that it ended."""
        return self.start is not None

    def push(self, probability: float) -> Span | None:
        """Take the next frame's probability; return the segment that this frame ends, if any."""
        i, self.frame = self.frame, self.frame + 1
        self._loud_run = self._loud_run + 1 if probability >= self.threshold else 0
        if self.start is None:
            if probability >= self.threshold:
                self.start, self._silence_from = i, None
            return None
        if probability >= self.threshold:
            if self._loud_run >= self.min_resume_frames:
                self._silence_from = None
        elif probability < self.neg_threshold and self._silence_from is None:
            self._silence_from = i
        if self._silence_from is not None and i + 1 - self._silence_from >= self.min_silence_frames:
            return self._close(self._silence_from)
        if i + 1 - self.start >= self.max_segment_frames:
            span = self._close(i + 1, forced=True)
            self.start = i + 1  # speech goes on: the next segment starts here
            return span
        return None

    def finish(self) -> Span | None:
        """End of stream: close the open segment at the last speech frame (or the last frame)."""
        if self.start is None:
            return None
        return self._close(self._silence_from if self._silence_from is not None else self.frame)

    def _close(self, end: int, forced: bool = False) -> Span | None:
        start, self.start, self._silence_from = self.start, None, None
        return Span(start, end, forced) if end - start >= self.min_speech_frames else None
