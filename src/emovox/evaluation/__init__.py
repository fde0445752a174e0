"""Evaluation: protocols (how to split), metrics, cross-validation and reports."""

from .protocols import PROTOCOLS, Fold, make_folds
from .report import summary_line, write_report
from .runner import cross_validate

__all__ = ["PROTOCOLS", "Fold", "make_folds", "cross_validate", "summary_line", "write_report"]
