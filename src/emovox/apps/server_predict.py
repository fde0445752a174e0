"""``POST /v1/predict``: one recording in (multipart or raw body), its emotion out.

The body is read with a size cap and a deadline, decoded by :func:`emovox.audio.decode`
and predicted on a worker thread. Anything wrong with the request is a 4xx with a
JSON error: 401 key, 400 empty or malformed, 408 too slow, 413 too large or too long,
415 not WAV/FLAC/OGG, 422 audio that cannot be used; 503 when busy.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import PurePath

import soundfile as sf
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from .. import audio as audio_io
from ..errors import AudioError
from .server import API_KEY_HEADER, ApiError, State

#: Media types accepted for a raw body or a multipart file part.
AUDIO_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/flac", "audio/x-flac",
                         "audio/ogg", "audio/opus", "video/ogg", "application/ogg", "application/octet-stream"})
MULTIPART = "multipart/form-data"
#: Block length, seconds, in which long uploads are fed to the streaming recognizer.
SEGMENT_BLOCK = 0.5


class Segment(BaseModel):
    """One stretch of speech found in a long upload."""

    start: float = Field(description="seconds from the start of the upload")
    end: float = Field(description="seconds from the start of the upload")
    label: str
    probabilities: dict[str, float]


class PredictResult(BaseModel):
    """The answer of ``POST /v1/predict``."""

    label: str = Field(description="the most probable emotion of the whole recording")
    probabilities: dict[str, float] = Field(description="emotion -> probability, in the model's label order")
    duration: float = Field(description="seconds of audio")
    rate: int = Field(description="sample rate of the upload, Hz")
    name: str = Field(description="the file name given, or 'upload'")
    segments: list[Segment] | None = Field(None, description="per-segment results, for uploads longer than "
                                                             "the server's segment_over (else null)")
    elapsed_ms: float = Field(description="server time to decode and predict")


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_BODY_DOC = {"requestBody": {
    "required": True,
    "description": "a WAV, FLAC or OGG file: as the raw body with an audio Content-Type (name it with ?name=), "
                   "or as the one file part of a multipart form",
    "content": {**{t: _BINARY for t in ("audio/wav", "audio/flac", "audio/ogg", "application/octet-stream")},
                MULTIPART: {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": _BINARY["schema"]}}}}}}


def add_routes(app: FastAPI, state: State) -> None:
    """Add ``POST /v1/predict`` to ``app``."""
    limits = state.config

    @app.post("/v1/predict", tags=["predict"], response_model=PredictResult, openapi_extra=_BODY_DOC,
              summary="Emotion of one recording (WAV, FLAC, OGG)",
              responses={s: {"description": d} for s, d in ((400, "empty or malformed body"), (401, "API key"),
                         (408, "body too slow"), (413, "body or audio too long"), (415, "not WAV/FLAC/OGG"),
                         (422, "audio that cannot be used"), (503, "busy"))})
    async def predict(request: Request) -> JSONResponse:
        state.check_key(request.headers.get(API_KEY_HEADER))
        media = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
        if media != MULTIPART and media not in AUDIO_TYPES:
            raise ApiError(415, f"unsupported Content-Type {media!r}: send WAV, FLAC or OGG audio "
                                f"(audio/wav, audio/flac, audio/ogg) or a {MULTIPART} upload")
        body = await read_body(request, limits.max_upload_bytes, limits.request_timeout)
        if media == MULTIPART:
            name, data = await file_part(request, body)
        else:
            name, data = request.query_params.get("name", "upload"), body
        if not data:
            raise ApiError(400, "empty body: no audio was sent")
        return JSONResponse(await state.run(analyse, state, data, _clean_name(name)))  # (already valid)


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The request body, at most ``limit`` bytes (413), received within ``timeout`` seconds (408)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, f"invalid Content-Length {declared!r}")
        if int(declared) > limit:
            raise ApiError(413, f"body of {int(declared)} bytes is over the limit of {limit} bytes")

    async def collect() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"body is over the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(collect(), timeout)
    except asyncio.TimeoutError:
        raise ApiError(408, f"the body was not received within {timeout:g} s") from None


async def file_part(request: Request, body: bytes) -> tuple[str, bytes]:
    """The name and bytes of the single file part of a multipart body already read."""
    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=8)
    try:
        files = [value for value in form.values() if isinstance(value, UploadFile)]
        if not files:
            raise ApiError(400, "the multipart form has no file part (send the audio as field 'file')")
        part = files[0]
        media = (part.content_type or "application/octet-stream").split(";")[0].strip().lower()
        if media not in AUDIO_TYPES:
            raise ApiError(415, f"unsupported file type {media!r}: send WAV, FLAC or OGG audio")
        return part.filename or "upload", await part.read()
    finally:
        await form.close()


def analyse(state: State, data: bytes, name: str) -> dict:
    """Decode and predict (runs on a worker thread); per-segment results for long audio."""
    began = time.perf_counter()
    limits = state.config
    try:
        info = sf.info(io.BytesIO(data))
        if info.samplerate and info.frames / info.samplerate > limits.max_duration:
            raise ApiError(413, f"{name}: {info.frames / info.samplerate:.1f} s of audio is over the limit "
                                f"of {limits.max_duration:g} s")
    except (sf.LibsndfileError, RuntimeError, ValueError):
        pass  # decode() below says what is wrong with it
    try:
        audio = audio_io.decode(data, name=name)
        if audio.duration > limits.max_duration:
            raise ApiError(413, f"{name}: {audio.duration:.1f} s of audio is over the limit of "
                                f"{limits.max_duration:g} s")
        prediction = state.model.predict(audio)
        segments = segment_results(state, audio) if audio.duration > limits.segment_over else None
    except AudioError as exc:
        raise ApiError(422, str(exc)) from None
    return {"label": prediction.label, "probabilities": prediction.probabilities,
            "duration": round(audio.duration, 4), "rate": audio.rate, "name": name, "segments": segments,
            "elapsed_ms": round(1000 * (time.perf_counter() - began), 2)}


def segment_results(state: State, audio: audio_io.Audio) -> list[dict] | None:
    """Speech segments of ``audio`` and their emotions, from the streaming recognizer."""
    from ..stream.recognizer import StreamRecognizer

    recognizer = StreamRecognizer(state.model, rate=audio.rate, estimate_window=None,
                                  classify_rate=state.config.classify_rate)
    hop = max(1, int(SEGMENT_BLOCK * audio.rate))
    events = []
    for start in range(0, len(audio.samples), hop):
        events += recognizer.feed(audio.samples[start:start + hop])
    events += recognizer.flush()
    return [{key: event.to_dict()[key] for key in ("start", "end", "label", "probabilities")}
            for event in events if event.kind == "segment"]


def _clean_name(name: str) -> str:
    """The last part of a client-given file name, printable and at most 100 characters."""
    base = PurePath(name.replace("\\", "/")).name
    return "".join(ch for ch in base if ch.isprintable())[:100] or "upload"
