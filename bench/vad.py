"""Segmentation settings and Silero's cost: the figures behind the README's live section.

Run:  nice .venv/bin/python bench/vad.py [--minutes 10] [--data DIR]

1. Builds the same stream as ``bench/stream.py`` (same seed), runs Silero VAD over it once,
   then replays those probabilities through emovox's ``Segmenter`` for a grid of settings
   (threshold, release threshold, minimum silence, padding at the start and at the end, energy
   trim) and
   prints, best first, how many clips give one segment with both ends within 150 ms of the
   clip's speech; then the misses of the default settings with their start and end errors.
2. Times one Silero frame on one core back to back and after a 30 ms sleep each (what a
   real-time stream does between 32 ms blocks).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import soundfile as sf
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream import ANNOTATIONS, build_stream, reference_bounds  # noqa: E402

from emovox.corpora import default_data_dir  # noqa: E402
import sys as _sys  # noqa: E402
from pathlib import Path as _Path  # noqa: E402
_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # testkit/ lives at the repository root
from testkit.reference import match_segments  # noqa: E402
from emovox.stream.vad import FRAME, VAD_RATE, Segmenter, SileroVAD, loud_part  # noqa: E402

FRAME_SECONDS = FRAME / VAD_RATE


def frame_probabilities(step: Callable[[np.ndarray], float], samples: np.ndarray, frame: int) -> np.ndarray:
    """``step`` applied to each whole ``frame``-sample frame of ``samples`` in turn, shape ``(n,)``."""
    return np.array([step(samples[k * frame:(k + 1) * frame]) for k in range(samples.size // frame)])


def boundary_errors(probs: np.ndarray, placed: list, samples: np.ndarray, threshold: float, neg: float | None,
                    min_silence: float, pad_start: float, pad_end: float, trim_db: float = 0.0,
                    frame_seconds: float = FRAME_SECONDS) -> list[tuple[int, float, float] | None]:
    """Per clip: ``(index, start error s, end error s)`` if it gives exactly one segment, else ``None``.

    ``probs``: one speech probability per frame of ``frame_seconds`` (Silero's 32 ms by default).
    ``samples``: the stream at 16 kHz, for the energy trim of each segment (``trim_db`` > 0, as the recognizer).
    """
    segmenter = Segmenter(threshold=threshold, neg_threshold=neg, min_silence_s=min_silence,
                          frame_s=frame_seconds)
    spans = [s for s in map(segmenter.push, probs) if s is not None]
    if (last := segmenter.finish()) is not None:
        spans.append(last)
    segments = []
    for span in spans:
        start = max(0, round((span.start_frame * frame_seconds - pad_start) * VAD_RATE))
        end = round((span.end_frame * frame_seconds + pad_end) * VAD_RATE)
        if trim_db and end > start:
            first, last = loud_part(samples[start:end], VAD_RATE, trim_db, round(0.03 * VAD_RATE))
            start, end = start + first, start + last
        segments.append(SimpleNamespace(start=start / VAD_RATE, end=end / VAD_RATE))
    return [(i, hits[0].start - clip.speech_start, hits[0].end - clip.speech_end) if len(hits) == 1 else None
            for i, (clip, hits) in enumerate(zip(placed, match_segments(placed, segments)))]


def within(errors: list, limit: float = 0.150) -> int:
    return sum(e is not None and abs(e[1]) <= limit and abs(e[2]) <= limit for e in errors)


def silero_cost(frames: int = 200) -> tuple[float, float]:
    """Median ms of one Silero frame back to back, and after a 30 ms sleep."""
    vad = SileroVAD()
    frame = (np.random.default_rng(0).standard_normal(FRAME) * 0.1).astype(np.float32)
    medians = []
    for pause in (0.0, 0.030):
        times = []
        for _ in range(frames):
            started = time.perf_counter()
            vad.probability(frame)
            times.append(time.perf_counter() - started)
            if pause:
                time.sleep(pause)
        medians.append(1000 * float(np.median(times)))
    return medians[0], medians[1]


def stream_arguments(description: str) -> argparse.Namespace:
    """Parse the options both VAD benches take (``--data``, ``--minutes``, ``--seed``, ``--reference``).

    Also pins the process to one core, as the figures are per core.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default=None, help="RAVDESS folder (default: as emovox)")
    parser.add_argument("--minutes", type=float, default=10.0, help="stream length (default 10, as bench/stream.py)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference", default=str(ANNOTATIONS),
                        help="speech bounds: TSV files or folders, comma-separated (default: bench/annotations); "
                             "'energy': the energy reference only")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    return args


