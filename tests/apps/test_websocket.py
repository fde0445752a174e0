"""``WS /v1/stream`` on a real uvicorn server: a RAVDESS clip streamed as PCM, and bad streams."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest
import soundfile as sf

from conftest import needs_ravdess, ravdess_file, tone

websockets = pytest.importorskip("websockets", reason="the WebSocket tests need the websockets package")
pytest.importorskip("fastapi", reason="the server needs fastapi (pip install fastapi uvicorn python-multipart)")

from emovox.apps.server.app import create_app  # noqa: E402
from emovox.apps.server.common import ServerConfig  # noqa: E402
from testkit.server_thread import ServerThread  # noqa: E402

pytestmark = needs_ravdess
BLOCK = 0.1  # seconds of audio per message
PACE = 0.5  # wall seconds per second of audio (twice real time)


@pytest.fixture(scope="module")
def model(tiny_bundle):
    import emovox

    return emovox.load_model(tiny_bundle)


@pytest.fixture(scope="module")
def server(model):
    config = ServerConfig(max_streams=2, idle_timeout=1.0, max_stream_seconds=30.0)
    with ServerThread(create_app(model, config)) as running:
        yield running


def ws_url(server, path: str = "/v1/stream") -> str:
    return server.url.replace("http://", "ws://") + path


async def stream_clip(url: str, samples: np.ndarray, rate: int, fmt: str = "s16") -> tuple[list[dict], list[float]]:
    """Stream ``samples`` paced at PACE, then end; the events, and each segment's client-side delay (ms)."""
    events, delays, sent_at = [], [], [0.0]
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"rate": rate, "format": fmt}))
        events.append(json.loads(await ws.recv()))

        async def receive() -> None:
            async for message in ws:
                event = json.loads(message)
                events.append(event)
                if event["type"] == "segment":
                    delays.append(1000 * (time.perf_counter() - sent_at[0]))

        receiver = asyncio.create_task(receive())
        hop = int(BLOCK * rate)
        for start in range(0, len(samples), hop):
            block = samples[start:start + hop]
            data = (np.clip(block, -1, 1) * 32767).astype("<i2").tobytes() if fmt == "s16" else \
                block.astype("<f4").tobytes()
            sent_at[0] = time.perf_counter()
            await ws.send(data)
            await asyncio.sleep(BLOCK * PACE)
        await ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(receiver, 10)
    return events, delays


def test_stream_ravdess_clip(server, model):
    samples, rate = sf.read(str(ravdess_file(1, 2)), dtype="float32")  # calm, a training file of the model
    samples = np.concatenate([samples, np.zeros(rate, np.float32)])  # a second of silence ends the speech
    events, delays = asyncio.run(stream_clip(ws_url(server), samples, rate))
    assert events[0] == {"type": "ready", "labels": model.labels, "rate": 48000, "format": "s16", "adapt": False}
    assert events[-1]["type"] == "done" and events[-1]["seconds"] == pytest.approx(len(samples) / rate, abs=0.01)
    segments = [e for e in events if e["type"] == "segment"]
    estimates = [e for e in events if e["type"] == "estimate"]
    assert len(segments) == 1, segments
    segment = segments[0]
    assert 0.3 < segment["start_s"] < 1.5 and 2.0 < segment["end_s"] < 4.2 and segment["index"] == 0  # the clip's speech, give or take
    assert "file" not in segment and "kind" not in segment  # the row's kind is the event's type
    # the server's answer is a stream session's (model.stream) on the same 16-bit blocks
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").astype(np.float32) / 32768
    local = model.stream(rate)
    hop = int(BLOCK * rate)
    expected = [e for start in range(0, len(pcm), hop) for e in local.feed(pcm[start:start + hop])] + local.close()
    expected = [e.to_dict() for e in expected if e.kind == "segment"]
    assert len(expected) == 1
    assert (segment["start_s"], segment["end_s"], segment["label"], segment["index"]) == \
        (expected[0]["start_s"], expected[0]["end_s"], expected[0]["label"], expected[0]["index"])
    assert segment["probabilities"] == pytest.approx(expected[0]["probabilities"], abs=1e-4)
    assert estimates and all(e["label"] in model.labels for e in estimates)
    # the segment left the server within 100 ms of the block in which the VAD decided the end of speech,
    # and reached the client within 100 ms of that block being sent (the stream is paced, so no queue)
    assert segment["server_ms"] < 100 and segment["latency_ms"] < 100
    assert len(delays) == 1 and delays[0] < 100, delays


