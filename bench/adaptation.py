"""How many unlabelled clips of a voice the speaker-adaptive mode needs before it pays.

Run:  .venv/bin/python bench/adaptation.py [--data DIR] [--model whisper-vad-aug-lr] [--clips 3,5,10,20,60]

The speaker-adaptive rows of bench/accuracy.py standardise each test clip with the mean and
standard deviation of all 60 clips of its speaker. A call or a live session has heard fewer.
Here, on ravdess-si6 (8 emotions), the model is trained on speaker-standardised features of the
training actors (Dataset.speaker_adapted, degraded copies included for a recipe that trains on
them), and each test clip is standardised with the statistics of itself and N - 1 other clips of
its speaker drawn at random (seeded by N), for each N in --clips. The clips drawn span the
speaker's emotions as RAVDESS does (every actor reads every emotion), which flatters small N: a
session whose first clips are all one emotion would be standardised towards it.

Then what a live session (`emovox listen --adapt`, `model.stream(rate, speaker=...)`) does: each
test speaker's 60 clips heard one after another, every clip added to the speaker's
emovox.adaptation.SpeakerProfile as it comes, answered without adaptation until the profile holds
10 clips and adapted with everything heard so far from then on; once in a random order (seeded) and
once in the corpus's own order, which is by emotion (neutral first, surprised last): the worst case
the caveat above describes, a session whose first clips are all one mood.

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
from emovox.adaptation import MIN_UTTERANCES, SpeakerProfile, speaker_normalise
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


def session_answers(plain, model, features: np.ndarray, speakers: np.ndarray, rows: np.ndarray,
                    rng: np.random.Generator | None) -> np.ndarray:
    """Predicted classes of ``features[rows]`` as a session hears them: per speaker, in a random order drawn by
    ``rng`` (``None``: in the order of ``rows``), ``plain``'s answer until the speaker's profile holds
    :data:`MIN_UTTERANCES` clips (the current one included), then ``model``'s on the clip standardised with it."""
    answers = np.empty(len(rows), dtype=int)
    for speaker in dict.fromkeys(speakers[rows]):
        mine = np.flatnonzero(speakers[rows] == speaker)
        order = mine if rng is None else rng.permutation(mine)
        profile = SpeakerProfile(features.shape[1])
        for j in order:
            x = features[rows[j]][None, :]
            profile.add(x)
            answers[j] = (model.predict(profile.normalise(x)) if profile.ready(MIN_UTTERANCES)
                          else plain.predict(x))[0]
    return answers


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
                           babble=spec.babble, progress=False)
    adapted = dataset.speaker_adapted()
    speakers = np.array([u.speaker for u in dataset.utterances], dtype=object)
    sessions = ("session, random order", "session, emotion order")
    scores: dict = {"none": [], **{n: [] for n in counts}, **{name: [] for name in sessions}}
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
        for name, rng in zip(sessions, (np.random.default_rng(0), None)):  # test rows are sorted by path: by emotion
            answers = session_answers(plain, model, dataset.features, speakers, test, rng)
            scores[name].append(balanced_accuracy_score(dataset.targets[test], answers))
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
