"""The bundle loader trusts nothing in the file: manifest schema, ONNX external data, model outputs,
zip limits, and property-based fuzzing (every failure is a one-line BundleError, never another exception).

Bundles are built by hand from a small scikit-learn model fitted on random features, so nothing
here needs RAVDESS.
"""

import copy
import hashlib
import json
import os
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from emovox.errors import BundleError, ParameterError
from emovox.models import bundle

DIM = 8
LABELS = ["calm", "happy", "sad"]


def _graph_model(nodes, initializers=(), n_out: int = 3, dim: int = DIM, input_name: str = "features") -> bytes:
    """An ONNX model (opset 17): ``features`` float32 ``(n, dim)`` -> ``probabilities`` ``(n, n_out)``."""
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [None, dim])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, n_out])],
                              list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _softmax_model(dim: int = 3) -> bytes:
    """Softmax of the features themselves: probabilities for any finite input (dim = n_labels)."""
    return _graph_model([helper.make_node("Softmax", ["features"], ["probabilities"], axis=1)], n_out=dim, dim=dim)


@pytest.fixture(scope="module")
def lr_onnx() -> bytes:
    """A 3-class logistic regression on 8 random features, as ONNX (what emovox writes)."""
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(60, DIM)).astype(np.float32)
    return bundle.to_onnx(LogisticRegression().fit(x, np.arange(60) % 3), DIM)


def _manifest(**changes) -> dict:
    manifest = {"labels": list(LABELS),
                "feature_set": {"name": "stats", "version": 1, "params": {"trim_db": 35.0}, "dim": DIM},
                "audio": {"rate": 16000, "channels": "mix"},
                "model": {"name": "stats-lr", "summary": "logistic regression", "seed": 0, "params": {"C": 1.0}},
                "training": {"corpus": ["ravdess"], "files": 60, "speakers": 4, "per_label": {"calm": 20}},
                "metrics": [{"protocol": "ravdess-si6", "uar": {"mean": 50.0, "std": 3.0}, "n_folds": 6}],
                "licence_note": None}
    manifest.update(changes)
    return manifest


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _pack(path, members: dict[str, bytes], *, sums: bool = True, compression: int = zipfile.ZIP_STORED):
    """Write ``members`` as a zip; ``sums`` recomputes SHA256SUMS so the checks after it are reached."""
    members = dict(members)
    if sums:
        members.pop("SHA256SUMS", None)
        members["SHA256SUMS"] = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in members.items()).encode()
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def good(tmp_path, lr_onnx):
    """A valid bundle carrying a small ONNX asset."""
    return bundle.save(tmp_path / "x.emovox", lr_onnx, _manifest(), {"enc.onnx": _softmax_model()})


def _with_manifest(path, text: str | bytes):
    """A copy of the bundle ``path`` (same file name, in a subfolder) with ``text`` as its manifest."""
    members = _members(path)
    members["manifest.json"] = text.encode() if isinstance(text, str) else text
    (path.parent / "changed").mkdir(exist_ok=True)
    return _pack(path.parent / "changed" / path.name, members)


def _one_line_error(path, match: str) -> str:
    with pytest.raises(BundleError, match=match) as info:
        bundle.load(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)) and len(message) < 600, message
    return message


