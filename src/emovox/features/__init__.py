"""Feature sets by name, and extraction of many files with a cache."""

from . import logmel, opensmile_sets, seed180, stats, whisper  # noqa: F401  (register the feature sets)
from .base import FeatureSet, SpeechFeatureSet, available, get_feature_set, register
from .extract import Extraction, extract_files

__all__ = ["FeatureSet", "SpeechFeatureSet", "available", "get_feature_set", "register", "Extraction", "extract_files"]
