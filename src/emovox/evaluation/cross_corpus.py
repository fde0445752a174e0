"""The ``cross-corpus`` protocol: train on one corpus, test on another, over the emotions both share."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import clone

from ..corpora import summary
from ..errors import DataError
from ..labels import EMOTIONS
from ..models import get_model_spec
from .protocols import PROTOCOLS
from .runner import fit_with_groups, summarise, test_scores, training_rows

if TYPE_CHECKING:  # pipeline imports evaluation, so Dataset is only needed for type checking
    from ..pipeline import Dataset

PROTOCOL = "cross-corpus"


def shared_labels(train: Dataset, test: Dataset) -> tuple[str, ...]:
    """The emotions present in both datasets, in emovox's order."""
    return tuple(e for e in EMOTIONS if e in train.labels and e in test.labels)


def cross_corpus(train: Dataset, test: Dataset, model: str, *, seeds: Sequence[int] = (0,)) -> dict:
    """Fit ``model`` on ``train`` and score it on ``test``, once per seed, over their shared emotions.

    Rows of either dataset whose emotion the other lacks are left out. The result has
    the shape of :func:`~emovox.evaluation.runner.cross_validate`'s, with one "fold"
    (train corpus -> test corpus), so :func:`~emovox.evaluation.report.write_report` and
    :func:`~emovox.evaluation.report.summary_line` take it; it adds ``train_data`` and
    ``test_data``, the summaries of the rows used.

    Args:
        train: the training corpus (an :class:`emovox.pipeline.Dataset`).
        test: the test corpus, with the same feature set.
        model: a registered model name (see :func:`emovox.models.get_model_spec`).
        seeds: model initialisation seeds; scores are summarised over seeds.

    Raises:
        DataError: if the feature sets differ, the datasets share files, or they share
            fewer than two emotions.
    """
    if train.feature_set.describe() != test.feature_set.describe() or train.features.shape[1] != test.features.shape[1]:
        raise DataError(f"cross-corpus: training features {train.feature_set.describe()} and test features "
                        f"{test.feature_set.describe()} differ; extract both with the same feature set")
    overlap = {u.path for u in train.utterances} & {u.path for u in test.utterances}
    if overlap:
        raise DataError(f"cross-corpus: {len(overlap)} file(s) are in both the training and the test data "
                        f"(e.g. {sorted(overlap)[0]}); give two different corpora")
    labels = shared_labels(train, test)
    if len(labels) < 2:
        raise DataError(f"cross-corpus: the training emotions ({', '.join(train.labels)}) and the test emotions "
                        f"({', '.join(test.labels)}) share {len(labels)}; at least 2 are needed")
    spec = get_model_spec(model)
    train_targets = _reindexed(train, labels)
    train_rows = np.flatnonzero(train_targets >= 0)
    x_train, y_train, train_groups = training_rows(  # with the augmented copies of those rows, if any
        train.features, train_targets, np.array([u.speaker for u in train.utterances], dtype=object),
        train_rows, train.augmented)
    x_test, y_test, test_rows = _restrict(test, labels)
    fold = f"{_corpus_name(train, train_rows)} -> {_corpus_name(test, test_rows)}"
    runs = []
    total = np.zeros((len(labels), len(labels)), dtype=int)
    for seed in seeds:
        estimator = clone(spec.build(seed))
        started = time.perf_counter()
        fit_with_groups(estimator, x_train, y_train, train_groups)
        fit_seconds = time.perf_counter() - started
        result = test_scores(estimator, x_test, y_test, len(labels))
        total += np.asarray(result["confusion"])
        runs.append({"fold": fold, "seed": seed, "n_train": len(y_train), "n_test": len(y_test),
                     "fit_seconds": round(fit_seconds, 3), **result})
    summary = summarise(runs)
    return {"protocol": PROTOCOL, "protocol_description": PROTOCOLS[PROTOCOL].description, "model": spec.name,
            "features": train.feature_set.name, "labels": list(labels), "seeds": list(seeds), "n_folds": 1,
            "summary": summary,
            "recall": {label: 100 * float(np.mean([r["recall"][i] for r in runs])) for i, label in enumerate(labels)},
            "confusion": total.tolist(), "runs": runs,
            "train_data": _summary(train, train_rows), "test_data": _summary(test, test_rows)}


def _restrict(dataset: Dataset, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, targets re-indexed into ``labels``, and the row indices kept."""
    targets = _reindexed(dataset, labels)
    rows = np.flatnonzero(targets >= 0)
    return dataset.features[rows], targets[rows], rows


def _reindexed(dataset: Dataset, labels: Sequence[str]) -> np.ndarray:
    """Every row's target as an index into ``labels`` (-1 where its emotion is not there)."""
    names = np.array(dataset.labels)[dataset.targets]
    return np.array([labels.index(n) if n in labels else -1 for n in names], dtype=int)


def _corpus_name(dataset: Dataset, rows: np.ndarray) -> str:
    return "+".join(sorted({dataset.utterances[i].corpus for i in rows}))


def _summary(dataset: Dataset, rows: np.ndarray) -> dict:
    return summary([dataset.utterances[i] for i in rows])
