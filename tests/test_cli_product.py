"""The command line as a user meets it: the model store, `use`, terminal widths, pipes, formats, file names."""

from __future__ import annotations

import json
import os
import pty
import fcntl
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import needs_ravdess, ravdess_file, tone
from emovox.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"
def env(**extra: str) -> dict:
    """The environment for a child emovox: this test session's own EMOVOX_HOME and EMOVOX_CACHE (set by
    conftest when the session starts, so read now, not at import), and the source tree."""
    return os.environ | {"PYTHONPATH": str(SRC), **extra}


def run_in_pty(args: list[str], columns: int = 80, timeout: float = 120.0) -> tuple[int, str]:
    """Run ``python -m emovox ARGS`` on a pseudo-terminal of ``columns`` columns; its exit code and screen text."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "emovox", *args], stdin=follower, stdout=follower,
                            stderr=follower, env=env(COLUMNS=str(columns), TERM="xterm"), close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], timeout)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=30)
    os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def screen_lines(text: str) -> list[str]:
    """The lines as a terminal shows them: carriage returns and ANSI clears rewrite the line."""
    import re

    lines = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        shown = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", raw.split("\r")[-1])
        lines.append(shown)
    return lines


def test_help_shows_real_defaults_and_one_meaning_per_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--recipe RECIPE" in text and "(default: whisper-vad-aug-lr)" in text and "--model" not in text
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--model BUNDLE" in text and "Data:" not in text and "(default: None)" not in text
    with pytest.raises(SystemExit):
        main(["gui", "--help"])
    assert "--fast " in capsys.readouterr().out


# -- the terminal -------------------------------------------------------------------------------------------

@needs_ravdess
def test_listen_and_predict_fit_an_80_column_terminal(tiny_bundle, tmp_path):
    from testkit.reference import join_clips

    from emovox import audio

    samples, rate, _ = join_clips([(audio.load(ravdess_file(a, 6)), None) for a in (10, 13)], gap=1.2)
    path = tmp_path / "a-rather-long-file-name-for-a-recording-of-two-people-talking.flac"
    sf.write(str(path), samples, rate, subtype="PCM_16")
    code, text = run_in_pty(["listen", "--input", str(path), "--fast", "--model", str(tiny_bundle)])
    lines = [line for line in screen_lines(text) if line.strip()]
    assert code == 0, text
    assert any(line.startswith("#0") for line in lines)
    assert max(len(line) for line in lines if line.startswith(("#", "  ~"))) <= 80
    code, text = run_in_pty(["predict", "--segments", str(path), "--model", str(tiny_bundle)], columns=80)
    lines = [line for line in screen_lines(text) if line.strip()]
    assert code == 0, text
    table = lines[lines.index(next(line for line in lines if line.split()[:2] == ["start", "end"])):]
    assert len(table) == 3 and max(len(line) for line in table) <= 80
    assert table[1].rstrip().endswith("talking.flac")  # the name is shortened from the left


@needs_ravdess
def test_closed_pipe_ends_quietly(tiny_bundle):
    for args in (["info", "--json"], ["listen", "--input", str(ravdess_file(10, 6)), "--fast", "--json",
                                      "--model", str(tiny_bundle)]):
        proc = subprocess.Popen([sys.executable, "-m", "emovox", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env())
        proc.stdout.readline()
        proc.stdout.close()  # the reader goes away, as `| head -1` does
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 0, err
        assert "Traceback" not in err and "BrokenPipeError" not in err


# -- formats and names ---------------------------------------------------------------------------------------

@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="this libsndfile writes no MP3")
@needs_ravdess
def test_a_folder_of_mp3s_and_an_m4a(tiny_bundle, tmp_path, capsys):
    folder = tmp_path / "mp3s"
    folder.mkdir()
    for actor in (10, 13):
        samples, rate = sf.read(str(ravdess_file(actor, 6)), dtype="float32")
        sf.write(str(folder / f"actor{actor}.mp3"), samples, rate, format="MP3")
    assert main(["predict", str(folder), "--model", str(tiny_bundle), "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [Path(r["file"]).name for r in rows] == ["actor10.mp3", "actor13.mp3"]
    assert all(r["end_s"] > 2.5 for r in rows)
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    assert main(["predict", str(empty), str(other), "--model", str(tiny_bundle)]) == 1
    err = capsys.readouterr().err
    assert f"{empty}: no audio files in this folder" in err and f"{other}: no audio files" in err


def test_m4a_decodes_through_ffmpeg_or_says_what_to_install(tmp_path):
    import emovox.audio as audio

    av = pytest.importorskip("av", reason="PyAV is not installed (pip install 'emovox[formats]')")
    path = tmp_path / "phone.m4a"
    wave = tone(2.0, 44100)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        stream.layout = "mono"
        for at in range(0, wave.size, 1024):
            frame = av.AudioFrame.from_ndarray(wave[None, at:at + 1024], format="flt", layout="mono")
            frame.sample_rate = 44100
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    got = audio.load(path)
    assert got.rate == 44100 and abs(got.duration - 2.0) < 0.1
    assert np.corrcoef(got.samples[2048:80000], wave[:80000 - 2048])[0, 1] > 0.9 or \
        abs(float(np.sqrt(np.mean(got.samples ** 2))) - float(np.sqrt(np.mean(wave ** 2)))) < 0.05


def test_m4a_without_pyav_names_what_to_install(tmp_path, monkeypatch):
    import builtins

    import emovox.audio as audio
    from emovox.errors import AudioError

    path = tmp_path / "phone.m4a"
    path.write_bytes(b"\x00\x00\x00\x18ftypM4A " + bytes(200))
    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av":
            raise ImportError("no av")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_av)
    with pytest.raises(AudioError, match="M4A needs FFmpeg: pip install av"):
        audio.load(path)


@needs_ravdess
def test_undecodable_file_names_never_crash_the_output(tiny_bundle, tmp_path):
    folder = tmp_path / "names"
    folder.mkdir()
    odd = os.fsencode(folder) + b"/caf\xe9-\xff.flac"
    with open(odd, "wb") as handle:
        handle.write(ravdess_file(10, 6).read_bytes())
    (folder / "plain.flac").write_bytes(ravdess_file(13, 6).read_bytes())
    with open(os.fsencode(folder) + b"/bad-\xfe.wav", "wb") as handle:
        handle.write(b"x")
    for fmt in ("table", "csv", "jsonl", "json"):
        done = subprocess.run([sys.executable, "-m", "emovox", "predict", str(folder), "--model", str(tiny_bundle),
                               "--format", fmt], capture_output=True,
                              env=env(LC_ALL="C.UTF-8", PYTHONIOENCODING="utf-8:strict"))
        assert done.returncode == 1, done.stderr.decode()  # one bad file
        out = done.stdout.decode("utf-8")  # valid UTF-8 whatever the names
        assert "plain.flac" in out and "caf" in out and "Traceback" not in done.stderr.decode()
