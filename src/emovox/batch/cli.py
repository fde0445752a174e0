"""``emovox predict ... --cluster ADDRESS --output DIR``: the same job on a Dask cluster, into a Parquet dataset.

Called by :mod:`emovox.cli.predict` with its parsed arguments and the segmentation they ask for.
Exit status as ``emovox predict``: 0 every file done, 1 some files gave errors (or partitions failed:
re-run to retry them), 130 interrupted (re-run the same command to finish).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import BundleError, ParameterError


def run_cluster(args: argparse.Namespace, plan) -> int:
    """Run ``emovox predict``'s job on the cluster ``args.cluster``; return the exit status.

    Raises:
        ParameterError: no ``--output``, a format other than Parquet, or a bad ``--cluster``.
        BundleError: no model given and no current model.
    """
    from ..output import safe_text
    from ..settings import current_model_path
    from .inputs import as_text
    from .dataset import DEFAULT_BATCH_FILES
    from .job import local_workers, run_batch

    if args.output is None:
        raise ParameterError("--cluster needs --output DIR: the folder of the Parquet dataset to write "
                             "(re-running the same command resumes it)")
    fmt = "json" if getattr(args, "json", False) else args.format
    if fmt not in (None, "parquet"):
        raise ParameterError(f"--cluster writes a Parquet dataset; --format {fmt} is not available with it")
    from ..cli.common import resolve_model

    model = resolve_model(args.model) or current_model_path()
    if model is None:
        raise BundleError("no model given and no current model: pass --model FILE, or choose one with "
                          "`emovox use NAME|FILE` (`emovox models` lists them)")
    address = args.cluster
    local_workers(address)  # a malformed local:N stops here, before anything is read
    batch_files = getattr(args, "batch_files", None)
    jobs = args.jobs if (args.jobs or 0) > 1 else None

    def say(text: str) -> None:
        print(f"emovox: {safe_text(text)}", file=sys.stderr, flush=True)

    say(f"model: {model}; cluster: {address}")
    result = run_batch([as_text(p) for p in args.paths], model, as_text(args.output), segment=plan,
                       max_duration_s=args.max_duration, batch_files=batch_files or DEFAULT_BATCH_FILES,
                       cluster=address, workers=jobs, progress=not args.no_progress, log=say,
                       uncertain_below=args.uncertain_below)
    done = "" if result.complete else " so far"
    say(f"{result.rows} row(s) from {result.files} file(s){done}, {result.audio_s / 3600:.2f} h of audio, in "
        f"{result.output} ({result.parts_written} part(s) written, {result.parts_skipped} already done; "
        f"{result.wall_s:.1f} s)")
    if result.error_samples:
        print(f"{result.errors} file(s) left out (their rows have the error); for example:", file=sys.stderr)
        for path, problem in result.error_samples:
            print(f"  {safe_text(path)}: {problem}", file=sys.stderr)
    for part, problem in result.failed[:10]:
        print(f"emovox: partition {part} failed: {problem}", file=sys.stderr)
    if result.failed:
        print(f"emovox: {len(result.failed)} partition(s) failed; re-run the same command to retry them",
              file=sys.stderr)
        return 1
    if result.interrupted:
        print(f"emovox: interrupted; {result.parts_written + result.parts_skipped} of {result.parts} partition(s) "
              "are in the output; re-run the same command to finish", file=sys.stderr)
        return 130
    return 1 if result.errors else 0
