"""The desktop app's Predict tab (record, open or drop files) and Live tab (continuous listening)."""

from __future__ import annotations

import tkinter as tk
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING

from ...audio import AUDIO_EXTENSIONS
from . import jobs
from .host import Host
from .widgets import EmotionBars, LevelMeter, Timeline, WrapLabel, clock

if TYPE_CHECKING:
    from ...results import Prediction


class FileResult:
    """One file's answer as the Predict tab shows it: its rows (one for a short file, one per stretch of
    speech for a long one), its length, and the share of time per emotion."""

    def __init__(self, path: str | Path, rows: list[Prediction], duration_s: float, labels=()) -> None:
        self.path = Path(path)
        self.rows = list(rows)
        self.duration_s = max(duration_s, max((r.end_s for r in self.rows), default=0.0))
        self.shares = jobs.time_shares(self.rows, labels or list(self.rows[0].probabilities))
        self.item: str | None = None  # its row in the list
        self.items: list[str] = []  # the rows of its stretches, in time order

    @property
    def is_timeline(self) -> bool:
        """Whether the file was cut into stretches (longer than a minute) rather than answered as a whole."""
        return any(r.kind != "whole" for r in self.rows)

    @property
    def label(self) -> str:
        """The emotion of the most time (the only row's label for a short file)."""
        return self.rows[0].label if not self.is_timeline else max(self.shares, key=self.shares.get)

    @property
    def speech_s(self) -> float:
        return sum(r.duration_s for r in self.rows)

    def summary(self) -> str:
        """``"16 stretches of speech (31 s in 1:26) · calm 42 %, happy 30 %, …"``: the share of speech time per
        emotion, most first (emotions with no time left out)."""
        shares = sorted(((k, v) for k, v in self.shares.items() if v > 0), key=lambda kv: -kv[1])
        n = len(self.rows)
        return (f"{n} stretch{'es' if n != 1 else ''} of speech ({self.speech_s:.0f} s in "
                f"{clock(self.duration_s, minutes=True)}) · "
                + ", ".join(f"{label} {100 * share:.0f} %" for label, share in shares))


AUDIO_TYPES = [("Audio", " ".join(f"*{e}" for e in AUDIO_EXTENSIONS)), ("All files", "*")]


