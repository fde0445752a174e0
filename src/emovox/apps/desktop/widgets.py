"""Drawing widgets of the desktop app: theme, level meter, emotion bars, segment timeline.

Every widget here is a plain ``tkinter.Canvas`` or ttk frame that redraws itself on
resize, so layouts built with ``grid`` weights stay correct at any window size.
They must only be touched from the Tk (main) thread.
"""

from __future__ import annotations

import math
import tkinter as tk
from collections.abc import Mapping, Sequence
from tkinter import font as tkfont
from tkinter import ttk

#: One colour per emotion, readable on light and dark backgrounds.
EMOTION_COLOURS: dict[str, str] = {
    "neutral": "#8a8f98", "calm": "#3fa7d6", "happy": "#f2b705", "sad": "#5b6ee1",
    "angry": "#e5484d", "fearful": "#9b59b6", "disgust": "#3cb371", "surprised": "#ff8c42",
}
BACKGROUND = "#fafafa"
TEXT = "#1c1c1c"
MUTED = "#6b6b6b"
ERROR = "#c62828"


def colour(label: str) -> str:
    """The display colour of an emotion (grey for unknown labels)."""
    return EMOTION_COLOURS.get(label, "#8a8f98")


def apply_theme(root: tk.Tk, *, base_size: int = 11) -> str:
    """Give ``root`` a modern ttk look: Sun Valley (sv-ttk) if installed, else a styled ``clam``.

    Returns the theme's name. Also sets readable fonts and the styles the app uses
    (``Title.TLabel``, ``Result.TLabel``, ``Muted.TLabel``, ``Error.TLabel``, ``Accent.TButton``).
    """
    try:
        import sv_ttk

        sv_ttk.set_theme("light", root)
        name = "sun-valley-light"
    except Exception:  # noqa: BLE001 - any failure falls back to the built-in theme
        ttk.Style(root).theme_use("clam")
        name = "clam"
    family = _family(root)
    for font_name in ("TkDefaultFont", "TkTextFont", "TkMenuFont", "TkHeadingFont"):
        tkfont.nametofont(font_name).configure(family=family, size=base_size)
    style = ttk.Style(root)
    body = (family, base_size)
    style.configure(".", font=body)
    style.configure("TButton", padding=(14, 8))
    style.configure("Title.TLabel", font=(family, base_size + 9, "bold"))
    style.configure("Heading.TLabel", font=(family, base_size + 3, "bold"))
    style.configure("Result.TLabel", font=(family, base_size + 21, "bold"))
    style.configure("Figure.TLabel", font=(family, base_size + 7, "bold"))
    style.configure("Muted.TLabel", foreground=MUTED)
    style.configure("Error.TLabel", foreground=ERROR)
    style.configure("Treeview", rowheight=int(base_size * 2.4))
    style.configure("TNotebook.Tab", padding=(16, 6))
    if name == "clam":
        style.configure("Accent.TButton", foreground="white", background="#2563eb")
        style.map("Accent.TButton", background=[("active", "#1d4ed8"), ("disabled", "#93a4c8")])
    return name


def _family(root: tk.Misc) -> str:
    families = set(tkfont.families(root))
    for candidate in ("Segoe UI", "Inter", "Cantarell", "Noto Sans", "DejaVu Sans", "Helvetica"):
        if candidate in families:
            return candidate
    return tkfont.nametofont("TkDefaultFont").actual("family")


class LevelMeter(tk.Canvas):
    """A horizontal input-level meter in dBFS (-60 … 0), green/amber/red, with a peak hold."""

    FLOOR_DB = -60.0

    def __init__(self, master: tk.Misc, *, height: int = 22) -> None:
        super().__init__(master, height=height, highlightthickness=0, background="#e6e6e6")
        self.db = self.FLOOR_DB
        self.peak_db = self.FLOOR_DB
        self.bind("<Configure>", lambda _e: self._draw())

    def set_level(self, rms: float) -> None:
        """Show a block's RMS amplitude (full scale 1.0)."""
        self.db = max(self.FLOOR_DB, 20 * math.log10(max(rms, 1e-9)))
        self.peak_db = max(self.db, self.peak_db - 1.5)
        self._draw()

    def reset(self) -> None:
        self.db = self.peak_db = self.FLOOR_DB
        self._draw()

    def _x(self, db: float) -> float:
        return (db - self.FLOOR_DB) / -self.FLOOR_DB * self.winfo_width()

    def _draw(self) -> None:
        self.delete("all")
        h = self.winfo_height()
        fill = "#2e7d32" if self.db < -12 else "#f9a825" if self.db < -3 else "#c62828"
        self.create_rectangle(0, 0, self._x(self.db), h, fill=fill, width=0)
        x = self._x(self.peak_db)
        self.create_line(x, 0, x, h, fill="#333333", width=2)
        self.create_text(self.winfo_width() - 6, h / 2, anchor="e", fill=TEXT,
                         text=f"{self.db:.0f} dBFS", font=("TkDefaultFont", 9))


