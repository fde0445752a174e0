"""Peak memory under hostile or huge inputs: each case runs emovox in its own process and reads its peak RSS.

Cases (target: at most 1 GB each, whatever the input):

- ``predict-1h``: `emovox predict --segments` on a 1-hour 48 kHz FLAC (the seed's model, 4 emotions);
- ``predict-whole-1h``: `emovox predict --whole` on the same file (refused as too long for one label, without
  decoding it whole);
- ``header-2gib``: `emovox predict` on a WAV whose header claims 2 GiB over 320 KB of real data;
- ``upload-192k``: `emovox serve`, then a 594 s FLAC at 192 kHz (under the 600 s limit) posted to /v1/predict;
  the server's VmHWM before and after;
- ``zip-bomb``: `emovox info --model` on a 2 MB bundle whose 4 members claim 500 MB each.

Run::

    .venv/bin/python bench/limits.py --model build/seed-mlp.emovox       # about 3 minutes
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

EMOVOX = [sys.executable, "-m", "emovox"]
ENV = os.environ | {"PYTHONPATH": str(ROOT / "src")}
MEASURE = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
           "stderr=subprocess.PIPE).returncode; print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak_of(args: list[str]) -> tuple[int, float]:
    """Run ``emovox ARGS`` in a fresh process; its exit code and peak resident memory, MB."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *EMOVOX, *args], capture_output=True, text=True, env=ENV)
    code, kb = out.stdout.split()
    return int(code), int(kb) / 1024


def vm_hwm_mb(pid: int) -> float:
    """A running process's peak resident memory, MB (``VmHWM`` in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def lying_wav(path: Path) -> None:
    buffer = io.BytesIO()
    t = np.arange(160000) / 16000
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, format="WAV", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    data[40:44] = struct.pack("<I", 2 ** 31 - 1)
    data[4:8] = struct.pack("<I", 2 ** 31 + 35)
    path.write_bytes(bytes(data))


def zip_bomb(path: Path) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in ("manifest.json", "model.onnx", "SHA256SUMS", "assets/a.onnx"):
            with archive.open(name, "w", force_zip64=True) as member:
                block = bytes(1 << 20)
                for _ in range(500):
                    member.write(block)


def upload_case(model: str, folder: Path) -> dict:
    import httpx

    flac = folder / "long-192k.flac"
    rate = 192000
    with sf.SoundFile(str(flac), "w", samplerate=rate, channels=1, format="FLAC", subtype="PCM_16") as sink:
        for _ in range(594):
            sink.write((1e-3 * np.sin(2 * np.pi * 50 * np.arange(rate) / rate)).astype(np.float32))  # compresses well
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*EMOVOX, "serve", "--model", model, "--port", str(port), "--workers", "1",
                               "--log-level", "warning"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        before = vm_hwm_mb(server.pid)
        answer = httpx.post(url + "/v1/predict?name=long.flac", content=flac.read_bytes(),
                            headers={"Content-Type": "audio/flac"}, timeout=600)
        after = vm_hwm_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"case": "upload-192k", "bytes": flac.stat().st_size, "status": answer.status_code,
            "answer": answer.text[:120], "server_peak_mb_before": round(before, 1),
            "server_peak_mb_after": round(after, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="bundle to run")
    parser.add_argument("--data", default=None, help="RAVDESS folder")
    args = parser.parse_args()
    from emovox.corpora import default_data_dir
    from testkit.long_audio import build_long_recording

    results = []
    with tempfile.TemporaryDirectory(prefix="emovox-limits-") as tmp:
        folder = Path(tmp)
        long = folder / "long.flac"
        build_long_recording(default_data_dir(args.data), long, minutes=60, seed=0)
        for case, extra in (("predict-1h", ["--segments"]), ("predict-whole-1h", ["--whole"])):
            code, peak = peak_of(["predict", str(long), "--model", args.model, "--format", "csv",
                                  "--output", str(folder / f"{case}.csv"), *extra])
            results.append({"case": case, "input_mb": round(long.stat().st_size / 1e6, 1), "exit": code,
                            "peak_mb": round(peak, 1)})
        liar = folder / "liar.wav"
        lying_wav(liar)
        code, peak = peak_of(["predict", str(liar), "--model", args.model, "--format", "csv"])
        results.append({"case": "header-2gib", "exit": code, "peak_mb": round(peak, 1)})
        bomb = folder / "bomb.emovox"
        zip_bomb(bomb)
        code, peak = peak_of(["info", "--model", str(bomb)])
        results.append({"case": "zip-bomb", "input_mb": round(bomb.stat().st_size / 1e6, 1), "exit": code,
                        "peak_mb": round(peak, 1)})
        results.append(upload_case(args.model, folder))
    for row in results:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
