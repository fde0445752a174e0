"""CREMA-D, TESS, EMO-DB and SAVEE adapters, on tiny synthetic folders named like each corpus."""

from pathlib import Path

import pytest

from conftest import tone, write_audio
from emovox import corpora
from emovox.corpora import cremad, emodb, savee, tess
from emovox.errors import DataError

CLIP = tone(0.3)


def make(root: Path, *names: str) -> Path:
    """Write a 0.3 s WAV at each relative path under ``root``; return ``root``."""
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_audio(path, CLIP, 16000)
    return root


def test_cremad(tmp_path):
    root = make(tmp_path / "CREMA-D", "AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1091_IEO_HAP_HI.wav",
                "AudioWAV/1040_ITH_SAD_X.wav", "AudioWAV/1002_TIE_FEA_LO.wav", "AudioWAV/1003_IWW_DIS_MD.wav",
                "AudioWAV/1004_MTI_NEU_XX.wav", "AudioWAV/notes.wav")
    (root / "AudioWAV" / "README.txt").write_text("not audio")
    assert cremad.looks_like_cremad(root) and not tess.looks_like_tess(root)
    utts = corpora.open_corpus(root)
    assert [u.path.name for u in utts] == sorted(u.path.name for u in utts if u.path.name != "notes.wav")
    assert {(u.speaker, u.label) for u in utts} == {("1001", "angry"), ("1091", "happy"), ("1040", "sad"),
                                                   ("1002", "fearful"), ("1003", "disgust"), ("1004", "neutral")}
    assert {u.corpus for u in utts} == {"cremad"}
    assert cremad.parse_name("1091_IEO_HAP_HI.wav") == {"actor": "1091", "sentence": "IEO", "emotion": "happy",
                                                        "level": "high"}
    assert utts[0].extra == {"actor": "1001", "sentence": "DFA", "emotion": "angry", "level": "unspecified"}
    for bad, why in (("1000_DFA_ANG_XX.wav", "actor 1000"), ("1001_DFA_BOR_XX.wav", "emotion BOR"),
                     ("1001_DFA_ANG_ZZ.wav", "level ZZ"), ("1001-DFA-ANG-XX.wav", "not a CREMA-D")):
        with pytest.raises(DataError, match=why):
            cremad.parse_name(bad)


def test_tess(tmp_path):
    root = make(tmp_path / "TESS", "OAF_angry/OAF_back_angry.wav", "OAF_neutral/OA_bite_neutral.wav",
                "YAF_pleasant_surprised/YAF_youth_ps.wav", "YAF_fear/YAF_neat_fear.wav",
                "YAF_disgust/YAF_germ_disgust.wav", "OAF_Sad/OAF_bath_sad.wav", "OAF_happy/OAF_bar_happy.wav")
    assert tess.looks_like_tess(root) and not emodb.looks_like_emodb(root)
    utts = corpora.open_corpus(root)
    assert [u.path for u in utts] == sorted(u.path for u in utts) and len(utts) == 7
    assert {u.path.name: (u.speaker, u.label) for u in utts} == {
        "OAF_back_angry.wav": ("OAF", "angry"), "OA_bite_neutral.wav": ("OAF", "neutral"),
        "YAF_youth_ps.wav": ("YAF", "surprised"), "YAF_neat_fear.wav": ("YAF", "fearful"),
        "YAF_germ_disgust.wav": ("YAF", "disgust"), "OAF_bath_sad.wav": ("OAF", "sad"),
        "OAF_bar_happy.wav": ("OAF", "happy")}
    assert tess.parse_name("YAF_youth_ps.wav") == {"speaker": "YAF", "word": "youth", "emotion": "surprised",
                                                   "age_group": "younger", "gender": "female"}
    for bad in ("XAF_back_angry.wav", "OAF_back_bored.wav", "OAF_angry.wav"):
        with pytest.raises(DataError, match="not a TESS file name"):
            tess.parse_name(bad)


