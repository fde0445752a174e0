"""On-disk feature cache keyed by audio content and feature-set key.

An entry is ``<cache>/features/<feature-set key>/<hh>/<content hash>.f32``: a
16-byte BLAKE2b digest of the payload followed by the float32 vector. An entry whose
digest or length does not match is treated as missing (and rewritten), never trusted.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..paths import atomic_write, cache_dir

_DIGEST = 16


def content_hash(data: bytes) -> str:
    """Hex BLAKE2b-128 of a file's bytes: the cache key's audio part."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class FeatureCache:
    """Feature vectors for one feature set, stored under ``root``.

    Args:
        key: the feature set's :attr:`~emovox.features.base.FeatureSet.key`.
        dim: vector length; entries of another length are ignored.
        root: cache folder (default :func:`emovox.paths.cache_dir`).
    """

    def __init__(self, key: str, dim: int, root: str | os.PathLike | None = None) -> None:
        self.folder = Path(root or cache_dir()) / "features" / key
        self.dim = dim

    def _path(self, audio_hash: str) -> Path:
        return self.folder / audio_hash[:2] / f"{audio_hash}.f32"

    def get(self, audio_hash: str) -> np.ndarray | None:
        """The cached vector, shape ``(dim,)`` float32, or ``None`` if absent or damaged."""
        try:
            blob = self._path(audio_hash).read_bytes()
        except OSError:
            return None
        digest, payload = blob[:_DIGEST], blob[_DIGEST:]
        if len(payload) != 4 * self.dim or hashlib.blake2b(payload, digest_size=_DIGEST).digest() != digest:
            return None
        vector = np.frombuffer(payload, dtype="<f4")
        return vector if np.all(np.isfinite(vector)) else None

    def put(self, audio_hash: str, vector: np.ndarray) -> None:
        """Store ``vector`` (shape ``(dim,)``) atomically (not fsynced: a damaged entry fails its checksum)."""
        payload = np.ascontiguousarray(vector, dtype="<f4").tobytes()
        atomic_write(self._path(audio_hash), hashlib.blake2b(payload, digest_size=_DIGEST).digest() + payload,
                     durable=False)
