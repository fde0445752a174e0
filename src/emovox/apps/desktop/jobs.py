"""The desktop app's background work: training, recording, live listening, file prediction.

Nothing here touches Tk. Each job runs in a worker thread and reports through
``post(kind, payload)``; the app turns those messages into widget updates on the
UI thread. Jobs stop early when their ``stop`` event is set.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...paths import home_dir
from ...settings import models_dir

#: Sample rate the microphone is opened at, Hz (what most sound cards capture at; the model resamples to its own).
MIC_RATE = 48000

Post = Callable[[str, object], None]


@dataclass(frozen=True)
class AudioInput:
    """Where "microphone" audio comes from: a real device, or a file played as if it were one.

    Attributes:
        file: play this file instead of the microphone (``emovox gui --input FILE``).
        device: sound-card input device (index or name); ``None`` for the default.
        realtime: pace the file at its real speed (like a microphone) rather than as fast as possible.
    """

    file: Path | None = None
    device: int | str | None = None
    realtime: bool = True

    def open(self):
        """A fresh source of float32 mono blocks at its ``rate`` (the file's, or :data:`MIC_RATE`).

        Raises:
            EmovoxError: the file cannot be read, or there is no usable microphone.
        """
        from ...stream import FileSource, MicrophoneSource

        if self.file is not None:
            return FileSource(self.file, realtime=self.realtime)
        return MicrophoneSource(self.device, rate=MIC_RATE)

    def describe(self) -> str:
        return f"file {self.file.name}" if self.file is not None else f"microphone {self.device or '(default)'}"


def rms(block: np.ndarray) -> float:
    """Root-mean-square amplitude of a block (0 for an empty one)."""
    return float(np.sqrt(np.mean(np.square(block, dtype=np.float64)))) if len(block) else 0.0


def record(source, seconds: float, stop: threading.Event, post: Post) -> np.ndarray:
    """Collect up to ``seconds`` of audio, posting ``("level", rms)`` for each block.

    Ends early when the source ends or ``stop`` is set. Returns float32 samples at ``source.rate``.
    """
    wanted = int(seconds * source.rate)
    blocks, have = [], 0
    for block in source:
        block = np.asarray(block, dtype=np.float32).reshape(-1)[: wanted - have]
        blocks.append(block)
        have += len(block)
        post("level", rms(block))
        if have >= wanted or stop.is_set():
            break
    _close(source)
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def save_recording(samples: np.ndarray, rate: int, folder: Path | None = None) -> Path:
    """Write samples (at ``rate`` Hz) as a 16-bit WAV in ``folder`` (default ``<EMOVOX_HOME>/recordings``);
    return the path."""
    import soundfile as sf

    folder = Path(folder or home_dir() / "recordings")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / time.strftime("recording-%Y%m%d-%H%M%S.wav")
    n = 1
    while path.exists():
        n += 1
        path = path.with_name(time.strftime(f"recording-%Y%m%d-%H%M%S-{n}.wav"))
    sf.write(str(path), samples, rate, subtype="PCM_16")
    return path


def listen(model, source, stop: threading.Event, post: Post, speaker=None) -> int:
    """Stream ``source`` (blocks at ``source.rate``) through the model's stream session.

    Posts ``("level", rms)`` per block and ``("event", Prediction)`` per segment or estimate;
    returns the number of rows. Stops when the source ends or ``stop`` is set. With a ``speaker``
    profile (:mod:`emovox.adaptation`) the session adapts to the voice heard, and posts
    ``("adapting", utterances)`` before the first row it adapts.
    """
    session = model.stream(source.rate, file=getattr(source, "name", "<stream>"), speaker=speaker)
    count = 0
    adapting = session.adapting

    def deliver(events) -> None:
        nonlocal count, adapting
        for event in events:
            if not adapting and session.adapting:
                adapting = True
                post("adapting", speaker.count)
            post("event", event)
            count += 1

    try:
        for block in source:
            post("level", rms(np.asarray(block, dtype=np.float32)))
            deliver(session.feed(block))
            if stop.is_set():
                break
        deliver(session.close())
    finally:
        _close(source)
    return count


def predict_files(model, paths: Sequence[Path], stop: threading.Event, post: Post) -> None:
    """Each file's timeline (one row up to 60 s, else a row per stretch of speech).

    Posts, per file, ``("duration", (path, seconds))`` then ``("predictions", Predictions)``, or
    ``("file_error", (path, message))``.
    """
    for path in paths:
        if stop.is_set():
            return
        found = model.process_file(path, segment="auto")
        for error in found.errors:
            post("file_error", (Path(path), error.message))
        if len(found):
            post("duration", (Path(path), file_duration(path, found)))
            post("predictions", found)


def file_duration(path: str | os.PathLike, rows=()) -> float:
    """A file's length in seconds from its header (the end of its last row if the header has none)."""
    from ...audio import AudioReader

    last = max((row.end_s for row in rows), default=0.0)
    try:
        with AudioReader(path) as reader:
            return max(reader.header_frames / reader.rate, last)
    except Exception:  # noqa: BLE001 - the rows are already there; only the strip's length is at stake
        return last


def time_shares(rows, labels: Sequence[str] = ()) -> dict[str, float]:
    """Share of the rows' time per emotion (0..1, summing to 1), in ``labels``' order (then any other).

    The summary of a file's timeline: ``{"calm": 0.42, ...}`` means 42 % of the time in its rows
    (its speech, for a file cut by voice activity) was labelled calm.
    """
    seconds: dict[str, float] = dict.fromkeys(labels, 0.0)
    for row in rows:
        seconds[row.label] = seconds.get(row.label, 0.0) + max(row.end_s - row.start_s, 0.0)
    total = sum(seconds.values())
    return {label: (s / total if total > 0 else 0.0) for label, s in seconds.items()}


@dataclass(frozen=True)
class TrainRequest:
    """What to train: corpus folder, emotions, model name, and optionally a subset of actors."""

    data: Path
    emotions: tuple[str, ...]
    model: str
    actors: tuple[str, ...] = ()
    jobs: int | None = None
    out: Path | None = None


def train(request: TrainRequest, stop: threading.Event, post: Post) -> dict:
    """Extract features, evaluate on unseen speakers, fit on everything and save the bundle.

    Posts ``("progress", (fraction, text))`` between stages. Returns ``{"bundle": path,
    "result": the evaluation dict (or None), "confusion_png": bytes or None, "dataset": summary}``.
    The new bundle goes into the model store; whether it replaces the model in use is the app's (the user's) choice.
    """
    from ...evaluation.report import confusion_png
    from ...models import get_model_spec
    from ...pipeline import default_feature_set, evaluate, fit_bundle, load_dataset

    feature_set = default_feature_set(request.model)
    spec = get_model_spec(request.model)
    copies = spec.augment
    post("progress", (0.05, f"Reading {request.data} and computing {feature_set.name} features"
                            + (f" (and {copies} degraded copies of each clip)…" if copies else "…")))
    dataset = load_dataset(request.data, request.emotions, feature_set, actors=request.actors or None,
                           jobs=request.jobs, progress=False, augment=copies, babble=spec.babble)
    summary = dataset.summary()
    if stop.is_set():
        raise InterruptedError("training cancelled")
    protocol = "ravdess-si6" if all(u.corpus == "ravdess" for u in dataset.utterances) else "speaker-kfold"
    post("progress", (0.45, f"{len(dataset.targets)} recordings. Testing on unseen speakers ({protocol})…"))
    results = evaluate(dataset, request.model, [protocol], progress=False)
    if stop.is_set():
        raise InterruptedError("training cancelled")
    post("progress", (0.85, "Fitting the model on all recordings…"))
    out = request.out or models_dir() / f"{request.model}-{len(dataset.labels)}emotions.emovox"
    bundle = fit_bundle(dataset, request.model, out, results=results)
    post("progress", (0.95, "Drawing the confusion matrix…"))
    return {"bundle": Path(bundle), "result": results[0], "confusion_png": confusion_png(results[0]),
            "dataset": summary}


def default_jobs() -> int:
    """Feature-extraction processes for training from the app: all cores but one."""
    return max(1, (os.cpu_count() or 2) - 1)


def _close(source: object) -> None:
    close = getattr(source, "close", None)
    if callable(close):
        close()
