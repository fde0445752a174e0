"""What a batch job reads: folders, glob patterns, manifests and single files, local or fsspec URLs.

>>> found = resolve_inputs(["recordings/", "calls/**/*.flac", "s3://archive/manifest.parquet"])  # doctest: +SKIP
>>> found.items[0]                                                        # doctest: +SKIP
Input(path='recordings/a.wav', extras=(), error=None)

- A **folder** gives its audio files (by extension, searched recursively), sorted by path; a folder
  without any gives one input that becomes an error row.
- A **glob pattern** (``*``, ``?``, ``[...]``, ``**`` for any depth) gives the audio files it matches,
  sorted; a pattern matching nothing becomes an error row.
- A **manifest** (a ``.csv`` or ``.parquet`` file) lists files in a ``path`` column, in its own order;
  its other columns are carried through to every row of that file. Relative paths are relative to the
  manifest's folder. CSV values are kept as text (``"01"`` stays ``"01"``); Parquet columns keep their
  types. An extra column named like an output column (``label``, ``file``, ...) is renamed
  ``input_<name>``.
- Anything else is a **file** (a missing one becomes an error row, as with one machine).

Paths may be fsspec URLs (``s3://``, ``gs://``, ``file://``, ``memory://``...). The order is the order of
the sources, then of each folder's listing: the same command always gives the same list. A path given
twice is kept once, at its first place.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from ..output import columns as output_columns

#: Extensions that make a path a manifest rather than an audio file.
MANIFEST_EXTENSIONS = (".csv", ".parquet", ".pq")
#: Columns every output row has besides the model's probability columns and a manifest's extras.
MODEL_COLUMNS = ("model", "model_sha256")

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_COLLAPSED_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/(?!/)")
_MAGIC = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Input:
    """One input of a batch job.

    Attributes:
        path: a local path or an fsspec URL, as the output's ``file`` column will name it.
        extras: the values of the manifest's extra columns, in :attr:`Inputs.fields` order (``()``: none,
            ``None`` where a column is absent).
        error: a problem known before reading it (a folder without audio, a pattern matching nothing):
            it becomes an error row.
    """

    path: str
    extras: tuple = ()
    error: str | None = None

    def key(self) -> str:
        """A stable text of the whole input, for partition digests."""
        return json.dumps([self.path, list(self.extras), self.error], default=str, ensure_ascii=False)


@dataclass
class Inputs:
    """The inputs of a job, in order, and the extra columns their manifests add.

    Attributes:
        items: one :class:`Input` per file (or per folder/pattern that gave none).
        fields: the extra columns, as :class:`pyarrow.Field` (strings for CSV manifests).
        notes: lines for the user (renamed columns).
    """

    items: list[Input] = field(default_factory=list)
    fields: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_url(path: str) -> bool:
    """True for ``scheme://...`` where fsspec knows the scheme."""
    match = _URL.match(path)
    return bool(match) and _known_protocol(match.group(1))


def as_text(path: str | os.PathLike) -> str:
    """``path`` as text, repairing a URL that :class:`pathlib.Path` collapsed (``s3:/b/k`` -> ``s3://b/k``).

    ``emovox predict`` parses its paths as :class:`~pathlib.Path`, which turns ``//`` into ``/``;
    ``file:/x`` becomes ``file:///x``.
    """
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    if isinstance(path, os.PathLike):
        match = _COLLAPSED_URL.match(text)
        if match and _known_protocol(match.group(1)) and not os.path.exists(text):
            scheme, rest = match.group(1), text[match.end():]
            return f"{scheme}:///{rest}" if scheme == "file" else f"{scheme}://{rest}"
    return text


