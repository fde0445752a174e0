"""How an input is cut into the stretches that get a row each: whole, voice activity, or fixed windows.

>>> resolve("windows", window_s=3.0, hop_s=1.0)
Windows(window_s=3.0, hop_s=1.0)
>>> resolve("vad", min_silence_s=0.5).min_silence_s
0.5
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .errors import ParameterError

#: Longest input, seconds, that gets one row for the whole of it with ``segment="auto"``; longer inputs
#: are cut by voice activity. With ``segment=None`` longer inputs are refused: one label for an hour
#: says nothing (and the features of an hour would not fit in memory).
MAX_WHOLE_SECONDS = 60.0


@dataclass(frozen=True)
class VoiceActivity:
    """Stretches of speech found by a voice activity detector (the streaming recognizer's).

    Args:
        vad: ``"auto"`` (Silero if installed, else energy), ``"silero"`` or ``"energy"``.
        threshold: VAD probability at or above which a frame is speech.
        neg_threshold: probability below which a frame is silence (``None``: ``threshold - 0.15``).
        min_speech_s: shorter speech is ignored, seconds.
        min_silence_s: silence that ends a segment, seconds (the decision comes this long after the speech).
        pad_s: seconds added before and after each segment.
        trim_db: set each segment's ends by level: the first and last 50 ms of audio within this many dB of its
            loudest 10 ms, looked for within ``edge_search_s`` outside the detector's ends (``0``: the detector's
            ends as they are).
        edge_search_s: how far outside the detector's ends the level may move them, seconds (Silero's onset
            can lag a soft first word; it may also hold on after the last one, which the level then cuts).
        max_segment_s: longer speech is cut into segments of this length, seconds.
        min_resume_s: once silence has begun, speech resumes only after this long above ``threshold``: the
            onset of a noise or a click does not hold a segment open.
        context_s: seconds of audio before and after a segment given to the model with it (models trained on
            whole clips expect the silence around speech); the row's times stay the speech's.
    """

    vad: str = "auto"
    threshold: float = 0.5
    neg_threshold: float | None = None
    min_speech_s: float = 0.25
    min_silence_s: float = 1.0
    pad_s: float = 0.03
    trim_db: float = 35.0
    edge_search_s: float = 0.0
    max_segment_s: float = 10.0
    min_resume_s: float = 0.1
    context_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("min_speech_s", "min_silence_s", "pad_s", "trim_db", "edge_search_s", "min_resume_s",
                     "context_s"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Windows:
    """Fixed windows of ``window_s`` seconds every ``hop_s`` seconds (``None``: ``window_s``, no overlap).

    The last window ends at the end of the input and may be shorter.
    """

    window_s: float = 3.0
    hop_s: float | None = None

    def __post_init__(self) -> None:
        if not self.window_s or self.window_s <= 0:
            raise ParameterError(f"window_s must be > 0 seconds, got {self.window_s!r}")
        if self.hop_s is not None and self.hop_s <= 0:
            raise ParameterError(f"hop_s must be > 0 seconds, got {self.hop_s!r}")

    @property
    def step_s(self) -> float:
        """Seconds between window starts."""
        return self.hop_s or self.window_s


@dataclass(frozen=True)
class Auto:
    """The whole input when it lasts at most ``max_whole_s`` seconds, else :class:`VoiceActivity`."""

    max_whole_s: float = MAX_WHOLE_SECONDS
    voice_activity: VoiceActivity = VoiceActivity()


Segmentation = VoiceActivity | Windows | Auto | None

_NAMES = {"vad": VoiceActivity, "windows": Windows, "auto": Auto}


def resolve(segment: str | Segmentation = None, **options) -> Segmentation:
    """A segmentation from a name (``"vad"``, ``"windows"``, ``"auto"``) or object, and its keyword options.

    ``None`` (the whole input, one row) takes no options.

    Raises:
        ParameterError: an unknown name or option.
    """
    if segment is None or isinstance(segment, (VoiceActivity, Windows, Auto)):
        if options:
            raise ParameterError(f"options {', '.join(sorted(options))} need segment='vad' or 'windows'")
        return segment
    if not isinstance(segment, str) or segment not in _NAMES:
        raise ParameterError(f"unknown segment {segment!r}; choose None (whole input), 'vad', 'windows' or 'auto'")
    cls = _NAMES[segment]
    if cls is Auto:
        known = {f.name for f in fields(VoiceActivity)}
        unknown = set(options) - known - {"max_whole_s"}
        if unknown:
            raise ParameterError(f"unknown option(s) {', '.join(sorted(unknown))} for segment='auto'")
        whole = options.pop("max_whole_s", MAX_WHOLE_SECONDS)
        return Auto(whole, VoiceActivity(**options))
    known = {f.name for f in fields(cls)}
    unknown = set(options) - known
    if unknown:
        raise ParameterError(f"unknown option(s) {', '.join(sorted(unknown))} for segment={segment!r}; "
                             f"it takes {', '.join(sorted(known))}")
    return cls(**options)
