"""The feature-set interface and the registry of feature sets by name."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from ..audio import Audio, require_duration, resample, trim_silence
from ..errors import ParameterError
from ..registry import Registry


class FeatureSet(ABC):
    """Turns an :class:`~emovox.audio.Audio` into a fixed-length float32 vector.

    Subclasses set ``name``, ``version`` (bump it whenever values change) and
    ``min_seconds``; their keyword-only ``__init__`` arguments are the parameters.
    """

    name: ClassVar[str]
    version: ClassVar[int]
    #: Shortest audio, in seconds, the feature set accepts.
    min_seconds: ClassVar[float] = 0.1
    #: The feature set cuts the audio at the speech detector's bounds
    #: (:func:`emovox.speech_presence.speech_bounds`), so a speech check before it runs the detector in full.
    cuts_at_speech: ClassVar[bool] = False

    @property
    @abstractmethod
    def params(self) -> dict:
        """The parameters that change the values, JSON-serialisable."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of the vector :meth:`transform` returns."""

    @abstractmethod
    def transform(self, audio: Audio) -> np.ndarray:
        """Features of one recording, float32, shape ``(dim,)``."""

    @property
    def names(self) -> list[str]:
        """A name per dimension, for reports."""
        return [f"{self.name}_{i}" for i in range(self.dim)]

    @property
    def key(self) -> str:
        """A string that changes whenever the values could: name, version, parameters and the SHA-256
        of every asset, by name (so features of a bundle's own encoder never share cache entries
        with another encoder's).

        The digests are memoised on the instance while :attr:`assets` returns the same bytes
        objects: a whisper encoder (16 MB) is hashed once, and again after :meth:`use_assets`
        swaps it. While :attr:`assets` itself runs (whisper names its on-disk encoder copy by
        this key) the key leaves the assets out, as for a feature set without any.
        """
        import threading

        identity = {"name": self.name, "version": self.version, "params": self.params}
        keying = self.__dict__.setdefault("_key_threads", set())  # threads computing assets for the key
        if threading.get_ident() not in keying:
            keying.add(threading.get_ident())
            try:
                assets = self.assets
            finally:
                keying.discard(threading.get_ident())
            memo = self.__dict__.get("_key_assets")  # (the bytes objects hashed, their digests)
            if memo is None or memo[0].keys() != assets.keys() or any(memo[0][n] is not assets[n] for n in assets):
                # holding the hashed bytes objects keeps their identity meaningful for the next comparison
                memo = self.__dict__["_key_assets"] = (
                    dict(assets), {name: hashlib.sha256(assets[name]).hexdigest() for name in sorted(assets)})
            if memo[1]:
                identity["assets"] = memo[1]
        blob = json.dumps(identity, sort_keys=True)
        return f"{self.name}-v{self.version}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"

    @property
    def assets(self) -> dict[str, bytes]:
        """Files a model bundle must carry for this feature set to run (e.g. an encoder ONNX); none by default."""
        return {}

    def use_assets(self, assets: dict[str, bytes]) -> None:
        """Take the files :attr:`assets` named, as read back from a bundle."""

    def warm_up(self) -> None:
        """Compile any JIT (numba) kernels now, in this process.

        :func:`~emovox.features.extract_files` calls it before forking its workers, so
        they inherit compiled kernels instead of compiling them at the same time and
        writing numba's on-disk cache concurrently (which can leave it corrupt).
        Nothing to do by default.
        """

    def describe(self) -> dict:
        """What a bundle records to rebuild this feature set."""
        return {"name": self.name, "version": self.version, "params": self.params, "dim": self.dim}


class SpeechFeatureSet(FeatureSet):
    """A feature set computed from the speech in a clip, at a fixed rate.

    :meth:`speech` checks the duration, resamples to :attr:`rate` and cuts leading
    and trailing stretches quieter than ``trim_db`` below the peak (``0`` keeps them);
    ``trim_db`` is the parameter every such set shares.
    """

    #: The rate, Hz, the features are computed at.
    rate: ClassVar[int] = 16000

    def __init__(self, *, trim_db: float = 35.0) -> None:
        self.trim_db = trim_db

    @property
    def params(self) -> dict:
        return {"trim_db": self.trim_db}

    def speech(self, audio: Audio) -> Audio:
        """``audio`` at :attr:`rate`, silence trimmed; raises :class:`~emovox.errors.AudioError` if too short."""
        require_duration(audio, self.min_seconds, f"feature set {self.name!r}")
        speech = resample(audio, self.rate)
        return trim_silence(speech, top_db=self.trim_db) if self.trim_db else speech


#: The feature sets, by name.
FEATURE_SETS: Registry[type[FeatureSet]] = Registry("feature set")


#: Families of feature sets named by a pattern rather than one by one: each takes a name and answers
#: ``(class, parameters the name implies)``, or ``None`` when the name is not one of its own.
FAMILIES: list[Callable[[str], tuple[type[FeatureSet], dict] | None]] = []


def register(cls: type[FeatureSet]) -> type[FeatureSet]:
    """Class decorator adding a feature set to :data:`FEATURE_SETS` under ``cls.name``."""
    return FEATURE_SETS.register(cls.name)(cls)


def available() -> list[str]:
    """Names of the registered feature sets."""
    return sorted(FEATURE_SETS)


def get_feature_set(name: str, params: dict | None = None, *, version: int | None = None) -> FeatureSet:
    """Build the feature set ``name`` with ``params``; check ``version`` if given (as a bundle does)."""
    cls = None
    if name not in FEATURE_SETS:
        for family in FAMILIES:  # e.g. whisper-<size>[-vad]: any Whisper checkpoint found locally
            if (found := family(name)) is not None:
                cls, defaults = found
                params = defaults | (params or {})
                break
    if cls is None:
        cls = FEATURE_SETS.get(name)
    if version is not None and version != cls.version:
        raise ParameterError(f"feature set {name!r} is version {cls.version} here, the model needs version "
                             f"{version}: install the emovox version that trained it, or retrain")
    try:
        return cls(**(params or {}))
    except TypeError as exc:
        raise ParameterError(f"feature set {name!r}: {exc}") from None
