"""The loaded model and its processing API: one way in, one way out.

>>> model = emovox.load_model("model.emovox")                                   # doctest: +SKIP
>>> model.predict("clip.wav").label                                            # one clip, one answer
>>> model.process_file("call.flac", segment="vad").to_frame()                  # a timeline
>>> model.process_folder("recordings/", segment="windows", window_s=3.0)       # many files
>>> session = model.stream(48000)                                              # live blocks
>>> rows = session.feed(block) + session.close()
>>> model.adapted(model.speaker_profile(my_clips)).process_file("mine.wav")    # adapted to one voice

Every method answers with :class:`~emovox.results.Prediction` rows (file, start_s, end_s, label,
probabilities, kind) collected in :class:`~emovox.results.Predictions`, which keeps the inputs that
failed as :class:`~emovox.results.FileError` objects. The model resamples what it is given to the rate
it was trained at (:attr:`Recognizer.rate`, recorded in the bundle); files are decoded in blocks, so a
long recording never has to fit in memory.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from . import audio as audio_io
from .adaptation import MIN_UTTERANCES, SpeakerProfile
from .errors import AudioError, BundleError, LowRateWarning, ParameterError
from .features import FeatureSet, SpeechFeatureSet, get_feature_set
from .models import bundle as bundle_io
from .results import UNCERTAIN_BELOW, FileError, Kind, Prediction, Predictions
from .segmentation import MAX_WHOLE_SECONDS, Auto, Segmentation, VoiceActivity, Windows, resolve
from .settings import current_model_path
from .stream.recognizer import StreamSession

#: Block length, seconds, in which files are decoded and fed to segmentation.
BLOCK_SECONDS = 1.0
#: Inputs below this share of the model's rate get a :class:`~emovox.errors.LowRateWarning`.
LOW_RATE_SHARE = 0.75

__all__ = ["Recognizer", "load_model", "Prediction", "Predictions", "FileError"]


class Recognizer:
    """A loaded model bundle with its feature set: the processing API.

    Use :func:`load_model` to make one. Thread-safe for prediction.

    Attributes:
        rate: the sample rate, Hz, the model was trained at; everything it classifies is resampled to it.
        labels: the emotions it tells apart.
        feature_set: what it computes from audio.
    """

    def __init__(self, loaded: bundle_io.LoadedBundle) -> None:
        self.bundle = loaded
        fs = loaded.manifest["feature_set"]
        try:
            self.feature_set: FeatureSet = get_feature_set(fs["name"], fs["params"], version=fs.get("version"))
        except ParameterError as exc:
            raise BundleError(f"{loaded.path}: {exc}") from None
        if loaded.assets:
            self.feature_set.use_assets(loaded.assets)
        if self.feature_set.dim != fs["dim"]:
            raise BundleError(f"{loaded.path}: feature set {fs['name']!r} gives {self.feature_set.dim} values "
                              f"here but the model expects {fs['dim']}")
        self.rate: int = bundle_rate(loaded.manifest, self.feature_set, loaded.path)
        #: Check that an input holds speech before giving it an emotion (whole inputs and windows): noise, a tone,
        #: music or silence gets "no speech (...)" instead (:func:`emovox.speech_presence.detect`).
        self.require_speech: bool = True
        #: A row whose top probability is below this is flagged ``uncertain`` (0 turns the flag off).
        self.uncertain_below: float = UNCERTAIN_BELOW
        #: The voice this recognizer is adapted to (:meth:`adapted`); ``None``: it answers for any voice.
        self.speaker: SpeakerProfile | None = None
        #: Called with ``(features, audio, speech_checked)`` for every input or window classified (profiles).
        self._on_features = None

    # -- what it is ---------------------------------------------------------------------------------------

    @property
    def labels(self) -> list[str]:
        """The emotions this model tells apart."""
        return self.bundle.labels

    @property
    def info(self) -> dict:
        """The bundle's manifest: labels, feature set, audio rate, model, training data, metrics, version."""
        return self.bundle.manifest

    @property
    def path(self) -> Path:
        return self.bundle.path

    @property
    def name(self) -> str:
        """The bundle's file name."""
        return Path(self.bundle.path).name

    def describe(self) -> str:
        """One line: file, labels, rate (and the voice it is adapted to)."""
        adapted = f"; adapted to a voice from {self.speaker.count} utterances" if self.speaker is not None else ""
        return f"{self.name} ({', '.join(self.labels)}; {self.rate} Hz{adapted})"

    @property
    def speaker_adaptive(self) -> bool:
        """Whether the bundle has a speaker-adaptive head (:meth:`adapted`, ``stream(speaker=...)``)."""
        return self.bundle.speaker_adaptive is not None

    @property
    def min_speaker_utterances(self) -> int:
        """Utterances a :class:`~emovox.adaptation.SpeakerProfile` needs before this model's answers use it."""
        return int((self.bundle.speaker_adaptive or {}).get("min_utterances", MIN_UTTERANCES))

    # -- the core: samples in, probabilities out ------------------------------------------------------------

    def probabilities(self, samples: np.ndarray, rate: int, *, name: str = "<array>",
                      check_speech: bool = False) -> np.ndarray:
        """Probabilities, float64 shape ``(n_labels,)``, of mono float32 ``samples`` at ``rate`` Hz.

        The one place audio meets the model: the samples are resampled to :attr:`rate` and validated here.
        With ``check_speech`` (and :attr:`require_speech`), audio without speech is refused too, checked on
        the samples already resampled (:func:`emovox.speech_presence.detect`).

        Raises:
            AudioError: silent, too short, not finite, or no speech (the message names ``name``).
        """
        audio = audio_io.from_array(samples, rate, name=name, resample_to=self.rate)
        if check_speech and self.require_speech:
            # the feature set's own first check, so a too-short input still says so; then the speech check,
            # before the encoder: a window of noise or music costs 2 ms instead of 20
            audio_io.require_duration(audio, self.feature_set.min_seconds, f"feature set {self.feature_set.name!r}")
            self._check_speech(audio.samples, audio.rate, name)
        features = self.feature_set.transform(audio)
        if self._on_features is not None:
            self._on_features(features, audio, check_speech and self.require_speech)
        return self.predict_proba(features[None, :])[0]

    def features(self, samples: np.ndarray, rate: int, *, name: str = "<array>") -> np.ndarray:
        """The feature vector, float32 shape ``(dim,)``, of mono ``samples`` at ``rate`` Hz (resampled to :attr:`rate`).

        Raises:
            AudioError: silent, too short or not finite (the message names ``name``).
        """
        return self.feature_set.transform(audio_io.from_array(samples, rate, name=name, resample_to=self.rate))

    def holds_speech(self, samples: np.ndarray, rate: int) -> bool:
        """Whether ``samples`` hold speech (:func:`emovox.speech_presence.detect`; always true with
        ``require_speech`` off)."""
        return self._no_speech_reason(samples, rate) is None

    def _no_speech_reason(self, samples: np.ndarray, rate: int) -> str | None:
        """Why ``samples`` hold no speech (``"a steady tone"``, ...), or ``None`` (also with ``require_speech`` off)."""
        if not self.require_speech:
            return None
        from .speech_presence import detect

        # in full when the features cut at the detector's bounds: they then reuse its answer
        return detect(samples, rate, complete=self.feature_set.cuts_at_speech)

    def predict_proba(self, features: np.ndarray, *, speaker: SpeakerProfile | None = None) -> np.ndarray:
        """Probabilities, float64 shape ``(n, n_labels)``, for precomputed features of shape ``(n, dim)``.

        Args:
            speaker: answer for this voice with the speaker-adaptive head; default: the voice the
                recognizer is adapted to (:attr:`speaker`), if any, else none.
        """
        speaker = speaker if speaker is not None else self.speaker
        if speaker is None:
            return self.bundle.probabilities(features)
        return self.bundle.probabilities(speaker.normalise(features), speaker_adapted=True)

    # -- speaker adaptation ------------------------------------------------------------------------------------

    def speaker_profile(self, sources: Iterable[str | os.PathLike] = (), *, segment: str | Segmentation = None,
                        **options) -> SpeakerProfile:
        """A profile of one voice (:mod:`emovox.adaptation`) for this model's features, from audio of it.

        Args:
            sources: audio files or folders of the speaker, or one of them (none: an empty profile, e.g. for
                ``stream(speaker=...)`` to fill).
            segment: how files are cut into utterances, as in :meth:`process_file`: each stretch classified
                (a whole clip, a segment, a window) that holds speech adds one utterance.

        Returns:
            The profile; ``profile.errors`` lists the inputs that gave no utterance (:class:`FileError`).
        """
        profile = SpeakerProfile(self.feature_set.dim, self._feature_set_entry())
        if isinstance(sources, (str, bytes, os.PathLike)):
            sources = [sources]  # one file or folder, not its characters
        paths: list = []
        for source in sources:
            source = Path(os.fsdecode(source))
            paths += find_audio_files(source) if source.is_dir() else [source]
        collector = copy.copy(self)
        collector.speaker = None

        def collect(features: np.ndarray, audio: audio_io.Audio, speech_checked: bool) -> None:
            if speech_checked or self.holds_speech(audio.samples, audio.rate):
                profile.add(features)

        collector._on_features = collect
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LowRateWarning)
            for path in paths:
                profile.errors += collector.process_file(path, segment=segment, **options).errors
        return profile

    def adapted(self, profile: SpeakerProfile, *, min_utterances: int | None = None) -> Recognizer:
        """This model adapted to one voice: the same processing API, answering with the speaker-adaptive head
        on features standardised with ``profile`` (a copy of it as it is now).

        Args:
            profile: the voice (:meth:`speaker_profile`, or :meth:`SpeakerProfile.load`).
            min_utterances: refuse profiles with fewer utterances (default: the bundle's, 10).

        Raises:
            ParameterError: the bundle has no speaker-adaptive head, the profile was made with other
                features, or it holds too few utterances.
        """
        self.check_profile(profile)
        needed = self.min_speaker_utterances if min_utterances is None else int(min_utterances)
        if not profile.ready(needed):
            raise ParameterError(f"the speaker profile holds {profile.count} utterance(s) with speech; adapting needs "
                                 f"{needed} at least (with fewer, adapted answers were worse than none)")
        adapted = copy.copy(self)
        adapted.speaker = copy.deepcopy(profile)
        return adapted

    def check_profile(self, profile: SpeakerProfile) -> None:
        """Refuse (:class:`~emovox.errors.ParameterError`) a profile this model cannot adapt to: not a profile,
        a bundle without the speaker-adaptive head, or a profile made from other features."""
        if not isinstance(profile, SpeakerProfile):
            raise ParameterError(f"expected a SpeakerProfile, got {type(profile).__name__}")
        if not self.speaker_adaptive:
            raise ParameterError(f"{self.name} has no speaker-adaptive head: retrain it with this emovox "
                                 "(`emovox train` adds one to the whisper-* and stats-lr recipes)")
        if not profile.feature_set.get("name"):
            raise ParameterError("the speaker profile does not say which features it holds: make it with "
                                 "model.speaker_profile(...), or give SpeakerProfile the model's feature set")
        if not profile.matches(self._feature_set_entry()):
            raise ParameterError(f"the speaker profile was made from {profile.feature_set.get('name')!r} features "
                                 f"(or other parameters), not this model's {self.feature_set.name!r}: make it again "
                                 "with this model")

    def _feature_set_entry(self) -> dict:
        """The feature set as the bundle records it (name, version, parameters, length)."""
        entry = self.bundle.manifest["feature_set"]
        return {k: entry.get(k) for k in ("name", "version", "params", "dim")}

    def row(self, probs: np.ndarray, file: str, start_s: float, end_s: float, kind: Kind = Kind.WHOLE,
            index: int = 0) -> Prediction:
        """A :class:`Prediction` from probabilities in label order."""
        labels = self.labels
        return Prediction(file, round(float(start_s), 4), round(float(end_s), 4), labels[int(np.argmax(probs))],
                          {label: float(p) for label, p in zip(labels, probs)}, kind, index,
                          uncertain=self.is_uncertain(probs))

    def is_uncertain(self, probs: np.ndarray) -> bool:
        """Whether probabilities (label order) are too flat to trust: the top one below :attr:`uncertain_below`."""
        return bool(np.max(probs) < self.uncertain_below)

    # -- the processing API ----------------------------------------------------------------------------------

    def predict(self, source: str | os.PathLike | np.ndarray | audio_io.Audio, rate: int | None = None) -> Prediction:
        """The emotion of one clip: the shortcut for ``process_*(..., segment=None)[0]``.

        Args:
            source: an audio file path, an :class:`~emovox.audio.Audio`, or samples (shape ``(n,)`` or
                ``(n, channels)``, float in [-1, 1] or integer PCM) with ``rate``.
            rate: sample rate in Hz of ``source`` when it is an array.

        Raises:
            AudioError: the audio cannot be used (the message names it and says why).
        """
        if isinstance(source, audio_io.Audio):
            found = self.process_signal(source.samples, source.rate, file=source.name)
        elif isinstance(source, np.ndarray):
            if rate is None:
                raise ParameterError("predict(array) needs rate=<sample rate in Hz>")
            found = self.process_signal(source, rate)
        elif isinstance(source, (str, bytes, os.PathLike)):
            found = self.process_file(source)
        else:
            raise ParameterError(f"predict() takes a file path, an Audio or a numpy array, not {type(source).__name__}")
        if found.errors:
            error = found.errors[0]
            raise AudioError(error.path, error.problem)
        return found[0]

    def process_signal(self, samples: np.ndarray, rate: int, *, file: str | None = None,
                       start: float | None = None, end: float | None = None,
                       segment: str | Segmentation = None, **options) -> Predictions:
        """Rows for samples in memory.

        Args:
            samples: shape ``(n,)`` mono or ``(n, channels)`` (downmixed); float in [-1, 1] or integer PCM.
            rate: their sample rate, Hz.
            file: the name rows carry (default ``"<array>"``).
            start: process from this many seconds in (rows' times stay relative to ``samples[0]``).
            end: process up to this many seconds in.
            segment: ``None`` (one row for the whole), ``"vad"`` (voice activity: options are
                :class:`~emovox.segmentation.VoiceActivity`'s, e.g. ``min_silence_s=0.5``), ``"windows"``
                (``window_s=3.0, hop_s=1.0``) or ``"auto"`` (whole up to 60 s, else voice activity).

        Returns:
            :class:`Predictions`: the rows, or an error (silent, too short, ...) in ``errors``.
        """
        name = file or "<array>"
        plan = resolve(segment, **options)
        try:
            samples = audio_io.as_mono(samples, rate, name)
            first = 0 if start is None else max(0, round(start * rate))
            last = samples.size if end is None else min(samples.size, round(end * rate))
            step = max(1, round(BLOCK_SECONDS * rate))
            blocks = (samples[at:min(at + step, last)] for at in range(first, last, step))
            return self._process_blocks(blocks, rate, name, plan, offset_s=first / rate,
                                        total_s=(last - first) / rate)
        except AudioError as exc:
            return Predictions(errors=[FileError(name, exc.problem)], labels=self.labels)

    def process_file(self, path: str | os.PathLike | BinaryIO, *, start: float | None = None,
                     end: float | None = None, segment: str | Segmentation = None,
                     max_duration_s: float | None = None, name: str | None = None, **options) -> Predictions:
        """Rows for one audio file, decoded in blocks (a long file never has to fit in memory).

        Args:
            path: WAV, FLAC, OGG, MP3 or any file libsndfile reads.
            start, end: process only this part, seconds from the start of the file (rows' times stay the file's).
            segment: see :meth:`process_signal`.
            max_duration_s: refuse files longer than this (counted on decoded samples); ``None``: no limit.
            name: the ``file`` rows carry (default: the path; ``"<bytes>"`` for an open file object).

        Returns:
            :class:`Predictions`: the file's rows, or its error in ``errors``; never raises for bad audio.
        """
        plan = resolve(segment, **options)
        name = name or ("<bytes>" if hasattr(path, "read") else os.fsdecode(path))
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        try:
            with audio_io.AudioReader(path, block_s=BLOCK_SECONDS, max_duration_s=max_duration_s,
                                      start_s=start, end_s=end, name=name) as reader:
                rest_s = reader.header_frames / reader.rate - (start or 0.0)
                if end is not None:
                    rest_s = min(rest_s, end - (start or 0.0))
                return self._process_blocks(iter(reader), reader.rate, name, plan,
                                            offset_s=reader.first_frame / reader.rate, total_s=rest_s)
        except AudioError as exc:
            return Predictions(errors=[FileError(name, exc.problem)], labels=self.labels)

    def iter_files(self, paths: Iterable[str | os.PathLike], *, segment: str | Segmentation = None,
                   jobs: int = 1, max_duration_s: float | None = None, **options) -> Iterator[Predictions]:
        """:meth:`process_file` for each path, yielding each file's :class:`Predictions` in input order.

        Args:
            jobs: worker processes (1: this process). Each worker loads the model once.
        """
        plan = resolve(segment, **options)
        paths = list(paths)
        if jobs <= 1 or len(paths) <= 1:
            for path in paths:
                yield self.process_file(path, segment=plan, max_duration_s=max_duration_s)
            return
        from concurrent.futures import ProcessPoolExecutor

        settings = {"uncertain_below": self.uncertain_below, "require_speech": self.require_speech,
                    "speaker": self.speaker}  # what load_model alone would not give the workers
        pool = ProcessPoolExecutor(min(jobs, len(paths)), initializer=_init_worker, initargs=(str(self.path), settings))
        try:
            yield from pool.map(_worker_file, [(p, plan, max_duration_s) for p in paths],
                                chunksize=max(1, min(16, len(paths) // (4 * jobs))))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # an interrupted run does not wait for the rest

    def process_files(self, paths: Iterable[str | os.PathLike], *, segment: str | Segmentation = None,
                      jobs: int = 1, progress: bool = False, max_duration_s: float | None = None,
                      **options) -> Predictions:
        """Rows for many files (see :meth:`process_file`); bad files are kept in ``errors``, never raised."""
        from tqdm.auto import tqdm

        paths = list(paths)
        found = Predictions(labels=self.labels)
        with tqdm(total=len(paths), unit="file", disable=not progress, leave=False, dynamic_ncols=True) as bar:
            for one in self.iter_files(paths, segment=segment, jobs=jobs, max_duration_s=max_duration_s,
                                       **options):
                found.extend(one)
                bar.update()
        return found

    def process_folder(self, root: str | os.PathLike, *, recursive: bool = True,
                       segment: str | Segmentation = None, jobs: int = 1, progress: bool = False,
                       max_duration_s: float | None = None, **options) -> Predictions:
        """Rows for every audio file in ``root`` (and its sub-folders unless ``recursive=False``), sorted by path.

        A folder with no audio file gives one :class:`FileError` naming it.
        """
        files = find_audio_files(root, recursive=recursive)
        if not files:
            return Predictions(errors=[FileError(os.fsdecode(root), no_audio_problem())], labels=self.labels)
        return self.process_files(files, segment=segment, jobs=jobs, progress=progress,
                                  max_duration_s=max_duration_s, **options)

    def stream(self, rate: int, *, estimate_window_s: float | None = 2.0, estimate_hop_s: float = 0.5,
               smoothing: float = 0.5, keep_audio: bool = False, file: str = "<stream>", detector=None,
               warm_up: bool = True, speaker: SpeakerProfile | None = None, **options) -> StreamSession:
        """A live stream session: ``session.feed(block)`` returns rows, ``session.close()`` flushes.

        Args:
            rate: sample rate of the blocks, Hz (whatever the source captures at).
            estimate_window_s, estimate_hop_s, smoothing: running estimates while someone speaks
                (``estimate_window_s=None`` turns them off).
            keep_audio: attach the audio classified to each row (``samples``).
            file: the ``file`` of every row.
            detector: a :class:`~emovox.stream.vad.FrameVAD` instance instead of ``options["vad"]`` (tests, benchmarks).
            speaker: adapt to the voice as it is heard: every segment with speech is added to this profile (an
                empty one from :meth:`speaker_profile`, or one saved from an earlier session), and once it holds
                :attr:`min_speaker_utterances` the rows come from the speaker-adaptive head (``session.adapting``).
            options: :class:`~emovox.segmentation.VoiceActivity`'s (``min_silence_s=...``, ``vad="energy"``).
        """
        if speaker is not None:
            self.check_profile(speaker)
        session = StreamSession(self, rate, segmentation=VoiceActivity(**options), detector=detector,
                                estimate_window_s=estimate_window_s, estimate_hop_s=estimate_hop_s,
                                smoothing=smoothing, keep_audio=keep_audio, file=file, warm_up=warm_up,
                                speaker=speaker)
        self._check_rate(rate, file)  # after the session has checked that the rate is one at all
        return session

    # -- internals ----------------------------------------------------------------------------------------

    def _check_rate(self, rate: int, name: str) -> str | None:
        """Warn (:class:`~emovox.errors.LowRateWarning`) when ``rate`` lacks more than the top quarter of the band
        the model's features use (below 3/4 of its rate: 16 kHz for a 48 kHz model, not 44.1 kHz); return the text."""
        if isinstance(rate, (int, np.integer)) and 0 < rate < LOW_RATE_SHARE * self.rate:
            text = (f"{name}: recorded at {rate} Hz, below the {self.rate} Hz the model was trained at: it lacks "
                    f"the bands above {rate / 2000:g} kHz that the model's features use; expect poorer answers")
            warnings.warn(LowRateWarning(text), stacklevel=4)
            return text
        return None

    def _process_blocks(self, blocks: Iterator[np.ndarray], rate: int, name: str, plan: Segmentation, *,
                        offset_s: float, total_s: float) -> Predictions:
        whole_limit_s = MAX_WHOLE_SECONDS
        if isinstance(plan, Auto):
            whole_limit_s = max(plan.max_whole_s, MAX_WHOLE_SECONDS)
            plan = None if total_s <= plan.max_whole_s else plan.voice_activity
        note = self._check_rate(rate, name)
        if plan is None:
            rows = [self._whole(blocks, rate, name, offset_s, whole_limit_s)]
        elif isinstance(plan, VoiceActivity):
            rows = self._voice_activity(blocks, rate, name, plan, offset_s)
        else:
            rows = self._windows(blocks, rate, name, plan, offset_s)
        return Predictions(rows, labels=self.labels, notes=[note] if note else [])

    def _whole(self, blocks: Iterator[np.ndarray], rate: int, name: str, offset_s: float,
               limit_s: float = MAX_WHOLE_SECONDS) -> Prediction:
        limit = round(limit_s * rate)
        kept, count = [], 0
        for block in blocks:
            kept.append(block)
            count += block.size
            if count > limit:
                raise AudioError(name, f"longer than {limit_s:g} s: too long for one label; "
                                       "cut it into segments (segment='vad' or 'windows', or `--segments`)")
        samples = np.concatenate(kept) if kept else np.zeros(0, np.float32)
        probs = self.probabilities(samples, rate, name=name, check_speech=True)  # silence, NaN, too short, no speech
        return self.row(probs, name, offset_s, offset_s + samples.size / rate)

    def _check_speech(self, samples: np.ndarray, rate: int, name: str) -> None:
        """Raise ``AudioError("no speech (a steady tone)")`` and the like unless ``samples`` hold speech."""
        reason = self._no_speech_reason(samples, rate)
        if reason is not None:
            raise AudioError(name, f"no speech ({reason})")

    def _voice_activity(self, blocks: Iterator[np.ndarray], rate: int, name: str, plan: VoiceActivity,
                        offset_s: float) -> list[Prediction]:
        from concurrent.futures import ThreadPoolExecutor

        rows: list[Prediction] = []
        peak = 0.0
        # the detector runs here while a second thread classifies the segments it has found: two cores
        with ThreadPoolExecutor(1, thread_name_prefix="emovox-classify") as classifier:
            session = StreamSession(self, rate, segmentation=plan, estimate_window_s=None, file=name,
                                    offset_s=offset_s, warm_up=False, executor=classifier)
            for block in blocks:
                peak = max(peak, float(np.max(np.abs(block)))) if block.size else peak
                rows += session.feed(block)
            rows += session.close()
        if session.samples_in == 0:
            raise AudioError(name, "no audio samples (0 frames)")
        if peak < audio_io.SILENCE_PEAK:
            raise AudioError(name, "silent (peak below -80 dBFS)")
        return [Prediction(r.file, round(r.start_s, 4), round(r.end_s, 4), r.label, r.probabilities, r.kind, r.index,
                           uncertain=r.uncertain) for r in rows]

    def _windows(self, blocks: Iterator[np.ndarray], rate: int, name: str, plan: Windows,
                 offset_s: float) -> list[Prediction]:
        window, hop = max(1, round(plan.window_s * rate)), max(1, round(plan.step_s * rate))
        buffer = np.zeros(0, np.float32)
        buffer_start = 0  # sample index (from offset) of buffer[0]
        next_start, total, rows = 0, 0, []

        def classify(start: int, stop: int) -> None:
            piece = buffer[start - buffer_start:stop - buffer_start]
            try:
                probs = self.probabilities(piece, rate, name=name, check_speech=True)
            except AudioError:
                return  # a window that is silent, too short or holds no speech gets no row
            rows.append(self.row(probs, name, offset_s + start / rate, offset_s + stop / rate, Kind.WINDOW,
                                 len(rows)))

        for block in blocks:
            buffer = np.concatenate([buffer, block])
            total += block.size
            while next_start + window <= total:
                classify(next_start, next_start + window)
                next_start += hop
                drop = min(next_start, total) - buffer_start
                if drop > 0:
                    buffer, buffer_start = buffer[drop:], buffer_start + drop
        if total == 0:
            raise AudioError(name, "no audio samples (0 frames)")
        covered = next_start - hop + window if next_start else 0
        if next_start < total and total > covered:
            classify(next_start, total)  # the tail: a last, shorter window
        if not rows:
            raise AudioError(name, "no window holds speech (or all are silent or too short)")
        return rows


def bundle_rate(manifest: dict, feature_set: FeatureSet, path: object) -> int:
    """The sample rate, Hz, a bundle's model was trained at.

    Bundles record it (``manifest["audio"]["rate"]``). For bundles written before they did, it is the
    feature set's own rate when it resamples (``whisper-base``, ``stats``, ...), else 48000 Hz for models
    trained on RAVDESS; anything else is an error saying what is missing.
    """
    recorded = (manifest.get("audio") or {}).get("rate") if isinstance(manifest.get("audio"), dict) else None
    if recorded is not None:
        return int(recorded)
    if isinstance(feature_set, SpeechFeatureSet):
        return int(feature_set.rate)
    corpus = str((manifest.get("training") or {}).get("corpus", ""))
    if "ravdess" in corpus.lower():
        return 48000
    raise BundleError(f"{path}: the bundle does not record the sample rate its model was trained at, and its "
                      f"feature set {feature_set.name!r} depends on the rate: retrain it with this version of emovox")


def load_model(path: str | os.PathLike | None = None, *, threads: int = 1,
               uncertain_below: float = UNCERTAIN_BELOW) -> Recognizer:
    """Load a model bundle (``.emovox``) for prediction.

    Args:
        path: the bundle; ``None`` loads the current model (the one chosen with ``emovox use``).
        threads: onnxruntime threads per prediction.
        uncertain_below: rows whose top probability is below this are flagged ``uncertain`` (0 to 1; 0: never).

    Raises:
        BundleError: no such bundle, or it is damaged, tampered with or incompatible.
    """
    if path is None:
        path = current_model_path()
        if path is None:
            raise BundleError("no model given and no current model: pass --model FILE, or choose one with "
                              "`emovox use NAME|FILE` (`emovox models` lists them)")
    if not 0.0 <= uncertain_below <= 1.0:
        raise ParameterError(f"uncertain_below must be a probability between 0 and 1, got {uncertain_below}")
    model = Recognizer(bundle_io.load(path, threads=threads))
    model.uncertain_below = float(uncertain_below)
    return model


def find_audio_files(root: str | os.PathLike, *, recursive: bool = True) -> list[Path]:
    """The audio files (by extension, :data:`~emovox.audio.AUDIO_EXTENSIONS`) in ``root``, sorted by path.

    Raises:
        AudioError: ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise AudioError(os.fsdecode(root), "no such folder")
    found = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in found if audio_io.is_audio_path(p) and p.is_file())


def no_audio_problem() -> str:
    """The problem of a folder without audio files."""
    return "no audio files in this folder (looked for " + ", ".join(
        e.lstrip(".").upper() for e in audio_io.AUDIO_EXTENSIONS[:6]) + ", ...)"


_WORKER: dict = {}


def _init_worker(bundle_path: str, settings: dict) -> None:
    from threadpoolctl import threadpool_limits

    _WORKER["limits"] = threadpool_limits(1)
    model = load_model(bundle_path, uncertain_below=settings["uncertain_below"])
    model.require_speech = settings["require_speech"]
    if settings["speaker"] is not None:
        model = model.adapted(settings["speaker"], min_utterances=0)
    _WORKER["model"] = model


def _worker_file(task: tuple) -> Predictions:
    path, plan, max_duration_s = task
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowRateWarning)
        return _WORKER["model"].process_file(path, segment=plan, max_duration_s=max_duration_s)