def bench_stream(args: argparse.Namespace) -> tuple[list, dict | None, np.ndarray]:
    """``bench/stream.py``'s stream for ``args``: the placed clips, the reference bounds, the samples at 16 kHz."""
    with tempfile.TemporaryDirectory(prefix="emovox-bench-") as tmp:
        wav = Path(tmp) / "stream.wav"
        bounds = reference_bounds(args.reference)
        placed = build_stream(default_data_dir(args.data), args.minutes, args.seed, None, wav, bounds)
        samples, rate = sf.read(str(wav), dtype="float32")
    return placed, bounds, soxr.resample(samples, rate, VAD_RATE, quality="HQ").astype(np.float32)


def main() -> None:
    placed, _, at_16k = bench_stream(stream_arguments(__doc__.splitlines()[0]))
    probs = frame_probabilities(SileroVAD().probability, at_16k, FRAME)

    grid = itertools.product((0.3, 0.4, 0.5, 0.6), (None, 0.1, 0.2), (0.3, 0.5, 0.8, 1.0), (0.0, 0.03, 0.06, 0.1),
                             (-0.12, -0.09, -0.06, -0.03, 0.0, 0.03, 0.06, 0.1), (0.0, 35.0))
    rows = []
    for threshold, neg, min_silence, pad_start, pad_end, trim_db in grid:
        if neg is not None and neg > threshold or trim_db and (pad_start, pad_end) != (0.03, 0.03):
            continue  # the trim pads its own result by 0.03 s, so other pads do not apply
        errors = boundary_errors(probs, placed, at_16k, threshold, neg, min_silence, pad_start, pad_end, trim_db)
        rows.append((within(errors), sum(e is not None for e in errors), threshold, neg, min_silence, pad_start, pad_end,
                     trim_db))
    rows.sort(key=lambda r: r[:2], reverse=True)
    print(f"{len(placed)} clips; both ends within 150 ms / one segment, by setting (best 10):")
    print("within  one  threshold  release  min_silence  pad_start  pad_end  trim_db")
    for r in rows[:10]:
        print(f"{r[0]:6d} {r[1]:4d} {r[2]:10.2f} {str(r[3]):>8} {r[4]:12.2f} {r[5]:10.2f} {r[6]:8.2f} {r[7]:8.0f}")
    for trim_db in (0.0, 35.0):
        errors = boundary_errors(probs, placed, at_16k, 0.5, None, 1.0, 0.03, 0.03, trim_db)
        print(f"default Segmenter settings, trim_db {trim_db:.0f}: {within(errors)}/{len(placed)}")
    default = boundary_errors(probs, placed, at_16k, 0.5, None, 1.0, 0.03, 0.03, 35.0)
    misses = [e for e in default if e is not None and (abs(e[1]) > 0.150 or abs(e[2]) > 0.150)]
    print(f"\ndefault settings (0.5, release 0.35, 1.0 s, pad 0.03, trim 35 dB): {within(default)}/{len(placed)};"
          " misses:")
    for i, start, end in misses:
        print(f"  clip {i:3d}  {Path(placed[i].path).name}  start {1000 * start:+7.0f} ms  end {1000 * end:+7.0f} ms")
    for i in (i for i, e in enumerate(default) if e is None):
        print(f"  clip {i:3d}  {Path(placed[i].path).name}  not exactly one segment")
    tight, after_sleep = silero_cost()
    print(f"\nSilero, one frame on one core: median {tight:.2f} ms back to back, {after_sleep:.2f} ms after a 30 ms sleep")


if __name__ == "__main__":
    main()
