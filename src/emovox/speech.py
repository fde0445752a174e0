"""Text to speech: announce emotions aloud, or write the speech to a WAV file.

Speech is synthesised by pyttsx3's ``espeak`` driver (the espeak-ng library) into
memory, then played through PortAudio (``sounddevice``), so it needs neither
``aplay`` nor a sound server. Both libraries are imported lazily: importing this
module costs nothing, and a missing engine is reported as one clear
:class:`SpeechError` when an :class:`Announcer` is made.

>>> from emovox.speech import Announcer
>>> voice = Announcer()            # doctest: +SKIP
>>> voice.say("happy")             # returns at once; spoken by a worker thread  # doctest: +SKIP
>>> voice.close()                  # says what is queued, then stops  # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import os
import queue
import sys
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import SpeechError
from .paths import atomic_write

#: A player takes samples (float32, shape ``(n,)``) and their rate in Hz and plays them to the end.
Player = Callable[[np.ndarray, int], None]


def synthesize(text: str, *, words_per_minute: int | None = None, voice: str | None = None) -> tuple[np.ndarray, int]:
    """Speak ``text`` into memory.

    Args:
        text: what to say (non-empty).
        words_per_minute: speaking rate; ``None`` keeps espeak-ng's default (about 200).
        voice: an espeak-ng voice id or name (e.g. ``"en-us"``); ``None`` keeps the default.

    Returns:
        ``(samples, rate)``: float32 mono samples, shape ``(n,)``, in [-1, 1], and the rate in Hz (22050).

    Raises:
        SpeechError: pyttsx3 or espeak-ng is not installed, or synthesis failed.
    """
    if not str(text).strip():
        raise SpeechError("nothing to say (empty text)")
    with _ENGINE_LOCK:  # espeak-ng is one engine per process
        _engine(words_per_minute, voice)  # initialise espeak-ng, set voice and rate
        samples = _synthesize_locked(str(text))
    if samples.size == 0:
        raise SpeechError(f"text to speech produced no audio for {text!r}")
    return samples, _ESPEAK_RATE


def _synthesize_locked(text: str) -> np.ndarray:
    """Run espeak-ng on ``text`` through pyttsx3's espeak binding; call with ``_ENGINE_LOCK`` held.

    pyttsx3's own ``save_to_file`` / ``runAndWait`` loop returns before espeak-ng's
    synthesis thread is done and drops the samples that arrive with the final event
    (CI saw empty and half-written files). So the engine (initialised by pyttsx3,
    voice and rate set through it) delivers its samples to :func:`_on_synth`, which
    keeps every block and signals the end of the message.
    """
    global _CAPTURE
    from pyttsx3.drivers import _espeak

    capture = _Capture()
    _CAPTURE = capture
    try:
        _espeak.Synth(text.encode("utf-8"), flags=_espeak.ENDPAUSE | _espeak.CHARS_UTF8)
        if not capture.finished.wait(_SYNTHESIS_TIMEOUT_S):
            _espeak.Cancel()
            raise SpeechError(f"text to speech did not finish within {_SYNTHESIS_TIMEOUT_S:.0f} s")
    except (RuntimeError, OSError, ctypes.ArgumentError) as exc:
        raise SpeechError(f"text to speech failed: {exc}") from None
    finally:
        _CAPTURE = None
    pcm = np.frombuffer(b"".join(capture.blocks), dtype=np.int16)
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32)


class _Capture:
    """The samples of the message being synthesised, and whether it has ended."""

    def __init__(self) -> None:
        self.blocks: list[bytes] = []
        self.finished = threading.Event()


_CAPTURE: _Capture | None = None


def _on_synth(wav, n_samples: int, events) -> int:
    """espeak-ng's synthesis callback (on its own thread): keep the samples, note the end of the message.

    Registered once for the process and never replaced, so the ctypes trampoline it
    runs through is never freed while espeak-ng may still call it.
    """
    from pyttsx3.drivers import _espeak

    capture = _CAPTURE
    if capture is None:
        return 0
    if n_samples > 0:
        capture.blocks.append(ctypes.string_at(wav, n_samples * ctypes.sizeof(ctypes.c_short)))
    i = 0
    while events[i].type != _espeak.EVENT_LIST_TERMINATED:
        if events[i].type == _espeak.EVENT_MSG_TERMINATED:
            capture.finished.set()
        i += 1
    return 0


def save_speech(text: str, path: str | os.PathLike, **options) -> Path:
    """Write ``text`` spoken as a 16-bit WAV file at ``path`` (atomically); ``options`` as :func:`synthesize`."""
    import io

    import soundfile as sf

    samples, rate = synthesize(text, **options)
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    atomic_write(path, buffer.getvalue())
    return Path(path)


def sounddevice_player(device: int | str | None = None) -> Player:
    """A :data:`Player` on PortAudio's output ``device`` (default output if ``None``).

    Raises:
        SpeechError: PortAudio is missing or there is no such output device.
    """
    try:
        import sounddevice as sd
    except OSError:
        raise SpeechError("cannot play speech: the PortAudio library is missing "
                          "(install libportaudio2)") from None
    try:
        sd.check_output_settings(device=device, channels=1, samplerate=22050)
    except (sd.PortAudioError, ValueError) as exc:
        raise SpeechError(f"cannot play speech: no usable audio output device ({exc})") from None

    def play(samples: np.ndarray, rate: int) -> None:
        sd.play(samples, rate, device=device, blocking=True)

    return play


class Announcer:
    """Says short texts aloud, one after another, without blocking the caller.

    A worker thread owns the speech engine; :meth:`say` queues text and returns at
    once. If the queue already holds ``max_pending`` texts, the oldest waiting one is
    dropped so announcements never lag far behind (live emotion labels go stale).

    Args:
        words_per_minute: speaking rate (``None``: espeak-ng's default).
        voice: espeak-ng voice (``None``: default).
        player: plays ``(samples, rate)``; default :func:`sounddevice_player` on the default output.
        max_pending: most texts waiting to be said.

    Raises:
        SpeechError: no TTS engine (pyttsx3 / espeak-ng) or no audio output; the message says which.
    """

    def __init__(self, *, words_per_minute: int | None = None, voice: str | None = None,
                 player: Player | None = None, max_pending: int = 2) -> None:
        with _ENGINE_LOCK:
            _engine(words_per_minute, voice)  # fail now, in the caller's thread, if there is no engine
        self._options = {"words_per_minute": words_per_minute, "voice": voice}
        self._player = player or sounddevice_player()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._max_pending = max_pending
        self.spoken: int = 0
        self.dropped: int = 0
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._work, name="emovox-announcer", daemon=True)
        self._thread.start()

    def say(self, text: str) -> None:
        """Queue ``text`` to be spoken; returns immediately."""
        if self._queue is None:
            raise SpeechError("the announcer is closed")
        while self._queue.qsize() >= self._max_pending:
            try:
                self._queue.get_nowait()
                self.dropped += 1
            except queue.Empty:
                break
        self._queue.put(str(text))

    def close(self, timeout: float = 10.0) -> None:
        """Say what is still queued (waiting at most ``timeout`` seconds), then stop the worker."""
        if self._queue is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._queue = None

    def __enter__(self) -> "Announcer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _work(self) -> None:
        while True:
            text = self._queue.get()
            if text is None:
                return
            try:
                samples, rate = synthesize(text, **self._options)
                self._player(samples, rate)
                self.spoken += 1
            except Exception as exc:  # keep announcing; report each distinct problem once
                message = f"emovox: speech: {exc}"
                if message not in self.errors:
                    self.errors.append(message)
                    print(message, file=sys.stderr, flush=True)


_ENGINE_LOCK = threading.RLock()
_SYNTHESIS_TIMEOUT_S = 30.0
_ESPEAK_RATE = 22050  # Hz: espeak-ng's output rate
_ENGINES: dict[str, object] = {}


def _engine(words_per_minute: int | None, voice: str | None):
    """The process's pyttsx3 engine (espeak driver), configured; call with ``_ENGINE_LOCK`` held."""
    try:
        import pyttsx3
        import pyttsx3.drivers.espeak as espeak_driver
    except ImportError:
        raise SpeechError("no text-to-speech engine: install pyttsx3 (pip install pyttsx3)") from None
    except (OSError, RuntimeError) as exc:
        raise SpeechError(f"no text-to-speech engine: espeak-ng is missing (install espeak-ng): {exc}") from None
    # the driver prints "Audio saved to ..." on stdout, which would corrupt `--json` output
    espeak_driver.print = lambda *args, **kwargs: None
    engine = _ENGINES.get("espeak")
    if engine is None:
        try:
            engine = pyttsx3.init("espeak")
        except Exception as exc:  # pyttsx3 raises bare errors when the library is absent
            raise SpeechError(f"no text-to-speech engine: espeak-ng could not start "
                              f"(install espeak-ng): {exc}") from None
        _ENGINES["espeak"] = engine
        from pyttsx3.drivers import _espeak

        _espeak.SetSynthCallback(_on_synth)  # in place of the driver's (see _synthesize_locked)
    if words_per_minute is not None:
        engine.setProperty("rate", int(words_per_minute))
    if voice is not None:
        try:
            engine.setProperty("voice", voice)
        except (ValueError, KeyError, RuntimeError) as exc:
            raise SpeechError(f"unknown voice {voice!r}: {exc}") from None
    return engine
