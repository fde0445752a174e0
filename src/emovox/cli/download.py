"""``emovox download``: fetch and verify a corpus."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "download"
HELP = "download and verify a corpus"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("corpus", choices=["ravdess"], help="which corpus")
    p.add_argument("folder", type=Path, help="where to put it")
    p.add_argument("--url", default=None, help="archive address (default: the official one)")


def run(args: argparse.Namespace) -> int:
    from ..download import download_ravdess

    folder = download_ravdess(args.folder, url=args.url)
    print(f"RAVDESS speech is ready in {folder}; use it with --data {folder} or EMOVOX_DATA={folder}")
    return 0
