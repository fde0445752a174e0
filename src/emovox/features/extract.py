"""Features of many files: cached, in parallel processes, with a progress bar; bad files reported, not fatal.

Only regular files are read (a FIFO or a device is reported, never opened). The cache never
stops a run: its problems give one :class:`~emovox.errors.CacheWarning`, from this process
even when a worker met them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ..audio import check_file, decode
from ..errors import AudioError
from .base import FeatureSet
from .cache import FeatureCache, content_hash


@dataclass
class Extraction:
    """What :func:`extract_files` returns.

    Attributes:
        features: float32, shape ``(n_ok, dim)``, rows in the order of ``ok``.
        ok: indices into the input paths of the files that gave features.
        errors: ``(path, problem)`` for every file that did not.
        cached: how many rows came from the cache.
    """

    features: np.ndarray
    ok: list[int]
    errors: list[tuple[str, str]] = field(default_factory=list)
    cached: int = 0


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _one(path: str, feature_set: FeatureSet, cache: FeatureCache | None, digest: str | None = None,
         data: bytes | None = None) -> tuple[np.ndarray | None, str | None, bool]:
    """(vector, error, from_cache) for one file; ``digest`` is its content hash if already known (a miss),
    ``data`` its bytes if already read."""
    if data is None:
        try:
            data = check_file(path).read_bytes()
        except AudioError as exc:
            return None, str(exc), False
        except OSError as exc:
            problem = "no such file" if isinstance(exc, FileNotFoundError) else f"cannot read ({exc.strerror or exc})"
            return None, f"{path}: {problem}", False
    if cache and digest is None:
        digest = content_hash(data)
        if (hit := cache.get(digest)) is not None:
            return hit, None, True
    try:
        vector = feature_set.transform(decode(data, name=path))
    except AudioError as exc:
        return None, str(exc), False
    if cache:
        cache.put(digest, vector)
    return vector, None, False


_WORKER: dict = {}


def _init_worker(feature_set: FeatureSet, key: str, cache_root: str | None, use_cache: bool) -> None:
    # one BLAS / OpenMP thread per worker: the workers already use every core
    _WORKER["limits"] = threadpool_limits(1)
    _WORKER["fs"] = feature_set
    # the key comes from the parent (hashing the feature set's assets again would cost each worker);
    # problems go back with each result and the parent warns, once
    _WORKER["cache"] = FeatureCache(key, feature_set.dim, cache_root, warn=False) if use_cache else None


def _work(task: tuple[str, str | None]) -> tuple[np.ndarray | None, str | None, bool, str | None]:
    """``_one``'s answer and the worker cache's first problem (or ``None``)."""
    cache = _WORKER["cache"]
    return *_one(task[0], _WORKER["fs"], cache, task[1]), (cache.problem if cache else None)


def extract_files(paths: Sequence[str | os.PathLike], feature_set: FeatureSet, *, jobs: int | None = None,
                  use_cache: bool = True, cache_root: str | os.PathLike | None = None,
                  progress: bool = True) -> Extraction:
    """Compute ``feature_set`` for every file, reading the cache first.

    Args:
        paths: audio files.
        feature_set: what to compute.
        jobs: worker processes (default: all cores; 1 runs in this process).
        use_cache: read and write the on-disk cache.
        cache_root: cache folder (default :func:`emovox.paths.cache_dir`).
        progress: show a progress bar (files per second) on stderr.
    """
    names = [str(p) for p in paths]
    jobs = min(jobs or default_jobs(), max(1, len(names)))
    key = feature_set.key if use_cache else ""
    cache = FeatureCache(key, feature_set.dim, cache_root) if use_cache else None
    bar = tqdm(total=len(names), desc=f"features {feature_set.name}", unit="file", disable=not progress,
               leave=False, dynamic_ncols=True)
    results: list = [None] * len(names)
    parallel = jobs > 1 and len(names) > jobs
    pool: ProcessPoolExecutor | None = None
    futures: dict = {}
    try:
        # Files are read, hashed and looked up here; in parallel runs each miss goes to a worker
        # at once, so the workers compute while this process goes on hashing (a warm run starts
        # no worker); otherwise a miss is computed here from the bytes already read.
        with threadpool_limits(1):  # small matrices: threads cost more than they give
            for i, name in enumerate(names):
                data = digest = None
                if cache is not None:
                    try:
                        data = check_file(name).read_bytes()
                    except (AudioError, OSError):
                        pass  # _one reports it
                    else:
                        digest = content_hash(data)
                        if (hit := cache.get(digest)) is not None:
                            results[i] = (hit, None, True)
                            bar.update()
                            continue
                if not parallel:
                    results[i] = _one(name, feature_set, cache, digest, data)
                    bar.update()
                    continue
                if pool is None:
                    feature_set.warm_up()  # the forked workers inherit compiled kernels
                    pool = ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(
                        feature_set, key, str(cache_root) if cache_root else None, use_cache))
                futures[pool.submit(_work, (name, digest))] = i
        for future in as_completed(futures):
            vector, error, cached, problem = future.result()
            results[futures[future]] = (vector, error, cached)
            if problem and cache is not None:
                cache.trouble(f"{problem} (in a worker process)")
            bar.update()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    bar.close()
    ok = [i for i, r in enumerate(results) if r[0] is not None]
    features = (np.stack([results[i][0] for i in ok]).astype(np.float32, copy=False)
                if ok else np.zeros((0, feature_set.dim), np.float32))
    return Extraction(features, ok, [(names[i], r[1]) for i, r in enumerate(results) if r[0] is None],
                      sum(1 for r in results if r[2]))