class EmotionBars(tk.Canvas):
    """One horizontal bar per emotion with its probability in percent; the winner in bold."""

    def __init__(self, master: tk.Misc, labels: Sequence[str] = (), *, row_height: int = 34) -> None:
        super().__init__(master, highlightthickness=0, background=BACKGROUND)
        self.row_height = row_height
        self.labels: list[str] = list(labels)
        self.values: dict[str, float] = {}
        self.bind("<Configure>", lambda _e: self._draw())

    def set_labels(self, labels: Sequence[str]) -> None:
        """Change the emotions shown (clears the values)."""
        self.labels, self.values = list(labels), {}
        self.configure(height=self.row_height * max(len(self.labels), 1) + 8)
        self._draw()

    def set_values(self, probabilities: Mapping[str, float]) -> None:
        """Show ``probabilities`` (emotion -> 0..1)."""
        self.values = {k: float(v) for k, v in probabilities.items()}
        self._draw()

    def _draw(self) -> None:
        self.delete("all")
        width = self.winfo_width()
        name_w = 110
        bar_w = max(width - name_w - 70, 10)
        best = max(self.values, key=self.values.get) if self.values else None
        for row, label in enumerate(self.labels):
            y = 4 + row * self.row_height
            p = self.values.get(label, 0.0)
            weight = "bold" if label == best else "normal"
            self.create_text(name_w - 10, y + self.row_height / 2, anchor="e", text=label, fill=TEXT,
                             font=("TkDefaultFont", 11, weight))
            self.create_rectangle(name_w, y + 6, name_w + bar_w, y + self.row_height - 6, fill="#e8e8e8", width=0)
            self.create_rectangle(name_w, y + 6, name_w + bar_w * p, y + self.row_height - 6,
                                  fill=colour(label), width=0)
            self.create_text(name_w + bar_w + 8, y + self.row_height / 2, anchor="w", text=f"{100 * p:4.0f} %",
                             fill=TEXT, font=("TkDefaultFont", 11, weight))


class Timeline(tk.Canvas):
    """A scrolling strip of recognised segments: one coloured block per segment, newest at the right.

    Shows the last ``span`` seconds; older segments scroll off to the left.
    """

    def __init__(self, master: tk.Misc, *, span: float = 30.0, height: int = 90) -> None:
        super().__init__(master, height=height, highlightthickness=0, background="#ffffff")
        self.span = span
        self.segments: list[tuple[float, float, str]] = []
        self.now = 0.0
        self.bind("<Configure>", lambda _e: self._draw())

    def clear(self) -> None:
        self.segments, self.now = [], 0.0
        self._draw()

    def add(self, start: float, end: float, label: str) -> None:
        """Append a segment (times in seconds from the start of listening)."""
        self.segments.append((start, end, label))
        self.advance(end)

    def advance(self, now: float) -> None:
        """Move the right edge of the strip to ``now`` seconds."""
        self.now = max(self.now, now)
        self._draw()

    def _draw(self) -> None:
        self.delete("all")
        w, h = self.winfo_width(), self.winfo_height()
        right = max(self.now, self.span)
        left = right - self.span
        scale = w / self.span
        for second in range(int(math.ceil(left)), int(right) + 1, 5):
            x = (second - left) * scale
            self.create_line(x, h - 16, x, h, fill="#bbbbbb")
            self.create_text(x + 3, h - 8, anchor="w", text=f"{second} s", fill=MUTED, font=("TkDefaultFont", 8))
        for start, end, label in self.segments:
            if end < left:
                continue
            x0, x1 = (start - left) * scale, (end - left) * scale
            self.create_rectangle(x0, 8, x1, h - 22, fill=colour(label), width=0)
            if x1 - x0 > 40:
                self.create_text((x0 + x1) / 2, (h - 14) / 2, text=label, fill="white",
                                 font=("TkDefaultFont", 10, "bold"))
