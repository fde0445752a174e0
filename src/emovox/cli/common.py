"""What several sub-commands share: the data and model options, notes, the list of bad inputs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..corpora import KINDS as CORPUS_KINDS

DATA_EPILOG = "Data: --data, else $EMOVOX_DATA, else ../shared/data/ravdess."
MODEL_EPILOG = "Model: --model FILE or a name from `emovox models`, else the current model (`emovox use`)."


def add_model_option(p: argparse.ArgumentParser) -> None:
    """``--model``: a bundle to use (a file, or the name of an installed model)."""
    p.add_argument("--model", default=None, metavar="BUNDLE",
                   help="bundle file or installed model name (default: the current model, see `emovox use`)")


def add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", action="append", default=None,
                   help="RAVDESS folder, another corpus, a folder per emotion, or a CSV manifest; repeat it to "
                        "train on several corpora (their speakers kept apart as corpus:speaker)")
    p.add_argument("--corpus", action="append", default=None, choices=list(CORPUS_KINDS),
                   help="how to read --data (default auto); repeat it to give one per --data")
    p.add_argument("--test-data", default=None,
                   help="a second corpus to test on, for --protocol cross-corpus (train on --data, test on this)")
    p.add_argument("--test-corpus", default="auto", choices=list(CORPUS_KINDS), help="how to read --test-data")
    p.add_argument("--emotions", default="all", help="comma-separated emotions, 'all' or 'seed' "
                                                     "(calm,happy,fearful,disgust)")
    p.add_argument("--actors", default=None, help="comma-separated speakers to keep (e.g. 01,02,03)")
    p.add_argument("--jobs", type=int, default=None, help="worker processes for features (default: all cores)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_uncertain_option(p: argparse.ArgumentParser) -> None:
    """``--uncertain-below``: the top probability under which a row is flagged uncertain."""
    p.add_argument("--uncertain-below", type=float, default=0.5, metavar="P",
                   help="flag a row uncertain (a ? after the label in tables) when its top probability is below P "
                        "(0 never)")


def load(args: argparse.Namespace):
    """The model ``--model`` names (a file or an installed name), else the current model; with
    ``--uncertain-below`` if the command has it."""
    from ..recognizer import load_model
    from ..results import UNCERTAIN_BELOW

    return load_model(resolve_model(args.model), uncertain_below=getattr(args, "uncertain_below", UNCERTAIN_BELOW))


def resolve_model(given: str | None) -> Path | None:
    """``given`` as a bundle path: an existing file, else an installed model's name; ``None`` stays ``None``."""
    if given is None:
        return None
    path = Path(given)
    if path.is_file() or path.suffix == ".emovox" or "/" in given:
        return path
    from ..settings import installed_model

    return installed_model(given)


def note(args: argparse.Namespace, text: str) -> None:
    """A line for the user: on stdout, or on stderr when stdout carries data (``--json``, ``--format``)."""
    to_stderr = getattr(args, "json", False) or getattr(args, "data_on_stdout", False)
    print(text, file=sys.stderr if to_stderr else sys.stdout, flush=True)


def report_bad_files(errors) -> None:
    """List the inputs left out on stderr: ``(path, message)`` pairs or :class:`~emovox.results.FileError`."""
    from ..output import safe_text

    if errors:
        print(f"{len(errors)} file(s) left out:", file=sys.stderr)
        for error in errors:
            message = error.message if hasattr(error, "message") else error[1]
            print(f"  {safe_text(message)}", file=sys.stderr)
