"""Feature-extraction speed: the seed's implementation vs emovox, cold and warm, vs the floor.

Run:  .venv/bin/python bench/features.py [--data DIR] [--limit N] [--jobs N]

All timings come from one run on the same files. Rows:
- seed:          the seed's code (below, verbatim in substance): per file, soundfile read as
                 float32, then librosa mfcc, chroma_stft(S=|stft|) and melspectrogram, each with
                 its own STFT; one process. The seed crashes on stereo files, so here (only) they
                 are downmixed first.
- emovox cold:   emovox.features.extract_files, empty cache, --jobs processes (default all cores).
- emovox 1 job:  the same in one process, to separate algorithmic from parallel gains.
- emovox warm:   the same call again: everything from the cache.
- floor:         decode every file and compute one STFT of it (n_fft 2048, hop 512), one process.
Prints a table and one JSON line; the max relative difference compares emovox with the seed per
feature, relative to that feature's largest magnitude over the files.

A second table does the same for the default model's features (whisper-base) on the first
--default-limit files: a plain per-file version (librosa resampling, trimming and log-mel,
then the encoder as a float64 numpy forward pass, testkit.whisper_reference; one
process) against emovox cold (int8 ONNX encoder, worker processes) and warm.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from emovox.audio import load  # noqa: E402
from emovox.corpora import default_data_dir, open_corpus  # noqa: E402
from emovox.features import extract_files, get_feature_set  # noqa: E402
from emovox.features.seed180 import stft_magnitude  # noqa: E402
from emovox.features.whisper import log_mel  # noqa: E402
from emovox.features.whisper_onnx import whisper_base_weights  # noqa: E402
import sys as _sys  # noqa: E402
from pathlib import Path as _Path  # noqa: E402
_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # testkit/ lives at the repository root
from testkit.whisper_reference import numpy_encoder  # noqa: E402
from emovox.kernels import librosa  # noqa: E402


def seed_extract_feature(file_name: str) -> np.ndarray:
    """The seed's extract_feature(file, mfcc=True, chroma=True, mel=True)."""
    with soundfile.SoundFile(file_name) as sound_file:
        X = sound_file.read(dtype="float32")
        sample_rate = sound_file.samplerate
    if X.ndim > 1:  # the seed crashes here; downmixed so that every file can be compared
        X = X.mean(axis=1)
    stft = np.abs(librosa.stft(X))
    result = np.array([])
    mfccs = np.mean(librosa.feature.mfcc(y=X, sr=sample_rate, n_mfcc=40).T, axis=0)
    result = np.hstack((result, mfccs))
    chroma = np.mean(librosa.feature.chroma_stft(S=stft, sr=sample_rate).T, axis=0)
    result = np.hstack((result, chroma))
    mel = np.mean(librosa.feature.melspectrogram(y=X, sr=sample_rate).T, axis=0)
    return np.hstack((result, mel))


def plain_whisper(paths: list[str]) -> np.ndarray:
    """The default model's features, file by file, with librosa and a numpy encoder."""
    weights = whisper_base_weights()
    rows = []
    for path in paths:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
        y = librosa.resample(samples.mean(axis=1), orig_sr=rate, target_sr=16000, res_type="soxr_hq")
        y, _ = librosa.effects.trim(y, top_db=35.0, frame_length=742, hop_length=185)
        rows.append(numpy_encoder(weights, log_mel(y).astype(np.float64)))
    return np.stack(rows)


