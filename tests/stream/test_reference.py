"""The segmentation reference: hand-checked speech bounds for the benchmark stream, and the energy reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import ravdess_file, tone
from emovox.audio import from_array, load
from testkit.reference import join_clips, read_bounds, speech_bounds

ANNOTATIONS = Path(__file__).resolve().parents[2] / "bench" / "annotations"
SEED0, SEED1 = ANNOTATIONS / "ravdess-speech.tsv", ANNOTATIONS / "ravdess-speech-seed1.tsv"


def test_energy_reference_finds_a_tone_between_silences_and_ignores_a_click():
    rate = 16000
    room = (np.random.default_rng(0).standard_normal(rate) * 1e-5).astype(np.float32)  # -100 dBFS
    click = room.copy()
    click[8000:8040] = 0.5  # 2.5 ms: far shorter than the 50 ms a run needs
    samples = np.concatenate([click, tone(1.5, rate=rate, amplitude=0.3), room])
    start, end = speech_bounds(from_array(samples, rate))
    assert start == pytest.approx(1.0, abs=0.011) and end == pytest.approx(2.5, abs=0.011)


def count_hand_bounds(path: Path, ravdess: Path) -> int:
    """Check every row of an annotation file against its clip; return how many bounds are by hand.

    A bound kept from the energy reference must equal it (rounded to 10 ms); a hand bound must lie in the clip.
    """
    rows = [line.rstrip("\n").split("\t") for line in path.read_text().splitlines()
            if line and not line.startswith(("#", "file\t"))]
    hand = 0
    for name, start, end, start_from, end_from, *_ in rows:
        actor = int(name[-7:-5])
        audio = load(ravdess.joinpath(f"Actor_{actor:02d}", name))
        assert 0.0 <= float(start) < float(end) <= audio.duration, name
        energy = speech_bounds(audio)
        for value, source, reference in ((start, start_from, energy[0]), (end, end_from, energy[1])):
            assert source in ("energy", "hand"), name
            if source == "energy":
                assert float(value) == pytest.approx(reference, abs=0.006), name
            else:
                hand += 1
    return hand


def test_annotations_match_their_clips_and_replace_the_energy_bounds(ravdess):
    bounds = read_bounds(SEED0)
    assert len(bounds) == 128
    assert count_hand_bounds(SEED0, ravdess) == 17
    # seed 1's file lists only clips that seed 0's does not, so the two merge without conflict
    seed1 = read_bounds(SEED1)
    assert len(seed1) == 113 and not set(seed1) & set(bounds)
    assert count_hand_bounds(SEED1, ravdess) == 17
    # join_clips uses the annotation for a listed file, the energy reference for the rest
    listed = "03-01-07-01-01-02-12.flac"  # a click before the sentence
    clips = [(load(ravdess / "Actor_12" / listed), "disgust"), (load(ravdess_file(1, 2, 1, 1, 1)), "calm")]
    _, _, placed = join_clips(clips, gap=1.0, bounds=bounds)
    assert placed[0].speech_start - placed[0].clip_start == pytest.approx(bounds[listed][0])
    assert bounds[listed][0] - speech_bounds(clips[0][0])[0] > 0.9  # the energy reference took the click
    assert placed[1].speech_start - placed[1].clip_start == pytest.approx(speech_bounds(clips[1][0])[0])