def test_valid_bundle_loads_with_audio_and_unknown_fields(good, lr_onnx, tmp_path):
    loaded = bundle.load(good)
    assert loaded.labels == LABELS and set(loaded.assets) == {"enc.onnx"}
    probs = loaded.probabilities(np.random.default_rng(1).normal(size=(5, DIM)))
    assert probs.shape == (5, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    future = bundle.save(tmp_path / "f.emovox", lr_onnx, _manifest(added_in_v2={"x": [1, 2]}))
    assert bundle.load(future).manifest["added_in_v2"] == {"x": [1, 2]}
    assert bundle.load(bundle.save(tmp_path / "m.emovox", lr_onnx, {"labels": LABELS, "feature_set": {
        "name": "seed180", "version": 1, "params": {}, "dim": DIM}})).labels == LABELS  # the minimum


def _set(manifest: dict, dotted: str, value) -> dict:
    manifest = copy.deepcopy(manifest)
    *parents, last = dotted.split(".")
    target = manifest
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return manifest


_DELETE = object()


@pytest.mark.parametrize(("field", "value", "match"), [
    ("feature_set.dim", 10 ** 12, r"x\.emovox: manifest\.json: feature_set\.dim: 1000000000000 is greater than "
                                  r"the maximum of 100000"),
    ("feature_set.dim", 0, r"feature_set\.dim: 0 is less than the minimum of 1"),
    ("feature_set.dim", 8.0, r"feature_set\.dim: 8\.0 is not of type 'integer'"),
    ("feature_set.dim", "8", r"feature_set\.dim: '8' is not of type 'integer'"),
    ("feature_set.dim", True, r"feature_set\.dim: True is not of type 'integer'"),
    ("feature_set.dim", _DELETE, r"feature_set: 'dim' is a required property"),
    ("feature_set.params", [], r"feature_set\.params: \[\] is not of type 'object'"),
    ("feature_set.params.trim_db", 500, r"feature_set\.params\.trim_db: 500 is greater than the maximum of 120"),
    ("feature_set.params.trim_db", -1, r"feature_set\.params\.trim_db: -1 is less than the minimum of 0"),
    ("feature_set.params.trim_db", "35", r"feature_set\.params\.trim_db: '35' is not of type 'number'"),
    ("feature_set.name", "", r"feature_set\.name: '' should be non-empty"),
    ("feature_set.version", "1", r"feature_set\.version"),
    ("feature_set.assets", ["../../etc/passwd"], r"feature_set\.assets\[0\]: '\.\./\.\./etc/passwd' does not match"),
    ("feature_set.assets", [".."], r"feature_set\.assets\[0\]"),
    ("feature_set.assets", ["a\\b"], r"feature_set\.assets\[0\]"),
    ("feature_set", None, r"feature_set: None is not of type 'object'"),
    ("labels", ["calm"], r"labels: \['calm'\] is too short"),
    ("labels", ["calm", "calm", "sad"], r"labels: .* has non-unique elements"),
    ("labels", ["calm", "", "sad"], r"labels\[1\]: '' should be non-empty"),
    ("labels", ["calm", 3, "sad"], r"labels\[1\]: 3 is not of type 'string'"),
    ("labels", ["x" * 65, "a", "b"], r"labels\[0\]: 'x+' is too long"),
    ("labels", ["a\nb", "c", "d"], r"labels\[0\]: 'a\\nb' does not match"),
    ("labels", [f"l{i}" for i in range(65)], r"labels: \['l0', 'l1', .*\.\.\."),  # too long, message cut short
    ("labels", _DELETE, r"manifest\.json: 'labels' is a required property"),
    ("audio.rate", 10, r"audio\.rate: 10 is less than the minimum of 1000"),
    ("audio.rate", 16000.5, r"audio\.rate: 16000\.5 is not of type 'integer'"),
    ("audio.channels", "left", r"audio\.channels: 'mix' was expected"),
    ("model.name", 3, r"model\.name: 3 is not of type 'string'"),
    ("metrics", [{"protocol": "p", "uar": {"mean": "high", "std": 1}}],
     r"metrics\[0\]\.uar\.mean: 'high' is not of type"),
    ("metrics", [{"protocol": "p"}], r"metrics\[0\]: 'uar' is a required property"),
    ("training", "lots", r"training: 'lots' is not of type 'object'"),
])
def test_manifest_field_refused_with_one_line_naming_it(good, field, value, match):
    manifest = _set(json.loads(_members(good)["manifest.json"]), field, value)
    _one_line_error(_with_manifest(good, json.dumps(manifest)), match)


@pytest.mark.parametrize(("text", "match"), [
    ('{"format": "emovox-bundle", "format_version": 2, "labels": 7}', r"bundle format 2 is not supported by emovox .* "
                                                                     r"upgrade emovox or retrain"),
    ('{"format": "zip", "format_version": 1}', "not an emovox bundle manifest"),
    ("[1, 2]", "not an emovox bundle manifest"),
    ('"just a string"', "not an emovox bundle manifest"),
    ("{nope", r"manifest\.json is not valid JSON"),
    (b"\xff\xfe{}", r"manifest\.json is not valid JSON"),
])
def test_manifest_not_a_manifest(good, text, match):
    _one_line_error(_with_manifest(good, text), match)


def _manifest_text(good, **raw: str) -> str:
    """The bundle's manifest with some values replaced by raw JSON text (ints too long for Python, deep nests)."""
    manifest = json.loads(_members(good)["manifest.json"])
    for name in raw:
        manifest["feature_set"][name] = f"@{name}@"
    text = json.dumps(manifest)
    for name, value in raw.items():
        text = text.replace(f'"@{name}@"', value)
    return text


def test_huge_numbers_and_deep_nesting(good):
    _one_line_error(_with_manifest(good, _manifest_text(good, dim="9" * 5000)), r"manifest\.json is not valid JSON")
    message = _one_line_error(_with_manifest(good, _manifest_text(good, dim="9" * 4000)),
                              r"feature_set\.dim: 9999.*\.\.\.")
    assert len(message) < 400
    _one_line_error(_with_manifest(good, _manifest_text(good, dim="1e400")), r"feature_set\.dim: inf is not of type")
    nan = _manifest_text(good, params='{"trim_db": NaN}')
    _one_line_error(_with_manifest(good, nan), r"feature_set\.params\.trim_db: nan is not of type 'number'")
    _one_line_error(_with_manifest(good, _manifest_text(good, extra="[" * 200_000 + "]" * 200_000)),
                    "nested too deeply")  # past Python's recursion limit: RecursionError inside json
    _one_line_error(_with_manifest(good, _manifest_text(good, extra="[" * 40 + "]" * 40)), "nested too deeply")
    _one_line_error(_with_manifest(good, _manifest_text(good, extra='"' + "x" * (1 << 20) + '"')),
                    r"manifest\.json is larger than 1048576 bytes")


def test_renamed_or_missing_asset_named(good):
    members = _members(good)
    members["assets/encoder-renamed.onnx"] = members.pop("assets/enc.onnx")
    _one_line_error(_pack(good, members), r"lacks assets/enc\.onnx, which its feature set needs")


def test_members_must_match_sha256sums(good):
    members = _members(good)
    _one_line_error(_pack(good, members | {"extra.txt": b"hi"}, sums=False), r"extra\.txt is not listed in SHA256SUMS")
    listed = members["SHA256SUMS"] + f"{'0' * 64}  assets/gone.onnx\n".encode()
    _one_line_error(_pack(good, members | {"SHA256SUMS": listed}, sums=False), r"SHA256SUMS lists assets/gone\.onnx")
    _one_line_error(_pack(good, members | {"SHA256SUMS": b"nonsense\n"}, sums=False), "SHA256SUMS is malformed")


# -- ONNX: no external data, parseable, run under watch ----------------------------------------------------------

def _external_tensor(name: str, location: str) -> TensorProto:
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[1, 3], data_location=TensorProto.EXTERNAL)
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    return tensor


