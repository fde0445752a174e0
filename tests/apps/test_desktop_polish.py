"""The desktop app's finish, under Xvfb: red errors that stay until the next action, the desktop's file dialog
(injectable), a timeline per long file, the default model only changed when asked, and no status text cut off
at 1024x640, 1280x720 or full HD.

The window, its display and the pump come from test_desktop.py. With ``EMOVOX_SCREENSHOTS=DIR`` the
timeline's screenshot (``desktop-timeline.png``) is saved there, as the README shows it.
"""

from __future__ import annotations

import math
import os
import shutil
import stat
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import test_desktop
from conftest import ravdess_file
from test_desktop import pump, shots

# the window's fixtures, shared with test_desktop.py (one Xvfb for both modules)
display = test_desktop.display
make_app = test_desktop.make_app

SLEEP = shutil.which("sleep") or "/bin/sleep"
EMOTION_CODES = {"calm": 2, "happy": 3, "fearful": 6, "disgust": 7}


@pytest.fixture(scope="module")
def long_file(ravdess, tmp_path_factory):
    """16 RAVDESS clips (actors 05-12, unseen by the tiny model) with 1.5 s of silence around each: 86 s."""
    from emovox.audio import load
    from testkit.reference import join_clips

    clips = []
    for i in range(16):
        actor, emotion = 5 + i % 8, list(EMOTION_CODES)[i % 4]
        clips.append((load(ravdess_file(actor, EMOTION_CODES[emotion], 2)), emotion))
    samples, rate, placed = join_clips(clips, gap=1.5)
    path = tmp_path_factory.mktemp("recordings") / "interview.wav"
    sf.write(str(path), samples, rate, subtype="PCM_16")
    assert len(samples) / rate >= 70
    return path, placed


def wait_idle(app, timeout: float = 60.0) -> None:
    pump(app, lambda: not app.busy(), timeout=timeout)
    app.root.update()


def pixels_of(app, widget) -> np.ndarray:
    """The widget's pixels as drawn on the screen, RGB, shape (n, 3)."""
    from PIL import ImageGrab

    app.root.update()
    x, y = widget.winfo_rootx(), widget.winfo_rooty()
    image = ImageGrab.grab(bbox=(x, y, x + widget.winfo_width(), y + widget.winfo_height()),
                           xdisplay=os.environ["DISPLAY"])
    return np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)


def reds(pixels: np.ndarray) -> int:
    r, g, b = pixels.T
    return int(((r > 150) & (g < 110) & (b < 110)).sum())


def darks(pixels: np.ndarray) -> int:
    return int((pixels.max(axis=1) < 60).sum())


# -- errors ------------------------------------------------------------------------------------------------------

def test_errors_are_red_and_stay_until_the_next_action(make_app, tiny_bundle, tmp_path):
    from tkinter import ttk

    from emovox.apps.desktop.widgets import ERROR, TEXT

    app = make_app(model=tiny_bundle)
    pump(app, lambda: app.model is not None)
    style = ttk.Style(app.root)
    assert style.lookup("Error.TLabel", "foreground") == ERROR
    assert style.lookup("Info.TLabel", "foreground") == TEXT
    assert str(app.message.cget("foreground")) == "", "the label must take its colour from its style"

    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file" * 10)
    app.predict.predict_files([broken])
    pump(app, lambda: app.showing_error)
    wait_idle(app)
    assert str(app.message.cget("style")) == "Error.TLabel"
    assert app.message_var.get().startswith("Could not read broken.wav")
    drawn = pixels_of(app, app.message)
    assert reds(drawn) > 40, "the error is not drawn in red"

    # information that comes later (another job finishing, a message from a panel) does not hide it ...
    app.show_info("Done.")
    assert app.message_var.get().startswith("Could not read broken.wav") and app.showing_error
    # ... the next action does, and information is drawn in the normal colour
    app.ask_open_files = lambda *args, **kwargs: [ravdess_file(5, 6, 2)]
    app.predict.open_files()
    assert not app.showing_error and str(app.message.cget("style")) == "Info.TLabel"
    wait_idle(app)
    assert app.message_var.get().startswith("Emotion predicted:")
    drawn = pixels_of(app, app.message)
    assert reds(drawn) == 0 and darks(drawn) > 40, "information is not drawn in the normal text colour"


# -- file dialogs --------------------------------------------------------------------------------------------------

