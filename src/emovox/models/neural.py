"""A log-mel CNN in PyTorch behind the scikit-learn estimator API, exported to ONNX for bundles.

PyTorch is needed to train (``pip install 'emovox[neural]'``), never to predict: the
fitted network, its input normalisation and the softmax are exported as one ONNX
graph with the same input and outputs as every other bundle model (``features``
float32 ``(n, dim)`` in; a label index and probabilities ``(n, n_labels)`` out).

The network: four convolution blocks (3x3 convolution, batch norm, ReLU, 2x2 max
pooling; 16, 32, 64, 64 channels) over the ``(bands, frames)`` log-mel matrix, the
mean over frequency, attention pooling over time, dropout and a linear layer.
Training: AdamW with a one-cycle learning rate, SpecAugment (two frequency and two
time masks per example) and mixup, for a fixed number of epochs; no early stopping
on any test data. Hyper-parameters are fixed here, chosen before any test fold was seen.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..errors import ParameterError


def _torch():
    try:
        import torch
    except ImportError:
        raise ParameterError("this model needs PyTorch to train: pip install 'emovox[neural]' "
                             "(predicting from its bundle does not)") from None
    return torch


def _network(torch, n_bands: int, n_classes: int, width: int, dropout: float):
    nn = torch.nn

    def block(c_in: int, c_out: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                             nn.ReLU(inplace=True), nn.MaxPool2d(2))

    class AttentionPool(nn.Module):
        """Softmax-weighted mean over time: ``(n, c, t) -> (n, c)``."""

        def __init__(self, channels: int) -> None:
            super().__init__()
            self.score = nn.Conv1d(channels, 1, 1)

        def forward(self, x):
            weights = torch.softmax(self.score(x), dim=-1)
            return (x * weights).sum(dim=-1)

    class LogMelNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(block(1, width), block(width, 2 * width), block(2 * width, 4 * width),
                                          block(4 * width, 4 * width))
            self.pool = AttentionPool(4 * width)
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * width, n_classes))

        def forward(self, x):  # x: (n, 1, bands, frames), normalised
            return self.head(self.pool(self.features(x).mean(dim=2)))

    return LogMelNet()


class LogMelCNN(ClassifierMixin, BaseEstimator):
    """CNN over flattened ``(n_bands, n_frames)`` log-mel matrices (the ``logmel`` feature set).

    Args:
        n_bands: rows of the matrix each feature vector holds (columns follow from its length).
        epochs: passes over the training data.
        batch_size: examples per step.
        learning_rate: peak of the one-cycle schedule.
        weight_decay: AdamW's decoupled weight decay.
        width: channels of the first block (then 2x, 4x, 4x).
        dropout: before the last layer.
        mixup: Beta(mixup, mixup) mixing of example pairs and their targets; 0 turns it off.
        spec_augment: apply two frequency masks (up to 8 bands) and two time masks (up to 20 frames).
        random_state: seeds PyTorch and NumPy for initialisation, batches and augmentation.
    """

    def __init__(self, n_bands: int = 64, epochs: int = 30, batch_size: int = 32, learning_rate: float = 3e-3,
                 weight_decay: float = 1e-2, width: int = 16, dropout: float = 0.3, mixup: float = 0.2,
                 spec_augment: bool = True, random_state: int = 0) -> None:
        self.n_bands = n_bands
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.width = width
        self.dropout = dropout
        self.mixup = mixup
        self.spec_augment = spec_augment
        self.random_state = random_state

    def _matrices(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] % self.n_bands:
            raise ParameterError(f"LogMelCNN expects flattened ({self.n_bands}, frames) matrices; "
                                 f"got features of shape {X.shape} (use --features logmel)")
        return X.reshape(len(X), 1, self.n_bands, -1)

    def _normalised(self, matrices: np.ndarray) -> np.ndarray:
        """``matrices`` ``(n, 1, bands, frames)`` with each band's training mean and scale removed."""
        return (matrices - self.band_mean_[None, None, :, None]) / self.band_scale_[None, None, :, None]

    def fit(self, X: np.ndarray, y: np.ndarray) -> "LogMelCNN":
        """Train on ``X`` (float32 ``(n, n_bands * frames)``) and labels ``y`` (``(n,)``)."""
        torch = _torch()
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        matrices = self._matrices(X)
        self.classes_, targets = np.unique(np.asarray(y), return_inverse=True)
        if len(self.classes_) < 2:
            raise ParameterError("LogMelCNN needs at least two classes to train")
        # one mean and scale per band, over all training frames: part of the exported graph
        self.band_mean_ = matrices.mean(axis=(0, 1, 3)).astype(np.float32)
        self.band_scale_ = (matrices.std(axis=(0, 1, 3)) + 1e-3).astype(np.float32)
        data = torch.from_numpy(self._normalised(matrices))
        labels = torch.from_numpy(targets.astype(np.int64))
        net = _network(torch, self.n_bands, len(self.classes_), self.width, self.dropout)
        steps = max(1, int(np.ceil(len(data) / self.batch_size)))
        optimiser = torch.optim.AdamW(net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=self.learning_rate,
                                                       total_steps=self.epochs * steps)
        loss_fn = torch.nn.CrossEntropyLoss()
        net.train()
        for _ in range(self.epochs):
            order = torch.from_numpy(rng.permutation(len(data)))
            for step in range(steps):
                batch = order[step * self.batch_size:(step + 1) * self.batch_size]
                if len(batch) < 2:
                    continue  # batch norm needs two examples
                x, t = data[batch].clone(), labels[batch]
                if self.spec_augment:
                    _spec_augment(x, rng)
                if self.mixup > 0:
                    lam = float(rng.beta(self.mixup, self.mixup))
                    other = torch.from_numpy(rng.permutation(len(batch)))
                    x = lam * x + (1 - lam) * x[other]
                    logits = net(x)
                    loss = lam * loss_fn(logits, t) + (1 - lam) * loss_fn(logits, t[other])
                else:
                    loss = loss_fn(net(x), t)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
        net.eval()
        self.network_ = net
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, float32 ``(n, n_classes)``, columns in the order of ``classes_``."""
        torch = _torch()
        matrices = self._normalised(self._matrices(X))
        with torch.no_grad():
            return torch.softmax(self.network_(torch.from_numpy(matrices)), dim=1).numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class of each row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def to_onnx(self, n_features: int) -> bytes:
        """The fitted network as ONNX: input ``features`` float32 ``(n, n_features)``; outputs
        ``label`` int64 ``(n,)`` (index into ``classes_``) and ``probabilities`` float32 ``(n, n_classes)``."""
        torch = _torch()
        n_frames, n_bands = n_features // self.n_bands, self.n_bands

        class Exported(torch.nn.Module):
            def __init__(self, net, mean: np.ndarray, scale: np.ndarray) -> None:
                super().__init__()
                self.net = net
                self.register_buffer("mean", torch.from_numpy(mean).reshape(1, 1, -1, 1))
                self.register_buffer("scale", torch.from_numpy(scale).reshape(1, 1, -1, 1))

            def forward(self, features):
                x = (features.reshape(-1, 1, n_bands, n_frames) - self.mean) / self.scale
                probabilities = torch.softmax(self.net(x), dim=1)
                return torch.argmax(probabilities, dim=1), probabilities

        exported = Exported(self.network_, self.band_mean_, self.band_scale_).eval()
        with torch.no_grad():
            program = torch.onnx.export(exported, (torch.zeros(2, n_features),), input_names=["features"],
                                        output_names=["label", "probabilities"],
                                        dynamic_shapes=({0: torch.export.Dim("n")},), opset_version=18,
                                        dynamo=True, verbose=False)
        return program.model_proto.SerializeToString()


def _spec_augment(x, rng: np.random.Generator, masks: int = 2, max_bands: int = 8, max_frames: int = 20) -> None:
    """Zero (the normalised mean) random bands and frame spans of each example in ``x`` ``(n, 1, bands, frames)``, in place."""
    n, _, bands, frames = x.shape
    for i in range(n):
        for _ in range(masks):
            width = int(rng.integers(0, max_bands + 1))
            start = int(rng.integers(0, max(1, bands - width)))
            x[i, :, start:start + width, :] = 0.0
            width = int(rng.integers(0, max_frames + 1))
            start = int(rng.integers(0, max(1, frames - width)))
            x[i, :, :, start:start + width] = 0.0