def _external_initializer_model() -> bytes:
    """Softmax(features + W), W read from ``secret/id_fake`` relative to the working directory."""
    return _graph_model([helper.make_node("Add", ["features", "W"], ["s"]),
                         helper.make_node("Softmax", ["s"], ["probabilities"], axis=1)],
                        [_external_tensor("W", "secret/id_fake")], dim=3)


def _external_in_subgraph_model() -> bytes:
    """An If whose branches hold a Constant with external data."""
    def branch(name):
        out = helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, [1, 3])
        node = helper.make_node("Constant", [], [f"{name}_out"], value=_external_tensor(f"{name}_c", "secret/id_fake"))
        return helper.make_graph([node], name, [], [out])

    nodes = [helper.make_node("ReduceSum", ["features"], ["total"], keepdims=0),
             helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("z", TensorProto.FLOAT, [], [0.0])),
             helper.make_node("Greater", ["total", "zero"], ["positive"]),
             helper.make_node("Squeeze", ["positive"], ["cond"]),
             helper.make_node("If", ["cond"], ["w"], then_branch=branch("then"), else_branch=branch("else")),
             helper.make_node("Add", ["features", "w"], ["s"]),
             helper.make_node("Softmax", ["s"], ["probabilities"], axis=1)]
    return _graph_model(nodes, dim=3)


@pytest.fixture
def secret_cwd(tmp_path, monkeypatch):
    """A working directory holding ``secret/id_fake`` (12 bytes a bundle must never read)."""
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "id_fake").write_bytes(np.array([7.25, -3.5, 11.0], np.float32).tobytes())
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("where", ["model", "subgraph", "asset"])
def test_external_data_refused_before_onnxruntime_sees_it(secret_cwd, monkeypatch, where):
    handed = []
    monkeypatch.setattr(bundle.ort, "InferenceSession", lambda *a, **k: handed.append(a) or pytest.fail("ort called"))
    manifest = _manifest(labels=LABELS, feature_set={"name": "stats", "version": 1, "params": {}, "dim": 3})
    models = {"model": _external_initializer_model, "subgraph": _external_in_subgraph_model, "asset": _softmax_model}
    model = models[where]()
    assets = {"enc.onnx": _external_initializer_model()} if where == "asset" else {}
    path = bundle.save(secret_cwd / "x.emovox", model, manifest, assets)
    message = _one_line_error(path, r"(model\.onnx|assets/enc\.onnx): tensor \S+ is stored as external data")
    assert handed == [] and "7.25" not in message and "id_fake" not in message


