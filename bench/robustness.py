"""Robustness: the ravdess-si6 test actors' audio degraded, the models unchanged (trained on clean audio).

Run:  .venv/bin/python bench/robustness.py [--model whisper-lr] [--conditions a,b] [--every N] [--jobs N]
      .venv/bin/python bench/robustness.py --presence      # emovox.speech_presence over every clean file

For each of the six ravdess-si6 folds the model is fitted once on the training actors
(8 emotions; clean clips, plus their degraded copies for a recipe that trains on them); then the four test actors' clips are degraded (emovox.augment:
pink and white noise and babble at 20/10/5 dB SNR, a telephone channel, Opus, Vorbis and
MP3 at their lowest bitrates, synthetic reverberation at RT60 0.3/0.5/0.8 s, a quiet far
microphone at -35 dBFS, clipping) and classified. Babble is mixed from EMOVO speech
(--babble, default ../shared/data/emovo; research-only, used here and never shipped).
Every random choice is seeded by the condition and the file name, so runs repeat exactly.
Degraded features are cached under $EMOVOX_CACHE/robustness/, keyed by the feature set.

With --cut-at-clean (a diagnostic, for a feature set that cuts at Silero's speech bounds and for
conditions that keep the clip's length, such as noise and babble), each degraded clip is cut where
the feature set cuts the *clean* clip instead of where it cuts the degraded one: how much of a drop
comes from where the detector cuts a noisy clip rather than from the noise over the speech itself.

Prints one table (UAR mean ± std over folds, the drop from clean, accuracy, ECE per fold with
the ECE a perfectly calibrated model would show on test sets that small, ECE of all folds
together) and writes bench/results/robustness-<model>.json (robustness-<model>-everyN.json
with --every N). The issue's target: a drop of at most 5 points at
10 dB SNR, over the telephone channel and at RT60 0.5 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import zlib
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per process: no spinning on a shared machine
os.environ.setdefault("OMP_NUM_THREADS", "1")
from emovox import augment, corpora
from emovox.audio import from_array, load
from emovox.evaluation.metrics import ece_from_bins
from emovox.evaluation.protocols import make_folds
from emovox.evaluation.runner import fit_with_groups, test_scores
from emovox.labels import EMOTIONS
from emovox.models import get_model_spec
from emovox.paths import atomic_write, cache_dir
from emovox.pipeline import default_feature_set, load_dataset

RATE = 16000
#: Conditions the issue's target speaks of: UAR may drop at most 5 points there.
TARGETS = ("pink noise 10 dB", "white noise 10 dB", "babble 10 dB", "telephone", "reverb RT60 0.5 s")
BABBLE_TALKERS = 4
_STATE: dict = {}


def _babble_voices(folder: Path | None) -> list[np.ndarray]:
    """Two clips of each EMOVO speaker (16 kHz), the pool babble talkers are drawn from."""
    if folder is None or not folder.is_dir():
        return []
    utterances = corpora.open_corpus(folder, "emovo")
    chosen = [u for speaker in sorted({u.speaker for u in utterances})
              for u in [v for v in utterances if v.speaker == speaker][:2]]
    return [load(u.path, rate=RATE).samples for u in chosen]


def _init(feature_set, voices, cut_at_clean: bool = False) -> None:
    _STATE.update(feature_set=feature_set, voices=voices, cut_at_clean=cut_at_clean)


def _at_clean_bounds(clean: np.ndarray, samples: np.ndarray, rate: int, path: str) -> np.ndarray:
    """Features of the degraded ``samples`` cut where the feature set cuts the ``clean`` clip
    (``speech_span``: Silero's speech with ``pad_s`` either side, or the energy trim where Silero finds none)."""
    feature_set = _STATE["feature_set"]
    if rate != RATE or len(samples) != len(clean) or feature_set.rate != RATE:
        raise SystemExit(f"--cut-at-clean needs conditions that keep the clip's rate and length ({path})")
    start, end = feature_set.speech_span(from_array(clean, RATE, name=path))
    return feature_set.embed(from_array(samples[start:end], rate, name=path))


def _degraded_features(task: tuple[str, str]) -> np.ndarray:
    path, condition = task
    rng = np.random.default_rng([zlib.crc32(condition.encode()), zlib.crc32(Path(path).name.encode())])
    clean = load(path, rate=RATE).samples
    voices = _STATE["voices"]
    talkers = [voices[i] for i in rng.choice(len(voices), BABBLE_TALKERS, replace=False)] if voices else []
    samples, rate = augment.degrade(clean, RATE, condition, rng, voices=talkers)
    if _STATE["cut_at_clean"]:
        return _at_clean_bounds(clean, samples, rate, path)
    return _STATE["feature_set"].transform(from_array(samples, rate, name=path))


def degraded(paths: list[str], condition: str, feature_set, voices, jobs: int,
             cut_at_clean: bool = False) -> np.ndarray:
    """Features of every path under ``condition``, from the cache or computed in ``jobs`` processes."""
    digest = hashlib.sha256("\n".join(paths).encode()).hexdigest()[:12]
    slug = "".join(c if c.isalnum() else "-" for c in condition) + ("-cut-at-clean" if cut_at_clean else "")
    cached = cache_dir() / "robustness" / feature_set.key / f"{slug}-{digest}.npy"
    if cached.is_file():
        return np.load(cached)
    tasks = [(p, condition) for p in paths]
    if jobs > 1:
        with get_context("fork").Pool(jobs, _init, (feature_set, voices, cut_at_clean)) as pool:
            rows = pool.map(_degraded_features, tasks, chunksize=8)
    else:
        _init(feature_set, voices, cut_at_clean)
        rows = [_degraded_features(t) for t in tasks]
    features = np.stack(rows).astype(np.float32)
    cached.parent.mkdir(parents=True, exist_ok=True)
    with open(cached.with_suffix(".tmp"), "wb") as handle:
        np.save(handle, features)
    os.replace(cached.with_suffix(".tmp"), cached)
    return features


def presence(data: Path, emovo: Path | None) -> None:
    """emovox.speech_presence.detect over every clean file: all must pass as speech."""
    import soundfile

    from emovox.speech_presence import detect

    rows = []
    for name, folder in (("ravdess", data), ("emovo", emovo)):
        if folder is None or not folder.is_dir():
            continue
        started = time.perf_counter()
        utterances = corpora.open_corpus(folder)
        refused = []
        for u in utterances:
            samples, rate = soundfile.read(str(u.path), dtype="float32")
            reason = detect(samples, rate)
            if reason is not None:
                refused.append((u.path.name, reason))
        seconds = time.perf_counter() - started
        print(f"{name}: {len(utterances) - len(refused)}/{len(utterances)} files pass as speech "
              f"({seconds:.0f} s, {1000 * seconds / len(utterances):.1f} ms per file)", flush=True)
        for file, reason in refused:
            print(f"  refused {file}: {reason}")
        rows.append({"corpus": name, "files": len(utterances), "passed": len(utterances) - len(refused),
                     "refused": refused})
    print(json.dumps({"bench": "speech-presence", "rows": rows}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="RAVDESS folder (default: ../shared/data/ravdess)")
    parser.add_argument("--babble", default=str(ROOT.parent / "shared" / "data" / "emovo"),
                        help="EMOVO folder for babble (default: ../shared/data/emovo)")
    parser.add_argument("--model", default="whisper-lr", help="model name (default whisper-lr)")
    parser.add_argument("--conditions", default=None, help="comma-separated subset (default: all available)")
    parser.add_argument("--every", type=int, default=1, help="test on every N-th clip only (quick runs)")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)), help="processes for features")
    parser.add_argument("--presence", action="store_true", help="check emovox.speech_presence on clean files instead")
    parser.add_argument("--cut-at-clean", action="store_true",
                        help="diagnostic: cut each degraded clip where the feature set cuts the clean clip (see above)")
    args = parser.parse_args()

    data = corpora.default_data_dir(args.data)
    babble = Path(args.babble) if args.babble else None
    if args.presence:
        presence(data, babble)
        return
    conditions = augment.available_conditions()
    if args.conditions:
        wanted = [c.strip() for c in args.conditions.split(",")]
        unknown = [c for c in wanted if c not in conditions]
        if unknown:
            parser.error(f"unknown or unavailable condition(s) {unknown}; choose from {conditions}")
        conditions = wanted
    voices = _babble_voices(babble)
    if not voices:
        conditions = [c for c in conditions if not c.startswith("babble")]
        print(f"no EMOVO at {babble}: babble conditions left out", file=sys.stderr)

    spec = get_model_spec(args.model)
    feature_set = default_feature_set(args.model)
    if args.cut_at_clean and not (feature_set.cuts_at_speech and args.conditions):
        parser.error("--cut-at-clean needs a recipe whose features cut at the speech (whisper-*-vad) and --conditions")
    dataset = load_dataset(data, EMOTIONS, feature_set, progress=False, jobs=args.jobs, augment=spec.augment,
                           babble=spec.babble)
    folds = make_folds("ravdess-si6", dataset.utterances)
    started = time.perf_counter()
    fitted = []
    for fold in folds:
        estimator = spec.build(0)
        fit_with_groups(estimator, *dataset.training_rows(fold.train))  # with augmented copies, if the recipe has them
        fitted.append(estimator)
    print(f"{spec.name}: 6 folds fitted in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    tested = np.arange(0, len(dataset.utterances), args.every)
    paths = [str(dataset.utterances[i].path) for i in tested]

    def score(features: np.ndarray) -> dict:
        runs = []
        for fold, estimator in zip(folds, fitted):
            rows = np.flatnonzero(np.isin(tested, fold.test))
            runs.append(test_scores(estimator, features[rows], dataset.targets[tested[rows]], len(dataset.labels)))
        return {**{m: {"mean": round(100 * float(np.mean([r[m] for r in runs])), 1),
                       "std": round(100 * float(np.std([r[m] for r in runs])), 1)}
                   for m in ("uar", "accuracy", "ece", "ece_floor")},
                "ece_pooled": round(100 * ece_from_bins([r["calibration_bins"] for r in runs]), 1)}

    rows = [{"condition": "clean", **score(dataset.features[tested]), "seconds": 0.0}]
    print(f"{'clean':<26} UAR {rows[0]['uar']['mean']:5.1f} ± {rows[0]['uar']['std']:4.1f}", flush=True)
    for condition in conditions:
        t0 = time.perf_counter()
        result = score(degraded(paths, condition, feature_set, voices, args.jobs, args.cut_at_clean))
        rows.append({"condition": condition, **result, "seconds": round(time.perf_counter() - t0, 1),
                     "drop": round(rows[0]["uar"]["mean"] - result["uar"]["mean"], 1)})
        r = rows[-1]
        print(f"{condition:<26} UAR {r['uar']['mean']:5.1f} ± {r['uar']['std']:4.1f}  drop {r['drop']:5.1f}  "
              f"ECE {r['ece']['mean']:4.1f} (all folds {r['ece_pooled']:4.1f})  ({r['seconds']:.0f} s)", flush=True)

    trained = (f"models trained on the clean clips and {spec.augment} degraded copies of each (emovox.augment's "
               "training policy, not these conditions)" if spec.augment else "models trained on clean audio")
    print(f"\n{spec.name} ({feature_set.name} v{feature_set.version}), ravdess-si6, 8 emotions, "
          f"{len(tested)} test clips, {trained}\n")
    print("| condition | UAR % | drop (points) | accuracy % | ECE % per fold | calibrated model's ECE % per fold "
          "| ECE % all folds | target (drop <= 5) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        target = "" if r["condition"] not in TARGETS else ("met" if r["drop"] <= 5 else "**not met**")
        print(f"| {r['condition']} | {r['uar']['mean']:.1f} ± {r['uar']['std']:.1f} | {r.get('drop', 0.0):.1f} | "
              f"{r['accuracy']['mean']:.1f} ± {r['accuracy']['std']:.1f} | {r['ece']['mean']:.1f} | "
              f"{r['ece_floor']['mean']:.1f} | {r['ece_pooled']:.1f} | "
              f"{target} |")
    out = {"bench": "robustness", "model": spec.name, "features": feature_set.describe(), "every": args.every,
           "clips": len(tested), "rows": rows}
    if not args.conditions:  # a full table: bench/results/robustness-<model>.json (-everyN for a subset of clips)
        name = f"robustness-{spec.name}.json" if args.every == 1 else f"robustness-{spec.name}-every{args.every}.json"
        atomic_write(ROOT / "bench" / "results" / name, json.dumps(out, indent=2).encode())
    print(json.dumps({"bench": "robustness", "rows": [{k: r[k] for k in ("condition", "uar")} for r in rows]}))


if __name__ == "__main__":
    main()
