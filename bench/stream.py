"""Streaming benchmark: RAVDESS clips joined by 1 s silences, streamed through the live pipeline.

Builds a long WAV file from randomly drawn RAVDESS clips (all 8 emotions), streams it
with ``FileSource`` → ``model.stream`` (the same code as ``emovox listen --input``)
on one CPU core, and prints one JSON line and a table:

- latency: VAD end-of-speech decision → emitted segment label, ms (p50/p95/max), and for estimates;
- real-time factor: time inside the recognizer / stream time;
- segmentation: clips with exactly one segment, boundary errors vs the hand-checked bounds in
  ``bench/annotations`` where a clip has them, else the energy reference
  (``testkit.reference.speech_bounds``), segments outside any clip;
- labels: per-segment accuracy over clips whose emotion the model knows, and agreement
  with the model's offline prediction on the whole clip file;
- audio accounting: samples in the file == delivered by the source == fed == processed.

Usage::

    nice .venv/bin/python bench/stream.py --minutes 10                # as fast as possible
    nice .venv/bin/python bench/stream.py --minutes 1 --realtime      # paced at real time
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: before numpy/onnxruntime load
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from emovox import load_model  # noqa: E402
from emovox.audio import load  # noqa: E402
from emovox.corpora import default_data_dir  # noqa: E402
from emovox.labels import EMOTIONS  # noqa: E402
from emovox.stream import FileSource, run  # noqa: E402
import sys as _sys  # noqa: E402
from pathlib import Path as _Path  # noqa: E402
_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # testkit/ lives at the repository root
from testkit.reference import join_clips, match_segments, read_bounds  # noqa: E402

#: Hand-checked speech bounds (TSV files): every clip of the default stream (seed 0, 10 minutes) and
#: of the stream of ``--seed 1``.
ANNOTATIONS = Path(__file__).resolve().parent / "annotations"


def reference_bounds(reference: str) -> dict | None:
    """The ``--reference`` argument's bounds: ``None`` for ``energy``; else those of the TSV files it names.

    ``reference``: comma-separated TSV files or folders (a folder stands for its ``*.tsv`` files),
    merged; exits with one line naming the file that cannot be read.
    """
    if reference == "energy":
        return None
    bounds: dict = {}
    for part in reference.split(","):
        path = Path(part)
        files = sorted(path.glob("*.tsv")) if path.is_dir() else [path]
        if not files:
            sys.exit(f"{path}: no speech-bounds TSV files in this folder")
        for tsv in files:
            try:
                bounds.update(read_bounds(tsv))
            except (OSError, KeyError, ValueError) as exc:
                sys.exit(f"{tsv}: not a speech-bounds TSV (file, start, end columns): {exc}")
    return bounds


def build_stream(data: Path, minutes: float, seed: int, actors: list[str] | None, out: Path,
                 bounds: dict | None = None) -> list:
    """Write ``out`` (16-bit WAV, 48 kHz) with clips drawn until ``minutes`` are filled; return the placements.

    ``bounds``: annotated speech bounds by file name; other clips get the energy reference.
    """
    files = sorted(data.glob("Actor_*/03-01-*.flac"))
    if actors:
        files = [f for f in files if f.parent.name[-2:] in actors]
    if not files:
        sys.exit(f"bench/stream.py: no RAVDESS files under {data}")
    rng = random.Random(seed)
    rng.shuffle(files)
    clips, seconds = [], 1.0
    for path in files * (1 + int(minutes * 60 / (len(files) * 4.0))):
        if seconds >= minutes * 60:
            break
        audio = load(path)
        clips.append((audio, EMOTIONS[int(path.name.split("-")[2]) - 1]))
        seconds += audio.duration + 1.0
    samples, rate, placed = join_clips(clips, gap=1.0, bounds=bounds)
    sf.write(str(out), samples, rate, subtype="PCM_16")
    return placed


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    v = np.asarray(values)
    return {"n": int(v.size), "p50": round(float(np.percentile(v, 50)), 2), "p95": round(float(np.percentile(v, 95)), 2),
            "max": round(float(v.max()), 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=None, help="bundle (default: the current model)")
    p.add_argument("--data", default=None, help="RAVDESS folder (default: as emovox)")
    p.add_argument("--minutes", type=float, default=10.0, help="stream length (default 10)")
    p.add_argument("--realtime", action="store_true", help="pace the file at real time (else as fast as possible)")
    p.add_argument("--vad", default="auto", choices=["auto", "silero", "energy"])
    p.add_argument("--no-estimates", action="store_true", help="turn running estimates off")
    p.add_argument("--actors", default=None, help="comma-separated actors to draw clips from (default: all)")
    p.add_argument("--edge-search", type=float, default=0.0,
                   help="seconds outside the VAD's ends where the level may move them (0)")
    p.add_argument("--min-resume", type=float, default=0.1,
                   help="seconds above threshold before speech resumes after silence began (0.1)")
    p.add_argument("--context", type=float, default=1.0, help="seconds of context given with each segment (1.0)")
    p.add_argument("--min-silence", type=float, default=1.0,
                   help="seconds of silence that end a segment (1.0, as emovox listen)")
    p.add_argument("--neg-threshold", type=float, default=None,
                   help="VAD release threshold (default threshold - 0.15, as emovox listen)")
    p.add_argument("--trim-db", type=float, default=35.0,
                   help="energy trim of segment ends, dB (35, as emovox listen; 0: off)")
    p.add_argument("--block", type=float, default=0.032, help="source block length in seconds (default 0.032, as emovox listen)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reference", default=str(ANNOTATIONS),
                   help="speech bounds to score boundaries against: TSV files or folders, comma-separated "
                        "(default: bench/annotations); 'energy': the energy reference only")
    p.add_argument("--all-cores", action="store_true", help="do not pin the process to one core")
    args = p.parse_args(argv)

    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    model = load_model(args.model)
    data = default_data_dir(args.data)
    with tempfile.TemporaryDirectory(prefix="emovox-bench-") as tmp:
        wav = Path(tmp) / "stream.wav"
        bounds = reference_bounds(args.reference)
        placed = build_stream(data, args.minutes, args.seed, args.actors.split(",") if args.actors else None, wav,
                              bounds)
        file_samples = sf.info(str(wav)).frames
        source = FileSource(wav, block_seconds=args.block, realtime=args.realtime)
        rec = model.stream(source.rate, vad=args.vad, estimate_window_s=None if args.no_estimates else 2.0,
                           estimate_hop_s=0.5, context_s=args.context, trim_db=args.trim_db,
                           neg_threshold=args.neg_threshold, min_silence_s=args.min_silence,
                           edge_search_s=args.edge_search, min_resume_s=args.min_resume)
        report = run(source, rec)

    segments = report.segments
    matched = match_segments(placed, segments)
    one = [(p, m[0]) for p, m in zip(placed, matched) if len(m) == 1]
    start_err = [1000 * (s.start_s - p.speech_start) for p, s in one]
    end_err = [1000 * (s.end_s - p.speech_end) for p, s in one]
    within = sum(abs(a) <= 150 and abs(b) <= 150 for a, b in zip(start_err, end_err))
    in_clip = {id(s) for m in matched for s in m}
    known = [(p, s) for p, s in one if p.label in model.labels]
    offline = {p.path: model.predict(p.path).label for p, _ in known}
    summary = {
        "bench": "stream", "model": str(model.path), "labels": model.labels, "vad": rec.vad.name,
        "pace": "realtime" if args.realtime else "fast", "stream_seconds": round(report.seconds, 1),
        "clips": len(placed), "annotated_clips": sum(Path(p.path).name in (bounds or {}) for p in placed),
        "segments": len(segments), "estimates": len(report.events) - len(segments),
        "latency_ms": percentiles([s.latency_ms for s in segments]),
        "estimate_latency_ms": percentiles([e.latency_ms for e in report.events if e.kind == "estimate"]),
        "rtf": round(report.real_time_factor, 4), "wall_seconds": round(report.wall_seconds, 1),
        "clips_with_one_segment": len(one), "clips_with_none": sum(len(m) == 0 for m in matched),
        "clips_with_several": sum(len(m) > 1 for m in matched),
        "segments_outside_clips": sum(id(s) not in in_clip for s in segments),
        "start_error_ms": {"mean": round(float(np.mean(start_err)), 1), "abs_p95": round(float(np.percentile(np.abs(start_err), 95)), 1),
                           "abs_max": round(float(np.max(np.abs(start_err))), 1)} if one else {},
        "end_error_ms": {"mean": round(float(np.mean(end_err)), 1), "abs_p95": round(float(np.percentile(np.abs(end_err), 95)), 1),
                         "abs_max": round(float(np.max(np.abs(end_err))), 1)} if one else {},
        "boundaries_within_150ms": int(within),
        "label_accuracy": round(sum(s.label == p.label for p, s in known) / len(known), 4) if known else None,
        "label_agreement_with_offline": round(sum(s.label == offline[p.path] for p, s in known) / len(known), 4)
        if known else None,
        "labelled_segments": len(known),
        "samples": {"file": int(file_samples), "source": source.samples_out, "in": report.samples_in,
                    "processed": report.samples_processed},
        "no_audio_lost": bool(file_samples == source.samples_out == report.samples_in == report.samples_processed),
        "skipped": rec.skipped,
    }
    print(json.dumps(summary))
    rows = [("stream", f"{summary['stream_seconds']} s, {len(placed)} clips, pace {summary['pace']}, VAD {rec.vad.name}"),
            ("latency (segment) ms", "p50 {p50}  p95 {p95}  max {max}".format(**summary["latency_ms"])
             if segments else "-"),
            ("latency (estimate) ms", "p50 {p50}  p95 {p95}  max {max}".format(**summary["estimate_latency_ms"])
             if summary["estimates"] else "-"),
            ("real-time factor", f"{summary['rtf']} (wall {summary['wall_seconds']} s)"),
            ("segments per clip", f"one: {len(one)}  none: {summary['clips_with_none']}  "
                                  f"several: {summary['clips_with_several']}  stray: {summary['segments_outside_clips']}"),
            ("start error ms", json.dumps(summary["start_error_ms"])),
            ("end error ms", json.dumps(summary["end_error_ms"])),
            ("both within 150 ms", f"{within}/{len(placed)} ({summary['annotated_clips']} clips hand-checked, "
                                   "the rest by the energy reference)"),
            ("label accuracy", f"{summary['label_accuracy']} over {len(known)} segments of the model's emotions"),
            ("agreement w/ offline", str(summary["label_agreement_with_offline"])),
            ("samples file/src/in/done", "{file}/{source}/{in}/{processed}".format(**summary["samples"]))]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0 if summary["no_audio_lost"] else 1


if __name__ == "__main__":
    t0 = time.time()
    sys.exit(main())
