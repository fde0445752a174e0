"""``emovox use``: choose the current model (the one used when no --model is given)."""

from __future__ import annotations

import argparse

NAME = "use"
HELP = "choose the current model: an installed model's name (see `emovox models`) or a bundle file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="NAME|FILE", help="installed model name, or a .emovox file")


def run(args: argparse.Namespace) -> int:
    from ..recognizer import load_model
    from ..settings import set_current_model
    from .common import resolve_model

    path = resolve_model(args.model)
    model = load_model(path)  # a damaged or missing bundle is refused before it becomes current
    set_current_model(path)
    print(f"current model: {path} ({', '.join(model.labels)}; {model.rate} Hz)")
    return 0
