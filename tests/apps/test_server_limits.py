"""The service's limits on a real uvicorn server on 127.0.0.1: memory per upload, limits in seconds of
audio, the formats accepted (raw and multipart alike), WebSocket messages and slots, slow connections."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import needs_ravdess, ravdess_file
from serverkit import assert_error, audio_bytes

httpx = pytest.importorskip("httpx", reason="httpx is needed to test the server (pip install httpx)")
websockets = pytest.importorskip("websockets", reason="the WebSocket tests need the websockets package")
pytest.importorskip("fastapi", reason="the server needs fastapi (pip install fastapi uvicorn python-multipart)")


from emovox.apps.server import predict
from emovox.apps.server.app import create_app
from emovox.apps.server.common import (
    UPLOAD_BYTES_PER_SECOND,
    UPLOAD_HEADROOM_BYTES,
    ServerConfig,
)
from emovox.apps.server.serving import MAX_HEADER_BYTES
from testkit.server_thread import ServerThread

pytestmark = [needs_ravdess, pytest.mark.filterwarnings("ignore::emovox.errors.LowRateWarning")]
CALM = (1, 2)  # actor 01, calm: a training file of the tiny bundle


def LimitedServer(app, config: ServerConfig) -> ServerThread:  # noqa: N802 - the name the tests use
    """:class:`ServerThread` runs the app as ``emovox serve`` does: with :func:`uvicorn_config`'s connection
    limits, taken from the app's own configuration (made from ``config``)."""
    assert app.state.emovox.config.header_timeout == config.header_timeout
    return ServerThread(app)


@pytest.fixture(scope="module")
def model(tiny_bundle):
    import emovox

    return emovox.load_model(tiny_bundle)


@pytest.fixture(scope="module")
def server(model):
    """The default limits (600 s of audio) behind ``emovox serve``'s uvicorn settings."""
    with LimitedServer(create_app(model, ServerConfig()), ServerConfig()) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


def vm_kib(field: str) -> int:
    """A ``/proc/self/status`` figure (``VmRSS``, ``VmHWM``), KiB."""
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE).group(1))


# -- 1. memory: one upload holds about a block of audio, whatever its length -------------------------------------

