"""Models (scikit-learn estimators by name) and bundles (ONNX + JSON)."""

from .classical import MODELS, ModelSpec, get_model_spec

DEFAULT_MODEL = "whisper-lr"

__all__ = ["MODELS", "ModelSpec", "get_model_spec", "DEFAULT_MODEL"]
