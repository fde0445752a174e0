"""File dialogs: the desktop's own where there is one, else Tk's.

On Linux the desktop's dialog is reached through a helper program: ``kdialog`` on KDE Plasma,
else ``zenity`` (GTK; run with ``GTK_USE_PORTAL=1`` so that, where an XDG desktop portal runs,
the portal shows the desktop's own file chooser, KDE's included), else ``kdialog``. The window
stays drawn while the dialog is open (its input is held with ``tk busy``). Without a helper, or if
it fails to start, Tk's dialog is used; on Windows and macOS Tk's dialogs are already the system's.
``EMOVOX_DIALOG=tk`` (or ``zenity``, ``kdialog``) forces a choice.

:func:`command` (which program, which arguments) and :func:`parse` (its answer) touch no display.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import tkinter as tk
from collections.abc import Sequence
from pathlib import Path
from tkinter import filedialog

#: ``(description, "*.wav *.flac")`` pairs, as Tk's dialogs take them.
FileTypes = Sequence[tuple[str, str]]

HELPERS = ("zenity", "kdialog")


def helper() -> str | None:
    """The dialog program to use here (``"zenity"`` or ``"kdialog"``), or ``None`` for Tk's dialogs."""
    forced = os.environ.get("EMOVOX_DIALOG", "").strip().lower()
    if forced == "tk":
        return None
    if forced in HELPERS:
        return forced if shutil.which(forced) else None
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    order = ("kdialog", "zenity") if "KDE" in os.environ.get("XDG_CURRENT_DESKTOP", "").upper() else HELPERS
    return next((name for name in order if shutil.which(name)), None)


def command(program: str, kind: str, *, title: str, filetypes: FileTypes = (),
            initialdir: str | os.PathLike | None = None) -> list[str]:
    """The command line that asks for ``kind`` (``"files"``, ``"file"`` or ``"folder"``) with ``program``."""
    start = str(initialdir) if initialdir else None
    if program == "zenity":
        argv = ["zenity", "--file-selection", f"--title={title}"]
        if kind == "folder":
            argv.append("--directory")
        if kind == "files":
            argv += ["--multiple", "--separator=\n"]
        if start:
            argv.append(f"--filename={start.rstrip(os.sep)}{os.sep}")
        argv += [f"--file-filter={name} | {patterns}" for name, patterns in filetypes if kind != "folder"]
        return argv
    if program == "kdialog":
        if kind == "folder":
            return ["kdialog", "--title", title, "--getexistingdirectory", start or str(Path.home())]
        argv = ["kdialog", "--title", title, "--getopenfilename", start or str(Path.home())]
        if filetypes:
            argv.append("\n".join(f"{patterns}|{name}" for name, patterns in filetypes))
        if kind == "files":
            argv += ["--multiple", "--separate-output"]
        return argv
    raise ValueError(f"unknown dialog program {program!r}")


def parse(output: str) -> list[Path]:
    """The paths a helper printed, one a line."""
    return [Path(line) for line in output.splitlines() if line.strip()]


class HelperFailed(RuntimeError):
    """The helper program could not show a dialog (no display for it, a crash): use Tk's."""


def run_helper(parent: tk.Misc, argv: list[str]) -> list[Path]:
    """Run a dialog program, keeping the window drawn but not clickable meanwhile; the chosen paths.

    Returns ``[]`` when the user cancels. Raises :class:`HelperFailed` when the program fails.
    """
    env = os.environ | {"GTK_USE_PORTAL": "1"}
    # the answer goes to files, not pipes: a long list of paths must not block the helper on a full pipe
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        except OSError as exc:
            raise HelperFailed(str(exc)) from None
        top = parent.winfo_toplevel()
        held = _hold(top)
        try:
            while process.poll() is None:
                try:
                    top.update()
                except tk.TclError:  # the window was closed meanwhile
                    process.kill()
                    process.wait()
                    return []
                time.sleep(0.02)
        finally:
            if held:
                _release(top)
        out.seek(0)
        err.seek(0)
        answer, problem = os.fsdecode(out.read()), os.fsdecode(err.read()).strip()
    if process.returncode == 0:
        return parse(answer)
    if process.returncode == 1 and "display" not in problem.lower():
        return []  # cancelled (zenity and kdialog both exit with 1; warnings on stderr are not failures)
    raise HelperFailed(problem or f"exit status {process.returncode}")


def _hold(top: tk.Misc) -> bool:
    try:
        top.tk.call("tk", "busy", "hold", top)
        return True
    except tk.TclError:
        return False


def _release(top: tk.Misc) -> None:
    try:
        top.tk.call("tk", "busy", "forget", top)
    except tk.TclError:
        pass


def ask_open_files(parent: tk.Misc, title: str, filetypes: FileTypes = (), *, multiple: bool = True,
                   initialdir: str | os.PathLike | None = None) -> list[Path]:
    """Ask for files to open (one if not ``multiple``); ``[]`` if the user cancels."""
    program = helper()
    if program is not None:
        try:
            paths = run_helper(parent, command(program, "files" if multiple else "file", title=title,
                                               filetypes=filetypes, initialdir=initialdir))
            return paths if multiple else paths[:1]
        except HelperFailed:
            pass
    options = {"parent": parent, "title": title, "filetypes": list(filetypes) or [("All files", "*")]}
    if initialdir:
        options["initialdir"] = str(initialdir)
    if multiple:
        return [Path(name) for name in parent.tk.splitlist(filedialog.askopenfilenames(**options))]
    name = filedialog.askopenfilename(**options)
    return [Path(name)] if name else []


def ask_directory(parent: tk.Misc, title: str, *, initialdir: str | os.PathLike | None = None) -> Path | None:
    """Ask for a folder; ``None`` if the user cancels."""
    program = helper()
    if program is not None:
        try:
            paths = run_helper(parent, command(program, "folder", title=title, initialdir=initialdir))
            return paths[0] if paths else None
        except HelperFailed:
            pass
    name = filedialog.askdirectory(parent=parent, title=title, initialdir=str(initialdir) if initialdir else None)
    return Path(name) if name else None
