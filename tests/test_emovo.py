"""The EMOVO adapter: on a tiny synthetic folder, and on the shared copy when present."""

from collections import Counter
from pathlib import Path

import pytest
from conftest import tone, write_audio

from emovox import corpora
from emovox.corpora import cremad, emodb, emovo, savee, tess
from emovox.errors import DataError

EMOVO = Path(__file__).resolve().parents[2] / "shared" / "data" / "emovo"
HAVE_EMOVO = (EMOVO / "f1").is_dir()
needs_emovo = pytest.mark.skipif(not HAVE_EMOVO, reason=f"EMOVO corpus not found at {EMOVO} "
                                                        "(research-only; it is never part of the repository)")


def make(root: Path, *names: str) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_audio(path, tone(0.3), 16000)
    return root


def test_emovo_names_labels_and_speakers(tmp_path):
    root = make(tmp_path / "EMOVO", "f1/dis-f1-b1.wav", "f2/gio-f2-n5.wav", "m1/neu-m1-l4.wav", "m2/pau-m2-d2.wav",
                "m3/rab-m3-b3.wav", "f3/sor-f3-l1.wav", "m1/tri-m1-n1.flac", "m1/notes.wav")
    (root / "README.md").write_text("not audio")
    assert emovo.looks_like_emovo(root)
    assert not any(m(root) for m in (cremad.looks_like_cremad, tess.looks_like_tess, emodb.looks_like_emodb,
                                     savee.looks_like_savee))
    assert corpora.detect(root) == "emovo"
    utts = corpora.open_corpus(root)
    assert [u.path for u in utts] == sorted(u.path for u in utts) and len(utts) == 7
    assert {u.path.stem: (u.speaker, u.label) for u in utts} == {
        "dis-f1-b1": ("f1", "disgust"), "gio-f2-n5": ("f2", "happy"), "neu-m1-l4": ("m1", "neutral"),
        "pau-m2-d2": ("m2", "fearful"), "rab-m3-b3": ("m3", "angry"), "sor-f3-l1": ("f3", "surprised"),
        "tri-m1-n1": ("m1", "sad")}
    assert {u.corpus for u in utts} == {"emovo"}
    assert emovo.parse_name("f1/gio-f1-n5.flac") == {"speaker": "f1", "sentence": "n5", "emotion": "happy",
                                                     "emotion_code": "gio", "gender": "female"}
    assert corpora.open_corpus(root, "emovo") == utts


@pytest.mark.parametrize("bad, why", [("dis-f4-b1.wav", "speaker f4"), ("xyz-f1-b1.wav", "emotion code xyz"),
                                      ("dis-f1-b4.wav", "sentence b4"), ("dis_f1_b1.wav", "not an EMOVO")])
def test_emovo_bad_names(bad, why):
    with pytest.raises(DataError, match=why):
        emovo.parse_name(bad)


def test_emovo_missing_or_empty(tmp_path):
    with pytest.raises(DataError, match="EMOVO folder not found"):
        list(emovo.utterances(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no EMOVO files"):
        list(emovo.utterances(tmp_path / "empty"))


@needs_emovo
def test_shared_emovo_copy():
    utts = corpora.open_corpus(EMOVO)
    assert corpora.detect(EMOVO) == "emovo" and len(utts) == 588
    assert Counter(u.label for u in utts) == {e: 84 for e in ("neutral", "happy", "sad", "angry", "fearful",
                                                              "disgust", "surprised")}
    assert Counter(u.speaker for u in utts) == {s: 98 for s in ("f1", "f2", "f3", "m1", "m2", "m3")}
    assert all(u.path.parent.name == u.speaker for u in utts)
    # speakers stay distinct from RAVDESS's "01".."24" when the corpora are combined
    assert not {u.speaker for u in utts} & {f"{i:02d}" for i in range(1, 25)}
