"""The driver of a batch job: plan the partitions, run them as Dask tasks, commit each part, summarise.

>>> result = run_batch(["archive/"], "model.emovox", "results/", cluster="local:4", progress=True)  # doctest: +SKIP
>>> result.files, result.errors, result.audio_s / 3600                                           # doctest: +SKIP

The same call on the same output resumes: partitions whose part exists are skipped. A task that fails
(a worker died, the output could not be written) is retried by Dask (``retries``; a worker's death is
rescheduled by Dask itself); a partition that still fails is reported, and a re-run tries it again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import ParameterError
from .dataset import DEFAULT_BATCH_FILES, SUMMARY_FILE, Dataset, Partition, job_digest, new_job, schedule
from .inputs import MODEL_COLUMNS, Inputs, as_text, resolve_inputs

#: Default duration limit per input, seconds (as ``emovox predict --max-duration``).
DEFAULT_MAX_DURATION_S = 4 * 3600.0
#: Tasks kept submitted per worker thread (more are submitted as these finish), so that the scheduler holds a
#: bounded number of tasks whatever the archive's size.
TASKS_PER_THREAD = 4
#: Error lines kept for the report (the output has them all, in its ``error`` column).
ERROR_SAMPLES = 20


@dataclass
class BatchResult:
    """What a batch run did.

    Attributes:
        output: the output folder.
        files, rows, segments, errors, audio_s: totals over the whole output (also parts of earlier runs);
            ``segments`` counts rows that are not ``whole``; ``audio_s`` in seconds.
        parts: partitions in the plan; ``parts_skipped`` were done already, ``parts_written`` by this run.
        failed: ``(part, problem)`` for each partition that failed even after retries.
        interrupted: the run was stopped (Ctrl-C) before the end.
        complete: every input is in the output (``_SUCCESS`` was written).
        wall_s: seconds this run took.
        summary: the ``_SUCCESS`` summary (``None`` unless complete).
        error_samples: some ``(file, problem)`` of this run's error rows.
        notes: lines for the user (renamed manifest columns, dropped earlier parts).
    """

    output: str
    files: int = 0
    rows: int = 0
    segments: int = 0
    errors: int = 0
    audio_s: float = 0.0
    parts: int = 0
    parts_skipped: int = 0
    parts_written: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    complete: bool = False
    wall_s: float = 0.0
    summary: dict | None = None
    error_samples: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run_batch(sources: Iterable[str | os.PathLike], model: str | os.PathLike, output: str | os.PathLike, *,
              segment=None, max_duration_s: float | None = DEFAULT_MAX_DURATION_S,
              batch_files: int = DEFAULT_BATCH_FILES, cluster: str | None = None, workers: int | None = None,
              client=None,
              progress: bool = False, retries: int = 2, on_part: Callable[[dict], None] | None = None,
              log: Callable[[str], None] | None = None, uncertain_below: float = 0.5) -> BatchResult:
    """Process every input of ``sources`` on a Dask cluster into the Parquet dataset ``output``.

    Args:
        sources: folders, glob patterns, manifests (CSV/Parquet with a ``path`` column) and files; local paths
            or fsspec URLs (:func:`~emovox.batch.inputs.resolve_inputs`).
        model: the bundle file.
        output: the output folder (local or an fsspec URL every worker can write).
        segment: ``None`` (one row per file), ``"vad"``, ``"windows"``, ``"auto"`` or a segmentation object, as
            :meth:`~emovox.Recognizer.process_files` takes it (``emovox predict``'s default is ``"auto"``).
        max_duration_s: refuse inputs longer than this, seconds.
        batch_files: inputs per partition (one task, one part file).
        cluster: a scheduler address (``tcp://host:8786``), or ``local`` / ``local:N`` for a local cluster of N
            worker processes (default: ``workers``, else one per core); ignored when ``client`` is given.
        workers: worker processes of ``cluster="local"``.
        client: a connected :class:`distributed.Client` to use (it is left open).
        progress: show a progress bar on stderr (files, audio hours, errors, rate).
        retries: times Dask retries a task that raised.
        on_part: called with each committed part's counts (tests, custom progress).
        log: called with lines for the user (the dashboard link, notes).
        uncertain_below: rows whose top probability is below this are flagged ``uncertain``.

    Returns:
        :class:`BatchResult`; an interrupted run (Ctrl-C) returns with ``interrupted=True``.

    Raises:
        ParameterError: a bad option, an output holding another job's results, or no cluster at ``cluster``.
        DataError: a manifest that cannot be used.
        BundleError: the model does not load (here or on a worker).
    """
    from ..recognizer import load_model
    from ..segmentation import resolve

    segment = pin_vad(resolve(segment))
    started = time.perf_counter()
    say = log or (lambda text: None)
    require_cluster_extra()
    output = as_text(output)
    model_path = Path(model)
    recognizer = load_model(model_path)  # verified here first: a bad bundle stops the job before it starts
    data = model_path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    model_id = model_path.name
    found: Inputs = resolve_inputs(sources)
    schema = _schema(recognizer.labels, found.fields)
    job = new_job(model_id, sha256, recognizer.labels, segment, max_duration_s, schema.names, batch_files,
                  uncertain_below)
    dataset = Dataset(output)
    dataset.prepare(job)
    digest = job_digest(job)
    todo, done, foreign = schedule(found.items, dataset.parts(), batch_files, digest,
                                   lambda name: dataset.part_info(name).get("inputs", []))
    result = BatchResult(output, parts=len(todo) + len(done), parts_skipped=len(done), notes=list(found.notes))
    if foreign:
        result.notes.append(f"{len(foreign)} part(s) from an earlier run with other inputs kept; their files are "
                            "not processed again")
    for text in result.notes:
        say(text)
    run = None
    if todo:
        dataset.remove(SUMMARY_FILE)
        say(f"{sum(len(p.inputs) for p in todo)} file(s) in {len(todo)} partition(s) to do"
            + (f"; {len(done)} partition(s) already done" if done else ""))
        run = _Run(dataset, todo, job, schema, found, segment, max_duration_s, retries, progress, on_part, result,
                   say)
        own = None
        if client is None:
            client, own = connect(cluster or "local", workers=workers)
        try:
            link = _dashboard(client, local=own is not None)
            if link:
                say(f"Dask dashboard: {link}")
            run.execute(client, data)
        finally:
            if own is not None:
                _close(client, own)
    if not result.interrupted and not result.failed:
        result.wall_s = time.perf_counter() - started
        result.summary = _summary(dataset, job, result, run, result.wall_s)
        dataset.write_json(SUMMARY_FILE, result.summary)
        dataset.clean_temps()
        result.complete = True
        for key in ("files", "rows", "segments", "errors"):
            setattr(result, key, result.summary[key])
        result.audio_s = result.summary["audio_hours"] * 3600.0
    elif run is not None:
        for key in ("files", "rows", "segments", "errors", "audio_s"):
            setattr(result, key, run.totals[key])
    result.wall_s = time.perf_counter() - started
    return result


def pin_vad(plan):
    """``plan`` with ``vad="auto"`` replaced by the detector it means here (Silero if installed, else energy).

    Every worker then uses the same detector (the one recorded in ``_job.json``), whatever it has installed;
    a worker without Silero fails its tasks with a message saying so instead of silently using another.
    """
    import dataclasses

    from ..segmentation import Auto, VoiceActivity
    from ..stream.vad import silero_model_path

    def pinned(voice: VoiceActivity) -> VoiceActivity:
        if voice.vad != "auto":
            return voice
        return dataclasses.replace(voice, vad="silero" if silero_model_path() else "energy")

    if isinstance(plan, VoiceActivity):
        return pinned(plan)
    if isinstance(plan, Auto):
        return dataclasses.replace(plan, voice_activity=pinned(plan.voice_activity))
    return plan


def require_cluster_extra() -> None:
    """Raise :class:`ParameterError` naming the extra to install when Dask, fsspec or pyarrow is missing."""
    import importlib.util

    missing = [m for m in ("distributed", "fsspec", "pyarrow") if importlib.util.find_spec(m) is None]
    if missing:
        raise ParameterError(f"--cluster needs {', '.join(missing)}: pip install 'emovox[cluster]'")


def local_workers(address: str) -> int | None:
    """For ``local`` 0 (one per core), for ``local:N`` N; ``None`` for a scheduler address.

    Raises:
        ParameterError: ``local:`` followed by anything but a whole number >= 1.
    """
    if address != "local" and not address.startswith(("local:", "local[")):
        return None
    count = address[len("local"):].strip("[]:")
    if not count:
        return 0
    if not count.isdigit() or int(count) < 1:
        raise ParameterError(f"--cluster {address}: expected local or local:N with N >= 1 worker processes")
    return int(count)


def connect(address: str, *, workers: int | None = None):
    """A :class:`distributed.Client` for ``address`` and the local cluster it started (``None`` if remote).

    ``local`` starts one worker process per core (or ``workers``), ``local:N`` N of them, each with one thread.

    Raises:
        ParameterError: a malformed ``local:N``, Dask missing, or no scheduler at ``address``.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ParameterError("--cluster needs Dask: pip install 'emovox[cluster]'") from None
    local = local_workers(address)
    if local is not None:
        n = local or workers or _cores()
        # the worker processes start with Ctrl-C ignored: in a terminal it reaches every process of the group,
        # and the driver, which gets it too, stops them in order (without a traceback from each)
        quiet = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if quiet else None
        try:
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, silence_logs=logging.ERROR,
                                   dashboard_address=":8787" if _have_dashboard() else ":0")
        finally:
            if quiet:
                signal.signal(signal.SIGINT, previous)
        return Client(cluster), cluster
    try:
        return Client(address, timeout="30s"), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise ParameterError(f"--cluster {address}: cannot reach a Dask scheduler there ({exc})") from None


class _Run:
    """One run's submissions, commits and progress."""

    def __init__(self, dataset: Dataset, todo: list[Partition], job: dict, schema, found: Inputs, segment,
                 max_duration_s, retries: int, progress: bool, on_part, result: BatchResult,
                 say: Callable[[str], None]) -> None:
        self.dataset, self.todo, self.job, self.schema = dataset, todo, job, schema
        self.extra_columns = tuple(f.name for f in found.fields)
        self.segment, self.max_duration_s, self.retries = segment, max_duration_s, retries
        self.progress, self.on_part, self.result, self.say = progress, on_part, result, say
        self.counts: dict[str, dict] = {}  # part -> its counts, for the parts this run wrote
        self.workers: dict[str, dict] = {}
        self.totals = {"files": 0, "rows": 0, "segments": 0, "errors": 0, "audio_s": 0.0, "work_s": 0.0,
                       "tasks": 0}
        self.compute_wall_s = 0.0
        self.threads = 0

    def execute(self, client, bundle: bytes) -> None:
        from distributed import as_completed
        from tqdm.auto import tqdm

        from .worker import ModelPlugin, PartTask, run_partition

        plugin_name = f"emovox-model-{self.job['model_sha256'][:12]}-{uuid.uuid4().hex[:8]}"
        plugin = ModelPlugin(bundle, self.job["model_sha256"], self.job["model"])
        pending = deque(self.todo)
        running: dict = {}
        batches = as_completed(loop=client.loop, with_results=True, raise_errors=False)
        window = {"limit": 0, "checked": 0.0}

        def limit() -> int:
            now = time.monotonic()
            if now - window["checked"] > 5.0:
                self.threads = max(1, sum(client.nthreads().values()))
                window["limit"], window["checked"] = max(8, TASKS_PER_THREAD * self.threads), now
            return window["limit"]

        def submit() -> None:
            while pending and len(running) < limit():
                part = pending.popleft()
                task = PartTask(part.name, part.inputs, self.dataset.root, self.dataset.url,
                                self.job["model"], self.job["model_sha256"], self.segment, self.max_duration_s,
                                self.schema, self.extra_columns, self.job["uncertain_below"])
                future = client.submit(run_partition, task, key=f"emovox-{part.name[:-8]}-{uuid.uuid4().hex[:8]}",
                                       pure=False, retries=self.retries)
                running[future] = part
                batches.add(future)

        files_todo = sum(len(p.inputs) for p in self.todo)
        bar = tqdm(total=files_todo, unit="file", disable=not self.progress, leave=False, dynamic_ncols=True,
                   file=sys.stderr, smoothing=0.1)
        began = time.perf_counter()
        try:
            if not client.nthreads():
                self.say("the cluster has no workers yet: waiting for some to join")
            client.register_plugin(plugin, name=plugin_name)  # loads the model on every worker, now and later
            began = time.perf_counter()
            submit()
            for future, outcome in batches:
                part = running.pop(future)
                self._finish(future, part, outcome)
                future.release()
                elapsed = max(1e-9, time.perf_counter() - began)
                bar.set_postfix_str(f"{self.totals['audio_s'] / 3600:.2f} h audio, {self.totals['errors']} errors, "
                                    f"{self.totals['audio_s'] / elapsed:.0f}x real time", refresh=False)
                bar.update(len(part.inputs))
                submit()
        except KeyboardInterrupt:
            self.result.interrupted = True
        finally:
            self.compute_wall_s = time.perf_counter() - began
            bar.close()
            if running:
                try:
                    client.cancel(list(running))
                except Exception:  # noqa: BLE001 - the connection may be gone; nothing else to do
                    pass
            try:
                client.unregister_worker_plugin(plugin_name)
            except Exception:  # noqa: BLE001 - workers that are gone have nothing to unregister
                pass

    def _finish(self, future, part: Partition, outcome) -> None:
        """Commit a finished task's part, or record why it failed."""
        if future.status != "finished":
            exc = outcome[1] if isinstance(outcome, tuple) and len(outcome) == 3 else outcome
            self.result.failed.append((part.name, _one_line(exc)))
            return
        try:
            committed = self.dataset.commit(outcome["temp"], part.name)
        except OSError as exc:
            self.result.failed.append((part.name, f"cannot put the part in place ({exc.strerror or exc})"))
            return
        self.result.parts_written += committed
        self.counts[part.name] = outcome
        for key in ("files", "rows", "segments", "errors", "audio_s", "work_s"):
            self.totals[key] += outcome[key]
        self.totals["tasks"] += 1
        worker = self.workers.setdefault(outcome["worker"], {"tasks": 0, "work_s": 0.0, "peak_rss_mib": 0.0})
        worker["tasks"] += 1
        worker["work_s"] += outcome["work_s"]
        worker["peak_rss_mib"] = max(worker["peak_rss_mib"], outcome["peak_rss_mib"])
        room = ERROR_SAMPLES - len(self.result.error_samples)
        if room > 0:
            self.result.error_samples += [tuple(e) for e in outcome.get("error_samples", [])[:room]]
        if self.on_part is not None:
            self.on_part(outcome)


def _summary(dataset: Dataset, job: dict, result: BatchResult, run: _Run | None, wall_s: float) -> dict:
    """The ``_SUCCESS`` summary: totals over every part in the output, and this run's figures."""
    totals = {"files": 0, "rows": 0, "segments": 0, "errors": 0, "notes": 0, "audio_s": 0.0, "work_s": 0.0}
    parts = sorted(dataset.parts())
    known = run.counts if run is not None else {}
    for name in parts:
        info = known.get(name) or dataset.part_info(name)
        for key in totals:
            totals[key] += info.get(key, 0)
    summary = {"files": totals["files"], "rows": totals["rows"], "segments": totals["segments"],
               "errors": totals["errors"], "low_rate_files": totals["notes"],
               "audio_hours": round(totals["audio_s"] / 3600.0, 6), "parts": len(parts),
               "work_s": round(totals["work_s"], 3), "wall_s": round(wall_s, 3),
               "model": job["model"], "model_sha256": job["model_sha256"],
               "segmentation": job["segmentation"], "max_duration_s": job["max_duration_s"],
               "emovox": __version__, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "this_run": {"parts_written": result.parts_written, "parts_skipped": result.parts_skipped}}
    if run is not None:
        summary["this_run"].update(
            files=run.totals["files"], tasks=run.totals["tasks"], work_s=round(run.totals["work_s"], 3),
            audio_hours=round(run.totals["audio_s"] / 3600.0, 6), compute_wall_s=round(run.compute_wall_s, 3),
            threads=run.threads,
            workers={k: {"tasks": v["tasks"], "work_s": round(v["work_s"], 3),
                         "peak_rss_mib": round(v["peak_rss_mib"], 1)} for k, v in sorted(run.workers.items())})
    return summary


def _schema(labels, fields):
    import pyarrow as pa

    from ..output import parquet_schema

    return parquet_schema(labels, [pa.field(MODEL_COLUMNS[0], pa.string()), pa.field(MODEL_COLUMNS[1], pa.string()),
                                   *fields])


def _dashboard(client, local: bool) -> str | None:
    """The dashboard's address when the scheduler serves one (a local one needs bokeh installed here)."""
    if local and not _have_dashboard():
        return None
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        return client.dashboard_link
    except Exception:  # noqa: BLE001 - no dashboard is no reason to stop
        return None


def _cores() -> int:
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _have_dashboard() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def _close(client, cluster) -> None:
    try:
        client.close(timeout=10)
    finally:
        cluster.close(timeout=10)


def _one_line(exc: object) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"[:300]


__all__ = ["run_batch", "connect", "BatchResult", "DEFAULT_MAX_DURATION_S"]
