"""Drawing widgets of the desktop app: theme, level meter, emotion bars, segment timeline.

Every widget here is a plain ``tkinter.Canvas`` or ttk frame that redraws itself on
resize, so layouts built with ``grid`` weights stay correct at any window size.
They must only be touched from the Tk (main) thread.
"""

from __future__ import annotations

import math
import tkinter as tk
from collections.abc import Callable, Mapping, Sequence
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
#: Errors: the red of the theme's family (Fluent's critical colour), 5.9:1 on the background.
ERROR = "#c42b1c"
TRACK = "#e8e8e8"
SELECTION = "#2f60d8"


def colour(label: str) -> str:
    """The display colour of an emotion (grey for unknown labels)."""
    return EMOTION_COLOURS.get(label, "#8a8f98")


def ink(background: str) -> str:
    """Text colour readable on ``background`` (``#rrggbb``): white on dark colours, near-black on light ones."""
    r, g, b = (int(background[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return TEXT if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.6 else "#ffffff"


def apply_theme(root: tk.Tk, *, base_size: int = 11) -> str:
    """Give ``root`` a modern ttk look: Sun Valley (sv-ttk) if installed, else a styled ``clam``.

    Returns the theme's name. Also sets one font family for every widget (labels, entries, drop-down lists,
    menus) and the styles the app uses: ``Title.TLabel``, ``Heading.TLabel``, ``Result.TLabel``,
    ``Figure.TLabel``, ``Muted.TLabel`` (secondary text), ``Info.TLabel`` (messages, the normal colour),
    ``Error.TLabel`` (:data:`ERROR` red), ``Accent.TButton``.
    """
    try:
        import sv_ttk

        sv_ttk.set_theme("light", root)
        name = "sun-valley-light"
    except Exception:  # noqa: BLE001 - any failure falls back to the built-in theme
        ttk.Style(root).theme_use("clam")
        name = "clam"
    if name == "sun-valley-light":
        # sv-ttk colours the window (tk_setPalette) in answer to <<ThemeChanged>>, which Tk delivers only once
        # the window is mapped and which every `ttk::style configure` sends again. The palette gives each
        # existing ttk.Label an explicit foreground, and such a label ignores its style's colour (red errors
        # drawn black). So: colour the window now, before any widget exists, and not again.
        try:
            root.tk.call("configure_colors")
        except tk.TclError:  # another sv-ttk: its colours
            root.tk_setPalette(background=BACKGROUND, foreground=TEXT, selectBackground=SELECTION,
                               selectForeground="#ffffff")
        root.tk.call("bind", root.winfo_class(), "<<ThemeChanged>>", "")
    for option in ("foreground", "background"):  # and labels made later take their style's colours
        root.option_add(f"*TLabel.{option}", "", "interactive")
    family = _family(root)
    sizes = {"TkDefaultFont": base_size, "TkTextFont": base_size, "TkMenuFont": base_size,
             "TkHeadingFont": base_size, "TkCaptionFont": base_size, "TkTooltipFont": base_size - 1,
             # sv-ttk's own fonts (entries, drop-downs and spin boxes use them) in the same family
             "SunValleyCaptionFont": base_size - 1, "SunValleyBodyFont": base_size,
             "SunValleyBodyStrongFont": base_size, "SunValleyBodyLargeFont": base_size + 3}
    existing = set(tkfont.names(root))
    for font_name, size in sizes.items():
        if font_name in existing:
            tkfont.nametofont(font_name, root=root).configure(family=family, size=size)
    style = ttk.Style(root)
    body = (family, base_size)
    style.configure(".", font=body)
    style.configure("TButton", padding=(14, 8))
    style.configure("Small.TButton", padding=(10, 3))
    style.configure("TCombobox", padding=(8, 4, 0, 4))
    style.configure("TSpinbox", padding=(8, 4, 0, 4))
    style.configure("Title.TLabel", font=(family, base_size + 9, "bold"))
    style.configure("Heading.TLabel", font=(family, base_size + 3, "bold"))
    style.configure("Result.TLabel", font=(family, base_size + 21, "bold"))
    style.configure("Figure.TLabel", font=(family, base_size + 7, "bold"))
    style.configure("Muted.TLabel", foreground=MUTED)
    style.configure("Info.TLabel", foreground=TEXT)
    style.configure("Error.TLabel", foreground=ERROR)
    style.configure("Treeview", rowheight=int(base_size * 2.4))
    style.configure("Treeview.Heading", font=body)
    style.configure("TNotebook.Tab", padding=(16, 6))
    # the list that drops down from a combobox is a classic Tk listbox: same font and colours as the rest
    for option, value in (("font", "TkDefaultFont"), ("background", "#ffffff"), ("foreground", TEXT),
                          ("selectBackground", SELECTION), ("selectForeground", "#ffffff"),
                          ("borderWidth", 4), ("relief", "flat"), ("highlightThickness", 0),
                          ("activeStyle", "none")):
        root.option_add(f"*TCombobox*Listbox.{option}", value, "interactive")
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


class WrapLabel(ttk.Label):
    """A label whose text wraps at the label's own width, so it is never cut off at any window size.

    Grid it with ``sticky="ew"`` in a column that stretches: its width comes from the layout, and its
    ``wraplength`` follows that width (the text takes more lines, never more width).
    """

    def __init__(self, master: tk.Misc, **options) -> None:
        options.setdefault("wraplength", 160)  # until the first layout gives the real width
        super().__init__(master, **options)
        self.bind("<Configure>", self._rewrap, add="+")

    def horizontal_padding(self) -> int:
        """Left + right padding, pixels."""
        pads = [int(float(str(p))) for p in self.tk.splitlist(self.cget("padding"))] if str(
            self.cget("padding")) else []
        if not pads:
            return 0
        left = pads[0]
        right = pads[2] if len(pads) >= 3 else left
        return left + right

    def _rewrap(self, event) -> None:
        wrap = max(40, event.width - self.horizontal_padding() - 2)
        if int(float(str(self.cget("wraplength")) or 0)) != wrap:
            self.configure(wraplength=wrap)


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
    """One horizontal bar per emotion with its value in percent; the largest in bold.

    Rows are ``row_height`` pixels high, or less when the widget is given less height (grid the
    canvas with ``sticky="nsew"`` in a row with weight): every emotion stays visible in a small window.
    """

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
        room = max(self.winfo_height() - 8, 1)
        row_height = max(18.0, min(float(self.row_height), room / max(len(self.labels), 1)))
        size = 11 if row_height >= 26 else 10 if row_height >= 21 else 9
        name_w = 110
        bar_w = max(width - name_w - 70, 10)
        best = max(self.values, key=self.values.get) if self.values else None
        inset = max(3.0, row_height * 0.18)
        for row, label in enumerate(self.labels):
            y = 4 + row * row_height
            p = self.values.get(label, 0.0)
            weight = "bold" if label == best else "normal"
            self.create_text(name_w - 10, y + row_height / 2, anchor="e", text=label, fill=TEXT,
                             font=("TkDefaultFont", size, weight))
            self.create_rectangle(name_w, y + inset, name_w + bar_w, y + row_height - inset, fill=TRACK, width=0)
            if bar_w * p >= 1:  # no hairline for a probability that rounds to 0 %
                self.create_rectangle(name_w, y + inset, name_w + bar_w * p, y + row_height - inset,
                                      fill=colour(label), width=0)
            self.create_text(name_w + bar_w + 8, y + row_height / 2, anchor="w", text=f"{100 * p:4.0f} %",
                             fill=TEXT, font=("TkDefaultFont", size, weight))


#: Tick spacings the timeline chooses from, seconds.
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def clock(seconds: float, *, minutes: bool, tenths: bool = False) -> str:
    """``75`` -> ``"1:15"`` with ``minutes`` (``h:mm:ss`` past an hour), else ``"75 s"``; ``tenths`` adds
    tenths of a second (``"1:15.3"``, ``"75.3 s"``)."""
    if not minutes:
        return f"{seconds:.1f} s" if tenths else f"{seconds:g} s"
    whole = int(seconds + 0.05) if tenths else round(seconds)
    text = f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}" if whole >= 3600 else \
        f"{whole // 60}:{whole % 60:02d}"
    return text + (f".{int((seconds + 0.05) * 10) % 10}" if tenths else "")


class Timeline(tk.Canvas):
    """A strip of recognised segments: one block per segment in its emotion's colour, time running right.

    Two uses:

    - live (``span`` seconds): the last ``span`` seconds, newest at the right; :meth:`add` and
      :meth:`advance` scroll it, older segments leave at the left;
    - a whole file (:meth:`show`): the file from 0 to its end, silences as gaps; a click on a segment
      selects it (``on_select(index)``) and :meth:`select` highlights one.
    """

    def __init__(self, master: tk.Misc, *, span: float | None = 30.0, height: int = 90,
                 on_select: Callable[[int], None] | None = None) -> None:
        super().__init__(master, height=height, highlightthickness=0, background="#ffffff")
        self.span = span
        self.total: float | None = None
        self.segments: list[tuple[float, float, str]] = []
        self.selected: int | None = None
        self.now = 0.0
        self.on_select = on_select
        family = tkfont.nametofont("TkDefaultFont", root=self).actual("family")
        self._font = tkfont.Font(root=self, family=family, size=10, weight="bold")
        self.bind("<Configure>", lambda _e: self._draw())
        self.bind("<Button-1>", self._on_click)

    def clear(self) -> None:
        self.segments, self.now, self.selected = [], 0.0, None
        self._draw()

    def add(self, start: float, end: float, label: str) -> None:
        """Append a segment (times in seconds from the start of listening)."""
        self.segments.append((start, end, label))
        self.advance(end)

    def advance(self, now: float) -> None:
        """Move the right edge of the strip to ``now`` seconds."""
        self.now = max(self.now, now)
        self._draw()

    def show(self, segments: Sequence[tuple[float, float, str]], total: float) -> None:
        """Show a whole file of ``total`` seconds and its segments ``(start, end, label)``."""
        self.segments = [(float(a), float(b), str(label)) for a, b, label in segments]
        self.total = max(float(total), max((b for _a, b, _l in self.segments), default=0.0), 1.0)
        self.span, self.selected = None, None
        self.now = self.total
        self._draw()

    def select(self, index: int | None) -> None:
        """Highlight segment ``index`` (``None``: none)."""
        self.selected = index
        self._draw()

    def view(self) -> tuple[float, float]:
        """The seconds shown, ``(left, right)``."""
        if self.span is None:
            return 0.0, self.total or max(self.now, 1.0)
        right = max(self.now, self.span)
        return right - self.span, right

    def x_of(self, seconds: float) -> float:
        left, right = self.view()
        return (seconds - left) * self.winfo_width() / (right - left)

    def _on_click(self, event) -> None:
        if self.on_select is None:
            return
        best, distance = None, 4.0  # pixels of tolerance for very short segments
        for i, (start, end, _label) in enumerate(self.segments):
            x0, x1 = self.x_of(start), self.x_of(end)
            d = 0.0 if x0 <= event.x <= x1 else min(abs(event.x - x0), abs(event.x - x1))
            if d <= distance:
                best, distance = i, d
        if best is not None:
            self.on_select(best)

    def _draw(self) -> None:
        self.delete("all")
        w, h = self.winfo_width(), self.winfo_height()
        left, right = self.view()
        extent = right - left
        minutes = extent > 120
        step = next((s for s in TICK_STEPS if s * w / extent >= (64 if minutes else 56)), TICK_STEPS[-1])
        if self.span is None:
            self.create_rectangle(0, h / 2 - 12, w, h / 2 - 10, fill=TRACK, width=0)  # the file's extent
        for second in range(math.ceil(left / step) * step, int(right) + 1, step):
            x = self.x_of(second)
            self.create_line(x, h - 16, x, h, fill="#bbbbbb")
            at_end = x > w - 40  # the last tick's label goes to its left, inside the strip
            self.create_text(x - 3 if at_end else x + 3, h - 8, anchor="e" if at_end else "w", fill=MUTED,
                             text=clock(second, minutes=minutes), font=("TkDefaultFont", 8))
        font = self._font
        for i, (start, end, label) in enumerate(self.segments):
            if end < left:
                continue
            x0, x1 = self.x_of(start), max(self.x_of(end), self.x_of(start) + 2)
            chosen = i == self.selected
            self.create_rectangle(x0, 8, x1, h - 22, fill=colour(label), width=3 if chosen else 0,
                                  outline=TEXT if chosen else "")
            if x1 - x0 > font.measure(label) + 8:
                self.create_text((x0 + x1) / 2, (h - 14) / 2, text=label, fill=ink(colour(label)), font=font)
