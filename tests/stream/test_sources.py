"""Sources: a file played as a microphone, and the microphone's logic on a stand-in PortAudio."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from conftest import tone, write_audio
from emovox.errors import AudioError
from emovox.stream import DeviceError, FileSource, MicrophoneSource, list_devices
from streamkit import FakeSoundDevice


@pytest.fixture
def wav(tmp_path):
    samples = tone(1.0, rate=16000)
    return write_audio(tmp_path / "tone.wav", samples, 16000, subtype="FLOAT"), samples


def test_file_source_delivers_every_sample_in_blocks(wav):
    path, samples = wav
    source = FileSource(path, block_seconds=0.032)
    blocks = list(source)
    assert source.rate == 16000 and source.total_samples == samples.size
    assert {b.size for b in blocks[:-1]} == {512} and 0 < blocks[-1].size <= 512
    assert np.array_equal(np.concatenate(blocks), samples)
    assert blocks[0].dtype == np.float32 and source.samples_out == samples.size


def test_file_source_paces_in_real_time_at_the_files_own_rate(wav):
    """Blocks come at the file's rate (the model resamples what it classifies), paced at the file's speed."""
    path, samples = wav
    source = FileSource(path, block_seconds=0.05, realtime=True)
    began = time.monotonic()
    blocks = list(source)
    elapsed = time.monotonic() - began
    assert source.rate == 16000 and sum(b.size for b in blocks) == samples.size == 16000
    assert {b.size for b in blocks} == {800}
    assert 0.9 <= elapsed < 1.5  # the last block is due 0.95 s after the first
    with pytest.raises(TypeError):
        FileSource(path, rate=8000)  # no resampling here any more


def test_file_source_names_a_bad_file(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    with pytest.raises(AudioError, match="notes.wav: not an audio file"):
        FileSource(bad)
    with pytest.raises(AudioError, match="missing.flac: no such file"):
        FileSource(tmp_path / "missing.flac")


def test_microphone_without_any_input_device(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(None))
    with pytest.raises(DeviceError, match="no audio input device found"):
        list(MicrophoneSource())
    assert list_devices() == []


def test_real_portaudio_reports_a_missing_device_clearly():
    """On this machine PortAudio sees no microphone; with one plugged in, the unknown name still fails."""
    try:
        devices = list_devices()
    except DeviceError as exc:
        assert "PortAudio" in str(exc)
        return
    source = MicrophoneSource(None if not devices else "no such device 12345")
    with pytest.raises(DeviceError, match="no audio input device found|no input device"):
        source.open()


def test_microphone_delivers_captured_audio_in_order_and_counts_overflows(monkeypatch):
    heard = tone(1.0, rate=16000)
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(heard, overflow_blocks={3, 7}))
    assert list_devices()[0] == {"index": 0, "name": "Fake Mic", "hostapi": "FakeAPI", "inputs": 1,
                                 "outputs": 0, "default_rate": 48000.0, "default": True}
    source = MicrophoneSource("Fake", rate=16000, block_seconds=0.032)
    got = []
    for block in source:
        got.append(block)
        if len(got) == 20:
            break
    assert np.array_equal(np.concatenate(got), heard[:20 * 512])
    assert source.overflows == 2 and source.samples_out == 20 * 512


def test_microphone_unplugged_or_stalled_is_an_error(monkeypatch):
    heard = tone(1.0, rate=16000)
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(heard, unplug_after=5))
    source = MicrophoneSource(rate=16000)
    with pytest.raises(DeviceError, match="stream stopped"):
        list(source)
    assert source.samples_out == 5 * 512
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(heard, stall_after=3))
    with pytest.raises(DeviceError, match="no audio for 0.2 s"):
        list(MicrophoneSource(rate=16000, timeout=0.2))


def test_microphone_unknown_device_name(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(tone(0.1)))
    with pytest.raises(DeviceError, match="no input device 'USB headset'"):
        MicrophoneSource("USB headset").open()
