"""Accuracy of emovox's models: models x feature sets x protocols, on RAVDESS.

Run:  .venv/bin/python bench/accuracy.py [--data DIR] [--models a,b] [--seeds N] [--update-figures]

For each model (with its own feature set) it runs ravdess-si6 on all 8 emotions,
ravdess-si6 on the seed's 4 emotions, and the seed's random split on those 4 emotions
(over --seeds model initialisations), and prints UAR, accuracy and macro-F1 (mean ± std)
with the mean training time per fit. Results go to bench/results/accuracy.json (and, with
--update-figures, to src/emovox/models/figures.json, which `emovox models` prints); rows of
models not named in --models are kept from the previous results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from emovox.labels import EMOTIONS, SEED_EMOTIONS  # noqa: E402
from emovox.models import MODELS  # noqa: E402
from emovox.paths import atomic_write  # noqa: E402
from emovox.pipeline import default_feature_set, evaluate, load_dataset  # noqa: E402

PLAN = (("ravdess-si6", EMOTIONS), ("ravdess-si6", SEED_EMOTIONS), ("seed", SEED_EMOTIONS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="RAVDESS folder (default: ../shared/data/ravdess)")
    parser.add_argument("--models", default="seed-mlp,stats-lr,whisper-lr", help="comma-separated model names")
    parser.add_argument("--seeds", type=int, default=3, help="model seeds for the seed protocol (default 3)")
    parser.add_argument("--update-figures", action="store_true", help="write src/emovox/models/figures.json")
    args = parser.parse_args()

    rows = []
    for model in args.models.split(","):
        feature_set = default_feature_set(model)
        for protocol, emotions in PLAN:
            dataset = load_dataset(args.data, emotions, feature_set, progress=False)
            seeds = list(range(args.seeds)) if protocol == "seed" else [0]
            started = time.perf_counter()
            (result,) = evaluate(dataset, model, [protocol], seeds=seeds, progress=False)
            s = result["summary"]
            rows.append({"model": model, "features": feature_set.name, "protocol": protocol,
                         "emotions": len(emotions), "runs": len(result["runs"]),
                         **{m: {"mean": round(s[m]["mean"], 1), "std": round(s[m]["std"], 1)} for m in s},
                         "fit_seconds": round(float(np.mean([r["fit_seconds"] for r in result["runs"]])), 2),
                         "wall_seconds": round(time.perf_counter() - started, 1),
                         "recall": {k: round(v, 1) for k, v in result["recall"].items()},
                         "confusion": result["confusion"]})
            r = rows[-1]
            print(f"{model:<11} {r['features']:<13} {protocol:<12} {len(emotions)} emotions  "
                  f"UAR {r['uar']['mean']:5.1f} ± {r['uar']['std']:4.1f}  acc {r['accuracy']['mean']:5.1f} ± "
                  f"{r['accuracy']['std']:4.1f}  F1 {r['macro_f1']['mean']:5.1f} ± {r['macro_f1']['std']:4.1f}  "
                  f"fit {r['fit_seconds']:.1f} s", flush=True)

    print("\n| model | features | protocol | emotions | UAR % | accuracy % | macro-F1 % | fit s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['features']} | {r['protocol']} | {r['emotions']} | "
              f"{r['uar']['mean']:.1f} ± {r['uar']['std']:.1f} | {r['accuracy']['mean']:.1f} ± {r['accuracy']['std']:.1f} | "
              f"{r['macro_f1']['mean']:.1f} ± {r['macro_f1']['std']:.1f} | {r['fit_seconds']:.1f} |")
    print(json.dumps({"bench": "accuracy", "rows": [{k: r[k] for k in ("model", "protocol", "emotions", "uar")}
                                                      for r in rows]}))
    # rows of models not run this time are kept from the previous results
    results_path = ROOT / "bench" / "results" / "accuracy.json"
    ran = {r["model"] for r in rows}
    kept = json.loads(results_path.read_text())["rows"] if results_path.is_file() else []
    rows = [r for r in kept if r["model"] not in ran] + rows
    rows.sort(key=lambda r: list(MODELS).index(r["model"]) if r["model"] in MODELS else len(MODELS))
    atomic_write(results_path, json.dumps({"bench": "accuracy", "rows": rows}, indent=2).encode())
    if args.update_figures:
        figures = {m: [{k: r[k] for k in ("protocol", "emotions", "uar", "accuracy", "macro_f1")}
                       for r in rows if r["model"] == m] for m in MODELS if any(r["model"] == m for r in rows)}
        atomic_write(ROOT / "src" / "emovox" / "models" / "figures.json", json.dumps(figures, indent=2).encode())


if __name__ == "__main__":
    main()