def resolve_inputs(sources: Iterable[str | os.PathLike]) -> Inputs:
    """Every input the ``sources`` name (see the module's description), in order, each once.

    Raises:
        DataError: a manifest that cannot be read, lacks a ``path`` column, has an empty path, lists a path
            twice with different values, or whose columns clash in type with another manifest's.
    """
    from ..audio import is_audio_path
    from ..recognizer import no_audio_problem

    found = Inputs()
    names: dict[str, int] = {}  # extra column name -> index in found.fields
    place: dict[str, int] = {}  # path -> index in found.items
    origin: dict[str, str] = {}  # path -> the manifest that listed it

    def add(item: Input, source: str | None = None) -> None:
        at = place.get(item.path)
        if at is None:
            place[item.path] = len(found.items)
            found.items.append(item)
            if source:
                origin[item.path] = source
            return
        kept = found.items[at]
        if item.extras and kept.extras and _padded(item.extras, len(found.fields)) != \
                _padded(kept.extras, len(found.fields)):
            where = origin.get(item.path, "")
            also = f" and {where}" if where and where != source else ""
            raise DataError(f"{source}{also}: {item.path} is listed twice with different values")
        if item.extras and not kept.extras:
            found.items[at] = Input(kept.path, item.extras, kept.error)
            origin[item.path] = source or ""

    for raw in sources:
        source = as_text(raw)
        if _is_manifest(source):
            entries, fields, notes = read_manifest(source)
            found.notes += notes
            order = []
            for f in fields:
                if f.name in names:
                    known = found.fields[names[f.name]]
                    if known.type != f.type:
                        raise DataError(f"{source}: column {f.name!r} is {f.type} here but {known.type} in an "
                                        "earlier manifest")
                else:
                    names[f.name] = len(found.fields)
                    found.fields.append(f)
                order.append(names[f.name])
            for path, values in entries:
                extras = [None] * len(found.fields)
                for i, value in zip(order, values):
                    extras[i] = value
                add(Input(path, tuple(extras)), source)
            continue
        for item in _expand(source, is_audio_path, no_audio_problem):
            add(item)
    width = len(found.fields)
    if width:
        found.items = [Input(i.path, _padded(i.extras, width), i.error) for i in found.items]
    return found


def read_manifest(source: str) -> tuple[list[tuple[str, tuple]], list, list[str]]:
    """The ``(path, extra values)`` rows of a CSV or Parquet manifest, its extra columns, and notes.

    Raises:
        DataError: unreadable, no ``path`` column, or an empty or non-text path.
    """
    import pyarrow as pa

    try:
        data = _read_bytes(source)
    except FileNotFoundError:
        raise DataError(f"{source}: manifest not found") from None
    except OSError as exc:
        raise DataError(f"{source}: cannot read the manifest ({getattr(exc, 'strerror', None) or exc})") from None
    if source.lower().endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
            reader = csv.reader(io.StringIO(text, newline=""))
            header = next(reader, None)
            rows = list(reader)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{source}: not a readable CSV manifest ({exc})") from None
        if not header:
            raise DataError(f"{source}: empty manifest (expected a header with a 'path' column)")
        header = [h.strip() for h in header]
        for n, row in enumerate(rows, start=2):
            if len(row) != len(header) and any(row):
                raise DataError(f"{source}: line {n} has {len(row)} values for {len(header)} columns")
        rows = [r for r in rows if any(r)]
        table = {name: [r[i] for r in rows] for i, name in enumerate(header)}
        types = {name: pa.string() for name in header}
    else:
        import pyarrow.parquet as pq

        try:
            arrow = pq.read_table(io.BytesIO(data))
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{source}: not a readable Parquet manifest ({exc})") from None
        header = arrow.column_names
        table = {name: arrow.column(name).to_pylist() for name in header}
        types = {name: arrow.schema.field(name).type for name in header}
    if len(set(header)) != len(header):
        raise DataError(f"{source}: column names repeat ({', '.join(header)})")
    if "path" not in table:
        raise DataError(f"{source}: no 'path' column (columns: {', '.join(header) or 'none'})")
    taken = set(output_columns([])) | set(MODEL_COLUMNS)
    fields, notes, extra_names = [], [], [h for h in header if h != "path"]
    for name in extra_names:
        out = f"input_{name}" if name in taken or name.startswith("p_") else name
        if out != name:
            notes.append(f"{source}: column {name!r} is written as {out!r} (the output has its own {name!r})")
        fields.append(pa.field(out, types[name]))
    base = _parent(source)
    entries = []
    offset = 2 if source.lower().endswith(".csv") else 1
    for n, path in enumerate(table["path"]):
        if not isinstance(path, str) or not path.strip():
            raise DataError(f"{source}: row {n + offset} has no path")
        entries.append((_join(base, path.strip()), tuple(table[name][n] for name in extra_names)))
    return entries, fields, notes


