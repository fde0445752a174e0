"""Writing rows as they come: a table, JSON, JSON lines, CSV or Parquet, to a file or standard output.

A writer takes one input's :class:`~emovox.results.Predictions` at a time (:meth:`Writer.write`) and
is closed at the end (:meth:`Writer.close`), also when the run is interrupted. A file is written under
a temporary name beside it and renamed into place by ``close``, so ``--output x.csv`` is never seen
half-written, and an interrupted run (Ctrl-C) still leaves a valid file with every finished input's rows.
CSV and JSON lines are flushed after each input, so even a killed run keeps them in the temporary file.

Every row has the columns of :data:`emovox.results.COLUMNS`, one ``p_<emotion>`` column per emotion and
``error`` (empty for rows; a failed input is one row with its error and nothing else).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .errors import ParameterError
from .paths import current_umask
from .results import COLUMNS, FileError, Predictions
from .stream.sinks import clock, terminal_columns

FORMATS = ("table", "json", "jsonl", "csv", "parquet")


def format_for(path: str | os.PathLike | None, given: str | None) -> str:
    """The format asked for, else the one ``path``'s extension names, else ``table``."""
    if given:
        if given not in FORMATS:
            raise ParameterError(f"unknown format {given!r}; choose from {', '.join(FORMATS)}")
        return given
    if path is not None:
        suffix = Path(path).suffix.lower().lstrip(".")
        if suffix in ("json", "jsonl", "csv", "parquet"):
            return suffix
        if suffix == "ndjson":
            return "jsonl"
    return "table"


def columns(labels: Sequence[str]) -> list[str]:
    """Every column of a flat row, in order."""
    return [*COLUMNS, *(f"p_{label}" for label in labels), "error"]


