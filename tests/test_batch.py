"""emovox.batch: process_files on a Dask cluster into a resumable Parquet dataset.

The cluster tests share one local cluster of 2 worker processes and a small archive: 200 RAVDESS clips,
two joined recordings of about 95 s (segments) and four bad files; the tests of a killed worker and of an
interrupted run each take half of the clips. Every output is compared row for row with the one-machine
rows (``model.iter_files``).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emovox.errors import DataError, ParameterError

pytest.importorskip("distributed", reason="Dask distributed is not installed (pip install 'emovox[cluster]')")
pytest.importorskip("fsspec", reason="fsspec is not installed (pip install 'emovox[cluster]')")
pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed")

from emovox.batch.dataset import Dataset, new_job, plan_partitions, schedule  # noqa: E402
from emovox.batch.inputs import Input, as_text, resolve_inputs  # noqa: E402
from emovox.batch.job import run_batch  # noqa: E402
from emovox.segmentation import Auto, VoiceActivity  # noqa: E402

CLIPS = 200
BATCH = 16
#: Clips under 60 s get one row, longer recordings a row per stretch of speech (energy VAD: no torch on workers).
AUTO = Auto(voice_activity=VoiceActivity(vad="energy"))
BAD = {"corrupt.flac": "corrupt", "empty.wav": "empty file", "text.wav": "", "silent.wav": "silent"}


# -- fixtures -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def archive(ravdess, tmp_path_factory) -> Path:
    """A folder: 200 RAVDESS clips (symbolic links), two ~95 s joined recordings, four bad files."""
    root = tmp_path_factory.mktemp("archive")
    clips = sorted(ravdess.rglob("*.flac"))
    chosen = clips[::max(1, len(clips) // CLIPS)][:CLIPS]
    (root / "clips").mkdir()
    for clip in chosen:
        (root / "clips" / clip.name).symlink_to(clip)
    (root / "long").mkdir()
    for n in range(2):
        parts, rate = [], 48000
        for clip in clips[300 + 20 * n:320 + 20 * n]:
            samples, rate = sf.read(str(clip), dtype="float32", always_2d=True)
            parts += [np.zeros(rate, np.float32), samples.mean(axis=1)]
        sf.write(str(root / "long" / f"joined-{n}.flac"), np.concatenate(parts + [np.zeros(rate, np.float32)]), rate)
    (root / "bad").mkdir()
    (root / "bad" / "corrupt.flac").write_bytes(b"fLaC" + bytes(range(256)) * 8)
    (root / "bad" / "empty.wav").write_bytes(b"")
    (root / "bad" / "text.wav").write_text("not audio at all\n")
    sf.write(str(root / "bad" / "silent.wav"), np.zeros(16000, np.float32), 16000)
    return root


@pytest.fixture(scope="module")
def model(tiny_bundle):
    import emovox

    return emovox.load_model(tiny_bundle)


@pytest.fixture(scope="module")
def expected(model, archive) -> list[dict]:
    """The one-machine rows of the archive (clips whole, long recordings in segments)."""
    from emovox.recognizer import find_audio_files

    return one_machine(model, find_audio_files(archive), AUTO)


def half_of_the_clips(archive: Path, expected: list[dict], which: int) -> tuple[list[str], list[dict]]:
    """Every other clip (``which`` 0 or 1), and their one-machine rows (clips are whole either way)."""
    clips = [str(p) for p in sorted((archive / "clips").iterdir())][which::2]
    chosen = set(clips)
    return clips, [r for r in expected if r["file"] in chosen]


@pytest.fixture(scope="module")
def client():
    """A local Dask cluster of 2 worker processes, one thread each (asked for before ``expected``)."""
    from distributed import Client, LocalCluster

    import importlib

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as c:
        # the workers import emovox while this process computes the one-machine rows
        warming = [c.submit(importlib.import_module, "emovox.recognizer", workers=[w], pure=False)
                   for w in c.scheduler_info()["workers"]]
        yield c
        del warming


def one_machine(model, files, plan) -> list[dict]:
    """The rows ``emovox predict --output x.parquet`` writes without a cluster."""
    import warnings

    from emovox.errors import LowRateWarning
    from emovox.output import error_record

    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowRateWarning)  # silent.wav is 16 kHz; the cluster counts it instead
        found_all = list(model.iter_files(files, segment=plan))
    for found in found_all:
        rows += [{**r.to_record(), "error": None} for r in found]
        rows += [error_record(e, model.labels) for e in found.errors]
    return rows


def read_parts(folder: Path) -> list[dict]:
    """The rows of every committed part, in part-name order."""
    rows = []
    for part in sorted(folder.glob("part-*.parquet")):
        rows += pq.read_table(part).to_pylist()
    return rows


def assert_same_rows(got: list[dict], want: list[dict], sha256: str) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g["model"] == "tiny.emovox" and g["model_sha256"] == sha256
        for key, value in w.items():
            if isinstance(value, float):
                assert g[key] == pytest.approx(value, abs=2e-6), (w["file"], key)
            else:
                assert g[key] == value, (w["file"], key)


def file_sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- on the cluster ---------------------------------------------------------------------------------------------

def test_cluster_output_equals_one_machine(client, archive, tiny_bundle, expected, tmp_path):
    """Timelines (clips whole, long recordings in segments) equal the one-machine rows; the model loads once."""
    from emovox.batch.worker import load_count

    client.wait_for_workers(2)
    loads = client.run(load_count)
    result = run_batch([archive], tiny_bundle, tmp_path / "out", segment=AUTO, batch_files=BATCH, client=client)
    assert result.complete and not result.failed and result.parts_written == result.parts > 8
    got = read_parts(tmp_path / "out")
    assert_same_rows(got, expected, file_sha256(tiny_bundle))
    assert sum(r["kind"] == "segment" for r in got) >= 10  # the two long recordings, cut by voice activity
    bad = {Path(r["file"]).name: r for r in got if r["error"]}
    assert set(bad) == set(BAD)
    assert all(text in bad[name]["error"] for name, text in BAD.items())
    assert all(r["label"] is None and r["p_calm"] is None for r in bad.values())
    assert {k: v - loads[k] for k, v in client.run(load_count).items()} == {k: 1 for k in loads}  # once per process
    summary = result.summary
    assert summary["files"] == len({r["file"] for r in got}) and summary["errors"] == len(BAD)
    assert summary["rows"] == len(got) - len(BAD) and summary["segments"] == sum(r["kind"] == "segment" for r in got)
    assert 0.2 < summary["audio_hours"] < 0.4 and summary["wall_s"] > 0
    import pandas as pd

    assert len(pd.read_parquet(tmp_path / "out")) == len(got)  # readers skip _SUCCESS and _job.json


def test_worker_killed_mid_job_still_gives_every_file_once(client, archive, tiny_bundle, expected, tmp_path):
    """A worker killed in the middle: its tasks run elsewhere; every file is in the output exactly once."""
    client.wait_for_workers(2)
    killed = []

    def kill_the_other_worker(outcome: dict) -> None:
        if not killed:
            pids = client.run(os.getpid)
            victim = next(pid for address, pid in pids.items() if address != outcome["worker"])
            os.kill(victim, signal.SIGKILL)  # busy with a partition right now
            killed.append(victim)

    clips, want = half_of_the_clips(archive, expected, 0)
    out = tmp_path / "out"
    result = run_batch(clips, tiny_bundle, out, batch_files=8, client=client, on_part=kill_the_other_worker)
    assert killed and result.complete and not result.failed
    got = read_parts(out)
    files = [r["file"] for r in got]
    assert len(files) == len(set(files))  # whole files: one row each, never two
    assert_same_rows(got, want, file_sha256(tiny_bundle))
    assert not list(out.glob(".*.tmp"))  # a copy written by a task that was run again is not left behind


def test_interrupted_run_resumes_without_redoing_parts(client, archive, tiny_bundle, expected, tmp_path):
    """Ctrl-C on `emovox predict --cluster ADDRESS`: finished parts stay; the re-run does only the rest."""
    client.wait_for_workers(2)
    clips, want = half_of_the_clips(archive, expected, 1)
    out = tmp_path / "out"
    log = tmp_path / "stderr.txt"
    script = ("import sys, emovox.batch.dataset as d; d.DEFAULT_BATCH_FILES = 8; from emovox.cli import main; "
              "sys.exit(main(sys.argv[1:]))")
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", script, "predict", *clips, "--model", str(tiny_bundle),
                                 "--whole", "--cluster", client.scheduler.address, "--output", str(out),
                                 "--no-progress"], stdout=err, stderr=err)
        deadline = time.monotonic() + 120
        while len(list(out.glob("part-*.parquet"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 130, log.read_text()
    assert "re-run the same command to finish" in log.read_text()
    assert not (out / "_SUCCESS").exists()
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("part-*.parquet")}
    assert 2 <= len(before) < 13

    result = run_batch(clips, tiny_bundle, out, batch_files=8, client=client)
    assert result.complete and result.parts_skipped == len(before)
    assert result.parts_written == result.parts - len(before)
    assert {n: (out / n).stat().st_ino for n in before} == {n: v[0] for n, v in before.items()}
    assert {n: (out / n).stat().st_mtime_ns for n in before} == {n: v[1] for n, v in before.items()}
    assert_same_rows(read_parts(out), want, file_sha256(tiny_bundle))
    again = run_batch(clips, tiny_bundle, out, batch_files=8, client=client)
    assert again.parts_written == 0 and again.parts_skipped == result.parts and again.complete


def test_bad_inputs_are_error_rows_with_their_manifest_columns(client, archive, tiny_bundle, tmp_path):
    """Bad, missing and unmatched inputs are rows with their error; a manifest's columns come with them."""
    client.wait_for_workers(2)
    manifest = tmp_path / "list.csv"
    clip = sorted((archive / "clips").iterdir())[0]
    manifest.write_text("path,speaker,label\n"
                        f"{clip},01,calm\n"
                        f"{archive / 'bad' / 'corrupt.flac'},02,happy\n"
                        "missing.flac,03,sad\n")
    (tmp_path / "nothing").mkdir()
    result = run_batch([manifest, tmp_path / "nothing", str(archive / "clips" / "*.nope")], tiny_bundle,
                       tmp_path / "out", client=client)
    assert result.complete and result.files == 5 and result.errors == 4 and "input_label" in result.notes[0]
    rows = {r["file"]: r for r in read_parts(tmp_path / "out")}
    assert rows[str(clip)]["error"] is None and rows[str(clip)]["speaker"] == "01"
    assert rows[str(clip)]["input_label"] == "calm"
    assert rows[str(clip)]["label"] in ("calm", "happy", "fearful", "disgust")
    corrupt = rows[str(archive / "bad" / "corrupt.flac")]
    assert "corrupt" in corrupt["error"] and corrupt["speaker"] == "02" and corrupt["label"] is None
    assert rows[str(tmp_path / "missing.flac")]["error"] == "no such file"  # relative to the manifest's folder
    assert rows[str(tmp_path / "nothing")]["error"].startswith("no audio files in this folder")
    assert rows[str(archive / "clips" / "*.nope")]["error"] == "no files match this pattern"
    assert rows[str(tmp_path / "nothing")]["speaker"] is None


