"""``emovox train``: evaluate a recipe on unseen speakers, fit it on all the data, install the bundle."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import DATA_EPILOG, note
from .evaluate import add_arguments as add_evaluate_arguments
from .evaluate import brief, dataset, finish_report, run_protocols

NAME = "train"
HELP = "evaluate a recipe on unseen speakers, then fit it on all the data and save a bundle"
EPILOG = DATA_EPILOG + (" The bundle goes into the model store (`emovox models`) unless --out says where; it becomes "
                        "the current model only with --use, or when there is none yet.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_evaluate_arguments(p, training=True)
    p.add_argument("--out", type=Path, default=None,
                   help="bundle to write (default: <EMOVOX_HOME>/models/<recipe>-<n>emotions.emovox)")
    p.add_argument("--use", action="store_true", help="make the new bundle the current model")
    p.add_argument("--no-speaker-head", action="store_true",
                   help="leave out the speaker-adaptive head (fitted by default for the whisper-* and stats-lr "
                        "recipes when every recording has a speaker; `predict --same-speaker` and `listen --adapt` "
                        "use it)")


def run(args: argparse.Namespace) -> int:
    from ..pipeline import fit_bundle
    from ..settings import current_model_path, models_dir, set_current_model

    data = dataset(args)
    results = run_protocols(args, data)
    out = args.out or models_dir() / f"{args.recipe}-{len(data.labels)}emotions.emovox"
    path = fit_bundle(data, args.recipe, out, results=results, speaker_adaptive=False if args.no_speaker_head else None)
    if args.use or current_model_path() is None:
        set_current_model(path)
        note(args, f"model: {path} (now the current model)")
    else:
        note(args, f"model: {path} (the current model is unchanged: `emovox use {path}` to switch)")
    finish_report(args, results, data)
    if args.json:
        print(json.dumps({"model": str(path), "data": data.summary(),
                          "results": [brief(r) for r in results]}))
    return 0
