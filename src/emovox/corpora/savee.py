"""SAVEE, Surrey Audio-Visual Expressed Emotion (Haq & Jackson 2009): ``AudioData/DC/a01.wav``.

Four male speakers, one folder each (``DC``, ``JE``, ``JK``, ``KL``), 120 sentences
apiece. A file name is an emotion prefix (``a`` anger, ``d`` disgust, ``f`` fear,
``h`` happiness, ``n`` neutral, ``sa`` sadness, ``su`` surprise) and a two-digit number
(``n01`` .. ``n30``, the others ``01`` .. ``15``). The flattened copies that circulate
name the same files ``DC_a01.wav``; those are read too. Every SAVEE emotion has an
emovox equivalent, so nothing is skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..audio import is_audio_path
from ..errors import DataError
from .base import Utterance

SPEAKERS = ("DC", "JE", "JK", "KL")
NAME = re.compile(r"^(?:(DC|JE|JK|KL)_)?(a|d|f|h|n|sa|su)(\d{2})$")
EMOTIONS = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral", "sa": "sad",
            "su": "surprised"}
#: Where :func:`looks_like_savee` looks: ``root``, one and two folders below it.
SEARCH_DEPTHS = ("*", "*/*", "*/*/*")


def parse_name(path: str | os.PathLike) -> dict:
    """Decode a SAVEE path (``DC/a01.wav`` or ``DC_a01.wav``) into ``speaker, emotion, number, gender``.

    The speaker comes from the ``SPK_`` prefix, else from the parent folder. ``emotion``
    is the emovox label. Raises :class:`DataError` if the path does not follow the scheme.
    """
    path = Path(path)
    match = NAME.match(path.stem)
    if not match:
        raise DataError(f"{path}: not a SAVEE file name (expected DC|JE|JK|KL/<emotion><NN>, e.g. DC/a01)")
    speaker, emotion, number = match.groups()
    speaker = speaker or path.parent.name
    if speaker not in SPEAKERS:
        raise DataError(f"{path}: not in a SAVEE speaker folder ({' '.join(SPEAKERS)})")
    return {"speaker": speaker, "emotion": EMOTIONS[emotion], "number": int(number), "gender": "male"}


def _matches(path: Path) -> bool:
    match = NAME.match(path.stem)
    return is_audio_path(path) and match is not None and (match.group(1) or path.parent.name) in SPEAKERS


def looks_like_savee(root: str | os.PathLike) -> bool:
    """True if ``root``, or a folder up to two levels below it, holds a SAVEE audio file (``DC/a01.wav``)."""
    root = Path(root)
    return root.is_dir() and any(_matches(p) for pattern in SEARCH_DEPTHS for p in root.glob(pattern))


def utterances(root: str | os.PathLike) -> Iterator[Utterance]:
    """Yield every SAVEE recording under ``root`` (any depth), sorted by path.

    The speaker is ``"DC"``, ``"JE"``, ``"JK"`` or ``"KL"``; ``extra`` holds the fields of
    :func:`parse_name`. Files outside speaker folders (without a ``SPK_`` prefix) are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: SAVEE folder not found")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and _matches(p))
    if not paths:
        raise DataError(f"{root}: no SAVEE files (AudioData/DC/a01.wav) found")
    for path in paths:
        fields = parse_name(path)
        yield Utterance(path, fields["emotion"], fields["speaker"], "savee", fields)
