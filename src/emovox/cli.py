"""The ``emovox`` command. Thin: parse, call the library, print."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from . import __version__
from .corpora import KINDS as CORPUS_KINDS
from .errors import EmovoxError

#: Modules that add sub-commands; each has ``register(command)``, where
#: ``command(name, help, run)`` returns the new sub-parser. Heavy imports stay inside ``run``.
EXTENSIONS = ("emovox.stream.commands", "emovox.apps.desktop_commands", "emovox.apps.server_commands")

EPILOG = "Data: --data, else $EMOVOX_DATA, else ../shared/data/ravdess. Models: --model, else the current model."


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except EmovoxError as exc:
        print(f"emovox: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emovox: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emovox", description="Speech emotion recognition.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"emovox {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, help_text: str, run) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EPILOG)
        p.set_defaults(run=run)
        return p

    for name, help_text, run in (("train", "evaluate a model, then fit it on all the data and save a bundle", _train),
                                 ("evaluate", "cross-validate a model and write a report", _evaluate)):
        p = command(name, help_text, run)
        _data_options(p)
        p.add_argument("--model", default=None, help="model name (see `emovox models`; default %(default)s)")
        p.add_argument("--features", default=None, help="feature set (default: the model's own)")
        p.add_argument("--protocol", action="append", default=None,
                       help="seed, ravdess-si6, speaker-kfold or cross-corpus (with --test-data); repeat for several "
                            "(default: ravdess-si6 on "
                            "RAVDESS, else speaker-kfold)" + ("; 'none' skips evaluation" if name == "train" else ""))
        p.add_argument("--seeds", type=int, default=None,
                       help="model seeds to average over (default: 10 for protocol seed, else 1)")
        p.add_argument("--folds", type=int, default=5, help="k for speaker-kfold (default 5)")
        p.add_argument("--report", type=Path, default=None, help="folder for report.json/.md and confusion PNGs")
        p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
        if name == "train":
            p.add_argument("--out", type=Path, default=None,
                           help="bundle to write (default: <EMOVOX_HOME>/models/<model>-<n>emotions.emovox)")

    p = command("predict", "predict the emotion of audio files or folders", _predict)
    p.add_argument("paths", nargs="+", type=Path, help="WAV/FLAC/OGG files or folders (searched recursively)")
    p.add_argument("--model", type=Path, default=None, help="bundle (default: the current model)")
    p.add_argument("--json", action="store_true", help="print JSON: predictions and errors")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = command("download", "download and verify a corpus", _download)
    p.add_argument("corpus", choices=["ravdess"], help="which corpus")
    p.add_argument("folder", type=Path, help="where to put it")
    p.add_argument("--url", default=None, help="archive address (default: the official one)")

    p = command("info", "show the version, the data found, the cache and a model's details", _info)
    p.add_argument("--data", default=None, help="corpus folder or CSV manifest")
    p.add_argument("--model", type=Path, default=None, help="bundle to describe (default: the current model)")
    p.add_argument("--json", action="store_true", help="print JSON")

    command("models", "list the models and feature sets emovox can train", _models)
    for module in EXTENSIONS:
        try:
            importlib.import_module(module).register(command)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return parser


def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, help="RAVDESS folder, a folder per emotion, or a CSV manifest")
    p.add_argument("--corpus", default="auto", choices=list(CORPUS_KINDS), help="how to read --data (default: auto)")
    p.add_argument("--test-data", default=None,
                   help="a second corpus to test on, for --protocol cross-corpus (train on --data, test on this)")
    p.add_argument("--test-corpus", default="auto", choices=list(CORPUS_KINDS), help="how to read --test-data")
    p.add_argument("--emotions", default="all", help="comma-separated emotions, 'all' (default) or 'seed' "
                                                     "(calm,happy,fearful,disgust)")
    p.add_argument("--actors", default=None, help="comma-separated speakers to keep (e.g. 01,02,03)")
    p.add_argument("--jobs", type=int, default=None, help="worker processes for features (default: all cores)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _dataset(args):
    from .labels import parse_emotions
    from .models import DEFAULT_MODEL
    from .pipeline import default_feature_set, load_dataset

    args.model = args.model or DEFAULT_MODEL
    dataset = load_dataset(args.data, parse_emotions(args.emotions), default_feature_set(args.model, args.features),
                           kind=args.corpus, actors=args.actors.split(",") if args.actors else None,
                           jobs=args.jobs, use_cache=not args.no_cache, progress=not args.no_progress)
    s = dataset.summary()
    _note(args, f"data: {s['files']} files, {s['speakers']} speakers, {len(dataset.labels)} emotions "
                f"({', '.join(dataset.labels)}); features {dataset.feature_set.name} in {dataset.seconds:.1f} s "
                f"({dataset.cached} from cache)")
    _report_bad_files(dataset.errors)
    return dataset


def _protocols(args, dataset) -> list[str]:
    if args.protocol:
        return [p for p in args.protocol if p != "none"]
    if all(u.corpus == "ravdess" for u in dataset.utterances):
        return ["ravdess-si6"]
    return ["speaker-kfold"] if all(u.speaker for u in dataset.utterances) else []


def _run_protocols(args, dataset) -> list[dict]:
    from .evaluation import summary_line
    from .pipeline import evaluate

    results = []
    for protocol in _protocols(args, dataset):
        seeds = range(args.seeds or (10 if protocol == "seed" else 1))
        if protocol == "cross-corpus":
            result = _cross_corpus(args, dataset, list(seeds))
        else:
            result = evaluate(dataset, args.model, [protocol], seeds=list(seeds), k=args.folds,
                              progress=not args.no_progress)[0]
        _note(args, summary_line(result))
        results.append(result)
    return results


def _cross_corpus(args, dataset, seeds: list[int]) -> dict:
    from . import corpora
    from .errors import ParameterError
    from .evaluation.cross_corpus import cross_corpus
    from .pipeline import load_dataset

    if not args.test_data:
        raise ParameterError("--protocol cross-corpus needs --test-data DIR (the corpus to test on)")
    available = {u.label for u in corpora.open_corpus(corpora.default_data_dir(args.test_data), args.test_corpus)}
    test = load_dataset(args.test_data, [e for e in dataset.labels if e in available], dataset.feature_set,
                        kind=args.test_corpus,
                        jobs=args.jobs, use_cache=not args.no_cache, progress=not args.no_progress)
    _note(args, f"test data: {test.summary()['files']} files, {test.summary()['speakers']} speakers")
    _report_bad_files(test.errors)
    return cross_corpus(dataset, test, args.model, seeds=seeds)


def _finish_report(args, results, dataset) -> None:
    from .pipeline import report

    if args.report and results:
        written = report(results, args.report, dataset)
        _note(args, "report: " + ", ".join(str(p) for p in written))


def _train(args) -> int:
    from .paths import home_dir
    from .pipeline import fit_bundle
    from .recognizer import set_current_model

    dataset = _dataset(args)
    results = _run_protocols(args, dataset)
    out = args.out or home_dir() / "models" / f"{args.model}-{len(dataset.labels)}emotions.emovox"
    path = fit_bundle(dataset, args.model, out, results=results)
    set_current_model(path)
    _note(args, f"model: {path} (now the current model)")
    _finish_report(args, results, dataset)
    if args.json:
        print(json.dumps({"model": str(path), "data": dataset.summary(), "results": [_brief(r) for r in results]}))
    return 0


def _evaluate(args) -> int:
    dataset = _dataset(args)
    results = _run_protocols(args, dataset)
    if not results:
        print("emovox: error: no protocol applies (the data have no speakers): use --protocol seed", file=sys.stderr)
        return 2
    _finish_report(args, results, dataset)
    if args.json:
        print(json.dumps({"data": dataset.summary(), "results": [_brief(r) for r in results]}))
    return 0


def _predict(args) -> int:
    import numpy as np

    from .audio import is_audio_path
    from .features import extract_files
    from .recognizer import load_model

    model = load_model(args.model)
    files: list[Path] = []
    errors: list[tuple[str, str]] = []
    for path in args.paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and is_audio_path(p))
            files += found
            if not found:
                errors.append((str(path), "no WAV, FLAC or OGG files in this folder"))
        else:
            files.append(path)
    extraction = extract_files(files, model.feature_set, jobs=args.jobs if len(files) > 8 else 1,
                               progress=not args.no_progress and len(files) > 8)
    errors += extraction.errors
    probabilities = model.predict_proba(extraction.features) if extraction.ok else np.zeros((0, len(model.labels)))
    predictions = []
    for row, i in zip(probabilities, extraction.ok):
        predictions.append(model._prediction(row, str(files[i]), 0.0, 0.0).to_dict())
    if args.json:
        print(json.dumps({"model": str(model.path), "predictions": predictions,
                          "errors": [{"path": p, "error": e} for p, e in errors]}, indent=2))
    else:
        for p in predictions:
            ranked = sorted(p["probabilities"].items(), key=lambda kv: -kv[1])
            print(f"{p['source']}\t{p['label']}\t" + "  ".join(f"{k} {v:.2f}" for k, v in ranked))
        _report_bad_files(errors)
    return 1 if errors else 0


def _download(args) -> int:
    from .download import download_ravdess

    folder = download_ravdess(args.folder, url=args.url)
    print(f"RAVDESS speech is ready in {folder}; use it with --data {folder} or EMOVOX_DATA={folder}")
    return 0


def _info(args) -> int:
    from . import corpora
    from .features import available
    from .models import MODELS
    from .paths import cache_dir, home_dir
    from .recognizer import current_model_path, load_model

    info: dict = {"emovox": __version__, "python": sys.version.split()[0], "cache": str(cache_dir()),
                  "home": str(home_dir()), "models": sorted(MODELS), "feature_sets": available()}
    try:
        data = corpora.default_data_dir(args.data)
        info["data"] = {"path": str(data)} | corpora.summary(corpora.open_corpus(data))
    except EmovoxError as exc:
        info["data"] = {"error": str(exc)}
    model_path = args.model or current_model_path()
    if model_path:
        try:
            info["model"] = {"path": str(model_path)} | load_model(model_path).info
        except EmovoxError as exc:
            info["model"] = {"path": str(model_path), "error": str(exc)}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"emovox {info['emovox']} (Python {info['python']})")
    print(f"cache: {info['cache']}\nhome:  {info['home']}")
    d = info["data"]
    print(f"data:  {d['path']}: {d['files']} files, {d['speakers']} speakers, {d['per_label']}"
          if "files" in d else f"data:  {d['error']}")
    m = info.get("model")
    if m and "error" not in m:
        print(f"model: {m['path']}\n       {m['model']['name']} on {m['feature_set']['name']}, "
              f"labels {', '.join(m['labels'])}, emovox {m['emovox_version']}")
        for metric in m.get("metrics", []):
            print(f"       {metric['protocol']}: UAR {metric['uar']['mean']:.1f} ± {metric['uar']['std']:.1f}")
    elif m:
        print(f"model: {m['error']}")
    else:
        print("model: none yet (run `emovox train`)")
    return 0


def _models(args) -> int:
    from importlib import resources

    from .features import available
    from .models import DEFAULT_MODEL, MODELS

    try:
        figures = json.loads(resources.files("emovox.models").joinpath("figures.json").read_text())
    except (OSError, ValueError):
        figures = {}
    for name, spec in sorted(MODELS.items()):
        print(f"{name:<11} {'(default) ' if name == DEFAULT_MODEL else ''}features {spec.features}: {spec.summary}")
        for row in figures.get(name, []):
            print(f"{'':<11} {row['protocol']:<12} {row['emotions']} emotions: UAR {row['uar']['mean']:.1f} ± "
                  f"{row['uar']['std']:.1f} %  (bench/accuracy.py)")
    print("feature sets: " + ", ".join(available()))
    return 0


def _brief(result: dict) -> dict:
    return {k: result[k] for k in ("protocol", "model", "features", "labels", "n_folds", "seeds", "summary",
                                   "recall", "confusion")}


def _note(args, text: str) -> None:
    print(text, file=sys.stderr if getattr(args, "json", False) else sys.stdout, flush=True)


def _report_bad_files(errors) -> None:
    if errors:
        print(f"{len(errors)} file(s) left out:", file=sys.stderr)
        for _, problem in errors:
            print(f"  {problem}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
