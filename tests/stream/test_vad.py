"""Voice activity detection: the segmenter's rules, and both detectors on real and synthetic audio."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ravdess_file, tone
from emovox.errors import ParameterError
from emovox.stream.vad import FRAME, VAD_RATE, EnergyVAD, Segmenter, SileroVAD, make_vad, silero_model_path

needs_silero = pytest.mark.skipif(silero_model_path() is None, reason="silero-vad is not installed")
FRAME_S = FRAME / VAD_RATE


def spans(probabilities, **options):
    seg = Segmenter(**options)
    found = [s for p in probabilities if (s := seg.push(p)) is not None]
    last = seg.finish()
    return found + ([last] if last else [])


def test_segmenter_needs_min_silence_to_end_and_min_speech_to_count():
    on, off = [0.9] * 20, [0.0] * 20
    # a 5-frame dip (160 ms) is shorter than min_silence 0.5 s: one segment
    got = spans(off + on + [0.0] * 5 + on + off, min_silence_s=0.5)
    assert [(s.start_frame, s.end_frame) for s in got] == [(20, 65)]
    # a 20-frame pause (640 ms) splits it
    got = spans(off + on + off + on + off, min_silence_s=0.5)
    assert [(s.start_frame, s.end_frame) for s in got] == [(20, 40), (60, 80)]
    # 4 frames (128 ms) of speech are below min_speech 0.25 s
    assert spans(off + [0.9] * 4 + off, min_speech_s=0.25) == []


def test_segmenter_end_is_decided_min_silence_after_speech():
    seg = Segmenter(min_silence_s=0.5)
    decided = [i for i, p in enumerate([0.0] * 5 + [0.9] * 20 + [0.0] * 30) if seg.push(p) is not None]
    assert decided == [25 + round(0.5 / FRAME_S) - 1]


def test_segmenter_hysteresis_holds_between_thresholds():
    # 0.4 is between neg_threshold 0.35 and threshold 0.5: it neither starts nor ends speech
    assert spans([0.4] * 50) == []
    got = spans([0.9] * 10 + [0.4] * 30 + [0.0] * 20, min_silence_s=0.5)
    assert [(s.start_frame, s.end_frame) for s in got] == [(0, 40)]


def test_segmenter_cuts_long_speech_and_finishes_open_segment():
    got = spans([0.9] * 105, max_segment_s=1.0)
    assert [(s.start_frame, s.end_frame, s.forced) for s in got[:3]] == [(0, 31, True), (31, 62, True), (62, 93, True)]
    assert (got[-1].start_frame, got[-1].end_frame, got[-1].forced) == (93, 105, False)
    assert spans([0.9] * 100, max_segment_s=1.0)[-1].end_frame == 93  # a 7-frame rest is below min_speech


@pytest.mark.parametrize("options", [dict(threshold=0.3, neg_threshold=0.5), dict(threshold=1.5),
                                     dict(min_silence_s=-1), dict(max_segment_s=0.1)])
def test_segmenter_refuses_bad_options(options):
    with pytest.raises(ParameterError):
        Segmenter(**options)


def frames(samples):
    n = samples.size // FRAME
    return [samples[k * FRAME:(k + 1) * FRAME] for k in range(n)]


def test_energy_vad_tracks_the_noise_floor():
    rng = np.random.default_rng(1)
    noise = (0.003 * rng.standard_normal(VAD_RATE)).astype(np.float32)  # -50 dBFS room noise
    speech = tone(1.0, rate=VAD_RATE) + noise
    vad = EnergyVAD()
    probs = [vad.probability(f) for f in frames(np.concatenate([noise, speech, noise]))]
    n = len(probs) // 3
    assert max(probs[2:n]) < 0.1          # steady noise is not speech, however loud the room
    assert min(probs[n + 1:2 * n - 1]) > 0.9
    assert max(probs[2 * n + 1:]) < 0.1
    assert EnergyVAD().probability(np.zeros(FRAME, np.float32)) == 0.0


@needs_silero
def test_silero_finds_the_sentence_in_a_ravdess_clip(ravdess):
    from emovox.audio import load
    from testkit.reference import speech_bounds

    audio = load(ravdess_file(5, 3), rate=VAD_RATE)
    start, end = speech_bounds(audio)
    vad = SileroVAD()
    probs = np.array([vad.probability(f) for f in frames(audio.samples)])
    t = (np.arange(probs.size) + 0.5) * FRAME_S
    assert probs[t < start - 0.2].max() < 0.2
    assert probs[(t > start + 0.2) & (t < end - 0.2)].mean() > 0.8
    assert probs[t > end + 0.4].max() < 0.35
    vad.reset()  # state is forgotten: the same first frame gives the same answer
    assert vad.probability(frames(audio.samples)[40]) == pytest.approx(SileroVAD().probability(frames(audio.samples)[40]))


@needs_silero
def test_silero_does_not_take_a_steady_tone_or_noise_for_speech():
    rng = np.random.default_rng(0)
    vad = SileroVAD()
    noise = (0.05 * rng.standard_normal(2 * VAD_RATE)).astype(np.float32)
    assert max(vad.probability(f) for f in frames(noise)) < 0.5


def test_make_vad_by_name():
    assert make_vad("energy").name == "energy"
    assert make_vad("auto").name == ("silero" if silero_model_path() else "energy")
    with pytest.raises(ParameterError, match="unknown VAD"):
        make_vad("nope")


def test_silero_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ParameterError, match="cannot load the Silero VAD model"):
        SileroVAD((tmp_path / "bad.onnx").write_bytes(b"not onnx") and tmp_path / "bad.onnx")
