"""emovox: speech emotion recognition from a file, a folder, or live from a microphone.

>>> import emovox
>>> model = emovox.load_model("model.emovox")          # doctest: +SKIP
>>> model.predict("clip.wav").label                    # doctest: +SKIP
'calm'
"""

__version__ = "0.1.0"

from .errors import AudioError, BundleError, DataError, EmovoxError, ParameterError  # noqa: E402
from .labels import EMOTIONS, SEED_EMOTIONS  # noqa: E402

_LAZY = {"load_model", "Recognizer", "Prediction"}


def __getattr__(name: str):
    """Import the prediction API on first use, so that `emovox --help` starts fast."""
    if name in _LAZY:
        from . import recognizer

        return getattr(recognizer, name)
    raise AttributeError(f"module 'emovox' has no attribute {name!r}")

__all__ = ["__version__", "load_model", "Recognizer", "Prediction", "EMOTIONS", "SEED_EMOTIONS",
           "EmovoxError", "AudioError", "BundleError", "DataError", "ParameterError"]
