"""The desktop app, driven for real under a virtual X server (Xvfb).

The app runs in-process on its own display; the tests press its buttons through
the same methods the buttons call, pump the Tk event loop, and compare what the
window shows with what the library computes on the same audio.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import ravdess_file

XVFB = shutil.which("Xvfb")


def shots(tmp_path: Path) -> Path:
    """Where screenshots go: ``$EMOVOX_SCREENSHOTS`` (e.g. docs/img, for the README), else the test's tmp."""
    return Path(os.environ.get("EMOVOX_SCREENSHOTS") or tmp_path)


#: The Xvfb server the desktop tests share, and how many modules use it (test_desktop_polish.py imports the
#: fixture). One for the whole session: Tk keeps its connection to a display open after its windows close,
#: and Xlib ends the process when a server it is connected to goes away while Tk is still running.
_XVFB: dict = {"server": None, "display": None, "old": None, "users": 0}


def _start_xvfb() -> str:
    number = next(n for n in range(90, 400)
                  if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen([XVFB, f":{number}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.skip(f"Xvfb did not start on :{number}")
        time.sleep(0.05)
    _XVFB.update(server=server, display=f":{number}", old=os.environ.get("DISPLAY"))
    return f":{number}"


@pytest.fixture(scope="session")
def display():
    """Start Xvfb on a free display number (once per session), point DISPLAY at it, stop it at the end."""
    if XVFB is None:
        pytest.skip("Xvfb not installed (Debian package xvfb): the desktop app needs an X display")
    if _XVFB["server"] is None:
        _start_xvfb()
    _XVFB["users"] += 1
    os.environ["DISPLAY"] = _XVFB["display"]
    yield _XVFB["display"]
    _XVFB["users"] -= 1
    if _XVFB["users"] == 0:
        _XVFB["server"].terminate()
        _XVFB["server"].wait(5)
        _XVFB["server"] = None
        if _XVFB["old"] is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = _XVFB["old"]


@pytest.fixture
def make_app(display):
    """Factory of App windows (speech off unless asked); every window is closed after the test."""
    from emovox.apps.desktop.app import App

    apps = []

    def make(**options):
        options.setdefault("speak", False)
        app = App(**options)
        apps.append(app)
        return app

    yield make
    for app in apps:
        if not app.closed:
            app.close()
    apps.clear()
    gc.collect()  # free Tk variables here: freed later in a worker thread, each would stall Tk for 1 s


def pump(app, until, timeout: float = 30.0) -> float:
    """Run the Tk event loop until ``until()`` is true; return the longest single loop turn (s)."""
    longest, deadline = 0.0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = time.monotonic()
        app.root.update()
        longest = max(longest, time.monotonic() - started)
        if until():
            return longest
        time.sleep(0.01)
    raise AssertionError(f"timed out; the window says: {app.message_var.get()!r}")


def test_open_file_shows_the_models_label_and_saves_a_screenshot(make_app, tiny_bundle, tmp_path):
    import emovox
    from PIL import Image

    from emovox.apps.desktop.widgets import colour

    path = ravdess_file(5, 6, 2)  # actor 05 (not trained on), fearful, strong
    app = make_app(model=tiny_bundle)
    pump(app, lambda: app.model is not None)
    app.predict.predict_files([path])
    pump(app, lambda: app.predict.last_prediction is not None)

    expected = emovox.load_model(tiny_bundle).predict(path)
    assert app.predict.label_var.get() == expected.label
    assert app.predict.bars.values == pytest.approx(expected.probabilities, abs=1e-6)
    rows = [app.predict.history.item(i) for i in app.predict.history.get_children()]
    assert [(r["text"], r["values"][0]) for r in rows] == [(path.name, expected.label)]

    shot = app.screenshot(tmp_path / "file.png")
    image = Image.open(shot).convert("RGB")
    assert image.size == (app.root.winfo_width(), app.root.winfo_height())
    winner = tuple(int(colour(expected.label)[i:i + 2], 16) for i in (1, 3, 5))
    pixels = np.asarray(image).reshape(-1, 3)
    assert (pixels == winner).all(axis=1).sum() > 500, "the winning emotion's bar is not drawn"


def test_record_uses_the_file_microphone_saves_the_wav_and_shows_its_label(make_app, tiny_bundle):
    import emovox
    from emovox.apps.desktop.jobs import AudioInput
    from emovox.audio import load

    path = ravdess_file(6, 5, 2)  # actor 06, angry, strong
    app = make_app(model=tiny_bundle, audio_input=AudioInput(file=path, realtime=False), record_seconds=2)
    pump(app, lambda: app.model is not None)
    app.predict.record()
    pump(app, lambda: app.predict.last_recording is not None)

    # recorded at the source's own rate (a file's; jobs.MIC_RATE for a microphone): the model resamples
    saved, rate = sf.read(app.predict.last_recording, dtype="float32")
    assert rate == 48000 and saved.shape == (2 * 48000,)
    source = load(path).samples[: saved.size]
    assert np.max(np.abs(saved - source)) < 1e-3, "the WAV is not what the microphone delivered"
    expected = emovox.load_model(tiny_bundle).predict(app.predict.last_recording)
    assert app.predict.label_var.get() == expected.label
    assert app.predict.bars.values == pytest.approx(expected.probabilities, abs=1e-6)
    assert app.predict.meter.peak_db > -40, "the level meter never moved"
    assert app.message_var.get() == f"Emotion predicted: {expected.label}"


def test_live_mode_shows_the_stream_recognizers_segments(make_app, tiny_bundle, tmp_path):
    import emovox
    from emovox.apps.desktop.jobs import AudioInput
    from emovox.stream import FileSource

    from testkit.reference import join_clips

    from emovox.audio import load

    # four sentences (calm, happy, fearful, disgust) by actors the model never heard, a second apart
    clips = [(load(ravdess_file(actor, emotion, 2)), None) for actor, emotion in ((5, 2), (6, 3), (7, 6), (8, 7))]
    samples, rate, _placed = join_clips(clips, gap=1.0)
    path = tmp_path / "talk.wav"
    sf.write(str(path), samples, rate, subtype="PCM_16")
    app = make_app(model=tiny_bundle, audio_input=AudioInput(file=path, realtime=False))
    pump(app, lambda: app.model is not None)
    app.notebook.select(app.live)
    app.live.start()
    assert app.live.running
    pump(app, lambda: not app.live.running)

    model = emovox.load_model(tiny_bundle)
    source = FileSource(path)
    session = model.stream(source.rate, file=source.name)
    offline = [e for block in source for e in session.feed(block)] + session.close()
    segments = [(e.start_s, e.end_s, e.label) for e in offline if e.kind == "segment"]
    assert len(segments) == len(clips), "the stream should find each RAVDESS sentence"
    assert app.live.timeline.segments == segments
    assert app.live.segment_var.get() == segments[-1][2]
    assert len(app.live.segments.get_children()) == len(segments)
    assert app.live.bars.values == pytest.approx(app.live.events[-1].probabilities)
    app.screenshot(shots(tmp_path) / "desktop-live.png")


def test_training_runs_in_the_background_and_becomes_the_current_model(make_app, ravdess, tiny_bundle, tmp_path):
    from emovox.labels import SEED_EMOTIONS
    from emovox.settings import current_model_path, models_dir, read_settings, set_current_model

    app = make_app(model=tiny_bundle, workers=1)
    pump(app, lambda: app.model is not None)
    asked = []  # a model is loaded: the new one replaces it only if the user says yes
    app.confirm = lambda title, question: asked.append(title) or True
    panel = app.train
    app.notebook.select(panel)
    panel.data_var.set(str(ravdess))
    panel.set_emotions(SEED_EMOTIONS)
    panel.actors_var.set("1-4")
    panel.model_var.set("whisper-lr")  # the default's degraded copies would make this window test slow, not different
    panel.train()
    assert panel.train_button.instate(["disabled"])
    longest = pump(app, lambda: panel.result is not None, timeout=60)
    assert longest < 1.0, f"the window froze for {longest:.2f} s while training"

    bundle = panel.result["bundle"]
    assert asked == ["Use the new model?"]
    assert bundle.parent == models_dir()  # installed in the model store
    assert current_model_path() == bundle.resolve()
    pump(app, lambda: app.model is not None and app.model.path == bundle)
    metrics = {m["protocol"]: m for m in app.model.info["metrics"]}["ravdess-si6"]
    assert panel.figure_vars["uar"].get() == f"{metrics['uar']['mean']:.1f} % ± {metrics['uar']['std']:.1f}"
    assert panel.recall.labels == list(SEED_EMOTIONS)
    assert panel._image is not None and panel._image.width() > 200
    assert read_settings()["gui_data"] == str(ravdess)
    app.screenshot(shots(tmp_path) / "desktop-train.png")

    # A new window starts with the last model: no training needed to predict.
    again = make_app()
    pump(again, lambda: again.model is not None)
    assert again.model.path == bundle
    assert again.train.data_var.get() == str(ravdess)

    # Saying no keeps the model in use: the new bundle stays in the store, the current model is unchanged.
    set_current_model(tiny_bundle)
    again.confirm = lambda title, question: asked.append(title) or False
    again.train._on_done(panel.result)
    assert asked == ["Use the new model?"] * 2
    assert current_model_path() == Path(tiny_bundle).resolve() and again.model.path == bundle
    assert again.train.bundle_var.get().startswith("Saved in the model store (not in use)")


def test_errors_appear_in_plain_words(make_app, tiny_bundle, tmp_path, monkeypatch):
    from emovox.apps.desktop.jobs import AudioInput

    monkeypatch.setenv("EMOVOX_HOME", str(tmp_path / "empty-home"))
    app = make_app()
    assert "No model yet" in app.model_var.get()
    app.predict.record()
    assert app.message_var.get().startswith("No model is loaded yet")
    assert str(app.message.cget("style")) == "Error.TLabel"

    app = make_app(model=tiny_bundle, audio_input=AudioInput(file=tmp_path / "missing.wav"))
    pump(app, lambda: app.model is not None)
    app.predict.record()
    pump(app, lambda: str(app.message.cget("style")) == "Error.TLabel")
    assert app.message_var.get() == "Could not use the audio missing.wav: no such file."
    assert app.predict.record_button.instate(["!disabled"])

    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file" * 10)
    app.predict.predict_files([broken])
    pump(app, lambda: "broken.wav" in app.message_var.get())
    assert app.message_var.get().startswith("Could not read broken.wav")
    assert not app.predict.history.get_children()


def test_layout_fits_1280x720_and_full_screen(make_app, tiny_bundle, tmp_path):
    app = make_app(model=tiny_bundle)
    pump(app, lambda: app.model is not None)
    pump(app, lambda: app.root.winfo_width() == 1280 and app.root.winfo_height() == 720)
    width, height = app.root.winfo_width(), app.root.winfo_height()
    for widget in (app.predict.record_button, app.predict.result_label, app.predict.bars, app.predict.history,
                   app.speak_check, app.device_box):
        x = widget.winfo_rootx() - app.root.winfo_rootx()
        y = widget.winfo_rooty() - app.root.winfo_rooty()
        assert widget.winfo_ismapped() and x + widget.winfo_width() <= width and y + widget.winfo_height() <= height
    app.screenshot(shots(tmp_path) / "desktop-idle.png")

    # F11 toggles full screen (the window manager, absent under bare Xvfb, does the resizing) …
    app.root.focus_force()
    app.root.update()
    app.root.event_generate("<F11>")
    app.root.update()
    assert app.fullscreen
    app.root.event_generate("<Escape>")
    app.root.update()
    assert not app.fullscreen
    # … and the layout follows the window to a full-HD size.
    narrow = app.predict.bars.winfo_width()
    app.root.geometry("1920x1080")
    pump(app, lambda: app.root.winfo_width() == 1920, timeout=5)
    app.root.update()
    assert app.predict.bars.winfo_width() > narrow + 300, "the result area did not grow with the window"


def test_parse_actors():
    from emovox.apps.desktop.train import parse_actors

    assert parse_actors("1-4, 7") == ("01", "02", "03", "04", "07")
    assert parse_actors(" ") == ()
    with pytest.raises(ValueError, match="abc"):
        parse_actors("abc")


def test_gui_command_without_a_display_says_so(monkeypatch, capsys):
    from emovox.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["gui", "--input", "x.wav", "--fast"]) == 2
    assert "no display" in capsys.readouterr().err