class PredictPanel(ttk.Frame):
    """Record N seconds (with a level meter) or open files; show the label and a bar per emotion.

    A file longer than a minute gets a timeline: a strip with a block per stretch of speech, the list of
    stretches (under the file in the list on the left), and the share of time per emotion in the bars.
    """

    def __init__(self, master: tk.Misc, app: Host) -> None:
        super().__init__(master, padding=16)
        self.app = app
        self.seconds_var = tk.DoubleVar(value=app.record_seconds)
        self.record_var = tk.StringVar(value="")
        self.caption_var = tk.StringVar(value="Emotion predicted")
        self.label_var = tk.StringVar(value="–")
        self.source_var = tk.StringVar(value="Record a clip of 3-5 seconds, or open audio files.")
        self.bars_var = tk.StringVar(value="Probability per emotion")
        self.summary_var = tk.StringVar(value="")
        self.last_prediction: Prediction | None = None
        self.last_recording: Path | None = None
        self.files: list[FileResult] = []
        self.shown: FileResult | None = None  # the file whose timeline is shown
        self._next_duration = 0.0
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
        options.columnconfigure(2, weight=1)
        ttk.Label(options, text="Seconds").grid(row=0, column=0, padx=(0, 8))
        ttk.Spinbox(options, from_=1, to=30, increment=1, width=5, textvariable=self.seconds_var).grid(row=0, column=1)
        ttk.Label(options, textvariable=self.record_var, style="Muted.TLabel").grid(row=0, column=2, padx=12,
                                                                                    sticky="w")
        self.meter = LevelMeter(left)
        self.meter.grid(row=2, column=0, sticky="ew", pady=(0, 14))
        self.open_button = ttk.Button(left, text="Open audio files…", command=self.open_files)
        self.open_button.grid(row=3, column=0, sticky="ew")
        WrapLabel(left, text="…or drop audio files onto the window", style="Muted.TLabel").grid(
            row=4, column=0, sticky="ew", pady=(4, 8))
        history = ttk.Frame(left)
        history.grid(row=5, column=0, sticky="nsew")
        history.columnconfigure(0, weight=1)
        history.rowconfigure(0, weight=1)
        self.history = ttk.Treeview(history, columns=("emotion", "confidence"), show="tree headings", height=4)
        self.history.heading("#0", text="source")
        self.history.heading("emotion", text="emotion")
        self.history.heading("confidence", text="confidence")
        self.history.column("#0", width=150, minwidth=80, stretch=True)
        self.history.column("emotion", width=85, minwidth=60, stretch=False)
        self.history.column("confidence", width=95, minwidth=60, stretch=False, anchor="e")
        self.history.grid(row=0, column=0, sticky="nsew")
        scroll = ttk.Scrollbar(history, orient="vertical", command=self.history.yview)
        scroll.grid(row=0, column=1, sticky="ns")
        self.history.configure(yscrollcommand=scroll.set)
        self.history.bind("<<TreeviewSelect>>", self._on_select)
        self._rows: dict[str, Prediction] = {}  # tree item -> row
        self._file_items: dict[str, FileResult] = {}  # tree item of a file with a timeline -> the file
        self._segment_items: dict[str, tuple[FileResult, int]] = {}  # tree item of a stretch -> (file, index)
        self._showing: str | None = None  # the tree item shown on the right

        right = ttk.Frame(self)
        right.grid(row=0, column=1, sticky="nsew")
        right.columnconfigure(0, weight=1)
        right.rowconfigure(4, weight=1)  # the bars shrink in a small window ...
        right.rowconfigure(6, weight=12)  # ... and spare height goes below the timeline, not between
        ttk.Label(right, textvariable=self.caption_var, style="Muted.TLabel").grid(row=0, column=0, sticky="w")
        self.result_label = ttk.Label(right, textvariable=self.label_var, style="Result.TLabel")
        self.result_label.grid(row=1, column=0, sticky="w")
        self.source_label = WrapLabel(right, textvariable=self.source_var, style="Muted.TLabel")
        self.source_label.grid(row=2, column=0, sticky="ew", pady=(0, 10))
        ttk.Label(right, textvariable=self.bars_var, style="Heading.TLabel").grid(row=3, column=0, sticky="w")
        self.bars = EmotionBars(right)
        self.bars.grid(row=4, column=0, sticky="nsew", pady=(4, 0))

        self.timeline_box = ttk.Frame(right)
        self.timeline_box.grid(row=5, column=0, sticky="ew", pady=(10, 0))
        self.timeline_box.columnconfigure(0, weight=1)
        self.timeline_title = ttk.Label(self.timeline_box, text="Timeline", style="Heading.TLabel")
        self.timeline_title.grid(row=0, column=0, sticky="w")
        self.summary_label = WrapLabel(self.timeline_box, textvariable=self.summary_var, style="Muted.TLabel")
        self.summary_label.grid(row=1, column=0, sticky="ew")
        self.timeline = Timeline(self.timeline_box, span=None, height=72, on_select=self._on_strip_select)
        self.timeline.grid(row=2, column=0, sticky="ew", pady=(4, 0))
        self.timeline_box.grid_remove()

    def set_labels(self, labels) -> None:
        self.bars.set_labels(labels)

    # -- record ---------------------------------------------------------------------------------
    def record(self) -> None:
        """Record ``Seconds`` from the input, save the WAV, predict and show the result."""
        self.app.start_action()
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
        self.add_file(FileResult(path, [prediction], prediction.end_s), where=f"Recording saved as {path}")
        self.app.show_info(f"Emotion predicted: {prediction.label}")
        self.app.speak(f"Emotion predicted: {prediction.label}")

    # -- files ----------------------------------------------------------------------------------
    def open_files(self) -> None:
        """Ask for audio files (the desktop's file dialog) and predict them."""
        self.app.start_action()
        paths = self.app.ask_open_files("Audio files to predict", AUDIO_TYPES)
        if paths:
            self.predict_files([Path(p) for p in paths])

    def predict_files(self, paths: list[Path]) -> None:
        """Predict each file in the background; each file is added to the list as it comes."""
        model = self.app.require_model()
        if model is None or not paths:
            return
        self.app.show_info(f"Predicting {len(paths)} file{'s' if len(paths) > 1 else ''}…")
        self._errors: list[str] = []
        self._done: list[FileResult] = []
        self.open_button.state(["disabled"])
        self.app.run_task("files", lambda stop, post: jobs.predict_files(model, paths, stop, post),
                          on_message=self._on_file_message, on_done=self._on_files_done,
                          on_error=self._on_files_error)

    def _on_file_message(self, kind: str, payload) -> None:
        if kind == "duration":  # comes just before the file's predictions
            _path, self._next_duration = payload
        elif kind == "predictions":
            rows = list(payload)
            labels = getattr(payload, "labels", None) or list(rows[0].probabilities)
            result = FileResult(rows[0].file, rows, self._next_duration, labels)
            self._next_duration = 0.0
            self._done.append(result)
            self.add_file(result)
        elif kind == "file_error":
            path, message = payload
            self._errors.append(message)
            self.app.show_error(f"Could not read {path.name}: {message.split(': ', 1)[-1]}")

    def _on_files_error(self, exc: BaseException) -> None:
        self.open_button.state(["!disabled"])
        self.app.show_error(exc)

    def _on_files_done(self, _result) -> None:
        self.open_button.state(["!disabled"])
        if not self._done:
            if not self._errors:
                self.app.show_info("Done.")
            return
        last = self._done[-1]
        if last.is_timeline:
            text = (f"{last.path.name}: mostly {last.label} ({100 * last.shares[last.label]:.0f} % of the speech, "
                    f"{len(last.rows)} stretches)")
        else:
            text = f"Emotion predicted: {last.label}"
        self.app.show_info(text + (f" · {len(self._done)} files" if len(self._done) > 1 else ""))
        self.app.speak(f"Emotion predicted: {last.label}" if not last.is_timeline else f"Mostly {last.label}")

    # -- display --------------------------------------------------------------------------------
    def add_file(self, result: FileResult, *, where: str | None = None) -> None:
        """Add a file to the top of the list and show it: one row, or a row with its stretches under it."""
        self.files.append(result)
        self.last_prediction = result.rows[-1]
        if not result.is_timeline:
            row = result.rows[0]
            item = self.history.insert("", 0, text=_row_name(row),
                                       values=(row.label, f"{100 * row.confidence:.0f} %"))
            self._rows[item] = row
            result.item = item
            self._showing = item
            self.history.selection_set(item)
            self.history.see(item)
            self._show_row(row, where or describe(row))
            self._show_timeline(None)
            return
        item = self.history.insert("", 0, open=True, text=f"{result.path.name} ({clock(result.duration_s, minutes=True)})",
                                   values=(result.label, f"{100 * result.shares[result.label]:.0f} % time"))
        self._file_items[item] = result
        result.item = item
        for index, row in enumerate(result.rows):
            child = self.history.insert(item, "end", text=f"{_span(row)}",
                                        values=(row.label, f"{100 * row.confidence:.0f} %"))
            self._rows[child] = row
            self._segment_items[child] = (result, index)
            result.items.append(child)
        self._showing = item
        self.history.selection_set(item)
        self.history.see(item)
        self._show_file(result)

    def _show_row(self, row: Prediction, where: str) -> None:
        """Show one answer: its emotion, where it comes from and its probabilities."""
        self.caption_var.set("Emotion predicted")
        self.label_var.set(row.label)
        self.source_var.set(where)
        self.bars_var.set("Probability per emotion")
        self.bars.set_labels(list(row.probabilities))
        self.bars.set_values(row.probabilities)

    def _show_file(self, result: FileResult) -> None:
        """Show a long file: the emotion of most of its speech, the share of time per emotion, its timeline."""
        self.caption_var.set("Most of the speech")
        self.label_var.set(result.label)
        self.source_var.set(str(result.path))
        self.bars_var.set("Share of speech time per emotion")
        self.bars.set_labels(list(result.shares))
        self.bars.set_values(result.shares)
        self._show_timeline(result)

    def _show_timeline(self, result: FileResult | None, selected: int | None = None) -> None:
        if result is None:
            self.shown = None
            self.timeline_box.grid_remove()
            return
        if self.shown is not result:
            self.shown = result
            self.timeline_title.configure(text=f"Timeline of {result.path.name}")
            self.summary_var.set(result.summary())
            self.timeline.show([(r.start_s, r.end_s, r.label) for r in result.rows], result.duration_s)
            self.timeline_box.grid()
        self.timeline.select(selected)

    def _on_select(self, _event=None) -> None:
        for item in self.history.selection()[:1]:
            if item == self._showing:
                continue
            self._showing = item
            if item in self._file_items:
                self._show_file(self._file_items[item])
            elif item in self._segment_items:
                result, index = self._segment_items[item]
                row = result.rows[index]
                self._show_row(row, describe(row))
                self._show_timeline(result, index)
            elif item in self._rows:
                self._show_row(self._rows[item], describe(self._rows[item]))
                self._show_timeline(None)

    def _on_strip_select(self, index: int) -> None:
        """A click on a block of the timeline selects that stretch in the list."""
        if self.shown is None:
            return
        item = self.shown.items[index]
        self.history.selection_set(item)
        self.history.see(item)


