"""End to end through the `emovox` command: train -> save -> load -> predict -> evaluate, on six actors."""

import json
import subprocess
import sys

import pytest

from conftest import needs_ravdess, ravdess_file
import emovox
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
    code, predicted, err = run_json(capsys, "predict", *map(str, clips), str(tmp_path / "nope.wav"),
                                    "--model", str(bundle), "--json")
    assert code == 1  # one bad file: reported, the others still predicted
    assert predicted["model"] == str(bundle) and predicted["emovox"] == emovox.__version__
    assert [p["file"] for p in predicted["predictions"]] == [str(c) for c in clips]
    assert all(p["kind"] == "whole" and p["index"] == 0 and p["start_s"] == 0.0 and p["end_s"] > 3.0
               for p in predicted["predictions"])  # clips under 60 s: one row for the whole of each
    assert all(p["label"] in ("calm", "happy", "fearful", "disgust") for p in predicted["predictions"])
    assert predicted["errors"] == [{"file": str(tmp_path / "nope.wav"), "error": "no such file"}]
    assert "nope.wav: no such file" in err  # notes and the bad files go to stderr: stdout is the JSON
    # on training actors the model must get most labels right
    assert sum(p["label"] == t for p, t in zip(predicted["predictions"], ("calm", "happy", "fearful", "disgust"))) >= 3

    code, evaluated, _ = run_json(capsys, "evaluate", "--data", str(ravdess), "--actors", ACTORS, "--emotions", "seed",
                                  "--protocol", "seed", "--seeds", "2", "--json", "--no-progress")
    assert code == 0 and evaluated["results"][0]["protocol"] == "seed" and evaluated["results"][0]["seeds"] == [0, 1]

    code, info, _ = run_json(capsys, "info", "--model", str(bundle), "--json")
    assert info["model"]["labels"] == ["calm", "happy", "fearful", "disgust"]
    assert info["model"]["metrics"][0]["protocol"] == "speaker-kfold"


def test_current_model_is_used_by_default(tiny_bundle, capsys):
    from emovox.settings import set_current_model

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
    for cmd in ([], ["train"], ["evaluate"], ["predict"], ["download"], ["info"], ["models"], ["use"], ["listen"]):
        done = subprocess.run([sys.executable, "-m", "emovox", *cmd, "--help"], capture_output=True, text=True)
        assert done.returncode == 0 and "usage: emovox" in done.stdout


def test_models_lists_the_default_with_measured_figures(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    default = next(line for line in out.splitlines() if "(default)" in line)
    assert default.split()[0] == "whisper-vad-aug-lr"
    after = out.splitlines()[out.splitlines().index(default) + 1]
    assert after.split()[0] == "training:" and "minutes" in after  # what training it costs, as measured
    assert "ravdess-si6  8 emotions: UAR" in out and "Feature sets:" in out and "seed180" in out


def test_train_installs_in_the_store_and_only_use_changes_the_current_model(ravdess, tiny_bundle, tmp_path,
                                                                             monkeypatch, capsys):
    """`train` installs into <EMOVOX_HOME>/models; the bundle becomes current only when there is none, or with
    --use; `use NAME|FILE` switches; `models` lists the store with the current one marked."""
    from emovox.settings import current_model_path, models_dir

    monkeypatch.setenv("EMOVOX_HOME", str(tmp_path / "home"))  # a user without any model yet
    train = ["train", "--data", str(ravdess), "--emotions", "seed", "--recipe", "seed-mlp", "--protocol", "none",
             "--json", "--no-progress"]
    code, first, err = run_json(capsys, *train, "--actors", "01,02")
    installed = models_dir() / "seed-mlp-4emotions.emovox"
    assert code == 0 and first["model"] == str(installed) and installed.is_file()
    assert first["data"]["files"] == 64 and first["results"] == []
    assert current_model_path() == installed.resolve() and "now the current model" in err  # there was none

    other = tmp_path / "other.emovox"
    code, second, err = run_json(capsys, *train, "--actors", "03,04", "--out", str(other))
    assert code == 0 and second["model"] == str(other) and other.is_file()
    assert current_model_path() == installed.resolve() and "current model is unchanged" in err

    assert main(["use", str(other)]) == 0
    assert current_model_path() == other.resolve()
    assert capsys.readouterr().out.startswith(f"current model: {other} (calm, happy, fearful, disgust; ")
    assert main(["use", "seed-mlp-4emotions"]) == 0  # an installed model, by name
    assert current_model_path() == installed.resolve()
    capsys.readouterr()
    assert main(["use", "no-such-model"]) == 2
    assert "no installed model 'no-such-model'" in capsys.readouterr().err
    assert current_model_path() == installed.resolve()

    code, third, _ = run_json(capsys, *train, "--actors", "01,02", "--out", str(other), "--use")
    assert code == 0 and current_model_path() == other.resolve()  # --use: the new bundle is current

    code, listed, _ = run_json(capsys, "models", "--json")
    assert [(m["name"], m["recipe"], m["current"]) for m in listed["installed"]] == \
        [("seed-mlp-4emotions", "seed-mlp", False)]

    # --model always means a bundle now; what to train is --recipe
    with pytest.raises(SystemExit) as exited:
        main(["train", "--model", "seed-mlp", "--data", str(ravdess)])
    assert exited.value.code == 2 and "unrecognized arguments: --model" in capsys.readouterr().err
