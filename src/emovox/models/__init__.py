"""Models (scikit-learn estimators by name: the recipes) and bundles (ONNX + JSON).

The recipes are imported on first use (``MODELS``, ``ModelSpec``, ``get_model_spec``), so predicting from a
bundle does not load scikit-learn.
"""

DEFAULT_MODEL = "whisper-vad-aug-lr"

_LAZY = ("MODELS", "ModelSpec", "get_model_spec")


def __getattr__(name: str):
    if name in _LAZY:
        from . import classical

        return getattr(classical, name)
    raise AttributeError(f"module 'emovox.models' has no attribute {name!r}")


__all__ = ["MODELS", "ModelSpec", "get_model_spec", "DEFAULT_MODEL"]
