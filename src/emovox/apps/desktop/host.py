"""What the panels need from the window that holds them (the app implements it; panels never import the app)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from . import jobs


class Host(Protocol):
    """The services :class:`~emovox.apps.desktop.app.App` offers its panels."""

    audio_input: jobs.AudioInput
    record_seconds: float
    workers: int | None
    settings: dict
    default_data: str | os.PathLike | None
    model: object | None

    def start_action(self, text: str = "") -> None:
        """The user started something: clear a standing error, show ``text`` (if any) as information."""

    def show_info(self, text: str) -> None:
        """Information in the normal colour (an error of the current action stays)."""

    def show_error(self, error: BaseException | str) -> None:
        """An error in red, until the next action."""

    def write_settings(self, **changes) -> None: ...

    def run_task(self, name: str, work: Callable[[threading.Event, jobs.Post], object], *,
                 on_message: Callable[[str, object], None] | None = None,
                 on_done: Callable[[object], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> threading.Event: ...

    def claim_audio(self, owner: str) -> bool: ...

    def release_audio(self, owner: str) -> None: ...

    def use_model(self, path: str | os.PathLike, *, make_current: bool = False) -> None: ...

    def confirm(self, title: str, question: str) -> bool: ...

    def require_model(self): ...

    def speak(self, text: str) -> None: ...

    def ask_open_files(self, title: str, filetypes: Sequence[tuple[str, str]] = (), *,
                       multiple: bool = True) -> list[Path]:
        """Files chosen in a file dialog (``[]`` if cancelled)."""

    def ask_directory(self, title: str, initialdir: str | os.PathLike | None = None) -> Path | None:
        """A folder chosen in a dialog (``None`` if cancelled)."""
