"""What the server's modules share: its limits, its state, and its JSON errors."""

from __future__ import annotations

import asyncio
import hmac
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from http import HTTPStatus

import numpy as np

from ...errors import ApiError, AudioError
from ...recognizer import Recognizer

API_KEY_HEADER = "X-API-Key"

#: Bytes per second of the largest upload format the byte cap is derived for: 16-bit stereo 48 kHz WAV
#: (48000 frames x 2 channels x 2 bytes). FLAC, OGG and MP3 of the same audio are smaller.
UPLOAD_BYTES_PER_SECOND = 48000 * 2 * 2
#: Added to the derived byte cap: file headers, tags (an MP3's cover art), multipart framing.
UPLOAD_HEADROOM_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ServerConfig:
    """Limits and options of the service; every field is a ``emovox serve`` option.

    Attributes:
        max_duration: longest accepted upload, seconds of audio (413 above it), counted on the decoded
            samples; also sets the byte cap unless ``max_upload_bytes`` is given.
        max_upload_bytes: largest accepted request body, bytes (413 above it); ``None`` (the default)
            derives it from ``max_duration``: :attr:`upload_limit`.
        max_streams: WebSocket streams open at once (further ones are closed with 1013). A stream takes
            its slot only once its first message, with the key, has been accepted.
        max_stream_seconds: most audio one stream may send, seconds (counted on the samples received).
        request_timeout: seconds to receive a body (plus one per MB received) and again to answer it (408 / 503).
        idle_timeout: seconds a stream may stay silent between messages before it is closed.
        header_timeout: seconds a connection has to send a request's headers, or a stream its first message.
        max_connections: open connections (HTTP and WebSocket) before new requests get 503.
        max_pending: predictions queued or running at once before 503 "busy".
        workers: threads that run predictions (CPU-bound work never runs on the event loop).
        blas_threads: BLAS/OpenMP threads per prediction, set for the whole process while serving.
        segment_over: uploads longer than this many seconds get a row per stretch of speech (a timeline)
            instead of one row for the whole.
        api_key: if set, ``/v1/*`` needs it in the ``X-API-Key`` header (or, for the
            WebSocket, in its first message).
    """

    max_duration: float = 600.0
    max_upload_bytes: int | None = None
    max_streams: int = 8
    max_stream_seconds: float = 3600.0
    request_timeout: float = 30.0
    idle_timeout: float = 30.0
    header_timeout: float = 10.0
    max_connections: int = 100
    max_pending: int = 64
    workers: int = 2
    blas_threads: int = 1
    segment_over: float = 10.0
    api_key: str | None = None

    @property
    def upload_limit(self) -> int:
        """The byte cap of a body: ``max_upload_bytes``, or ``max_duration`` seconds of 16-bit stereo
        48 kHz WAV plus 1 MiB (600 s: 116.2 MB). Whatever the bytes, the audio is also capped at
        ``max_duration`` seconds while it is decoded."""
        if self.max_upload_bytes is not None:
            return int(self.max_upload_bytes)
        return int(self.max_duration * UPLOAD_BYTES_PER_SECOND) + UPLOAD_HEADROOM_BYTES

    def public(self) -> dict:
        """The limits, as ``GET /v1/model`` shows them (without the key; the byte cap as applied)."""
        return {k: v for k, v in asdict(self).items() if k != "api_key"} | {
            "max_upload_bytes": self.upload_limit, "api_key_required": bool(self.api_key)}


def error_body(status: int, message: str) -> dict:
    """The JSON body of every error answer."""
    code = HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    return {"error": {"status": status, "code": code, "message": message}}


class State:
    """What the routes share: the model, the limits, the prediction threads and counters."""

    def __init__(self, model: Recognizer, config: ServerConfig) -> None:
        self.model = model
        self.config = config
        self.executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="emovox-predict")
        self.pending = 0
        self.streams = 0
        self.greeting = 0  # WebSocket connections waiting for their first message (they hold no stream slot)

    async def run(self, fn, *args, timeout: float | None = None):
        """Run ``fn(*args)`` on a prediction thread; 503 if too many wait or it takes too long."""
        if self.pending >= self.config.max_pending:
            raise ApiError(503, f"busy: {self.pending} predictions pending; retry later", {"Retry-After": "1"})
        self.pending += 1
        try:
            future = asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
            return await asyncio.wait_for(future, timeout or self.config.request_timeout)
        except asyncio.TimeoutError:
            raise ApiError(503, f"prediction took longer than {timeout or self.config.request_timeout:g} s",
                           {"Retry-After": "1"}) from None
        finally:
            self.pending -= 1

    def check_key(self, given: str | None) -> None:
        """Raise 401 unless no key is configured or ``given`` matches it."""
        key = self.config.api_key
        if key and not (isinstance(given, str) and hmac.compare_digest(given.encode(), key.encode())):
            raise ApiError(401, f"missing or wrong API key (send it in the {API_KEY_HEADER} header)",
                           {"WWW-Authenticate": API_KEY_HEADER})

    def warm_up(self) -> None:
        """Classify a short tone and run the speech check once, so that the first real request does not pay for
        lazy set-up (a tone is no speech: the check's answer is expected and dropped)."""
        rate = self.model.rate
        wave = (np.sin(2 * np.pi * 220 * np.arange(rate) / rate) * 0.3).astype(np.float32)
        try:
            self.model.probabilities(wave, rate, check_speech=True)
        except AudioError:
            pass  # "no speech (a steady tone)": expected
