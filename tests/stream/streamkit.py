"""Shared pieces of the streaming tests: a stream of RAVDESS clips joined by silences, a fake PortAudio.

Imported by the test modules (not a conftest, so it cannot clash with tests/conftest.py).
"""

from __future__ import annotations

import threading
import types

import numpy as np
import pytest

from conftest import ravdess_file, write_audio

#: (actor, emotion code, statement) of the clips in the joined stream: calm, happy, fearful, disgust
#: spoken by actors 01-04, whom ``tiny_bundle`` was trained on.
CLIPS = [(1, 2, 1), (2, 3, 2), (3, 6, 2), (4, 7, 2)]
CODES = {2: "calm", 3: "happy", 6: "fearful", 7: "disgust"}


@pytest.fixture(scope="session")
def joined(ravdess, tmp_path_factory):
    """``(path, placed)``: the CLIPS joined by 1 s silences as a 48 kHz 16-bit WAV, and where each clip's speech is."""
    from emovox.audio import load
    from testkit.reference import join_clips

    clips = [(load(ravdess_file(a, e, 1, s, 1)), CODES[e]) for a, e, s in CLIPS]
    samples, rate, placed = join_clips(clips, gap=1.0)
    path = write_audio(tmp_path_factory.mktemp("stream") / "joined.wav", samples, rate, subtype="PCM_16")
    return path, placed


class FakeSoundDevice(types.SimpleNamespace):
    """Stands in for the ``sounddevice`` module: one input device that plays ``samples`` in blocks.

    Args:
        samples: what the "microphone" hears, float32 ``(n,)``; None: no input device at all.
        overflow_blocks: block numbers whose callback status reports an input overflow.
        unplug_after: stop delivering (and finish the stream) after this many blocks, as an unplugged device.
        stall_after: stop delivering after this many blocks without finishing (a stalled device).
    """

    class PortAudioError(Exception):
        pass

    def __init__(self, samples: np.ndarray | None, *, overflow_blocks=(), unplug_after=None, stall_after=None):
        super().__init__()
        self.samples = samples
        self.overflow_blocks = set(overflow_blocks)
        self.unplug_after = unplug_after
        self.stall_after = stall_after
        self.default = types.SimpleNamespace(device=[0 if samples is not None else -1, -1])
        fake = self

        class InputStream:
            def __init__(self, *, device, channels, samplerate, blocksize, dtype, callback, finished_callback):
                self.blocksize, self.callback, self.finished = blocksize, callback, finished_callback
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._play, daemon=True)

            def start(self):
                self._thread.start()

            def _play(self):
                data = fake.samples
                for k, at in enumerate(range(0, data.size, self.blocksize)):
                    if self._stop.is_set() or k == fake.stall_after:
                        return
                    if k == fake.unplug_after:
                        break
                    block = data[at:at + self.blocksize]
                    if block.size < self.blocksize:
                        block = np.concatenate([block, np.zeros(self.blocksize - block.size, np.float32)])
                    status = types.SimpleNamespace(input_overflow=k in fake.overflow_blocks)
                    self.callback(block[:, None], self.blocksize, None, status)
                    self._stop.wait(0.001)
                self.finished()

            def stop(self):
                self._stop.set()

            def close(self):
                pass

        self.InputStream = InputStream

    def query_devices(self, device=None, kind=None):
        if self.samples is None:
            if kind is not None:
                raise self.PortAudioError("Error querying device -1")
            return []
        info = {"index": 0, "name": "Fake Mic", "hostapi": 0, "max_input_channels": 1, "max_output_channels": 0,
                "default_samplerate": 48000.0}
        if device not in (None, 0, "Fake Mic", "Fake"):
            raise ValueError(f"No input device matching {device!r}")
        return info if kind is not None else [info]

    def query_hostapis(self):
        return [{"name": "FakeAPI"}]

    def check_input_settings(self, **kwargs):
        pass