def safe_text(text: str) -> str:
    """``text`` with anything that cannot be written as UTF-8 (undecodable file-name bytes) replaced."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def error_record(error: FileError, labels: Sequence[str]) -> dict:
    row = dict.fromkeys(columns(labels))
    row.update(file=safe_text(error.path), error=error.problem)
    return row


class Writer:
    """Base class: where rows go, and how the file is put in place.

    Args:
        path: the output file, or ``None`` for standard output.
        labels: the model's emotions (one probability column each).
        meta: written where the format has room for it (JSON's header): model, version ...
    """

    binary = False

    def __init__(self, path: str | os.PathLike | None, labels: Sequence[str], *, meta: dict | None = None,
                 stream: TextIO | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.labels = list(labels)
        self.meta = meta or {}
        self.rows = 0
        self.errors = 0
        self._tmp: Path | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
            os.close(fd)
            self._tmp = Path(tmp)
            self.handle = open(tmp, "wb" if self.binary else "w", encoding=None if self.binary else "utf-8",
                               newline=None if self.binary else "")
        else:
            self.handle = stream or sys.stdout
        self._start()

    def _start(self) -> None:
        """Write whatever comes before the rows."""

    def write(self, found: Predictions) -> None:
        """Add one input's rows (or its error)."""
        self.rows += len(found)
        self.errors += len(found.errors)
        self._write(found)
        self.handle.flush()

    def _write(self, found: Predictions) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Write whatever comes after the rows."""

    def close(self) -> Path | None:
        """Finish the output and, for a file, put it in place atomically (mode from the umask); return its path."""
        self._finish()
        self.handle.flush()
        if self._tmp is None:
            return None
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.chmod(self._tmp, 0o666 & ~current_umask())
        os.replace(self._tmp, self.path)
        self._tmp = None
        return self.path


class CsvWriter(Writer):
    def _start(self) -> None:
        self._csv = csv.DictWriter(self.handle, fieldnames=columns(self.labels), lineterminator="\n")
        self._csv.writeheader()

    def _write(self, found: Predictions) -> None:
        for record in found.to_records():
            record["file"] = safe_text(record["file"])
            self._csv.writerow(record)
        for error in found.errors:
            self._csv.writerow(error_record(error, self.labels))


class JsonLinesWriter(Writer):
    def _write(self, found: Predictions) -> None:
        for row in found:
            record = row.to_dict()
            record["file"] = safe_text(record["file"])
            self.handle.write(json.dumps(record) + "\n")
        for error in found.errors:
            self.handle.write(json.dumps({"file": safe_text(error.path), "error": error.problem}) + "\n")


class JsonWriter(Writer):
    """One JSON document: ``{"model": ..., "predictions": [...], "errors": [...]}``, written at the end."""

    def _start(self) -> None:
        self._rows: list[dict] = []
        self._errors: list[dict] = []

    def _write(self, found: Predictions) -> None:
        for row in found:
            record = row.to_dict()
            record["file"] = safe_text(record["file"])
            self._rows.append(record)
        self._errors += [{"file": safe_text(e.path), "error": e.problem} for e in found.errors]

    def _finish(self) -> None:
        json.dump({**self.meta, "predictions": self._rows, "errors": self._errors}, self.handle, indent=2)
        self.handle.write("\n")


class ParquetWriter(Writer):
    """Parquet, a row group per :data:`ROWS_PER_GROUP` rows (a row group is written only when complete)."""

    binary = True
    ROWS_PER_GROUP = 4096

    def _start(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.path is None:
            raise ParameterError("--format parquet needs --output FILE")
        self._schema = parquet_schema(self.labels)
        self._writer = pq.ParquetWriter(self.handle, self._schema)
        self._pending: list[dict] = []
        self._pa = pa

    def _write(self, found: Predictions) -> None:
        for record in found.to_records():
            record["file"] = safe_text(record["file"])
            record["error"] = None
            self._pending.append(record)
        self._pending += [error_record(e, self.labels) for e in found.errors]
        if len(self._pending) >= self.ROWS_PER_GROUP:
            self._flush_group()

    def _flush_group(self) -> None:
        if self._pending:
            self._writer.write_table(self._pa.Table.from_pylist(self._pending, schema=self._schema))
            self._pending = []

    def _finish(self) -> None:
        self._flush_group()
        self._writer.close()


def parquet_schema(labels: Sequence[str], extra: Sequence = ()):
    """The Arrow schema of a row: :func:`columns`, typed; ``extra`` fields are appended."""
    import pyarrow as pa

    fields = [pa.field("file", pa.string()), pa.field("start_s", pa.float64()), pa.field("end_s", pa.float64()),
              pa.field("label", pa.string()), pa.field("confidence", pa.float64()), pa.field("uncertain", pa.bool_()),
              pa.field("kind", pa.string()),
              pa.field("index", pa.int32()), *(pa.field(f"p_{label}", pa.float64()) for label in labels),
              pa.field("error", pa.string()), *extra]
    return pa.schema(fields)


class TableWriter(Writer):
    """Aligned columns for people: a header, then a row per stretch with the most probable emotions first.

    Columns: start, end, label, its probability, the next ``top - 1`` emotions (default 2 more), then the
    file (last, so names of any length keep the columns aligned). On a terminal every line fits its width:
    emotions are left out first, then the file name is shortened from the left.
    """

    OTHER = 14  # characters per "emotion 0.00" entry (8 + 1 + 4), with a gap after it

    def __init__(self, path, labels, *, meta=None, stream=None, top: int | None = None) -> None:
        self.top = 3 if top is None else max(1, top)
        super().__init__(path, labels, meta=meta, stream=stream)

    def _start(self) -> None:
        self._columns = terminal_columns(self.handle)
        others = min(self.top - 1, max(0, len(self.labels) - 1))
        if self._columns:  # drop emotions until the fixed columns leave 19 characters for the file
            while others and 8 + 9 + 11 + 5 + others * self.OTHER + 19 > self._columns:
                others -= 1
        self._others = others
        self._header_done = False

    def _write(self, found: Predictions) -> None:
        if not self._header_done:
            others = "others".ljust(self._others * self.OTHER) if self._others else ""
            self.handle.write(f"{'start':>8} {'end':>8}  {'label':<10} {'p':>4}  {others}file\n")
            self._header_done = True
        for row in found:
            others = "".join(f"{label[:8]} {p:.2f}".ljust(self.OTHER) for label, p in row.ranked()[1:1 + self._others])
            label = row.label + ("?" if row.uncertain else "")  # uncertain: the top probability is low
            head = (f"{clock(row.start_s):>8} {clock(row.end_s):>8}  {label:<10} {row.confidence:4.2f}  "
                    f"{others.ljust(self._others * self.OTHER)}")
            name = safe_text(row.file)
            if self._columns and len(head) + len(name) > self._columns - 1:
                room = max(8, self._columns - 1 - len(head))
                name = "…" + name[-(room - 1):]
            self.handle.write(head + name + "\n")


WRITERS = {"table": TableWriter, "json": JsonWriter, "jsonl": JsonLinesWriter, "csv": CsvWriter,
           "parquet": ParquetWriter}


def open_writer(fmt: str, path: str | os.PathLike | None, labels: Sequence[str], *, meta: dict | None = None,
                stream: TextIO | None = None, top: int | None = None) -> Writer:
    """A writer of ``fmt`` (:data:`FORMATS`) to ``path`` (``None``: standard output)."""
    cls = WRITERS[format_for(path, fmt)]
    if cls is TableWriter:
        return cls(path, labels, meta=meta, stream=stream, top=top)
    return cls(path, labels, meta=meta, stream=stream)


__all__ = ["FORMATS", "open_writer", "format_for", "columns", "parquet_schema", "Writer", "safe_text"]
