"""``emovox predict``: the emotions in files and folders, as rows written while the run goes on."""

from __future__ import annotations

import argparse
import sys
import threading
import warnings
from pathlib import Path

from .common import MODEL_EPILOG, add_model_option, add_uncertain_option, load, note, report_bad_files

NAME = "predict"
HELP = "the emotions in audio files and folders: one row per file, or a timeline of segments or windows"
EPILOG = (MODEL_EPILOG + " Files up to 60 s get one row each; longer files get a row per stretch of speech "
          "(--segments does that for every file, --whole refuses long files, --window S gives fixed windows). "
          "Exit status: 0 all files done, 1 some files left out, 2 usage or model error, 130 interrupted.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..output import FORMATS

    p.add_argument("paths", nargs="+", help="audio files or folders (searched recursively); with --cluster also "
                                            "glob patterns, CSV/Parquet manifests with a path column, fsspec URLs")
    add_model_option(p)
    how = p.add_argument_group("what gets a row").add_mutually_exclusive_group()
    how.add_argument("--segments", action="store_true",
                     help="a row per stretch of speech (voice activity detection), for every file")
    how.add_argument("--window", type=float, default=None, metavar="S", help="a row per window of S seconds")
    how.add_argument("--whole", action="store_true", help="one row per file; files over 60 s are refused")
    p.add_argument("--hop", type=float, default=None, metavar="S",
                   help="with --window: seconds between window starts (default: the window, no overlap)")
    p.add_argument("--min-silence", type=float, default=1.0, metavar="S",
                   help="with segments: silence that ends a segment, seconds")
    p.add_argument("--vad", default="auto", choices=["auto", "silero", "energy"], help="voice activity detector")
    out = p.add_argument_group("output")
    out.add_argument("--format", default=None, choices=FORMATS,
                     help="table (default on a terminal), json, jsonl, csv or parquet; default: from --output's "
                          "extension, else table")
    out.add_argument("--output", "-o", default=None, metavar="FILE",
                     help="write rows to FILE as each input finishes (written under a temporary name and put in "
                          "place at the end or on Ctrl-C) instead of standard output")
    out.add_argument("--json", action="store_true", help="the same as --format json")
    add_uncertain_option(out)
    voice = p.add_argument_group("one speaker (the speaker-adaptive head; see the README)")
    voice.add_argument("--same-speaker", action="store_true",
                       help="every input is the same voice: learn it from the inputs' utterances (needs 10 with "
                            "speech), then answer adapted to it; reads every input twice")
    voice.add_argument("--speaker-profile", type=Path, default=None, metavar="FILE",
                       help="answer adapted to the voice in this saved profile (with --same-speaker: the inputs' "
                            "utterances are added to it)")
    voice.add_argument("--save-speaker-profile", type=Path, default=None, metavar="FILE",
                       help="with --same-speaker: write the voice's profile to FILE, for --speaker-profile or "
                            "`listen --speaker-profile` later")
    out.add_argument("--top", type=int, default=None, metavar="K",
                     help="table: list the K most probable emotions per row (default 3, fewer if the terminal is narrow)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="run on a Dask cluster: a scheduler address (tcp://host:8786), or local[:N] for N local "
                        "worker processes; needs --output DIR (a Parquet dataset; re-running resumes)")
    p.add_argument("--batch-files", type=int, default=None, metavar="N",
                   help="with --cluster: files per task and per part file (default 100)")
    p.add_argument("--max-duration", type=float, default=4 * 3600.0, metavar="S",
                   help="refuse inputs longer than S seconds (counted while decoding)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def segmentation(args: argparse.Namespace):
    """The segmentation the options ask for."""
    from ..errors import ParameterError
    from ..segmentation import Auto, VoiceActivity, Windows

    if args.hop is not None and args.window is None:
        raise ParameterError("--hop needs --window S")
    voice = VoiceActivity(vad=args.vad, min_silence_s=args.min_silence)
    if args.window is not None:
        return Windows(args.window, args.hop)
    if args.segments:
        return voice
    if args.whole:
        return None
    return Auto(voice_activity=voice)


def inputs(paths: list[str]):
    """Files to process, and a :class:`FileError` per folder without audio or missing path."""
    from ..errors import AudioError
    from ..recognizer import find_audio_files, no_audio_problem
    from ..results import FileError

    files, errors = [], []
    for path in map(Path, paths):
        if path.is_dir():
            try:
                found = find_audio_files(path)
            except AudioError as exc:
                errors.append(FileError(exc.path, exc.problem))
                continue
            files += found
            if not found:
                errors.append(FileError(str(path), no_audio_problem()))
        else:
            files.append(path)
    return files, errors


def run(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..errors import LowRateWarning, ParameterError
    from ..output import format_for, open_writer, safe_text
    from ..results import Predictions
    from ..stream.live import install_sigint, restore_sigint

    adapting = args.same_speaker or args.speaker_profile is not None
    if args.save_speaker_profile is not None and not args.same_speaker:
        raise ParameterError("--save-speaker-profile needs --same-speaker (the profile is learnt from the inputs)")
    if args.cluster is not None:
        if adapting:
            raise ParameterError("--same-speaker and --speaker-profile run on this machine, not with --cluster")
        from ..batch.cli import run_cluster

        return run_cluster(args, segmentation(args))
    fmt = "json" if args.json else format_for(args.output, args.format)
    args.data_on_stdout = args.output is None and fmt != "table"
    plan = segmentation(args)
    model = load(args)
    files, errors = inputs(args.paths)
    note(args, f"model: {model.path} ({', '.join(model.labels)}; {model.rate} Hz)")
    meta = {"model": str(model.path), "emovox": __version__}
    if adapting:
        model = adapt_to_speaker(args, model, files, plan)
        if model.speaker is not None:
            meta["speaker_profile_utterances"] = model.speaker.count
    writer = open_writer(fmt, Path(args.output) if args.output else None, model.labels, top=args.top, meta=meta)
    writer.write(Predictions(errors=errors, labels=model.labels))
    stop = threading.Event()
    previous = install_sigint(stop, lambda: print("\nemovox: stopping after the current file (Ctrl-C again to stop "
                                                  "now)", file=sys.stderr, flush=True))
    bar = _progress(len(files), disabled=args.no_progress or len(files) < 2 or not sys.stderr.isatty())
    done = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LowRateWarning)  # printed below, once per file
            for found in model.iter_files(files, segment=plan, jobs=max(1, args.jobs or 1),
                                          max_duration_s=args.max_duration):
                writer.write(found)
                errors += found.errors
                for text in found.notes:
                    bar.write(f"emovox: warning: {safe_text(text)}", file=sys.stderr)
                done += 1
                bar.update()
                if stop.is_set():
                    break
    finally:
        bar.close()
        restore_sigint(previous)
        written = writer.close()
    if written is not None:
        note(args, f"{writer.rows} row(s) from {done} of {len(files)} file(s) written to {written}")
    report_bad_files(errors)
    if stop.is_set() and done < len(files):
        print(f"emovox: interrupted after {done} of {len(files)} file(s); their rows are kept", file=sys.stderr)
        return 130
    return 1 if errors else 0


def adapt_to_speaker(args: argparse.Namespace, model, files: list, plan):
    """The model adapted to the voice of ``--speaker-profile`` and (``--same-speaker``) of the inputs; the model
    as it is, with a warning, when they hold fewer utterances than adapting needs."""
    from ..adaptation import SpeakerProfile
    from ..output import safe_text

    profile = SpeakerProfile.load(args.speaker_profile) if args.speaker_profile else model.speaker_profile()
    model.check_profile(profile)  # a model without the head, or a profile of other features: refused now
    if args.same_speaker:
        note(args, f"learning the voice from {len(files)} file(s) (a first reading of every input)")
        profile.merge(model.speaker_profile(files, segment=plan, max_duration_s=args.max_duration))
        if args.save_speaker_profile is not None:
            profile.save(args.save_speaker_profile)
            note(args, f"speaker profile ({profile.count} utterances) written to {args.save_speaker_profile}")
    needed = model.min_speaker_utterances
    if not profile.ready(needed):
        print(f"emovox: warning: {profile.count} utterance(s) with speech of the voice, fewer than the {needed} "
              "adapting needs (with fewer, adapted answers were worse than none): answering without adaptation",
              file=sys.stderr)
        return model
    where = safe_text(str(args.speaker_profile)) if args.speaker_profile and not args.same_speaker else "the inputs"
    note(args, f"answers adapted to one voice: {profile.count} utterances from {where}")
    return model.adapted(profile)


def _progress(total: int, disabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="file", disable=disabled, leave=False, dynamic_ncols=True, file=sys.stderr)
