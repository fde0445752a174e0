"""Running :meth:`emovox.Recognizer.process_files` on a Dask cluster, into a resumable Parquet dataset.

>>> from emovox.batch import run_batch
>>> run_batch(["archive/"], "model.emovox", "results/", cluster="local:4", progress=True)   # doctest: +SKIP

- :mod:`~emovox.batch.inputs`: folders, glob patterns, manifests (CSV/Parquet with a ``path`` column), URLs;
- :mod:`~emovox.batch.dataset`: the plan (partitions named by their content) and the output dataset;
- :mod:`~emovox.batch.worker`: the model shipped once per worker, one task per partition;
- :mod:`~emovox.batch.job`: the driver (submit, commit each part, progress, summary);
- :mod:`~emovox.batch.cli`: ``emovox predict ... --cluster ADDRESS --output DIR``.

Dask, pyarrow and fsspec are imported only when a job runs (``pip install 'emovox[cluster]'``).
"""

from __future__ import annotations

__all__ = ["run_batch", "BatchResult", "resolve_inputs"]


def __getattr__(name: str):
    if name in ("run_batch", "BatchResult"):
        from . import job

        return getattr(job, name)
    if name == "resolve_inputs":
        from .inputs import resolve_inputs

        return resolve_inputs
    raise AttributeError(f"module 'emovox.batch' has no attribute {name!r}")
