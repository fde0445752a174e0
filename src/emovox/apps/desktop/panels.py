"""The desktop app's Predict tab (record, open or drop files) and Live tab (continuous listening)."""

from __future__ import annotations

import tkinter as tk
from pathlib import Path
from tkinter import filedialog, ttk
from typing import TYPE_CHECKING

from ...audio import AUDIO_EXTENSIONS
from . import jobs
from .host import Host
from .widgets import EmotionBars, LevelMeter, Timeline

if TYPE_CHECKING:
    from ...results import Prediction


class PredictPanel(ttk.Frame):
    """Record N seconds (with a level meter) or open files; show the label and a bar per emotion."""

    def __init__(self, master: tk.Misc, app: Host) -> None:
        super().__init__(master, padding=16)
        self.app = app
        self.seconds_var = tk.DoubleVar(value=app.record_seconds)
        self.record_var = tk.StringVar(value="")
        self.label_var = tk.StringVar(value="–")
        self.source_var = tk.StringVar(value="Record a clip of 3-5 seconds, or open audio files.")
        self.last_prediction: Prediction | None = None
        self.last_recording: Path | None = None
        self.columnconfigure(0, weight=2, uniform="predict")
        self.columnconfigure(1, weight=3, uniform="predict")
        self.rowconfigure(0, weight=1)

        left = ttk.Frame(self)
        left.grid(row=0, column=0, sticky="nsew", padx=(0, 16))
        left.columnconfigure(0, weight=1)
        left.rowconfigure(5, weight=1)
        self.record_button = ttk.Button(left, text="●  Record and predict", style="Accent.TButton",
                                        command=self.record)
        self.record_button.grid(row=0, column=0, sticky="ew")
        options = ttk.Frame(left)
        options.grid(row=1, column=0, sticky="ew", pady=(8, 4))
        ttk.Label(options, text="Seconds").grid(row=0, column=0, padx=(0, 8))
        ttk.Spinbox(options, from_=1, to=30, increment=1, width=5, textvariable=self.seconds_var).grid(row=0, column=1)
        ttk.Label(options, textvariable=self.record_var, style="Muted.TLabel").grid(row=0, column=2, padx=12)
        self.meter = LevelMeter(left)
        self.meter.grid(row=2, column=0, sticky="ew", pady=(0, 14))
        ttk.Button(left, text="Open audio files…", command=self.open_files).grid(row=3, column=0, sticky="ew")
        ttk.Label(left, text="…or drop WAV / FLAC / OGG files onto the window", style="Muted.TLabel").grid(
            row=4, column=0, sticky="w", pady=(4, 8))
        self.history = ttk.Treeview(left, columns=("emotion", "confidence"), show="tree headings", height=6)
        self.history.heading("#0", text="source")
        self.history.heading("emotion", text="emotion")
        self.history.heading("confidence", text="confidence")
        self.history.column("#0", width=220, stretch=True)
        self.history.column("emotion", width=100, stretch=False)
        self.history.column("confidence", width=100, stretch=False, anchor="e")
        self.history.grid(row=5, column=0, sticky="nsew")
        self.history.bind("<<TreeviewSelect>>", self._on_select)
        self._rows: dict[str, Prediction] = {}

        right = ttk.Frame(self)
        right.grid(row=0, column=1, sticky="nsew")
        right.columnconfigure(0, weight=1)
        ttk.Label(right, text="Emotion predicted", style="Muted.TLabel").grid(row=0, column=0, sticky="w")
        self.result_label = ttk.Label(right, textvariable=self.label_var, style="Result.TLabel")
        self.result_label.grid(row=1, column=0, sticky="w")
        ttk.Label(right, textvariable=self.source_var, style="Muted.TLabel", wraplength=640).grid(
            row=2, column=0, sticky="w", pady=(0, 12))
        self.bars = EmotionBars(right)
        self.bars.grid(row=3, column=0, sticky="new")

    def set_labels(self, labels) -> None:
        self.bars.set_labels(labels)

    # -- record ---------------------------------------------------------------------------------
    def record(self) -> None:
        """Record ``Seconds`` from the input, save the WAV, predict and show the result."""
        model = self.app.require_model()
        if model is None or not self.app.claim_audio("record"):
            return
        try:
            seconds = float(self.seconds_var.get())
        except (tk.TclError, ValueError):
            seconds = self.app.record_seconds
        seconds = min(max(seconds, 1.0), 30.0)
        self.record_button.state(["disabled"])
        self.meter.reset()
        self.record_var.set("listening…")
        self._got = 0.0
        self.app.show_info(f"Recording {seconds:g} s from the {self.app.audio_input.describe()}…")

        def work(stop, post):
            source = self.app.audio_input.open()
            samples = jobs.record(source, seconds, stop, post)
            rate = getattr(source, "rate", jobs.MIC_RATE)
            if len(samples) < rate // 4:
                raise ValueError("The recording is shorter than a quarter of a second: nothing to predict.")
            path = jobs.save_recording(samples, rate)
            return path, model.predict(path)

        self.app.run_task("record", work, on_message=self._on_record_message, on_done=self._on_recorded,
                          on_error=self._on_record_error)

    def _on_record_message(self, kind: str, payload) -> None:
        if kind == "level":
            self.meter.set_level(payload)
            self._got += 0.032
            self.record_var.set(f"recording {self._got:.1f} s")

    def _on_record_error(self, exc: BaseException) -> None:
        self.record_button.state(["!disabled"])
        self.record_var.set("")
        self.app.release_audio("record")
        self.app.show_error(exc)

    def _on_recorded(self, outcome) -> None:
        path, prediction = outcome
        self.record_button.state(["!disabled"])
        self.app.release_audio("record")
        self.last_recording = path
        self.record_var.set(f"saved {path.name}")
        self.show(prediction, f"Recording saved as {path}")
        self.app.show_info(f"Emotion predicted: {prediction.label}")
        self.app.speak(f"Emotion predicted: {prediction.label}")

    # -- files ----------------------------------------------------------------------------------
    def open_files(self) -> None:
        names = filedialog.askopenfilenames(parent=self, title="Audio files to predict",
                                            filetypes=[("Audio", " ".join(f"*{e}" for e in AUDIO_EXTENSIONS)),
                                                       ("All files", "*")])
        if names:
            self.predict_files([Path(n) for n in names])

    def predict_files(self, paths: list[Path]) -> None:
        """Predict each file in the background; each result is added to the list as it comes."""
        model = self.app.require_model()
        if model is None or not paths:
            return
        self.app.show_info(f"Predicting {len(paths)} file{'s' if len(paths) > 1 else ''}…")
        self._errors: list[str] = []
        self.app.run_task("files", lambda stop, post: jobs.predict_files(model, paths, stop, post),
                          on_message=self._on_file_message, on_done=self._on_files_done)

    def _on_file_message(self, kind: str, payload) -> None:
        if kind == "predictions":
            for row in payload:
                self.show(row, describe(row))
        elif kind == "file_error":
            path, message = payload
            self._errors.append(message)
            self.app.show_error(f"Could not read {path.name}: {message.split(': ', 1)[-1]}")

    def _on_files_done(self, _result) -> None:
        if not self._errors:
            self.app.show_info(f"Emotion predicted: {self.last_prediction.label}" if self.last_prediction
                               else "Done.")
            if self.last_prediction is not None:
                self.app.speak(f"Emotion predicted: {self.last_prediction.label}")

    # -- display --------------------------------------------------------------------------------
    def show(self, prediction: Prediction, where: str) -> None:
        """Show a prediction as the current result and add it to the history list."""
        self.last_prediction = prediction
        self.label_var.set(prediction.label)
        self.source_var.set(where)
        self.bars.set_labels(list(prediction.probabilities))
        self.bars.set_values(prediction.probabilities)
        item = self.history.insert("", 0, text=Path(prediction.file).name + (
                                       "" if prediction.kind == "whole" else
                                       f" {prediction.start_s:.1f}–{prediction.end_s:.1f} s"),
                                   values=(prediction.label, f"{100 * prediction.probabilities[prediction.label]:.0f} %"))
        self._rows[item] = prediction

    def _on_select(self, _event) -> None:
        for item in self.history.selection():
            prediction = self._rows.get(item)
            if prediction is not None:
                self.label_var.set(prediction.label)
                self.source_var.set(describe(prediction))
                self.bars.set_values(prediction.probabilities)


