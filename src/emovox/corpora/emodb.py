"""EMO-DB, the Berlin Database of Emotional Speech (Burkhardt et al. 2005): ``wav/03a01Fa.wav``.

Ten actors say ten German sentences in seven emotions. A file name is the speaker
(two digits: ``03 08 09 10 11 12 13 14 15 16``), the text code (three characters,
``a01`` .. ``b10``), the emotion letter (German initials: ``W`` Wut, anger; ``L``
Langeweile, boredom; ``E`` Ekel, disgust; ``A`` Angst, fear/anxiety; ``F`` Freude,
happiness; ``T`` Trauer, sadness; ``N`` neutral) and a version letter (``a``, ``b``, ...).
Speakers 03 10 11 12 15 are male, 08 09 13 14 16 female.

Boredom (``L``) has no emovox equivalent: :func:`utterances` skips those files (their
:func:`parse_name` emotion is ``None``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..audio import is_audio_path
from ..errors import DataError
from .base import Utterance

NAME = re.compile(r"^(\d{2})([a-z]\d{2})([A-Z])([a-z])$")
#: Emotion letter -> emovox label; ``None`` for boredom, which emovox does not have.
EMOTIONS: dict[str, str | None] = {"W": "angry", "L": None, "E": "disgust", "A": "fearful", "F": "happy",
                                   "T": "sad", "N": "neutral"}
GENDERS = {"03": "male", "10": "male", "11": "male", "12": "male", "15": "male",
           "08": "female", "09": "female", "13": "female", "14": "female", "16": "female"}
#: Where :func:`looks_like_emodb` looks: ``root``, one and two folders below it.
SEARCH_DEPTHS = ("*", "*/*", "*/*/*")


def parse_name(path: str | os.PathLike) -> dict:
    """Decode an EMO-DB file name into ``speaker, text, emotion, emotion_code, version, gender``.

    ``emotion`` is the emovox label, or ``None`` for boredom. Raises :class:`DataError`
    if the name does not follow the scheme.
    """
    match = NAME.match(Path(path).stem)
    if not match:
        raise DataError(f"{path}: not an EMO-DB file name (expected speaker+text+emotion+version, e.g. 03a01Fa)")
    speaker, text, code, version = match.groups()
    if speaker not in GENDERS:
        raise DataError(f"{path}: speaker {speaker} is not one of EMO-DB's {' '.join(sorted(GENDERS))}")
    if code not in EMOTIONS:
        raise DataError(f"{path}: emotion letter {code} is not one of EMO-DB's {' '.join(EMOTIONS)}")
    return {"speaker": speaker, "text": text, "emotion": EMOTIONS[code], "emotion_code": code,
            "version": version, "gender": GENDERS[speaker]}


def _matches(path: Path) -> bool:
    return is_audio_path(path) and NAME.match(path.stem) is not None


def looks_like_emodb(root: str | os.PathLike) -> bool:
    """True if ``root``, or a folder up to two levels below it, holds an EMO-DB-named audio file."""
    root = Path(root)
    return root.is_dir() and any(_matches(p) for pattern in SEARCH_DEPTHS for p in root.glob(pattern))


def utterances(root: str | os.PathLike) -> Iterator[Utterance]:
    """Yield every EMO-DB recording under ``root`` (any depth), sorted by path, except boredom.

    The speaker is the two-digit id (``"03"``); ``extra`` holds the fields of
    :func:`parse_name`. Boredom files are skipped; files whose names do not follow the
    scheme are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: EMO-DB folder not found")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and _matches(p))
    if not paths:
        raise DataError(f"{root}: no EMO-DB files (wav/03a01Fa.wav) found")
    for path in paths:
        fields = parse_name(path)
        if fields["emotion"] is not None:
            yield Utterance(path, fields["emotion"], fields["speaker"], "emodb", fields)
