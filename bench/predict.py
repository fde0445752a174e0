"""Prediction latency of one clip, features included, on one core; and the bundle's size.

Run:  taskset -c 0 .venv/bin/python bench/predict.py --model build/emovox-default.emovox [--clips 60]

Cuts 3-second clips from the middle of RAVDESS files (48 kHz), and times
``model.predict(samples, rate=48000)`` (resampling, trimming, features, classifier) for each,
after one warm-up call; prints p50/p95/max in ms and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import emovox  # noqa: E402
from emovox.corpora import default_data_dir, open_corpus  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="bundle to time")
    parser.add_argument("--data", default=None, help="RAVDESS folder")
    parser.add_argument("--clips", type=int, default=60, help="how many clips (default 60)")
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    model = emovox.load_model(args.model)
    utterances = open_corpus(default_data_dir(args.data))[:: max(1, 1440 // args.clips)][: args.clips]
    clips = []
    for u in utterances:
        samples, rate = soundfile.read(str(u.path), dtype="float32", always_2d=True)
        middle = len(samples) // 2
        clips.append(samples[max(0, middle - 3 * rate // 2): middle + 3 * rate // 2].mean(axis=1))
    times = []
    with threadpool_limits(1):
        model.predict(clips[0], rate=48000)
        for clip in clips:
            started = time.perf_counter()
            model.predict(clip, rate=48000)
            times.append(1000 * (time.perf_counter() - started))
    p50, p95 = np.percentile(times, [50, 95])
    size_mb = os.path.getsize(args.model) / 2**20
    cores = len(os.sched_getaffinity(0))
    print(f"{args.model}: {len(clips)} clips of 3.0 s on {cores} core(s): p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
          f"max {max(times):.1f} ms; bundle {size_mb:.1f} MB")
    print(json.dumps({"bench": "predict", "model": args.model, "clips": len(clips), "cores": cores,
                      "p50_ms": round(p50, 2), "p95_ms": round(p95, 2), "max_ms": round(max(times), 2),
                      "bundle_mb": round(size_mb, 2)}))


if __name__ == "__main__":
    main()
