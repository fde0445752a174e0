"""On-disk feature cache keyed by audio content and feature-set key.

An entry is ``<cache>/features/<feature-set key>/<hh>/<content hash>.f32``: a
16-byte BLAKE2b digest of the payload followed by the float32 vector. An entry whose
digest or length does not match is treated as missing (and rewritten), never trusted.

The cache is an optimisation, never a point of failure: a cache folder that is a file,
read-only or on a full disk, or an entry that is a folder, a FIFO or a device, gives one
:class:`~emovox.errors.CacheWarning` per :class:`FeatureCache` and the run goes on
computing what it cannot read or write. Entries are opened without blocking and read only
if they are regular files of the expected length.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
import warnings
from pathlib import Path

import numpy as np

from ..errors import CacheWarning
from ..paths import atomic_write, cache_dir, clean_stale_temporaries

_DIGEST = 16
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_SHARD = re.compile(r"[0-9a-f]{2}")

# Feature-set folders whose stale temporaries this process has already removed.
_CLEANED: set[Path] = set()
_CLEANED_LOCK = threading.Lock()


def content_hash(data: bytes) -> str:
    """Hex BLAKE2b-128 of a file's bytes: the cache key's audio part."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class FeatureCache:
    """Feature vectors for one feature set, stored under ``root``.

    Creating the first cache for a folder in a process removes the temporary files that
    writers killed mid-write left there more than an hour ago
    (:func:`~emovox.paths.clean_stale_temporaries`, on the folder and its ``hh`` subfolders).

    Args:
        key: the feature set's :attr:`~emovox.features.base.FeatureSet.key`.
        dim: vector length; entries of another length are ignored.
        root: cache folder (default :func:`emovox.paths.cache_dir`).
        warn: give a :class:`~emovox.errors.CacheWarning` at the first problem (worker processes
            pass ``False`` and hand :attr:`problem` back to the process that reports it).

    Attributes:
        problem: the first problem met (one line), or ``None``.
    """

    def __init__(self, key: str, dim: int, root: str | os.PathLike | None = None, *, warn: bool = True) -> None:
        self.folder = Path(root or cache_dir()) / "features" / key
        self.dim = dim
        self.warn = warn
        self.problem: str | None = None
        self._readable = True
        self._writable = True
        self._clean_once()

    def _path(self, audio_hash: str) -> Path:
        return self.folder / audio_hash[:2] / f"{audio_hash}.f32"

    def _clean_once(self) -> None:
        with _CLEANED_LOCK:
            if self.folder in _CLEANED:
                return
            _CLEANED.add(self.folder)
        clean_stale_temporaries(self.folder)
        try:
            with os.scandir(self.folder) as entries:
                shards = [e.path for e in entries if _SHARD.fullmatch(e.name) and e.is_dir(follow_symlinks=False)]
        except OSError:
            return
        for shard in shards:
            clean_stale_temporaries(shard)

    def trouble(self, problem: str) -> None:
        """Record ``problem`` (one line); the first one of this cache gives a :class:`CacheWarning`."""
        if self.problem is not None:
            return
        self.problem = problem
        if self.warn:
            warnings.warn(f"feature cache {self.folder}: {problem}; going on without it", CacheWarning, stacklevel=3)

    def get(self, audio_hash: str) -> np.ndarray | None:
        """The cached vector, shape ``(dim,)`` float32, or ``None`` if absent, damaged or unreadable."""
        if not self._readable:
            return None
        path = self._path(audio_hash)
        try:
            fd = os.open(path, os.O_RDONLY | _NONBLOCK)  # never blocks, even on a FIFO
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._readable = False
            self.trouble(f"cannot read {path.name} ({exc.strerror or exc})")
            return None
        size = _DIGEST + 4 * self.dim
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                self.trouble(f"{path} is not a regular file; ignored")
                return None
            if info.st_size != size:
                return None  # damaged: recomputed and rewritten
            blob = b""
            while len(blob) < size and (chunk := os.read(fd, size - len(blob))):
                blob += chunk
        except OSError as exc:
            self._readable = False
            self.trouble(f"cannot read {path.name} ({exc.strerror or exc})")
            return None
        finally:
            os.close(fd)
        digest, payload = blob[:_DIGEST], blob[_DIGEST:]
        if len(payload) != 4 * self.dim or hashlib.blake2b(payload, digest_size=_DIGEST).digest() != digest:
            return None
        vector = np.frombuffer(payload, dtype="<f4")
        return vector if np.all(np.isfinite(vector)) else None

    def put(self, audio_hash: str, vector: np.ndarray) -> None:
        """Store ``vector`` (shape ``(dim,)``) atomically (not fsynced: a damaged entry fails its checksum).

        Never raises: when the cache cannot be written (read-only, full disk, not a folder) this
        cache stops writing; an entry that is a folder is left alone.
        """
        if not self._writable:
            return
        path = self._path(audio_hash)
        payload = np.ascontiguousarray(vector, dtype="<f4").tobytes()
        try:
            atomic_write(path, hashlib.blake2b(payload, digest_size=_DIGEST).digest() + payload, durable=False)
        except IsADirectoryError:
            self.trouble(f"{path} is a folder, not a cache entry; left alone")
        except OSError as exc:
            self._writable = False
            self.trouble(f"cannot write ({exc.strerror or exc})")
