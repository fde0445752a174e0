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

from ...results import Predictions
from ...segmentation import Auto
from .common import API_KEY_HEADER, ApiError, State

#: Media types accepted for a raw body or a multipart file part.
AUDIO_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/flac", "audio/x-flac",
                         "audio/ogg", "audio/opus", "video/ogg", "application/ogg", "application/octet-stream"})
MULTIPART = "multipart/form-data"


class Row(BaseModel):
    """One stretch of the recording and its emotion."""

    start_s: float = Field(description="seconds from the start of the upload")
    end_s: float = Field(description="seconds from the start of the upload")
    label: str
    probabilities: dict[str, float] = Field(description="emotion -> probability, in the model's label order")
    kind: str = Field(description="'whole' (one row for the whole recording) or 'segment' (a stretch of speech)")
    index: int


class PredictResult(BaseModel):
    """The answer of ``POST /v1/predict``: the recording's timeline and a summary that agrees with it."""

    name: str = Field(description="the file name given, or 'upload'")
    duration_s: float = Field(description="seconds of audio")
    rate_hz: int = Field(description="sample rate of the upload, Hz (the model resamples it to its own)")
    kind: str = Field(description="'whole' for recordings up to the server's segment_over seconds, else 'segment'")
    predictions: list[Row] = Field(description="the timeline: one row, or a row per stretch of speech")
    label: str = Field(description="the emotion with the most time in the timeline (the whole's, for one row)")
    probabilities: dict[str, float] = Field(description="the rows' probabilities averaged, weighted by duration")
    share: dict[str, float] = Field(description="emotion -> fraction of the timeline's time it is the label of")
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
    """Decode in blocks and predict (runs on a worker thread): one row, or a timeline for long uploads."""
    began = time.perf_counter()
    limits = state.config
    try:
        info = sf.info(io.BytesIO(data))
        rate, header_s = int(info.samplerate), info.frames / info.samplerate
    except (sf.LibsndfileError, RuntimeError, ValueError, ZeroDivisionError):
        rate, header_s = 0, 0.0  # process_file below says what is wrong with it
    if header_s > limits.max_duration:
        raise ApiError(413, f"{name}: {header_s:.1f} s of audio is over the limit of {limits.max_duration:g} s")
    found = state.model.process_file(io.BytesIO(data), name=name, max_duration_s=limits.max_duration,
                                     segment=Auto(max_whole_s=limits.segment_over))
    if found.errors:
        error = found.errors[0]
        raise ApiError(413 if "longer than the limit" in error.problem else 422, error.message)
    if not len(found):
        raise ApiError(422, f"{name}: no stretch of speech found")
    return timeline(found, name, header_s, rate) | {"elapsed_ms": round(1000 * (time.perf_counter() - began), 2)}


def timeline(found: Predictions, name: str, duration_s: float, rate: int) -> dict:
    """The answer's body from the rows: the timeline and a summary computed from it."""
    import numpy as np

    labels = found.labels
    rows = [row.to_dict() for row in found]
    for row in rows:
        row.pop("file", None)
    weights = np.array([max(p.duration_s, 1e-6) for p in found])
    probs = np.array([[p.probabilities[label] for label in labels] for p in found])
    mean = (weights[:, None] * probs).sum(axis=0) / weights.sum() if len(found) else np.zeros(len(labels))
    share = {label: round(float(weights[[p.label == label for p in found]].sum() / weights.sum()), 4)
             if len(found) else 0.0 for label in labels}
    top = max(share, key=share.get) if len(found) else (labels[int(np.argmax(mean))] if labels else "")
    return {"name": name, "duration_s": round(duration_s, 4), "rate_hz": rate,
            "kind": str(found[0].kind) if len(found) else "segment", "predictions": rows, "label": top,
            "probabilities": {label: round(float(p), 6) for label, p in zip(labels, mean)}, "share": share}


def _clean_name(name: str) -> str:
    """The last part of a client-given file name, printable and at most 100 characters."""
    base = PurePath(name.replace("\\", "/")).name
    return "".join(ch for ch in base if ch.isprintable())[:100] or "upload"