def test_fsspec_urls_on_a_threaded_cluster(ravdess, model, tiny_bundle, tmp_path):
    """memory:// and file:// inputs, a memory:// manifest and output (memory:// needs workers in this process)."""
    import fsspec
    from distributed import Client, LocalCluster

    memory = fsspec.filesystem("memory")
    clips = sorted(ravdess.rglob("*.flac"))[::200][:6]
    for clip in clips[:5]:
        memory.pipe_file(f"/emovox-test/audio/{clip.name}", clip.read_bytes())
    lines = ["path,actor"] + [f"audio/{c.name},{c.name[-7:-5]}" for c in clips[:5]] + [f"file://{clips[5]},x"]
    memory.pipe_file("/emovox-test/list.csv", ("\n".join(lines) + "\n").encode())
    try:
        with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0",
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            out = "memory://emovox-test/out"
            result = run_batch(["memory://emovox-test/list.csv", "memory://emovox-test/audio/*.flac"], tiny_bundle,
                               out, batch_files=4, client=client)
            assert result.complete and result.files == 6 and result.errors == 0 and result.parts == 2
            rows = []
            for part in sorted(memory.ls("/emovox-test/out", detail=False)):
                if part.rsplit("/", 1)[-1].startswith("part-"):
                    with memory.open(part, "rb") as f:
                        rows += pq.read_table(f).to_pylist()
            assert [r["file"] for r in rows] == [f"memory://emovox-test/audio/{c.name}" for c in clips[:5]] + \
                [f"file://{clips[5]}"]
            assert [r["actor"] for r in rows] == [c.name[-7:-5] for c in clips[:5]] + ["x"]
            for row, clip in zip(rows, clips):
                want = model.process_file(clip)[0].to_record()
                assert row["label"] == want["label"] and row["p_calm"] == pytest.approx(want["p_calm"], abs=2e-6)
            again = run_batch(["memory://emovox-test/list.csv"], tiny_bundle, out, batch_files=4, client=client)
            assert again.parts_written == 0 and again.complete
    finally:
        memory.rm("/emovox-test", recursive=True)


