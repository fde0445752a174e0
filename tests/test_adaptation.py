"""Speaker adaptation as a user uses it: profiles of a voice, the bundle's speaker-adaptive head, adapted
answers from files, folders and a live stream, and the CLI's --same-speaker, --speaker-profile and --adapt."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import soundfile as sf

import emovox
from emovox.adaptation import MIN_UTTERANCES, SpeakerProfile
from emovox.errors import BundleError, ParameterError

from conftest import RAVDESS, needs_ravdess
from test_whisper import weights_installed

#: Actors the adaptive_bundle fixture never heard (it is trained on actors 01-06): each reads all 60 of its clips.
TEST_ACTORS = (7, 8, 9, 10)


def actor_files(actor: int) -> list:
    return sorted((RAVDESS / f"Actor_{actor:02d}").glob("*.flac"))


def emotion_of(path) -> str:
    return emovox.EMOTIONS[int(path.name.split("-")[2]) - 1]


# -- the profile's arithmetic -------------------------------------------------------------------------------------


def test_profile_statistics_match_numpy_however_the_rows_arrive(tmp_path):
    rows = np.random.default_rng(3).normal(5.0, 3.0, (40, 6)) * np.arange(1, 7)
    one_by_one = SpeakerProfile(6)
    for row in rows:
        one_by_one.add(row)
    halves = SpeakerProfile.of(rows[:13])
    halves.merge(SpeakerProfile.of(rows[13:]))
    for profile in (one_by_one, halves):
        assert profile.count == 40
        np.testing.assert_allclose(profile.mean, rows.mean(axis=0))
        np.testing.assert_allclose(profile.std, rows.std(axis=0))
    z = halves.normalise(rows)
    assert z.dtype == np.float32
    assert np.allclose(z.mean(axis=0), 0, atol=1e-5) and np.allclose(z.std(axis=0), 1, atol=1e-4)
    saved = halves.save(tmp_path / "voice.json")
    np.testing.assert_allclose(SpeakerProfile.load(saved).normalise(rows), z, atol=1e-6)
    assert not SpeakerProfile(6).ready() and halves.ready() and not halves.ready(41)
    with pytest.raises(ParameterError, match="empty"):
        SpeakerProfile(6).normalise(rows)
    with pytest.raises(ParameterError, match="NaN"):
        SpeakerProfile(6).add(np.full(6, np.nan))


@pytest.mark.parametrize("content, problem", [
    (None, "no such speaker profile"),
    (b"\x00\xff not json", "not JSON"),
    (json.dumps({"format": "something else"}).encode(), "format is not"),
    (json.dumps({"format": "emovox-speaker-profile", "format_version": 1, "feature_set": {}, "count": 3,
                 "mean": [0.0, 1.0], "std": [1.0]}).encode(), "same length"),
    (json.dumps({"format": "emovox-speaker-profile", "format_version": 1, "feature_set": {}, "count": 3,
                 "mean": [0.0], "std": [-1.0]}).encode(), "negative"),
    (b'{"format": "emovox-speaker-profile", "format_version": 1, "feature_set": {}, "count": 3, "mean": [NaN], '
     b'"std": [1.0]}', "finite"),
])
def test_a_bad_profile_file_is_one_line_naming_it(tmp_path, content, problem):
    path = tmp_path / "voice.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ParameterError) as caught:
        SpeakerProfile.load(path)
    assert str(caught.value).startswith(str(path)) and problem in str(caught.value) and "\n" not in str(caught.value)


# -- a bundle with the head, on real speech ---------------------------------------------------------------------


@weights_installed
@needs_ravdess
def test_the_head_is_the_recipe_fitted_on_speaker_standardised_features(adaptive_bundle):
    from emovox.models import get_model_spec

    path, dataset = adaptive_bundle
    with zipfile.ZipFile(path) as archive:
        assert "speaker-adaptive.onnx" in archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["speaker_adaptive"]["min_utterances"] == MIN_UTTERANCES
    model = emovox.load_model(path)
    assert model.speaker_adaptive and model.min_speaker_utterances == MIN_UTTERANCES
    adapted_rows = dataset.speaker_adapted()
    reference = get_model_spec("whisper-lr").build(0).fit(adapted_rows.features, adapted_rows.targets,
                                                          groups=[u.speaker for u in dataset.utterances])
    files = actor_files(9)[:12]
    profile = model.speaker_profile(files)
    assert profile.count == 12 and not profile.errors
    features = np.stack([model.features(*sf.read(f, dtype="float32"), name=str(f)) for f in files])
    np.testing.assert_allclose(profile.mean, features.mean(axis=0), rtol=1e-5, atol=1e-5)
    expected = reference.predict_proba(profile.normalise(features))
    found = model.adapted(profile).process_files(files)
    assert [r.file for r in found] == [str(f) for f in files]
    np.testing.assert_allclose([list(r.probabilities.values()) for r in found], expected, atol=2e-3)


@weights_installed
@needs_ravdess
def test_adapting_to_each_unheard_voice_recognises_more_of_its_emotions(adaptive_bundle):
    """On four actors the model never heard, all 60 clips each: adapted answers beat plain ones."""
    from sklearn.metrics import balanced_accuracy_score

    model = emovox.load_model(adaptive_bundle[0])
    truth, plain, adapted = [], [], []
    for actor in TEST_ACTORS:
        files = actor_files(actor)
        truth += [emotion_of(f) for f in files]
        plain += [r.label for r in model.process_files(files)]
        voice = model.speaker_profile(files)
        assert voice.count == len(files)
        adapted += [r.label for r in model.adapted(voice).process_files(files)]
    plain_uar, adapted_uar = balanced_accuracy_score(truth, plain), balanced_accuracy_score(truth, adapted)
    print(f"UAR on actors {TEST_ACTORS}: plain {plain_uar:.3f}, adapted {adapted_uar:.3f}")
    assert adapted_uar > plain_uar + 0.03, (plain_uar, adapted_uar)


@weights_installed
@needs_ravdess
def test_what_adapting_refuses(adaptive_bundle, tiny_bundle, tmp_path):
    model = emovox.load_model(adaptive_bundle[0])
    few = model.speaker_profile(actor_files(7)[:MIN_UTTERANCES - 1])
    with pytest.raises(ParameterError, match=f"holds {MIN_UTTERANCES - 1} utterance.*needs {MIN_UTTERANCES}"):
        model.adapted(few)
    assert model.adapted(few, min_utterances=5).speaker.count == MIN_UTTERANCES - 1
    with pytest.raises(ParameterError, match="no speaker-adaptive head"):
        emovox.load_model(tiny_bundle).adapted(few)
    other = SpeakerProfile(model.feature_set.dim, {"name": "stats", "version": 1, "params": {}, "dim": 2048})
    other.add(np.ones((12, model.feature_set.dim)))
    with pytest.raises(ParameterError, match="made from 'stats' features"):
        model.adapted(other)
    # a file without speech, a missing file: no utterance, kept in errors; the rest still count
    noise = tmp_path / "noise.wav"
    sf.write(noise, np.random.default_rng(0).normal(0, 0.1, 48000).astype(np.float32), 16000)
    voice = model.speaker_profile([*actor_files(7)[:3], noise, tmp_path / "missing.wav"])
    assert voice.count == 3 and [e.problem.split(" ")[0] for e in voice.errors] == ["no", "no"]


@weights_installed
@needs_ravdess
def test_the_bundle_refuses_a_head_without_its_description_and_the_reverse(adaptive_bundle, tmp_path):
    import hashlib

    def rewrite(target, drop: str | None = None, manifest_change=None):
        with zipfile.ZipFile(adaptive_bundle[0]) as src:
            members = {n: src.read(n) for n in src.namelist() if n not in ("SHA256SUMS", drop)}
        if manifest_change:
            manifest = json.loads(members["manifest.json"])
            manifest_change(manifest)
            members["manifest.json"] = json.dumps(manifest).encode()
        with zipfile.ZipFile(target, "w") as dst:
            for name, data in members.items():
                dst.writestr(name, data)
            dst.writestr("SHA256SUMS", "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in members.items()))
        return target

    with pytest.raises(BundleError, match="lacks speaker-adaptive.onnx"):
        emovox.load_model(rewrite(tmp_path / "a.emovox", drop="speaker-adaptive.onnx"))
    with pytest.raises(BundleError, match="not described by the manifest"):
        emovox.load_model(rewrite(tmp_path / "b.emovox", manifest_change=lambda m: m.pop("speaker_adaptive")))
    with pytest.raises(BundleError, match=r"speaker_adaptive\.min_utterances"):
        emovox.load_model(rewrite(tmp_path / "c.emovox",
                                  manifest_change=lambda m: m["speaker_adaptive"].update(min_utterances=0)))


# -- live: the stream adapts once it has heard enough -------------------------------------------------------------


def conversation(files, rate: int = 16000, gap_s: float = 1.5):
    """The clips one after another with ``gap_s`` of quiet between them, at ``rate``: a voice heard live."""
    import soxr

    quiet = np.zeros(int(gap_s * rate), np.float32)
    parts = [quiet]
    for f in files:
        samples, file_rate = sf.read(f, dtype="float32")
        parts += [soxr.resample(samples, file_rate, rate).astype(np.float32), quiet]
    return np.concatenate(parts)


@weights_installed
@needs_ravdess
def test_a_stream_answers_plainly_until_it_has_heard_enough_then_adapted(adaptive_bundle):
    model = emovox.load_model(adaptive_bundle[0])
    audio = conversation(actor_files(8)[::5])  # 12 clips, every emotion
    rows = {}
    for adapt in (False, True):
        voice = model.speaker_profile() if adapt else None
        session = model.stream(16000, speaker=voice, estimate_window_s=None, vad="energy", warm_up=False)
        found = []
        for at in range(0, audio.size, 1600):
            found += session.feed(audio[at:at + 1600])
        rows[adapt] = found + session.close()
    plain, adapted = rows[False], rows[True]
    assert len(plain) == len(adapted) == 12 and session.adapting and voice.count == 12
    first = MIN_UTTERANCES - 1  # answered before the profile was full
    assert [r.probabilities for r in adapted[:first]] == [r.probabilities for r in plain[:first]]
    assert all(a.probabilities != p.probabilities for a, p in zip(adapted[first:], plain[first:]))


# -- the command line ---------------------------------------------------------------------------------------------


def emovox_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "emovox", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@weights_installed
@needs_ravdess
def test_predict_same_speaker_learns_the_voice_saves_it_and_reuses_it(adaptive_bundle, tmp_path):
    bundle = adaptive_bundle[0]
    files = actor_files(10)[::4]  # 15 clips
    run = emovox_cli("predict", "--model", bundle, "--same-speaker", "--save-speaker-profile", tmp_path / "v.json",
                     "--json", *files)
    assert run.returncode == 0, run.stderr
    assert "answers adapted to one voice: 15 utterances" in run.stderr
    out = json.loads(run.stdout)
    rows = out["predictions"]
    assert out["speaker_profile_utterances"] == 15
    model = emovox.load_model(bundle)
    voice = SpeakerProfile.load(tmp_path / "v.json")
    assert voice.count == 15
    expected = model.adapted(voice).process_files(files)
    assert [r["label"] for r in rows] == [r.label for r in expected]
    np.testing.assert_allclose([list(r["probabilities"].values()) for r in rows],
                               [list(r.probabilities.values()) for r in expected], atol=1e-5)
    # the saved voice, on a clip it has not heard, in a worker process
    clip = actor_files(10)[1]
    again = emovox_cli("predict", "--model", bundle, "--speaker-profile", tmp_path / "v.json", "--json", "--jobs", "2",
                       clip, actor_files(10)[2])
    assert again.returncode == 0, again.stderr
    first = json.loads(again.stdout)["predictions"][0]
    assert first["probabilities"] == pytest.approx(model.adapted(voice).predict(clip).probabilities, abs=1e-5)


@weights_installed
@needs_ravdess
def test_predict_same_speaker_with_too_few_clips_says_so_and_answers_plainly(adaptive_bundle):
    files = actor_files(10)[:4]
    run = emovox_cli("predict", "--model", adaptive_bundle[0], "--same-speaker", "--json", *files)
    plain = emovox_cli("predict", "--model", adaptive_bundle[0], "--json", *files)
    assert run.returncode == 0 and plain.returncode == 0, run.stderr
    assert "4 utterance(s) with speech of the voice, fewer than the 10 adapting needs" in run.stderr
    assert json.loads(run.stdout) == json.loads(plain.stdout)
    refused = emovox_cli("predict", "--save-speaker-profile", "x.json", *files)
    assert refused.returncode == 2 and "needs --same-speaker" in refused.stderr


@weights_installed
@needs_ravdess
def test_listen_adapt_says_when_it_starts_and_saves_the_voice(adaptive_bundle, tmp_path):
    wav = tmp_path / "talk.wav"
    sf.write(wav, conversation(actor_files(8)[::5]), 16000)
    run = emovox_cli("listen", "--model", adaptive_bundle[0], "--input", wav, "--fast", "--no-estimates", "--vad", "energy",
                     "--adapt", "--save-speaker-profile", tmp_path / "v.json", "--json")
    assert run.returncode == 0, run.stderr
    assert f"adapting to this voice from now on ({MIN_UTTERANCES} utterances heard)" in run.stderr
    assert "adapted to the voice from 12 utterances" in run.stderr
    assert len(run.stdout.splitlines()) == 12 and SpeakerProfile.load(tmp_path / "v.json").count == 12
    plain = emovox_cli("listen", "--model", adaptive_bundle[0], "--input", wav, "--fast", "--no-estimates", "--vad", "energy",
                       "--json")
    answers = [{k: v for k, v in json.loads(line).items() if k != "latency_ms"} for line in run.stdout.splitlines()]
    plainly = [{k: v for k, v in json.loads(line).items() if k != "latency_ms"} for line in plain.stdout.splitlines()]
    assert answers[:MIN_UTTERANCES - 1] == plainly[:MIN_UTTERANCES - 1]
    assert all(a["probabilities"] != p["probabilities"] for a, p in zip(answers[MIN_UTTERANCES - 1:],
                                                                       plainly[MIN_UTTERANCES - 1:]))


@weights_installed
@needs_ravdess
def test_info_says_a_model_can_adapt_to_a_voice(adaptive_bundle, tiny_bundle):
    with_head = emovox_cli("info", "--model", adaptive_bundle[0])
    without = emovox_cli("info", "--model", tiny_bundle)
    assert with_head.returncode == 0 and without.returncode == 0, with_head.stderr
    assert f"speaker-adaptive head: adapts to one voice from {MIN_UTTERANCES} utterances" in with_head.stdout
    assert "speaker-adaptive" not in without.stdout


@weights_installed
@needs_ravdess
def test_the_websocket_stream_adapts_when_asked(adaptive_bundle, tiny_bundle):
    import asyncio

    websockets = pytest.importorskip("websockets", reason="the WebSocket test needs the websockets package")
    pytest.importorskip("fastapi", reason="the server needs fastapi")
    from emovox.apps.server.app import create_app
    from testkit.server_thread import ServerThread

    pcm = (conversation(actor_files(8)[::5]) * 32767).astype("<i2").tobytes()

    async def stream(url: str, start: dict) -> list[dict]:
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"rate": 16000, "format": "s16", **start}))
            events = [json.loads(await ws.recv())]
            if events[0]["type"] == "ready":
                for at in range(0, len(pcm), 32000):  # 1 s blocks, as fast as the server takes them
                    await ws.send(pcm[at:at + 32000])
                await ws.send(json.dumps({"type": "end"}))
            try:
                async for message in ws:
                    events.append(json.loads(message))
            except websockets.exceptions.ConnectionClosed:  # an error closes with its own code, after the event
                pass
        return events

    with ServerThread(create_app(emovox.load_model(adaptive_bundle[0]))) as server:
        url = server.url.replace("http://", "ws://") + "/v1/stream"
        adapted = asyncio.run(stream(url, {"adapt": True}))
        plain = asyncio.run(stream(url, {}))
        refused = asyncio.run(stream(url, {"adapt": "yes"}))
    assert adapted[0]["adapt"] is True and adapted[0]["adapt_after"] == MIN_UTTERANCES and plain[0]["adapt"] is False
    assert adapted[-1]["type"] == "done" and adapted[-1]["speaker_utterances"] == 12 and adapted[-1]["adapted"]
    segments = {name: [e["probabilities"] for e in events if e["type"] == "segment"]
                for name, events in (("adapted", adapted), ("plain", plain))}
    assert len(segments["adapted"]) == len(segments["plain"]) == 12
    assert segments["adapted"][:MIN_UTTERANCES - 1] == segments["plain"][:MIN_UTTERANCES - 1]
    assert segments["adapted"][-1] != segments["plain"][-1]
    assert refused[-1] == {"type": "error", "status": 400, "message": "'adapt' must be true or false, got 'yes'"}
    with ServerThread(create_app(emovox.load_model(tiny_bundle))) as server:
        url = server.url.replace("http://", "ws://") + "/v1/stream"
        (refused,) = asyncio.run(stream(url, {"adapt": True}))
    assert refused["status"] == 400 and "needs a model with a speaker-adaptive head" in refused["message"]


@needs_ravdess
def test_worker_processes_keep_the_models_settings(tiny_bundle):
    """--jobs N loads the bundle in each worker: the threshold the user set must reach them too."""
    files = [RAVDESS / "Actor_05" / name for name in sorted(p.name for p in (RAVDESS / "Actor_05").glob("*.flac"))[:6]]
    model = emovox.load_model(tiny_bundle, uncertain_below=0.999)
    alone, workers = model.process_files(files), model.process_files(files, jobs=2)
    assert [r.uncertain for r in workers] == [r.uncertain for r in alone] and any(r.uncertain for r in alone)


@weights_installed
@needs_ravdess
def test_one_long_recording_of_one_voice_is_learnt_from_its_own_segments(adaptive_bundle, tmp_path):
    """A voice note of 12 sentences: the profile comes from its voice-activity segments (one utterance each),
    and the adapted timeline has the same segments with the adapted head's answers."""
    wav = tmp_path / "note.wav"
    sf.write(wav, conversation(actor_files(9)[::5]), 16000)
    model = emovox.load_model(adaptive_bundle[0])
    voice = model.speaker_profile(wav, segment="vad", vad="energy")  # one path, not a list of them
    plain = model.process_file(wav, segment="vad", vad="energy")
    assert voice.count == len(plain) >= MIN_UTTERANCES and not voice.errors  # one utterance per segment
    adapted = model.adapted(voice).process_file(wav, segment="vad", vad="energy")
    assert [(r.start_s, r.end_s) for r in adapted] == [(r.start_s, r.end_s) for r in plain]
    assert all(a.probabilities != p.probabilities for a, p in zip(adapted, plain))
    assert f"adapted to a voice from {voice.count} utterances" in model.adapted(voice).describe()