def test_damaged_onnx_asset_and_model_refused(good, lr_onnx):
    members = _members(good)
    _one_line_error(_pack(good, members | {"assets/enc.onnx": b"\x08\x07garbage" * 10}),
                    r"assets/enc\.onnx is not an ONNX model")
    _one_line_error(_pack(good, members | {"model.onnx": b"not onnx at all"}), r"model\.onnx is not an ONNX model")
    _one_line_error(_pack(good, members | {"model.onnx": b""}), r"model\.onnx is not an ONNX model \(no graph\)")
    wrong_input = _graph_model([helper.make_node("Softmax", ["x"], ["probabilities"], axis=1)], dim=DIM, n_out=3,
                               input_name="x")
    _one_line_error(_pack(good, members | {"model.onnx": wrong_input}), r"model\.onnx failed to run")


def _save_model(tmp_path, model: bytes, dim: int = 3, name: str = "m.emovox"):
    return bundle.save(tmp_path / name, model, _manifest(feature_set={"name": "stats", "version": 1, "params": {},
                                                                      "dim": dim}))


def test_outputs_must_be_probabilities(tmp_path):
    identity = _graph_model([helper.make_node("Identity", ["features"], ["probabilities"])], dim=3)
    _one_line_error(_save_model(tmp_path, identity), r"model\.onnx returned values that are not probabilities")
    # Softmax(x) + Relu(x - 1): probabilities while every feature is <= 1, rows summing past 1 after
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    over = _graph_model([helper.make_node("Softmax", ["features"], ["p"], axis=1),
                         helper.make_node("Sub", ["features", "one"], ["d"]), helper.make_node("Relu", ["d"], ["r"]),
                         helper.make_node("Add", ["p", "r"], ["probabilities"])], [one], dim=3)
    loaded = bundle.load(_save_model(tmp_path, over, name="over.emovox"))
    assert loaded.probabilities(np.full((2, 3), 0.5)).shape == (2, 3)
    with pytest.raises(BundleError, match="not probabilities"):
        loaded.probabilities(np.array([[5.0, 0, 0]]))
    # Softmax(x) + sqrt(-relu(x - 1)): NaN once a feature passes 1
    nan = _graph_model([helper.make_node("Softmax", ["features"], ["p"], axis=1),
                        helper.make_node("Sub", ["features", "one"], ["d"]), helper.make_node("Relu", ["d"], ["r"]),
                        helper.make_node("Neg", ["r"], ["n"]), helper.make_node("Sqrt", ["n"], ["q"]),
                        helper.make_node("Add", ["p", "q"], ["probabilities"])], [one], dim=3)
    with pytest.raises(BundleError, match="not probabilities"):
        bundle.load(_save_model(tmp_path, nan, name="nan.emovox")).probabilities(np.array([[3.0, 0, 0]]))
    wrong_count = _graph_model([helper.make_node("Softmax", ["features"], ["probabilities"], axis=1)], dim=4, n_out=4)
    _one_line_error(_save_model(tmp_path, wrong_count, dim=4, name="four.emovox"),
                    "answers 4 classes but the manifest lists 3")


def test_runtime_errors_wrapped_and_bad_features_refused(tmp_path):
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, 3])
    one_row = _graph_model([helper.make_node("Reshape", ["features", "shape"], ["r"]),
                            helper.make_node("Softmax", ["r"], ["probabilities"], axis=1)], [shape], dim=3)
    loaded = bundle.load(_save_model(tmp_path, one_row))  # the probe is one row: fine
    with pytest.raises(BundleError, match=r"model\.onnx failed to run \(.*\); retrain"):
        loaded.probabilities(np.zeros((2, 3)))
    with pytest.raises(ParameterError, match=r"takes shape \(n, 3\)"):
        loaded.probabilities(np.zeros((1, 4)))
    with pytest.raises(ParameterError, match="NaN"):
        loaded.probabilities(np.array([[np.nan, 0, 0]]))
    assert loaded.probabilities(np.zeros((0, 3))).shape == (0, 3)