# -- without a cluster --------------------------------------------------------------------------------------------

def test_partitions_are_named_by_their_content():
    inputs = [Input(f"a/{n:03d}.wav") for n in range(10)]
    first = plan_partitions(inputs, 4, "job")
    assert [len(p.inputs) for p in first] == [4, 4, 2]
    assert first == plan_partitions(list(inputs), 4, "job")  # the same command, the same plan
    changed = plan_partitions(inputs[:9] + [Input("a/new.wav")], 4, "job")
    assert [p.name for p in changed][:2] == [p.name for p in first][:2] and changed[2].name != first[2].name
    assert plan_partitions(inputs, 4, "other job")[0].name != first[0].name
    assert first[0].name.startswith("part-00000-") and first[0].name.endswith(".parquet")


def test_parts_of_an_earlier_plan_are_not_done_twice():
    """The input list changed (or the batch size): files already in a part are left out of the new plan."""
    inputs = [Input(f"a/{n:03d}.wav") for n in range(10)]
    old = plan_partitions(inputs[:7], 3, "job")  # an earlier run over fewer files, 3 per part
    on_disk = {old[0].name: old[0], old[2].name: old[2]}
    todo, done, foreign = schedule(inputs, on_disk, 4, "job", lambda name: [i.path for i in on_disk[name].inputs])
    assert not done and foreign == set(on_disk)
    planned = [i.path for p in todo for i in p.inputs]
    covered = [i.path for p in on_disk.values() for i in p.inputs]
    assert sorted(planned + covered) == sorted(i.path for i in inputs) and not set(planned) & set(covered)


