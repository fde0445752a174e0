"""Accuracy of emovox's models: models x feature sets x protocols, on RAVDESS (and EMOVO).

Run:  .venv/bin/python bench/accuracy.py [--data DIR] [--emovo DIR] [--models a,b] [--seeds N]
                                          [--cross-models a,b] [--only within|cross] [--augment N]
                                          [--update-figures]

For each model (with its own feature set) it runs ravdess-si6 on all 8 emotions,
ravdess-si6 on the seed's 4 emotions, and the seed's random split on those 4 emotions
(over --seeds model initialisations); a recipe that trains on degraded copies
(whisper-vad-aug-lr) gets them in every training fold, never in a test. For the models in
--cross-models (default whisper-lr and whisper-vad-aug-lr), when EMOVO is found (--emovo,
default ../shared/data/emovo), it adds the cross-corpus rows over the 7 emotions both corpora
share: trained on all of RAVDESS, tested on all of EMOVO, and the other way round. Each of those models also gets
speaker-adaptive rows (features standardised per speaker from the speaker's own
unlabelled clips, emovox.adaptation): ravdess-si6 with 8 emotions and both
cross-corpus directions. Those rows use the test speakers' audio and are never the headline.

It prints UAR, accuracy, macro-F1 and, for models with probabilities, the expected
calibration error (ECE, 15 bins; all mean ± std) with the mean training time per fit.
Results go to bench/results/accuracy.json (and, with --update-figures, to
src/emovox/models/figures.json, which `emovox models` prints); rows of models not named
in --models are kept from the previous results.

      .venv/bin/python bench/accuracy.py --layer-sweep

is the exploration behind the default model's features: every layer of Whisper-base's
encoder (0 = the convolutions' output, 6 = after the final layer norm), pooled over time
by several statistics (int8 encoder, frames pooled in numpy, cached under
$EMOVOX_CACHE/layer-sweep/), each recipe scored with a standardised logistic regression
at fixed C on ravdess-si6 (8 emotions) and both cross-corpus directions (7 emotions).
Written to bench/results/layer-sweep.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # BLAS threads spin and slow fits down on a shared machine
from emovox.evaluation.cross_corpus import cross_corpus
from emovox.labels import EMOTIONS, SEED_EMOTIONS
from emovox.models import MODELS
from emovox.paths import atomic_write
from emovox.pipeline import default_feature_set, evaluate, load_dataset

PLAN = (("ravdess-si6", EMOTIONS), ("ravdess-si6", SEED_EMOTIONS), ("seed", SEED_EMOTIONS))
#: The emotions RAVDESS and EMOVO share.
SHARED7 = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")


def row(model: str, feature_set, protocol: str, emotions: int, result: dict, started: float, **extra) -> dict:
    s = result["summary"]
    r = {"model": model, "features": feature_set.name, "protocol": protocol, "emotions": emotions, **extra,
         "runs": len(result["runs"]),
         **{m: {"mean": round(s[m]["mean"], 1), "std": round(s[m]["std"], 1)} for m in s},
         "fit_seconds": round(float(np.mean([r["fit_seconds"] for r in result["runs"]])), 2),
         "wall_seconds": round(time.perf_counter() - started, 1),
         "recall": {k: round(v, 1) for k, v in result["recall"].items()},
         "confusion": result["confusion"]}
    ece = f"  ECE {r['ece']['mean']:4.1f}" if "ece" in r else ""
    ece += f" (calibrated model's {r['ece_floor']['mean']:4.1f})" if "ece_floor" in r else ""
    ece += f" (pooled {r['ece_pooled']['mean']:4.1f})" if "ece_pooled" in r else ""
    print(f"{model:<11} {r['features']:<13} {protocol:<28} {emotions} emotions  "
          f"UAR {r['uar']['mean']:5.1f} ± {r['uar']['std']:4.1f}  acc {r['accuracy']['mean']:5.1f} ± "
          f"{r['accuracy']['std']:4.1f}  F1 {r['macro_f1']['mean']:5.1f} ± {r['macro_f1']['std']:4.1f}{ece}  "
          f"fit {r['fit_seconds']:.1f} s", flush=True)
    return r


def within(model: str, data, seeds: int, adaptive: bool, copies: int | None = None) -> list[dict]:
    """The RAVDESS rows of one model (and its speaker-adaptive ravdess-si6 row)."""
    feature_set = default_feature_set(model)
    rows = []
    for protocol, emotions in PLAN:
        dataset = load_dataset(data, emotions, feature_set, progress=False,
                               augment=MODELS[model].augment if copies is None else copies, babble=MODELS[model].babble)
        started = time.perf_counter()
        (result,) = evaluate(dataset, model, [protocol], seeds=list(range(seeds)) if protocol == "seed" else [0],
                             progress=False)
        rows.append(row(model, feature_set, protocol, len(emotions), result, started))
        if adaptive and protocol == "ravdess-si6" and emotions == EMOTIONS:
            started = time.perf_counter()
            (result,) = evaluate(dataset.speaker_adapted(), model, [protocol], progress=False)
            rows.append(row(model, feature_set, f"{protocol} (speaker-adaptive)", len(emotions), result, started,
                            adaptation="speaker"))
    return rows


def across(model: str, data, emovo: Path, copies: int | None = None) -> list[dict]:
    """Cross-corpus rows: RAVDESS -> EMOVO and EMOVO -> RAVDESS over the 7 shared emotions, plain and speaker-adaptive."""
    feature_set = default_feature_set(model)
    if copies is None:
        copies = MODELS[model].augment  # degraded training copies, for a recipe that trains on them
    babble = MODELS[model].babble
    ravdess = load_dataset(data, SHARED7, feature_set, progress=False, augment=copies, babble=babble)
    italian = load_dataset(emovo, SHARED7, feature_set, kind="emovo", progress=False, augment=copies, babble=babble)
    rows = []
    for adaptive in (False, True):
        for train, test in ((ravdess, italian), (italian, ravdess)):
            if adaptive:
                train, test = train.speaker_adapted(), test.speaker_adapted()
            started = time.perf_counter()
            result = cross_corpus(train, test, model)
            name = f"cross-corpus {result['runs'][0]['fold'].replace(' ', '')}"
            rows.append(row(model, feature_set, name + (" (speaker-adaptive)" if adaptive else ""), len(SHARED7),
                            result, started, **({"adaptation": "speaker"} if adaptive else {})))
    return rows


#: The layer sweep's recipes: (name, layers, statistics, C, transform).
SWEEP = [("L2-3 mean+std (whisper-base v1)", (2, 3), ("mean", "std"), c, None) for c in (0.003, 0.01, 0.03)] + [
    *[(f"L{i} mean+std", (i,), ("mean", "std"), 0.01, None) for i in range(7)],
    ("L1-3 mean+std", (1, 2, 3), ("mean", "std"), 0.01, None),
    ("L2-4 mean+std", (2, 3, 4), ("mean", "std"), 0.01, None),
    ("L1-6 mean+std", (1, 2, 3, 4, 5, 6), ("mean", "std"), 0.01, None),
    ("L2-3 mean", (2, 3), ("mean",), 0.01, None),
    ("L2-3 mean+std", (2, 3), ("mean", "std"), 0.001, None),
    ("L2-3 mean+std+mean|delta|", (2, 3), ("mean", "std", "dabs"), 0.01, None),
    ("L2-3 mean+std+p10+p90", (2, 3), ("mean", "std", "p10", "p90"), 0.01, None),
    ("L2-3 mean+std, per-utterance z-score", (2, 3), ("mean", "std"), 0.01, "vector-z"),
    ("L2-3 mean+std + stats (505)", (2, 3), ("mean", "std"), 0.01, "stats"),
    ("stats (505)", (), (), 0.01, "stats"),
    ("L2-3 mean+std, speaker-adaptive", (2, 3), ("mean", "std"), 0.01, "speaker"),
]
SWEEP_STATS = ("mean", "std", "dabs", "p10", "p90")


def _sweep_pool(path: str) -> np.ndarray:
    """(7 layers, 5 statistics, 512) for one file: every hidden state of the int8 encoder, pooled."""
    from emovox.audio import load
    from emovox.features.whisper import log_mel

    session, feature_set = _SWEEP["session"], _SWEEP["feature_set"]
    mel = log_mel(feature_set.speech(load(path)).samples)
    pooled = []
    for (h,) in session.run(None, {"log_mel": mel[None]}):
        delta = np.abs(np.diff(h, axis=0)).mean(axis=0) if len(h) > 1 else np.zeros(h.shape[1], np.float32)
        pooled.append(np.stack([h.mean(axis=0), h.std(axis=0), delta, *np.percentile(h, [10, 90], axis=0)]))
    return np.stack(pooled).astype(np.float32)


_SWEEP: dict = {}


def _sweep_init(blob: bytes) -> None:
    import onnxruntime as ort

    from emovox.features.whisper import WhisperBase

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    _SWEEP.update(session=ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"]),
                  feature_set=WhisperBase())


def layer_sweep(data, emovo: Path) -> None:
    """Score the :data:`SWEEP` recipes; see the module's description."""
    from multiprocessing import get_context

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from emovox import corpora
    from emovox.adaptation import speaker_normalise
    from emovox.evaluation.protocols import RAVDESS_SI6
    from emovox.features import extract_files, get_feature_set
    from emovox.features.whisper_onnx import encoder_onnx, whisper_base_weights
    from emovox.paths import cache_dir

    blob = encoder_onnx(whisper_base_weights(), n_layers=6, pooled_layers=tuple(range(7)), frames=True)
    corpus = {}
    for name, folder, kind in (("ravdess", corpora.default_data_dir(data), "ravdess"), ("emovo", emovo, "emovo")):
        utterances = corpora.open_corpus(folder, kind)
        cached = cache_dir() / "layer-sweep" / f"{name}-{len(utterances)}-v1.npz"
        if not cached.is_file():
            started = time.perf_counter()
            with get_context("fork").Pool(len(os.sched_getaffinity(0)), _sweep_init, (blob,)) as pool:
                pooled = np.stack(pool.map(_sweep_pool, [str(u.path) for u in utterances], chunksize=8))
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cached, pooled=pooled)
            print(f"{name}: every layer of {len(utterances)} files in {time.perf_counter() - started:.0f} s",
                  file=sys.stderr, flush=True)
        stats = extract_files([u.path for u in utterances], get_feature_set("stats"), progress=False).features
        corpus[name] = {"pooled": np.load(cached)["pooled"], "stats": stats,
                        "labels": np.array([u.label for u in utterances]),
                        "speakers": np.array([u.speaker for u in utterances])}

    def recipe(d: dict, layers, statistics, transform) -> np.ndarray:
        x = d["pooled"][:, list(layers)][:, :, [SWEEP_STATS.index(s) for s in statistics]].reshape(len(d["labels"]), -1)
        if transform == "vector-z":
            x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
        elif transform == "stats":
            x = np.hstack([x, d["stats"]])
        elif transform == "speaker":
            x = speaker_normalise(x, d["speakers"])
        return x

    def fit_score(x_train, y_train, x_test, y_test, C) -> float:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000)).fit(x_train, y_train)
        return 100 * balanced_accuracy_score(y_test, model.predict(x_test))

    r, e = corpus["ravdess"], corpus["emovo"]
    rows = []
    for name, layers, statistics, C, transform in SWEEP:
        started = time.perf_counter()
        xr, xe = recipe(r, layers, statistics, transform), recipe(e, layers, statistics, transform)
        folds = [fit_score(xr[~test], r["labels"][~test], xr[test], r["labels"][test], C)
                 for test in (np.isin(r["speakers"], actors) for actors in RAVDESS_SI6)]
        kr, ke = np.isin(r["labels"], SHARED7), np.isin(e["labels"], SHARED7)
        to_emovo = fit_score(xr[kr], r["labels"][kr], xe[ke], e["labels"][ke], C)
        to_ravdess = fit_score(xe[ke], e["labels"][ke], xr[kr], r["labels"][kr], C)
        rows.append({"recipe": name, "C": C, "dim": int(xr.shape[1]),
                     "si6_uar": {"mean": round(float(np.mean(folds)), 1), "std": round(float(np.std(folds)), 1)},
                     "ravdess_to_emovo_uar": round(to_emovo, 1), "emovo_to_ravdess_uar": round(to_ravdess, 1)})
        print(f"{name:<40} C={C:<6} si6 {np.mean(folds):5.1f} ± {np.std(folds):4.1f}  R->E {to_emovo:5.1f}  "
              f"E->R {to_ravdess:5.1f}  dim {xr.shape[1]}  ({time.perf_counter() - started:.0f} s)", flush=True)
    atomic_write(ROOT / "bench" / "results" / "layer-sweep.json",
                 json.dumps({"bench": "layer-sweep", "rows": rows}, indent=2).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="RAVDESS folder (default: ../shared/data/ravdess)")
    parser.add_argument("--models", default="seed-mlp,stats-lr,whisper-lr,whisper-vad-aug-lr",
                        help="comma-separated model names")
    parser.add_argument("--seeds", type=int, default=3, help="model seeds for the seed protocol (default 3)")
    parser.add_argument("--emovo", default=str(ROOT.parent / "shared" / "data" / "emovo"),
                        help="EMOVO folder for the cross-corpus rows (default: ../shared/data/emovo; '' to skip)")
    parser.add_argument("--cross-models", default="whisper-lr,whisper-vad-aug-lr",
                        help="models that also get cross-corpus and speaker-adaptive rows")
    parser.add_argument("--only", choices=("within", "cross"), default=None,
                        help="run only the RAVDESS rows or only the cross-corpus rows")
    parser.add_argument("--augment", type=int, default=None, metavar="N",
                        help="train on N degraded copies per clip instead of the recipe's own (an experiment: "
                             "results are printed, not written)")
    parser.add_argument("--update-figures", action="store_true", help="write src/emovox/models/figures.json")
    parser.add_argument("--layer-sweep", action="store_true", help="score every Whisper-base layer and pooling instead")
    args = parser.parse_args()
    if args.layer_sweep:
        layer_sweep(args.data, Path(args.emovo))
        return

    emovo = Path(args.emovo) if args.emovo else None
    rows = []
    for model in args.models.split(","):
        cross = model in args.cross_models.split(",")
        if args.only != "cross":
            rows += within(model, args.data, args.seeds, adaptive=cross, copies=args.augment)
        if args.only != "within" and cross and emovo is not None and emovo.is_dir():
            rows += across(model, args.data, emovo, copies=args.augment)

    print("\n| model | features | protocol | emotions | UAR % | accuracy % | macro-F1 % | ECE % per fold | "
          "ECE % all folds | fit s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ece = f"{r['ece']['mean']:.1f} ± {r['ece']['std']:.1f}" if "ece" in r else "–"
        pooled = f"{r['ece_pooled']['mean']:.1f}" if "ece_pooled" in r else "–"
        print(f"| {r['model']} | {r['features']} | {r['protocol']} | {r['emotions']} | "
              f"{r['uar']['mean']:.1f} ± {r['uar']['std']:.1f} | {r['accuracy']['mean']:.1f} ± {r['accuracy']['std']:.1f} | "
              f"{r['macro_f1']['mean']:.1f} ± {r['macro_f1']['std']:.1f} | {ece} | {pooled} | {r['fit_seconds']:.1f} |")
    print(json.dumps({"bench": "accuracy", "rows": [{k: r[k] for k in ("model", "protocol", "emotions", "uar")}
                                                      for r in rows]}))
    # rows of models not run this time are kept from the previous results
    if args.augment is not None:  # an experiment, not the recipe: nothing is written
        return
    results_path = ROOT / "bench" / "results" / "accuracy.json"
    ran = {(r["model"], r["protocol"].startswith("cross-corpus")) for r in rows}
    kept = json.loads(results_path.read_text())["rows"] if results_path.is_file() else []
    rows = [r for r in kept if (r["model"], r["protocol"].startswith("cross-corpus")) not in ran] + rows
    rows.sort(key=lambda r: list(MODELS).index(r["model"]) if r["model"] in MODELS else len(MODELS))
    atomic_write(results_path, json.dumps({"bench": "accuracy", "rows": rows}, indent=2).encode())
    if args.update_figures:
        # headline rows only: each clip classified on its own (no speaker-adaptive rows)
        figures = {m: [{k: r[k] for k in ("protocol", "emotions", "uar", "accuracy", "macro_f1", "ece", "ece_pooled")
                        if k in r}
                       for r in rows if r["model"] == m and not r.get("adaptation")]
                   for m in MODELS if any(r["model"] == m for r in rows)}
        atomic_write(ROOT / "src" / "emovox" / "models" / "figures.json", json.dumps(figures, indent=2).encode())


if __name__ == "__main__":
    main()
