"""A long recording built from RAVDESS clips, with silences and background noise between them.

Each clip (with its own second or so of room tone around the sentence) is followed by a gap of 1.5-4 s
that is either digital silence or pink noise (a fan, a car, a room: half the gaps each), so the voice
activity detector must ignore noise as well as find speech. Used by ``bench/long_audio.py`` (1 hour)
and the tests (30 minutes). The file is written block by block, so building it needs little memory
whatever its length.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import soundfile as sf

from emovox import audio as audio_io
from testkit.reference import Placed, speech_bounds

#: RMS level of the background noise in the noisy gaps, dBFS (louder than RAVDESS's quietest speech).
NOISE_DBFS = -45.0


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f) noise of unit RMS, float32 shape ``(n,)``, by shaping white noise in the frequency domain."""
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(white)
    spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
    spectrum[0] = 0.0
    pink = np.fft.irfft(spectrum, n)
    return (pink / (np.sqrt(np.mean(pink ** 2)) + 1e-12)).astype(np.float32)


def build_long_recording(ravdess: Path, out: Path, *, minutes: float, seed: int = 0,
                         bounds: Mapping[str, tuple[float, float]] | None = None, gap_s: tuple[float, float] = (1.5, 4.0),
                         noise_dbfs: float = NOISE_DBFS, actors: list[str] | None = None) -> tuple[list[Placed], float]:
    """Write a FLAC of RAVDESS clips in random order, each followed by a gap of silence or of pink noise.

    Args:
        ravdess: the RAVDESS folder.
        out: the FLAC file to write (48 kHz, 16-bit, mono).
        minutes: length to reach, minutes (clips are added until it is reached).
        seed: chooses the clips, gaps and noise.
        bounds: hand-checked speech bounds by file name; other clips get :func:`speech_bounds`.
        gap_s: the gap after each clip is drawn uniformly from this range, seconds.
        noise_dbfs: RMS level of the noise in the noisy gaps, dBFS.
        actors: only these actors' clips (``"01"`` ...); default all.

    Returns:
        ``(placed, duration_s)``: where each clip and its speech are (seconds), and the file's length.
    """
    rate = 48000
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    files = sorted(p for p in ravdess.glob("Actor_*/*.flac") if actors is None or p.parent.name[-2:] in actors)
    noise_gain = 10 ** (noise_dbfs / 20)
    target = minutes * 60 * rate
    placed: list[Placed] = []
    at = 0
    with sf.SoundFile(str(out), "w", samplerate=rate, channels=1, format="FLAC", subtype="PCM_16") as sink:
        def write(samples: np.ndarray) -> None:
            nonlocal at
            sink.write(samples)
            at += samples.size

        write(np.zeros(rate, np.float32))
        while at < target:
            path = pick.choice(files)
            clip = audio_io.load(path)
            if clip.rate != rate:
                continue
            s, e = (bounds or {}).get(path.name) or speech_bounds(clip)
            t0 = at / rate
            label = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
                     "07": "disgust", "08": "surprised"}[path.name.split("-")[2]]
            placed.append(Placed(str(path), label, t0, t0 + clip.duration, t0 + s, t0 + e))
            write(clip.samples)
            gap = round(pick.uniform(*gap_s) * rate)
            noisy = pick.random() < 0.5
            write(noise_gain * pink_noise(gap, rng) if noisy else np.zeros(gap, np.float32))
    return placed, at / rate


def score_rows(placed: list[Placed], rows: list[dict], tolerance_s: float = 0.150) -> dict:
    """How the rows (dicts with ``start_s``/``end_s``) match the clips.

    Returns:
        ``clips``, ``one_row`` (clips overlapped by exactly one row), ``within`` (of those, both ends within
        ``tolerance_s`` of the clip's speech), ``stray`` (rows overlapping no clip), and the start and end
        errors in ms of the one-row clips.
    """
    starts = np.array([float(r["start_s"]) for r in rows])
    ends = np.array([float(r["end_s"]) for r in rows])
    used = np.zeros(len(rows), bool)
    one, within, start_err, end_err = 0, 0, [], []
    for clip in placed:
        hits = np.flatnonzero((starts < clip.clip_end) & (ends > clip.clip_start))
        used[hits] = True
        if hits.size != 1:
            continue
        one += 1
        ds, de = float(starts[hits[0]] - clip.speech_start), float(ends[hits[0]] - clip.speech_end)
        start_err.append(1000 * ds)
        end_err.append(1000 * de)
        within += int(abs(ds) <= tolerance_s and abs(de) <= tolerance_s)
    return {"clips": len(placed), "one_row": one, "within": within, "stray": int((~used).sum()),
            "start_err_ms": start_err, "end_err_ms": end_err}
