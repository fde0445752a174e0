"""A folder per label: ``ROOT/<emotion>/*.wav``; the speaker is read from ``ROOT/<emotion>/<speaker>/`` if present."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..audio import is_audio_path
from ..errors import DataError
from ..labels import EMOTIONS
from .base import Utterance


def utterances(root: str | os.PathLike) -> Iterator[Utterance]:
    """Yield one :class:`Utterance` per audio file under ``ROOT/<label>/``.

    Folder names must be emovox emotion names (case-insensitive). Files directly in a
    label folder have no speaker; files in ``ROOT/<label>/<speaker>/`` take that speaker.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    found = False
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        label = label_dir.name.lower()
        if label not in EMOTIONS:
            raise DataError(f"{label_dir}: folder name is not an emotion ({', '.join(EMOTIONS)})")
        for path in sorted(label_dir.rglob("*")):
            if path.is_file() and is_audio_path(path):
                found = True
                rel = path.relative_to(label_dir).parts
                yield Utterance(path, label, rel[0] if len(rel) > 1 else None, "folder")
    if not found:
        raise DataError(f"{root}: no audio files in <emotion>/ sub-folders")
