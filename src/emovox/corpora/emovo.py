"""EMOVO, the Italian emotional speech corpus (Costantini et al., LREC 2014): ``f1/dis-f1-b1.wav``.

Six actors (``f1 f2 f3`` female, ``m1 m2 m3`` male) say fourteen Italian sentences in
seven emotions. A file name is the emotion code (Italian: ``dis`` disgusto, disgust;
``gio`` gioia, joy; ``neu`` neutral; ``pau`` paura, fear; ``rab`` rabbia, anger;
``sor`` sorpresa, surprise; ``tri`` tristezza, sadness), the speaker and the sentence
(``b1-b3``, ``d1-d2``, ``l1-l4``, ``n1-n5``; ``n`` are nonsense sentences), joined by
``-``. Every EMOVO emotion has an emovox equivalent; there is no calm.

Research use only (Fondazione Ugo Bordoni, no open licence): never commit its audio,
and never ship models trained on it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..audio import is_audio_path
from ..errors import DataError
from .base import Utterance

NAME = re.compile(r"^([a-z]{3})-([a-z]\d)-([a-z]\d)$")
#: Emotion code -> emovox label.
EMOTIONS = {"dis": "disgust", "gio": "happy", "neu": "neutral", "pau": "fearful", "rab": "angry",
            "sor": "surprised", "tri": "sad"}
GENDERS = {"f1": "female", "f2": "female", "f3": "female", "m1": "male", "m2": "male", "m3": "male"}
SENTENCES = ("b1", "b2", "b3", "d1", "d2", "l1", "l2", "l3", "l4", "n1", "n2", "n3", "n4", "n5")
#: Where :func:`looks_like_emovo` looks: ``root``, one and two folders below it.
SEARCH_DEPTHS = ("*", "*/*", "*/*/*")


def parse_name(path: str | os.PathLike) -> dict:
    """Decode an EMOVO file name into ``speaker, sentence, emotion, emotion_code, gender``.

    ``emotion`` is the emovox label. Raises :class:`DataError` if the name does not
    follow the scheme or names an impossible speaker, sentence or emotion.
    """
    match = NAME.match(Path(path).stem)
    if not match:
        raise DataError(f"{path}: not an EMOVO file name (expected emotion-speaker-sentence, e.g. dis-f1-b1)")
    code, speaker, sentence = match.groups()
    if code not in EMOTIONS:
        raise DataError(f"{path}: emotion code {code} is not one of EMOVO's {' '.join(EMOTIONS)}")
    if speaker not in GENDERS:
        raise DataError(f"{path}: speaker {speaker} is not one of EMOVO's {' '.join(GENDERS)}")
    if sentence not in SENTENCES:
        raise DataError(f"{path}: sentence {sentence} is not one of EMOVO's {' '.join(SENTENCES)}")
    return {"speaker": speaker, "sentence": sentence, "emotion": EMOTIONS[code], "emotion_code": code,
            "gender": GENDERS[speaker]}


def _matches(path: Path) -> bool:
    match = NAME.match(path.stem)
    return is_audio_path(path) and match is not None and match.group(1) in EMOTIONS and match.group(2) in GENDERS


def looks_like_emovo(root: str | os.PathLike) -> bool:
    """True if ``root``, or a folder up to two levels below it, holds an EMOVO-named audio file."""
    root = Path(root)
    return root.is_dir() and any(_matches(p) for pattern in SEARCH_DEPTHS for p in root.glob(pattern))


def utterances(root: str | os.PathLike) -> Iterator[Utterance]:
    """Yield every EMOVO recording under ``root`` (any depth), sorted by path.

    The speaker is ``"f1"`` .. ``"m3"``; ``extra`` holds the fields of :func:`parse_name`.
    Files whose names do not follow the scheme are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: EMOVO folder not found")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and _matches(p))
    if not paths:
        raise DataError(f"{root}: no EMOVO files (f1/dis-f1-b1.wav) found")
    for path in paths:
        fields = parse_name(path)
        yield Utterance(path, fields["emotion"], fields["speaker"], "emovo", fields)