def test_long_quiet_flac_at_192khz_keeps_memory_bounded(client):
    """594 s of 192 kHz FLAC is 360 kB on the wire and 456 MB as float32 samples: the server must decode it in
    blocks (the whole at once would raise the process's peak by ~450 MB; the limit here is 150 MB)."""
    rate, seconds = 192000, 594
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", rate, 1, format="FLAC", subtype="PCM_16") as out:
        block = np.zeros(rate * 6, np.int16)
        for _ in range(seconds // 6):
            out.write(block)
    data = buffer.getvalue()
    assert len(data) < 1_000_000
    client.get("/healthz")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM: the server runs in this process
    before = vm_kib("VmRSS")
    response = client.post("/v1/predict?name=quiet.flac", content=data, headers={"Content-Type": "audio/flac"})
    growth_mb = (vm_kib("VmHWM") - before) / 1024
    assert_error(response, 422, "quiet.flac: silent")  # decoded to the end: every block was looked at
    assert growth_mb < 150, f"the process's peak grew by {growth_mb:.0f} MB for one upload"


# -- 2. limits in seconds of audio; the byte cap follows from them ------------------------------------------------

@needs_ravdess
def test_five_minute_wav_is_not_refused_for_its_bytes(client, model):
    """A 5-minute 16-bit stereo 48 kHz WAV is 57.6 MB: under the byte cap derived from 600 s (116 MB)."""
    clip, rate = sf.read(str(ravdess_file(*CALM)), dtype="float32")
    samples = np.zeros((300 * rate, 2), np.float32)
    samples[rate:rate + len(clip)] = clip[:, None]  # one stretch of speech, then quiet
    data = audio_bytes(samples, rate)
    assert len(data) > 50_000_000
    response = client.post("/v1/predict?name=five.wav", content=data, headers={"Content-Type": "audio/wav"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["duration_s"] == 300.0 and body["kind"] == "segment" and len(body["predictions"]) >= 1
    assert body["predictions"][0]["start_s"] < 2.5 and body["label"] in model.labels


def test_ten_minute_flac_is_refused_for_its_seconds(client):
    rate = 16000
    data = audio_bytes(np.zeros(660 * rate, np.float32), rate, "FLAC")  # small: 11 minutes of quiet
    assert len(data) < 2_000_000
    assert_error(client.post("/v1/predict?name=long.flac", content=data, headers={"Content-Type": "audio/flac"}),
                 413, "long.flac: 660.0 s of audio is over the limit of 600 s")


def test_byte_cap_is_derived_from_seconds(client):
    limit = 600 * UPLOAD_BYTES_PER_SECOND + UPLOAD_HEADROOM_BYTES
    assert ServerConfig().upload_limit == limit == 116_248_576
    assert client.get("/v1/model").json()["limits"]["max_upload_bytes"] == limit
    # refused from its Content-Length, before a byte of the body is read
    with socket.create_connection((client.base_url.host, client.base_url.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
                     b"Content-Length: %d\r\n\r\n" % (limit + 1))
        reply = _read_reply(sock)
    assert reply.startswith("HTTP/1.1 413") and "600 s of 16-bit stereo 48 kHz WAV" in reply
    assert ServerConfig(max_duration=60).upload_limit == 60 * 192000 + 1024 * 1024
    assert ServerConfig(max_upload_bytes=5000).upload_limit == 5000


def test_serve_options_derive_the_byte_cap():
    from emovox.cli import build_parser
    from emovox.cli.serve import config_from_args

    config = config_from_args(build_parser().parse_args(["serve", "--max-duration", "300"]))
    assert config.max_upload_bytes is None and config.upload_limit == 300 * 192000 + 1024 * 1024
    config = config_from_args(build_parser().parse_args(
        ["serve", "--max-upload-mb", "2", "--header-timeout", "3", "--max-connections", "50"]))
    assert (config.upload_limit, config.header_timeout, config.max_connections) == (2 * 1024 * 1024, 3.0, 50)


# -- 3. formats: the same accepted raw or as a multipart part ----------------------------------------------------

def _post_both(client, data: bytes, media: str, name: str) -> tuple:
    raw = client.post(f"/v1/predict?name={name}", content=data, headers={"Content-Type": media})
    form = client.post("/v1/predict", files={"file": (name, data, media)})
    return raw, form


def test_every_accepted_type_is_accepted_raw_and_as_a_form_part(client, model):
    data = ravdess_file(*CALM).read_bytes()  # FLAC: the decoder recognises it whatever the declared type
    for media in sorted(predict.accepted_types()):
        raw, form = _post_both(client, data, media, "calm.flac")
        assert raw.status_code == form.status_code == 200, (media, raw.text, form.text)
        assert raw.json()["predictions"] == form.json()["predictions"]
    for media in ("text/plain", "image/png", "application/json"):
        raw, form = _post_both(client, data, media, "calm.flac")
        assert_error(raw, 415, media)
        assert_error(form, 415, media)


def test_mp3_is_accepted(client, model):
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile has no MP3")
    samples, rate = sf.read(str(ravdess_file(*CALM)), dtype="float32")
    data = audio_bytes(samples, rate, "MP3", "MPEG_LAYER_III")
    for response in _post_both(client, data, "audio/mpeg", "calm.mp3"):
        assert response.status_code == 200, response.text
        assert response.json()["label"] == model.predict(ravdess_file(*CALM)).label


def m4a_bytes(seconds: float = 2.0, rate: int = 48000) -> bytes:
    """The first ``seconds`` of a RAVDESS sentence, AAC in an MP4 container (needs PyAV to make)."""
    av = pytest.importorskip("av")
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        speech, _ = sf.read(str(ravdess_file(*CALM)), dtype="float32")
        samples = speech[round(0.8 * rate):round((0.8 + seconds) * rate)]  # from the start of the sentence
        for start in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start:start + 1024], format="flt", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def test_ffmpeg_formats_without_pyav_get_a_clear_415(client, monkeypatch):
    """Without PyAV, M4A/AAC and WebM are refused with what to do, whether declared or recognised from the bytes."""
    monkeypatch.setattr(predict, "ffmpeg_decodes", lambda: False)
    head = b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00" + b"\x00" * 64  # the start of an M4A file
    for media in ("audio/mp4", "audio/aac", "audio/x-m4a"):
        for response in _post_both(client, head, media, "voice.m4a"):
            error = assert_error(response, 415, "M4A/AAC audio")
            assert "needs FFmpeg" in error["message"] and "convert it to WAV, FLAC or MP3" in error["message"]
    for response in _post_both(client, b"\x1a\x45\xdf\xa3" + b"\x00" * 64, "audio/webm", "voice.webm"):
        assert_error(response, 415, "WebM audio (audio/webm) needs FFmpeg")
    for response in _post_both(client, head, "application/octet-stream", "voice"):  # recognised from its bytes
        assert_error(response, 415, "M4A/AAC audio needs FFmpeg")
    assert "M4A/AAC" not in client.get("/v1/model").json()["formats"]


def test_ffmpeg_formats_with_pyav_are_decoded(client):
    if not predict.ffmpeg_decodes():
        pytest.skip("PyAV is not installed")
    data = m4a_bytes()
    for media in ("audio/mp4", "audio/x-m4a", "application/octet-stream"):
        for response in _post_both(client, data, media, "speech.m4a"):
            assert response.status_code == 200, response.text
            assert response.json()["rate_hz"] == 48000 and 1.9 < response.json()["duration_s"] < 2.2
    assert "M4A/AAC" in client.get("/v1/model").json()["formats"]


# -- 4. the WebSocket: bounded JSON, key before slot, samples counted --------------------------------------------

def ws_url(server) -> str:
    return server.url.replace("http://", "ws://") + "/v1/stream"


async def _until_closed(ws) -> tuple[list[dict], int | None]:
    events = []
    try:
        while True:
            events.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    except websockets.ConnectionClosed:
        pass
    return events, ws.close_code


def test_nested_or_huge_first_message_is_a_clean_1003(server, caplog):
    async def send(text: str) -> tuple[list[dict], int | None]:
        async with websockets.connect(ws_url(server), max_size=None) as ws:
            await ws.send(text)
            return await _until_closed(ws)

    caplog.set_level(logging.DEBUG)
    nested = "[" * 100_000 + "]" * 100_000  # json.loads would raise RecursionError
    for text, words in ((nested, "over 4096 bytes"), ('{"rate": ' + "[" * 600 + "]" * 600 + "}", "nests deeper"),
                        ('{"rate": 16000, "x": ' + '"' + "a" * 5000 + '"}', "over 4096 bytes")):
        events, code = asyncio.run(send(text))
        assert code == 1003 and events[-1]["type"] == "error" and words in events[-1]["message"], events
    assert "RecursionError" not in caplog.text and "Exception in ASGI" not in caplog.text


def test_silent_connections_do_not_keep_a_keyed_client_out(model):
    """Eight connections that never send their first message hold no stream slot (max_streams=2 here)."""
    config = ServerConfig(api_key="k1", max_streams=2, header_timeout=5.0)
    with ServerThread(create_app(model, config)) as keyed:
        async def scenario() -> None:
            url = ws_url(keyed)
            silent = [await websockets.connect(url) for _ in range(8)]
            try:
                # both slots, by clients with the key (in the header; in the first message)
                async with websockets.connect(url, additional_headers={"X-API-Key": "k1"}) as a, \
                        websockets.connect(url) as b:
                    await a.send(json.dumps({"rate": 16000}))
                    await b.send(json.dumps({"rate": 16000, "api_key": "k1"}))
                    for ws in (a, b):
                        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "ready"
                    async with websockets.connect(url) as c:  # a third keyed client: the slots are taken
                        await c.send(json.dumps({"rate": 16000, "api_key": "k1"}))
                        events, code = await _until_closed(c)
                    assert code == 1013 and "too many streams" in events[-1]["message"]
                # a wrong key in the header is refused at once, before any first message
                async with websockets.connect(url, additional_headers={"X-API-Key": "nope"}) as ws:
                    events, code = await _until_closed(ws)
                assert code == 1008 and events[-1]["status"] == 401
            finally:
                for ws in silent:
                    await ws.close()

        asyncio.run(scenario())


def test_no_first_message_is_closed_after_the_header_timeout(model):
    with ServerThread(create_app(model, ServerConfig(header_timeout=1.0))) as quick:
        async def scenario() -> tuple[list[dict], int | None, float]:
            async with websockets.connect(ws_url(quick)) as ws:
                began = time.monotonic()
                events, code = await _until_closed(ws)
                return events, code, time.monotonic() - began

        events, code, waited = asyncio.run(scenario())
    assert code == 1001 and events[-1]["status"] == 408 and "no first message" in events[-1]["message"]
    assert 0.8 < waited < 4


def test_stream_seconds_are_counted_on_samples(model):
    """float32 blocks carry 4 bytes a sample: 1.5 s of them pass a 2 s limit, 2.5 s do not."""
    with ServerThread(create_app(model, ServerConfig(max_stream_seconds=2.0))) as limited:
        async def send(seconds: float) -> tuple[list[dict], int | None]:
            async with websockets.connect(ws_url(limited)) as ws:
                await ws.send(json.dumps({"rate": 8000, "format": "f32"}))
                await ws.recv()
                samples = np.zeros(int(seconds * 8000), "<f4")
                for start in range(0, len(samples), 800):
                    await ws.send(samples[start:start + 800].tobytes())
                await ws.send(json.dumps({"type": "end"}))
                return await _until_closed(ws)

        events, code = asyncio.run(send(1.5))
        assert code == 1000 and events[-1] == {"type": "done", "seconds": 1.5}
        events, code = asyncio.run(send(2.5))
        assert code == 1009 and events[-1]["status"] == 413 and "2 s of audio" in events[-1]["message"]


# -- 5. slow or oversized request headers, and the connection cap -------------------------------------------------

def _read_reply(sock: socket.socket) -> str:
    reply = b""
    while b"}}" not in reply and (chunk := sock.recv(65536)):
        reply += chunk
    return reply.decode(errors="replace")


def _closed_after(sock: socket.socket, limit: float) -> float | None:
    """Seconds until the server closes ``sock`` (reads EOF), or None if it is still open after ``limit``."""
    began = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - began


@pytest.fixture(scope="module")
def guarded(model):
    config = ServerConfig(header_timeout=1.0, max_connections=6)
    with LimitedServer(create_app(model, config), config) as running:
        yield running


def test_half_a_request_line_is_closed_after_the_header_timeout(guarded):
    with socket.create_connection((guarded.host, guarded.port)) as sock:
        sock.sendall(b"GET /heal")
        waited = _closed_after(sock, 5.0)
    assert waited is not None and 0.5 < waited < 3, waited
    with socket.create_connection((guarded.host, guarded.port)) as sock:  # after a response, on keep-alive
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        waited = _closed_after(sock, 5.0)
    assert waited is not None and waited < 3, waited


def test_endless_headers_are_cut(guarded):
    with socket.create_connection((guarded.host, guarded.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(2 * MAX_HEADER_BYTES // 1000):
                sock.sendall(b"X-Pad: " + b"a" * 991 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        waited = _closed_after(sock, 0.5)
    assert waited is not None and waited < 0.5


def test_requests_within_the_deadline_and_streams_past_it_work(guarded, model):
    with httpx.Client(base_url=guarded.url, timeout=30) as c:
        data = ravdess_file(*CALM).read_bytes()
        assert c.post("/v1/predict", content=data, headers={"Content-Type": "audio/flac"}).status_code == 200
        time.sleep(1.3)  # the keep-alive connection idles past header_timeout: a new one is made
        assert c.get("/healthz").status_code == 200

    async def stream() -> dict:
        async with websockets.connect(ws_url(guarded)) as ws:
            await ws.send(json.dumps({"rate": 16000}))
            await ws.recv()
            await asyncio.sleep(1.5)  # longer than header_timeout: a stream is not cut by it
            await ws.send(np.zeros(1600, "<i2").tobytes())
            await ws.send(json.dumps({"type": "end"}))
            events, _ = await _until_closed(ws)
            return events[-1]

    assert asyncio.run(stream())["type"] == "done"


def test_connection_cap_answers_503(guarded):
    idle = [socket.create_connection((guarded.host, guarded.port)) for _ in range(6)]
    try:
        time.sleep(0.1)
        response = httpx.get(guarded.url + "/healthz", timeout=5)
        assert response.status_code == 503
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.2)
    assert httpx.get(guarded.url + "/healthz", timeout=5).status_code == 200
