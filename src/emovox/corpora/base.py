"""What every corpus adapter yields: :class:`Utterance` records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError


@dataclass(frozen=True)
class Utterance:
    """One recording of a corpus.

    Attributes:
        path: the audio file.
        label: an emovox emotion name (see :data:`emovox.EMOTIONS`), or ``None`` if unlabelled.
        speaker: a speaker id unique within the corpus, or ``None`` if unknown.
        corpus: the corpus name (``"ravdess"``, ``"folder"``, ``"manifest"``, ...).
        extra: corpus-specific fields (intensity, statement, gender, ...).
    """

    path: Path
    label: str | None
    speaker: str | None
    corpus: str
    extra: dict = field(default_factory=dict, compare=False, hash=False)


def select(utterances: Iterable[Utterance], emotions: Sequence[str]) -> list[Utterance]:
    """Keep the utterances whose label is in ``emotions``, sorted by path (so splits are stable)."""
    wanted = set(emotions)
    kept = sorted((u for u in utterances if u.label in wanted), key=lambda u: str(u.path))
    if not kept:
        raise DataError(f"no recordings with the emotions {', '.join(emotions)} were found")
    missing = wanted - {u.label for u in kept}
    if missing:
        raise DataError(f"no recordings for emotion(s) {', '.join(sorted(missing))}; drop them with --emotions")
    return kept


def summary(utterances: Sequence[Utterance]) -> dict:
    """Counts for reports and bundles: files, speakers, and files per label."""
    return {
        "corpus": sorted({u.corpus for u in utterances}),
        "files": len(utterances),
        "speakers": len({u.speaker for u in utterances if u.speaker is not None}),
        "per_label": dict(sorted(Counter(u.label for u in utterances).items())),
    }
