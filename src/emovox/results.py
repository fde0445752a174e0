"""What every answer is: :class:`Prediction` rows, collected in :class:`Predictions`.

A row says which stretch of which input it is about (``file``, ``start_s``, ``end_s``), the
most probable emotion and every emotion's probability, and what kind of stretch it is:

- ``whole``: the whole input (or the ``start``/``end`` part asked for);
- ``segment``: a stretch of speech found by voice activity detection;
- ``window``: a fixed window (``window_s`` long, every ``hop_s``);
- ``estimate``: a running estimate while someone is still speaking (streams only).

Inputs that could not be used are kept as :class:`FileError` objects beside the rows, so a
batch reports them and goes on.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np


class Kind(str, enum.Enum):
    """What stretch of the input a row is about."""

    WHOLE = "whole"
    SEGMENT = "segment"
    WINDOW = "window"
    ESTIMATE = "estimate"

    def __str__(self) -> str:
        return self.value


#: A row whose top probability is below this is flagged ``uncertain`` by default. With calibrated
#: probabilities (the default model's are), such a label is wrong more often than right.
UNCERTAIN_BELOW = 0.5

#: Columns of a row, in this order, before one probability column per emotion (``p_<emotion>``).
COLUMNS = ("file", "start_s", "end_s", "label", "confidence", "uncertain", "kind", "index")


@dataclass(frozen=True)
class Prediction:
    """One answer about one stretch of one input.

    Attributes:
        file: the input's path or name (``"<array>"`` for samples given in memory, ``"<stream>"`` for streams).
        start_s: start of the stretch, seconds from the start of the input.
        end_s: end of the stretch, seconds from the start of the input.
        label: the most probable emotion.
        probabilities: emotion -> probability, in the model's label order; they sum to 1.
        kind: ``whole``, ``segment``, ``window`` or ``estimate`` (:class:`Kind`).
        index: the stretch's number within its input (0, 1, ...); for estimates, the number the open segment
            will get.
        latency_ms: streams only: processing time from the decision (end of speech, an estimate's tick) to this
            answer, milliseconds; ``None`` elsewhere.
        samples: the audio classified (float32, shape ``(n,)`` at ``rate_hz``), only when a stream was asked to
            keep it; never in records.
        rate_hz: sample rate of ``samples``, Hz (0 without samples).
        uncertain: the top probability is below the model's ``uncertain_below`` (0.5 unless the user set
            another): with calibrated probabilities such a label is more often wrong than right.
    """

    file: str
    start_s: float
    end_s: float
    label: str
    probabilities: dict[str, float]
    kind: Kind = Kind.WHOLE
    index: int = 0
    latency_ms: float | None = None
    samples: np.ndarray | None = field(default=None, repr=False, compare=False)
    rate_hz: int = 0
    uncertain: bool = False

    @property
    def duration_s(self) -> float:
        """``end_s - start_s``, seconds."""
        return self.end_s - self.start_s

    @property
    def confidence(self) -> float:
        """The top probability (that of :attr:`label`)."""
        return float(self.probabilities[self.label])

    def ranked(self) -> list[tuple[str, float]]:
        """``(emotion, probability)`` pairs, most probable first."""
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])

    def to_dict(self) -> dict:
        """JSON-ready: every field but ``samples`` and ``rate_hz``; times rounded to 0.1 ms, probabilities to 1e-6."""
        out = {"file": self.file, "start_s": round(self.start_s, 4), "end_s": round(self.end_s, 4),
               "label": self.label, "probabilities": {k: round(float(v), 6) for k, v in self.probabilities.items()},
               "uncertain": self.uncertain, "kind": str(self.kind), "index": self.index}
        if self.latency_ms is not None:
            out["latency_ms"] = round(self.latency_ms, 3)
        return out

    def to_record(self) -> dict:
        """A flat row: :data:`COLUMNS`, then ``p_<emotion>`` per emotion (for CSV, Parquet, DataFrames)."""
        return {"file": self.file, "start_s": round(self.start_s, 4), "end_s": round(self.end_s, 4),
                "label": self.label, "confidence": round(self.confidence, 6), "uncertain": self.uncertain,
                "kind": str(self.kind),
                "index": self.index, **{f"p_{k}": round(float(v), 6) for k, v in self.probabilities.items()}}


@dataclass(frozen=True)
class FileError:
    """An input that gave no answer.

    Attributes:
        path: the input's path or name.
        problem: a short phrase (``"no such file"``, ``"corrupt audio (...)"``, ``"silent (...)"``).
        message: the whole line for a user: ``"{path}: {problem}"``.
    """

    path: str
    problem: str

    @property
    def message(self) -> str:
        return f"{self.path}: {self.problem}"

    def to_dict(self) -> dict:
        return {"file": self.path, "error": self.problem}


class Predictions(Sequence[Prediction]):
    """The rows of one or many inputs, in input order, and the inputs that failed.

    A sequence of :class:`Prediction`; ``errors`` holds a :class:`FileError` per input that gave none;
    ``notes`` holds warnings about inputs that did give rows (a rate below the model's, say).
    """

    def __init__(self, rows: Iterable[Prediction] = (), errors: Iterable[FileError] = (),
                 labels: Sequence[str] | None = None, notes: Iterable[str] = ()) -> None:
        self.rows: list[Prediction] = list(rows)
        self.errors: list[FileError] = list(errors)
        self.notes: list[str] = list(notes)
        self.labels: list[str] = list(labels) if labels is not None else \
            (list(self.rows[0].probabilities) if self.rows else [])

    @overload
    def __getitem__(self, i: int) -> Prediction: ...

    @overload
    def __getitem__(self, i: slice) -> list[Prediction]: ...

    def __getitem__(self, i):
        return self.rows[i]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Prediction]:
        return iter(self.rows)

    def __repr__(self) -> str:
        return f"Predictions({len(self.rows)} rows, {len(self.errors)} errors)"

    def extend(self, other: Predictions) -> None:
        """Append another collection's rows and errors."""
        self.rows += other.rows
        self.errors += other.errors
        self.notes += other.notes
        if not self.labels:
            self.labels = list(other.labels)

    def to_records(self) -> list[dict]:
        """One flat dict per row (:meth:`Prediction.to_record`)."""
        return [p.to_record() for p in self.rows]

    def to_frame(self):
        """A :class:`pandas.DataFrame` indexed by ``(file, start, end)``, as audformat's segmented tables are.

        ``start`` and ``end`` are :class:`pandas.Timedelta`; the columns are ``label``, ``confidence``,
        ``uncertain``, ``kind``, ``index`` and one probability column per emotion (named by the emotion).
        """
        import pandas as pd

        labels = self.labels
        files = [p.file for p in self.rows]
        starts = pd.to_timedelta([p.start_s for p in self.rows], unit="s")
        ends = pd.to_timedelta([p.end_s for p in self.rows], unit="s")
        index = pd.MultiIndex.from_arrays([files, starts, ends], names=["file", "start", "end"])
        data = {"label": [p.label for p in self.rows], "confidence": [p.confidence for p in self.rows],
                "uncertain": [p.uncertain for p in self.rows], "kind": [str(p.kind) for p in self.rows],
                "index": [p.index for p in self.rows]}
        for label in labels:
            data[label] = [float(p.probabilities.get(label, math.nan)) for p in self.rows]
        return pd.DataFrame(data, index=index)
