"""scikit-learn models by name. Each is a plain estimator (or ``Pipeline``), so it drops into
``cross_validate``, and each converts to ONNX with skl2onnx for the bundle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..errors import ParameterError


@dataclass(frozen=True)
class ModelSpec:
    """A named model: how to build it, which feature set it expects, and one line about it."""

    name: str
    build: Callable[[int], BaseEstimator]
    features: str
    summary: str


def seed_mlp(random_state: int = 0) -> MLPClassifier:
    """The seed's classifier, exactly: one hidden layer of 300 tanh units, adam, no feature scaling."""
    return MLPClassifier(alpha=0.001, batch_size=256, epsilon=1e-08, hidden_layer_sizes=(300,),
                         learning_rate="adaptive", max_iter=1000, activation="tanh", solver="adam",
                         random_state=random_state)


def whisper_lr(random_state: int = 0) -> Pipeline:
    """Standardised Whisper-base embeddings into a multinomial logistic regression whose L2
    strength is chosen by 3-fold cross-validation on the training data only."""
    return Pipeline([
        ("scale", StandardScaler()),
        ("classify", LogisticRegressionCV(Cs=[0.003, 0.01, 0.03], cv=StratifiedKFold(3, shuffle=True, random_state=random_state),
                                          max_iter=1000, l1_ratios=(0.0,), scoring="balanced_accuracy",
                                          use_legacy_attributes=False, random_state=random_state)),
    ])


def scaled_lr(random_state: int = 0) -> Pipeline:
    """Standardised features into a logistic regression (C 0.01), for any feature set."""
    return Pipeline([("scale", StandardScaler()),
                     ("classify", LogisticRegression(C=0.01, max_iter=2000, random_state=random_state))])


MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model to :data:`MODELS`."""
    MODELS[spec.name] = spec
    return spec


register(ModelSpec("seed-mlp", seed_mlp, "seed180",
                   "the seed's MLPClassifier(300 tanh units, alpha 0.001, adam), unscaled seed180 features"))
register(ModelSpec("whisper-lr", whisper_lr, "whisper-base",
                   "Whisper-base encoder layers 2-3 (int8 ONNX) pooled, logistic regression tuned on training data"))
register(ModelSpec("stats-lr", scaled_lr, "stats", "505 frame-feature statistics, scaled, logistic regression"))


def logmel_cnn(random_state: int = 0):
    """The log-mel CNN of :mod:`emovox.models.neural` (PyTorch to train, ONNX in the bundle)."""
    from .neural import LogMelCNN

    return LogMelCNN(random_state=random_state)


register(ModelSpec("logmel-cnn", logmel_cnn, "logmel",
                   "4-block CNN + attention pooling over 64x192 log-mels, SpecAugment + mixup (PyTorch, ONNX)"))


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` called ``name``."""
    if name not in MODELS:
        raise ParameterError(f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}")
    return MODELS[name]
