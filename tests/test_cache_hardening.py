"""The feature cache is an optimisation, never a point of failure; its key covers every asset's bytes."""

import errno
import hashlib
import json
import os
import signal
import time
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import needs_ravdess, tone, write_audio
from emovox.errors import CacheWarning
from emovox.features import extract_files, get_feature_set
from emovox.features import cache as cache_module
from emovox.features.base import FeatureSet
from emovox.features.cache import FeatureCache, content_hash
from emovox.features.whisper import ASSET, WhisperBase
from emovox.paths import atomic_write, clean_stale_temporaries


@contextmanager
def cache_warnings():
    """Collect the CacheWarnings given inside the block (all of them, not only the first per place)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got: list = []
        yield got
    got.extend(w for w in caught if issubclass(w.category, CacheWarning))


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (a FIFO opened for reading blocks until a writer comes)."""
    def expired(*_):
        raise TimeoutError(f"blocked for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def clips(tmp_path):
    return [write_audio(tmp_path / f"{i}.wav", tone(0.5, 16000, 150 + 40 * i), 16000) for i in range(3)]


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """Features of the three clips, computed without any cache."""
    folder = tmp_path_factory.mktemp("ref")
    files = [write_audio(folder / f"{i}.wav", tone(0.5, 16000, 150 + 40 * i), 16000) for i in range(3)]
    return extract_files(files, get_feature_set("seed180"), jobs=1, use_cache=False, progress=False).features


# -- the key ---------------------------------------------------------------------------------------------------------

def test_key_covers_asset_bytes():
    one, two, same = WhisperBase(), WhisperBase(), WhisperBase()
    one.use_assets({ASSET: b"encoder one"})
    two.use_assets({ASSET: b"encoder two"})
    same.use_assets({ASSET: b"encoder " + b"one"})
    assert one.key != two.key and one.key == same.key and one.key.startswith("whisper-base-v1-")
    before = one.key
    one.use_assets({ASSET: b"encoder two"})  # swapping the encoder changes the key of the same instance
    assert one.key == two.key != before


def test_key_without_assets_is_unchanged():
    """Feature sets without assets keep their key (and their users' caches)."""
    fs = get_feature_set("seed180")
    blob = json.dumps({"name": fs.name, "version": fs.version, "params": fs.params}, sort_keys=True)
    assert fs.key == f"seed180-v1-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


class _SelfNaming(FeatureSet):
    """Like whisper-base: building its asset asks for its own key (it names a file by it)."""

    name, version = "self-naming", 1

    def __init__(self) -> None:
        self.blob = b"weights" * 1000
        self.key_seen_by_assets: list[str] = []

    @property
    def params(self) -> dict:
        return {}

    @property
    def dim(self) -> int:
        return 1

    @property
    def assets(self) -> dict[str, bytes]:
        self.key_seen_by_assets.append(self.key)
        return {"w.onnx": self.blob}

    def transform(self, audio):  # pragma: no cover - not used
        return np.zeros(1, np.float32)


def test_key_of_a_set_whose_assets_ask_for_the_key(monkeypatch):
    fs = _SelfNaming()
    hashed = []
    real = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda data=b"": hashed.append(data is fs.blob) or real(data))
    first = fs.key
    assert fs.key == first and hashed.count(True) == 1  # the asset is hashed once, then memoised
    blob = json.dumps({"name": fs.name, "version": 1, "params": {}}, sort_keys=True)
    assert fs.key_seen_by_assets[0] == f"self-naming-v1-{real(blob.encode()).hexdigest()[:12]}" != first
    fs.blob = b"other weights"
    assert fs.key != first


# -- the cache never stops a run -------------------------------------------------------------------------------------

def _extract(files, root, jobs=1):
    return extract_files(files, get_feature_set("seed180"), jobs=jobs, cache_root=root, progress=False)


def test_cache_folder_is_a_file(clips, expected, tmp_path):
    root = tmp_path / "cache-is-a-file"
    root.write_text("not a folder")
    with cache_warnings() as got:
        result = _extract(clips, root)
    np.testing.assert_array_equal(result.features, expected)
    assert result.errors == [] and len(got) == 1 and "going on without it" in str(got[0].message)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT])
def test_unwritable_cache_warns_once_and_stops_writing(clips, expected, tmp_path, monkeypatch, code):
    calls = []

    def failing(path, data, **kwargs):
        calls.append(path)
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(cache_module, "atomic_write", failing)
    with cache_warnings() as got:
        result = _extract(clips, tmp_path / "c")
    np.testing.assert_array_equal(result.features, expected)
    assert len(got) == 1 and os.strerror(code) in str(got[0].message)
    assert len(calls) == 1  # after the first failure the cache stops trying


