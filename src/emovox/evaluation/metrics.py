"""Scores of one test set: accuracy (WA), unweighted average recall (UAR), macro-F1, confusion matrix,
and, given the predicted probabilities, the expected calibration error (ECE)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score


#: Equal-width confidence bins of :func:`expected_calibration_error`.
ECE_BINS = 15


def expected_calibration_error(y_true: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: the mean over equal-width confidence bins of |accuracy - confidence|, weighted by
    the bin's share of rows (0 = the probabilities say exactly how often the label is right).

    Args:
        y_true: label indices, shape ``(n,)``.
        probabilities: shape ``(n, n_labels)``, rows summing to 1.
        bins: how many bins over [0, 1].
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(y_true)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        rows = which == b
        total += rows.sum() * abs(correct[rows].mean() - confidence[rows].mean())
    return float(total / len(confidence))


def scores(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int, probabilities: np.ndarray | None = None) -> dict:
    """Metrics for label indices ``y_true`` and ``y_pred`` (shape ``(n,)``, values in ``[0, n_labels)``).

    Returns a dict with ``accuracy``, ``uar``, ``macro_f1`` (fractions in [0, 1]),
    ``recall`` (per label) and ``confusion`` (``n_labels x n_labels`` counts, rows true);
    with ``probabilities`` (shape ``(n, n_labels)``) also ``ece``
    (:func:`expected_calibration_error`, a fraction) and ``nll`` (mean negative log-likelihood).
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
    } | ({} if probabilities is None else {
        "ece": expected_calibration_error(y_true, probabilities),
        "nll": float(-np.mean(np.log(np.clip(np.asarray(probabilities)[np.arange(len(y_true)), y_true], 1e-12, 1)))),
    })
