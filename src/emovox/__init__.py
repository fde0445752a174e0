"""emovox: speech emotion recognition from a file, a folder, or live from a microphone.

>>> import emovox
>>> model = emovox.load_model("model.emovox")          # doctest: +SKIP
>>> model.predict("clip.wav").label                    # doctest: +SKIP
'calm'
>>> model.process_file("call.flac", segment="vad").to_frame()   # doctest: +SKIP
"""

from .version import __version__  # noqa: E402
from .errors import AudioError, BundleError, DataError, EmovoxError, ParameterError  # noqa: E402
from .labels import EMOTIONS, SEED_EMOTIONS  # noqa: E402

_LAZY = {"load_model": "emovox.recognizer", "Recognizer": "emovox.recognizer", "Prediction": "emovox.results",
         "Predictions": "emovox.results", "FileError": "emovox.results"}


def __getattr__(name: str):
    """Import the processing API on first use, so that `emovox --help` starts fast."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emovox' has no attribute {name!r}")


__all__ = ["__version__", "load_model", "Recognizer", "Prediction", "Predictions", "FileError", "EMOTIONS",
           "SEED_EMOTIONS", "EmovoxError", "AudioError", "BundleError", "DataError", "ParameterError"]