def test_worker_problems_warn_once_from_the_parent(tmp_path, monkeypatch):
    files = [write_audio(tmp_path / f"{i}.wav", tone(0.5, 16000, 120 + 30 * i), 16000) for i in range(5)]

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_module, "atomic_write", full)  # inherited by the forked workers
    with cache_warnings() as got:
        result = _extract(files, tmp_path / "c", jobs=2)
    assert result.ok == list(range(5)) and result.cached == 0
    assert len(got) == 1 and "No space left on device" in str(got[0].message)


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_entry_that_is_not_a_file(clips, expected, tmp_path, kind):
    root = tmp_path / "c"
    fs = get_feature_set("seed180")
    entry = FeatureCache(fs.key, fs.dim, root)._path(content_hash(clips[0].read_bytes()))
    entry.parent.mkdir(parents=True)
    os.mkfifo(entry) if kind == "fifo" else entry.mkdir()
    with cache_warnings() as got, deadline(30):
        result = _extract(clips, root)
        again = _extract(clips, root)
    np.testing.assert_array_equal(result.features, expected)
    np.testing.assert_array_equal(again.features, expected)
    assert "not a regular file" in str(got[0].message)
    # the first run's write replaces a FIFO; a folder is left alone, and the next run warns again
    assert (len(got), again.cached) == ((1, 3) if kind == "fifo" else (2, 2))


def test_fifo_as_audio_input_is_reported_not_read(clips, tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    with deadline(30):
        result = _extract([clips[0], fifo], tmp_path / "c")
    assert result.ok == [0] and "FIFO" in result.errors[0][1]


def test_oversized_entry_is_a_miss_not_read(clips, expected, tmp_path):
    root = tmp_path / "c"
    _extract(clips, root)
    entry = next(root.rglob("*.f32"))
    with entry.open("r+b") as handle:
        handle.truncate(1 << 30)  # sparse: 1 GiB that must not be read into memory
    with cache_warnings() as got:
        result = _extract(clips, root)
    np.testing.assert_array_equal(result.features, expected)
    assert result.cached == 2 and got == []


@settings(max_examples=60, deadline=None)
@given(blob=st.binary(max_size=800))
def test_any_entry_content_is_a_vector_or_a_miss(tmp_path_factory, blob):
    root = tmp_path_factory.getbasetemp() / "fuzz-cache"
    cache = FeatureCache("k", 180, root)
    audio_hash = content_hash(blob)
    atomic_write(cache._path(audio_hash), blob)
    got = cache.get(audio_hash)
    assert got is None or (got.shape == (180,) and np.all(np.isfinite(got)))


# -- stale temporaries -----------------------------------------------------------------------------------------------

def _age(path, seconds: float):
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


def test_clean_stale_temporaries(tmp_path):
    old = tmp_path / ".entry.f32.k3j2h1.tmp"
    old.write_bytes(b"x")
    _age(old, 7200)
    young = tmp_path / ".entry.f32.a8b7c6.tmp"
    young.write_bytes(b"x")
    other = tmp_path / "entry.f32"
    other.write_bytes(b"x")
    _age(other, 7200)
    folder = tmp_path / ".dir.tmp"
    folder.mkdir()
    _age(folder, 7200)
    assert clean_stale_temporaries(tmp_path) == 1
    assert not old.exists() and young.exists() and other.exists() and folder.exists()
    assert clean_stale_temporaries(tmp_path / "missing") == 0
    assert clean_stale_temporaries(other) == 0  # a file, not a folder: nothing, no error


def test_feature_cache_cleans_its_folder_once_per_process(tmp_path):
    fs = get_feature_set("seed180")
    folder = tmp_path / "features" / fs.key
    stale = []
    for sub in (folder, folder / "ab", folder / "not-a-shard"):
        sub.mkdir(parents=True, exist_ok=True)
        stale.append(sub / ".ab12.f32.x7y8z9.tmp")
        stale[-1].write_bytes(b"partial")
        _age(stale[-1], 7200)
    FeatureCache(fs.key, fs.dim, tmp_path)
    assert not stale[0].exists() and not stale[1].exists()
    assert stale[2].exists()  # only the folder and its two-hex-digit shards are looked at
    again = folder / "cd" / ".cd34.f32.q1w2e3.tmp"
    again.parent.mkdir()
    again.write_bytes(b"partial")
    _age(again, 7200)
    FeatureCache(fs.key, fs.dim, tmp_path)
    assert again.exists()  # once per process per folder


@needs_ravdess
def test_no_cache_keeps_the_whisper_encoder_out_of_the_cache(tmp_path, monkeypatch):
    """`train --no-cache`: no feature entry and no encoder copy is written to (or read from) the cache folder."""
    from conftest import RAVDESS

    from emovox.features import get_feature_set
    from emovox.pipeline import load_dataset

    monkeypatch.setenv("EMOVOX_CACHE", str(tmp_path / "cache"))
    dataset = load_dataset(RAVDESS, ("calm", "happy"), get_feature_set("whisper-base"), actors=["01"], jobs=1,
                           use_cache=False, progress=False)
    assert dataset.features.shape == (16, 2048)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*"))
