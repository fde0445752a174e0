"""CREMA-D (Cao et al. 2014): ``AudioWAV/AAAA_SSS_EEE_LL.wav``.

Four underscore-separated fields: actor id (``1001`` .. ``1091``), sentence (three
capital letters, e.g. ``DFA`` "Don't forget a jacket"), emotion (``ANG`` anger,
``DIS`` disgust, ``FEA`` fear, ``HAP`` happy, ``NEU`` neutral, ``SAD`` sad) and
emotion level (``LO`` low, ``MD`` medium, ``HI`` high, ``XX`` unspecified). Every
CREMA-D emotion has an emovox equivalent, so nothing is skipped. One file of older
releases is named ``1040_ITH_SAD_X.wav``; a single ``X`` is read as ``XX``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..audio import is_audio_path
from ..errors import DataError
from .base import Utterance

NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})$")
EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified", "X": "unspecified"}
ACTORS = range(1001, 1092)
#: Where :func:`looks_like_cremad` looks: ``root``, one and two folders below it.
SEARCH_DEPTHS = ("*", "*/*", "*/*/*")


def parse_name(path: str | os.PathLike) -> dict:
    """Decode a CREMA-D file name into ``actor, sentence, emotion, level``.

    ``emotion`` is the emovox label. Raises :class:`DataError` if the name does not
    follow the scheme.
    """
    match = NAME.match(Path(path).stem)
    if not match:
        raise DataError(f"{path}: not a CREMA-D file name (expected ActorID_SEN_EMO_LV, e.g. 1001_DFA_ANG_XX)")
    actor, sentence, emotion, level = match.groups()
    if int(actor) not in ACTORS:
        raise DataError(f"{path}: actor {actor} is outside CREMA-D's 1001-1091")
    if emotion not in EMOTIONS:
        raise DataError(f"{path}: emotion {emotion} is not one of CREMA-D's {' '.join(EMOTIONS)}")
    if level not in LEVELS:
        raise DataError(f"{path}: level {level} is not one of CREMA-D's LO MD HI XX")
    return {"actor": actor, "sentence": sentence, "emotion": EMOTIONS[emotion], "level": LEVELS[level]}


def _matches(path: Path) -> bool:
    return is_audio_path(path) and NAME.match(path.stem) is not None


def looks_like_cremad(root: str | os.PathLike) -> bool:
    """True if ``root``, or a folder up to two levels below it, holds a CREMA-D-named audio file."""
    root = Path(root)
    return root.is_dir() and any(_matches(p) for pattern in SEARCH_DEPTHS for p in root.glob(pattern))


def utterances(root: str | os.PathLike) -> Iterator[Utterance]:
    """Yield every CREMA-D recording under ``root`` (any depth), sorted by path.

    The speaker is the actor id (``"1001"``); ``extra`` holds ``actor, sentence, emotion, level``.
    Files whose names do not follow the scheme are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: CREMA-D folder not found")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and _matches(p))
    if not paths:
        raise DataError(f"{root}: no CREMA-D files (AudioWAV/1001_DFA_ANG_XX.wav) found")
    for path in paths:
        fields = parse_name(path)
        yield Utterance(path, fields["emotion"], fields["actor"], "cremad", fields)

