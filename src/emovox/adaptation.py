"""Speaker adaptation: the statistics of one voice, gathered from its own unlabelled audio.

Much of what tells two clips apart is the voice, not the emotion. A bundle trained with a
speaker-adaptive head (``emovox train`` adds one to the recipes that support it) can remove the
voice once it has heard enough of it: every feature vector is standardised with the mean and
standard deviation of that voice's vectors (a :class:`SpeakerProfile`) before the head classifies it.
No label is needed, only audio of the same speaker: the earlier clips of a live session, the other
recordings in a folder of one person, or a profile saved from an earlier session.

Measured on RAVDESS (``bench/adaptation.py``, ``ravdess-si6``, 8 emotions): standardising with 3 clips
of the voice gives 67.6 % UAR, 10 clips 80.1 %, 60 clips 83.8 %, against 76.2 % without adaptation. So a
profile is used only once it holds :data:`MIN_UTTERANCES` utterances; before that the model answers as
it always does. The clips of those figures spanned every emotion: a profile built from one mood only
(ten angry clips) is standardised towards that mood and will answer worse, not better.

>>> profile = model.speaker_profile(["me-01.wav", ..., "me-12.wav"])      # doctest: +SKIP
>>> model.adapted(profile).process_file("me-13.wav")                       # doctest: +SKIP
>>> session = model.stream(48000, speaker=model.speaker_profile())         # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import DataError, ParameterError
from .paths import atomic_write

#: Utterances (clips or segments with speech) a profile needs before answers are adapted with it: below
#: about ten, standardising with so few clips of the voice lost accuracy on RAVDESS (``bench/adaptation.py``).
MIN_UTTERANCES = 10
#: Added to each feature's standard deviation, so a constant feature does not divide by zero.
EPSILON = 1e-6
#: The ``format`` of a saved profile.
FORMAT = "emovox-speaker-profile"
FORMAT_VERSION = 1
#: Largest saved profile read, bytes (a 2048-value feature set needs about 100 kB).
MAX_PROFILE_BYTES = 16 * 1024 * 1024


class SpeakerProfile:
    """Running mean and standard deviation of one speaker's feature vectors.

    Args:
        dim: length of the feature vectors.
        feature_set: what the vectors are (``{"name", "version", "params", "dim"}``, as a bundle's manifest
            records it); a profile is only used with a model of the same feature set.

    Attributes:
        count: utterances added so far.
        mean: float64, shape ``(dim,)``: their mean.
        errors: the inputs that gave no utterance, when :meth:`emovox.Recognizer.speaker_profile` made it.
    """

    def __init__(self, dim: int, feature_set: dict | None = None) -> None:
        if not isinstance(dim, int) or dim < 1:
            raise ParameterError(f"a speaker profile needs a feature length of at least 1, got {dim!r}")
        self.dim = dim
        self.feature_set = dict(feature_set) if feature_set else {}
        self.count = 0
        self.mean = np.zeros(dim, np.float64)
        self._sum_squares = np.zeros(dim, np.float64)  # of deviations from the mean (Chan et al.'s M2)
        #: Inputs that gave no utterance when the profile was made from files (``FileError``; not saved).
        self.errors: list = []

    @classmethod
    def of(cls, features: np.ndarray, feature_set: dict | None = None) -> SpeakerProfile:
        """A profile of the rows of ``features`` (shape ``(n, dim)``)."""
        features = np.atleast_2d(features)
        profile = cls(int(features.shape[1]), feature_set)
        profile.add(features)
        return profile

    @property
    def std(self) -> np.ndarray:
        """float64, shape ``(dim,)``: the standard deviation of the utterances added (population, ddof 0)."""
        return np.sqrt(self._sum_squares / self.count) if self.count else np.zeros(self.dim)

    def ready(self, min_utterances: int = MIN_UTTERANCES) -> bool:
        """Whether the profile holds at least ``min_utterances`` utterances."""
        return self.count >= min_utterances

    def add(self, features: np.ndarray) -> None:
        """Add utterances: feature vectors of shape ``(dim,)`` or ``(n, dim)``, finite."""
        block = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if block.ndim != 2 or block.shape[1] != self.dim:
            raise ParameterError(f"features of shape {np.shape(features)} added to a speaker profile of "
                                 f"{self.dim} values")
        if not np.all(np.isfinite(block)):
            raise ParameterError("features added to a speaker profile contain NaN or infinity")
        if block.shape[0]:
            mean = block.mean(axis=0)
            self._combine(block.shape[0], mean, ((block - mean) ** 2).sum(axis=0))

    def merge(self, other: SpeakerProfile) -> None:
        """Add every utterance ``other`` holds (a profile of the same voice and feature set)."""
        if other.dim != self.dim or (self.feature_set and other.feature_set and not self.matches(other.feature_set)):
            raise ParameterError("the two speaker profiles were made from different features")
        if other.count:
            self._combine(other.count, other.mean, other._sum_squares)

    def _combine(self, n: int, mean: np.ndarray, sum_squares: np.ndarray) -> None:
        """Pool ``n`` utterances of mean ``mean`` and summed squared deviations ``sum_squares`` into the profile
        (the pairwise update of Chan, Golub and LeVeque)."""
        total = self.count + n
        delta = mean - self.mean
        self._sum_squares = self._sum_squares + sum_squares + delta ** 2 * (self.count * n / total)
        self.mean = self.mean + delta * (n / total)
        self.count = total

    def normalise(self, features: np.ndarray) -> np.ndarray:
        """``(features - mean) / (std + EPSILON)``, float32, the shape of ``features`` (``(..., dim)``).

        Raises:
            ParameterError: the profile is empty, or ``features`` has another length.
        """
        if self.count == 0:
            raise ParameterError("the speaker profile is empty: add utterances of the speaker first")
        features = np.asarray(features, dtype=np.float64)
        if features.shape[-1] != self.dim:
            raise ParameterError(f"features of shape {features.shape} normalised with a speaker profile of "
                                 f"{self.dim} values")
        return ((features - self.mean) / (self.std + EPSILON)).astype(np.float32)

    def matches(self, feature_set: dict) -> bool:
        """Whether the profile was made from ``feature_set``'s vectors (name, version, parameters, length)."""
        keys = ("name", "version", "params", "dim")
        return all(self.feature_set.get(k) == feature_set.get(k) for k in keys)

    # -- files ------------------------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """JSON-ready: format, feature set, count, mean and standard deviation (as lists of floats)."""
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "feature_set": self.feature_set,
                "count": self.count, "mean": self.mean.tolist(), "std": self.std.tolist()}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the profile as JSON, atomically (readers see the old file or the whole new one)."""
        path = Path(path)
        atomic_write(path, json.dumps(self.to_dict()).encode())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> SpeakerProfile:
        """Read a profile written by :meth:`save`.

        Raises:
            ParameterError: missing, unreadable, or not a valid profile (one line naming the file and why).
        """
        where = os.fsdecode(path)
        try:
            with open(path, "rb") as handle:
                blob = handle.read(MAX_PROFILE_BYTES + 1)
        except FileNotFoundError:
            raise ParameterError(f"{where}: no such speaker profile") from None
        except OSError as exc:
            raise ParameterError(f"{where}: cannot read the speaker profile ({exc.strerror or exc})") from None
        if len(blob) > MAX_PROFILE_BYTES:
            raise ParameterError(f"{where}: larger than a speaker profile may be ({MAX_PROFILE_BYTES} bytes)")
        try:
            document = json.loads(blob)
        except (ValueError, RecursionError):
            raise ParameterError(f"{where}: not a speaker profile (not JSON)") from None
        problem = _profile_problem(document)
        if problem:
            raise ParameterError(f"{where}: not a usable speaker profile ({problem})")
        mean = np.asarray(document["mean"], dtype=np.float64)
        std = np.asarray(document["std"], dtype=np.float64)
        profile = cls(int(mean.size), document["feature_set"])
        profile.count = int(document["count"])
        profile.mean = mean
        profile._sum_squares = std ** 2 * profile.count
        return profile

    def __repr__(self) -> str:
        name = self.feature_set.get("name", "?")
        return f"SpeakerProfile({self.count} utterances of {name}, {self.dim} values)"


def speaker_normalise(features: np.ndarray, speakers: Sequence) -> np.ndarray:
    """Each row of ``features`` (shape ``(n, dim)``) standardised with the profile of its speaker's rows: what the
    speaker-adaptive head is trained on, and how the speaker-adaptive evaluation rows are made. float32, same shape.

    Raises:
        DataError: a row has no speaker (``None``).
    """
    speakers = np.array(list(speakers) + [None], dtype=object)[:-1]  # 1-D whatever the ids are
    if any(s is None for s in speakers):
        raise DataError("speaker-adaptive normalisation needs a speaker for every recording")
    out = np.empty(features.shape, dtype=np.float32)
    for speaker in dict.fromkeys(speakers):
        rows = speakers == speaker
        out[rows] = SpeakerProfile.of(features[rows]).normalise(features[rows])
    return out


def _profile_problem(document: object) -> str | None:
    """What makes ``document`` not a profile :meth:`SpeakerProfile.to_dict` could have written, or ``None``."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return f"format is not {FORMAT!r}"
    if document.get("format_version") != FORMAT_VERSION:
        return f"format version {document.get('format_version')!r}, this emovox reads {FORMAT_VERSION}"
    if not isinstance(document.get("feature_set"), dict):
        return "no feature set"
    count = document.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return "count is not a positive integer"
    mean, std = document.get("mean"), document.get("std")
    if not isinstance(mean, list) or not isinstance(std, list) or not mean or len(mean) != len(std):
        return "mean and std are not two lists of the same length"
    if document["feature_set"].get("dim", len(mean)) != len(mean):
        return f"{len(mean)} values, but the feature set has {document['feature_set'].get('dim')}"
    for value in (*mean, *std):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return "a mean or std value is not a finite number"
    if any(value < 0 for value in std):
        return "a negative standard deviation"
    return None
