"""Live emotion recognition: audio sources, voice activity detection, stream sessions, sinks.

>>> import emovox
>>> from emovox.stream import FileSource
>>> model = emovox.load_model("model.emovox")                                     # doctest: +SKIP
>>> source = FileSource("talk.wav")                                               # doctest: +SKIP
>>> session = model.stream(source.rate)                                           # doctest: +SKIP
>>> rows = [row for block in source for row in session.feed(block)] + session.close()  # doctest: +SKIP
>>> [(r.start_s, r.end_s, r.label) for r in rows if r.kind == "segment"]         # doctest: +SKIP
[(1.02, 3.14, 'calm'), ...]

The README's "Live emotion recognition" section gives the options and measured figures.
"""

from ..errors import DeviceError
from .live import StreamReport, run
from .recognizer import StreamSession
from .sources import FileSource, MicrophoneSource, list_devices
from .vad import EnergyVAD, Segmenter, SileroVAD, make_vad, silero_model_path

__all__ = ["StreamSession", "FileSource", "MicrophoneSource", "list_devices", "DeviceError",
           "run", "StreamReport", "SileroVAD", "EnergyVAD", "Segmenter", "make_vad", "silero_model_path"]
