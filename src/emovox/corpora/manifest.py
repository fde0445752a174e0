"""A CSV manifest: a header ``path,label[,speaker]``, paths relative to the CSV's folder."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import DataError
from ..labels import EMOTIONS
from .base import Utterance


def utterances(csv_path: str | os.PathLike) -> Iterator[Utterance]:
    """Yield one :class:`Utterance` per row. An empty label means unlabelled."""
    csv_path = Path(csv_path)
    try:
        with open(csv_path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{csv_path}: cannot read manifest ({exc})") from None
    if not rows or "path" not in rows[0] or "label" not in rows[0]:
        raise DataError(f"{csv_path}: manifest needs a header with at least 'path,label'")
    for line, row in enumerate(rows, start=2):
        label = (row.get("label") or "").strip().lower() or None
        if label is not None and label not in EMOTIONS:
            raise DataError(f"{csv_path}:{line}: unknown label {label!r} ({', '.join(EMOTIONS)})")
        path = Path(row["path"].strip())
        speaker = (row.get("speaker") or "").strip() or None
        yield Utterance(path if path.is_absolute() else csv_path.parent / path, label, speaker, "manifest")
