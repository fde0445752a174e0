"""Why emovox imports librosa under a lock: processes that fill numba's cache at once break it.

Run:  .venv/bin/python bench/numba_race.py [--trials 6] [--racers 3]   # about 4 minutes

For each trial, with a fresh, empty numba cache (``NUMBA_CACHE_DIR``), starts ``--racers``
processes at once that import librosa's kernel modules, then one more process that uses
the cached kernels (YIN, zero crossings, local maxima). Counts how often that last process
crashes, first with a plain ``import librosa...``, then with ``import emovox.kernels``
(the same modules, under emovox's file lock).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

PLAIN = "import librosa.core.audio, librosa.core.pitch, librosa.util.utils, librosa.effects"
LOCKED = "import emovox.kernels"
USE = ("import numpy as np, librosa\n"
       "y = np.random.default_rng(0).standard_normal(16000).astype(np.float32)\n"
       "librosa.yin(y, fmin=60, fmax=400, sr=16000); librosa.feature.zero_crossing_rate(y); librosa.util.localmax(y)\n")


def crashes(importer: str, trials: int, racers: int) -> int:
    """How many of ``trials`` fresh caches, filled by ``racers`` processes running ``importer``, crash a user."""
    crashed = 0
    for _ in range(trials):
        with tempfile.TemporaryDirectory(prefix="emovox-numba-") as cache:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
            procs = [subprocess.Popen([sys.executable, "-c", importer], env=env) for _ in range(racers)]
            for p in procs:
                p.wait()
            user = subprocess.run([sys.executable, "-c", USE], env=env, stderr=subprocess.DEVNULL)
            crashed += user.returncode != 0
    return crashed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--racers", type=int, default=3)
    args = parser.parse_args()
    for name, importer in (("plain librosa import", PLAIN), ("emovox.kernels", LOCKED)):
        print(f"{name:<22} next process crashed in {crashes(importer, args.trials, args.racers)} of {args.trials} "
              f"trials ({args.racers} processes filling a fresh cache at once)", flush=True)


if __name__ == "__main__":
    main()
