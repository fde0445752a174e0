"""Scores of one test set: accuracy (WA), unweighted average recall (UAR), macro-F1, confusion matrix."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score


def scores(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> dict:
    """Metrics for label indices ``y_true`` and ``y_pred`` (shape ``(n,)``, values in ``[0, n_labels)``).

    Returns a dict with ``accuracy``, ``uar``, ``macro_f1`` (fractions in [0, 1]),
    ``recall`` (per label) and ``confusion`` (``n_labels x n_labels`` counts, rows true).
    """
    labels = np.arange(n_labels)
    confusion = confusion_matrix(y_true, y_pred, labels=labels)
    support = confusion.sum(axis=1)
    recall = np.divide(np.diag(confusion), support, out=np.zeros(n_labels), where=support > 0)
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "uar": float(balanced_accuracy_score(y_true, y_pred)) if len(set(y_true)) > 1 else float(recall[support > 0].mean()),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels[support > 0], average="macro", zero_division=0)),
        "recall": recall.tolist(),
        "confusion": confusion.tolist(),
    }