def test_emodb_skips_boredom(tmp_path):
    root = make(tmp_path / "emodb", "wav/03a01Wa.wav", "wav/08a02Lb.wav", "wav/09b01Ea.wav", "wav/10a04Ab.wav",
                "wav/13b10Fc.wav", "wav/14a05Ta.wav", "wav/16b03Na.wav", "wav/11a07La.wav")
    (root / "lablaut").mkdir()
    assert emodb.looks_like_emodb(root) and not savee.looks_like_savee(root)
    utts = corpora.open_corpus(root)
    assert [u.path.stem for u in utts] == ["03a01Wa", "09b01Ea", "10a04Ab", "13b10Fc", "14a05Ta", "16b03Na"]
    assert [u.label for u in utts] == ["angry", "disgust", "fearful", "happy", "sad", "neutral"]
    assert [u.speaker for u in utts] == ["03", "09", "10", "13", "14", "16"]
    assert [u.extra["gender"] for u in utts] == ["male", "female", "male", "female", "female", "female"]
    assert emodb.parse_name("08a02Lb.wav") == {"speaker": "08", "text": "a02", "emotion": None,
                                               "emotion_code": "L", "version": "b", "gender": "female"}
    with pytest.raises(DataError, match="speaker 04"):
        emodb.parse_name("04a01Fa.wav")
    with pytest.raises(DataError, match="emotion letter X"):
        emodb.parse_name("03a01Xa.wav")


def test_savee(tmp_path):
    root = make(tmp_path / "SAVEE", "AudioData/DC/a01.wav", "AudioData/DC/n30.wav", "AudioData/JE/sa03.wav",
                "AudioData/JK/su15.wav", "AudioData/KL/d02.wav", "AudioData/KL/f07.wav", "AudioData/KL/h11.wav",
                "AudioData/XX/a01.wav")
    assert savee.looks_like_savee(root) and not cremad.looks_like_cremad(root)
    utts = corpora.open_corpus(root)
    assert [(u.speaker, u.label) for u in utts] == [("DC", "angry"), ("DC", "neutral"), ("JE", "sad"),
                                                    ("JK", "surprised"), ("KL", "disgust"), ("KL", "fearful"),
                                                    ("KL", "happy")]
    assert utts[1].extra == {"speaker": "DC", "emotion": "neutral", "number": 30, "gender": "male"}
    flat = make(tmp_path / "flat", "ALL/JE_sa03.wav", "ALL/DC_a01.wav")
    assert [(u.speaker, u.label) for u in corpora.open_corpus(flat)] == [("DC", "angry"), ("JE", "sad")]
    with pytest.raises(DataError, match="speaker folder"):
        savee.parse_name("AudioData/XX/a01.wav")
    with pytest.raises(DataError, match="not a SAVEE file name"):
        savee.parse_name("DC/b01.wav")


def test_detection_order_and_errors(tmp_path):
    # RAVDESS wins over names of the other corpora; folder-per-label comes last.
    mixed = make(tmp_path / "mixed", "Actor_01/03-01-05-01-01-01-01.wav", "extra/1001_DFA_ANG_XX.wav")
    assert corpora.detect(mixed) == "ravdess"
    labelled = make(tmp_path / "labelled", "angry/a.wav", "sad/b.wav")
    assert corpora.detect(labelled) == "folder"
    assert corpora.detect(make(tmp_path / "emodb_in_folders", "angry/03a01Wa.wav")) == "emodb"

    both = make(tmp_path / "both", "1001_DFA_ANG_XX.wav", "OAF_back_angry.wav")
    with pytest.raises(DataError, match=r"both: file names of several corpora \(cremad, tess\)"):
        corpora.open_corpus(both)
    assert len(corpora.open_corpus(both, "tess")) == 1

    unknown = make(tmp_path / "unknown", "clips/hello.wav")
    with pytest.raises(DataError, match=r"unknown: no known corpus layout"):
        corpora.open_corpus(unknown)
    with pytest.raises(DataError, match="not found"):
        corpora.open_corpus(tmp_path / "missing")
    for kind, module, what in (("cremad", cremad, "CREMA-D"), ("tess", tess, "TESS"), ("emodb", emodb, "EMO-DB"),
                               ("savee", savee, "SAVEE")):
        with pytest.raises(DataError, match=rf"unknown: no {what} files"):
            corpora.open_corpus(unknown, kind)
        with pytest.raises(DataError, match=rf"missing: {what} folder not found"):
            list(module.utterances(tmp_path / "missing"))
    with pytest.raises(DataError, match="unknown corpus kind 'iemocap'"):
        corpora.open_corpus(unknown, "iemocap")
