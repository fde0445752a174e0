"""Prediction latency of one clip, features included, on one core; and the bundle's size.

Run:  taskset -c 0 .venv/bin/python bench/predict.py --model build/emovox-default.emovox [--clips 60] [--windows]

Cuts 3-second clips from the middle of RAVDESS files (48 kHz), and times
``model.predict(samples, rate=48000)`` (resampling, trimming, features, classifier) for each,
after one warm-up call; prints p50/p95/max in ms and one JSON line.

With --windows, also a recording that is mostly not speech: 6 RAVDESS sentences, then 100 s of
noise at -40 dBFS, in 3 s windows every second (``segment="windows"``). Windows without speech get
no row; emovox checks for speech before computing features, and the reference, measured in the same
run (three rounds each, alternating), does what emovox did before: features first, then the check.
Prints the median time of each and their ratio, after checking that both give the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import emovox  # noqa: E402
from emovox.corpora import default_data_dir, open_corpus  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="bundle to time")
    parser.add_argument("--data", default=None, help="RAVDESS folder")
    parser.add_argument("--clips", type=int, default=60, help="how many clips (default 60)")
    parser.add_argument("--windows", action="store_true",
                        help="also time 3 s windows over a recording that is mostly noise (see above)")
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    model = emovox.load_model(args.model)
    utterances = open_corpus(default_data_dir(args.data))[:: max(1, 1440 // args.clips)][: args.clips]
    clips = []
    for u in utterances:
        samples, rate = soundfile.read(str(u.path), dtype="float32", always_2d=True)
        middle = len(samples) // 2
        clips.append(samples[max(0, middle - 3 * rate // 2): middle + 3 * rate // 2].mean(axis=1))
    times = []
    with threadpool_limits(1):
        model.predict(clips[0], rate=48000)
        for clip in clips:
            started = time.perf_counter()
            model.predict(clip, rate=48000)
            times.append(1000 * (time.perf_counter() - started))
    p50, p95 = np.percentile(times, [50, 95])
    size_mb = os.path.getsize(args.model) / 2**20
    cores = len(os.sched_getaffinity(0))
    print(f"{args.model}: {len(clips)} clips of 3.0 s on {cores} core(s): p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
          f"max {max(times):.1f} ms; bundle {size_mb:.1f} MB")
    print(json.dumps({"bench": "predict", "model": args.model, "clips": len(clips), "cores": cores,
                      "p50_ms": round(p50, 2), "p95_ms": round(p95, 2), "max_ms": round(max(times), 2),
                      "bundle_mb": round(size_mb, 2)}))
    if args.windows:
        with threadpool_limits(1):
            windows_without_speech(model, utterances[:6])


class FeaturesFirst(emovox.Recognizer):
    """The reference: the model as emovox ran it before, features computed before the speech check."""

    def __init__(self, model: emovox.Recognizer) -> None:
        self.__dict__.update(model.__dict__)

    def probabilities(self, samples, rate, *, name="<array>", check_speech=False):
        from emovox import audio as audio_io

        audio = audio_io.from_array(samples, rate, name=name, resample_to=self.rate)
        features = self.feature_set.transform(audio)
        if check_speech:
            self._check_speech(audio.samples, audio.rate, name)
        return self.predict_proba(features[None, :])[0]


def windows_without_speech(model: emovox.Recognizer, utterances) -> None:
    rate = 48000
    speech = [soundfile.read(str(u.path), dtype="float32", always_2d=True)[0].mean(axis=1) for u in utterances]
    noise = 0.01 * np.random.default_rng(0).standard_normal(100 * rate).astype(np.float32)
    recording = np.concatenate([*speech, noise])
    reference = FeaturesFirst(model)
    seconds: dict = {"emovox": [], "reference": []}
    rows = {}
    for _ in range(3):
        for name, recognizer in (("emovox", model), ("reference", reference)):
            started = time.perf_counter()
            rows[name] = recognizer.process_signal(recording, rate, segment="windows", window_s=3.0, hop_s=1.0)
            seconds[name].append(time.perf_counter() - started)
    assert [r.to_record() for r in rows["emovox"]] == [r.to_record() for r in rows["reference"]]
    ours, theirs = (float(np.median(seconds[k])) for k in ("emovox", "reference"))
    total = len(recording) / rate
    print(f"{total:.0f} s recording, {len(rows['emovox'])} windows with speech of {int(total - 2)}: "
          f"speech check first {ours:.2f} s, features first (reference) {theirs:.2f} s, ratio {ours / theirs:.2f}")
    print(json.dumps({"bench": "predict-windows-without-speech", "seconds": round(total, 1),
                      "windows_with_speech": len(rows["emovox"]), "emovox_s": round(ours, 3),
                      "reference_s": round(theirs, 3), "ratio": round(ours / theirs, 3)}))


if __name__ == "__main__":
    main()
