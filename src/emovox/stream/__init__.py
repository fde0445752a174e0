"""Live emotion recognition: audio sources, voice activity detection, a streaming recognizer, sinks.

>>> import emovox
>>> from emovox.stream import StreamRecognizer, FileSource
>>> model = emovox.load_model("model.emovox")                       # doctest: +SKIP
>>> source = FileSource("talk.wav", rate=48000)                      # doctest: +SKIP
>>> rec = StreamRecognizer(model, rate=source.rate)                  # doctest: +SKIP
>>> events = [e for block in source for e in rec.feed(block)] + rec.flush()   # doctest: +SKIP
>>> [(e.start, e.end, e.label) for e in events if e.kind == "segment"]        # doctest: +SKIP
[(1.02, 3.14, 'calm'), ...]

See docs/stream.md for the options and measured figures.
"""

from .live import StreamReport, run
from .recognizer import Event, StreamRecognizer
from .sources import DeviceError, FileSource, MicrophoneSource, list_devices
from .vad import EnergyVAD, Segmenter, SileroVAD, make_vad, silero_model_path

__all__ = ["StreamRecognizer", "Event", "FileSource", "MicrophoneSource", "list_devices", "DeviceError",
           "run", "StreamReport", "SileroVAD", "EnergyVAD", "Segmenter", "make_vad", "silero_model_path"]
