"""Cross-validation of a named model over a protocol's folds."""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from tqdm.auto import tqdm

from ..corpora import Utterance
from ..models import ModelSpec
from .metrics import ece_from_bins, scores
from .protocols import PROTOCOLS, make_folds

METRICS = ("uar", "accuracy", "macro_f1")
#: Summarised too when every run has them (models with ``predict_proba``): calibration, in percent
#: (see :func:`~.metrics.scores`).
CALIBRATION = ("ece", "ece_floor", "nll", "uncertain", "accuracy_confident")


def fit_with_groups(estimator, features: np.ndarray, targets: np.ndarray, groups: Sequence | None):
    """``estimator.fit(features, targets)``, passing ``groups`` (the rows' speakers) when its ``fit`` takes
    them, so that it can tune itself on held-out speakers (see :class:`emovox.models.classical.TunedLR`)."""
    try:
        takes_groups = "groups" in inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):
        takes_groups = False
    if takes_groups and groups is not None and all(g is not None for g in groups):
        return estimator.fit(features, targets, groups=np.asarray(groups))
    return estimator.fit(features, targets)


@dataclass(frozen=True)
class AugmentedRows:
    """Features of degraded copies of training clips (see :mod:`emovox.features.augmented`).

    Attributes:
        features: float32, shape ``(m, dim)``.
        source: int, shape ``(m,)``: the row of the clean clip each copy was made from.
        hears_speaker: whether a copy may carry other recordings of its clip's speaker (babble made from
            them): then a fold trains on no copy of a speaker it tests on, since that copy may hold a
            test clip.
    """

    features: np.ndarray
    source: np.ndarray
    hears_speaker: bool = False

    def __len__(self) -> int:
        return len(self.source)


def training_rows(features: np.ndarray, targets: np.ndarray, groups: np.ndarray, rows: np.ndarray,
                  augmented: AugmentedRows | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(features, targets, groups)`` to train on: the clean ``rows``, then the augmented copies of
    those rows (never of others: a test clip's copy stays out of training)."""
    if augmented is None or not len(augmented):
        return features[rows], targets[rows], groups[rows]
    copies = np.flatnonzero(np.isin(augmented.source, rows))
    sources = augmented.source[copies]
    return (np.concatenate([features[rows], augmented.features[copies]]),
            np.concatenate([targets[rows], targets[sources]]),
            np.concatenate([groups[rows], groups[sources]]))


def test_scores(estimator, features: np.ndarray, targets: np.ndarray, n_labels: int) -> dict:
    """:func:`~.metrics.scores` of a fitted estimator on a test set, with ECE when it gives probabilities."""
    probabilities = None
    if hasattr(estimator, "predict_proba"):
        full = np.zeros((len(targets), n_labels))
        full[:, np.asarray(estimator.classes_, dtype=int)] = estimator.predict_proba(features)
        probabilities = full
    return scores(targets, estimator.predict(features), n_labels, probabilities)


def summarise(runs: Sequence[dict]) -> dict:
    """Mean and std over runs of each metric, in percent (the calibration ones too when every run has them)."""
    names = METRICS + tuple(m for m in CALIBRATION if all(m in r for r in runs))
    summary = {m: {"mean": 100 * float(np.mean([r[m] for r in runs])),
                   "std": 100 * float(np.std([r[m] for r in runs]))} for m in names}
    if runs and all("calibration_bins" in r for r in runs):
        # the ECE of all test folds together (one value per seed): per-fold ECE over a few hundred
        # clips is biased upwards by the noise of 15 sparsely filled bins
        pooled = [ece_from_bins([r["calibration_bins"] for r in runs if r["seed"] == seed])
                  for seed in dict.fromkeys(r["seed"] for r in runs)]
        summary["ece_pooled"] = {"mean": 100 * float(np.mean(pooled)), "std": 100 * float(np.std(pooled))}
    return summary


def _copies_for(augmented: AugmentedRows | None, speakers: np.ndarray,
                test: np.ndarray) -> AugmentedRows | None:
    """``augmented`` less the copies a fold testing on rows ``test`` must not train on: with babble from the
    speaker's own recordings, every copy of a speaker who has a test row (a random split's speakers)."""
    if augmented is None or not augmented.hears_speaker:
        return augmented
    keep = ~np.isin(speakers[augmented.source], list(set(speakers[test])))
    if keep.all():  # speaker-independent folds: nothing to leave out, and no copy of the features
        return augmented
    return AugmentedRows(augmented.features[keep], augmented.source[keep], hears_speaker=True)


def cross_validate(features: np.ndarray, targets: np.ndarray, utterances: Sequence[Utterance],
                   labels: Sequence[str], spec: ModelSpec, protocol: str, *, seeds: Sequence[int] = (0,),
                   k: int = 5, progress: bool = True, augmented: AugmentedRows | None = None) -> dict:
    """Train and test ``spec`` on every fold of ``protocol``, once per model seed.

    Args:
        features: float32, shape ``(n, dim)``, row i for ``utterances[i]``.
        targets: label indices into ``labels``, shape ``(n,)``.
        utterances: the corpus rows (their speakers define the folds).
        labels: the emotion names.
        spec: the model.
        protocol: see :data:`~emovox.evaluation.protocols.PROTOCOLS`.
        seeds: model initialisation seeds; scores are summarised over folds x seeds.
        k: folds for ``speaker-kfold``.
        augmented: degraded copies of the rows, added to each fold's training rows (only copies of
            its own training clips); tests are always on the clean clips.

    Returns:
        A JSON-ready dict: ``protocol, model, labels, runs`` (one per fold and seed, with
        their scores), ``summary`` (mean and std of each metric, in percent; ``ece`` and
        ``nll`` too for models that give probabilities),
        ``recall`` (mean per label, percent) and ``confusion`` (counts summed over runs).
    """
    folds = make_folds(protocol, utterances, k=k)
    speakers = np.array([u.speaker for u in utterances], dtype=object)
    runs = []
    total = np.zeros((len(labels), len(labels)), dtype=int)
    bar = tqdm(total=len(folds) * len(seeds), desc=f"{spec.name} {protocol}", unit="fit",
               disable=not progress, leave=False, dynamic_ncols=True)
    for seed in seeds:
        for fold in folds:
            estimator = clone(spec.build(seed))
            started = time.perf_counter()
            copies = _copies_for(augmented, speakers, fold.test)
            fit_with_groups(estimator, *training_rows(features, targets, speakers, fold.train, copies))
            fit_seconds = time.perf_counter() - started
            result = test_scores(estimator, features[fold.test], targets[fold.test], len(labels))
            total += np.asarray(result["confusion"])
            runs.append({"fold": fold.name, "seed": seed, "n_train": len(fold.train),
                         "n_train_augmented": int(np.isin(copies.source, fold.train).sum()) if copies else 0,
                         "n_test": len(fold.test), "fit_seconds": round(fit_seconds, 3), **result})
            bar.update()
    bar.close()
    summary = summarise(runs)
    return {"protocol": protocol, "protocol_description": PROTOCOLS[protocol].description, "model": spec.name,
            "features": spec.features, "labels": list(labels), "seeds": list(seeds), "n_folds": len(folds),
            "summary": summary,
            "recall": {label: 100 * float(np.mean([r["recall"][i] for r in runs])) for i, label in enumerate(labels)},
            "confusion": total.tolist(), "runs": runs}
