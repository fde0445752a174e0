"""Training as one flow: corpus -> features -> cross-validation -> fit on all -> bundle + report."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import corpora
from .augment import TALKERS_VERSION
from .corpora import Utterance
from .errors import DataError, ParameterError
from .evaluation import cross_validate, write_report
from .evaluation.runner import AugmentedRows, fit_with_groups, training_rows
from .features import FeatureSet, extract_files, get_feature_set
from .features.augmented import BABBLE_SOURCES, AugmentedCopy, babble_voices
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
        augmented: features of degraded copies of the rows, for training only (see
            :func:`load_dataset`'s ``augment``), or ``None``.
        augmentation: how they were made (``{"policy", "copies", "seed"}``), or ``None``.
    """

    utterances: list[Utterance]
    features: np.ndarray
    targets: np.ndarray
    labels: tuple[str, ...]
    feature_set: FeatureSet
    errors: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    cached: int = 0
    augmented: AugmentedRows | None = None
    augmentation: dict | None = None

    def summary(self) -> dict:
        return (corpora.summary(self.utterances) | {"left_out": len(self.errors)}
                | ({"augmentation": self.augmentation | {"rows": len(self.augmented)}} if self.augmented else {}))

    def speaker_adapted(self) -> Dataset:
        """A copy whose features are standardised per speaker (:func:`emovox.adaptation.speaker_normalise`;
        speakers within a corpus): what the speaker-adaptive head trains on, and the speaker-adaptive
        evaluation rows' data. Degraded copies are standardised among themselves: a speaker's copies by the
        statistics of that speaker's copies, as a noisy session would be.

        Raises:
            DataError: a recording has no speaker.
        """
        from .adaptation import speaker_normalise

        keys = [f"{u.corpus}/{u.speaker}" if u.speaker is not None else None for u in self.utterances]
        augmented = self.augmented
        if augmented is not None:
            augmented = dataclasses.replace(augmented, features=speaker_normalise(
                augmented.features, [keys[i] for i in augmented.source]))
        return dataclasses.replace(self, features=speaker_normalise(self.features, keys), augmented=augmented)

    def training_rows(self, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(features, targets, speakers)`` to fit on: ``rows`` (default all), then their augmented copies."""
        rows = np.arange(len(self.utterances)) if rows is None else np.asarray(rows)
        speakers = np.array([u.speaker for u in self.utterances], dtype=object)
        return training_rows(self.features, self.targets, speakers, rows, self.augmented)


def load_dataset(data: str | os.PathLike | Sequence[str | os.PathLike] | None, emotions: Sequence[str],
                 feature_set: FeatureSet, *, kind: str | Sequence[str] = "auto", actors: Sequence[str] | None = None,
                 jobs: int | None = None, use_cache: bool = True, progress: bool = True, augment: int = 0,
                 augment_seed: int = 0, babble: str = "self") -> Dataset:
    """Read one corpus or several, keep ``emotions`` (and ``actors``, if given), and extract features.

    Files that cannot be read are listed in ``Dataset.errors`` and left out.

    Args:
        data: a corpus folder or manifest, or a list of them (several corpora: each speaker id
            is prefixed with its corpus, ``ravdess:01``, so that speakers stay distinct).
        kind: how to read ``data`` (one of :data:`emovox.corpora.KINDS`), or one per corpus.
        actors: speakers to keep (``01`` or ``ravdess:01``).
        augment: degraded copies of each clip to add for training
            (:mod:`emovox.features.augmented`); evaluation always tests on the clean clips.
        augment_seed: the copies' seed.
        babble: what the copies' babble is made from: ``"self"``, the clip's own voice re-pitched into
            several talkers; ``"speaker"``, other recordings of the clip's speaker among ``data``'s
            usable ones (other words and emotions; see :mod:`emovox.features.augmented`).

    Raises:
        DataError: no usable recordings.
        ParameterError: ``babble`` is neither.
    """
    if babble not in BABBLE_SOURCES:
        raise ParameterError(f"babble must be one of {', '.join(BABBLE_SOURCES)}, not {babble!r}")
    utterances = _read_corpora(data, kind)
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
    cached = extraction.cached
    augmented = augmentation = None
    if augment > 0:
        blocks, sources = [], []
        voices = babble_voices((u.path, u.speaker) for u in kept) if babble == "speaker" else None
        for copy in range(augment):
            extra = extract_files([u.path for u in kept],
                                  AugmentedCopy(feature_set, copy=copy, seed=augment_seed, voices=voices),
                                  jobs=jobs, use_cache=use_cache, progress=progress)
            blocks.append(extra.features)
            sources.append(np.asarray(extra.ok, dtype=int))  # a copy that fails (e.g. too short) is left out
            cached += extra.cached
        augmented = AugmentedRows(np.concatenate(blocks), np.concatenate(sources), hears_speaker=voices is not None)
        augmentation = {"policy": f"emovox.augment v{AugmentedCopy.version}", "copies": augment, "seed": augment_seed}
        if babble == "speaker":
            augmentation["babble"] = f"the speaker's other recordings (v{TALKERS_VERSION})"
    return Dataset(kept, extraction.features, targets, labels, feature_set, extraction.errors,
                   time.perf_counter() - started, cached, augmented, augmentation)


def _read_corpora(data: str | os.PathLike | Sequence[str | os.PathLike] | None,
                  kind: str | Sequence[str]) -> list[corpora.Utterance]:
    """The utterances of one corpus, or of several with their speakers prefixed by corpus."""
    sources = [data] if data is None or isinstance(data, (str, os.PathLike)) else list(data)
    kinds = [kind] * len(sources) if isinstance(kind, str) else list(kind)
    if len(kinds) == 1 and len(sources) > 1:
        kinds *= len(sources)
    if len(kinds) != len(sources):
        raise DataError(f"{len(sources)} corpora but {len(kinds)} corpus kinds: give one kind, or one per corpus")
    if len(sources) == 1:
        return corpora.open_corpus(corpora.default_data_dir(sources[0]), kinds[0])
    read, seen = [], {}
    for source, source_kind in zip(sources, kinds):
        folder = corpora.default_data_dir(source)
        if folder.resolve() in seen:
            raise DataError(f"{folder} is given twice (also as {seen[folder.resolve()]})")
        seen[folder.resolve()] = folder
        read.append(corpora.open_corpus(folder, source_kind))
    names = [rows[0].corpus if rows else "" for rows in read]
    utterances = []
    for i, rows in enumerate(read):
        prefix = names[i] if names.count(names[i]) == 1 else f"{names[i]}{i + 1}"  # two manifests: manifest1, manifest2
        utterances += [dataclasses.replace(u, speaker=None if u.speaker is None else f"{prefix}:{u.speaker}")
                       for u in rows]
    return utterances


def evaluate(dataset: Dataset, model: str, protocols: Sequence[str], *, seeds: Sequence[int] = (0,),
             k: int = 5, progress: bool = True) -> list[dict]:
    """Cross-validate ``model`` on ``dataset`` under each protocol; see :func:`~emovox.evaluation.cross_validate`."""
    spec = get_model_spec(model)
    return [cross_validate(dataset.features, dataset.targets, dataset.utterances, dataset.labels, spec, p,
                           seeds=seeds, k=k, progress=progress, augmented=dataset.augmented) for p in protocols]


def fit_bundle(dataset: Dataset, model: str, out: str | os.PathLike, *, results: Sequence[dict] = (),
               seed: int = 0, speaker_adaptive: bool | None = None) -> Path:
    """Fit ``model`` on all of ``dataset`` and save it as a bundle with the evaluation ``results``.

    Args:
        speaker_adaptive: also fit the speaker-adaptive head (the model again, on features standardised per
            speaker; :mod:`emovox.adaptation`). ``None``: when the recipe supports it
            (:attr:`~emovox.models.ModelSpec.speaker_adaptive`) and every recording has a speaker.

    Raises:
        DataError: ``speaker_adaptive=True`` but the recipe cannot have the head, or a recording has no speaker.
    """
    spec = get_model_spec(model)
    with_speaker_head = _wants_speaker_head(dataset, spec, speaker_adaptive)  # refused before any fitting
    estimator = spec.build(seed)
    started = time.perf_counter()
    # tuned on held-out speakers when the recipe can use them (the same as in evaluation)
    fit_with_groups(estimator, *dataset.training_rows())
    fit_seconds = time.perf_counter() - started
    speaker_head = speaker_entry = None
    if with_speaker_head:
        speaker_head, speaker_entry = _fit_speaker_head(dataset, spec, seed)
    manifest = {
        "labels": list(dataset.labels),
        "feature_set": dataset.feature_set.describe(),
        "audio": {"rate": training_rate(dataset), "channels": "mix"},
        "model": {"name": model, "summary": spec.summary, "seed": seed,
                  "params": _jsonable(estimator.get_params()),
                  "fitted": _fitted(estimator)},
        "training": dataset.summary() | {"fit_seconds": round(fit_seconds, 3)},
        "metrics": [{"protocol": r["protocol"], **{m: r["summary"][m] for m in r["summary"]},
                     "recall": r["recall"], "n_folds": r["n_folds"], "seeds": r["seeds"]} for r in results],
        "licence_note": licence_note(dataset.summary()["corpus"]),
        **({"speaker_adaptive": speaker_entry} if speaker_entry else {}),
    }
    return bundle_io.save(out, bundle_io.to_onnx(estimator, dataset.features.shape[1]), manifest,
                          dataset.feature_set.assets, speaker_head=speaker_head)


def _wants_speaker_head(dataset: Dataset, spec, asked: bool | None) -> bool:
    """Whether :func:`fit_bundle` fits a speaker-adaptive head (see its ``speaker_adaptive``)."""
    speakers = {u.speaker for u in dataset.utterances}
    usable = None not in speakers and len(speakers) >= 2
    if asked is None:
        return spec.speaker_adaptive and usable
    if asked and not spec.speaker_adaptive:
        raise DataError(f"recipe {spec.name!r} has no speaker-adaptive head (the whisper-* and stats-lr recipes do)")
    if asked and not usable:
        raise DataError("a speaker-adaptive head needs a speaker for every recording, and two speakers at least")
    return bool(asked)


def _fit_speaker_head(dataset: Dataset, spec, seed: int) -> tuple[bytes, dict]:
    """The recipe fitted on ``dataset`` standardised per speaker: its ONNX and its manifest entry."""
    from .adaptation import MIN_UTTERANCES

    adapted = dataset.speaker_adapted()
    estimator = spec.build(seed)
    started = time.perf_counter()
    fit_with_groups(estimator, *adapted.training_rows())
    entry = {"min_utterances": MIN_UTTERANCES,
             "summary": "the same recipe on features standardised per training speaker (emovox.adaptation)",
             "fitted": _fitted(estimator),
             "fit_seconds": round(time.perf_counter() - started, 3)}
    return bundle_io.to_onnx(estimator, dataset.features.shape[1]), entry


def _fitted(estimator) -> dict:
    """What the fit chose that a manifest records: the L2 strength and the temperature, where the model has them."""
    return {k: float(v) for k in ("C_", "temperature_") if (v := getattr(estimator, k, None)) is not None}


#: What a bundle trained on each corpus must say about its licence.
LICENCE_NOTES = {
    "ravdess": "Weights trained on RAVDESS inherit its CC BY-NC-SA 4.0 licence (non-commercial).",
    "emovo": "Trained on EMOVO, whose licence allows research use only: do not distribute or ship this model.",
}


def licence_note(corpora_used: Sequence[str]) -> str | None:
    """The bundle's licence note for the corpora it was trained on (``None`` when none of them asks for one)."""
    notes = [LICENCE_NOTES[c] for c in corpora_used if c in LICENCE_NOTES]
    return " ".join(notes) or None


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
