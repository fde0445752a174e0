"""End to end through the `emovox` command: train -> save -> load -> predict -> evaluate, on six actors."""

import json
import subprocess
import sys

import pytest

from conftest import needs_ravdess, ravdess_file
from emovox.cli import main

pytestmark = needs_ravdess
ACTORS = "01,02,03,04,05,06"


def run_json(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


def test_train_predict_evaluate(ravdess, tmp_path, capsys):
    bundle = tmp_path / "m.emovox"
    code, trained, _ = run_json(capsys, "train", "--data", str(ravdess), "--actors", ACTORS, "--emotions", "seed",
                                "--protocol", "speaker-kfold", "--folds", "3", "--out", str(bundle),
                                "--report", str(tmp_path / "report"), "--json", "--no-progress")
    assert code == 0 and bundle.is_file()
    (result,) = trained["results"]
    assert result["protocol"] == "speaker-kfold" and result["n_folds"] == 3
    assert trained["data"]["files"] == 192 and trained["data"]["speakers"] == 6
    assert 25 < result["summary"]["uar"]["mean"] <= 100
    assert (tmp_path / "report" / "confusion-speaker-kfold.png").is_file()

    clips = [ravdess_file(1, e) for e in (2, 3, 6, 7)]
    code, predicted, _ = run_json(capsys, "predict", *map(str, clips), str(tmp_path / "nope.wav"),
                                  "--model", str(bundle), "--json")
    assert code == 1  # one bad file: reported, the others still predicted
    assert [p["source"] for p in predicted["predictions"]] == [str(c) for c in clips]
    assert all(p["label"] in ("calm", "happy", "fearful", "disgust") for p in predicted["predictions"])
    assert predicted["errors"][0]["error"].endswith("no such file")
    # on training actors the model must get most labels right
    assert sum(p["label"] == t for p, t in zip(predicted["predictions"], ("calm", "happy", "fearful", "disgust"))) >= 3

    code, evaluated, _ = run_json(capsys, "evaluate", "--data", str(ravdess), "--actors", ACTORS, "--emotions", "seed",
                                  "--protocol", "seed", "--seeds", "2", "--json", "--no-progress")
    assert code == 0 and evaluated["results"][0]["protocol"] == "seed" and evaluated["results"][0]["seeds"] == [0, 1]

    code, info, _ = run_json(capsys, "info", "--model", str(bundle), "--json")
    assert info["model"]["labels"] == ["calm", "happy", "fearful", "disgust"]
    assert info["model"]["metrics"][0]["protocol"] == "speaker-kfold"


def test_current_model_is_used_by_default(tiny_bundle, capsys):
    from emovox.recognizer import set_current_model

    set_current_model(tiny_bundle)
    code = main(["predict", str(ravdess_file(2, 3))])
    out = capsys.readouterr().out
    assert code == 0 and str(ravdess_file(2, 3)) in out


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["predict", str(ravdess_file(1, 3)), "--model", str(tmp_path / "none.emovox")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("emovox: error:") and "not found" in err and "\n" not in err
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--no-progress"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["evaluate", "--emotions", "calm,joy"]) == 2
    assert "unknown emotion" in capsys.readouterr().err


def test_console_script_help():
    for cmd in ([], ["train"], ["evaluate"], ["predict"], ["download"], ["info"], ["models"]):
        done = subprocess.run([sys.executable, "-m", "emovox", *cmd, "--help"], capture_output=True, text=True)
        assert done.returncode == 0 and "usage: emovox" in done.stdout


def test_models_lists_the_default_with_measured_figures(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    default = next(line for line in out.splitlines() if "(default)" in line)
    assert default.startswith("whisper-lr")
    assert "ravdess-si6  8 emotions: UAR" in out and "feature sets:" in out and "seed180" in out
