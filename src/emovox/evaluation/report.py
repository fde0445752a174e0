"""Evaluation reports: JSON for scripts, Markdown for people, a confusion-matrix PNG per protocol."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..paths import atomic_write


def summary_line(result: dict) -> str:
    """``"ravdess-si6  UAR 55.1 ± 6.0  acc ...  (6 folds x 1 seed)"``."""
    s = result["summary"]
    return (f"{result['protocol']:<13} UAR {s['uar']['mean']:5.1f} ± {s['uar']['std']:4.1f}   "
            f"accuracy {s['accuracy']['mean']:5.1f} ± {s['accuracy']['std']:4.1f}   "
            f"macro-F1 {s['macro_f1']['mean']:5.1f} ± {s['macro_f1']['std']:4.1f}   "
            f"({result['n_folds']} fold(s) x {len(result['seeds'])} seed(s))")


def to_markdown(results: Sequence[dict], data_summary: dict | None = None) -> str:
    """A Markdown report: a summary table, per-label recall and a confusion matrix per protocol."""
    lines = ["# emovox evaluation report", ""]
    if data_summary:
        lines += [f"Data: {data_summary['files']} files, {data_summary['speakers']} speakers, "
                  f"per label {data_summary['per_label']}.", ""]
    lines += ["| model | features | protocol | UAR % | accuracy % | macro-F1 % | runs |", "|---|---|---|---|---|---|---|"]
    for r in results:
        s = r["summary"]
        lines.append(f"| {r['model']} | {r['features']} | {r['protocol']} | {s['uar']['mean']:.1f} ± {s['uar']['std']:.1f} "
                     f"| {s['accuracy']['mean']:.1f} ± {s['accuracy']['std']:.1f} "
                     f"| {s['macro_f1']['mean']:.1f} ± {s['macro_f1']['std']:.1f} | {len(r['runs'])} |")
    for r in results:
        labels = r["labels"]
        lines += ["", f"## {r['protocol']}: {r['protocol_description']}", "",
                  "Recall per emotion (%): " + ", ".join(f"{k} {v:.1f}" for k, v in r["recall"].items()), "",
                  *calibration_lines(r["summary"]),
                  "Confusion matrix (rows: true, columns: predicted, summed over runs):", "",
                  "| true \\ predicted | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        lines += [f"| {labels[i]} | " + " | ".join(str(c) for c in row) + " |" for i, row in enumerate(r["confusion"])]
    return "\n".join(lines) + "\n"


def calibration_lines(summary: dict) -> list[str]:
    """One paragraph on the calibration of a result's probabilities (nothing for a model without them)."""
    if "ece" not in summary:
        return []
    text = f"Calibration: expected calibration error {summary['ece']['mean']:.1f} ± {summary['ece']['std']:.1f} % per fold"
    if "ece_floor" in summary:
        text += (f" (a perfectly calibrated model would show {summary['ece_floor']['mean']:.1f} % on test sets "
                 "this small)")
    if "ece_pooled" in summary:
        text += f", {summary['ece_pooled']['mean']:.1f} % over all test folds together"
    if "uncertain" in summary:
        text += f"; {summary['uncertain']['mean']:.1f} % of the answers are uncertain (top probability below 0.5)"
    return [text + ".", ""]


def confusion_png(result: dict) -> bytes:
    """A row-normalised confusion matrix as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(result["confusion"], dtype=float)
    rows = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    labels = result["labels"]
    fig, ax = plt.subplots(figsize=(1.2 + 0.75 * len(labels), 1.0 + 0.7 * len(labels)), dpi=110)
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{100 * rows[i, j]:.0f}", ha="center", va="center",
                    color="white" if rows[i, j] > 0.5 else "black", fontsize=8)
    s = result["summary"]
    ax.set_title(f"{result['model']} / {result['protocol']}: UAR {s['uar']['mean']:.1f}%", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def write_report(results: Sequence[dict], folder: str | os.PathLike, data_summary: dict | None = None) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``confusion-<protocol>.png`` into ``folder`` (atomically)."""
    folder = Path(folder)
    written = [folder / "report.json", folder / "report.md"]
    atomic_write(written[0], json.dumps({"data": data_summary, "results": list(results)}, indent=2).encode())
    atomic_write(written[1], to_markdown(results, data_summary).encode())
    for r in results:
        written.append(folder / f"confusion-{r['protocol']}.png")
        atomic_write(written[-1], confusion_png(r))
    return written
