"""scikit-learn models by name. Each is a plain estimator (or ``Pipeline``), so it drops into
``cross_validate``, and each converts to ONNX with skl2onnx for the bundle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sklearn.base import BaseEstimator
from sklearn.neural_network import MLPClassifier

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


MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model to :data:`MODELS`."""
    MODELS[spec.name] = spec
    return spec


register(ModelSpec("seed-mlp", seed_mlp, "seed180",
                   "the seed's MLPClassifier(300 tanh units, alpha 0.001, adam), unscaled seed180 features"))


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` called ``name``."""
    if name not in MODELS:
        raise ParameterError(f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}")
    return MODELS[name]
