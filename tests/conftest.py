"""Shared fixtures: the RAVDESS copy in ../shared, a small trained bundle, synthetic audio.

Every test runs with its own cache and home folders, so nothing touches the user's.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

RAVDESS = Path(os.environ.get("EMOVOX_TEST_RAVDESS", Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess"))
HAVE_RAVDESS = (RAVDESS / "Actor_01").is_dir()
needs_ravdess = pytest.mark.skipif(not HAVE_RAVDESS, reason=f"RAVDESS corpus not found at {RAVDESS} "
                                                            "(set EMOVOX_TEST_RAVDESS)")


@pytest.fixture(scope="session", autouse=True)
def _isolated_dirs(tmp_path_factory):
    """Point emovox's cache and home at temporary folders for the whole run."""
    root = tmp_path_factory.mktemp("emovox-env")
    old = {k: os.environ.get(k) for k in ("EMOVOX_CACHE", "EMOVOX_HOME")}
    os.environ["EMOVOX_CACHE"] = str(root / "cache")
    os.environ["EMOVOX_HOME"] = str(root / "home")
    yield root
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def ravdess() -> Path:
    """The shared RAVDESS folder (skips the test if absent)."""
    if not HAVE_RAVDESS:
        pytest.skip(f"RAVDESS corpus not found at {RAVDESS}")
    return RAVDESS


def ravdess_file(actor: int, emotion: int, intensity: int = 1, statement: int = 1, repetition: int = 1) -> Path:
    """Path of one RAVDESS speech file in the shared copy."""
    return RAVDESS / f"Actor_{actor:02d}" / f"03-01-{emotion:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}.flac"


@pytest.fixture(scope="session")
def tiny_bundle(ravdess, tmp_path_factory) -> Path:
    """A seed-mlp bundle trained on actors 01-04, the seed's four emotions (128 files)."""
    from emovox.features import get_feature_set
    from emovox.pipeline import fit_bundle, load_dataset

    dataset = load_dataset(ravdess, ("calm", "happy", "fearful", "disgust"), get_feature_set("seed180"),
                           actors=["01", "02", "03", "04"], progress=False)
    return fit_bundle(dataset, "seed-mlp", tmp_path_factory.mktemp("bundle") / "tiny.emovox")


@pytest.fixture(scope="session")
def adaptive_bundle(ravdess, tmp_path_factory):
    """A whisper-lr bundle with its speaker-adaptive head, trained on actors 01-06 (8 emotions), and its dataset."""
    import emovox
    from emovox.features import get_feature_set
    from emovox.pipeline import fit_bundle, load_dataset

    dataset = load_dataset(ravdess, emovox.EMOTIONS, get_feature_set("whisper-base"),
                           actors=["01", "02", "03", "04", "05", "06"], progress=False)
    path = fit_bundle(dataset, "whisper-lr", tmp_path_factory.mktemp("adaptive") / "adaptive.emovox")
    return path, dataset


def tone(seconds: float = 1.0, rate: int = 16000, freq: float = 220.0, amplitude: float = 0.3) -> np.ndarray:
    """A harmonic tone with a little noise, float32, shape ``(n,)``: speech-like enough for features."""
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 6))
    rng = np.random.default_rng(0)
    return (amplitude * wave / np.max(np.abs(wave)) + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def write_audio(path: Path, samples: np.ndarray, rate: int, subtype: str | None = None) -> Path:
    """Write samples with soundfile (format from the extension)."""
    sf.write(str(path), samples, rate, subtype=subtype)
    return path


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """In CI (``CI=true``), where ``.ci/run`` installs every optional Debian package, a skipped test is a failure:
    it means a dependency the suite should have is missing."""
    skipped = terminalreporter.stats.get("skipped", [])
    if os.environ.get("CI", "").lower() == "true" and skipped:
        terminalreporter.write_line(f"CI: {len(skipped)} test(s) skipped; in CI nothing may be skipped:", red=True)
        for report in skipped:
            terminalreporter.write_line(f"  {report.nodeid}: {report.longrepr[-1] if report.longrepr else ''}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI", "").lower() == "true" and session.config.pluginmanager.get_plugin("terminalreporter"):
        skipped = session.config.pluginmanager.get_plugin("terminalreporter").stats.get("skipped", [])
        if skipped and session.exitstatus == 0:
            session.exitstatus = 1