def test_manifest_problems_are_one_line_errors(tmp_path):
    no_path = tmp_path / "a.csv"
    no_path.write_text("file,label\nx.wav,calm\n")
    with pytest.raises(DataError, match=r"a\.csv: no 'path' column \(columns: file, label\)"):
        resolve_inputs([no_path])
    empty = tmp_path / "b.csv"
    empty.write_text("path,x\nx.wav,1\n,2\n")
    with pytest.raises(DataError, match=r"b\.csv: row 3 has no path"):
        resolve_inputs([empty])
    twice = tmp_path / "c.csv"
    twice.write_text("path,x\nx.wav,1\nx.wav,2\n")
    with pytest.raises(DataError, match="listed twice with different values"):
        resolve_inputs([twice])
    with pytest.raises(DataError, match=r"missing\.parquet: manifest not found"):
        resolve_inputs([tmp_path / "missing.parquet"])
    assert as_text(Path("s3://bucket/key.wav")) == "s3://bucket/key.wav"
    assert as_text(Path("file:///data/x.wav")) == "file:///data/x.wav"


def test_an_output_of_another_job_is_refused(tmp_path):
    dataset = Dataset(str(tmp_path / "out"))
    dataset.prepare(new_job("a.emovox", "1" * 64, ["calm"], None, 60.0, ["file"], 100))
    dataset.prepare(new_job("a.emovox", "1" * 64, ["calm"], None, 60.0, ["file"], 50))  # batch size may change
    with pytest.raises(ParameterError, match=r"out: holds results of another job \(different model_sha256"):
        dataset.prepare(new_job("b.emovox", "2" * 64, ["calm"], None, 60.0, ["file"], 100))
    (tmp_path / "file.parquet").write_bytes(b"x")
    with pytest.raises(ParameterError, match="is a file"):
        Dataset(str(tmp_path / "file.parquet"))


def test_cluster_options_are_checked_before_anything_runs(tmp_path, capsys):
    from emovox.cli import main

    clip = tmp_path / "x.wav"
    assert main(["predict", str(clip), "--model", "m.emovox", "--cluster", "local:2"]) == 2
    assert "--cluster needs --output DIR" in capsys.readouterr().err
    assert main(["predict", str(clip), "--model", "m.emovox", "--cluster", "local:2", "--output", str(tmp_path / "o"),
                 "--format", "csv"]) == 2
    assert "--format csv is not available" in capsys.readouterr().err
    assert main(["predict", str(clip), "--model", "m.emovox", "--cluster", "local:zero", "--output",
                 str(tmp_path / "o")]) == 2
    assert "expected local or local:N" in capsys.readouterr().err
