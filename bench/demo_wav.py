"""Write ``demo.wav``, the stream of the README's terminal recording: three RAVDESS clips joined by 1 s silences.

Run:  .venv/bin/python bench/demo_wav.py [OUT] [--data DIR]
"""

from __future__ import annotations

import argparse

import soundfile as sf

from emovox.audio import load
from emovox.corpora import default_data_dir
import sys as _sys  # noqa: E402
from pathlib import Path as _Path  # noqa: E402
_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # testkit/ lives at the repository root
from testkit.reference import join_clips

#: actor 05 happy, actor 06 calm, actor 07 disgust
CLIPS = [("Actor_05/03-01-03-01-01-01-05.flac", "happy"), ("Actor_06/03-01-02-02-02-01-06.flac", "calm"),
         ("Actor_07/03-01-07-01-01-02-07.flac", "disgust")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="demo.wav")
    parser.add_argument("--data", default=None, help="RAVDESS folder (default: as emovox)")
    args = parser.parse_args()
    data = default_data_dir(args.data)
    samples, rate, placed = join_clips([(load(data / path), label) for path, label in CLIPS], gap=1.0)
    sf.write(args.out, samples, rate, subtype="PCM_16")
    for p in placed:
        print(f"{p.label:8s} speech {p.speech_start:.2f}-{p.speech_end:.2f} s")


if __name__ == "__main__":
    main()
