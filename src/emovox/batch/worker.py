"""What runs on a Dask worker: the model, loaded once per process, and one task per partition.

The bundle travels as bytes inside a :class:`ModelPlugin` (a Dask ``WorkerPlugin``): the scheduler
hands it to every worker once, including workers that join or restart later. On each worker process
it is checked against its SHA-256, written to a temporary file, loaded and verified with
:func:`emovox.load_model` like any bundle, and cached by checksum; every task of the job then uses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import AudioError, BundleError, ParameterError
from .inputs import Input, is_url

#: Loaded models of this process, by bundle SHA-256.
_MODELS: dict = {}
_USERS: dict[str, int] = {}
_LOCK = threading.Lock()
#: How many times this process has loaded a bundle (one per model: checked by the tests).
LOADS = {"count": 0}
#: Error lines a task sends back for the report (the part has them all).
ERROR_SAMPLES = 5
#: Rows a task holds before writing them to its part as a row group (memory stays bounded per task).
ROWS_PER_GROUP = 4096


@dataclass(frozen=True)
class PartTask:
    """One partition to process on a worker.

    Attributes:
        part: the part file's name.
        inputs: the partition's inputs, in order.
        folder: the output folder's path on its file system: the part is written there under a hidden name
            unique to this run of the task (a retry writes another), which the driver renames.
        output: the output folder's URL (for the file system).
        model_id, model_sha256: the bundle's name and checksum (both become columns).
        segment: the segmentation (:mod:`emovox.segmentation`).
        max_duration_s: longer inputs are refused, seconds.
        schema: the part's Arrow schema.
        extra_columns: the names of the inputs' extra values (a manifest's columns), in order.
        uncertain_below: rows whose top probability is below this are flagged ``uncertain``.
    """

    part: str
    inputs: tuple[Input, ...]
    folder: str
    output: str
    model_id: str
    model_sha256: str
    segment: object
    max_duration_s: float | None
    schema: object
    extra_columns: tuple[str, ...] = ()
    uncertain_below: float = 0.5


try:
    from distributed.diagnostics.plugin import WorkerPlugin as _PluginBase
except ImportError:  # the cluster extra is not installed: the plugin is never used then
    _PluginBase = object


class ModelPlugin(_PluginBase):
    """Ship a bundle's bytes to every worker and load it there once per process.

    Args:
        data: the bundle file's bytes.
        sha256: their SHA-256 (hex).
        name: the bundle's file name (what messages call it).
    """

    idempotent = False

    def __init__(self, data: bytes, sha256: str, name: str) -> None:
        self.data = data
        self.sha256 = sha256
        self.name = name

    async def setup(self, worker) -> None:
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, self.acquire, worker.local_directory)

    def teardown(self, worker) -> None:
        release(self.sha256)

    def acquire(self, folder: str | None = None) -> None:
        """Load the bundle in this process unless loaded already; count one more user of it."""
        with _LOCK:
            if self.sha256 not in _MODELS:
                _MODELS[self.sha256] = load_bytes(self.data, self.sha256, self.name, folder)
            _USERS[self.sha256] = _USERS.get(self.sha256, 0) + 1


def load_bytes(data: bytes, sha256: str, name: str, folder: str | None = None):
    """A :class:`~emovox.recognizer.Recognizer` from a bundle's bytes, verified like a bundle file.

    Raises:
        BundleError: the bytes do not match ``sha256``, or the bundle does not load.
    """
    from threadpoolctl import threadpool_limits

    from ..errors import LowRateWarning
    from ..recognizer import load_model

    if hashlib.sha256(data).hexdigest() != sha256:
        raise BundleError(f"{name}: the bundle's bytes changed on the way to the worker (SHA-256 differs)")
    with tempfile.TemporaryDirectory(prefix="emovox-model-", dir=folder) as tmp:
        path = Path(tmp) / (Path(name).name or "model.emovox")
        path.write_bytes(data)
        model = load_model(path)
    threadpool_limits(1)  # one task per worker thread: BLAS threads would only compete
    warnings.filterwarnings("ignore", category=LowRateWarning)  # counted per file instead (notes)
    LOADS["count"] += 1
    return model


def load_count() -> int:
    """How many bundles this process has loaded (``client.run(load_count)`` asks every worker)."""
    return LOADS["count"]


def release(sha256: str) -> None:
    """One user of a model fewer; the last one drops it."""
    with _LOCK:
        left = _USERS.get(sha256, 0) - 1
        if left <= 0:
            _USERS.pop(sha256, None)
            _MODELS.pop(sha256, None)
        else:
            _USERS[sha256] = left


def model_for(sha256: str):
    """The loaded model with this checksum.

    Raises:
        BundleError: the job's plugin did not reach this worker.
    """
    model = _MODELS.get(sha256)
    if model is None:
        raise BundleError(f"model {sha256[:12]} is not loaded on this worker (its plugin was not registered)")
    return model


def run_partition(task: PartTask) -> dict:
    """Process a partition's inputs and write its part under a unique hidden name; return its counts.

    A file that cannot be used becomes a row with its error; only a failure to write the part raises.

    Returns:
        ``{"part", "temp", "files", "rows", "segments", "errors", "notes", "audio_s", "work_s", "worker",
        "pid", "peak_rss_mib"}``: seconds, mebibytes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..output import error_record, safe_text

    started = time.perf_counter()
    model = model_for(task.model_sha256)
    labels = model.labels
    counts = {"files": 0, "rows": 0, "segments": 0, "errors": 0, "notes": 0, "audio_s": 0.0}
    samples: list[tuple[str, str]] = []
    pending: list[dict] = []
    temp = f"{task.folder.rstrip('/')}/.{task.part}.{uuid.uuid4().hex}.tmp"
    with _filesystem(task.output).open(temp, "wb") as handle:
        writer = pq.ParquetWriter(handle, task.schema)
        for item in task.inputs:
            found, audio_s = _process(model, item, task)
            counts["files"] += 1
            counts["notes"] += len(found.notes)
            counts["audio_s"] += audio_s
            tail = {"model": task.model_id, "model_sha256": task.model_sha256,
                    **dict(zip(task.extra_columns, item.extras))}
            for row in found:
                record = row.to_record()
                record["file"] = safe_text(record["file"])
                record["error"] = None
                pending.append({**record, **tail})
                counts["rows"] += 1
                counts["segments"] += str(row.kind) != "whole"
            for error in found.errors:
                pending.append({**error_record(error, labels), **tail})
                counts["errors"] += 1
                if len(samples) < ERROR_SAMPLES:
                    samples.append((safe_text(error.path), error.problem))
            if len(pending) >= ROWS_PER_GROUP:  # rows leave memory as they come: a partition of long files fits
                writer.write_table(pa.Table.from_pylist(pending, schema=task.schema))
                pending = []
        if pending:
            writer.write_table(pa.Table.from_pylist(pending, schema=task.schema))
        meta = {"part": task.part, "inputs": [i.path for i in task.inputs], **counts,
                "work_s": round(time.perf_counter() - started, 4)}
        writer.add_key_value_metadata({"emovox": json.dumps(meta)})
        writer.close()
    work_s = time.perf_counter() - started
    return {"part": task.part, "temp": temp, **counts, "work_s": work_s, "error_samples": samples,
            "worker": _worker_address(), "pid": os.getpid(),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _process(model, item: Input, task: PartTask):
    """``(Predictions, audio seconds)`` of one input.

    A file that cannot be read or decoded, or that makes the model's code fail, is an error row; only a
    configuration problem (a :class:`~emovox.errors.ParameterError` or :class:`~emovox.errors.BundleError`:
    the same for every file, such as a detector missing on this worker) raises, so that the task fails
    and a re-run, once it is fixed, does these files.
    """
    from ..results import FileError, Predictions

    if item.error is not None:
        return Predictions(errors=[FileError(item.path, item.error)], labels=model.labels), 0.0
    options = {"segment": task.segment, "max_duration_s": task.max_duration_s}
    model.uncertain_below = task.uncertain_below  # one worker thread: the job's threshold for its rows
    try:
        if not is_url(item.path):
            found = model.process_file(item.path, **options)
            return found, (_duration_s(item.path, task.max_duration_s) if len(found) else 0.0)
        import fsspec

        fs, path = fsspec.core.url_to_fs(item.path)
        if _is_local(fs):
            found = model.process_file(path, name=item.path, **options)
            return found, (_duration_s(path, task.max_duration_s) if len(found) else 0.0)
        with fs.open(path, "rb") as f:
            seconds = _duration_s(f, task.max_duration_s)
            f.seek(0)
            found = model.process_file(f, name=item.path, **options)
        return found, (seconds if len(found) else 0.0)
    except (ParameterError, BundleError):
        raise
    except AudioError as exc:
        problem = exc.problem
    except FileNotFoundError:
        problem = "no such file"
    except IsADirectoryError:
        problem = "is a folder, not an audio file"
    except OSError as exc:
        problem = f"cannot read ({exc.strerror or exc})"
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop a job of millions
        problem = f"failed to process ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
    return Predictions(errors=[FileError(item.path, problem)], labels=model.labels), 0.0


def _duration_s(source, max_duration_s: float | None) -> float:
    """Seconds of audio the header claims (0 if unreadable), at most ``max_duration_s``."""
    import soundfile as sf

    try:
        info = sf.info(source)
        seconds = info.frames / info.samplerate if info.samplerate else 0.0
    except Exception:  # noqa: BLE001 - a header we cannot read counts no audio
        return 0.0
    return min(seconds, max_duration_s) if max_duration_s else seconds


_FILESYSTEMS: dict = {}


def _filesystem(url: str):
    fs = _FILESYSTEMS.get(url)
    if fs is None:
        import fsspec

        fs = _FILESYSTEMS[url] = fsspec.core.url_to_fs(url)[0]
    return fs


def _is_local(fs) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


__all__ = ["ModelPlugin", "PartTask", "run_partition", "load_bytes", "model_for", "load_count"]
