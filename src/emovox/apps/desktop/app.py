"""The desktop app (``emovox gui``): record and predict, open files, listen live, train.

The window never waits on work: audio, training and prediction run in worker
threads (:mod:`emovox.apps.desktop.jobs`) and report through a queue that the Tk
thread drains every few milliseconds. Errors are shown in the window in plain words, in red, until the
user's next action.
"""

from __future__ import annotations

import gc
import os
import queue
import threading
import time
import tkinter as tk
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from tkinter import ttk

from ... import recognizer as rec
from ... import settings
from ...errors import AudioError, BundleError, DataError, EmovoxError
from . import dialogs, jobs
from .panels import LivePanel, PredictPanel, dropped_paths
from .train import TrainPanel
from .widgets import WrapLabel, apply_theme

WELCOME = "Record a clip of 3-5 seconds and we will try to determine the major emotion."


class App:
    """The emovox desktop window.

    Args:
        model: bundle to use; ``None`` loads the current model (the last one trained or chosen).
        audio_input: where recordings and live audio come from (a file stands in for the microphone).
        speak: speak results aloud (``None``: the saved setting, on by default).
        record_seconds: default recording length.
        data: corpus folder proposed for training when none was saved.
        workers: feature-extraction processes when training (``None``: all cores).
        fullscreen: start full screen (F11 toggles).
    """

    def __init__(self, *, model: str | os.PathLike | None = None, audio_input: jobs.AudioInput | None = None,
                 speak: bool | None = None, record_seconds: float = 5.0, data: str | os.PathLike | None = None,
                 workers: int | None = None, fullscreen: bool = False) -> None:
        self.settings = settings.read_settings()
        device = self.settings.get("gui_device")
        self.audio_input = audio_input or jobs.AudioInput(device=device)
        self.record_seconds = record_seconds
        self.default_data = data
        self.workers = workers
        self.model = None
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._tasks: dict[str, threading.Event] = {}
        self._audio_owner: str | None = None
        self._announcer = None
        self._fullscreen = False
        self._error_standing = False  # an error is shown and stays until the user's next action
        self._dialog_open = False
        self._announce_model = False  # say so when a model the user opened is loaded
        self._previous_default: Path | None = None
        self.closed = False

        self.root = _make_root()
        self.root.title("emovox: speech emotion recognition")
        self.root.geometry("1280x720")
        self.root.minsize(1024, 640)
        self.theme = apply_theme(self.root)
        self.speak_var = tk.BooleanVar(value=self.settings.get("gui_speak", True) if speak is None else speak)
        self.message_var = tk.StringVar(value=WELCOME)
        self.model_var = tk.StringVar(value="No model loaded")
        self.default_var = tk.BooleanVar(value=False)
        self._build()
        self._bind_keys()
        self.root.protocol("WM_DELETE_WINDOW", self.close)
        if fullscreen:
            self.set_fullscreen(True)
        self.root.after(20, self._poll)
        self._load_devices()
        self._load_model(model)

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        root = self.root
        root.columnconfigure(0, weight=1)
        root.rowconfigure(2, weight=1)
        header = ttk.Frame(root, padding=(20, 14, 20, 4))
        header.grid(row=0, column=0, sticky="ew")
        header.columnconfigure(1, weight=1)
        ttk.Label(header, text="emovox", style="Title.TLabel").grid(row=0, column=0, sticky="w", padx=(0, 18))
        model_row = ttk.Frame(header)
        model_row.grid(row=1, column=0, columnspan=7, sticky="ew", pady=(2, 0))
        model_row.columnconfigure(0, weight=1)
        self.model_label = WrapLabel(model_row, textvariable=self.model_var, style="Muted.TLabel")
        self.model_label.grid(row=0, column=0, sticky="ew")
        self.default_check = ttk.Checkbutton(model_row, text="Use by default", variable=self.default_var,
                                             command=self._on_default_toggle)
        self.default_check.grid(row=0, column=1, sticky="e", padx=(12, 0))
        self.default_check.state(["disabled"])
        ttk.Button(header, text="Open model…", command=self.choose_model).grid(row=0, column=2, padx=6)
        self.speak_check = ttk.Checkbutton(header, text="Speak results", variable=self.speak_var,
                                           command=self._on_speak_toggle)
        self.speak_check.grid(row=0, column=3, padx=6)
        ttk.Label(header, text="Input").grid(row=0, column=4, padx=(12, 6))
        self.device_var = tk.StringVar(value=self.audio_input.describe())
        self.device_box = ttk.Combobox(header, textvariable=self.device_var, width=28, state="readonly")
        self.device_box.grid(row=0, column=5)
        self.device_box.bind("<<ComboboxSelected>>", self._on_device)
        ttk.Button(header, text="Full screen", command=lambda: self.set_fullscreen(not self.fullscreen)).grid(
            row=0, column=6, padx=(6, 0))

        self.message = WrapLabel(root, textvariable=self.message_var, padding=(20, 2, 20, 6), style="Info.TLabel")
        self.message.grid(row=1, column=0, sticky="ew")
        self.notebook = ttk.Notebook(root)
        self.notebook.grid(row=2, column=0, sticky="nsew", padx=16, pady=(0, 16))
        self.predict = PredictPanel(self.notebook, self)
        self.live = LivePanel(self.notebook, self)
        self.train = TrainPanel(self.notebook, self)
        self.notebook.add(self.predict, text="Record and predict")
        self.notebook.add(self.live, text="Live")
        self.notebook.add(self.train, text="Train")

    def _bind_keys(self) -> None:
        self.root.bind("<F11>", lambda _e: self.set_fullscreen(not self.fullscreen))
        self.root.bind("<Escape>", lambda _e: self.set_fullscreen(False))
        self.root.bind("<Control-o>", lambda _e: self.predict.open_files())
        self.root.bind("<Control-r>", lambda _e: self.predict.record())
        self.root.bind("<Control-q>", lambda _e: self.close())
        if hasattr(self.root, "drop_target_register"):
            from tkinterdnd2 import DND_FILES

            self.root.drop_target_register(DND_FILES)
            self.root.dnd_bind("<<Drop>>", self._on_drop)

    # -- window ---------------------------------------------------------------------------------
    @property
    def fullscreen(self) -> bool:
        """Whether full screen was asked for (the window manager does the resizing)."""
        return self._fullscreen

    def set_fullscreen(self, on: bool) -> None:
        self._fullscreen = bool(on)
        self.root.attributes("-fullscreen", self._fullscreen)

    def start_action(self, text: str = "") -> None:
        """The user started something (pressed a button, dropped files): a standing error goes, and ``text``
        (if any) is shown as information."""
        self._error_standing = False
        if text:
            self.show_info(text)

    def show_info(self, text: str) -> None:
        """Information under the header, in the normal text colour.

        An error stays until the user's next action (:meth:`start_action`): information that comes
        after it (the rest of a batch finishing, say) does not hide it.
        """
        if self._error_standing:
            return
        self.message.configure(style="Info.TLabel")
        self.message_var.set(text)

    def show_error(self, error: BaseException | str) -> None:
        """An error in plain words under the header, in red; it stays until the user's next action."""
        self._error_standing = True
        self.message.configure(style="Error.TLabel")
        self.message_var.set(plain_message(error))

    @property
    def showing_error(self) -> bool:
        """Whether the message under the header is an error."""
        return self._error_standing

    # -- dialogs (attributes a test may replace: ``app.ask_open_files = lambda *a, **k: [path]``) --------------
    def ask_open_files(self, title: str, filetypes: Sequence[tuple[str, str]] = (), *,
                       multiple: bool = True) -> list[Path]:
        """Files chosen in the desktop's file dialog (Tk's where there is none); ``[]`` if cancelled."""
        if self._dialog_open:
            return []
        self._dialog_open = True
        try:
            return dialogs.ask_open_files(self.root, title, filetypes, multiple=multiple)
        finally:
            self._dialog_open = False

    def ask_directory(self, title: str, initialdir: str | os.PathLike | None = None) -> Path | None:
        """A folder chosen in the desktop's folder dialog; ``None`` if cancelled."""
        if self._dialog_open:
            return None
        self._dialog_open = True
        try:
            return dialogs.ask_directory(self.root, title, initialdir=initialdir)
        finally:
            self._dialog_open = False

    def write_settings(self, **changes) -> None:
        self.settings |= changes
        settings.write_settings(**changes)

    # -- background work ------------------------------------------------------------------------
    def run_task(self, name: str, work: Callable[[threading.Event, jobs.Post], object], *,
                 on_message: Callable[[str, object], None] | None = None,
                 on_done: Callable[[object], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> threading.Event:
        """Run ``work(stop, post)`` in a worker thread; its messages and outcome come back on the UI thread.

        Returns the ``stop`` event the work watches.
        """
        stop = threading.Event()
        put = self._queue.put

        def post(kind: str, payload: object) -> None:
            if on_message is not None:
                put(partial(on_message, kind, payload))

        def target() -> None:
            try:
                result = work(stop, post)
            except BaseException as exc:  # noqa: BLE001 - every failure is shown to the user
                put(partial(on_error or self.show_error, exc))
            else:
                if on_done is not None:
                    put(partial(on_done, result))
            finally:
                put(partial(self._tasks.pop, name, None))

        self._tasks[name] = stop
        threading.Thread(target=target, name=f"emovox-{name}", daemon=True).start()
        return stop

    def busy(self) -> bool:
        """Whether any background work is running."""
        return bool(self._tasks)

    def _poll(self) -> None:
        deadline = time.monotonic() + 0.04
        while time.monotonic() < deadline:
            try:
                callback = self._queue.get_nowait()
            except queue.Empty:
                break
            try:
                callback()
            except Exception as exc:  # noqa: BLE001 - a display bug must not stop the loop
                self.show_error(exc)
        if not self.closed:
            self.root.after(15, self._poll)

    def claim_audio(self, owner: str) -> bool:
        """Take the audio input for ``owner`` (record or live); False, with a message, if in use."""
        if self._audio_owner not in (None, owner):
            self.show_error(f"The input is busy ({self._audio_owner}): stop it first.")
            return False
        self._audio_owner = owner
        return True

    def release_audio(self, owner: str) -> None:
        if self._audio_owner == owner:
            self._audio_owner = None

    # -- model ----------------------------------------------------------------------------------
    def _load_model(self, path: str | os.PathLike | None) -> None:
        if path is None and settings.current_model_path() is None:
            self.model_var.set("No model yet: train one in the Train tab, or open a bundle.")
            return
        self.model_var.set("Loading the model…")
        self.run_task("model", lambda stop, post: rec.load_model(path), on_done=self._set_model,
                      on_error=self._on_model_error)

    def _on_model_error(self, exc: BaseException) -> None:
        self._announce_model = False
        self.model_var.set("No model loaded" if self.model is None else self._describe_model(self.model))
        self.show_error(exc)

    @staticmethod
    def _describe_model(model) -> str:
        metrics = {m["protocol"]: m for m in model.info.get("metrics") or []}
        figure = next((f"UAR {m['uar']['mean']:.0f} % on unseen speakers" for m in metrics.values()), "")
        recipe = (model.info.get("model") or {}).get("name", model.name)
        return (f"Model: {recipe}, {len(model.labels)} emotions ({', '.join(model.labels)})"
                + (f" · {figure}" if figure else "") + f" · {Path(model.path).name}")

    def _set_model(self, model) -> None:
        self.model = model
        self.model_var.set(self._describe_model(model))
        self.predict.set_labels(model.labels)
        self.live.set_model(model)
        self._previous_default = None
        self._show_default()
        if self._announce_model:
            self._announce_model = False
            self.show_info(f"Using {Path(model.path).name} in this window. "
                           + ("It is your default model." if self.is_default() else
                              "Your default model is unchanged: tick “Use by default” to change it."))

    def is_default(self) -> bool:
        """Whether the model in the window is the user's current model (what `emovox predict` and the server
        use, and what this window opens with)."""
        current = settings.current_model_path()
        return self.model is not None and current is not None and Path(self.model.path).resolve() == current

    def _show_default(self) -> None:
        self.default_var.set(self.is_default())
        self.default_check.state(["!disabled"] if self.model is not None else ["disabled"])

    def _on_default_toggle(self) -> None:
        if self.model is None:
            self._show_default()
            return
        name = Path(self.model.path).name
        if self.default_var.get():
            self._previous_default = settings.current_model_path()
            settings.set_current_model(self.model.path)
            self.start_action(f"{name} is now your default model: `emovox predict`, the server and this window "
                              "start with it.")
        elif self._previous_default is not None and self._previous_default.is_file():
            settings.set_current_model(self._previous_default)
            self.start_action(f"The default model is {self._previous_default.name} again.")
            self._previous_default = None
        else:
            self.default_var.set(True)
            self.start_action(f"{name} is your default model: to change it, open another model and tick "
                              "“Use by default”.")
        self._show_default()

    def use_model(self, path: str | os.PathLike, *, make_current: bool = False) -> None:
        """Load ``path`` in the background and use it in this window; ``make_current`` also makes it the user's
        current model (what `emovox predict` and the server use)."""
        if make_current:
            settings.set_current_model(path)
        self._load_model(path)

    def confirm(self, title: str, question: str) -> bool:
        """Ask the user a yes/no question (a modal dialog)."""
        from tkinter import messagebox

        return bool(messagebox.askyesno(title, question, parent=self.root))

    def choose_model(self) -> None:
        """Open a model bundle in this window; the user's default model changes only if they tick
        “Use by default” afterwards."""
        chosen = self.ask_open_files("Model bundle", [("emovox bundle", "*.emovox"), ("All files", "*")],
                                     multiple=False)
        if chosen:
            self.start_action(f"Loading {chosen[0].name}…")
            self._announce_model = True
            self.use_model(chosen[0])

    def require_model(self):
        """The loaded model, or ``None`` after telling the user how to get one."""
        if self.model is None:
            self.show_error("No model is loaded yet: train one in the Train tab, or use Open model….")
        return self.model

    # -- input devices and speech ---------------------------------------------------------------
    def _load_devices(self) -> None:
        if self.audio_input.file is not None:
            self.device_box.configure(values=[self.audio_input.describe()], state="disabled")
            return

        def found(devices: list[dict]) -> None:
            self._devices = {"default input": None} | {f"{d.get('index', i)}: {d.get('name', '?')}": d.get(
                "index", i) for i, d in enumerate(devices)}
            self.device_box.configure(values=list(self._devices))

        def failed(exc: BaseException) -> None:
            self.device_box.configure(values=["no microphone found"])
            self.device_var.set("no microphone found")

        def work(stop, post) -> list[dict]:
            from ...stream import list_devices

            return list_devices()

        self.run_task("devices", work, on_done=found, on_error=failed)

    def _on_device(self, _event=None) -> None:
        device = getattr(self, "_devices", {}).get(self.device_var.get())
        self.audio_input = jobs.AudioInput(device=device)
        self.write_settings(gui_device=device)
        self.start_action(f"Recording and live listening use the {self.audio_input.describe()}.")

    def _on_speak_toggle(self) -> None:
        self.write_settings(gui_speak=bool(self.speak_var.get()))
        self.start_action("Results will be spoken aloud." if self.speak_var.get() else
                          "Results are shown on screen only.")

    def speak(self, text: str) -> None:
        """Say ``text`` aloud if speech is on (never blocks; silently does nothing without a voice)."""
        if not self.speak_var.get():
            return
        try:
            if self._announcer is None:
                from ...speech import Announcer

                self._announcer = Announcer()
            self._announcer.say(text)
        except Exception as exc:  # noqa: BLE001 - speech is optional
            self.speak_var.set(False)
            self.speak_check.state(["disabled"])
            self.show_error(f"Speaking is not available here ({exc}); results are shown on screen only.")

    # -- files ----------------------------------------------------------------------------------
    def _on_drop(self, event) -> str:
        self.notebook.select(self.predict)
        self.start_action()
        self.predict.predict_files(dropped_paths(self.root, event.data))
        return getattr(event, "action", "copy")

    # -- lifetime -------------------------------------------------------------------------------
    def screenshot(self, path: str | os.PathLike) -> Path:
        """Save the window as a PNG (X11 screen grab); returns the path."""
        from PIL import ImageGrab

        self.root.update()
        x, y = self.root.winfo_rootx(), self.root.winfo_rooty()
        w, h = self.root.winfo_width(), self.root.winfo_height()
        image = ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=os.environ.get("DISPLAY"))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
        return path

    def run(self) -> None:
        """Show the window until it is closed."""
        self.root.mainloop()

    def close(self) -> None:
        """Stop background work and close the window."""
        for stop in list(self._tasks.values()):
            stop.set()
        if self._announcer is not None:
            try:
                self._announcer.close()
            except Exception:  # noqa: BLE001
                pass
        self.closed = True
        self.root.destroy()
        gc.collect()  # free Tk objects on this thread; a worker thread's collection would stall on Tcl


def _make_root() -> tk.Tk:
    """A Tk root that accepts dropped files when tkinterdnd2 is installed, else a plain one."""
    try:
        from tkinterdnd2 import TkinterDnD

        return TkinterDnD.Tk()
    except Exception:  # noqa: BLE001 - drag and drop is optional
        return tk.Tk()


def plain_message(error: BaseException | str) -> str:
    """One line for the user: what went wrong and, where possible, what to do."""
    if isinstance(error, str):
        return error
    if isinstance(error, AudioError):
        return f"Could not use the audio {Path(error.path).name}: {error.problem}."
    if isinstance(error, BundleError):
        return f"No usable model: {error}"
    if isinstance(error, DataError):
        return f"Cannot train on this data: {error}"
    if isinstance(error, EmovoxError):
        return str(error)
    if isinstance(error, (ValueError, InterruptedError)):
        return str(error)
    if isinstance(error, (ImportError, ModuleNotFoundError)):
        return f"A part of emovox is missing here ({error.name or error}); reinstall emovox."
    if isinstance(error, OSError):
        return f"The system refused: {error.strerror or error}."
    return f"Something went wrong: {type(error).__name__}: {error}"


def main(args) -> int:
    """Entry point of ``emovox gui`` (see :mod:`emovox.cli.gui`)."""
    audio_input = jobs.AudioInput(file=args.input, device=args.device, realtime=not args.fast) \
        if args.input or args.device is not None else None
    app = App(model=args.model, audio_input=audio_input, speak=False if args.no_speak else None,
              record_seconds=args.seconds, data=args.data, workers=args.jobs or jobs.default_jobs(),
              fullscreen=args.fullscreen)
    app.run()
    return 0
