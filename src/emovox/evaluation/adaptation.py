"""Speaker-adaptive evaluation: features normalised per speaker from that speaker's own unlabelled audio.

A deployment that hears several clips of one voice (a call, a session, a user's history)
can remove much of what is the voice rather than the emotion: every feature is
standardised with the mean and standard deviation of that speaker's clips. No label is
used, but the test speaker's audio is, so figures with it are a separate row, never the
headline (which classifies each clip on its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError

if TYPE_CHECKING:
    from ..pipeline import Dataset

#: Added to each speaker's standard deviation, so a constant feature does not divide by zero.
EPSILON = 1e-6


def speaker_normalise(features: np.ndarray, speakers: Sequence) -> np.ndarray:
    """Each row standardised with the mean and std of its speaker's rows, float32, same shape.

    Raises:
        DataError: if a row has no speaker.
    """
    speakers = np.array(list(speakers) + [None], dtype=object)[:-1]  # 1-D whatever the ids are
    if any(s is None for s in speakers):
        raise DataError("speaker-adaptive normalisation needs a speaker for every recording")
    out = np.empty(features.shape, dtype=np.float32)
    for speaker in dict.fromkeys(speakers):
        rows = speakers == speaker
        block = features[rows].astype(np.float64)
        out[rows] = (block - block.mean(axis=0)) / (block.std(axis=0) + EPSILON)
    return out


def speaker_adapted(dataset: Dataset) -> Dataset:
    """A copy of ``dataset`` whose features are :func:`speaker_normalise`-d (speakers within a corpus).

    Augmented copies (training only) are normalised the same way among themselves: a speaker's
    degraded copies by the statistics of that speaker's degraded copies, as a noisy session would be.
    """
    keys = [f"{u.corpus}/{u.speaker}" if u.speaker is not None else None for u in dataset.utterances]
    augmented = dataset.augmented
    if augmented is not None:
        augmented = replace(augmented, features=speaker_normalise(augmented.features,
                                                                  [keys[i] for i in augmented.source]))
    return replace(dataset, features=speaker_normalise(dataset.features, keys), augmented=augmented)