def floor(paths: list[str]) -> None:
    for path in paths:
        samples, _ = soundfile.read(path, dtype="float32", always_2d=True)
        stft_magnitude(samples.mean(axis=1))


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="RAVDESS folder (default: ../shared/data/ravdess)")
    parser.add_argument("--limit", type=int, default=None, help="use the first N files only")
    parser.add_argument("--jobs", type=int, default=None, help="emovox worker processes (default: all cores)")
    parser.add_argument("--default-limit", type=int, default=200,
                        help="files for the default model's features table (default 200; 0 skips it)")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()

    paths = [str(u.path) for u in open_corpus(default_data_dir(args.data))][: args.limit]
    audio_seconds = sum(soundfile.info(p).duration for p in paths)
    fs = get_feature_set("seed180")
    seed_extract_feature(paths[0]), floor(paths[:1])  # warm imports and numba caches for every row alike

    rows = {}
    rows["seed"], seed_values = timed(lambda: np.stack([seed_extract_feature(p) for p in paths]))
    with tempfile.TemporaryDirectory() as cache:
        rows["emovox cold"], cold = timed(lambda: extract_files(paths, fs, jobs=args.jobs, cache_root=cache,
                                                                 progress=False))
        rows["emovox warm"], warm = timed(lambda: extract_files(paths, fs, jobs=args.jobs, cache_root=cache,
                                                                 progress=False))
    rows["emovox 1 job"], _ = timed(lambda: extract_files(paths, fs, jobs=1, use_cache=False, progress=False))
    rows["floor"], _ = timed(lambda: floor(paths))
    assert len(cold.ok) == len(paths) and warm.cached == len(paths), (cold.errors, warm.cached)
    scale = np.abs(seed_values).max(axis=0)
    max_rel = float(np.max(np.abs(cold.features - seed_values) / np.where(scale > 0, scale, 1)))
    peak_mb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024

    print(f"{len(paths)} files, {audio_seconds:.0f} s of audio; seed180; jobs={args.jobs or 'all cores'}")
    print(f"{'run':<14}{'seconds':>9}{'files/s':>10}{'RTF':>10}{'vs seed':>9}{'vs floor':>10}")
    for name, seconds in rows.items():
        print(f"{name:<14}{seconds:9.2f}{len(paths) / seconds:10.1f}{seconds / audio_seconds:10.5f}"
              f"{rows['seed'] / seconds:8.1f}x{seconds / rows['floor']:9.2f}x")
    print(f"max relative difference emovox vs seed: {max_rel:.2e}; peak RSS of one process: {peak_mb:.0f} MB")
    result = {"bench": "features", "files": len(paths), "audio_seconds": round(audio_seconds, 1),
              "seconds": {k: round(v, 3) for k, v in rows.items()},
              "speedup_cold_vs_seed": round(rows["seed"] / rows["emovox cold"], 2),
              "cold_vs_floor": round(rows["emovox cold"] / rows["floor"], 2),
              "max_relative_difference": max_rel, "peak_rss_mb": round(peak_mb)}
    if args.default_limit:
        result["default_features"] = default_table(paths[: args.default_limit], args.jobs)
    print(json.dumps(result))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))


def default_table(paths: list[str], jobs: int | None) -> dict:
    """Time the default model's feature set: plain per-file vs emovox cold and warm."""
    fs = get_feature_set("whisper-base")
    fs.transform(load(paths[0]))  # build (or read) the encoder once, outside the timings
    rows = {}
    rows["plain"], plain = timed(lambda: plain_whisper(paths))
    with tempfile.TemporaryDirectory() as cache:
        rows["emovox cold"], cold = timed(lambda: extract_files(paths, fs, jobs=jobs, cache_root=cache, progress=False))
        rows["emovox warm"], _ = timed(lambda: extract_files(paths, fs, jobs=jobs, cache_root=cache, progress=False))
    correlation = float(np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(plain, cold.features)]))
    print(f"\nwhisper-base, {len(paths)} files")
    print(f"{'run':<14}{'seconds':>9}{'files/s':>10}{'vs plain':>10}")
    for name, seconds in rows.items():
        print(f"{name:<14}{seconds:9.2f}{len(paths) / seconds:10.1f}{rows['plain'] / seconds:9.1f}x")
    print(f"mean correlation plain (float64) vs emovox (int8 weights) per file: {correlation:.4f}")
    return {"files": len(paths), "seconds": {k: round(v, 3) for k, v in rows.items()},
            "speedup_cold_vs_plain": round(rows["plain"] / rows["emovox cold"], 2), "correlation": round(correlation, 4)}


if __name__ == "__main__":
    main()
