"""Why ``seed180`` keeps librosa's float64 STFT: the chroma's tuning estimate under a float32 FFT.

Run:  .venv/bin/python bench/tuning.py [--data DIR] [--limit N]

For every RAVDESS file, estimates the tuning (as librosa's ``chroma_stft`` does) from the
exact STFT magnitude and from one computed with a float32 FFT (about twice as fast), and
prints on how many files the two differ, and how flat the histogram the tuning is read
from is: the gap between its two highest bins under the float32 magnitude.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.fft
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from emovox.corpora import default_data_dir, open_corpus  # noqa: E402
from emovox.features.seed180 import HOP, N_FFT, _WINDOW, estimate_tuning, stft_magnitude  # noqa: E402


def float32_magnitude(y: np.ndarray) -> np.ndarray:
    """The same STFT magnitude as :func:`stft_magnitude`, with the FFT in float32."""
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, N_FFT // 2), N_FFT)[::HOP]
    return np.abs(scipy.fft.rfft(frames * _WINDOW.astype(np.float32), axis=1)).T


def histogram_gap(magnitude: np.ndarray, rate: int) -> int:
    """Counts of the highest minus the second-highest bin of librosa's tuning histogram."""
    from emovox.kernels import librosa

    pitches, mags = librosa.piptrack(S=magnitude, sr=rate, fmin=150.0, fmax=4000.0, threshold=0.1)
    chosen = pitches[(mags >= np.median(mags[pitches > 0])) & (pitches > 0)]
    residual = np.mod(12 * librosa.hz_to_octs(chosen), 1.0)
    residual[residual >= 0.5] -= 1.0
    counts, _ = np.histogram(residual, np.linspace(-0.5, 0.5, 101))
    top = np.sort(counts)[-2:]
    return int(top[1] - top[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="RAVDESS folder (default: ../shared/data/ravdess)")
    parser.add_argument("--limit", type=int, default=None, help="first N files only")
    args = parser.parse_args()
    paths = [str(u.path) for u in open_corpus(default_data_dir(args.data))][: args.limit]
    changed, gaps = 0, []
    for path in paths:
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
        y = samples.mean(axis=1)
        fast = float32_magnitude(y)
        changed += estimate_tuning(fast, rate) != estimate_tuning(stft_magnitude(y), rate)
        gaps.append(histogram_gap(fast, rate))
    gaps = np.asarray(gaps)
    print(f"{len(paths)} files: the float32 FFT changes the tuning on {changed}; "
          f"histogram gap <= 2 counts on {100 * np.mean(gaps <= 2):.0f}% of files, median gap {np.median(gaps):.0f}")


if __name__ == "__main__":
    main()
