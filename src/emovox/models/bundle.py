"""Model bundles: one ``.emovox`` file that loads without executing anything from it.

A bundle is a zip archive (stored, not compressed) with these members:

- ``model.onnx``: the fitted estimator as ONNX; input ``features`` float32 ``(n, dim)``,
  outputs a label index and a probability matrix ``(n, n_labels)``;
- ``manifest.json``: labels, feature set (name, version, parameters, asset names), model
  name and parameters, training-data summary, evaluation metrics, emovox version;
- ``assets/<name>``: files the feature set needs (for example an encoder as ONNX);
- ``speaker-adaptive.onnx`` (optional, with ``manifest["speaker_adaptive"]``): a second head, the same
  input and outputs, trained on features standardised per speaker (:mod:`emovox.adaptation`);
- ``SHA256SUMS``: the SHA-256 of every other member.

Loading trusts nothing in the file. In order, it checks:

1. the archive's directory, before reading any member: at most :data:`MAX_MEMBERS` members,
   no duplicate names, each at most :data:`MAX_MEMBER_BYTES` (the manifest
   :data:`MAX_MANIFEST_BYTES`), all together at most :data:`MAX_TOTAL_BYTES`, and no
   compressed member expanding more than :data:`MAX_COMPRESSION_RATIO` times; members are
   then read in chunks that count the bytes really produced, so a header that lies cannot
   make it use more memory than those limits;
2. ``SHA256SUMS`` against every member;
3. the manifest: size, nesting depth (:data:`MAX_JSON_DEPTH`), then :data:`MANIFEST_SCHEMA`
   (JSON Schema, Draft 2020-12) before any of its values is used;
4. ``model.onnx``, the speaker-adaptive head and every ``.onnx`` asset: a parseable ONNX model with
   no tensor stored as external data (which onnxruntime would read from a path named in the file);
5. the model, run by onnxruntime on one row of zeros: its output must be probabilities
   of shape ``(1, n_labels)``; every later output is checked the same way.

Every failure is one :class:`~emovox.errors.BundleError` line naming the bundle; no pickle
is involved at any point.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ..version import __version__
from ..errors import BundleError, ParameterError
from ..paths import atomic_write

FORMAT = "emovox-bundle"
FORMAT_VERSION = 1
MEMBERS = ("manifest.json", "model.onnx", "SHA256SUMS")
#: The optional speaker-adaptive head's member.
SPEAKER_HEAD = "speaker-adaptive.onnx"

#: Largest member, bytes (uncompressed).
MAX_MEMBER_BYTES = 512 * 1024 * 1024
#: Largest manifest.json, bytes.
MAX_MANIFEST_BYTES = 1024 * 1024
#: Largest sum of all members, bytes (uncompressed); also the largest bundle file.
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
#: Most members in the archive.
MAX_MEMBERS = 64
#: Largest uncompressed / compressed size of a compressed member (a zip bomb has thousands).
MAX_COMPRESSION_RATIO = 100
#: Deepest nesting of arrays and objects in manifest.json.
MAX_JSON_DEPTH = 32
#: Members are read this many bytes at a time.
READ_CHUNK_BYTES = 1024 * 1024
#: Largest difference from 1 of the sum of a row of probabilities.
PROBABILITY_TOLERANCE = 1e-3

_PLAIN_NAME = r"^(?!\.\.?$)[^/\\\x00-\x1f\x7f]+$"  # a file name: no folder, not '.' or '..', no control characters
_LINE = r"^[^\x00-\x1f\x7f]*$"  # printable on one line

#: What ``manifest.json`` must look like. Fields emovox reads are checked; others are allowed
#: (a newer emovox may add some). ``integer`` means a JSON integer (not ``2.0``) and ``number``
#: a finite one (not ``NaN`` or ``Infinity``).
MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "emovox bundle manifest",
    "type": "object",
    "required": ["format", "format_version", "labels", "feature_set"],
    "properties": {
        "format": {"const": FORMAT},
        "format_version": {"const": FORMAT_VERSION},
        "emovox_version": {"type": "string", "maxLength": 64, "pattern": _LINE},
        "created": {"type": "string", "maxLength": 64, "pattern": _LINE},
        "labels": {"type": "array", "minItems": 2, "maxItems": 64, "uniqueItems": True,
                   "items": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": _LINE}},
        "feature_set": {
            "type": "object",
            "required": ["name", "params", "dim"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": _LINE},
                "version": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
                "params": {"type": "object", "maxProperties": 64,
                           "properties": {"trim_db": {"type": "number", "minimum": 0, "maximum": 120}}},
                "dim": {"type": "integer", "minimum": 1, "maximum": 100_000},
                "assets": {"type": "array", "maxItems": MAX_MEMBERS, "uniqueItems": True,
                           "items": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": _PLAIN_NAME}},
            },
        },
        "audio": {
            "type": "object",
            "required": ["rate"],
            "properties": {"rate": {"type": "integer", "minimum": 1000, "maximum": 384_000},
                           "channels": {"const": "mix"}},
        },
        "model": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": _LINE},
                           "summary": {"type": "string", "maxLength": 4096},
                           "seed": {"type": "integer"},
                           "params": {"type": "object"}},
        },
        "training": {"type": "object"},
        "metrics": {
            "type": "array",
            "maxItems": 64,
            "items": {
                "type": "object",
                "required": ["protocol", "uar"],
                "properties": {
                    "protocol": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": _LINE},
                    "uar": {"type": "object", "required": ["mean", "std"],
                            "properties": {"mean": {"type": "number"}, "std": {"type": "number"}}},
                },
            },
        },
        "licence_note": {"type": ["string", "null"], "maxLength": 4096},
        "speaker_adaptive": {
            "type": "object",
            "required": ["min_utterances"],
            "properties": {"min_utterances": {"type": "integer", "minimum": 1, "maximum": 1_000_000}},
        },
    },
}


def to_onnx(estimator, n_features: int) -> bytes:
    """Convert a fitted estimator to ONNX bytes (float32 input ``features``, no ZipMap).

    scikit-learn estimators go through skl2onnx; an estimator with its own ``to_onnx(n_features)``
    (the PyTorch models) exports itself.
    """
    if hasattr(estimator, "to_onnx"):
        return estimator.to_onnx(n_features)
    from skl2onnx import to_onnx as skl_to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onx = skl_to_onnx(estimator, initial_types=[("features", FloatTensorType([None, n_features]))],
                      options={"zipmap": False}, target_opset={"": 17, "ai.onnx.ml": 3})
    return onx.SerializeToString()


def save(path: str | os.PathLike, onnx_model: bytes, manifest: dict, assets: dict[str, bytes] | None = None,
         speaker_head: bytes | None = None) -> Path:
    """Write a bundle atomically.

    Args:
        path: the ``.emovox`` file to write.
        onnx_model: the serialized ONNX model.
        manifest: must hold ``labels`` and ``feature_set``; format fields and the
            emovox version are added here.
        assets: files the feature set needs, stored as ``assets/<name>``.
        speaker_head: the speaker-adaptive head as ONNX (same input and outputs as ``onnx_model``),
            stored as :data:`SPEAKER_HEAD`; the manifest must then hold ``speaker_adaptive``.
    """
    path = Path(path)
    assets = assets or {}
    if (speaker_head is None) != ("speaker_adaptive" not in manifest):
        raise ParameterError("a speaker-adaptive head and manifest['speaker_adaptive'] go together")
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "emovox_version": __version__,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **manifest}
    manifest["feature_set"] = {**manifest["feature_set"], "assets": sorted(assets)}
    members = {"manifest.json": json.dumps(manifest, indent=2).encode(), "model.onnx": onnx_model,
               **({SPEAKER_HEAD: speaker_head} if speaker_head is not None else {}),
               **{f"assets/{name}": data for name, data in assets.items()}}
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in members.items())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("SHA256SUMS", sums)
    atomic_write(path, buffer.getvalue())
    return path


@dataclass
class LoadedBundle:
    """A verified bundle: its manifest and onnxruntime sessions ready to run (the speaker-adaptive
    head's is ``None`` when the bundle has none)."""

    path: Path
    manifest: dict
    session: ort.InferenceSession
    assets: dict[str, bytes]
    speaker_session: ort.InferenceSession | None = None

    @property
    def speaker_adaptive(self) -> dict | None:
        """The speaker-adaptive head's manifest entry (``{"min_utterances", ...}``), or ``None``."""
        return self.manifest.get("speaker_adaptive") if self.speaker_session is not None else None

    @property
    def labels(self) -> list[str]:
        return list(self.manifest["labels"])

    @property
    def dim(self) -> int:
        """Length of the feature vectors the model takes."""
        return int(self.manifest["feature_set"]["dim"])

    def probabilities(self, features: np.ndarray, *, speaker_adapted: bool = False) -> np.ndarray:
        """Class probabilities, float64 shape ``(n, n_labels)``, for features of shape ``(n, dim)``.

        With ``speaker_adapted``, ``features`` are standardised per speaker
        (:meth:`emovox.adaptation.SpeakerProfile.normalise`) and the speaker-adaptive head answers.

        Raises:
            ParameterError: ``features`` has another shape, or holds NaN or infinity.
            BundleError: onnxruntime fails, or the model's answer is not a probability per label
                per row (finite, non-negative, each row summing to 1 within :data:`PROBABILITY_TOLERANCE`).
        """
        features = np.ascontiguousarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.dim:
            raise ParameterError(f"features of shape {features.shape} given to {self.path.name}, "
                                 f"which takes shape (n, {self.dim})")
        if not np.all(np.isfinite(features)):
            raise ParameterError(f"features given to {self.path.name} contain NaN or infinity")
        n_labels = len(self.manifest["labels"])
        if features.shape[0] == 0:
            return np.zeros((0, n_labels), np.float64)
        session, member = self.session, "model.onnx"
        if speaker_adapted:
            if self.speaker_session is None:
                raise ParameterError(f"{self.path.name} has no speaker-adaptive head: retrain it with this emovox "
                                     "(`emovox train` adds one)")
            session, member = self.speaker_session, SPEAKER_HEAD
        try:
            outputs = session.run(None, {"features": features})
            probs = np.asarray(outputs[-1], dtype=np.float64)
        except Exception as exc:  # onnxruntime raises its own types; a non-numeric output, TypeError/ValueError
            raise BundleError(f"{self.path}: {member} failed to run ({_short(exc)}); retrain the model "
                              "or get an intact copy") from None
        if probs.ndim != 2 or probs.shape[0] != features.shape[0]:
            raise BundleError(f"{self.path}: {member} answered shape {probs.shape} for {features.shape[0]} "
                              f"row(s); expected ({features.shape[0]}, {n_labels}): retrain the model")
        if probs.shape[1] != n_labels:
            raise BundleError(f"{self.path}: the model answers {probs.shape[1]} classes but the manifest lists "
                              f"{n_labels} labels; retrain the model")
        with np.errstate(invalid="ignore"):
            bad = (~np.all(np.isfinite(probs), axis=1) | np.any(probs < 0, axis=1)
                   | (np.abs(probs.sum(axis=1) - 1.0) > PROBABILITY_TOLERANCE))
        if bad.any():
            row = int(np.argmax(bad))
            raise BundleError(f"{self.path}: {member} returned values that are not probabilities (NaN, negative, "
                              f"or not summing to 1; row {row}: {_short(np.round(probs[row], 4).tolist(), 120)}); "
                              "retrain the model or get an intact copy")
        return probs


def load(path: str | os.PathLike, *, threads: int = 1) -> LoadedBundle:
    """Open and verify a bundle (see the module's description for every check).

    Args:
        path: the ``.emovox`` file.
        threads: onnxruntime intra-op threads (1 is fastest for one clip at a time).

    Raises:
        BundleError: missing, not a bundle, too large, truncated, tampered, made by an incompatible
            version, or a model that does not answer probabilities.
    """
    path = Path(path)
    members = _read_members(path)
    expected = _parse_sums(path, members.pop("SHA256SUMS"))
    for name, data in members.items():
        if name not in expected:
            raise BundleError(f"{path}: {_short(name)} is not listed in SHA256SUMS: the bundle was modified or damaged")
        if hashlib.sha256(data).hexdigest() != expected[name]:
            raise BundleError(f"{path}: checksum of {_short(name)} does not match: the bundle was modified or damaged")
    for name in expected:
        if name not in members:
            raise BundleError(f"{path}: SHA256SUMS lists {_short(name)}, which the bundle lacks: it was modified "
                              "or damaged")
    manifest = _parse_manifest(path, members["manifest.json"])
    assets = {}
    for asset in manifest["feature_set"].get("assets", []):
        if f"assets/{asset}" not in members:
            raise BundleError(f"{path}: the bundle lacks assets/{asset}, which its feature set needs "
                              "(renamed or removed?); retrain the model or get an intact copy")
        assets[asset] = members[f"assets/{asset}"]
    check_onnx(members["model.onnx"], f"{path}: model.onnx")
    speaker_head = members.get(SPEAKER_HEAD)
    if "speaker_adaptive" in manifest and speaker_head is None:
        raise BundleError(f"{path}: the manifest names a speaker-adaptive head but the bundle lacks {SPEAKER_HEAD} "
                          "(removed?); retrain the model or get an intact copy")
    if speaker_head is not None:
        if "speaker_adaptive" not in manifest:
            raise BundleError(f"{path}: {SPEAKER_HEAD} is not described by the manifest: the bundle was modified")
        check_onnx(speaker_head, f"{path}: {SPEAKER_HEAD}")
    for asset, data in assets.items():
        if asset.endswith(".onnx"):
            check_onnx(data, f"{path}: assets/{asset}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 4  # fatal only: every error becomes the BundleError below
    options.add_session_config_entry("session.load_model_format", "ONNX")  # never the ORT flatbuffer format
    sessions = {}
    for member in ("model.onnx", SPEAKER_HEAD) if speaker_head is not None else ("model.onnx",):
        try:
            # no settings taken from the model's metadata (ORT_LOAD_CONFIG_FROM_MODEL), and no "fallback" retry
            # of the same CPU provider, which prints to stdout
            sessions[member] = ort.InferenceSession(members[member], options, providers=["CPUExecutionProvider"],
                                                    read_config_from_model=0, enable_fallback=0)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BundleError(f"{path}: {member} cannot be loaded by onnxruntime ({_short(exc)})") from None
    bundle = LoadedBundle(path, manifest, sessions["model.onnx"], assets, sessions.get(SPEAKER_HEAD))
    bundle.probabilities(np.zeros((1, bundle.dim), np.float32))
    if bundle.speaker_session is not None:
        bundle.probabilities(np.zeros((1, bundle.dim), np.float32), speaker_adapted=True)
    return bundle


def check_onnx(data: bytes, where: str) -> None:
    """Refuse ONNX bytes that do not parse or that store any tensor as external data.

    Looks at every initializer (dense and sparse) and every tensor attribute, in the main graph,
    its subgraphs (``If``, ``Loop``, ``Scan`` bodies), model-local functions and training
    graphs, without recursion. Nodes that name a file (``EPContext``) are refused too.

    Args:
        data: serialized ``ModelProto``.
        where: ``"<bundle>: <member>"``, for the message.

    Raises:
        BundleError: not an ONNX model, or one that would read data from outside the bundle.
    """
    import onnx

    try:
        model = onnx.ModelProto.FromString(data)  # parses only: never follows external data
    except Exception as exc:  # protobuf's DecodeError and friends
        raise BundleError(f"{where} is not an ONNX model ({_short(exc)}); retrain the model or get an intact "
                          "copy") from None
    if not model.HasField("graph"):
        raise BundleError(f"{where} is not an ONNX model (no graph); retrain the model or get an intact copy")
    external = onnx.TensorProto.EXTERNAL

    def refuse(tensor) -> None:
        raise BundleError(f"{where}: tensor {_short(tensor.name)} is stored as external data, which a bundle may not "
                          "use (it would be read from outside the bundle); re-export the model with its data inside")

    graphs = [model.graph, *(t.initialization for t in model.training_info),
              *(t.algorithm for t in model.training_info)]
    node_lists = [f.node for f in model.functions]
    while graphs or node_lists:
        if graphs:
            graph = graphs.pop()
            for tensor in graph.initializer:
                if tensor.data_location == external or len(tensor.external_data):
                    refuse(tensor)
            for sparse in graph.sparse_initializer:
                for tensor in (sparse.values, sparse.indices):
                    if tensor.data_location == external or len(tensor.external_data):
                        refuse(tensor)
            node_lists.append(graph.node)
            continue
        for node in node_lists.pop():
            if node.op_type == "EPContext":
                raise BundleError(f"{where}: node {_short(node.name)} is an EPContext node, which may name a file "
                                  "outside the bundle; refused")
            for attribute in node.attribute:
                tensors = [attribute.t, *attribute.tensors, attribute.sparse_tensor.values,
                           attribute.sparse_tensor.indices]
                tensors += [t for s in attribute.sparse_tensors for t in (s.values, s.indices)]
                for tensor in tensors:
                    if tensor.data_location == external or len(tensor.external_data):
                        refuse(tensor)
                if attribute.HasField("g"):
                    graphs.append(attribute.g)
                graphs.extend(attribute.graphs)


def _short(value: object, limit: int = 200) -> str:
    """``value`` as one line of at most ``limit`` characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _read_members(path: Path) -> dict[str, bytes]:
    """Every member of the archive (directories left out), after checking the archive's directory."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block us
    except FileNotFoundError:
        raise BundleError(f"{path}: model bundle not found (train one with `emovox train`)") from None
    except OSError as exc:
        raise BundleError(f"{path}: cannot read the model bundle ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise BundleError(f"{path}: is a folder, not a model bundle (give the .emovox file)")
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"{path}: not a regular file (a FIFO or device?), not a model bundle")
        if info.st_size > MAX_TOTAL_BYTES:
            raise BundleError(f"{path}: {info.st_size} bytes, larger than a bundle may be ({MAX_TOTAL_BYTES}); refused")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                infos = [i for i in archive.infolist() if not i.is_dir()]
                _check_directory(path, infos)
                return {i.filename: _read_member(path, archive, i) for i in infos}
        except BundleError:
            raise
        except Exception as exc:  # zipfile, zlib, bz2 and lzma raise many types on damaged input
            raise BundleError(f"{path}: truncated or corrupt bundle ({_short(exc)}); retrain or copy it "
                              "again") from None


def _check_directory(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse an archive whose directory breaks a limit, before reading any member."""
    if len(infos) > MAX_MEMBERS:
        raise BundleError(f"{path}: {len(infos)} members, more than a bundle may have ({MAX_MEMBERS}); refused")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise BundleError(f"{path}: the archive holds two members of the same name: modified or damaged; refused")
    missing = set(MEMBERS) - set(names)
    if missing:
        raise BundleError(f"{path}: not an emovox bundle (missing {', '.join(sorted(missing))})")
    total = 0
    for i in infos:
        limit = MAX_MANIFEST_BYTES if i.filename == "manifest.json" else MAX_MEMBER_BYTES
        if i.file_size > limit:
            raise BundleError(f"{path}: {_short(i.filename)} is larger than {limit} bytes; refused")
        if i.compress_type != zipfile.ZIP_STORED and i.file_size > MAX_COMPRESSION_RATIO * max(i.compress_size, 1):
            raise BundleError(f"{path}: {_short(i.filename)} expands {i.file_size} bytes from {i.compress_size} "
                              f"(more than {MAX_COMPRESSION_RATIO} times): a zip bomb? refused")
        total += i.file_size
    if total > MAX_TOTAL_BYTES:
        raise BundleError(f"{path}: members total {total} bytes, more than a bundle may hold ({MAX_TOTAL_BYTES}); "
                          "refused")


def _read_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes, read in chunks; never more than its declared size (whatever the data say)."""
    chunks: list[bytes] = []
    size = 0
    with archive.open(info) as member:
        while chunk := member.read(READ_CHUNK_BYTES):
            size += len(chunk)
            if size > info.file_size:
                raise BundleError(f"{path}: {_short(info.filename)} holds more than the {info.file_size} bytes "
                                  "its header declares: modified or damaged; refused")
            chunks.append(chunk)
    return b"".join(chunks)


def _parse_sums(path: Path, blob: bytes) -> dict[str, str]:
    """``SHA256SUMS`` as member name -> hex digest."""
    sums: dict[str, str] = {}
    try:
        for line in blob.decode().splitlines():
            digest, name = line.split("  ", 1)
            if not re.fullmatch(r"[0-9a-f]{64}", digest) or name in sums:
                raise ValueError(line)
            sums[name] = digest
    except (UnicodeDecodeError, ValueError):
        raise BundleError(f"{path}: SHA256SUMS is malformed: the bundle was modified or damaged") from None
    return sums


def _parse_manifest(path: Path, blob: bytes) -> dict:
    """The manifest, parsed and checked against :data:`MANIFEST_SCHEMA`."""
    where = f"{path}: manifest.json"
    try:
        manifest = json.loads(blob)
    except RecursionError:
        raise BundleError(f"{where}: nested too deeply (more than {MAX_JSON_DEPTH} levels); refused") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, and ints over Python's digit limit
        raise BundleError(f"{where} is not valid JSON ({_short(exc)}); retrain or copy the bundle again") from None
    _check_depth(where, manifest)
    if not _validator("header").is_valid(manifest):
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleError(f"{where}: not an emovox bundle manifest (format is not {FORMAT!r})")
        raise BundleError(f"{path}: bundle format {_short(manifest.get('format_version'), 40)} is not supported by "
                          f"emovox {__version__} (format {FORMAT_VERSION}); upgrade emovox or retrain")
    # The first error only: later keywords (uniqueItems) can be slow on what an earlier one refuses.
    error = next(_validator("manifest").iter_errors(manifest), None)
    if error is not None:
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        raise BundleError(f"{where}: {field + ': ' if field else ''}{_short(error.message)}; "
                          "retrain the model or get an intact copy")
    return manifest


_HEADER_SCHEMA = {"type": "object", "required": ["format", "format_version"],
                  "properties": {k: MANIFEST_SCHEMA["properties"][k] for k in ("format", "format_version")}}


def _check_depth(where: str, document: object) -> None:
    """Refuse JSON nested more than :data:`MAX_JSON_DEPTH` levels (checked without recursion)."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise BundleError(f"{where}: nested too deeply (more than {MAX_JSON_DEPTH} levels); refused")
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))


@lru_cache(maxsize=2)
def _validator(which: str):
    """A Draft 2020-12 validator, strict ``integer`` and finite ``number``, of :data:`MANIFEST_SCHEMA`
    (``"manifest"``) or of its format fields alone (``"header"``)."""
    from jsonschema import Draft202012Validator, validators

    base = Draft202012Validator.TYPE_CHECKER

    def is_integer(checker, value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def is_number(checker, value) -> bool:
        return is_integer(checker, value) or (isinstance(value, float) and math.isfinite(value))

    checker = base.redefine_many({"integer": is_integer, "number": is_number})
    cls = validators.extend(Draft202012Validator, type_checker=checker)
    schema = MANIFEST_SCHEMA if which == "manifest" else _HEADER_SCHEMA
    cls.check_schema(schema)
    return cls(schema)
