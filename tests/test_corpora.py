import pytest

from conftest import needs_ravdess, tone, write_audio
from emovox import corpora
from emovox.corpora import ravdess
from emovox.errors import DataError
from emovox.labels import parse_emotions


def test_parse_ravdess_name():
    f = ravdess.parse_name("Actor_12/03-01-06-02-01-02-12.flac")
    assert f == {"modality": "audio-only", "channel": "speech", "emotion": "fearful", "intensity": "strong",
                 "statement": "Kids are talking by the door", "repetition": 2, "actor": 12, "gender": "female"}
    assert ravdess.parse_name("03-02-01-01-02-01-07.wav")["channel"] == "song"
    assert ravdess.parse_name("03-02-01-01-02-01-07.wav")["gender"] == "male"
    for bad in ("03-01-09-01-01-01-01.wav", "03-01-01-01-01-01-25.wav", "hello.wav", "03-01-01-03-01-01-01.wav"):
        with pytest.raises(DataError):
            ravdess.parse_name(bad)


@needs_ravdess
def test_ravdess_corpus(ravdess):
    utts = corpora.open_corpus(ravdess)
    assert len(utts) == 1440 and len({u.speaker for u in utts}) == 24
    assert sum(u.label == "neutral" for u in utts) == 96 and sum(u.label == "calm" for u in utts) == 192
    seed = corpora.select(utts, parse_emotions("seed"))
    assert len(seed) == 768
    assert [str(u.path) for u in seed] == sorted(str(u.path) for u in seed)


def test_ravdess_wav_and_song_filter(tmp_path):
    for name in ("03-01-03-01-01-01-05.wav", "03-02-03-01-01-01-05.wav"):
        (tmp_path / "Actor_05").mkdir(exist_ok=True)
        write_audio(tmp_path / "Actor_05" / name, tone(0.3), 16000)
    assert [u.label for u in corpora.open_corpus(tmp_path)] == ["happy"]
    assert len(list(ravdess.utterances(tmp_path, channel="any"))) == 2


def test_folder_and_manifest(tmp_path):
    root = tmp_path / "data"
    for label, speaker in (("happy", "spk1"), ("Sad", "spk2")):
        folder = root / label / speaker
        folder.mkdir(parents=True)
        write_audio(folder / "a.wav", tone(0.3), 16000)
    utts = corpora.open_corpus(root)
    assert {(u.label, u.speaker) for u in utts} == {("happy", "spk1"), ("sad", "spk2")}
    (root / "bored").mkdir()
    with pytest.raises(DataError, match="not an emotion"):
        corpora.open_corpus(root)

    csv_path = tmp_path / "m.csv"
    csv_path.write_text("path,label,speaker\ndata/happy/spk1/a.wav,happy,s1\ndata/sad/spk2/a.wav,,s2\n")
    rows = corpora.open_corpus(csv_path)
    assert rows[0].path == tmp_path / "data/happy/spk1/a.wav" and rows[0].speaker == "s1" and rows[1].label is None
    csv_path.write_text("path,label\nx.wav,joyful\n")
    with pytest.raises(DataError, match="unknown label 'joyful'"):
        corpora.open_corpus(csv_path)


def test_parse_emotions():
    assert parse_emotions("all")[0] == "neutral" and len(parse_emotions(None)) == 8
    assert parse_emotions("disgust,calm") == ("calm", "disgust")
    with pytest.raises(Exception, match="unknown emotion"):
        parse_emotions("calm,joy")
    with pytest.raises(Exception, match="at least two"):
        parse_emotions("calm")