def test_the_injected_file_dialog_is_used_everywhere(make_app, tiny_bundle, ravdess, tmp_path):
    import emovox

    path = ravdess_file(7, 3, 2)
    asked = []

    def dialog(title, filetypes=(), *, multiple=True):
        asked.append((title, [pattern for _name, pattern in filetypes], multiple))
        return [path] if multiple else []

    app = make_app(model=tiny_bundle)
    pump(app, lambda: app.model is not None)
    app.ask_open_files = dialog
    app.root.focus_force()
    app.root.update()
    app.root.event_generate("<Control-o>")  # the keyboard shortcut, as the button: through the dialog
    pump(app, lambda: app.predict.last_prediction is not None)
    title, patterns, multiple = asked[0]
    assert title == "Audio files to predict" and multiple and "*.wav" in patterns[0] and "*.flac" in patterns[0]
    assert app.predict.label_var.get() == emovox.load_model(tiny_bundle).predict(path).label

    app.choose_model()  # "Open model…": one .emovox file; cancelled here, so nothing changes
    assert asked[1] == ("Model bundle", ["*.emovox", "*"], False)
    assert app.model.path == tiny_bundle and not app.showing_error

    folders = []
    app.ask_directory = lambda title, initialdir=None: folders.append((title, initialdir)) or ravdess
    app.train.data_var.set("")
    app.train.browse()
    assert folders == [("Corpus folder", None)] and app.train.data_var.get() == str(ravdess)


def fake_helper(folder: Path, name: str, body: str) -> Path:
    """An executable ``name`` in ``folder`` that records its arguments and environment, then runs ``body``."""
    script = folder / name
    script.write_text("#!/bin/sh\n"
                      f'printf "%s\\n" "$@" > "{folder}/{name}.args"\n'
                      f'echo "GTK_USE_PORTAL=$GTK_USE_PORTAL" > "{folder}/{name}.env"\n' + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_the_desktop_dialog_program_is_used_when_present(make_app, tmp_path, monkeypatch):
    from emovox.apps.desktop import dialogs
    from emovox.apps.desktop.panels import AUDIO_TYPES

    app = make_app()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))  # only the fakes: a real zenity or kdialog is not found
    monkeypatch.delenv("EMOVOX_DIALOG", raising=False)
    monkeypatch.delenv("XDG_CURRENT_DESKTOP", raising=False)
    tk_asked = []
    monkeypatch.setattr(dialogs.filedialog, "askopenfilenames",
                        lambda **options: tk_asked.append(options) or ("/from/tk.wav",))

    # none installed: Tk's dialog
    assert dialogs.helper() is None
    assert app.ask_open_files("Audio files to predict", AUDIO_TYPES) == [Path("/from/tk.wav")]
    assert tk_asked and tk_asked[-1]["title"] == "Audio files to predict"

    # zenity: its answer, one path a line; the window keeps being drawn while it is open
    fake_helper(bin_dir, "zenity", f'{SLEEP} 0.5\nprintf "/a/one.wav\\n/b/two words.flac\\n"\n')
    ticks = []
    app.root.after(100, lambda: ticks.append(time.monotonic()))
    started = time.monotonic()
    assert app.ask_open_files("Audio files to predict", AUDIO_TYPES) == [Path("/a/one.wav"), Path("/b/two words.flac")]
    assert time.monotonic() - started >= 0.5 and ticks, "the window's event loop stopped while the dialog was open"
    args = (bin_dir / "zenity.args").read_text().splitlines()
    assert args[:3] == ["--file-selection", "--title=Audio files to predict", "--multiple"]
    assert any(a.startswith("--file-filter=Audio | *.wav") for a in args)
    assert (bin_dir / "zenity.env").read_text().strip() == "GTK_USE_PORTAL=1"
    assert str(app.root.tk.call("tk", "busy", "status", app.root)) == "0", "the window is still held"

    # cancelled: nothing, and no second dialog
    fake_helper(bin_dir, "zenity", "exit 1\n")
    assert app.ask_open_files("Audio files to predict", AUDIO_TYPES) == [] and len(tk_asked) == 1
    # it cannot show a dialog: Tk's instead
    fake_helper(bin_dir, "zenity", 'echo "cannot open display: :0" >&2\nexit 1\n')
    assert app.ask_open_files("Audio files to predict", AUDIO_TYPES) == [Path("/from/tk.wav")] and len(tk_asked) == 2

    # on KDE, kdialog; a folder
    fake_helper(bin_dir, "kdialog", 'printf "/corpus/ravdess\\n"\n')
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "KDE")
    assert dialogs.helper() == "kdialog"
    assert app.ask_directory("Corpus folder", tmp_path) == Path("/corpus/ravdess")
    assert (bin_dir / "kdialog.args").read_text().splitlines() == ["--title", "Corpus folder",
                                                                   "--getexistingdirectory", str(tmp_path)]
    # EMOVOX_DIALOG=tk forces Tk's
    monkeypatch.setenv("EMOVOX_DIALOG", "tk")
    assert dialogs.helper() is None


