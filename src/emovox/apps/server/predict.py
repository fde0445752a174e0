"""``POST /v1/predict``: one recording in (multipart or raw body), its timeline of emotions out.

The body is received with a byte cap and a deadline into a spooled temporary file (the first
MiB in memory, the rest on disk), then decoded in blocks by :meth:`Recognizer.process_file
<emovox.recognizer.Recognizer.process_file>` on a worker thread, which stops once more than
``max_duration`` seconds have been decoded: a request holds about one block of audio in memory,
whatever the file's length or how well it compresses. Anything wrong with the request is a 4xx
with a JSON error: 401 key, 400 empty or malformed, 408 too slow, 413 too large or too long,
415 a format this server cannot decode, 422 audio that cannot be used; 503 when busy.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from dataclasses import dataclass
from pathlib import PurePath
from tempfile import SpooledTemporaryFile
from typing import BinaryIO

import soundfile as sf
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect

from ...audio import FFMPEG_EXTENSIONS, AudioReader
from ...errors import AudioError
from ...results import Predictions
from ...segmentation import Auto
from .common import API_KEY_HEADER, UPLOAD_BYTES_PER_SECOND, ApiError, State

MULTIPART = "multipart/form-data"
ANY_TYPE = "application/octet-stream"

#: The formats decoded (by libsndfile) and their media types; the same for a raw body and a multipart file part.
#: ``application/octet-stream`` is accepted too: the decoder recognises the format from the bytes.
DECODED: dict[str, tuple[str, ...]] = {
    "WAV": ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"),
    "FLAC": ("audio/flac", "audio/x-flac"),
    "OGG": ("audio/ogg", "audio/opus", "audio/vorbis", "application/ogg", "video/ogg"),
    **({"MP3": ("audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg", "audio/x-mp3")}
       if "MP3" in sf.available_formats() else {}),
    "AIFF": ("audio/aiff", "audio/x-aiff"),
}
#: Formats only FFmpeg decodes (through PyAV, when it is installed): name -> (a file extension, media types).
FFMPEG_ONLY: dict[str, tuple[str, tuple[str, ...]]] = {
    "M4A/AAC": (".m4a", ("audio/mp4", "audio/x-m4a", "audio/m4a", "audio/aac", "audio/x-aac", "audio/aacp",
                         "video/mp4", "audio/x-hx-aac-adts")),
    "WebM": (".webm", ("audio/webm", "video/webm", "audio/x-matroska", "video/x-matroska")),
    "3GP/AMR": (".3gp", ("audio/3gpp", "audio/3gpp2", "video/3gpp", "audio/amr", "audio/amr-wb")),
    "WMA": (".wma", ("audio/x-ms-wma", "video/x-ms-asf")),
}


def ffmpeg_decodes() -> bool:
    """True when emovox's audio reader decodes the :data:`FFMPEG_ONLY` formats here: PyAV is importable."""
    return importlib.util.find_spec("av") is not None and all(
        ext in FFMPEG_EXTENSIONS for ext, _ in FFMPEG_ONLY.values())


def accepted_formats() -> dict[str, tuple[str, ...]]:
    """The formats this server decodes now, and their media types."""
    return DECODED | ({name: types for name, (_, types) in FFMPEG_ONLY.items()} if ffmpeg_decodes() else {})


def accepted_types() -> frozenset[str]:
    """Every media type accepted, raw or as the file part of a multipart form."""
    return frozenset(t for types in accepted_formats().values() for t in types) | {ANY_TYPE}


def format_names() -> str:
    """What the answers and the page call the formats accepted: ``"WAV, FLAC, OGG, MP3, AIFF"``."""
    return ", ".join(accepted_formats())


#: Body bytes held in memory before the rest is spooled to a temporary file.
SPOOL_BYTES = 1024 * 1024
#: A body's deadline grows by one second per this many bytes received (a long upload on a slow link).
BYTES_PER_EXTRA_SECOND = 1_000_000


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
    duration_s: float = Field(description="seconds of audio (as the file's header gives it)")
    rate_hz: int = Field(description="sample rate of the upload, Hz (the model resamples it to its own)")
    kind: str = Field(description="'whole' for recordings up to the server's segment_over seconds, else 'segment'")
    predictions: list[Row] = Field(description="the timeline: one row, or a row per stretch of speech")
    label: str = Field(description="the emotion with the most time in the timeline (the whole's, for one row)")
    probabilities: dict[str, float] = Field(description="the rows' probabilities averaged, weighted by duration")
    share: dict[str, float] = Field(description="emotion -> fraction of the timeline's time it is the label of")
    elapsed_ms: float = Field(description="server time to decode and predict")


