"""The HTTP API against a real uvicorn server on 127.0.0.1: good uploads, bad ones, keys, limits."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import needs_ravdess, ravdess_file, tone
from serverkit import assert_error, audio_bytes

httpx = pytest.importorskip("httpx", reason="httpx is needed to test the server (pip install httpx)")
pytest.importorskip("fastapi", reason="the server needs fastapi (pip install fastapi uvicorn python-multipart)")

from emovox.apps.server.app import create_app  # noqa: E402
from emovox.apps.server.common import ServerConfig  # noqa: E402
from testkit.server_thread import ServerThread  # noqa: E402

pytestmark = needs_ravdess
CALM = (1, 2)  # actor 01, calm: a training file of the tiny bundle
LIMITS = dict(max_upload_bytes=1_000_000, max_duration=20.0, segment_over=8.0)


@pytest.fixture(scope="module")
def model(tiny_bundle):
    import emovox

    return emovox.load_model(tiny_bundle)


@pytest.fixture(scope="module")
def server(model):
    with ServerThread(create_app(model, ServerConfig(**LIMITS))) as running:
        yield running


@pytest.fixture(scope="module")
def strict(model):
    """A server that wants an API key and receives bodies within 1 s."""
    with ServerThread(create_app(model, ServerConfig(api_key="s3cret", request_timeout=1.0, **LIMITS))) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def test_health_and_binding(server, client):
    assert server.host == "127.0.0.1"
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["streams"] == 0


def test_predict_raw_flac_matches_the_library(client, model):
    path = ravdess_file(*CALM)
    expected = model.predict(path)
    response = client.post("/v1/predict?name=clip.flac", content=path.read_bytes(),
                           headers={"Content-Type": "audio/flac"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] == expected.label == "calm"
    assert body["probabilities"] == pytest.approx(expected.probabilities, abs=1e-6)
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert body["duration_s"] == pytest.approx(sf.info(str(path)).duration, abs=1e-3)
    assert body["rate_hz"] == 48000 and body["name"] == "clip.flac" and body["kind"] == "whole"
    # a short clip is one row for the whole of it, the library's own row (without the file)
    [row] = body["predictions"]
    assert row["kind"] == "whole" and row["index"] == 0 and "file" not in row
    assert row["start_s"] == 0.0 and row["end_s"] == pytest.approx(body["duration_s"], abs=1e-3)
    assert row["label"] == expected.label and row["probabilities"] == pytest.approx(expected.probabilities, abs=1e-6)
    assert body["share"] == {label: (1.0 if label == "calm" else 0.0) for label in model.labels}
    assert body["elapsed_ms"] > 0


def test_predict_multipart_wav_and_ogg(client, model):
    samples, rate = sf.read(str(ravdess_file(5, 5)), dtype="float32")
    expected = model.predict(samples, rate=rate)
    for fmt, subtype, mime in (("WAV", "PCM_16", "audio/wav"), ("OGG", "VORBIS", "audio/ogg")):
        data = audio_bytes(samples, rate, fmt, subtype)
        response = client.post("/v1/predict", files={"file": (f"../../x/me.{fmt.lower()}", data, mime)})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["name"] == f"me.{fmt.lower()}"  # only the base name of what the client says
        assert body["label"] in model.labels
        if fmt == "WAV":  # 16-bit quantisation changes the features only slightly
            assert body["label"] == expected.label


def test_long_upload_has_segments(client, model):
    rate = 48000
    gap = np.zeros(rate, dtype=np.float32)
    clips = [sf.read(str(ravdess_file(*spec)), dtype="float32")[0] for spec in ((1, 2), (2, 3), (3, 6))]
    long = np.concatenate([part for clip in clips for part in (clip, gap)])
    response = client.post("/v1/predict", content=audio_bytes(long, rate, "FLAC", subtype=None),
                           headers={"Content-Type": "audio/flac"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["duration_s"] > 8.0 and body["kind"] == "segment"
    segments = body["predictions"]
    assert 2 <= len(segments) <= 6, segments
    assert all(s["kind"] == "segment" for s in segments)
    assert [s["index"] for s in segments] == list(range(len(segments)))
    assert all(0 <= s["start_s"] < s["end_s"] <= body["duration_s"] + 1e-3 for s in segments)
    assert all(s["label"] in model.labels for s in segments)
    assert [s["start_s"] for s in segments] == sorted(s["start_s"] for s in segments)
    # the summary agrees with the timeline: shares of its time, the label with the most of it
    assert sum(body["share"].values()) == pytest.approx(1.0, abs=1e-3)
    assert body["label"] == max(body["share"], key=body["share"].get)
    assert body["share"][body["label"]] > 0 and body["label"] in {s["label"] for s in segments}


def test_long_upload_without_speech_is_422(client):
    """Over segment_over seconds the answer is a timeline of speech: steady noise has none."""
    rate = 16000
    noise = (0.01 * np.random.default_rng(0).standard_normal(9 * rate)).astype(np.float32)
    assert_error(client.post("/v1/predict?name=hiss.wav", content=audio_bytes(noise, rate, subtype="PCM_16"),
                             headers={"Content-Type": "audio/wav"}), 422, "hiss.wav: no stretch of speech found")


@pytest.mark.parametrize("content_type, body, status, words", [
    ("text/plain", b"hello", 415, "unsupported Content-Type 'text/plain'"),
    ("image/png", b"\x89PNG\r\n", 415, "unsupported Content-Type 'image/png'"),
    ("application/json", b"{}", 415, "unsupported"),
    ("audio/wav", b"RIFF\x00\x00\x00\x00WAVEjunk" * 10, 422, "upload:"),
    ("audio/wav", b"", 400, "empty body"),
    ("application/octet-stream", b"\x00" * 5000, 422, "not an audio file"),
])
def test_bad_raw_bodies(client, content_type, body, status, words):
    assert_error(client.post("/v1/predict", content=body, headers={"Content-Type": content_type}), status, words)


def test_unusable_audio_is_422(client):
    rate = 16000
    cases = {"silent": audio_bytes(np.zeros(rate, np.float32), rate, subtype="PCM_16"),
             "truncated": ravdess_file(*CALM).read_bytes()[:300],
             "nan": audio_bytes(np.full(rate, np.nan, np.float32), rate, subtype="FLOAT")}
    for name, data in cases.items():
        error = assert_error(client.post(f"/v1/predict?name={name}.wav", content=data,
                                         headers={"Content-Type": "audio/wav"}), 422, f"{name}.wav:")
        assert error["code"] == "unprocessable_entity"


def test_bad_multipart(client):
    assert_error(client.post("/v1/predict", data={"note": "no file"},
                             files={"other": ("a.txt", b"text", "text/plain")}), 415, "text/plain")
    form = b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n'
    assert_error(client.post("/v1/predict", content=form, headers={"Content-Type": "multipart/form-data; boundary=b"}),
                 400, "no file part")
    assert_error(client.post("/v1/predict", content=b"garbage", headers={"Content-Type": "multipart/form-data"}),
                 400, "")
    assert_error(client.post("/v1/predict", files={"file": ("e.wav", b"", "audio/wav")}), 400, "empty body")


def test_size_and_duration_limits(client):
    big = b"\x00" * 1_000_001
    assert_error(client.post("/v1/predict", content=big, headers={"Content-Type": "audio/wav"}),
                 413, "limit of 1000000")

    def chunks():  # no Content-Length: the cap applies while reading
        for _ in range(20):
            yield b"\x01" * 100_000

    assert_error(client.post("/v1/predict", content=chunks(), headers={"Content-Type": "audio/wav"}), 413, "limit")
    long = audio_bytes(tone(25.0, rate=8000), 8000, subtype="PCM_16")  # 400 kB, under the byte limit
    assert len(long) < 1_000_000
    assert_error(client.post("/v1/predict", content=long, headers={"Content-Type": "audio/wav"}), 413, "limit of 20 s")


def test_api_key(strict, model):
    data = ravdess_file(*CALM).read_bytes()
    with httpx.Client(base_url=strict.url, timeout=30) as c:
        assert c.get("/healthz").status_code == 200
        for headers in ({}, {"X-API-Key": "wrong"}):
            assert_error(c.post("/v1/predict", content=data, headers={"Content-Type": "audio/flac", **headers}),
                         401, "API key")
            assert_error(c.get("/v1/model", headers=headers), 401, "API key")
        ok = c.post("/v1/predict", content=data, headers={"Content-Type": "audio/flac", "X-API-Key": "s3cret"})
        assert ok.status_code == 200 and ok.json()["label"] == "calm"
        assert c.get("/v1/model", headers={"X-API-Key": "s3cret"}).json()["limits"]["api_key_required"] is True


def test_slow_body_gets_408(strict):
    with socket.create_connection((strict.host, strict.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nX-API-Key: s3cret\r\nContent-Type: audio/wav\r\n"
                     b"Content-Length: 5000\r\n\r\nRIFF")
        began = time.monotonic()
        reply = b""
        while b"}}" not in reply and (chunk := sock.recv(4096)):  # headers and body may come apart
            reply += chunk
        reply = reply.decode()
    assert reply.startswith("HTTP/1.1 408") and '"status":408' in reply
    assert 0.8 < time.monotonic() - began < 4


def test_model_description_and_openapi(client, model):
    info = client.get("/v1/model").json()
    assert info["labels"] == model.labels
    assert info["feature_set"]["name"] == "seed180" and info["model"]["name"] == "seed-mlp"
    assert info["limits"]["max_upload_bytes"] == 1_000_000 and info["limits"]["api_key_required"] is False
    spec = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/model", "/healthz"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    assert_error(client.get("/nowhere"), 404, "Not Found")
    assert_error(client.get("/v1/predict"), 405, "Method Not Allowed")


def test_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'id="start"' in page.text and "http://" not in page.text and "https://" not in page.text
    for name in ("app.js", "worklet.js", "style.css"):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and len(asset.text) > 500
        assert "https://" not in asset.text and "http://" not in asset.text  # nothing from the internet
    assert client.get("/static/%2e%2e/server.py").status_code == 404  # no way out of the page's folder


def test_serve_command_options():
    from emovox.cli import build_parser
    from emovox.cli.serve import config_from_args
    from emovox.errors import ParameterError

    args = build_parser().parse_args(["serve", "--max-upload-mb", "2", "--max-streams", "3", "--api-key", "k"])
    assert args.host == "127.0.0.1" and args.port == 8000
    config = config_from_args(args)
    assert config.max_upload_bytes == 2 * 1024 * 1024 and config.max_streams == 3 and config.api_key == "k"
    with pytest.raises(ParameterError, match="--timeout"):
        config_from_args(build_parser().parse_args(["serve", "--timeout", "0"]))