def test_dialog_command_lines():
    from emovox.apps.desktop.dialogs import command, parse

    types = [("Audio", "*.wav *.flac"), ("All files", "*")]
    assert command("zenity", "file", title="Model", filetypes=[("emovox bundle", "*.emovox")], initialdir="/m") == [
        "zenity", "--file-selection", "--title=Model", "--filename=/m/", "--file-filter=emovox bundle | *.emovox"]
    assert command("kdialog", "files", title="Audio", filetypes=types) == [
        "kdialog", "--title", "Audio", "--getopenfilename", str(Path.home()), "*.wav *.flac|Audio\n*|All files",
        "--multiple", "--separate-output"]
    assert "--directory" in command("zenity", "folder", title="Corpus")
    assert parse("/a b/c.wav\n\n/d.flac\n") == [Path("/a b/c.wav"), Path("/d.flac")]


# -- long files ----------------------------------------------------------------------------------------------------

def test_a_long_file_gets_a_timeline_of_its_speech(make_app, tiny_bundle, long_file, tmp_path):
    import emovox
    from emovox.apps.desktop.jobs import time_shares
    from emovox.apps.desktop.widgets import clock

    path, placed = long_file
    model = emovox.load_model(tiny_bundle)
    expected = list(model.process_file(path, segment="vad"))
    assert len(expected) == len(placed) == 16, "the voice activity detector should find each clip"
    short = ravdess_file(9, 7, 2)

    app = make_app(model=tiny_bundle)
    pump(app, lambda: app.model is not None)
    app.ask_open_files = lambda *args, **kwargs: [short, path]
    app.predict.open_files()
    pump(app, lambda: len(app.predict.files) == 2, timeout=90)
    wait_idle(app)
    panel = app.predict

    # a short file: one row, no timeline
    first, second = panel.files
    assert not first.is_timeline and [r.label for r in first.rows] == [model.predict(short).label]
    # the long file: one block per clip in the strip, and one row per clip in the list, as process_file says
    assert second.is_timeline and panel.shown is second and panel.timeline_box.winfo_ismapped()
    assert panel.timeline.segments == [(r.start_s, r.end_s, r.label) for r in expected]
    assert panel.timeline.total == pytest.approx(sf.info(str(path)).duration, abs=0.01)
    items = panel.history.get_children(second.item)
    assert [panel.history.item(i)["values"][0] for i in items] == [r.label for r in expected]
    assert [panel.history.item(i)["values"][1] for i in items] == [f"{100 * r.confidence:.0f} %" for r in expected]
    assert [panel.history.item(i)["text"] for i in items] == [
        f"{clock(r.start_s, minutes=True, tenths=True)} – {clock(r.end_s, minutes=True, tenths=True)}"
        for r in expected]
    # the summary agrees with the strip: share of speech time per emotion, in the bars and the text
    shares = time_shares(expected, model.labels)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert panel.bars.values == pytest.approx(shares)
    assert panel.label_var.get() == max(shares, key=shares.get) == second.label
    for label, share in shares.items():
        if share > 0:
            assert f"{label} {100 * share:.0f} %" in panel.summary_var.get()
    assert panel.summary_var.get().startswith("16 stretches of speech")
    assert app.message_var.get().startswith(f"interview.wav: mostly {second.label}")
    shot = app.screenshot(shots(tmp_path) / "desktop-timeline.png")

    # a click on a block selects its row, shows its probabilities and highlights it
    timeline = panel.timeline
    middle = (expected[3].start_s + expected[3].end_s) / 2
    timeline.event_generate("<Button-1>", x=int(timeline.x_of(middle)), y=timeline.winfo_height() // 3)
    app.root.update()
    assert panel.history.selection() == (items[3],) and timeline.selected == 3
    assert panel.bars.values == pytest.approx(expected[3].probabilities)
    assert panel.label_var.get() == expected[3].label
    # the short file's row shows it again, without the strip
    panel.history.selection_set(first.item)
    app.root.update()
    assert panel.shown is None and not panel.timeline_box.winfo_ismapped()
    assert shot.stat().st_size > 10_000


# -- the default model ---------------------------------------------------------------------------------------------

def test_open_model_keeps_the_default_unless_asked(make_app, tiny_bundle, tmp_path):
    from emovox.settings import current_model_path, set_current_model

    other = tmp_path / "other.emovox"
    shutil.copy(tiny_bundle, other)
    set_current_model(tiny_bundle)
    app = make_app()
    pump(app, lambda: app.model is not None)
    assert app.is_default() and app.default_var.get()

    app.ask_open_files = lambda *args, **kwargs: [other]
    app.choose_model()
    pump(app, lambda: app.model is not None and app.model.path == other)
    assert current_model_path() == Path(tiny_bundle).resolve(), "opening a model changed the default"
    assert not app.default_var.get() and "Your default model is unchanged" in app.message_var.get()

    app.default_check.invoke()  # tick "Use by default"
    assert app.default_var.get() and current_model_path() == other.resolve()
    app.default_check.invoke()  # untick: the previous default again
    assert not app.default_var.get() and current_model_path() == Path(tiny_bundle).resolve()


# -- no text cut off ---------------------------------------------------------------------------------------------

LONG = ("Could not use the audio /home/someone/Recordings/a folder with a long name/2024-06-01 interview with "
        "the whole team, second part.wav: corrupt audio (the header says 48000 Hz, 2 channels, but the data "
        "ends early). Try another file.")


def wrap_labels(widget):
    from emovox.apps.desktop.widgets import WrapLabel

    found = [widget] if isinstance(widget, WrapLabel) else []
    for child in widget.winfo_children():
        found += wrap_labels(child)
    return found


@pytest.mark.parametrize("size", ["1024x640", "1280x720", "1920x1080"])
def test_status_text_is_never_cut_off(make_app, tiny_bundle, long_file, size, tmp_path):
    from tkinter import font as tkfont

    width, height = map(int, size.split("x"))
    app = make_app(model=tiny_bundle)
    app.root.geometry(size)
    pump(app, lambda: app.model is not None and app.root.winfo_width() == width
         and app.root.winfo_height() == height, timeout=30)
    app.ask_open_files = lambda *args, **kwargs: [long_file[0]]
    app.predict.open_files()
    pump(app, lambda: app.predict.shown is not None, timeout=90)
    wait_idle(app)
    app.show_error(LONG)
    app.model_var.set(app.model_var.get() + " · trained on RAVDESS actors 1-4 at " + str(tmp_path))
    app.live.status_var.set("Segment 10.8-12.4 s: fearful (97 %), ready 82 ms after it ended · " + LONG)
    app.train.stage_var.set("Reading /home/someone/corpora/RAVDESS and computing seed180 features…")
    app.train.bundle_var.set("Saved and now in use: " + str(tmp_path / "models" / "seed-mlp-4emotions.emovox"))

    checked = 0
    for tab in (app.predict, app.live, app.train):
        app.notebook.select(tab)
        for _ in range(3):  # wrapping changes heights, which the next layout pass settles
            app.root.update()
        bottom = app.notebook.winfo_rooty() + app.notebook.winfo_height()
        for label in wrap_labels(app.root):
            if not label.winfo_ismapped() or not str(label.cget("text")):
                continue
            name = f"{label} {str(label.cget('text'))[:40]!r} at {size}"
            assert label.winfo_reqwidth() <= label.winfo_width(), name
            assert label.winfo_reqheight() <= label.winfo_height(), name
            assert int(str(label.cget("wraplength"))) == label.winfo_width() - label.horizontal_padding() - 2, name
            assert label.winfo_rooty() + label.winfo_height() <= bottom, f"{name}: below the window's edge"
            x = label.winfo_rootx() - app.root.winfo_rootx()
            assert x + label.winfo_width() <= width, f"{name}: past the window's right edge"
            checked += 1
    assert checked >= 8
    # the whole error is there: at least as many lines as its width needs
    font = tkfont.nametofont("TkDefaultFont", root=app.root)
    lines = math.ceil(font.measure(LONG) / int(str(app.message.cget("wraplength"))))
    assert app.message.winfo_height() >= lines * font.metrics("linespace"), "the long error is cut"
    if size == "1024x640":
        app.notebook.select(app.predict)
        app.root.update()
        app.screenshot(tmp_path / f"clipping-{size}.png")
