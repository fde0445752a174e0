"""openSMILE functionals (``egemaps``, ``compare``) through the optional ``opensmile`` package.

openSMILE is free for research and education only (audEERING's licence); install it
with ``pip install 'emovox[opensmile]'`` and check its licence before commercial use.
Audio is resampled to 16 kHz and trimmed of leading and trailing silence first.
"""

from __future__ import annotations

import numpy as np

from ..audio import Audio
from ..errors import ParameterError
from .base import SpeechFeatureSet, register

RATE = 16000


class _OpenSmile(SpeechFeatureSet):
    feature_set_name: str
    dims: int
    min_seconds = 0.2

    rate = RATE

    def __init__(self, *, trim_db: float = 35.0) -> None:
        super().__init__(trim_db=trim_db)
        self._smile = None

    @property
    def dim(self) -> int:
        return self.dims

    def __getstate__(self) -> dict:  # the openSMILE handle is rebuilt in each process
        return {"trim_db": self.trim_db, "_smile": None}

    def _extractor(self):
        if self._smile is None:
            try:
                import opensmile
            except ImportError:
                raise ParameterError(f"feature set {self.name!r} needs openSMILE: pip install 'emovox[opensmile]'") from None
            self._smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, self.feature_set_name),
                                          feature_level=opensmile.FeatureLevel.Functionals)
        return self._smile

    def transform(self, audio: Audio) -> np.ndarray:
        values = self._extractor().process_signal(self.speech(audio).samples, RATE).to_numpy()[0]
        return np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)


@register
class EGeMAPS(_OpenSmile):
    """openSMILE eGeMAPSv02 functionals (88 values)."""

    name = "egemaps"
    version = 1
    feature_set_name = "eGeMAPSv02"
    dims = 88


@register
class ComParE(_OpenSmile):
    """openSMILE ComParE_2016 functionals (6373 values)."""

    name = "compare"
    version = 1
    feature_set_name = "ComParE_2016"
    dims = 6373
