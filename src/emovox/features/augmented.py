"""Features of randomly degraded copies of clips: training-time augmentation, seeded and cached.

:class:`AugmentedCopy` wraps a feature set: its :meth:`~AugmentedCopy.transform` degrades
the clip with :func:`emovox.augment.training_degradation` and hands the result to the
wrapped set. The random draw is seeded by ``(seed, copy, the clip's samples)``, so copy
``c`` of a clip is the same audio in every run, in any process and in any order, and its
features live in the ordinary feature cache under their own key (the wrapped set's key,
the policy version, ``copy`` and ``seed``): a second training run reads them back.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .. import augment
from ..audio import Audio
from .base import FeatureSet


class AugmentedCopy(FeatureSet):
    """Copy number ``copy`` (0, 1, ...) of each clip, degraded, through ``base``.

    Args:
        base: the feature set the model uses.
        copy: which copy: copies with different numbers are drawn independently.
        seed: the augmentation seed (a model's seed by default).
    """

    version = augment.POLICY_VERSION
    min_seconds = 0.1

    def __init__(self, base: FeatureSet, *, copy: int, seed: int = 0) -> None:
        self.base = base
        self.copy = int(copy)
        self.seed = int(seed)
        self.name = f"{base.name}+augmented"
        self.min_seconds = base.min_seconds

    @property
    def params(self) -> dict:
        return {"base": self.base.key, "copy": self.copy, "seed": self.seed}

    @property
    def dim(self) -> int:
        return self.base.dim

    @property
    def assets(self) -> dict[str, bytes]:
        return self.base.assets

    @property
    def disk_cache(self) -> bool:
        return getattr(self.base, "disk_cache", True)

    @disk_cache.setter
    def disk_cache(self, value: bool) -> None:
        self.base.disk_cache = value

    def warm_up(self) -> None:
        self.base.warm_up()

    def rng(self, audio: Audio) -> np.random.Generator:
        """The generator for this clip's copy: from the seed, the copy number and the samples' bytes."""
        digest = hashlib.blake2b(np.ascontiguousarray(audio.samples, np.float32).tobytes(), digest_size=8).digest()
        return np.random.default_rng([self.seed, self.copy, int.from_bytes(digest, "little")])

    def degrade(self, audio: Audio) -> Audio:
        """The degraded copy of ``audio`` (mono float at its rate, or 8 kHz after a telephone channel)."""
        degraded, rate = augment.training_degradation(audio.samples, audio.rate, self.rng(audio))
        return Audio(degraded, rate, audio.name)

    def transform(self, audio: Audio) -> np.ndarray:
        return self.base.transform(self.degrade(audio))