def _span(row: Prediction) -> str:
    return f"{clock(row.start_s, minutes=True, tenths=True)} – {clock(row.end_s, minutes=True, tenths=True)}"


def _row_name(row: Prediction) -> str:
    return Path(row.file).name + ("" if row.kind == "whole" else f" {row.start_s:.1f}–{row.end_s:.1f} s")


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
        self.adapt_var = tk.BooleanVar(value=False)
        self.events: list = []
        self._stop = None
        self.voice = None  # the SpeakerProfile learnt while adapting, kept across Start/Stop for the same model
        self._adapting_run = False  # this run adapts (the box is locked while listening)
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
        # one speaker: from the 10th stretch of speech on, answers relative to this voice (emovox.adaptation)
        self.adapt_check = ttk.Checkbutton(top, text="Adapt to this voice", variable=self.adapt_var,
                                           state="disabled")
        self.adapt_check.grid(row=0, column=2, padx=(16, 0))
        self.status_label = WrapLabel(self, textvariable=self.status_var, style="Muted.TLabel")
        self.status_label.grid(row=1, column=0, columnspan=2, sticky="ew", pady=(6, 10))

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

    def set_model(self, model) -> None:
        """A new model: its labels, whether it can adapt to a voice (its speaker-adaptive head), a fresh voice."""
        self.set_labels(model.labels)
        self.voice = None
        self._enable_adapt(model)
        if not model.speaker_adaptive:
            self.adapt_var.set(False)

    def _enable_adapt(self, model) -> None:
        """*Adapt to this voice* can be ticked only for a model with the speaker-adaptive head."""
        self.adapt_check.configure(state="normal" if model is not None and model.speaker_adaptive else "disabled")

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
        self.app.start_action()
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
        speaker = None
        self._adapting_run = self.adapt_var.get() and model.speaker_adaptive
        if self._adapting_run:
            if self.voice is None:
                self.voice = model.speaker_profile()
            speaker = self.voice
        self.adapt_check.configure(state="disabled")  # a run adapts or not from its start
        self._stop = self.app.run_task(
            "live", lambda stop, post: jobs.listen(model, self.app.audio_input.open(), stop, post, speaker=speaker),
            on_message=self._on_message, on_done=self._on_done, on_error=self._on_error)

    def stop(self) -> None:
        self.app.start_action()
        if self._stop is not None:
            self._stop.set()

    def _finish(self) -> None:
        self._stop = None
        self.button.configure(text="▶  Start listening")
        self._enable_adapt(self.app.model)
        self.app.release_audio("live")

    def _on_message(self, kind: str, payload) -> None:
        if kind == "level":
            self.meter.set_level(payload)
            return
        if kind == "adapting":
            self.app.show_info(f"Adapting to this voice from now on ({payload} stretches of speech heard).")
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
        voice = ""
        if self._adapting_run and self.voice is not None and self.app.model is not None:
            needed = self.app.model.min_speaker_utterances
            voice = (f" Adapted to this voice ({self.voice.count} stretches of speech)." if self.voice.count >= needed
                     else f" Not adapted yet: {self.voice.count} of {needed} stretches of speech heard.")
        self.status_var.set(f"Stopped: {segments} segment{'s' if segments != 1 else ''} recognised.{voice}")

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
