"""Corpus adapters. :func:`open_corpus` picks one from what ``source`` looks like.

Each adapter module (:mod:`.ravdess`, :mod:`.cremad`, :mod:`.tess`, :mod:`.emodb`,
:mod:`.savee`, :mod:`.emovo`, :mod:`.folder`, :mod:`.manifest`) yields :class:`Utterance` records
sorted by path, with labels mapped onto emovox's eight emotion names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError, ParameterError
from ..labels import EMOTIONS
from ..registry import Registry
from . import cremad, emodb, emovo, folder, manifest, ravdess, savee, tess
from .base import Utterance, select, summary

__all__ = ["Utterance", "select", "summary", "open_corpus", "detect", "default_data_dir", "CORPORA", "KINDS"]


@dataclass(frozen=True)
class CorpusKind:
    """A way to read a corpus: ``read(source)`` yields its utterances; ``looks_like(folder)``, if given, says
    whether a folder's file names follow this corpus's scheme (for ``--corpus auto``)."""

    read: Callable[[Path], Iterable[Utterance]]
    looks_like: Callable[[Path], bool] | None = None


#: The corpus kinds, by name; those with ``looks_like`` are tried by auto-detection in this order, after RAVDESS.
CORPORA: Registry[CorpusKind] = Registry("corpus kind")
CORPORA.register("ravdess")(CorpusKind(ravdess.utterances))
CORPORA.register("cremad")(CorpusKind(cremad.utterances, cremad.looks_like_cremad))
CORPORA.register("tess")(CorpusKind(tess.utterances, tess.looks_like_tess))
CORPORA.register("emodb")(CorpusKind(emodb.utterances, emodb.looks_like_emodb))
CORPORA.register("savee")(CorpusKind(savee.utterances, savee.looks_like_savee))
CORPORA.register("emovo")(CorpusKind(emovo.utterances, emovo.looks_like_emovo))
CORPORA.register("folder")(CorpusKind(folder.utterances))
CORPORA.register("manifest")(CorpusKind(manifest.utterances))

#: What ``--corpus`` accepts.
KINDS = ("auto", *CORPORA.names())

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
        source: a RAVDESS, CREMA-D, TESS, EMO-DB, SAVEE or EMOVO folder, a folder per label, or a CSV manifest.
        kind: one of :data:`KINDS`; ``"auto"`` decides from ``source`` (see :func:`detect`).
    """
    source = Path(source)
    if kind == "auto":
        kind = detect(source)
    try:
        reader = CORPORA.get(kind).read
    except ParameterError as exc:
        raise DataError(str(exc)) from None
    return list(reader(source))


def detect(source: str | os.PathLike) -> str:
    """The corpus kind ``source`` looks like, checked conservatively in this order.

    A ``.csv`` file is a manifest; a folder with ``Actor_NN`` folders is RAVDESS; then a
    folder whose audio file names (up to two folders down) follow exactly one of the
    CREMA-D, TESS, EMO-DB, SAVEE or EMOVO schemes is that corpus; then a folder with
    ``<emotion>/`` sub-folders is a folder per label. Anything else raises :class:`DataError`.
    """
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        return "manifest"
    if not source.is_dir():
        raise DataError(f"{source}: not found (expected a corpus folder, a folder per label, or a .csv manifest)")
    if ravdess.looks_like_ravdess(source):
        return "ravdess"
    named = [k for k, kind in CORPORA.items() if kind.looks_like is not None and kind.looks_like(source)]
    if len(named) > 1:
        raise DataError(f"{source}: file names of several corpora ({', '.join(named)}); pick one with --corpus")
    if named:
        return named[0]
    if any(p.is_dir() and p.name.lower() in EMOTIONS for p in source.iterdir()):
        return "folder"
    raise DataError(f"{source}: no known corpus layout (RAVDESS Actor_NN/, CREMA-D, TESS, EMO-DB, SAVEE or EMOVO "
                    f"file names, <emotion>/ folders); see the Corpora section of emovox's README, or pass --corpus")
