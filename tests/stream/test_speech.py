"""Text to speech through pyttsx3 / espeak-ng."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pyttsx3", reason="pyttsx3 is not installed")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

from emovox.speech import Announcer, SpeechError, save_speech, synthesize  # noqa: E402


@needs_espeak
def test_synthesize_speaks_words_into_memory():
    short, rate = synthesize("calm")
    long, _ = synthesize("the speaker sounds very happy today")
    assert rate == 22050 and short.dtype == np.float32
    assert 0.2 < short.size / rate < 2.0 and long.size > 2 * short.size
    assert 0.05 < np.abs(short).max() <= 1.0


@needs_espeak
def test_synthesize_waits_for_the_whole_of_a_long_text():
    # espeak-ng synthesises on its own thread and pyttsx3's runAndWait() can return
    # before the WAV is written; a long text as a fresh process's first utterance
    # showed it (the file was read half-written)
    script = (
        "from emovox.speech import synthesize\n"
        "text = ' '.join(['the quick brown fox jumps over the lazy dog and keeps on running'] * 20)\n"
        "for _ in range(2):\n"
        "    samples, rate = synthesize(text)\n"
        "    print(samples.size / rate)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, second = (float(line) for line in done.stdout.split())
    assert first > 60.0 and abs(first - second) < 0.01 * first


@needs_espeak
def test_short_words_are_whole_every_time():
    # a short word can arrive in espeak-ng's last callback together with its end event
    lengths = [synthesize(word)[0].size for word in ["fearful"] * 20]
    assert min(lengths) > 0.2 * 22050 and max(lengths) - min(lengths) < 0.01 * max(lengths)


@needs_espeak
def test_save_speech_writes_a_wav(tmp_path):
    path = save_speech("fearful", tmp_path / "said.wav")
    data, rate = sf.read(str(path))
    assert rate == 22050 and data.size > 0.2 * rate
    assert [p.name for p in tmp_path.iterdir()] == ["said.wav"]


@needs_espeak
def test_announcer_does_not_block_and_says_everything_on_close():
    played = []
    release = threading.Event()

    def slow_player(samples, rate):
        release.wait(5)
        played.append(samples.size)

    voice = Announcer(player=slow_player, max_pending=5)
    voice.say("happy")
    voice.say("sad")   # returns at once though the first is still playing
    release.set()
    voice.close()
    assert len(played) == 2 and voice.spoken == 2 and voice.dropped == 0
    with pytest.raises(SpeechError, match="closed"):
        voice.say("late")


@needs_espeak
def test_announcer_drops_stale_labels_when_behind():
    release = threading.Event()
    voice = Announcer(player=lambda s, r: release.wait(5), max_pending=1)
    for label in ("calm", "happy", "sad", "angry"):
        voice.say(label)
    release.set()
    voice.close()
    assert voice.dropped >= 2 and voice.spoken + voice.dropped == 4


@needs_espeak  # Announcer() looks for a voice first: without espeak-ng it stops there, before the output
def test_no_audio_output_is_a_clear_error(monkeypatch):
    class NoOutput:
        class PortAudioError(Exception):
            pass

        def check_output_settings(self, **kwargs):
            raise self.PortAudioError("Error querying device -1")

    monkeypatch.setitem(sys.modules, "sounddevice", NoOutput())
    with pytest.raises(SpeechError, match="no usable audio output device"):
        Announcer()


def test_no_tts_engine_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyttsx3", None)
    with pytest.raises(SpeechError, match="install pyttsx3"):
        synthesize("calm")
    with pytest.raises(SpeechError, match="empty"):
        synthesize("  ")
