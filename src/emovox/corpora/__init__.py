"""Corpus adapters. :func:`open_corpus` picks one from what ``source`` looks like."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from . import folder, manifest, ravdess
from .base import Utterance, select, summary

__all__ = ["Utterance", "select", "summary", "open_corpus", "default_data_dir", "KINDS"]

KINDS = ("auto", "ravdess", "folder", "manifest")

#: Where tests, benchmarks and the demo find RAVDESS when nothing else is given.
SHARED_RAVDESS = Path(__file__).resolve().parents[4] / "shared" / "data" / "ravdess"


def default_data_dir(given: str | os.PathLike | None = None) -> Path:
    """The RAVDESS location: ``given``, else ``$EMOVOX_DATA``, else ``../shared/data/ravdess``."""
    if given:
        return Path(given)
    if os.environ.get("EMOVOX_DATA"):
        return Path(os.environ["EMOVOX_DATA"])
    for candidate in (Path.cwd().parent / "shared" / "data" / "ravdess", SHARED_RAVDESS):
        if candidate.is_dir():
            return candidate
    raise DataError("no corpus given: pass --data DIR, set EMOVOX_DATA, "
                    "or fetch RAVDESS with `emovox download ravdess DIR`")


def open_corpus(source: str | os.PathLike, kind: str = "auto") -> list[Utterance]:
    """Read every utterance of a corpus.

    Args:
        source: a RAVDESS folder, a folder per label, or a CSV manifest.
        kind: one of :data:`KINDS`; ``"auto"`` decides from ``source``.
    """
    source = Path(source)
    if kind == "auto":
        if source.is_file() and source.suffix.lower() == ".csv":
            kind = "manifest"
        elif ravdess.looks_like_ravdess(source):
            kind = "ravdess"
        elif source.is_dir():
            kind = "folder"
        else:
            raise DataError(f"{source}: not found (expected a RAVDESS folder, a folder per label, or a .csv manifest)")
    readers = {"ravdess": ravdess.utterances, "folder": folder.utterances, "manifest": manifest.utterances}
    if kind not in readers:
        raise DataError(f"unknown corpus kind {kind!r}; choose from {', '.join(KINDS)}")
    return list(readers[kind](source))
