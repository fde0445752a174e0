"""The audio loader against hostile input: lying headers, endless devices, FIFOs, random bytes."""

from __future__ import annotations

import io
import os
import struct
import threading
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import tone
from emovox import audio
from emovox.errors import AudioError


def wav_bytes(samples: np.ndarray, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_a_header_that_claims_2_gib_gives_only_the_real_data(tmp_path):
    data = bytearray(wav_bytes(tone(10.0, 16000)))  # 320 KB of real samples
    assert data[36:40] == b"data"
    data[40:44] = struct.pack("<I", 2 ** 31 - 1)  # the data chunk claims 2 GiB
    data[4:8] = struct.pack("<I", 2 ** 31 + 35)
    for source in (tmp_path / "liar.wav", io.BytesIO(bytes(data))):
        if isinstance(source, os.PathLike):
            source.write_bytes(bytes(data))
        with audio.AudioReader(source, name="liar.wav") as reader:
            assert sum(block.size for block in reader) == 160000


def test_files_are_decoded_in_blocks(tmp_path):
    path = tmp_path / "minute.wav"
    sf.write(str(path), np.tile(tone(1.0, 48000), 60), 48000, subtype="PCM_16")  # 5.8 MB; 11.5 MB as float32
    tracemalloc.start()
    try:
        with audio.AudioReader(path, block_s=1.0) as reader:
            frames = sum(block.size for block in reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert frames == 60 * 48000 and peak < 2e6  # a block or two at a time, never the whole


def test_the_duration_limit_counts_decoded_samples(tmp_path):
    path = tmp_path / "long.wav"
    path.write_bytes(wav_bytes(tone(5.0, 16000)))
    with pytest.raises(AudioError, match="longer than the limit of 2 s"):
        with audio.AudioReader(path, max_duration_s=2.0) as reader:
            for _ in reader:
                pass
    with pytest.raises(AudioError, match="longer than the limit"):
        audio.load(path, max_duration_s=2.0)


def test_devices_and_fifos_are_refused_without_reading(tmp_path):
    with pytest.raises(AudioError, match="a device, not an audio file"):
        audio.load("/dev/zero")
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(pytest.raises(AudioError, audio.load, fifo)),
                              daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "reading a FIFO blocked"
    assert "a FIFO, not an audio file" in str(outcome[0].value)


def test_listen_input_refuses_devices(tiny_bundle, capsys):
    from emovox.cli import main

    assert main(["listen", "--input", "/dev/zero", "--fast", "--model", str(tiny_bundle)]) == 2
    assert "/dev/zero: a device" in capsys.readouterr().err


VALID = wav_bytes(tone(0.5, 16000))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=4096),
                 st.tuples(st.integers(0, len(VALID) - 1), st.binary(min_size=1, max_size=16)).map(
                     lambda cut: VALID[:cut[0]] + cut[1] + VALID[cut[0] + len(cut[1]):]),
                 st.integers(0, len(VALID)).map(lambda n: VALID[:n])))
def test_any_bytes_give_audio_or_one_audio_error(tmp_path, data):
    path = tmp_path / "fuzz.wav"
    path.write_bytes(data)
    try:
        got = audio.load(path)
    except AudioError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
    else:
        assert got.samples.dtype == np.float32 and got.samples.ndim == 1 and np.all(np.isfinite(got.samples))


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.lists(st.floats(), max_size=5),
                 st.binary(max_size=8), st.none(), st.integers()),
       st.one_of(st.integers(-10, 400000), st.floats(), st.none()))
def test_any_value_given_as_samples_is_rows_or_one_error(tiny_model, value, rate):
    from emovox.errors import EmovoxError

    try:
        found = tiny_model.process_signal(np.asarray(value) if not isinstance(value, bytes) else value, rate)
    except EmovoxError as exc:
        assert "\n" not in str(exc)
    else:
        assert len(found) + len(found.errors) >= 1


@pytest.fixture(scope="module")
def tiny_model(tiny_bundle):
    import emovox

    return emovox.load_model(tiny_bundle)
