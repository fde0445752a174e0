"""Long recordings: `emovox predict --segments long.flac --format csv` on a 1-hour file of RAVDESS clips.

Builds a recording of RAVDESS clips in random order, each followed by 1.5-4 s of silence, over pink
noise at -60 dBFS (``testkit.long_audio``), then runs the command-line tool on it as a user would, in
its own process, and prints:

- clips, and clips that got exactly one row; of those, both ends within 150 ms of the clip's speech
  (hand-checked bounds in ``bench/annotations/`` where they exist, else the energy reference);
- rows outside any clip;
- the real-time factor (the command's wall time over the audio's duration) and its CPU time;
- the command's peak resident memory (the child process's ru_maxrss);
- per-row label accuracy over the model's emotions (speakers seen in training if the model saw them).

Run::

    .venv/bin/python bench/long_audio.py --model build/seed-mlp.emovox            # 60 minutes
    .venv/bin/python bench/long_audio.py --minutes 30 --seed 1 --model MODEL      # another recording
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # testkit/

import numpy as np  # noqa: E402

from emovox.corpora import default_data_dir  # noqa: E402
from testkit.long_audio import build_long_recording, score_rows  # noqa: E402
from testkit.reference import read_bounds  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="RAVDESS folder")
    parser.add_argument("--model", required=True, help="bundle to run")
    parser.add_argument("--keep", type=Path, default=None, help="keep the recording and the CSV in this folder")
    args = parser.parse_args()
    data = default_data_dir(args.data)
    bounds: dict = {}
    for tsv in sorted((ROOT / "bench" / "annotations").glob("*.tsv")):
        bounds |= read_bounds(tsv)
    with tempfile.TemporaryDirectory(prefix="emovox-long-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        flac, out = folder / "long.flac", folder / "long.csv"
        began = time.perf_counter()
        placed, duration_s = build_long_recording(data, flac, minutes=args.minutes, seed=args.seed, bounds=bounds)
        built_s = time.perf_counter() - began
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run([str(ROOT / ".venv" / "bin" / "emovox"), "predict", "--segments", str(flac),
                               "--format", "csv", "--output", str(out), "--model", args.model, "--no-progress"],
                              capture_output=True, text=True)
        wall_s = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        with open(out, newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if not r["error"]]
        labels = [c[2:] for c in rows[0] if c.startswith("p_")] if rows else []
    score = score_rows(placed, rows)
    checked = [p for p in placed if Path(p.path).name in bounds]
    checked_score = score_rows(checked, rows) if checked else {"clips": 0, "within": 0}
    labelled = [(p, r) for p in placed for r in rows
                if float(r["start_s"]) < p.clip_end and float(r["end_s"]) > p.clip_start and p.label in labels]
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = {
        "bench": "long_audio", "model": args.model, "minutes": round(duration_s / 60, 2), "seed": args.seed,
        "clips": score["clips"], "hand_checked_clips": sum(Path(p.path).name in bounds for p in placed),
        "one_row": score["one_row"], "within_150ms": score["within"],
        "within_150ms_share": round(score["within"] / score["clips"], 4),
        "hand_checked_within_150ms": f"{checked_score['within']}/{checked_score['clips']}",
        "stray_rows": score["stray"],
        "start_err_ms": {"mean": round(float(np.mean(score["start_err_ms"])), 1),
                         "abs_p95": round(float(np.percentile(np.abs(score["start_err_ms"]), 95)), 1)},
        "end_err_ms": {"mean": round(float(np.mean(score["end_err_ms"])), 1),
                       "abs_p95": round(float(np.percentile(np.abs(score["end_err_ms"]), 95)), 1)},
        "wall_s": round(wall_s, 2), "real_time_factor": round(wall_s / duration_s, 5),
        "cpu_s": round(cpu_s, 2), "cpu_real_time_factor": round(cpu_s / duration_s, 5),
        "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
        "label_accuracy": round(float(np.mean([p.label == r["label"] for p, r in labelled])), 4) if labelled else None,
        "labelled_rows": len(labelled), "build_s": round(built_s, 1), "cpus": len(os.sched_getaffinity(0)),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
