"""Cross-validation of a named model over a protocol's folds."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from sklearn.base import clone
from tqdm.auto import tqdm

from ..corpora import Utterance
from ..models import ModelSpec
from .metrics import scores
from .protocols import PROTOCOLS, make_folds

METRICS = ("uar", "accuracy", "macro_f1")


def cross_validate(features: np.ndarray, targets: np.ndarray, utterances: Sequence[Utterance],
                   labels: Sequence[str], spec: ModelSpec, protocol: str, *, seeds: Sequence[int] = (0,),
                   k: int = 5, progress: bool = True) -> dict:
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

    Returns:
        A JSON-ready dict: ``protocol, model, labels, runs`` (one per fold and seed, with
        their scores), ``summary`` (mean and std of each metric, in percent),
        ``recall`` (mean per label, percent) and ``confusion`` (counts summed over runs).
    """
    folds = make_folds(protocol, utterances, k=k)
    runs = []
    total = np.zeros((len(labels), len(labels)), dtype=int)
    bar = tqdm(total=len(folds) * len(seeds), desc=f"{spec.name} {protocol}", unit="fit",
               disable=not progress, leave=False, dynamic_ncols=True)
    for seed in seeds:
        for fold in folds:
            estimator = clone(spec.build(seed))
            started = time.perf_counter()
            estimator.fit(features[fold.train], targets[fold.train])
            fit_seconds = time.perf_counter() - started
            result = scores(targets[fold.test], estimator.predict(features[fold.test]), len(labels))
            total += np.asarray(result["confusion"])
            runs.append({"fold": fold.name, "seed": seed, "n_train": int(len(fold.train)),
                         "n_test": int(len(fold.test)), "fit_seconds": round(fit_seconds, 3), **result})
            bar.update()
    bar.close()
    summary = {m: {"mean": 100 * float(np.mean([r[m] for r in runs])),
                   "std": 100 * float(np.std([r[m] for r in runs]))} for m in METRICS}
    return {"protocol": protocol, "protocol_description": PROTOCOLS[protocol], "model": spec.name,
            "features": spec.features, "labels": list(labels), "seeds": list(seeds), "n_folds": len(folds),
            "summary": summary,
            "recall": {label: 100 * float(np.mean([r["recall"][i] for r in runs])) for i, label in enumerate(labels)},
            "confusion": total.tolist(), "runs": runs}
