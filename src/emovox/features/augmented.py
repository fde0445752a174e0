"""Features of randomly degraded copies of clips: training-time augmentation, seeded and cached.

:class:`AugmentedCopy` wraps a feature set: its :meth:`~AugmentedCopy.transform` degrades
the clip with :func:`emovox.augment.training_degradation` and hands the result to the
wrapped set. The random draw is seeded by ``(seed, copy, the clip's samples)``, so copy
``c`` of a clip is the same audio in every run, in any process and in any order, and its
features live in the ordinary feature cache under their own key (the wrapped set's key,
the policy version, ``copy``, ``seed``, and with ``voices`` which recordings the babble is drawn
from): a second training run reads them back.

The babble in a copy is the clip's own voice re-pitched into several talkers, or, with ``voices``
(:func:`babble_voices`; a recipe's ``babble="speaker"``), other recordings of the clip's own speaker:
other words and other emotions in the same voice. Either way a copy never carries another
speaker's voice, so under any protocol that keeps a speaker's clips on one side, no test speaker
is heard in training.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .. import augment
from ..audio import Audio, load
from .base import FeatureSet


#: What a copy's babble can be made from (:func:`emovox.pipeline.load_dataset`'s ``babble``): the clip
#: itself, or other recordings of its speaker.
BABBLE_SOURCES = ("self", "speaker")


def babble_voices(recordings: Iterable[tuple[str | os.PathLike, str | None]]) -> dict[str, tuple[str, ...]]:
    """For each ``(path, speaker)``, the other paths of the same speaker (sorted): the recordings
    :class:`AugmentedCopy` draws a clip's babble from. Paths without a speaker get none."""
    by_speaker: dict[str, list[str]] = {}
    recordings = [(str(path), speaker) for path, speaker in recordings]
    for path, speaker in recordings:
        if speaker is not None:
            by_speaker.setdefault(speaker, []).append(path)
    return {path: tuple(sorted(p for p in by_speaker.get(speaker, []) if p != path)) if speaker is not None else ()
            for path, speaker in recordings}


class _Recordings(Sequence):
    """Recordings read (mono, at ``rate``) only when indexed: a copy uses a few of a speaker's many."""

    def __init__(self, paths: Sequence[str], rate: int) -> None:
        self.paths, self.rate = paths, rate

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        return load(self.paths[i], rate=self.rate).samples


class AugmentedCopy(FeatureSet):
    """Copy number ``copy`` (0, 1, ...) of each clip, degraded, through ``base``.

    Args:
        base: the feature set the model uses.
        copy: which copy: copies with different numbers are drawn independently.
        seed: the augmentation seed (a model's seed by default).
        voices: for each clip's path (as given to :func:`~emovox.features.extract_files`), the
            recordings its babble is drawn from (:func:`babble_voices`): the draw of
            :func:`emovox.augment.training_degradation` with ``voices``; a clip not in it, or
            with none, gets babble made from itself. ``None``: the plain draw, babble from the
            clip itself.
    """

    version = augment.POLICY_VERSION
    min_seconds = 0.1

    def __init__(self, base: FeatureSet, *, copy: int, seed: int = 0,
                 voices: Mapping[str, Sequence[str]] | None = None) -> None:
        self.base = base
        self.copy = int(copy)
        self.seed = int(seed)
        self.voices = None if voices is None else {str(k): tuple(v) for k, v in voices.items()}
        self.name = f"{base.name}+augmented"
        self.min_seconds = base.min_seconds
        self._voices_digest = None if self.voices is None else _digest(self.voices)

    @property
    def params(self) -> dict:
        params = {"base": self.base.key, "copy": self.copy, "seed": self.seed}
        if self.voices is not None:
            params |= {"babble": f"speaker v{augment.TALKERS_VERSION}", "voices": self._voices_digest}
        return params

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
        voices = None if self.voices is None else _Recordings(self.voices.get(str(audio.name), ()), audio.rate)
        degraded, rate = augment.training_degradation(audio.samples, audio.rate, self.rng(audio), voices)
        return Audio(degraded, rate, audio.name)

    def transform(self, audio: Audio) -> np.ndarray:
        return self.base.transform(self.degrade(audio))


def _digest(voices: Mapping[str, Sequence[str]]) -> str:
    """What the cache key holds of ``voices``: each clip's and voice's file name and size (not the folder,
    so a moved corpus keeps its cache; a file that changes size changes the key). Each file is looked at once."""
    paths = set(voices).union(*voices.values())
    sizes = {}
    for path in paths:
        try:
            sizes[path] = os.stat(path).st_size
        except OSError:
            sizes[path] = None
    entries = sorted([[Path(clip).name, sizes[clip]], [[Path(v).name, sizes[v]] for v in others]]
                     for clip, others in voices.items())
    return hashlib.blake2b(json.dumps(entries).encode(), digest_size=8).hexdigest()
