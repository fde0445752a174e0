"""A plain numpy forward pass of Whisper-base's encoder, written from the architecture.

The reference that tests compare the ONNX graph with, and the "plain" per-file
implementation the feature benchmark times emovox against. Float64, slow, clear.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf


def numpy_encoder(w: dict[str, np.ndarray], mel: np.ndarray, n_layers: int = 3, pooled: tuple[int, ...] = (2, 3)) -> np.ndarray:
    """The pooled embedding, shape ``(1024 * len(pooled),)``, for a log-mel ``mel`` of shape ``(80, T)``:
    conv, strided conv, positions, then pre-norm transformer layers, as :func:`.whisper_onnx.encoder_onnx`."""
    gelu = lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2)))  # noqa: E731
    norm = lambda x, p: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w[p + "/gamma"] + w[p + "/beta"]  # noqa: E731
    lin = lambda x, p: x @ w[p + "/weight"].T + w[p + "/bias"]  # noqa: E731

    def conv(x, weight, bias, stride):
        x = np.pad(x, ((0, 0), (1, 1)))
        cols = np.stack([x[:, k:k + (x.shape[1] - 2 - 1) // stride * stride + 1:stride] for k in range(3)], axis=-1)
        return np.einsum("ctk,ock->ot", cols, weight) + bias[:, None]

    x = gelu(conv(mel, w["encoder/conv1/weight"], w["encoder/conv1/bias"], 1))
    x = gelu(conv(x, w["encoder/conv2/weight"], w["encoder/conv2/bias"], 2)).T
    x = x + w["encoder/position_encodings/encodings"][: len(x)]
    heads, out = int(w["num_heads"]), []
    for i in range(n_layers):
        p = f"encoder/layer_{i}"
        q, k, v = np.split(lin(norm(x, p + "/self_attention/layer_norm"), p + "/self_attention/linear_0"), 3, axis=-1)
        split = lambda a: a.reshape(len(x), heads, -1).transpose(1, 0, 2)  # noqa: E731
        scores = split(q) @ split(k).transpose(0, 2, 1) / np.sqrt(q.shape[-1] // heads)
        attn = np.exp(scores - scores.max(-1, keepdims=True))
        attn /= attn.sum(-1, keepdims=True)
        x = x + lin((attn @ split(v)).transpose(1, 0, 2).reshape(len(x), -1), p + "/self_attention/linear_1")
        x = x + lin(gelu(lin(norm(x, p + "/ffn/layer_norm"), p + "/ffn/linear_0")), p + "/ffn/linear_1")
        if i + 1 in pooled:
            out += [x.mean(0), x.std(0)]
    return np.concatenate(out)