class ErrorDetail(BaseModel):
    """What went wrong, in one line."""

    status: int = Field(description="the HTTP status, again")
    code: str = Field(description="the status phrase in snake case: 'unsupported_media_type', ...")
    message: str = Field(description="one line a user can act on")


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


@dataclass
class Upload:
    """A received upload: its (cleaned) name and its bytes as a file positioned at 0."""

    name: str
    file: BinaryIO
    form: FormData | None = None
    started: bool = False

    def close(self) -> None:
        """Drop the spooled bytes (and the multipart form's temporary files)."""
        self.file.close()
        if self.form is not None:
            for value in self.form.values():
                if isinstance(value, UploadFile):
                    value.file.close()


_BINARY = {"schema": {"type": "string", "format": "binary"}}


def _body_doc(names: str) -> dict:
    types = ("audio/wav", "audio/flac", "audio/ogg", *(("audio/mpeg",) if "MP3" in DECODED else ()),
             *(("audio/mp4", "audio/webm") if ffmpeg_decodes() else ()), ANY_TYPE)
    return {
        "parameters": [{"name": "name", "in": "query", "required": False,
                        "description": "the recording's file name, for the answer (raw bodies)",
                        "schema": {"type": "string", "maxLength": 200}}],
        "requestBody": {
            "required": True,
            "description": f"a recording ({names}): the raw body with an audio Content-Type (name it with "
                           "?name=), or the one file part of a multipart form",
            "content": {**{t: _BINARY for t in types},
                        MULTIPART: {"schema": {"type": "object", "required": ["file"],
                                               "properties": {"file": _BINARY["schema"]}}}}}}


def add_routes(app: FastAPI, state: State) -> None:
    """Add ``POST /v1/predict`` to ``app``."""

    names = format_names()
    errors = ((400, "empty or malformed body"), (401, "missing or wrong API key"), (408, "body too slow"),
              (413, "body or audio too long"), (415, f"not {names}"), (422, "audio that cannot be used"),
              (503, "busy, or the prediction took too long"))

    @app.post("/v1/predict", tags=["predict"], response_model=PredictResult, openapi_extra=_body_doc(names),
              summary=f"Emotions of one recording ({names}): its timeline and a summary",
              responses={s: {"model": ErrorBody, "description": d} for s, d in errors})
    async def predict(request: Request) -> JSONResponse:
        state.check_key(request.headers.get(API_KEY_HEADER))
        media = _media_type(request.headers.get("content-type"))
        if media != MULTIPART:
            check_media(media, "Content-Type")
        upload = await receive_upload(request, media, state)
        try:
            check_container(upload)
            return JSONResponse(await state.run(_analyse_and_close, state, upload))  # (already valid)
        finally:
            if not upload.started:  # refused (busy) or cancelled before a worker took it
                upload.close()


def check_media(media: str, where: str) -> None:
    """415 unless ``media`` is a type this server decodes; for FFmpeg-only formats, say what to do."""
    if media in accepted_types():
        return
    for name, (ext, types) in FFMPEG_ONLY.items():
        if media in types:
            raise ApiError(415, _ffmpeg_message(name, ext, media))
    raise ApiError(415, f"unsupported {where} {media!r}: send {format_names()} audio (audio/wav, audio/flac, "
                        f"audio/ogg, audio/mpeg, ...) or a {MULTIPART} upload")


def check_container(upload: Upload) -> None:
    """415 for bytes that are an FFmpeg-only container (whatever the declared type), before decoding."""
    head = upload.file.read(16)
    upload.file.seek(0)
    kind = sniff(head)
    if kind and not ffmpeg_decodes():
        raise ApiError(415, _ffmpeg_message(kind, FFMPEG_ONLY[kind][0], None))


def sniff(head: bytes) -> str | None:
    """The FFmpeg-only format (a key of :data:`FFMPEG_ONLY`) that the first bytes of a file show, or None."""
    if head[4:8] == b"ftyp":
        return "3GP/AMR" if head[8:11] == b"3gp" else "M4A/AAC"  # the MP4 family
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "WebM"  # Matroska / WebM
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "M4A/AAC"  # a raw AAC (ADTS) stream: an MPEG sync word with layer 0
    if head[:5] == b"#!AMR":
        return "3GP/AMR"
    if head[:4] == b"\x30\x26\xb2\x75":
        return "WMA"  # ASF
    return None


def _ffmpeg_message(name: str, ext: str, media: str | None) -> str:
    declared = f" ({media})" if media else ""
    return (f"{name} audio{declared} needs FFmpeg, which this server lacks (pip install av, or 'emovox[formats]'): "
            f"convert it to WAV, FLAC or MP3 first, e.g. ffmpeg -i clip{ext} clip.flac")


