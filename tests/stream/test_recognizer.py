"""Stream sessions (``model.stream``) on real speech: RAVDESS clips joined by silences, fed as a microphone would."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from conftest import tone
from emovox.errors import EmovoxError, ParameterError
from emovox.stream import EnergyVAD, FileSource, run
from testkit.reference import match_segments
from streamkit import joined  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def model(tiny_bundle):
    from emovox import load_model

    return load_model(tiny_bundle)


def stream(model, path, *, block_seconds=0.032, **options):
    """Feed ``path`` block by block to ``model.stream(rate, **options)``; the session and its rows."""
    source = FileSource(path, block_seconds=block_seconds)
    rec = model.stream(source.rate, **options)
    events = [e for block in source for e in rec.feed(block)] + rec.close()
    return rec, events


@pytest.mark.parametrize("vad, tolerance", [("silero", 0.15), ("energy", 0.25)])
def test_one_segment_per_clip_close_to_the_speech(model, joined, vad, tolerance):
    """Silero meets the 150 ms target on these clips; the energy fallback is held to 250 ms."""
    path, placed = joined
    rec, events = stream(model, path, vad=vad, estimate_window_s=None)
    segments = [e for e in events if e.kind == "segment"]
    assert [len(m) for m in match_segments(placed, segments)] == [1] * len(placed)
    assert len(segments) == len(placed)
    for p, s in zip(placed, segments):
        assert abs(s.start_s - p.speech_start) <= tolerance, (p.path, s.start_s, p.speech_start)
        assert abs(s.end_s - p.speech_end) <= tolerance, (p.path, s.end_s, p.speech_end)
    assert rec.samples_in == rec.samples_processed == FileSource(path).total_samples


def test_segment_labels_are_the_models_answer_on_the_segment_audio(model, joined):
    path, placed = joined
    _, events = stream(model, path, vad="silero", estimate_window_s=None, keep_audio=True)
    segments = [e for e in events if e.kind == "segment"]
    for s in segments:
        # the model hears the speech with up to 1 s of context before and what has arrived after
        assert (s.end_s - s.start_s) * s.rate_hz < s.samples.size <= (s.end_s - s.start_s + 2.0) * s.rate_hz
        offline = model.predict(s.samples, rate=s.rate_hz)
        assert s.label == offline.label == max(s.probabilities, key=s.probabilities.get)
        assert sum(s.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert 0.0 < s.latency_ms < 1000.0
    # the clips come from the speakers the bundle was trained on: it should know them
    assert [s.label for s in segments] == [p.label for p in placed]


def test_without_context_the_seed_model_loses_its_footing(model, joined):
    """Why ``context`` exists: seed180 averages over frames, and the bundles were trained on clips with silence."""
    path, placed = joined
    _, bare = stream(model, path, estimate_window_s=None, context_s=0.0)
    _, framed = stream(model, path, estimate_window_s=None)
    assert [(e.start_s, e.end_s) for e in bare] == [(e.start_s, e.end_s) for e in framed]  # same segments either way
    assert sum(e.label == p.label for e, p in zip(framed, placed)) > sum(e.label == p.label for e, p in zip(bare, placed))


def test_block_size_does_not_change_the_result(model, joined):
    path, _ = joined
    _, a = stream(model, path, block_seconds=0.032, estimate_window_s=None)
    _, b = stream(model, path, block_seconds=0.1234, estimate_window_s=None)
    rec, c = stream(model, path, block_seconds=3.0, estimate_window_s=None)
    key = [(e.start_s, e.end_s, e.label) for e in a]
    assert key == [(e.start_s, e.end_s, e.label) for e in b] == [(e.start_s, e.end_s, e.label) for e in c]
    assert rec.samples_processed == rec.samples_in


def test_estimates_run_during_speech_every_hop_and_are_smoothed(model, joined):
    path, _ = joined
    # estimates start from the VAD's start; trim_db=0 keeps the segments' starts there (the trim moves them
    # only when the segment ends, after its estimates)
    _, events = stream(model, path, estimate_window_s=2.0, estimate_hop_s=0.5, smoothing=0.5, trim_db=0)
    segments = [e for e in events if e.kind == "segment"]
    estimates = [e for e in events if e.kind == "estimate"]
    assert len(estimates) >= len(segments)
    for e in estimates:
        owner = segments[e.index]
        # the speech with <= 1 s context before; estimates go on until the end is decided, min_silence (1 s) later
        assert owner.start_s - 1.0 - 1e-6 <= e.start_s < e.end_s <= owner.end_s + 1.0 + 0.1
        assert e.end_s - e.start_s <= 2.0 + 1e-6
        assert round(e.end_s * 1000) % 500 < 40  # on the 0.5 s ticks (VAD frames are 32 ms)
        assert sum(e.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    # no estimate in the silences between clips: each is emitted before its segment ends
    for e in estimates:
        assert events.index(e) < events.index(segments[e.index])


def test_smoothing_averages_with_the_previous_estimate(model, joined):
    path, _ = joined
    _, raw = stream(model, path, smoothing=0.0)
    _, smooth = stream(model, path, smoothing=0.5)
    raw_e = [e for e in raw if e.kind == "estimate"]
    smooth_e = [e for e in smooth if e.kind == "estimate"]
    assert [(e.start_s, e.end_s) for e in raw_e] == [(e.start_s, e.end_s) for e in smooth_e]
    for i in range(1, len(raw_e)):
        if raw_e[i].index == raw_e[i - 1].index:
            for k, v in smooth_e[i].probabilities.items():
                assert v == pytest.approx(0.5 * smooth_e[i - 1].probabilities[k] + 0.5 * raw_e[i].probabilities[k],
                                          abs=1e-9)


def test_close_ends_an_open_segment_and_rows_serialise(model):
    speech = tone(1.5, rate=16000, amplitude=0.3)
    rec = model.stream(16000, vad="energy", estimate_window_s=None)
    silence = np.zeros(8000, np.float32)
    assert rec.feed(silence) == []
    assert rec.feed(speech) == []  # speech still going on: nothing decided yet
    assert rec.in_speech
    events = rec.close()
    assert [e.kind for e in events] == ["segment"]
    assert events[0].start_s == pytest.approx(0.5, abs=0.07) and events[0].end_s == pytest.approx(2.0, abs=0.07)
    data = json.loads(json.dumps(events[0].to_dict()))
    assert set(data) == {"file", "kind", "index", "start_s", "end_s", "label", "probabilities", "uncertain", "latency_ms"}
    assert data["file"] == "<stream>" and data["kind"] == "segment" and data["index"] == 0
    assert rec.samples_in == rec.samples_processed == 8000 + speech.size
    assert rec.close() == []  # closing twice gives nothing more
    with pytest.raises(ParameterError, match="closed"):
        rec.feed(silence)


def test_trim_cuts_a_quiet_tail_that_the_vad_keeps(model):
    """A 1 s tone followed by 0.4 s of noise 40 dB below it: the energy VAD keeps the noise, the trim drops it."""
    rate = 16000
    noise = (np.random.default_rng(1).standard_normal(int(0.4 * rate)) * 10 ** (-50 / 20)).astype(np.float32)
    silence = np.zeros(rate, np.float32)
    audio = np.concatenate([silence, tone(1.0, rate=rate, amplitude=0.4), noise, silence, silence])
    ends = {}
    for trim_db in (0, 35.0):
        rec = model.stream(rate, vad="energy", estimate_window_s=None, trim_db=trim_db, pad_s=0.03)
        segments = rec.feed(audio) + rec.close()
        assert [e.kind for e in segments] == ["segment"]
        assert segments[0].start_s == pytest.approx(1.0 - 0.03, abs=0.035)
        ends[trim_db] = segments[0].end_s
    assert ends[0] == pytest.approx(2.4 + 0.03, abs=0.07)   # untrimmed: the VAD's end, noise included
    assert ends[35.0] == pytest.approx(2.0 + 0.03, abs=0.015)  # trimmed to the tone's end, plus the pad
    with pytest.raises(ParameterError, match="trim_db"):
        model.stream(16000, trim_db=-1)


def test_bad_blocks_and_options_are_refused(model):
    rec = model.stream(16000, vad="energy")
    with pytest.raises(EmovoxError, match="NaN"):
        rec.feed(np.array([0.0, np.nan], np.float32))
    with pytest.raises(ParameterError, match="rate"):
        model.stream(100)
    with pytest.raises(ParameterError, match="smoothing"):
        model.stream(16000, smoothing=1.0)
    with pytest.raises(ParameterError, match="min_silence_s"):
        model.stream(16000, min_silence_s=-1)


def test_the_detector_is_chosen_by_name_or_given(model):
    """``vad`` is one of the voice-activity options (a name, as ``emovox listen --vad`` gives); ``detector`` is an
    instance to use instead."""
    assert model.stream(16000, vad="energy", warm_up=False).vad.name == "energy"
    given = EnergyVAD()
    assert model.stream(16000, vad="silero", detector=given, warm_up=False).vad is given
    with pytest.raises(ParameterError, match="unknown VAD"):
        model.stream(16000, vad="loud")


def test_realtime_paced_run_loses_no_audio(model, joined, tmp_path):
    """The real path at real-time pace, on the first 3 s (a short run; the bench checks 10 minutes)."""
    import soundfile as sf

    path, _ = joined
    data, rate = sf.read(str(path), dtype="float32")
    short = tmp_path / "short.wav"
    sf.write(str(short), data[:3 * rate], rate, subtype="PCM_16")
    source = FileSource(short, realtime=True)
    rec = model.stream(rate, estimate_window_s=None)
    began = time.monotonic()
    report = run(source, rec)
    assert time.monotonic() - began >= 2.9
    assert report.samples_in == report.samples_processed == source.samples_out == 3 * rate
    assert report.real_time_factor < 0.5
    assert len(report.segments) == 1 and report.segments[0].start_s == pytest.approx(1.0 + 0.9, abs=0.6)
