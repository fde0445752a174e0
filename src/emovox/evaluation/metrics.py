"""Scores of one test set: accuracy (WA), unweighted average recall (UAR), macro-F1, confusion matrix,
and, given the predicted probabilities, the expected calibration error (ECE)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

from ..results import UNCERTAIN_BELOW

#: Equal-width confidence bins of :func:`expected_calibration_error`.
ECE_BINS = 15


def calibration_bins(y_true: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS) -> dict:
    """Per equal-width confidence bin: ``count``, summed ``confidence`` and ``correct`` (lists of ``bins``).

    Bins of several test sets add up, so the ECE of their union (:func:`ece_from_bins`)
    can be had without keeping the probabilities.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == np.asarray(y_true)).astype(float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    return {"count": np.bincount(which, minlength=bins).tolist(),
            "confidence": np.bincount(which, confidence, minlength=bins).tolist(),
            "correct": np.bincount(which, correct, minlength=bins).tolist()}


def ece_from_bins(parts: list[dict]) -> float:
    """The ECE of the union of test sets, from their :func:`calibration_bins`."""
    count = np.sum([p["count"] for p in parts], axis=0)
    confidence = np.sum([p["confidence"] for p in parts], axis=0)
    correct = np.sum([p["correct"] for p in parts], axis=0)
    return float(np.sum(np.abs(correct - confidence)) / max(count.sum(), 1))


def ece_floor(probabilities: np.ndarray, bins: int = ECE_BINS, draws: int = 200, seed: int = 0) -> float:
    """The ECE a perfectly calibrated model with these confidences would still show on a test set of this size.

    ECE over a few hundred rows is biased upwards: a bin of 20 rows whose confidence is 0.7 is
    right 14 +- 2 times by chance alone. Here each row's top label is drawn right with
    probability equal to its confidence (calibrated by construction), ``draws`` times, and the
    mean ECE of those draws is returned: the part of a measured ECE that sampling explains.

    Args:
        probabilities: shape ``(n, n_labels)``, rows summing to 1.
    """
    confidence = np.asarray(probabilities, dtype=np.float64).max(axis=1)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    summed = np.bincount(which, confidence, minlength=bins)
    rng = np.random.default_rng(seed)
    values = [np.sum(np.abs(np.bincount(which, rng.random(len(confidence)) < confidence, minlength=bins) - summed))
              / max(count.sum(), 1) for _ in range(draws)]
    return float(np.mean(values))


def expected_calibration_error(y_true: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: the mean over equal-width confidence bins of |accuracy - confidence|, weighted by
    the bin's share of rows (0 = the probabilities say exactly how often the label is right).

    Args:
        y_true: label indices, shape ``(n,)``.
        probabilities: shape ``(n, n_labels)``, rows summing to 1.
        bins: how many bins over [0, 1].
    """
    return ece_from_bins([calibration_bins(y_true, probabilities, bins)])


def scores(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int, probabilities: np.ndarray | None = None) -> dict:
    """Metrics for label indices ``y_true`` and ``y_pred`` (shape ``(n,)``, values in ``[0, n_labels)``).

    Returns a dict with ``accuracy``, ``uar``, ``macro_f1`` (fractions in [0, 1]),
    ``recall`` (per label) and ``confusion`` (``n_labels x n_labels`` counts, rows true);
    with ``probabilities`` (shape ``(n, n_labels)``) also ``ece``
    (:func:`expected_calibration_error`, a fraction), ``ece_floor`` (:func:`ece_floor`: what a
    calibrated model would show on this many rows), ``nll`` (mean negative log-likelihood),
    ``uncertain`` (the share of rows whose top probability is below :data:`UNCERTAIN_BELOW`) and
    ``accuracy_confident`` (accuracy over the other rows; 0 if there are none).
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
    } | ({} if probabilities is None else _calibration(np.asarray(y_true), np.asarray(y_pred),
                                                      np.asarray(probabilities, dtype=np.float64)))


def _calibration(y_true: np.ndarray, y_pred: np.ndarray, probabilities: np.ndarray) -> dict:
    confident = probabilities.max(axis=1) >= UNCERTAIN_BELOW
    bins = calibration_bins(y_true, probabilities)
    return {
        "ece": ece_from_bins([bins]),
        "ece_floor": ece_floor(probabilities),
        "calibration_bins": bins,
        "nll": float(-np.mean(np.log(np.clip(probabilities[np.arange(len(y_true)), y_true], 1e-12, 1)))),
        "uncertain": float(1 - confident.mean()),
        "accuracy_confident": float(np.mean(y_true[confident] == y_pred[confident])) if confident.any() else 0.0,
    }
