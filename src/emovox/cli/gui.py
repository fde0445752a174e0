"""``emovox gui``: the desktop app (the app itself loads only when run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import MODEL_EPILOG, add_model_option

NAME = "gui"
HELP = "open the desktop app: record and predict, open files, listen live, train"
EPILOG = (MODEL_EPILOG + " Open model… uses a bundle in the window only; tick “Use by default” to make it "
          "the current model. File dialogs: the desktop's (zenity or kdialog, through the XDG desktop portal "
          "where one runs), else Tk's; EMOVOX_DIALOG=tk always uses Tk's.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_option(p)
    p.add_argument("--data", default=None, help="corpus folder proposed for training (remembered once used)")
    p.add_argument("--input", type=Path, default=None, metavar="FILE",
                   help="play FILE as the microphone for Record and Live (for demos and tests)")
    p.add_argument("--fast", action="store_true",
                   help="with --input: read the file as fast as possible instead of at real speed")
    p.add_argument("--device", default=None, help="microphone: device index or name (default: the saved one)")
    p.add_argument("--seconds", type=float, default=5.0, help="recording length")
    p.add_argument("--no-speak", action="store_true", help="do not speak results aloud")
    p.add_argument("--fullscreen", action="store_true", help="start full screen (F11 toggles)")
    p.add_argument("--jobs", type=int, default=None, help="feature processes when training (default: cores - 1)")


def run(args: argparse.Namespace) -> int:
    """Open the window; returns when it is closed."""
    import multiprocessing
    import os

    from .common import resolve_model

    if not os.environ.get("DISPLAY") and os.name == "posix" and not os.environ.get("WAYLAND_DISPLAY"):
        from ..errors import ParameterError

        raise ParameterError("no display: `emovox gui` needs a desktop session (DISPLAY is not set)")
    # Feature extraction starts processes from a worker thread; forking a threaded Tk process is unsafe.
    if "forkserver" in multiprocessing.get_all_start_methods():
        multiprocessing.set_start_method("forkserver", force=True)
    if args.device is not None and str(args.device).isdigit():
        args.device = int(args.device)
    args.model = resolve_model(args.model)
    from ..apps.desktop.app import main

    return main(args)
