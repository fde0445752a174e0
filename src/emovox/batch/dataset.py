"""The output of a batch job: a Parquet dataset written part by part, and the plan that makes it resumable.

A job's output folder (local or an fsspec URL) holds:

- ``part-NNNNN-DIGEST.parquet``: the rows of one partition (a batch of inputs), in input order. ``DIGEST``
  is derived from the partition's inputs and the job (model, segmentation), so a part's name says what it
  holds. A worker writes it under a hidden temporary name (``.part-....tmp``) and the driver renames it into
  place, so a reader never sees half a part, and a task run twice (a retry, a worker thought dead) can
  never put a file in the output twice: only the first copy is renamed, the others are dropped.
  Each part's Parquet metadata (key ``emovox``) lists its inputs and its counts.
- ``_job.json``: the model (name, SHA-256), labels, segmentation, duration limit and columns. A re-run with
  another model or other options is refused rather than mixed in.
- ``_SUCCESS``: written when every input is in a part: a JSON summary (files, rows, segments, errors, audio
  hours, wall time, per-worker figures).

Readers (pandas, pyarrow, Spark, DuckDB) ignore names starting with ``_`` or ``.``, so
``pandas.read_parquet("results/")`` reads exactly the committed parts.

**The plan.** The inputs, in their order, are cut into batches of ``batch_files``; each batch is a partition
named by its position and its digest. A partition whose part exists is done. A part that is not in the plan
(the input list changed since it was written, or the batch size) is read for the inputs it covers, those are
taken out, and the rest is planned again, until every part on disk is either in the plan or accounted for;
so a file is never processed into two parts, whatever changed between runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .. import __version__
from ..errors import ParameterError
from .inputs import Input

#: Inputs per partition (one task, one part file) unless asked otherwise. 100 clips of ~4 s are ~5 s of work on
#: one core, against ~5 ms of Dask overhead per task (0.1 %, bench/batch.py); archives of millions of files want
#: more per part (fewer files in the output), archives of hour-long recordings fewer (shorter tasks to redo).
DEFAULT_BATCH_FILES = 100
JOB_FILE = "_job.json"
SUMMARY_FILE = "_SUCCESS"
META_KEY = b"emovox"
#: Fields of ``_job.json`` that must match for a re-run to add to an output.
JOB_KEYS = ("model_sha256", "labels", "segmentation", "max_duration_s", "columns", "uncertain_below")


@dataclass(frozen=True)
class Partition:
    """A batch of inputs that becomes one part file.

    Attributes:
        name: the part's file name (``part-00012-3f9a0c1b2d4e.parquet``).
        inputs: its inputs, in order.
    """

    name: str
    inputs: tuple[Input, ...]


def segmentation_text(plan) -> dict:
    """A segmentation (``None``, :class:`~emovox.segmentation.VoiceActivity`, ...) as JSON-ready data."""
    if plan is None:
        return {"kind": "whole"}
    return {"kind": type(plan).__name__, **dataclasses.asdict(plan)}


def job_digest(job: dict) -> str:
    """SHA-256 of the fields of ``job`` that define what a row means (:data:`JOB_KEYS`)."""
    key = json.dumps({k: job.get(k) for k in JOB_KEYS}, sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()


def plan_partitions(inputs: Sequence[Input], batch_files: int, digest: str) -> list[Partition]:
    """``inputs`` cut into partitions of ``batch_files``, each named by position and content.

    Raises:
        ParameterError: ``batch_files`` below 1.
    """
    if batch_files < 1:
        raise ParameterError(f"batch_files must be >= 1, got {batch_files}")
    count = (len(inputs) + batch_files - 1) // batch_files
    width = max(5, len(str(max(0, count - 1))))
    parts = []
    for n in range(count):
        batch = tuple(inputs[n * batch_files:(n + 1) * batch_files])
        h = hashlib.sha256(digest.encode())
        for item in batch:
            h.update(item.key().encode("utf-8", "surrogateescape"))
            h.update(b"\n")
        parts.append(Partition(f"part-{n:0{width}d}-{h.hexdigest()[:12]}.parquet", batch))
    return parts


def schedule(inputs: Sequence[Input], existing: Iterable[str], batch_files: int, digest: str,
             covered_by: Callable[[str], Iterable[str]]) -> tuple[list[Partition], list[Partition], set[str]]:
    """The partitions still to do, those already done, and the parts on disk outside the plan.

    Args:
        inputs: the job's inputs, in order.
        existing: names of the parts already in the output.
        covered_by: the input paths a part on disk holds (read from its metadata); called only for parts that
            are not in the plan.

    Returns:
        ``(todo, done, foreign)``: ``done`` are planned partitions whose part exists; ``foreign`` names the
        parts written by an earlier plan, whose inputs are left out of this one.
    """
    existing = set(existing)
    covered: set[str] = set()
    foreign: set[str] = set()
    while True:
        remaining = [i for i in inputs if i.path not in covered] if covered else list(inputs)
        parts = plan_partitions(remaining, batch_files, digest)
        names = {p.name for p in parts}
        new = sorted(existing - names - foreign)
        if not new:
            break
        for name in new:
            covered.update(covered_by(name))
            foreign.add(name)
    done = [p for p in parts if p.name in existing]
    todo = [p for p in parts if p.name not in existing]
    return todo, done, foreign


class Dataset:
    """An output folder (a local path or fsspec URL) holding a job's parts.

    Raises:
        ParameterError: the output is a file, or cannot be created.
    """

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.root = self.root.rstrip("/") or "/"
        if self.fs.isfile(self.root):
            raise ParameterError(f"{url}: is a file; --cluster writes a folder (a Parquet dataset): give a folder")
        try:
            self.fs.makedirs(self.root, exist_ok=True)
        except OSError as exc:
            raise ParameterError(f"{url}: cannot create the output folder ({exc.strerror or exc})") from None

    def path(self, name: str) -> str:
        """The full path (without protocol) of ``name`` in the folder."""
        return f"{self.root}/{name}" if self.root != "/" else f"/{name}"

    def prepare(self, job: dict) -> dict | None:
        """Check ``job`` against the one recorded in the folder, recording it if there is none.

        Returns:
            the recorded job, or ``None`` when this is the first run.

        Raises:
            ParameterError: the folder holds results of another model, segmentation or columns.
        """
        recorded = self.read_json(JOB_FILE)
        if recorded is None:
            self.write_json(JOB_FILE, job)
            return None
        differ = [k for k in JOB_KEYS if recorded.get(k) != job.get(k)]
        if differ:
            what = ", ".join(differ)
            raise ParameterError(f"{self.url}: holds results of another job (different {what}: model "
                                 f"{recorded.get('model')} sha256 {str(recorded.get('model_sha256'))[:12]}); "
                                 "write to a new --output, or delete this one to start again")
        return recorded

    def parts(self) -> set[str]:
        """Names of the committed parts."""
        try:
            listed = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return set()
        names = (p.rstrip("/").rsplit("/", 1)[-1] for p in listed)
        return {n for n in names if n.startswith("part-") and n.endswith(".parquet")}

    def commit(self, temp: str, part: str) -> bool:
        """Rename ``temp`` to ``part`` unless ``part`` exists already (then drop ``temp``); True if renamed.

        Raises:
            OSError: ``temp`` is gone, or the rename failed.
        """
        final = self.path(part)
        if self.fs.exists(final):
            self.fs.rm(temp)
            return False
        if _is_local(self.fs):
            os.replace(temp, final)
        else:
            self.fs.mv(temp, final)
        return True

    def part_info(self, part: str) -> dict:
        """What a part's metadata records: ``inputs`` (paths) and its counts (``files``, ``rows``, ...)."""
        import pyarrow.parquet as pq

        with self.fs.open(self.path(part), "rb") as f:
            meta = pq.read_metadata(f).metadata or {}
        if META_KEY not in meta:
            return {"inputs": [], "files": 0}
        return json.loads(meta[META_KEY])

    def read_json(self, name: str) -> dict | None:
        try:
            with self.fs.open(self.path(name), "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise ParameterError(f"{self.url}: {name} is damaged ({exc}); delete it to start again") from None

    def write_json(self, name: str, data: dict) -> None:
        """Write ``name`` atomically (a temporary name, then a rename)."""
        blob = (json.dumps(data, indent=2, default=str) + "\n").encode()
        temp = self.path(f".{name}.{uuid.uuid4().hex}.tmp")
        self.fs.pipe_file(temp, blob)
        if _is_local(self.fs):
            os.replace(temp, self.path(name))
        else:
            self.fs.mv(temp, self.path(name))

    def remove(self, name: str) -> None:
        try:
            self.fs.rm(self.path(name))
        except FileNotFoundError:
            pass

    def clean_temps(self) -> int:
        """Delete left-over temporary files (of tasks that ran twice, or of a run that was stopped); how many."""
        removed = 0
        try:
            listed = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return 0
        for path in listed:
            name = path.rstrip("/").rsplit("/", 1)[-1]
            if name.startswith((".part-", "._")) and name.endswith(".tmp"):
                try:
                    self.fs.rm(path)
                    removed += 1
                except FileNotFoundError:
                    pass
        return removed


def new_job(model_id: str, sha256: str, labels: Sequence[str], plan, max_duration_s: float | None,
            columns: Sequence[str], batch_files: int, uncertain_below: float = 0.5) -> dict:
    """The ``_job.json`` of a job."""
    return {"model": model_id, "model_sha256": sha256, "labels": list(labels),
            "segmentation": segmentation_text(plan), "max_duration_s": max_duration_s, "columns": list(columns),
            "uncertain_below": uncertain_below,
            "batch_files": batch_files, "emovox": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _is_local(fs) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


__all__ = ["Partition", "Dataset", "plan_partitions", "schedule", "new_job", "job_digest", "segmentation_text",
           "DEFAULT_BATCH_FILES", "SUMMARY_FILE", "JOB_FILE"]
