"""A long recording built from RAVDESS clips, with silences and background noise between them.

Used by ``bench/long_audio.py`` (1 hour) and the tests (30 minutes). The file is written block by block,
so building it needs little memory whatever its length.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import soundfile as sf

from emovox import audio as audio_io
from testkit.reference import Placed, speech_bounds

#: RMS level of the background noise under the whole recording, dBFS (a quiet room's hum and hiss).
NOISE_DBFS = -60.0


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
    """Write a FLAC of RAVDESS clips in random order, each followed by a random silence, over pink noise.

    Args:
        ravdess: the RAVDESS folder.
        out: the FLAC file to write (48 kHz, 16-bit, mono).
        minutes: length to reach, minutes (clips are added until it is reached).
        seed: chooses the clips, gaps and noise.
        bounds: hand-checked speech bounds by file name; other clips get :func:`speech_bounds`.
        gap_s: the silence after each clip is drawn uniformly from this range, seconds.
        noise_dbfs: RMS level of the background noise, dBFS, under everything.
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
            noisy = samples + noise_gain * pink_noise(samples.size, rng)
            sink.write(np.clip(noisy, -1.0, 1.0))
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
            write(np.zeros(round(pick.uniform(*gap_s) * rate), np.float32))
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
        ds, de = starts[hits[0]] - clip.speech_start, ends[hits[0]] - clip.speech_end
        start_err.append(1000 * ds)
        end_err.append(1000 * de)
        within += abs(ds) <= tolerance_s and abs(de) <= tolerance_s
    return {"clips": len(placed), "one_row": one, "within": within, "stray": int((~used).sum()),
            "start_err_ms": start_err, "end_err_ms": end_err}
