"""TESS, the Toronto emotional speech set (Dupuis & Pichora-Fuller 2010): ``SPK_word_emotion.wav``.

Two actresses say "Say the word ..." with 200 target words in seven emotions. A file
name has three underscore-separated fields: speaker (``OAF`` the older talker, aged 64;
``YAF`` the younger, aged 26), the target word, and the emotion (``angry``,
``disgust``, ``fear``, ``happy``, ``neutral``, ``ps`` pleasant surprise, ``sad``),
e.g. ``OAF_back_angry.wav``, ``YAF_youth_ps.wav``. The files are usually in folders such
as ``OAF_angry/`` or ``YAF_pleasant_surprised/``, whose names are not used. Every TESS
emotion has an emovox equivalent (``fear`` -> fearful, ``ps`` -> surprised), so nothing
is skipped. The one misnamed file of the release, ``OAF_neutral/OA_bite_neutral.wav``,
is read as speaker ``OAF``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..audio import is_audio_path
from ..errors import DataError
from .base import Utterance

NAME = re.compile(r"^(OAF|YAF|OA)_([A-Za-z]+)_(angry|disgust|fear|happy|neutral|ps|sad)$", re.IGNORECASE)
EMOTIONS = {"angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy", "neutral": "neutral",
            "ps": "surprised", "sad": "sad"}
AGE_GROUPS = {"OAF": "older", "YAF": "younger"}
#: Where :func:`looks_like_tess` looks: ``root``, one and two folders below it.
SEARCH_DEPTHS = ("*", "*/*", "*/*/*")


def parse_name(path: str | os.PathLike) -> dict:
    """Decode a TESS file name into ``speaker, word, emotion, age_group, gender``.

    ``emotion`` is the emovox label. Raises :class:`DataError` if the name does not
    follow the scheme.
    """
    match = NAME.match(Path(path).stem)
    if not match:
        raise DataError(f"{path}: not a TESS file name (expected OAF|YAF_word_emotion, e.g. OAF_back_angry)")
    speaker, word, emotion = match.groups()
    speaker = "OAF" if speaker.upper() == "OA" else speaker.upper()
    return {"speaker": speaker, "word": word.lower(), "emotion": EMOTIONS[emotion.lower()],
            "age_group": AGE_GROUPS[speaker], "gender": "female"}


def _matches(path: Path) -> bool:
    return is_audio_path(path) and NAME.match(path.stem) is not None


def looks_like_tess(root: str | os.PathLike) -> bool:
    """True if ``root``, or a folder up to two levels below it, holds a TESS-named audio file."""
    root = Path(root)
    return root.is_dir() and any(_matches(p) for pattern in SEARCH_DEPTHS for p in root.glob(pattern))


def utterances(root: str | os.PathLike) -> Iterator[Utterance]:
    """Yield every TESS recording under ``root`` (any depth), sorted by path.

    The speaker is ``"OAF"`` or ``"YAF"``; ``extra`` holds ``speaker, word, emotion,
    age_group, gender``. Files whose names do not follow the scheme are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: TESS folder not found")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and _matches(p))
    if not paths:
        raise DataError(f"{root}: no TESS files (OAF_angry/OAF_back_angry.wav) found")
    for path in paths:
        fields = parse_name(path)
        yield Utterance(path, fields["emotion"], fields["speaker"], "tess", fields)
