"""Ground truth for checking segmentation: where the speech in a clip is, and test streams built from clips.

RAVDESS clips hold about 1 s of near-silence (room noise around -95 dBFS) before
and after the sentence. :func:`speech_bounds` finds the sentence by energy on the
clip itself, independently of any VAD:

1. level per 10 ms frame, dBFS (mean square of the samples);
2. noise floor = median level of the clip's first and last 200 ms (near-silence in RAVDESS);
   peak = the loudest frame;
3. threshold = max(floor + 20 dB, peak - 35 dB): well above the room noise, low enough
   to keep soft onsets and the decaying last syllable, but above the breaths, lip noise
   and hum that many clips have 35-45 dB below their peak just before or after the
   sentence (a -40 dB threshold counted those as speech in about 1 clip in 8);
4. speech runs from the first to the last run of at least 5 frames (50 ms) above the
   threshold, so isolated clicks at the edges do not count.

It still takes a loud breath, hum or rumble next to the sentence for speech in some
clips; hand-checked bounds (:func:`read_bounds`, the TSV files in ``bench/annotations/``)
replace it where they exist.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emovox.audio import Audio
from emovox.stream.vad import LEVEL_FRAME_SECONDS, MIN_LOUD_RUN, frame_levels, loud_span

EDGE_SECONDS = 0.200
ABOVE_FLOOR_DB = 20.0
BELOW_PEAK_DB = 35.0


def speech_bounds(audio: Audio) -> tuple[float, float]:
    """``(start, end)`` in seconds of the speech in a clip with silent edges (see the module's note)."""
    level, hop = frame_levels(audio.samples, audio.rate)
    edge = max(1, round(EDGE_SECONDS / LEVEL_FRAME_SECONDS))
    floor = float(np.median(np.concatenate([level[:edge], level[-edge:]])))
    threshold = max(floor + ABOVE_FLOOR_DB, float(level.max()) - BELOW_PEAK_DB)
    span = loud_span(level, threshold, MIN_LOUD_RUN)
    if span is None:
        return 0.0, audio.duration
    return span[0] * hop / audio.rate, span[1] * hop / audio.rate


@dataclass(frozen=True)
class Placed:
    """A clip placed in a test stream: its file, true label, and its span and speech in stream seconds."""

    path: str
    label: str | None
    clip_start: float
    clip_end: float
    speech_start: float
    speech_end: float


def read_bounds(path: str | Path) -> dict[str, tuple[float, float]]:
    """Annotated speech bounds: file name -> ``(start, end)`` seconds from the clip's start.

    The file is tab-separated with a header row holding at least ``file``, ``start`` and
    ``end``; lines starting with ``#`` are comments (``bench/annotations/ravdess-speech.tsv``).
    """
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t")
        return {row["file"]: (float(row["start"]), float(row["end"])) for row in rows}


def join_clips(clips: list[tuple[Audio, str | None]], *, gap: float = 1.0, rate: int | None = None,
               bounds: Mapping[str, tuple[float, float]] | None = None) -> tuple[np.ndarray, int, list[Placed]]:
    """Clips one after another with ``gap`` seconds of digital silence before, between and after them.

    Args:
        clips: ``(audio, label)`` pairs, all at the same rate (or pass ``rate`` to require it).
        gap: seconds of silence around each clip.
        bounds: annotated speech bounds by file name (:func:`read_bounds`); clips not in it get
            :func:`speech_bounds`.

    Returns:
        ``(samples, rate, placed)``: float32 shape ``(n,)``, Hz, and where each clip and its speech are.
    """
    rate = rate or clips[0][0].rate
    silence = np.zeros(round(gap * rate), dtype=np.float32)
    parts, placed, at = [silence], [], silence.size
    for audio, label in clips:
        if audio.rate != rate:
            raise ValueError(f"{audio.name}: rate {audio.rate} Hz, expected {rate} Hz")
        s, e = (bounds or {}).get(Path(audio.name).name) or speech_bounds(audio)
        t0 = at / rate
        placed.append(Placed(audio.name, label, t0, t0 + audio.duration, t0 + s, t0 + e))
        parts += [audio.samples, silence]
        at += audio.samples.size + silence.size
    return np.concatenate(parts), rate, placed


def match_segments(placed: list[Placed], segments: list) -> list[list]:
    """For each placed clip, the segments (objects with ``start_s``/``end_s`` seconds) that overlap its clip span."""
    return [[s for s in segments if s.start_s < p.clip_end and s.end_s > p.clip_start] for p in placed]