# -- zip limits ---------------------------------------------------------------------------------------------------

def _bomb(path, good, n: int = 4, megabytes: int = 50):
    """``good``'s members plus ``n`` deflated members of ``megabytes`` MB of zeros each, written streaming."""
    members = _members(good)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        zeros = bytes(1 << 20)
        for k in range(n):
            with archive.open(f"assets/zeros{k}", "w") as member:
                for _ in range(megabytes):
                    member.write(zeros)
    return path


def test_zip_bomb_refused_from_the_directory(good, tmp_path):
    path = _bomb(tmp_path / "bomb.emovox", good)
    assert path.stat().st_size < 2_000_000
    tracemalloc.start()
    try:
        _one_line_error(path, r"assets/zeros0 expands 52428800 bytes from \d+ \(more than 100 times\): a zip bomb")
        assert tracemalloc.get_traced_memory()[1] < 5_000_000
    finally:
        tracemalloc.stop()


def test_lying_header_cannot_blow_up_memory(good, tmp_path):
    """A member whose directory entry claims 64 KiB but whose data inflate to 50 MB."""
    path = _bomb(tmp_path / "liar.emovox", good, n=1)
    blob = bytearray(path.read_bytes())
    name = b"assets/zeros0"
    record = blob.rindex(name) - 46  # its central directory record: 46 fixed bytes, then the name
    assert blob[record:record + 4] == b"PK\x01\x02"
    compressed = struct.unpack_from("<I", blob, record + 20)[0]
    struct.pack_into("<I", blob, record + 24, max(65536, compressed * 2))  # the claimed uncompressed size
    path.write_bytes(bytes(blob))
    tracemalloc.start()
    try:
        _one_line_error(path, r"truncated or corrupt bundle|checksum")
        assert tracemalloc.get_traced_memory()[1] < 10_000_000
    finally:
        tracemalloc.stop()


def test_member_count_total_and_member_size_limits(good, tmp_path, monkeypatch):
    members = _members(good)
    many = _pack(tmp_path / "many.emovox", members | {f"assets/a{i}": b"x" for i in range(70)})
    _one_line_error(many, r"\d+ members, more than a bundle may have \(64\)")
    monkeypatch.setattr(bundle, "MAX_TOTAL_BYTES", 2000)
    _one_line_error(good, r"larger than a bundle may be \(2000\)")
    monkeypatch.setattr(bundle, "MAX_TOTAL_BYTES", 1 << 30)
    monkeypatch.setattr(bundle, "MAX_MEMBER_BYTES", 100)
    _one_line_error(good, r"(model\.onnx|assets/enc\.onnx|SHA256SUMS) is larger than 100 bytes")


def test_members_total_checked(good, tmp_path, monkeypatch):
    """A deflated archive whose file is under the limit but whose members add up past it."""
    pad = np.random.default_rng(0).integers(0, 4, 20_000).astype(np.uint8).tobytes()  # deflates about 4 times
    padded = _pack(tmp_path / "padded.emovox", _members(good) | {"assets/pad": pad}, compression=zipfile.ZIP_DEFLATED)
    monkeypatch.setattr(bundle, "MAX_TOTAL_BYTES", padded.stat().st_size + 1000)
    _one_line_error(padded, r"members total \d+ bytes, more than a bundle may hold")


def test_duplicate_members_refused(good, tmp_path):
    members = _members(good)
    path = tmp_path / "dup.emovox"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("manifest.json", members["manifest.json"])
    _one_line_error(path, "two members of the same name")


def test_not_a_regular_file(tmp_path):
    fifo = tmp_path / "fifo.emovox"
    os.mkfifo(fifo)
    _one_line_error(fifo, "not a regular file")  # returns at once: opened without blocking
    _one_line_error(tmp_path, "is a folder")
    _one_line_error(tmp_path / "missing.emovox", "model bundle not found")
    (tmp_path / "text.emovox").write_text("hello")
    _one_line_error(tmp_path / "text.emovox", "truncated or corrupt bundle")


# -- property-based: anything in, BundleError or a bundle out ------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10 ** 30, max_value=10 ** 300)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20)
_raw = st.sampled_from(["9" * 5000, "[" * 5000 + "]" * 5000, "-1e999", "NaN", "Infinity", '"\\ud800"',
                        '{"a": ' * 50 + "1" + "}" * 50])
