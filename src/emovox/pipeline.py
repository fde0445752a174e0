"""Training as one flow: corpus -> features -> cross-validation -> fit on all -> bundle + report."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import corpora
from .corpora import Utterance
from .errors import DataError
from .evaluation import cross_validate, write_report
from .evaluation.runner import fit_with_groups
from .features import FeatureSet, extract_files, get_feature_set
from .models import get_model_spec
from .models import bundle as bundle_io


@dataclass
class Dataset:
    """Labelled features of a corpus.

    Attributes:
        utterances: the usable recordings, sorted by path.
        features: float32, shape ``(n, dim)``.
        targets: int, shape ``(n,)``, indices into ``labels``.
        labels: the emotions, in emovox's order.
        feature_set: what ``features`` are.
        errors: ``(path, problem)`` for each file left out.
        seconds: extraction wall time; ``cached``: rows read from the cache.
    """

    utterances: list[Utterance]
    features: np.ndarray
    targets: np.ndarray
    labels: tuple[str, ...]
    feature_set: FeatureSet
    errors: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    cached: int = 0

    def summary(self) -> dict:
        return corpora.summary(self.utterances) | {"left_out": len(self.errors)}


def load_dataset(data: str | os.PathLike | None, emotions: Sequence[str], feature_set: FeatureSet, *,
                 kind: str = "auto", actors: Sequence[str] | None = None, jobs: int | None = None,
                 use_cache: bool = True, progress: bool = True) -> Dataset:
    """Read a corpus, keep ``emotions`` (and ``actors``, if given), and extract features.

    Files that cannot be read are listed in ``Dataset.errors`` and left out.
    """
    utterances = corpora.open_corpus(corpora.default_data_dir(data), kind)
    if actors:
        wanted = {a.zfill(2) if a.isdigit() else a for a in actors}
        utterances = [u for u in utterances if u.speaker in wanted]
    utterances = corpora.select(utterances, emotions)
    started = time.perf_counter()
    if not use_cache and hasattr(feature_set, "disk_cache"):
        feature_set.disk_cache = False  # --no-cache: the encoder is not kept in the cache folder either
    extraction = extract_files([u.path for u in utterances], feature_set, jobs=jobs, use_cache=use_cache,
                               progress=progress)
    kept = [utterances[i] for i in extraction.ok]
    if not kept:
        raise DataError("no usable recordings: " + "; ".join(e for _, e in extraction.errors[:3]))
    labels = tuple(e for e in emotions if any(u.label == e for u in kept))
    targets = np.array([labels.index(u.label) for u in kept])
    return Dataset(kept, extraction.features, targets, labels, feature_set, extraction.errors,
                   time.perf_counter() - started, extraction.cached)


def evaluate(dataset: Dataset, model: str, protocols: Sequence[str], *, seeds: Sequence[int] = (0,),
             k: int = 5, progress: bool = True) -> list[dict]:
    """Cross-validate ``model`` on ``dataset`` under each protocol; see :func:`~emovox.evaluation.cross_validate`."""
    spec = get_model_spec(model)
    return [cross_validate(dataset.features, dataset.targets, dataset.utterances, dataset.labels, spec, p,
                           seeds=seeds, k=k, progress=progress) for p in protocols]


def fit_bundle(dataset: Dataset, model: str, out: str | os.PathLike, *, results: Sequence[dict] = (),
               seed: int = 0) -> Path:
    """Fit ``model`` on all of ``dataset`` and save it as a bundle with the evaluation ``results``."""
    spec = get_model_spec(model)
    estimator = spec.build(seed)
    started = time.perf_counter()
    # tuned on held-out speakers when the recipe can use them (the same as in evaluation)
    fit_with_groups(estimator, dataset.features, dataset.targets, [u.speaker for u in dataset.utterances])
    fit_seconds = time.perf_counter() - started
    manifest = {
        "labels": list(dataset.labels),
        "feature_set": dataset.feature_set.describe(),
        "audio": {"rate": training_rate(dataset), "channels": "mix"},
        "model": {"name": model, "summary": spec.summary, "seed": seed,
                  "params": _jsonable(estimator.get_params()),
                  "fitted": {k: float(v) for k in ("C_", "temperature_")
                             if (v := getattr(estimator, k, None)) is not None}},
        "training": dataset.summary() | {"fit_seconds": round(fit_seconds, 3)},
        "metrics": [{"protocol": r["protocol"], **{m: r["summary"][m] for m in r["summary"]},
                     "recall": r["recall"], "n_folds": r["n_folds"], "seeds": r["seeds"]} for r in results],
        "licence_note": "Weights trained on RAVDESS inherit its CC BY-NC-SA 4.0 licence (non-commercial)."
        if "ravdess" in dataset.summary()["corpus"] else None,
    }
    return bundle_io.save(out, bundle_io.to_onnx(estimator, dataset.features.shape[1]), manifest,
                          dataset.feature_set.assets)


def training_rate(dataset: Dataset) -> int:
    """The sample rate, Hz, the model sees its training audio at: the feature set's own when it resamples,
    else the most common rate of the training files (read from their headers)."""
    from collections import Counter

    import soundfile as sf

    from .features import SpeechFeatureSet

    if isinstance(dataset.feature_set, SpeechFeatureSet):
        return int(dataset.feature_set.rate)
    rates = Counter()
    for utterance in dataset.utterances:
        try:
            rates[int(sf.info(str(utterance.path)).samplerate)] += 1
        except (RuntimeError, OSError):
            continue
    if not rates:
        raise DataError("cannot read the sample rate of any training file")
    return rates.most_common(1)[0][0]


def report(results: Sequence[dict], folder: str | os.PathLike, dataset: Dataset) -> list[Path]:
    """Write the evaluation report files into ``folder``."""
    return write_report(results, folder, dataset.summary())


def default_feature_set(model: str, features: str | None = None) -> FeatureSet:
    """``features`` if given, else the feature set ``model`` was designed for."""
    return get_feature_set(features or get_model_spec(model).features)


def _jsonable(params: dict) -> dict:
    out = {}
    for key, value in params.items():
        if isinstance(value, (str, int, float, bool, type(None))):
            out[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float, bool)) for v in value):
            out[key] = list(value)
        else:
            out[key] = type(value).__name__
    return out