def describe(row: Prediction) -> str:
    """Where a row comes from: the file, and the stretch for a timeline's row."""
    return row.file if row.kind == "whole" else f"{row.file}, {row.start_s:.2f}–{row.end_s:.2f} s ({row.kind})"


class LivePanel(ttk.Frame):
    """Continuous listening: live bar per emotion, the current segment, and a scrolling timeline."""

    def __init__(self, master: tk.Misc, app: Host) -> None:
        super().__init__(master, padding=16)
        self.app = app
        self.status_var = tk.StringVar(value="Press Start to listen continuously.")
        self.segment_var = tk.StringVar(value="–")
        self.events: list = []
        self._stop = None
        self.columnconfigure(0, weight=3, uniform="live")
        self.columnconfigure(1, weight=2, uniform="live")
        self.rowconfigure(3, weight=1)

        top = ttk.Frame(self)
        top.grid(row=0, column=0, columnspan=2, sticky="ew")
        top.columnconfigure(1, weight=1)
        self.button = ttk.Button(top, text="▶  Start listening", style="Accent.TButton", command=self.toggle)
        self.button.grid(row=0, column=0, padx=(0, 16))
        self.meter = LevelMeter(top)
        self.meter.grid(row=0, column=1, sticky="ew")
        ttk.Label(self, textvariable=self.status_var, style="Muted.TLabel").grid(
            row=1, column=0, columnspan=2, sticky="w", pady=(6, 10))

        ttk.Label(self, text="Right now", style="Heading.TLabel").grid(row=2, column=0, sticky="w")
        ttk.Label(self, text="Last segment", style="Heading.TLabel").grid(row=2, column=1, sticky="w")
        self.bars = EmotionBars(self)
        self.bars.grid(row=3, column=0, sticky="new", padx=(0, 16))
        right = ttk.Frame(self)
        right.grid(row=3, column=1, sticky="nsew")
        right.columnconfigure(0, weight=1)
        right.rowconfigure(1, weight=1)
        ttk.Label(right, textvariable=self.segment_var, style="Result.TLabel").grid(row=0, column=0, sticky="nw")
        self.segments = ttk.Treeview(right, columns=("time", "emotion", "confidence"), show="headings", height=4)
        for column, width in (("time", 150), ("emotion", 110), ("confidence", 100)):
            self.segments.heading(column, text=column)
            self.segments.column(column, width=width, stretch=column == "time")
        self.segments.grid(row=1, column=0, sticky="nsew", pady=(6, 0))
        ttk.Label(self, text="Timeline", style="Heading.TLabel").grid(row=4, column=0, sticky="w", pady=(10, 4))
        self.timeline = Timeline(self)
        self.timeline.grid(row=5, column=0, columnspan=2, sticky="ew")

    def set_labels(self, labels) -> None:
        self.bars.set_labels(labels)

    @property
    def running(self) -> bool:
        return self._stop is not None

    def toggle(self) -> None:
        """Start listening, or stop if already listening."""
        if self.running:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        model = self.app.require_model()
        if model is None or not self.app.claim_audio("live"):
            return
        self.events = []
        self.timeline.clear()
        self.segments.delete(*self.segments.get_children())
        self.meter.reset()
        self.bars.set_labels(model.labels)
        self.segment_var.set("–")
        self.button.configure(text="■  Stop listening")
        self.status_var.set(f"Listening to the {self.app.audio_input.describe()}…")
        self.app.show_info("Live: speak, and each stretch of speech is recognised when you pause.")
        self._stop = self.app.run_task(
            "live", lambda stop, post: jobs.listen(model, self.app.audio_input.open(), stop, post),
            on_message=self._on_message, on_done=self._on_done, on_error=self._on_error)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _finish(self) -> None:
        self._stop = None
        self.button.configure(text="▶  Start listening")
        self.app.release_audio("live")

    def _on_message(self, kind: str, payload) -> None:
        if kind == "level":
            self.meter.set_level(payload)
            return
        event = payload
        self.events.append(event)
        if event.kind == "estimate":
            self.bars.set_values(event.probabilities)
            self.timeline.advance(event.end_s)
        else:
            self.timeline.add(event.start_s, event.end_s, event.label)
            self.bars.set_values(event.probabilities)  # the finished segment's answer replaces the running one
            self.segment_var.set(event.label)
            self.segments.insert("", 0, values=(f"{event.start_s:.1f} – {event.end_s:.1f} s", event.label,
                                                f"{100 * event.probabilities[event.label]:.0f} %"))
            self.status_var.set(f"Segment {event.start_s:.1f}-{event.end_s:.1f} s: {event.label} "
                                f"({100 * event.probabilities[event.label]:.0f} %), "
                                f"ready {event.latency_ms:.0f} ms after it ended")
            self.app.speak(event.label)

    def _on_done(self, count: int) -> None:
        self._finish()
        segments = sum(e.kind == "segment" for e in self.events)
        self.status_var.set(f"Stopped: {segments} segment{'s' if segments != 1 else ''} recognised.")

    def _on_error(self, exc: BaseException) -> None:
        self._finish()
        self.status_var.set("Stopped.")
        self.app.show_error(exc)


def dropped_paths(root: tk.Misc, data: str) -> list[Path]:
    """Audio files in a drag-and-drop payload (Tcl list of paths; folders are searched)."""
    out: list[Path] = []
    for name in root.tk.splitlist(data):
        path = Path(name)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
        else:
            out.append(path)
    return out