@weights_installed
@needs_ravdess
def test_training_fits_the_head_unless_told_not_to(adaptive_bundle, tmp_path):
    from emovox.errors import DataError
    from emovox.pipeline import fit_bundle

    dataset = adaptive_bundle[1]
    with pytest.raises(DataError, match="'seed-mlp' has no speaker-adaptive head"):
        fit_bundle(dataset, "seed-mlp", tmp_path / "no.emovox", speaker_adaptive=True)
    assert not (tmp_path / "no.emovox").exists()
    # the command line, on two of the fixture's actors (their features are in this run's cache)
    for flags, has_head in (((), True), (("--no-speaker-head",), False)):
        out = tmp_path / f"m{len(flags)}.emovox"
        run = emovox_cli("train", "--data", RAVDESS, "--actors", "01,02", "--recipe", "whisper-lr", "--protocol",
                         "none", "--out", out, *flags)
        assert run.returncode == 0, run.stderr
        assert emovox.load_model(out).speaker_adaptive is has_head
        with zipfile.ZipFile(out) as archive:
            assert ("speaker-adaptive.onnx" in archive.namelist()) is has_head


@weights_installed
@needs_ravdess
def test_evaluate_reports_the_speaker_adaptive_row_beside_each_protocol(adaptive_bundle):
    from emovox.pipeline import evaluate

    run = emovox_cli("evaluate", "--data", RAVDESS, "--actors", ",".join(f"{a:02d}" for a in range(1, 7)),
                     "--recipe", "whisper-lr", "--protocol", "speaker-kfold", "--folds", "3", "--speaker-adaptive",
                     "--json")
    assert run.returncode == 0, run.stderr
    plain, adapted = json.loads(run.stdout)["results"]
    assert (plain["protocol"], adapted["protocol"]) == ("speaker-kfold", "speaker-kfold+speaker-adaptive")
    (expected,) = evaluate(adaptive_bundle[1].speaker_adapted(), "whisper-lr", ["speaker-kfold"], k=3, progress=False)
    assert adapted["summary"]["uar"] == pytest.approx(expected["summary"]["uar"])
    assert adapted["summary"]["uar"] != plain["summary"]["uar"]
