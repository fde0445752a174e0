"""What the panels need from the window that holds them (the app implements it; panels never import the app)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Protocol

from . import jobs


class Host(Protocol):
    """The services :class:`~emovox.apps.desktop.app.App` offers its panels."""

    audio_input: jobs.AudioInput
    record_seconds: float
    workers: int | None

    def show_info(self, text: str) -> None: ...

    def show_error(self, error: BaseException | str) -> None: ...

    def write_settings(self, **changes) -> None: ...

    def run_task(self, name: str, work: Callable[[threading.Event, jobs.Post], object], *,
                 on_message: Callable[[str, object], None] | None = None,
                 on_done: Callable[[object], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> threading.Event: ...

    def claim_audio(self, owner: str) -> bool: ...

    def release_audio(self, owner: str) -> None: ...

    model: object | None

    def use_model(self, path: str | os.PathLike, *, make_current: bool = False) -> None: ...

    def confirm(self, title: str, question: str) -> bool: ...

    def require_model(self): ...

    def speak(self, text: str) -> None: ...
