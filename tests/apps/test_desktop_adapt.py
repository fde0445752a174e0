"""The desktop app's Live tab adapting to the voice it hears (the speaker-adaptive head), under Xvfb."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import test_desktop
from conftest import RAVDESS, needs_ravdess
from test_desktop import pump
from test_whisper import weights_installed

# the window's fixtures, shared with test_desktop.py (one Xvfb for all the desktop modules)
display = test_desktop.display
make_app = test_desktop.make_app


def talk(path, actor: int = 8, every: int = 5):
    """Every ``every``-th clip of ``actor`` (12 clips, every emotion), 1.5 s of quiet between them, as a WAV."""
    import soxr

    quiet = np.zeros(24000, np.float32)
    parts = [quiet]
    for clip in sorted((RAVDESS / f"Actor_{actor:02d}").glob("*.flac"))[::every]:
        samples, rate = sf.read(clip, dtype="float32")
        parts += [soxr.resample(samples, rate, 16000).astype(np.float32), quiet]
    sf.write(path, np.concatenate(parts), 16000)
    return path


@weights_installed
@needs_ravdess
def test_the_live_tab_adapts_to_the_voice_once_it_has_heard_enough(make_app, adaptive_bundle, tiny_bundle, tmp_path):
    import emovox
    from emovox.apps.desktop.jobs import AudioInput
    from emovox.stream import FileSource

    path = talk(tmp_path / "talk.wav")
    app = make_app(model=adaptive_bundle[0], audio_input=AudioInput(file=path, realtime=False))
    pump(app, lambda: app.model is not None)
    assert str(app.live.adapt_check.cget("state")) == "normal"
    app.live.adapt_var.set(True)
    app.notebook.select(app.live)
    app.live.start()
    assert str(app.live.adapt_check.cget("state")) == "disabled", "a run adapts or not from its start"
    pump(app, lambda: not app.live.running, timeout=120)
    assert str(app.live.adapt_check.cget("state")) == "normal"

    model = emovox.load_model(adaptive_bundle[0])
    source = FileSource(path)
    voice = model.speaker_profile()
    session = model.stream(source.rate, file=source.name, speaker=voice)
    offline = [e for block in source for e in session.feed(block)] + session.close()
    shown = [e for e in app.live.events if e.kind == "segment"]
    expected = [e for e in offline if e.kind == "segment"]
    assert len(shown) == len(expected) == 12
    for row, answer in zip(shown, expected):
        assert row.probabilities == pytest.approx(answer.probabilities, abs=1e-6)
    assert app.live.voice.count == voice.count == 12
    assert "Adapted to this voice (12 stretches of speech)" in app.live.status_var.get()

    app.use_model(tiny_bundle)  # a model without the head: the box is off and cannot be ticked
    pump(app, lambda: app.model is not None and app.model.path == emovox.load_model(tiny_bundle).path)
    assert str(app.live.adapt_check.cget("state")) == "disabled" and not app.live.adapt_var.get()
    assert app.live.voice is None
