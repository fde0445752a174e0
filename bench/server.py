"""Load figures of ``emovox serve``: throughput and latency of ``POST /v1/predict``, and stream latency.

Starts ``emovox serve`` as its own process on 127.0.0.1 and a free port, then:

1. ``--clients`` concurrent clients post ``--requests`` 3-second RAVDESS clips (WAV, 48 kHz,
   16-bit; cut from the middle of actors 05-24's files) and time each answer;
2. one WebSocket streams ``--stream-clips`` RAVDESS clips in real time, each followed by a
   second of silence, and times each segment event: ``server_ms`` (from the arrival of the
   block in which the VAD decided the end of speech to the event's sending) and the client's
   delay from sending that block to receiving the event.

Prints one JSON line, then a table. Bounded: at most ``--requests`` requests and ``--max-seconds``.

    nice .venv/bin/python bench/server.py --model MODEL.emovox
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ravdess"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=None, help="bundle (default: train a 4-emotion one on actors 01-04)")
    p.add_argument("--data", type=Path, default=Path(os.environ.get("EMOVOX_DATA", DEFAULT_DATA)), help="RAVDESS")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default %(default)s)")
    p.add_argument("--requests", type=int, default=400, help="timed requests in all (default %(default)s)")
    p.add_argument("--seconds", type=float, default=3.0, help="clip length (default %(default)s)")
    p.add_argument("--workers", type=int, default=2, help="server prediction threads (default %(default)s)")
    p.add_argument("--stream-clips", type=int, default=4,
                   help="clips streamed over the WebSocket (default %(default)s)")
    p.add_argument("--max-seconds", type=float, default=120.0, help="stop the load after this long")
    args = p.parse_args()
    if not (args.data / "Actor_05").is_dir():
        sys.exit(f"bench/server.py: RAVDESS not found at {args.data} (use --data)")
    with tempfile.TemporaryDirectory(prefix="emovox-bench-") as tmp:
        model = args.model or train_tiny(args.data, Path(tmp))
        clips = make_clips(args.data, args.seconds)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "emovox", "serve", "--model", str(model), "--port", str(port),
                                   "--workers", str(args.workers),
                                   "--log-level", "warning"], env=os.environ | {"EMOVOX_HOME": tmp})
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, server)
            cpu_before = cpu_seconds(server.pid)
            load = asyncio.run(run_load(url, clips, args.clients, args.requests, args.max_seconds))
            if cpu_before is not None:  # includes the warm-up round of `clients` requests
                load["server_cpu_ms_per_request"] = round(
                    1000 * (cpu_seconds(server.pid) - cpu_before) / (load["requests"] + args.clients), 1)
            stream = asyncio.run(run_stream(url.replace("http", "ws"), args.data, args.stream_clips))
        finally:
            server.terminate()
            server.wait(10)
    result = {"bench": "server", "cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2),
              "clients": args.clients, "clip_seconds": args.seconds,
              "workers": args.workers, **load, **stream}
    print(json.dumps(result))
    print_table(result)
    return 0 if load["errors"] == 0 else 1


def train_tiny(data: Path, tmp: Path) -> Path:
    """A seed-mlp bundle on actors 01-04, four emotions (the test suite's model)."""
    from emovox.features import get_feature_set
    from emovox.pipeline import fit_bundle, load_dataset

    dataset = load_dataset(data, ("calm", "happy", "fearful", "disgust"), get_feature_set("seed180"),
                           actors=["01", "02", "03", "04"], progress=False)
    return fit_bundle(dataset, "seed-mlp", tmp / "tiny.emovox")


def make_clips(data: Path, seconds: float, count: int = 40) -> list[bytes]:
    """``count`` WAV clips of ``seconds``, from the middle of files of actors 05-24."""
    files = sorted(data.glob("Actor_*/03-01-*.flac"))
    files = [f for f in files if int(f.parent.name[-2:]) >= 5][:: max(1, len(files) // count)][:count]
    clips = []
    for path in files:
        samples, rate = sf.read(str(path), dtype="float32")
        start = max(0, (len(samples) - int(seconds * rate)) // 2)
        buffer = io.BytesIO()
        sf.write(buffer, samples[start:start + int(seconds * rate)], rate, format="WAV", subtype="PCM_16")
        clips.append(buffer.getvalue())
    return clips


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux), or ``None``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def wait_ready(url: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"bench/server.py: the server exited with {server.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    sys.exit("bench/server.py: the server did not start")


async def run_load(url: str, clips: list[bytes], clients: int, total: int, max_seconds: float) -> dict:
    """``clients`` loops posting clips until ``total`` answers; latency of each, in ms."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    issued = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        async def post(i: int) -> tuple[int, float]:
            began = time.perf_counter()
            response = await client.post("/v1/predict", content=clips[i % len(clips)],
                                         headers={"Content-Type": "audio/wav"})
            return response.status_code, 1000 * (time.perf_counter() - began)

        await asyncio.gather(*(post(i) for i in range(clients)))  # warm-up, not counted
        deadline = time.monotonic() + max_seconds

        async def worker() -> None:
            nonlocal issued
            while issued < total and time.monotonic() < deadline:
                issued += 1
                status, ms = await post(issued)
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(ms)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - began
    ms = np.array(latencies)
    return {"requests": len(latencies), "errors": sum(n for s, n in statuses.items() if s != 200),
            "statuses": {str(s): n for s, n in sorted(statuses.items())},
            "throughput_rps": round(len(latencies) / wall, 1), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "max_ms": round(float(ms.max()), 1)}


async def run_stream(url: str, data: Path, count: int) -> dict:
    """Stream ``count`` clips in real time over one WebSocket; time each segment event."""
    import websockets

    rate, block = 48000, 4800
    parts = []
    for path in sorted(data.glob("Actor_1*/03-01-*-01-01-01-*.flac"))[:count]:
        samples, _ = sf.read(str(path), dtype="float32")
        parts += [samples, np.zeros(rate, np.float32)]
    pcm = (np.clip(np.concatenate(parts), -1, 1) * 32767).astype("<i2")
    server_ms, client_ms, sent_at = [], [], [0.0]
    async with websockets.connect(url + "/v1/stream") as ws:
        await ws.send(json.dumps({"rate": rate, "format": "s16"}))
        await ws.recv()

        async def receive() -> None:
            async for message in ws:
                event = json.loads(message)
                if event["type"] == "segment":
                    client_ms.append(1000 * (time.perf_counter() - sent_at[0]))
                    server_ms.append(event["server_ms"])

        receiver = asyncio.create_task(receive())
        t0 = time.perf_counter()
        for i, start in enumerate(range(0, len(pcm), block)):
            sent_at[0] = time.perf_counter()
            await ws.send(pcm[start:start + block].tobytes())
            await asyncio.sleep(max(0.0, t0 + (i + 1) * block / rate - time.perf_counter()))
        await ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(receiver, 10)
    return {"stream_segments": len(server_ms), "segment_server_ms_max": round(max(server_ms, default=0), 1),
            "segment_client_ms_max": round(max(client_ms, default=0), 1),
            "segment_client_ms_mean": round(float(np.mean(client_ms)) if client_ms else 0, 1)}


def print_table(r: dict) -> None:
    rows = [("clients x clip", f"{r['clients']} x {r['clip_seconds']:g} s WAV"), ("requests", r["requests"]),
            ("errors", r["errors"]), ("throughput", f"{r['throughput_rps']} req/s"),
            ("latency p50 / p95 / p99", f"{r['p50_ms']} / {r['p95_ms']} / {r['p99_ms']} ms"),
            ("server CPU per request", f"{r.get('server_cpu_ms_per_request', '?')} ms"),
            ("machine load (1 min, during the run)", r["load_avg_1min"]),
            ("stream segments", r["stream_segments"]),
            ("segment event, server (max)", f"{r['segment_server_ms_max']} ms"),
            ("segment event, client (mean / max)", f"{r['segment_client_ms_mean']} / {r['segment_client_ms_max']} ms")]
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |\n| {'-' * width} | --- |")
    for key, value in rows:
        print(f"| {key.ljust(width)} | {value} |")


if __name__ == "__main__":
    sys.exit(main())
