"""How many unlabelled clips of a voice the speaker-adaptive mode needs before it pays.

Run:  .venv/bin/python bench/adaptation.py [--data DIR] [--model whisper-vad-aug-lr] [--clips 3,5,10,20,60]

The speaker-adaptive rows of bench/accuracy.py standardise each test clip with the mean and
standard deviation of all 60 clips of its speaker. A call or a live session has heard fewer.
Here, on ravdess-si6 (8 emotions), the model is trained on speaker-standardised features of the
training actors (emovox.evaluation.adaptation, degraded copies included for a recipe that trains on
them), and each test clip is standardised with the statistics of itself and N - 1 other clips of
its speaker drawn at random (seeded by N), for each N in --clips. The clips drawn span the
speaker's emotions as RAVDESS does (every actor reads every emotion), which flatters small N: a
session whose first clips are all one emotion would be standardised towards it.

Prints UAR per N (mean ± std over the folds) beside the model without adaptation, and writes
bench/results/adaptation.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from emovox.evaluation.adaptation import speaker_adapted, speaker_normalise
from emovox.evaluation.protocols import make_folds
from emovox.evaluation.runner import fit_with_groups, training_rows
from emovox.features import get_feature_set
from emovox.labels import EMOTIONS
from emovox.models import get_model_spec
from emovox.paths import atomic_write
from emovox.pipeline import load_dataset


def standardised_from(features: np.ndarray, speakers: np.ndarray, rows: np.ndarray, clips: int,
                      rng: np.random.Generator) -> np.ndarray:
    """``features[rows]``, each row standardised with the mean and std of itself and ``clips - 1`` other
    rows of its speaker drawn by ``rng`` (all of the speaker's rows when it has no more than ``clips``)."""
    out = np.empty((len(rows), features.shape[1]), np.float32)
    for j, i in enumerate(rows):
        same = np.flatnonzero(speakers == speakers[i])
        drawn = same if clips >= len(same) else np.concatenate([[i], rng.choice(same[same != i], clips - 1,
                                                                               replace=False)])
        out[j] = speaker_normalise(features[drawn], [speakers[i]] * len(drawn))[np.flatnonzero(drawn == i)[0]]
    return out


def main() -> None:
    from sklearn.base import clone
    from sklearn.metrics import balanced_accuracy_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="RAVDESS folder (default: ../shared/data/ravdess)")
    parser.add_argument("--model", default="whisper-vad-aug-lr", help="recipe (default: the default model's)")
    parser.add_argument("--clips", default="3,5,10,20,60", help="clips per speaker the statistics come from")
    args = parser.parse_args()
    spec = get_model_spec(args.model)
    counts = [int(n) for n in args.clips.split(",")]
    dataset = load_dataset(args.data, list(EMOTIONS), get_feature_set(spec.features), augment=spec.augment,
                           progress=False)
    adapted = speaker_adapted(dataset)
    speakers = np.array([u.speaker for u in dataset.utterances], dtype=object)
    scores: dict = {"none": [], **{n: [] for n in counts}}
    for fold in make_folds("ravdess-si6", dataset.utterances):
        test = fold.test
        plain = clone(spec.build(0))
        fit_with_groups(plain, *training_rows(dataset.features, dataset.targets, speakers, fold.train,
                                               dataset.augmented))
        scores["none"].append(balanced_accuracy_score(dataset.targets[test], plain.predict(dataset.features[test])))
        model = clone(spec.build(0))
        fit_with_groups(model, *training_rows(adapted.features, adapted.targets, speakers, fold.train,
                                               adapted.augmented))
        for n in counts:
            x = standardised_from(dataset.features, speakers, test, n, np.random.default_rng(n))
            scores[n].append(balanced_accuracy_score(dataset.targets[test], model.predict(x)))
        print(fold.name, " ".join(f"{n}: {100 * s[-1]:.1f}" for n, s in scores.items()), file=sys.stderr, flush=True)
    rows = [{"clips": n, "uar": {"mean": round(100 * float(np.mean(s)), 1), "std": round(100 * float(np.std(s)), 1)},
             "folds": [round(100 * float(v), 2) for v in s]} for n, s in scores.items()]
    print(f"| clips of the speaker heard | UAR ({args.model}, ravdess-si6, 8 emotions) |")
    print("| --- | --- |")
    for row in rows:
        label = "none (no adaptation)" if row["clips"] == "none" else row["clips"]
        print(f"| {label} | {row['uar']['mean']:.1f} ± {row['uar']['std']:.1f} % |")
    atomic_write(ROOT / "bench" / "results" / "adaptation.json",
                 json.dumps({"bench": "adaptation", "model": args.model, "rows": rows}, indent=2).encode())


if __name__ == "__main__":
    main()
