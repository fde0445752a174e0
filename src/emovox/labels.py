"""emovox's emotion vocabulary: the eight lowercase English labels every corpus maps onto."""

from __future__ import annotations

from collections.abc import Iterable

from .errors import ParameterError

#: Every label emovox knows, in RAVDESS code order (01..08).
EMOTIONS: tuple[str, ...] = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")

#: The four emotions the seed project used.
SEED_EMOTIONS: tuple[str, ...] = ("calm", "happy", "fearful", "disgust")


def parse_emotions(spec: str | Iterable[str] | None) -> tuple[str, ...]:
    """Turn ``"calm,happy"``, a list of names, ``"all"``/``None`` (all eight) or ``"seed"`` into labels.

    The result keeps emovox's canonical order, whatever order was given.
    """
    if spec is None or spec == "all":
        return EMOTIONS
    if spec == "seed":
        return SEED_EMOTIONS
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    unknown = [n for n in names if n not in EMOTIONS]
    if unknown:
        raise ParameterError(f"unknown emotion(s) {', '.join(unknown)}; choose from {', '.join(EMOTIONS)}")
    if len(set(names)) < 2:
        raise ParameterError("choose at least two different emotions to tell apart")
    return tuple(e for e in EMOTIONS if e in names)
