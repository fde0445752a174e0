"""Feature sets by name, and extraction of many files with a cache."""

from . import seed180  # noqa: F401  (registers the feature set)
from .base import FeatureSet, available, get_feature_set, register
from .extract import Extraction, extract_files

__all__ = ["FeatureSet", "available", "get_feature_set", "register", "Extraction", "extract_files"]
