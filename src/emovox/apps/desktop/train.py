"""The desktop app's Train tab: corpus, emotions, model; background training; the figures."""

from __future__ import annotations

import tkinter as tk
from pathlib import Path
from tkinter import ttk

from ...labels import EMOTIONS, SEED_EMOTIONS
from ...models import DEFAULT_MODEL, MODELS
from . import jobs
from .host import Host
from .widgets import EmotionBars, WrapLabel


class TrainPanel(ttk.Frame):
    """Pick a corpus folder, emotions and model; train off the UI thread; show speaker-independent figures."""

    def __init__(self, master: tk.Misc, app: Host) -> None:
        super().__init__(master, padding=16)
        self.app = app
        settings = app.settings
        self.data_var = tk.StringVar(value=settings.get("gui_data") or str(app.default_data or ""))
        self.model_var = tk.StringVar(value=settings.get("gui_model") or DEFAULT_MODEL)
        self.actors_var = tk.StringVar(value="")
        chosen = settings.get("gui_emotions") or list(SEED_EMOTIONS)
        self.emotion_vars = {e: tk.BooleanVar(value=e in chosen) for e in EMOTIONS}
        self.stage_var = tk.StringVar(value="Choose the corpus, the emotions and the model, then press Train.")
        self.result: dict | None = None
        self._image = None  # the confusion matrix as shown (a PhotoImage)
        self._shown_size: tuple[int, int] | None = None
        self.columnconfigure(0, weight=2, uniform="train")
        self.columnconfigure(1, weight=3, uniform="train")
        self.rowconfigure(0, weight=1)
        self._form(ttk.Frame(self)).grid(row=0, column=0, sticky="nsew", padx=(0, 16))
        self._results(ttk.Frame(self)).grid(row=0, column=1, sticky="nsew")

    # -- layout -------------------------------------------------------------------------------
    def _form(self, form: ttk.Frame) -> ttk.Frame:
        form.columnconfigure(0, weight=1)
        row = ttk.Frame(form)
        row.grid(row=1, column=0, sticky="ew", pady=(0, 10))
        row.columnconfigure(1, weight=1)
        ttk.Label(row, text="Corpus").grid(row=0, column=0, sticky="w", padx=(0, 10))
        ttk.Entry(row, textvariable=self.data_var).grid(row=0, column=1, sticky="ew")
        ttk.Button(row, text="Browse…", command=self.browse).grid(row=0, column=2, padx=(8, 0))

        heading = ttk.Frame(form)
        heading.grid(row=2, column=0, sticky="ew")
        heading.columnconfigure(0, weight=1)
        ttk.Label(heading, text="Emotions", style="Heading.TLabel").grid(row=0, column=0, sticky="w")
        ttk.Button(heading, text="Seed four", style="Small.TButton",
                   command=lambda: self.set_emotions(SEED_EMOTIONS)).grid(row=0, column=1)
        ttk.Button(heading, text="All eight", style="Small.TButton",
                   command=lambda: self.set_emotions(EMOTIONS)).grid(row=0, column=2, padx=(6, 0))
        self.emotion_grid = ttk.Frame(form)
        self.emotion_grid.grid(row=3, column=0, sticky="ew", pady=(2, 10))
        self._emotion_checks = [ttk.Checkbutton(self.emotion_grid, text=e, variable=self.emotion_vars[e])
                                for e in EMOTIONS]
        self._emotion_columns = 0
        self.emotion_grid.bind("<Configure>", lambda e: self._reflow_emotions(e.width))
        self._reflow_emotions(4 * 120)

        options = ttk.Frame(form)
        options.grid(row=5, column=0, sticky="ew", pady=(0, 10))
        options.columnconfigure(1, weight=1)
        ttk.Label(options, text="Model").grid(row=0, column=0, sticky="w", padx=(0, 10))
        self.model_box = ttk.Combobox(options, textvariable=self.model_var, values=sorted(MODELS), state="readonly",
                                      width=12)
        self.model_box.grid(row=0, column=1, sticky="ew")
        ttk.Label(options, text="Actors").grid(row=0, column=2, sticky="w", padx=(14, 10))
        ttk.Entry(options, textvariable=self.actors_var, width=7).grid(row=0, column=3, sticky="ew")
        WrapLabel(options, text="Actors: blank = all speakers; e.g. 1-8 for a quick try", style="Muted.TLabel").grid(
            row=1, column=0, columnspan=4, sticky="ew", pady=(4, 0))

        self.train_button = ttk.Button(form, text="Train", style="Accent.TButton", command=self.train)
        self.train_button.grid(row=6, column=0, sticky="ew", pady=(0, 8))
        self.progress = ttk.Progressbar(form, maximum=1.0, mode="determinate")
        self.progress.grid(row=7, column=0, sticky="ew")
        self.stage_label = WrapLabel(form, textvariable=self.stage_var, style="Muted.TLabel")
        self.stage_label.grid(row=8, column=0, sticky="new", pady=(6, 0))
        form.rowconfigure(8, weight=1)
        return form

    def _results(self, box: ttk.Frame) -> ttk.Frame:
        box.columnconfigure(0, weight=2, uniform="result")
        box.columnconfigure(1, weight=3, uniform="result")
        box.rowconfigure(2, weight=1)
        ttk.Label(box, text="Accuracy on speakers the model never heard", style="Heading.TLabel").grid(
            row=0, column=0, columnspan=2, sticky="w")
        figures = ttk.Frame(box)
        figures.grid(row=1, column=0, columnspan=2, sticky="ew", pady=(6, 10))
        self.figure_vars: dict[str, tk.StringVar] = {}
        for i, (key, name) in enumerate((("uar", "UAR"), ("accuracy", "Accuracy"), ("macro_f1", "Macro-F1"))):
            figures.columnconfigure(i, weight=1)
            self.figure_vars[key] = tk.StringVar(value="–")
            ttk.Label(figures, textvariable=self.figure_vars[key], style="Figure.TLabel").grid(row=0, column=i)
            ttk.Label(figures, text=name, style="Muted.TLabel").grid(row=1, column=i)
        self.recall = EmotionBars(box, row_height=28)
        self.recall.grid(row=2, column=0, sticky="new", padx=(0, 10))
        self.confusion_frame = ttk.Frame(box)
        self.confusion_frame.grid(row=2, column=1, sticky="nsew")
        self.confusion = ttk.Label(self.confusion_frame)
        self.confusion.place(relx=0.5, rely=0.0, anchor="n")
        self.confusion_frame.bind("<Configure>", lambda _e: self._fit_confusion())
        self.bundle_var = tk.StringVar(value="")
        self.bundle_label = WrapLabel(box, textvariable=self.bundle_var, style="Muted.TLabel")
        self.bundle_label.grid(row=3, column=0, columnspan=2, sticky="ew", pady=(8, 0))
        return box

    def _reflow_emotions(self, width: int) -> None:
        """Lay the emotion boxes out in as many columns (2 to 4) as the form's width allows."""
        widest = max(c.winfo_reqwidth() for c in self._emotion_checks) + 12
        columns = max(2, min(4, width // max(widest, 1)))
        if columns == self._emotion_columns:
            return
        self._emotion_columns = columns
        for i, check in enumerate(self._emotion_checks):
            check.grid(row=i // columns, column=i % columns, sticky="w", padx=(0, 12), pady=2)
        for column in range(4):
            self.emotion_grid.columnconfigure(column, weight=1 if column < columns else 0,
                                              uniform="emotion" if column < columns else "")

    # -- actions ------------------------------------------------------------------------------
    def browse(self) -> None:
        """Choose the corpus folder in the desktop's folder dialog."""
        self.app.start_action()
        start = self.data_var.get().strip()
        folder = self.app.ask_directory("Corpus folder", start if start and Path(start).is_dir() else None)
        if folder:
            self.data_var.set(str(folder))

    def set_emotions(self, emotions) -> None:
        for emotion, var in self.emotion_vars.items():
            var.set(emotion in emotions)

    def request(self) -> jobs.TrainRequest:
        """The training asked for by the form (raises ``ValueError`` with a plain message if incomplete)."""
        data = self.data_var.get().strip()
        if not data or not Path(data).is_dir():
            raise ValueError(f"The corpus folder {data!r} does not exist: choose it with Browse…")
        emotions = tuple(e for e in EMOTIONS if self.emotion_vars[e].get())
        if len(emotions) < 2:
            raise ValueError("Tick at least two emotions to tell apart.")
        return jobs.TrainRequest(Path(data), emotions, self.model_var.get(), parse_actors(self.actors_var.get()),
                                 jobs=self.app.workers)

    def train(self) -> None:
        """Start training in the background (the button is disabled until it ends)."""
        self.app.start_action()
        try:
            request = self.request()
        except ValueError as exc:
            self.app.show_error(str(exc))
            return
        self.app.write_settings(gui_data=str(request.data), gui_emotions=list(request.emotions),
                                gui_model=request.model)
        self.train_button.state(["disabled"])
        self.progress["value"] = 0.0
        self.app.show_info(f"Training {request.model} on {', '.join(request.emotions)}…")
        self.app.run_task("train", lambda stop, post: jobs.train(request, stop, post),
                          on_message=self._on_message, on_done=self._on_done, on_error=self._on_error)

    def _on_message(self, kind: str, payload) -> None:
        if kind == "progress":
            fraction, text = payload
            self.progress["value"] = fraction
            self.stage_var.set(text)

    def _on_error(self, exc: BaseException) -> None:
        self.train_button.state(["!disabled"])
        self.progress["value"] = 0.0
        self.stage_var.set("Training stopped.")
        self.app.show_error(exc)

    def _on_done(self, outcome: dict) -> None:
        self.train_button.state(["!disabled"])
        self.progress["value"] = 1.0
        self.show_result(outcome)
        s = outcome["result"]["summary"]
        figure = f"UAR {s['uar']['mean']:.1f} % on speakers it never heard"
        replace = self.app.model is None or self.app.confirm(
            "Use the new model?", f"The new model reaches {figure}.\n\nUse it instead of the model in use "
                                  "(also for `emovox predict` and the server)?")
        if replace:
            self.app.use_model(outcome["bundle"], make_current=True)
        self.bundle_var.set(("Saved and now in use: " if replace else "Saved in the model store (not in use): ")
                            + str(outcome["bundle"]))
        self.app.show_info(f"Trained: {figure}. " + ("The new model is now in use." if replace else
                                                     "The model in use is unchanged."))
        self.app.speak(f"Model is trained. On new speakers it recognises {s['uar']['mean']:.0f} percent.")

    def show_result(self, outcome: dict) -> None:
        """Show the figures, the per-emotion recall and the confusion matrix of a finished training."""
        self.result = outcome
        result = outcome["result"]
        for key, var in self.figure_vars.items():
            m = result["summary"][key]
            var.set(f"{m['mean']:.1f} % ± {m['std']:.1f}")
        self.recall.set_labels(result["labels"])
        self.recall.set_values({e: v / 100 for e, v in result["recall"].items()})
        self._fit_confusion()
        data = outcome["dataset"]
        self.stage_var.set(f"Done: {result['n_folds']} folds of {result['protocol']}, "
                           f"{data['files']} recordings from {data['speakers']} speakers.")


    def _fit_confusion(self) -> None:
        """Show the confusion matrix PNG scaled to fit its area (never enlarged)."""
        if self.result is None:
            return
        from io import BytesIO

        from PIL import Image, ImageTk

        image = Image.open(BytesIO(self.result["confusion_png"]))
        width, height = self.confusion_frame.winfo_width(), self.confusion_frame.winfo_height()
        scale = min(width / image.width, height / image.height, 1.0) if width > 1 and height > 1 else 1.0
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        if size == self._shown_size:
            return
        self._shown_size = size
        self._image = ImageTk.PhotoImage(image.resize(size, Image.LANCZOS), master=self)
        self.confusion.configure(image=self._image)


def parse_actors(text: str) -> tuple[str, ...]:
    """``"1-4, 7"`` -> ``("01", "02", "03", "04", "07")``; blank -> ``()`` (every speaker)."""
    out: list[str] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        if not (low.isdigit() and (not high or high.isdigit())):
            raise ValueError(f"Actors: {part!r} is not a number or a range like 1-8.")
        out += [f"{a:02d}" for a in range(int(low), int(high or low) + 1)]
    return tuple(dict.fromkeys(out))
