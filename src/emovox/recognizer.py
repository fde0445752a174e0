"""The public prediction API: ``emovox.load_model(path).predict(path_or_array, rate=...)``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import audio as audio_io
from .errors import BundleError, ParameterError
from .features import FeatureSet, get_feature_set
from .models import bundle as bundle_io
from .paths import atomic_write, home_dir


@dataclass(frozen=True)
class Prediction:
    """One answer.

    Attributes:
        label: the most probable emotion.
        probabilities: emotion -> probability, in the model's label order; they sum to 1.
        source: the file name, or ``"<array>"``.
        start: start time within the source, seconds.
        end: end time within the source, seconds.
    """

    label: str
    probabilities: dict[str, float]
    source: str
    start: float
    end: float

    def to_dict(self) -> dict:
        return asdict(self)


class Recognizer:
    """A loaded model bundle with its feature set.

    Use :func:`load_model` to make one. Thread-safe for prediction.
    """

    def __init__(self, loaded: bundle_io.LoadedBundle) -> None:
        self.bundle = loaded
        fs = loaded.manifest["feature_set"]
        try:
            self.feature_set: FeatureSet = get_feature_set(fs["name"], fs["params"], version=fs.get("version"))
        except ParameterError as exc:
            raise BundleError(f"{loaded.path}: {exc}") from None
        if loaded.assets:
            self.feature_set.use_assets(loaded.assets)
        if self.feature_set.dim != fs["dim"]:
            raise BundleError(f"{loaded.path}: feature set {fs['name']!r} gives {self.feature_set.dim} values "
                              f"here but the model expects {fs['dim']}")

    @property
    def labels(self) -> list[str]:
        """The emotions this model tells apart."""
        return self.bundle.labels

    @property
    def info(self) -> dict:
        """The bundle's manifest: labels, feature set, model, training data, metrics, version."""
        return self.bundle.manifest

    @property
    def path(self) -> Path:
        return self.bundle.path

    def predict(self, source: str | os.PathLike | np.ndarray | audio_io.Audio, rate: int | None = None) -> Prediction:
        """Emotion of one recording.

        Args:
            source: an audio file path, an :class:`~emovox.audio.Audio`, or samples (shape
                ``(n,)`` or ``(n, channels)``, float in [-1, 1] or integer PCM) with ``rate``.
            rate: sample rate in Hz of ``source`` when it is an array.

        Raises:
            AudioError: the audio cannot be used (the message names it and says why).
        """
        audio = self._audio(source, rate)
        probs = self.bundle.probabilities(self.feature_set.transform(audio)[None, :])[0]
        return self._prediction(probs, audio.name, 0.0, audio.duration)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probabilities, shape ``(n, n_labels)``, for precomputed features of shape ``(n, dim)``."""
        return self.bundle.probabilities(features)

    def _audio(self, source, rate: int | None) -> audio_io.Audio:
        if isinstance(source, audio_io.Audio):
            return source
        if isinstance(source, np.ndarray):
            if rate is None:
                raise ParameterError("predict(array) needs rate=<sample rate in Hz>")
            return audio_io.from_array(source, rate)
        return audio_io.load(source)

    def _prediction(self, probs: np.ndarray, source: str, start: float, end: float) -> Prediction:
        labels = self.labels
        return Prediction(labels[int(np.argmax(probs))], {label: float(p) for label, p in zip(labels, probs)},
                          source, round(start, 4), round(end, 4))


def load_model(path: str | os.PathLike | None = None, *, threads: int = 1) -> Recognizer:
    """Load a model bundle (``.emovox``) for prediction.

    Args:
        path: the bundle; ``None`` loads the current model (the last one trained or chosen,
            see :func:`set_current_model`).
        threads: onnxruntime threads per prediction.

    Raises:
        BundleError: no such bundle, or it is damaged, tampered with or incompatible.
    """
    if path is None:
        path = current_model_path()
        if path is None:
            raise BundleError("no model given and no current model: pass --model FILE or run `emovox train`")
    return Recognizer(bundle_io.load(path, threads=threads))


def _settings_file() -> Path:
    return home_dir() / "settings.json"


def read_settings() -> dict:
    """The user's saved settings (current model, corpus folder, ...), ``{}`` if none."""
    try:
        data = json.loads(_settings_file().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_settings(**changes) -> None:
    """Merge ``changes`` into the saved settings (atomically)."""
    settings = read_settings() | changes
    atomic_write(_settings_file(), json.dumps(settings, indent=2).encode())


def current_model_path() -> Path | None:
    """The bundle :func:`load_model` uses when given none, if it still exists."""
    path = read_settings().get("current_model")
    return Path(path) if path and Path(path).is_file() else None


def set_current_model(path: str | os.PathLike) -> None:
    """Make ``path`` the model used when none is named."""
    write_settings(current_model=str(Path(path).resolve()))
