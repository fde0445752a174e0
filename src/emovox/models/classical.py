"""scikit-learn models by name. Each is a plain estimator (or ``Pipeline``), so it drops into
``cross_validate``, and each converts to ONNX with skl2onnx for the bundle."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ..registry import Registry


@dataclass(frozen=True)
class ModelSpec:
    """A named model: how to build it, which feature set it expects, one line about it, how many
    degraded copies of each training clip it trains on besides the clip (``augment``, see
    :mod:`emovox.features.augmented`) and what their babble is made from (``babble``: ``"self"``, the clip's own
    voice; ``"speaker"``, the speaker's other recordings), what training it costs, as measured (``cost``, for
    `emovox models`), and whether its bundles get a speaker-adaptive head (``speaker_adaptive``: the same model
    fitted again on features standardised per speaker, :mod:`emovox.adaptation`)."""

    name: str
    build: Callable[[int], BaseEstimator]
    features: str
    summary: str
    augment: int = 0
    babble: str = "self"
    cost: str = ""
    speaker_adaptive: bool = False


def seed_mlp(random_state: int = 0) -> MLPClassifier:
    """The seed's classifier, exactly: one hidden layer of 300 tanh units, adam, no feature scaling."""
    return MLPClassifier(alpha=0.001, batch_size=256, epsilon=1e-08, hidden_layer_sizes=(300,),
                         learning_rate="adaptive", max_iter=1000, activation="tanh", solver="adam",
                         random_state=random_state)


