"""Model bundles: one ``.emovox`` file that loads without executing anything from it.

A bundle is a zip archive (stored, not compressed) with these members:

- ``model.onnx``: the fitted estimator as ONNX; input ``features`` float32 ``(n, dim)``,
  outputs a label index and a probability matrix ``(n, n_labels)``;
- ``manifest.json``: labels, feature set (name, version, parameters, asset names), model
  name and parameters, training-data summary, evaluation metrics, emovox version;
- ``assets/<name>``: files the feature set needs (for example an encoder as ONNX);
- ``SHA256SUMS``: the SHA-256 of every other member.

Loading checks the archive, the checksums, the JSON and the ONNX graph's shapes
before answering anything; no pickle is involved at any point.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .. import __version__
from ..errors import BundleError
from ..paths import atomic_write

FORMAT = "emovox-bundle"
FORMAT_VERSION = 1
MAX_MEMBER_BYTES = 512 * 1024 * 1024
MEMBERS = ("manifest.json", "model.onnx", "SHA256SUMS")


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


def save(path: str | os.PathLike, onnx_model: bytes, manifest: dict, assets: dict[str, bytes] | None = None) -> Path:
    """Write a bundle atomically.

    Args:
        path: the ``.emovox`` file to write.
        onnx_model: the serialized ONNX model.
        manifest: must hold ``labels`` and ``feature_set``; format fields and the
            emovox version are added here.
        assets: files the feature set needs, stored as ``assets/<name>``.
    """
    path = Path(path)
    assets = assets or {}
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "emovox_version": __version__,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **manifest}
    manifest["feature_set"] = {**manifest["feature_set"], "assets": sorted(assets)}
    members = {"manifest.json": json.dumps(manifest, indent=2).encode(), "model.onnx": onnx_model,
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
    """A verified bundle: its manifest and an onnxruntime session ready to run."""

    path: Path
    manifest: dict
    session: ort.InferenceSession
    assets: dict[str, bytes]

    @property
    def labels(self) -> list[str]:
        return list(self.manifest["labels"])

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities, shape ``(n, n_labels)``, for features of shape ``(n, dim)``."""
        outputs = self.session.run(None, {"features": np.ascontiguousarray(features, dtype=np.float32)})
        return np.asarray(outputs[-1], dtype=np.float64)


def load(path: str | os.PathLike, *, threads: int = 1) -> LoadedBundle:
    """Open and verify a bundle.

    Args:
        path: the ``.emovox`` file.
        threads: onnxruntime intra-op threads (1 is fastest for one clip at a time).

    Raises:
        BundleError: missing, not a bundle, truncated, tampered, or made by an incompatible version.
    """
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: model bundle not found (train one with `emovox train`)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if not set(MEMBERS) <= names:
                raise BundleError(f"{path}: not an emovox bundle (missing {', '.join(sorted(set(MEMBERS) - names))})")
            wanted = [*MEMBERS, *sorted(n for n in names if n.startswith("assets/") and not n.endswith("/"))]
            for name in wanted:
                if archive.getinfo(name).file_size > MAX_MEMBER_BYTES:
                    raise BundleError(f"{path}: {name} is larger than {MAX_MEMBER_BYTES} bytes; refused")
            members = {name: archive.read(name) for name in wanted}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise BundleError(f"{path}: truncated or corrupt bundle ({exc}); retrain or copy it again") from None
    expected = _parse_sums(path, members["SHA256SUMS"])
    for name in [n for n in members if n != "SHA256SUMS"]:
        if hashlib.sha256(members[name]).hexdigest() != expected.get(name):
            raise BundleError(f"{path}: checksum of {name} does not match: the bundle was modified or damaged")
    try:
        manifest = json.loads(members["manifest.json"])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: manifest.json is not valid JSON ({exc})") from None
    _check_manifest(path, manifest)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(members["model.onnx"], options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise BundleError(f"{path}: model.onnx cannot be loaded by onnxruntime ({' '.join(str(exc).split())[:200]})") from None
    assets = {name[len("assets/"):]: data for name, data in members.items() if name.startswith("assets/")}
    missing = set(manifest["feature_set"].get("assets", [])) - set(assets)
    if missing:
        raise BundleError(f"{path}: the bundle lacks {', '.join(sorted(missing))}, which its feature set needs")
    bundle = LoadedBundle(path, manifest, session, assets)
    probe = bundle.probabilities(np.zeros((1, manifest["feature_set"]["dim"]), np.float32))
    if probe.shape != (1, len(manifest["labels"])):
        raise BundleError(f"{path}: the model answers {probe.shape[1]} classes but the manifest lists "
                          f"{len(manifest['labels'])} labels")
    return bundle


def _parse_sums(path: Path, blob: bytes) -> dict[str, str]:
    try:
        return {name: digest for digest, name in (line.split("  ", 1) for line in blob.decode().splitlines())}
    except (UnicodeDecodeError, ValueError):
        raise BundleError(f"{path}: SHA256SUMS is malformed: the bundle was modified or damaged") from None


def _check_manifest(path: Path, manifest: dict) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: not an emovox bundle manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format {manifest.get('format_version')} is not supported by "
                          f"emovox {__version__} (format {FORMAT_VERSION}); upgrade emovox or retrain")
    labels = manifest.get("labels")
    fs = manifest.get("feature_set")
    if (not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels)
            or not isinstance(fs, dict) or not isinstance(fs.get("name"), str)
            or not isinstance(fs.get("dim"), int) or not isinstance(fs.get("params"), dict)):
        raise BundleError(f"{path}: manifest.json lacks valid 'labels' or 'feature_set'")