_paths = st.sampled_from([
    (), ("format",), ("format_version",), ("labels",), ("labels", 0), ("labels", 2), ("feature_set",),
    ("feature_set", "name"), ("feature_set", "version"), ("feature_set", "dim"), ("feature_set", "params"),
    ("feature_set", "params", "trim_db"), ("feature_set", "assets"), ("feature_set", "assets", 0), ("audio",),
    ("audio", "rate"), ("audio", "channels"), ("model",), ("model", "name"), ("metrics",), ("metrics", 0, "uar"),
    ("metrics", 0, "uar", "mean"), ("training",), ("created",), ("licence_note",), ("new_field",)]) \
    | st.tuples(st.text(max_size=8)) | st.tuples(st.sampled_from(["feature_set", "audio", "model"]), st.text(max_size=8))


@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory, lr_onnx):
    folder = tmp_path_factory.mktemp("fuzz")
    path = bundle.save(folder / "base.emovox", lr_onnx, _manifest(), {"enc.onnx": _softmax_model()})
    return folder, _members(path), path.read_bytes()


def _load_or_bundle_error(path) -> None:
    try:
        loaded = bundle.load(path)
    except BundleError as exc:
        assert "\n" not in str(exc)
        return
    try:
        probs = loaded.probabilities(np.random.default_rng(0).normal(size=(3, loaded.dim)))
    except BundleError:
        return
    assert probs.shape == (3, len(loaded.labels))


def _mutate(document, path: tuple, value):
    """``document`` with the value at ``path`` replaced (or added); a path that does not fit replaces the whole."""
    if not path:
        return value
    document = copy.deepcopy(document)
    target = document
    for key in path[:-1]:
        try:
            target = target[key]
        except (KeyError, IndexError, TypeError):
            return value
    try:
        target[path[-1]] = value
    except (IndexError, TypeError):
        return value
    return document


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=_paths, value=_json, delete=st.booleans())
def test_fuzz_manifest_values(fuzz_base, path, value, delete):
    folder, members, _ = fuzz_base
    manifest = json.loads(members["manifest.json"])
    if delete and path:
        parent = manifest
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    else:
        manifest = _mutate(manifest, path, value)
    text = json.dumps(manifest)  # NaN and Infinity written as such
    _load_or_bundle_error(_pack(folder / "fuzz.emovox", members | {"manifest.json": text.encode()}))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=_paths, raw=_raw)
def test_fuzz_manifest_raw_text(fuzz_base, path, raw):
    folder, members, _ = fuzz_base
    text = json.dumps(_mutate(json.loads(members["manifest.json"]), path, "@RAW@")).replace('"@RAW@"', raw)
    _load_or_bundle_error(_pack(folder / "raw.emovox", members | {"manifest.json": text.encode()}))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(member=st.sampled_from(["manifest.json", "model.onnx", "assets/enc.onnx"]), data=st.data())
def test_fuzz_member_bytes_with_checksums_recomputed(fuzz_base, member, data):
    folder, members, _ = fuzz_base
    blob = bytearray(members[member])
    if data.draw(st.booleans(), label="truncate"):
        blob = blob[:data.draw(st.integers(0, len(blob) - 1), label="at")]
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        if blob:
            blob[data.draw(st.integers(0, len(blob) - 1), label="i")] ^= data.draw(st.integers(1, 255), label="x")
    assume(bytes(blob) != members[member])
    _load_or_bundle_error(_pack(folder / "flip.emovox", members | {member: bytes(blob)}))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_archive_bytes(fuzz_base, data):
    folder, _, raw = fuzz_base
    blob = bytearray(raw)
    if data.draw(st.booleans(), label="truncate"):
        blob = blob[:data.draw(st.integers(0, len(blob) - 1), label="at")]
    # flips aimed at the zip structures (the last 1 KiB: central directory and end record) and anywhere
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        if blob:
            low = data.draw(st.sampled_from([0, max(0, len(blob) - 1024)]), label="region")
            blob[data.draw(st.integers(low, len(blob) - 1), label="i")] ^= data.draw(st.integers(1, 255), label="x")
    path = folder / "archive.emovox"
    path.write_bytes(bytes(blob))
    _load_or_bundle_error(path)


def test_schema_is_valid_draft_2020_12():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(bundle.MANIFEST_SCHEMA)
    assert bundle.MANIFEST_SCHEMA["$schema"].endswith("2020-12/schema")
