import json
import zipfile

import numpy as np
import pytest

import emovox
from conftest import needs_ravdess, ravdess_file, tone
from emovox.errors import AudioError, BundleError
from emovox.features import get_feature_set
from emovox.models import bundle, get_model_spec
from emovox.pipeline import fit_bundle, load_dataset


@pytest.fixture(scope="module")
def trained(ravdess, tmp_path_factory):
    dataset = load_dataset(ravdess, ("calm", "happy", "fearful", "disgust"), get_feature_set("seed180"),
                           actors=["05", "06"], progress=False)
    estimator = get_model_spec("seed-mlp").build(0).fit(dataset.features, dataset.targets)
    path = fit_bundle(dataset, "seed-mlp", tmp_path_factory.mktemp("b") / "m.emovox", seed=0)
    return dataset, estimator, path


@needs_ravdess
def test_bundle_predicts_like_the_fitted_model(trained):
    dataset, estimator, path = trained
    model = emovox.load_model(path)
    assert model.labels == ["calm", "happy", "fearful", "disgust"]
    np.testing.assert_allclose(model.predict_proba(dataset.features), estimator.predict_proba(dataset.features),
                               atol=1e-4)
    assert model.info["training"]["files"] == 64 and model.info["feature_set"]["name"] == "seed180"
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["SHA256SUMS", "manifest.json", "model.onnx"]
        assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in zf.namelist())


@needs_ravdess
def test_predict_file_array_and_errors(trained):
    _, estimator, path = trained
    model = emovox.load_model(path)
    clip = ravdess_file(5, 6, 2, 1, 1)
    p = model.predict(clip)
    assert p.label in model.labels and abs(sum(p.probabilities.values()) - 1) < 1e-5
    assert p.file == str(clip) and p.kind == "whole" and p.index == 0
    assert p.start_s == 0.0 and p.end_s == pytest.approx(emovox.audio.load(clip).duration, abs=1e-3) and p.end_s > 3.0
    direct = estimator.predict_proba(get_feature_set("seed180").transform(emovox.audio.load(clip))[None])[0]
    assert p.label == model.labels[int(np.argmax(direct))]
    from_array = model.predict(emovox.audio.load(clip).samples, rate=48000)
    assert from_array.probabilities == pytest.approx(p.probabilities, abs=1e-6)
    assert from_array.file == "<array>" and from_array.end_s == p.end_s
    with pytest.raises(AudioError, match="silent"):
        model.predict(np.zeros(48000, np.float32), rate=48000)
    with pytest.raises(Exception, match="rate"):
        model.predict(tone(1.0))


@needs_ravdess
def test_tampered_or_truncated_bundle_is_refused(trained, tmp_path):
    _, _, path = trained
    blob = path.read_bytes()
    truncated = tmp_path / "trunc.emovox"
    truncated.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(BundleError, match="truncated or corrupt"):
        emovox.load_model(truncated)

    def rewrite(name, change):
        target = tmp_path / f"tampered-{name}.emovox"
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
            for member in src.namelist():
                data = src.read(member)
                dst.writestr(member, change(data) if member == name else data)
        return target

    manifest = rewrite("manifest.json", lambda d: json.dumps(json.loads(d) | {"labels": ["a", "b", "c", "d"]}).encode())
    with pytest.raises(BundleError, match="checksum of manifest.json"):
        emovox.load_model(manifest)
    model = rewrite("model.onnx", lambda d: d[:-10] + bytes(10))
    with pytest.raises(BundleError, match="checksum of model.onnx"):
        emovox.load_model(model)
    not_zip = tmp_path / "x.emovox"
    not_zip.write_text("hello")
    with pytest.raises(BundleError):
        emovox.load_model(not_zip)
    with pytest.raises(BundleError, match="not found"):
        emovox.load_model(tmp_path / "missing.emovox")


def test_bundle_checks_label_count(tmp_path):
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(30, 180)).astype(np.float32)
    estimator = LogisticRegression().fit(x, np.arange(30) % 3)
    fs = get_feature_set("seed180").describe()
    path = bundle.save(tmp_path / "m.emovox", bundle.to_onnx(estimator, 180), {"labels": ["a", "b"], "feature_set": fs})
    with pytest.raises(BundleError, match="answers 3 classes"):
        bundle.load(path)
    ok = bundle.save(tmp_path / "ok.emovox", bundle.to_onnx(estimator, 180), {"labels": ["a", "b", "c"], "feature_set": fs})
    np.testing.assert_allclose(bundle.load(ok).probabilities(x), estimator.predict_proba(x), atol=1e-5)