class TunedLR(ClassifierMixin, BaseEstimator):
    """Standardised features into a multinomial logistic regression, tuned and calibrated on
    the training data only.

    ``fit`` runs an inner cross-validation on the training data: by speaker when
    ``groups`` (the training rows' speakers) are given, so that the choice is made on
    voices the model has not heard, else stratified. It picks the L2 strength ``C`` from
    ``Cs`` with the best balanced accuracy (the smallest on ties), then, when
    ``calibrate``, fits a temperature to the inner folds' held-out scores at that ``C``
    (minimum log loss). The final model is fitted on all the data with that ``C``, its
    coefficients divided by the temperature: still a plain scikit-learn
    ``Pipeline(StandardScaler, LogisticRegression)`` (:attr:`pipeline_`), so it converts
    to ONNX as before and its probabilities are the calibrated ones.

    Attributes (after ``fit``): ``C_``, ``temperature_``, ``inner_scores_`` (balanced
    accuracy per C), ``pipeline_``, ``classes_``.
    """

    def __init__(self, *, Cs: Sequence[float] = (0.003, 0.01, 0.03), inner_folds: int = 3, calibrate: bool = True,
                 max_iter: int = 1000, random_state: int = 0) -> None:
        self.Cs = Cs
        self.inner_folds = inner_folds
        self.calibrate = calibrate
        self.max_iter = max_iter
        self.random_state = random_state

    def _make(self, C: float) -> Pipeline:
        return Pipeline([("scale", StandardScaler()),
                         ("classify", LogisticRegression(C=C, max_iter=self.max_iter, random_state=self.random_state))])

    def _splits(self, X: np.ndarray, y: np.ndarray, groups) -> list:
        if groups is not None and len(set(groups)) >= self.inner_folds:
            return list(GroupKFold(self.inner_folds).split(X, y, groups))
        return list(StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.random_state).split(X, y))

    def fit(self, X: np.ndarray, y: np.ndarray, groups: Sequence | None = None) -> TunedLR:
        # one BLAS thread: these fits are many and small, and BLAS threads spinning beside them made a cold
        # `emovox train` of the default recipe several times slower on two cores (and its result depend on the cores)
        with threadpool_limits(1):
            return self._fit(np.asarray(X), np.asarray(y), groups)

    def _fit(self, X: np.ndarray, y: np.ndarray, groups: Sequence | None) -> TunedLR:
        classes = np.unique(y)
        index = np.searchsorted(classes, y)  # rows' label as a column of the scores
        Cs = sorted(self.Cs)
        held_out = {C: np.zeros((len(y), len(classes))) for C in Cs}
        if len(Cs) > 1 or self.calibrate:
            for train, test in self._splits(X, y, groups):
                for C in Cs:
                    model = self._make(C).fit(X[train], y[train])
                    scores = model.decision_function(X[test])
                    if scores.ndim == 1:  # two classes: one score, for the second
                        scores = np.stack([np.zeros_like(scores), scores], axis=1)
                    held_out[C][np.ix_(test, np.searchsorted(classes, model.classes_))] = scores
        self.inner_scores_ = {C: float(balanced_accuracy_score(index, held_out[C].argmax(axis=1))) for C in Cs}
        self.C_ = max(Cs, key=lambda C: (self.inner_scores_[C], -C))
        self.temperature_ = _temperature(held_out[self.C_], index) if self.calibrate else 1.0
        self.pipeline_ = self._make(self.C_).fit(X, y)
        classify = self.pipeline_.named_steps["classify"]
        classify.coef_ = classify.coef_ / self.temperature_
        classify.intercept_ = classify.intercept_ / self.temperature_
        self.classes_ = self.pipeline_.classes_
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.pipeline_.decision_function(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.pipeline_.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.pipeline_.predict(X)

    def to_onnx(self, n_features: int) -> bytes:
        """The fitted pipeline as ONNX (float32 input ``features``, probabilities without ZipMap)."""
        from skl2onnx import to_onnx as skl_to_onnx
        from skl2onnx.common.data_types import FloatTensorType

        onx = skl_to_onnx(self.pipeline_, initial_types=[("features", FloatTensorType([None, n_features]))],
                          options={"zipmap": False}, target_opset={"": 17, "ai.onnx.ml": 3})
        return onx.SerializeToString()


def _temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the log loss of ``softmax(logits / T)`` for labels ``y``."""
    rows = np.arange(len(y))

    def loss(log_t: float) -> float:
        return -float(np.mean(log_softmax(logits / np.exp(log_t), axis=1)[rows, y]))

    return float(np.exp(minimize_scalar(loss, bounds=(np.log(0.05), np.log(20.0)), method="bounded").x))


def whisper_lr(random_state: int = 0) -> TunedLR:
    """Whisper-base embeddings into a :class:`TunedLR`: C in 0.003, 0.01, 0.03 and a temperature,
    both chosen by 3-fold cross-validation on the training speakers only."""
    return TunedLR(Cs=(0.003, 0.01, 0.03), inner_folds=3, random_state=random_state)


def scaled_lr(random_state: int = 0) -> Pipeline:
    """Standardised features into a logistic regression (C 0.01), for any feature set."""
    return Pipeline([("scale", StandardScaler()),
                     ("classify", LogisticRegression(C=0.01, max_iter=2000, random_state=random_state))])


#: The recipes (models emovox can train), by name.
MODELS: Registry[ModelSpec] = Registry("recipe")


def register(spec: ModelSpec) -> ModelSpec:
    """Add a recipe to :data:`MODELS` under ``spec.name``."""
    return MODELS.register(spec.name)(spec)


register(ModelSpec("seed-mlp", seed_mlp, "seed180",
                   "the seed's MLPClassifier(300 tanh units, alpha 0.001, adam), unscaled seed180 features"))
register(ModelSpec("whisper-lr", whisper_lr, "whisper-base",
                   "Whisper-base encoder layers 2-3 (int8 ONNX) pooled, logistic regression tuned and calibrated on training speakers",
                   cost="about 3 minutes on 2 cores for all of RAVDESS from a cold cache, evaluation included",
                   speaker_adaptive=True))
register(ModelSpec("whisper-vad-lr", whisper_lr, "whisper-base-vad",
                   "as whisper-lr, on the speech Silero VAD finds rather than the energy-trimmed clip",
                   speaker_adaptive=True))
register(ModelSpec("whisper-vad-aug-lr", whisper_lr, "whisper-base-vad",
                   "as whisper-vad-lr, trained on each clip and 4 randomly degraded copies of it (noise, babble, "
                   "rooms, phone and codec channels, levels; emovox.augment)", augment=4,
                   cost="about 6 minutes on 2 cores for all of RAVDESS from a cold cache, evaluation included",
                   speaker_adaptive=True))
register(ModelSpec("whisper-vad-babble-lr", whisper_lr, "whisper-base-vad",
                   "as whisper-vad-aug-lr, but the copies' babble is other recordings of the same speaker (other "
                   "words and emotions) and their noise 5-20 dB: for audio with other voices in it; lower on clean "
                   "and cross-corpus audio", augment=4, babble="speaker",
                   cost="about 7 minutes on 2 cores for all of RAVDESS from a cold cache, evaluation included",
                   speaker_adaptive=True))
register(ModelSpec("stats-lr", scaled_lr, "stats", "505 frame-feature statistics, scaled, logistic regression",
                   speaker_adaptive=True))


def logmel_cnn(random_state: int = 0):
    """The log-mel CNN of :mod:`emovox.models.neural` (PyTorch to train, ONNX in the bundle)."""
    from .neural import LogMelCNN

    return LogMelCNN(random_state=random_state)


register(ModelSpec("logmel-cnn", logmel_cnn, "logmel",
                   "4-block CNN + attention pooling over 64x192 log-mels, SpecAugment + mixup (PyTorch, ONNX)"))


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` called ``name``.

    Raises:
        ParameterError: no such recipe (the message lists them).
    """
    return MODELS.get(name)