async def receive_upload(request: Request, media: str, state: State) -> Upload:
    """The body (raw) or its one file part (multipart), capped at ``upload_limit`` bytes (413) and received
    within ``request_timeout`` seconds plus one per MB (408); 400 if empty or malformed."""
    limits = state.config
    limit = limits.upload_limit
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, f"invalid Content-Length {declared!r}")
        if int(declared) > limit:
            raise ApiError(413, _too_big(int(declared), limit, limits.max_upload_bytes is None))
    capped = Request(request.scope, _capped_receive(request, limit, limits.request_timeout,
                                                    limits.max_upload_bytes is None))
    try:
        if media == MULTIPART:
            return await _file_part(capped)
        spool = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (handed on to the worker, which closes it)
        try:
            async for chunk in capped.stream():
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        if spool.tell() == 0:
            spool.close()
            raise ApiError(400, "empty body: no audio was sent")
        spool.seek(0)
        return Upload(_clean_name(request.query_params.get("name", "upload")), spool)
    except ClientDisconnect:
        raise ApiError(400, "the client went away before the body was complete") from None


def _capped_receive(request: Request, limit: int, timeout: float, derived: bool):
    """``request``'s ASGI receive, raising 413 past ``limit`` bytes and 408 past the deadline."""
    loop = asyncio.get_running_loop()
    began, received = loop.time(), 0
    receive = request.receive

    async def capped() -> dict:
        nonlocal received
        remaining = began + timeout + received / BYTES_PER_EXTRA_SECOND - loop.time()
        try:
            if remaining <= 0:
                raise asyncio.TimeoutError
            message = await asyncio.wait_for(receive(), remaining)
        except asyncio.TimeoutError:
            raise ApiError(408, f"the body was not received within {timeout:g} s (plus 1 s per MB)") from None
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise ApiError(413, _too_big(None, limit, derived))
        return message

    return capped


def _too_big(size: int | None, limit: int, derived: bool) -> str:
    body = f"body of {size} bytes" if size is not None else "body"
    why = (f" ({limit / 1e6:.1f} MB: {(limit - 1024 * 1024) / UPLOAD_BYTES_PER_SECOND:g} s of 16-bit stereo 48 kHz "
           "WAV); send FLAC or MP3, or a shorter recording") if derived else ""
    return f"{body} is over the limit of {limit} bytes{why}"


async def _file_part(request: Request) -> Upload:
    """The single file part of a multipart body."""
    form = await request.form(max_files=1, max_fields=8)
    files = [value for value in form.values() if isinstance(value, UploadFile)]
    try:
        if not files:
            raise ApiError(400, "the multipart form has no file part (send the audio as field 'file')")
        part = files[0]
        check_media(_media_type(part.content_type), "file type")
        if not part.size:
            raise ApiError(400, "empty body: no audio was sent")
        await part.seek(0)
    except ApiError:
        await form.close()
        raise
    return Upload(_clean_name(part.filename or "upload"), part.file, form)


def _analyse_and_close(state: State, upload: Upload) -> dict:
    upload.started = True
    try:
        return analyse(state, upload.file, upload.name)
    finally:
        upload.close()


def analyse(state: State, file: BinaryIO, name: str) -> dict:
    """Decode in blocks and predict (runs on a worker thread): one row, or a timeline for long uploads.

    Nothing here decodes the whole upload: :class:`~emovox.audio.AudioReader` reads the header (a claim
    over the limit is refused at once), and :meth:`~emovox.recognizer.Recognizer.process_file` decodes one-second
    blocks and stops past ``max_duration`` seconds of decoded samples, whatever the header claimed.
    """
    began = time.perf_counter()
    limits = state.config
    try:
        with AudioReader(file, name=name) as header:  # the header only: nothing is decoded yet
            rate, header_s = header.rate, header.header_frames / header.rate
    except AudioError as exc:
        raise ApiError(422, str(exc)) from None
    file.seek(0)
    if header_s > limits.max_duration:
        raise ApiError(413, f"{name}: {header_s:.1f} s of audio is over the limit of {limits.max_duration:g} s")
    found = state.model.process_file(file, name=name, max_duration_s=limits.max_duration,
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


def _media_type(header: str | None) -> str:
    return (header or ANY_TYPE).split(";")[0].strip().lower() or ANY_TYPE


def _clean_name(name: str) -> str:
    """The last part of a client-given file name, printable and at most 100 characters."""
    base = PurePath(name.replace("\\", "/")).name
    return "".join(ch for ch in base if ch.isprintable())[:100] or "upload"
