"""RAVDESS (Livingstone & Russo 2018): ``Actor_NN/MM-VV-EE-II-SS-RR-AA.wav`` (or ``.flac``).

Seven dash-separated fields: modality (01 audio-video, 02 video-only, 03 audio-only),
vocal channel (01 speech, 02 song), emotion (01..08), intensity (01 normal, 02 strong),
statement (01 "Kids are talking by the door", 02 "Dogs are sitting by the door"),
repetition (01, 02), actor (01..24; odd male, even female).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import DataError
from ..labels import EMOTIONS
from .base import Utterance

NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
MODALITIES = {"01": "audio-video", "02": "video-only", "03": "audio-only"}
CHANNELS = {"01": "speech", "02": "song"}
INTENSITIES = {"01": "normal", "02": "strong"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}

#: Where the official archive lives (Zenodo record 1188976).
ARCHIVE_URL = "https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1"
ARCHIVE_NAME = "Audio_Speech_Actors_01-24.zip"


def parse_name(path: str | os.PathLike) -> dict:
    """Decode a RAVDESS file name into its fields.

    Returns a dict with ``modality, channel, emotion, intensity, statement, repetition,
    actor, gender``. Raises :class:`DataError` if the name does not follow the scheme.
    """
    stem = Path(path).stem
    match = NAME.match(stem)
    if not match:
        raise DataError(f"{path}: not a RAVDESS file name (expected MM-VV-EE-II-SS-RR-AA)")
    mm, vv, ee, ii, ss, rr, aa = match.groups()
    try:
        actor = int(aa)
        fields = {
            "modality": MODALITIES[mm],
            "channel": CHANNELS[vv],
            "emotion": EMOTIONS[int(ee) - 1] if 1 <= int(ee) <= 8 else None,
            "intensity": INTENSITIES[ii],
            "statement": STATEMENTS[ss],
            "repetition": int(rr),
            "actor": actor,
            "gender": "male" if actor % 2 else "female",
        }
    except KeyError as exc:
        raise DataError(f"{path}: field value {exc.args[0]} is outside the RAVDESS scheme") from None
    if fields["emotion"] is None or not 1 <= actor <= 24 or fields["repetition"] not in (1, 2):
        raise DataError(f"{path}: field value outside the RAVDESS scheme")
    return fields


def looks_like_ravdess(root: str | os.PathLike) -> bool:
    """True if ``root`` has ``Actor_NN`` folders."""
    root = Path(root)
    return root.is_dir() and any(p.is_dir() and p.name.startswith("Actor_") for p in root.iterdir())


def utterances(root: str | os.PathLike, *, channel: str = "speech") -> Iterator[Utterance]:
    """Yield every RAVDESS recording under ``root`` (any depth), sorted by path.

    Args:
        root: the folder holding ``Actor_01`` ... ``Actor_24`` (WAV or FLAC).
        channel: ``"speech"``, ``"song"`` or ``"any"``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: RAVDESS folder not found (give --data or set EMOVOX_DATA)")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".wav", ".flac") and NAME.match(p.stem))
    if not paths:
        raise DataError(f"{root}: no RAVDESS files (Actor_NN/MM-VV-EE-II-SS-RR-AA.wav) found")
    for path in paths:
        fields = parse_name(path)
        if channel != "any" and fields["channel"] != channel:
            continue
        yield Utterance(path, fields["emotion"], f"{fields['actor']:02d}", "ravdess", fields)