def test_stream_float32_at_16k(server, model):
    samples, rate = sf.read(str(ravdess_file(2, 5)), dtype="float32")
    import soxr

    low = soxr.resample(samples, rate, 16000).astype(np.float32)
    events, _ = asyncio.run(stream_clip(ws_url(server), np.concatenate([low, np.zeros(16000, np.float32)]),
                                        16000, fmt="f32"))
    assert events[0]["format"] == "f32" and events[0]["rate"] == 16000
    assert [e["type"] for e in events].count("segment") >= 1
    assert events[-1]["type"] == "done"


async def expect_close(url: str, first, then: bytes | None = None, headers: dict | None = None) -> tuple[dict, int]:
    """Send ``first`` (and ``then``); return the error event and the close code."""
    async with websockets.connect(url, additional_headers=headers or {}) as ws:
        try:
            await ws.send(first)
        except websockets.ConnectionClosed:
            pass  # the server may turn a stream away before reading anything
        if then is not None:
            ready = json.loads(await ws.recv())
            assert ready["type"] == "ready"
            await ws.send(then)
        error = json.loads(await ws.recv())
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        return error, ws.close_code


@pytest.mark.parametrize("first, then, status, code, words", [
    ("hello", None, 400, 1003, "first message must be JSON"),
    (json.dumps({"rate": 100}), None, 400, 1003, "'rate' must be an integer"),
    (json.dumps({"rate": 16000, "format": "mp3"}), None, 400, 1003, "'format' must be one of"),
    (json.dumps({"rate": 16000, "format": "s16"}), b"\x00\x01\x02", 400, 1003, "not a whole number"),
    (json.dumps({"rate": 16000, "format": "f32"}), np.full(4, np.nan, "<f4").tobytes(), 400, 1003, "NaN"),
    (json.dumps({"rate": 16000}), "what", 400, 1003, "expected binary PCM"),
])
def test_bad_streams(server, first, then, status, code, words):
    error, close_code = asyncio.run(expect_close(ws_url(server), first, then))
    assert error["type"] == "error" and error["status"] == status and words in error["message"], error
    assert close_code == code


def test_cross_origin_pages_are_refused(server):
    start = json.dumps({"rate": 16000})
    error, code = asyncio.run(expect_close(ws_url(server), start, headers={"Origin": "https://evil.example"}))
    assert (error["status"], code) == (403, 1008) and "cross-origin" in error["message"]

    async def same_origin() -> dict:
        async with websockets.connect(ws_url(server), origin=server.url) as ws:
            await ws.send(start)
            return json.loads(await ws.recv())

    assert asyncio.run(same_origin())["type"] == "ready"


def test_stream_limits(server):
    async def scenario() -> None:
        start = json.dumps({"rate": 16000, "format": "s16"})
        async with websockets.connect(ws_url(server)) as a, websockets.connect(ws_url(server)) as b:
            for ws in (a, b):
                await ws.send(start)
                assert json.loads(await ws.recv())["type"] == "ready"
            error, code = await expect_close(ws_url(server), start)  # a third stream: over max_streams=2
            assert (error["status"], code) == (503, 1013) and "too many streams" in error["message"]
            began = time.monotonic()
            error = json.loads(await a.recv())  # a has sent nothing for idle_timeout=1 s
            assert (error["status"], "no message") == (408, error["message"][:10])
            assert 0.5 < time.monotonic() - began < 3
        # both closed: a new stream is accepted again, and is cut at max_stream_seconds of audio
        async with websockets.connect(ws_url(server)) as ws:
            await ws.send(start)
            await ws.recv()
            second = (tone(1.0, rate=16000) * 32767).astype("<i2").tobytes()
            for _ in range(31):  # one second more than the limit
                await ws.send(second)
            events = []
            with pytest.raises(websockets.ConnectionClosedError):
                while True:
                    events.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            assert events[-1]["type"] == "error" and events[-1]["status"] == 413 and "30 s" in events[-1]["message"]
            assert ws.close_code == 1009

    asyncio.run(scenario())


def test_stream_api_key(model):
    with ServerThread(create_app(model, ServerConfig(api_key="k1"))) as keyed:
        error, code = asyncio.run(expect_close(ws_url(keyed), json.dumps({"rate": 16000})))
        assert (error["status"], code) == (401, 1008)

        async def with_key(first: str, headers: dict) -> dict:
            async with websockets.connect(ws_url(keyed), additional_headers=headers) as ws:
                await ws.send(first)
                return json.loads(await ws.recv())

        assert asyncio.run(with_key(json.dumps({"rate": 16000, "api_key": "k1"}), {}))["type"] == "ready"
        assert asyncio.run(with_key(json.dumps({"rate": 16000}), {"X-API-Key": "k1"}))["type"] == "ready"
