"""``WS /v1/stream``: live PCM in, segment events and running estimates out, as JSON.

The protocol, one WebSocket per stream:

1. client → ``{"rate": 48000, "format": "s16" | "f32", "api_key": "...", "adapt": false}`` (text; the key
   only when the server has one and the ``X-API-Key`` header was not sent; ``adapt``: adapt to the voice
   heard, :mod:`emovox.adaptation`, for a model with a speaker-adaptive head), within ``header_timeout``
   seconds of connecting;
2. server → ``{"type": "ready", "labels": [...], "rate": 48000, "format": "s16", "adapt": false}``
   (with ``adapt``, also ``"adapt_after"``: the utterances heard before answers are adapted);
3. client → binary messages of mono little-endian PCM (16-bit integers or float32);
   server → ``{"type": "estimate" | "segment", "start_s", "end_s", "label", "probabilities", "index",
   "latency_ms", "server_ms"}`` as the recognizer produces them (``server_ms``: from the
   arrival of the block that produced the event to its sending);
4. client → ``{"type": "end"}``; server flushes, sends the last events, then
   ``{"type": "done", "seconds": ...}`` (with ``adapt``, also ``"speaker_utterances"`` and ``"adapted"``)
   and closes with 1000.

A connection takes one of the ``max_streams`` slots only once its first message has been accepted
(key, rate, format): connections that send nothing, or no key, never keep a client with the key out.
A wrong ``X-API-Key`` header is refused at once. Text messages are parsed as JSON only up to
:data:`MAX_TEXT_BYTES` and :data:`MAX_JSON_DEPTH` levels of nesting.

Errors are ``{"type": "error", "status": 4xx, "message": "..."}`` followed by a close:
1008 (key, or a browser page from another origin), 1003 (bad first message or data),
1009 (over the stream's audio limit), 1013 (too many streams; retry later), 1001 (idle too long,
or no first message in time).
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

import numpy as np
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from ...errors import ApiError, AudioError, EmovoxError, StreamClosed
from .common import API_KEY_HEADER, State

FORMATS = {"s16": np.dtype("<i2"), "f32": np.dtype("<f4")}
MIN_RATE, MAX_RATE = 8000, 192000
#: Longest text message (the first message, or ``{"type": "end"}``), bytes of UTF-8.
MAX_TEXT_BYTES = 4096
#: Deepest nesting of arrays and objects in a text message (the protocol's messages are flat: 1).
MAX_JSON_DEPTH = 4


def add_routes(app: FastAPI, state: State) -> None:
    """Add ``WS /v1/stream`` to ``app``."""

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        limits = state.config
        origin = ws.headers.get("origin")
        if origin and urlsplit(origin).netloc != ws.headers.get("host"):
            await _close(ws, StreamClosed(1008, 403, f"cross-origin stream from {origin[:60]} refused"))
            return
        header_key = ws.headers.get(API_KEY_HEADER)
        try:
            if header_key is not None:
                state.check_key(header_key)  # a wrong key in the header: refused before anything else
        except ApiError as exc:
            await _close(ws, StreamClosed(1008, 401, exc.message))
            return
        if state.greeting >= limits.max_connections:
            await _close(ws, StreamClosed(1013, 503, f"too many connections waiting to start "
                                                     f"({limits.max_connections}); retry later"))
            return
        try:
            state.greeting += 1
            try:  # the first message: no stream slot is held while waiting for it
                first = await _receive(ws, limits.header_timeout, "no first message")
                rate, dtype, adapt = _parse_start(first, header_key, state)
            finally:
                state.greeting -= 1
            if state.streams >= limits.max_streams:
                raise StreamClosed(1013, 503, f"too many streams ({limits.max_streams} open); retry later")
            state.streams += 1
            try:
                await _serve(ws, state, rate, dtype, adapt)
            finally:
                state.streams -= 1
        except StreamClosed as closing:
            await _close(ws, closing)
        except WebSocketDisconnect:
            pass


async def _serve(ws: WebSocket, state: State, rate: int, dtype: np.dtype, adapt: bool) -> None:
    model = state.model
    session = model.stream(rate, file="<stream>", warm_up=False,  # the server warmed the model at start
                           speaker=model.speaker_profile() if adapt else None)
    ready = {"type": "ready", "labels": model.labels, "rate": rate,
             "format": next(k for k, v in FORMATS.items() if v == dtype), "adapt": adapt}
    await ws.send_json(ready | ({"adapt_after": model.min_speaker_utterances} if adapt else {}))
    received = 0.0
    while True:
        message = await _receive(ws, state.config.idle_timeout, "no message")
        arrived = time.perf_counter()
        if message.get("bytes") is not None:
            block = _pcm(message["bytes"], dtype)
            received += len(block) / rate
            if received > state.config.max_stream_seconds:
                raise StreamClosed(1009, 413, f"stream is over the limit of {state.config.max_stream_seconds:g} s "
                                              "of audio")
            events = await _run(state, session.feed, block)
        elif _is_end(message.get("text")):
            events = await _run(state, session.close)
            await _send(ws, events, arrived)
            done = {"type": "done", "seconds": round(received, 3)}
            if adapt:
                done |= {"speaker_utterances": session.speaker.count, "adapted": session.adapting}
            await ws.send_json(done)
            await ws.close(1000)
            return
        else:
            raise StreamClosed(1003, 400, 'expected binary PCM blocks or {"type": "end"}')
        await _send(ws, events, arrived)


async def _receive(ws: WebSocket, timeout: float, what: str) -> dict:
    try:
        message = await asyncio.wait_for(ws.receive(), timeout)
    except asyncio.TimeoutError:
        raise StreamClosed(1001, 408, f"{what} for {timeout:g} s; closing") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    return message


def _parse_start(message: dict, header_key: str | None, state: State) -> tuple[int, np.dtype, bool]:
    """Check the first message: key, rate, format, adapt."""
    start = parse_json(message.get("text"))
    if start is None:
        raise StreamClosed(1003, 400, 'the first message must be JSON text like {"rate": 48000, "format": "s16"}')
    try:
        state.check_key(header_key if header_key is not None else start.get("api_key"))
    except ApiError as exc:
        raise StreamClosed(1008, 401, exc.message) from None
    rate, fmt = start.get("rate"), start.get("format", "s16")
    if not isinstance(rate, int) or isinstance(rate, bool) or not MIN_RATE <= rate <= MAX_RATE:
        raise StreamClosed(1003, 400, f"'rate' must be an integer from {MIN_RATE} to {MAX_RATE} Hz, "
                                      f"got {_short(rate)}")
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise StreamClosed(1003, 400, f"'format' must be one of {', '.join(FORMATS)}, got {_short(fmt)}")
    adapt = start.get("adapt", False)
    if not isinstance(adapt, bool):
        raise StreamClosed(1003, 400, f"'adapt' must be true or false, got {_short(adapt)}")
    if adapt and not state.model.speaker_adaptive:
        raise StreamClosed(1003, 400, "'adapt' needs a model with a speaker-adaptive head, and this one has none "
                                      "(retrain it with this emovox)")
    return rate, FORMATS[fmt], adapt


def parse_json(text: str | None) -> dict | None:
    """A text message as a JSON object, or None if it is not one.

    Raises:
        StreamClosed: (1003, 400) the text is over :data:`MAX_TEXT_BYTES` or nests deeper than
            :data:`MAX_JSON_DEPTH` (checked before parsing, so no message can exhaust the parser's recursion).
    """
    if text is None:
        return None
    if len(text) > MAX_TEXT_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise StreamClosed(1003, 400, f"a text message is over {MAX_TEXT_BYTES} bytes")
    if _depth(text) > MAX_JSON_DEPTH:
        raise StreamClosed(1003, 400, f"a text message nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` outside strings in ``text`` (a JSON text or not)."""
    deepest = depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _pcm(data: bytes, dtype: np.dtype) -> np.ndarray:
    """A binary message as float32 mono samples in [-1, 1]."""
    if len(data) % dtype.itemsize:
        raise StreamClosed(1003, 400, f"a block of {len(data)} bytes is not a whole number of "
                                      f"{dtype.itemsize}-byte samples")
    samples = np.frombuffer(data, dtype=dtype)
    if dtype.kind == "i":
        return samples.astype(np.float32) / 32768.0
    if not np.all(np.isfinite(samples)):
        raise StreamClosed(1003, 400, "float32 samples contain NaN or infinity")
    return np.clip(samples, -1.0, 1.0)


def _is_end(text: str | None) -> bool:
    message = parse_json(text)
    return message is not None and message.get("type") == "end"


async def _run(state: State, fn, *args) -> list:
    try:
        return await state.run(fn, *args)
    except ApiError as exc:
        raise StreamClosed(1013, exc.status, exc.message) from None
    except (AudioError, EmovoxError) as exc:
        raise StreamClosed(1003, 422, str(exc)) from None


async def _send(ws: WebSocket, events: list, arrived: float) -> None:
    for event in events:
        payload = event.to_dict()
        payload["type"] = payload.pop("kind")
        payload.pop("file", None)
        payload["server_ms"] = round(1000 * (time.perf_counter() - arrived), 2)
        await ws.send_json(payload)


async def _close(ws: WebSocket, closing: StreamClosed) -> None:
    try:
        if closing.status:
            await ws.send_json({"type": "error", "status": closing.status, "message": closing.message})
        await ws.close(closing.code, closing.message[:120])
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client has gone already
