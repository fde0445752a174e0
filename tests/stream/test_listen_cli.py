"""`emovox listen --input` and `emovox record` end to end, through emovox.cli.main."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import tone
from emovox.cli import main
from streamkit import FakeSoundDevice, joined  # noqa: F401  (fixture)


def segments_from(lines):
    return [json.loads(line) for line in lines if json.loads(line)["kind"] == "segment"]


def test_listen_json_and_save(joined, tiny_bundle, tmp_path, capsys):
    path, placed = joined
    out = tmp_path / "kept"
    code = main(["listen", "--input", str(path), "--fast", "--json", "--model", str(tiny_bundle), "--save", str(out)])
    captured = capsys.readouterr()
    assert code == 0
    events = [json.loads(line) for line in captured.out.splitlines()]
    segments = [e for e in events if e["kind"] == "segment"]
    assert {e["kind"] for e in events} == {"segment", "estimate"}
    assert [s["label"] for s in segments] == [p.label for p in placed]
    for s, p in zip(segments, placed):
        assert abs(s["start_s"] - p.speech_start) <= 0.15 and abs(s["end_s"] - p.speech_end) <= 0.15
    assert "4 segment(s)" in captured.err and "input overflows: 0" in captured.err and "4 saved" in captured.err
    wavs = sorted(out.glob("segment-*.wav"))
    assert [w.name for w in wavs] == [f"segment-{i:04d}.wav" for i in range(4)]
    for wav, s in zip(wavs, segments):
        info = sf.info(str(wav))
        assert info.samplerate == 48000 and info.duration > s["end_s"] - s["start_s"]
        assert json.loads(wav.with_suffix(".json").read_text())["label"] == s["label"]


def test_listen_trim_db_reaches_the_recognizer(joined, tiny_bundle, capsys):
    """--trim-db 0 keeps the VAD's own ends; the default trim sets them by level, at most ``edge_search_s``
    outside the VAD's."""
    from emovox.segmentation import VoiceActivity

    reach = VoiceActivity().edge_search_s + 1e-3
    path, placed = joined
    ends = {}
    for trim in ("0", "35"):
        assert main(["listen", "--input", str(path), "--fast", "--json", "--no-estimates", "--trim-db", trim,
                     "--model", str(tiny_bundle)]) == 0
        ends[trim] = [(s["start_s"], s["end_s"]) for s in segments_from(capsys.readouterr().out.splitlines())]
    assert len(ends["0"]) == len(ends["35"]) == len(placed)
    for (s0, e0), (s1, e1) in zip(ends["0"], ends["35"]):
        assert s0 - reach <= s1 < e1 <= e0 + reach
    assert ends["0"] != ends["35"]  # Silero's tail after the last word is trimmed somewhere
    assert main(["listen", "--input", str(path), "--trim-db", "-3", "--model", str(tiny_bundle)]) == 2
    assert "trim_db" in capsys.readouterr().err


def test_listen_terminal_lines_have_times_labels_and_bars(joined, tiny_bundle, capsys):
    path, placed = joined
    assert main(["listen", "--input", str(path), "--fast", "--no-estimates", "--vad", "energy",
                 "--model", str(tiny_bundle)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"listening to {path} at 48000 Hz; VAD energy")
    rows = [line for line in lines if line.startswith("#")]
    assert len(rows) == 4
    for row, p in zip(rows, placed):
        assert f" {p.label} " in row and "█" in row and row.count("·") + row.count("█") == 40  # 4 bars of 10
    assert lines[-1].startswith("4 segment(s) in ")


def test_listen_one_line_errors(tmp_path, tiny_bundle, capsys, monkeypatch):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....")
    assert main(["listen", "--input", str(bad), "--model", str(tiny_bundle)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("emovox: error: ") and "bad.wav" in err and "\n" not in err
    fake_model = tmp_path / "model.emovox"
    fake_model.write_bytes(b"nope")
    assert main(["listen", "--input", str(bad), "--model", str(fake_model)]) == 2
    err = capsys.readouterr().err.strip()
    assert "model.emovox" in err and "\n" not in err
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(None))
    assert main(["listen", "--model", str(tiny_bundle)]) == 2
    assert capsys.readouterr().err.strip() == ("emovox: error: no audio input device found "
                                               "(connect a microphone, or use --input FILE)")
    assert main(["listen", "--list-devices"]) == 1


def test_listen_on_the_microphone_path_reports_overflows(tiny_bundle, capsys, monkeypatch):
    """The microphone source feeding the same pipeline: speech is heard, overflows are reported, unplug ends it."""
    heard = np.concatenate([np.zeros(16000, np.float32), tone(1.5, rate=16000), np.zeros(24000, np.float32)])
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(heard, overflow_blocks={10}))
    code = main(["listen", "--model", str(tiny_bundle), "--rate", "16000", "--vad", "energy", "--json"])
    captured = capsys.readouterr()
    assert code == 2  # the fake device stops at the end of its audio: reported as unplugged
    assert "input overflow, audio was lost (1 so far)" in captured.err
    assert "the input stream stopped (device unplugged?)" in captured.err


def test_record_saves_atomically_then_predicts(tiny_bundle, tmp_path, capsys, monkeypatch):
    from conftest import ravdess_file

    heard, _ = sf.read(str(ravdess_file(10, 6)), dtype="float32")  # a sentence, at 48 kHz, as the microphone
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(heard))
    out = tmp_path / "take.wav"
    assert main(["record", "--seconds", "2", str(out), "--model", str(tiny_bundle), "--json"]) == 0
    captured = capsys.readouterr()
    data, rate = sf.read(str(out), dtype="float32")
    assert rate == 48000 and data.size == 96000
    assert np.allclose(data, heard[:96000], atol=1 / 32768)
    prediction = json.loads(captured.out)
    assert prediction["file"] == str(out) and prediction["label"] in ("calm", "happy", "fearful", "disgust")
    assert "saved 2.00 s" in captured.err
    assert [p.name for p in tmp_path.iterdir()] == ["take.wav"]  # no temporary file left


def test_record_refuses_a_non_wav_name(tmp_path, capsys):
    assert main(["record", str(tmp_path / "x.mp3"), "--no-predict"]) == 2
    assert "x.mp3: the output must be a .wav file" in capsys.readouterr().err


def test_ctrl_c_stops_cleanly_and_keeps_the_open_segment(joined, tiny_bundle, tmp_path, capsys, monkeypatch):
    """A real SIGINT in the middle of the first sentence: the open segment is classified, saved, and reported."""
    import os
    import signal

    from emovox.stream import FileSource

    path, placed = joined
    stop_at = placed[0].speech_start + 1.0
    blocks = FileSource.__iter__

    def interrupted(self):
        for block in blocks(self):
            yield block
            if self.samples_out >= stop_at * self.rate:
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(FileSource, "__iter__", interrupted)
    code = main(["listen", "--input", str(path), "--fast", "--json", "--no-estimates", "--model", str(tiny_bundle),
                 "--save", str(tmp_path / "kept")])
    captured = capsys.readouterr()
    assert code == 0
    segments = segments_from(captured.out.splitlines())
    assert len(segments) == 1 and segments[0]["end_s"] == pytest.approx(stop_at, abs=0.1)
    assert captured.err.splitlines()[-1].startswith("stopped: 1 segment(s)")
    assert [p.name for p in sorted((tmp_path / "kept").iterdir())] == ["segment-0000.json", "segment-0000.wav"]