def _expand(source: str, is_audio_path, no_audio_problem) -> list[Input]:
    """The inputs one folder, pattern or file gives."""
    if is_url(source):
        import fsspec

        fs, stripped = fsspec.core.url_to_fs(source)
        if _MAGIC.search(source) and not fs.exists(stripped):
            prefix_url, prefix_path = _glob_prefix(source), _glob_prefix(stripped)
            matched = sorted(p for p in fs.glob(stripped) if is_audio_path(p) and fs.isfile(p))
            if not matched:
                return [Input(source, error="no files match this pattern")]
            return [Input(prefix_url + p[len(prefix_path):].lstrip("/")) for p in matched]
        if fs.isdir(stripped):
            root = stripped.rstrip("/")
            listed = sorted(p for p in fs.find(stripped) if is_audio_path(p))
            if not listed:
                return [Input(source, error=no_audio_problem())]
            return [Input(source.rstrip("/") + "/" + p[len(root):].lstrip("/")) for p in listed]
        return [Input(source)]
    if _MAGIC.search(source) and not os.path.exists(source):
        matched = [p for p in glob.glob(source, recursive=True) if is_audio_path(p) and os.path.isfile(p)]
        if not matched:
            return [Input(source, error="no files match this pattern")]
        return [Input(str(p)) for p in sorted(Path(p) for p in matched)]
    if os.path.isdir(source):
        from ..recognizer import find_audio_files

        files = find_audio_files(source)
        if not files:
            return [Input(str(Path(source)), error=no_audio_problem())]
        return [Input(str(p)) for p in files]
    return [Input(str(Path(source)) if source else source)]


def _is_manifest(source: str) -> bool:
    if not source.lower().endswith(MANIFEST_EXTENSIONS):
        return False
    if is_url(source):
        return True
    return not os.path.isdir(source)


def _read_bytes(source: str) -> bytes:
    if is_url(source):
        import fsspec

        with fsspec.open(source, "rb") as f:
            return f.read()
    return Path(source).read_bytes()


def _parent(source: str) -> str:
    """The folder a manifest's relative paths are relative to ('' for the current folder)."""
    if is_url(source):
        return source.rsplit("/", 1)[0]
    return os.path.dirname(source)


def _join(base: str, path: str) -> str:
    if is_url(path) or os.path.isabs(path) or not base:
        return path
    if is_url(base):
        return base.rstrip("/") + "/" + path
    return os.path.join(base, path)


def _glob_prefix(pattern: str) -> str:
    """The part of ``pattern`` before its first wildcard, up to and including the last ``/``."""
    head = pattern[:_MAGIC.search(pattern).start()]
    return head[:head.rfind("/") + 1]


def _padded(extras: tuple, width: int) -> tuple:
    return tuple(extras) + (None,) * (width - len(extras))


def _known_protocol(scheme: str) -> bool:
    from fsspec.registry import known_implementations, registry

    return scheme in known_implementations or scheme in registry


__all__ = ["Input", "Inputs", "resolve_inputs", "read_manifest", "is_url", "as_text", "MODEL_COLUMNS"]
