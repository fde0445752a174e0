"""``emovox evaluate``: cross-validate a recipe on a corpus and write a report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import DATA_EPILOG, add_data_options, note, report_bad_files

NAME = "evaluate"
HELP = "cross-validate a recipe (a model to train, see `emovox models`) and write a report"
EPILOG = DATA_EPILOG


def add_arguments(p: argparse.ArgumentParser, training: bool = False) -> None:
    from ..models import DEFAULT_MODEL

    add_data_options(p)
    p.add_argument("--recipe", default=DEFAULT_MODEL, help="what to train: a recipe from `emovox models`")
    p.add_argument("--features", default=None, help="feature set (default: the recipe's own)")
    p.add_argument("--augment", type=int, default=None, metavar="N",
                   help="train on N randomly degraded copies of each clip besides the clip (noise, babble, rooms, "
                        "channels, levels; seeded and cached); default: the recipe's own (see `emovox models`)")
    p.add_argument("--protocol", action="append", default=None,
                   help="seed, ravdess-si6, speaker-kfold, leave-one-corpus-out (with --data repeated) or "
                        "cross-corpus (with --test-data); repeat for several "
                        "(default: ravdess-si6 on RAVDESS, leave-one-corpus-out on several corpora, "
                        "else speaker-kfold)"
                        + ("; 'none' skips evaluation" if training else ""))
    p.add_argument("--speaker-adaptive", action="store_true",
                   help="also evaluate each protocol speaker-adaptively (features standardised per speaker with all "
                        "of that speaker's clips, what `predict --same-speaker` does): rows '<protocol>+speaker-adaptive'")
    p.add_argument("--seeds", type=int, default=None,
                   help="model seeds to average over (default: 10 for protocol seed, else 1)")
    p.add_argument("--folds", type=int, default=5, help="k for speaker-kfold")
    p.add_argument("--report", type=Path, default=None, help="folder for report.json/.md and confusion PNGs")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    data = dataset(args)
    results = run_protocols(args, data)
    if not results:
        print("emovox: error: no protocol applies (the data have no speakers): use --protocol seed", file=sys.stderr)
        return 2
    finish_report(args, results, data)
    if args.json:
        print(json.dumps({"recipe": args.recipe, "data": data.summary(), "results": [brief(r) for r in results]}))
    return 0


def dataset(args: argparse.Namespace):
    from ..errors import ParameterError
    from ..labels import parse_emotions
    from ..models import get_model_spec
    from ..pipeline import default_feature_set, load_dataset

    spec = get_model_spec(args.recipe)
    augment = spec.augment if args.augment is None else args.augment
    if augment < 0:
        raise ParameterError(f"--augment must be 0 or more copies, got {augment}")
    data = load_dataset(args.data, parse_emotions(args.emotions), default_feature_set(args.recipe, args.features),
                        kind=args.corpus or "auto", actors=args.actors.split(",") if args.actors else None,
                        jobs=args.jobs, use_cache=not args.no_cache, progress=not args.no_progress, augment=augment,
                        babble=spec.babble)
    s = data.summary()
    copies = f" + {len(data.augmented)} degraded copies" if data.augmented else ""
    note(args, f"recipe: {args.recipe}; data: {s['files']} files{copies}, {s['speakers']} speakers"
               f"{' in ' + ' + '.join(s['corpus']) if len(s['corpus']) > 1 else ''}, {len(data.labels)} "
               f"emotions ({', '.join(data.labels)}); features {data.feature_set.name} in {data.seconds:.1f} s "
               f"({data.cached} from cache)")
    report_bad_files(data.errors)
    return data


def protocols(args: argparse.Namespace, data) -> list[str]:
    if args.protocol:
        return [p for p in args.protocol if p != "none"]
    if all(u.corpus == "ravdess" for u in data.utterances) and not (args.data and len(args.data) > 1):
        return ["ravdess-si6"]
    if len({u.corpus for u in data.utterances}) > 1:
        return ["leave-one-corpus-out"]
    return ["speaker-kfold"] if all(u.speaker for u in data.utterances) else []


def run_protocols(args: argparse.Namespace, data) -> list[dict]:
    from ..evaluation import summary_line
    from ..pipeline import evaluate

    results = []
    adapted = data.speaker_adapted() if getattr(args, "speaker_adaptive", False) else None
    for protocol in protocols(args, data):
        seeds = range(args.seeds or (10 if protocol == "seed" else 1))
        for rows in (data, adapted) if adapted is not None else (data,):
            if protocol == "cross-corpus":
                result = cross_corpus(args, rows, list(seeds), speaker_adapted=rows is adapted)
            else:
                result = evaluate(rows, args.recipe, [protocol], seeds=list(seeds), k=args.folds,
                                  progress=not args.no_progress)[0]
            if rows is adapted:
                result["protocol"] += "+speaker-adaptive"
                result["protocol_description"] += "; features standardised per speaker with all of that speaker's clips"
            note(args, summary_line(result))
            results.append(result)
    return results


def cross_corpus(args: argparse.Namespace, data, seeds: list[int], *, speaker_adapted: bool = False) -> dict:
    from .. import corpora
    from ..errors import ParameterError
    from ..evaluation.cross_corpus import cross_corpus as run_cross_corpus
    from ..pipeline import load_dataset

    if not args.test_data:
        raise ParameterError("--protocol cross-corpus needs --test-data DIR (the corpus to test on)")
    available = {u.label for u in corpora.open_corpus(corpora.default_data_dir(args.test_data), args.test_corpus)}
    test = load_dataset(args.test_data, [e for e in data.labels if e in available], data.feature_set,
                        kind=args.test_corpus, jobs=args.jobs, use_cache=not args.no_cache,
                        progress=not args.no_progress)
    note(args, f"test data: {test.summary()['files']} files, {test.summary()['speakers']} speakers")
    report_bad_files(test.errors)
    return run_cross_corpus(data, test.speaker_adapted() if speaker_adapted else test, args.recipe, seeds=seeds)


def finish_report(args: argparse.Namespace, results: list[dict], data) -> None:
    from ..pipeline import report

    if args.report and results:
        written = report(results, args.report, data)
        note(args, "report: " + ", ".join(str(p) for p in written))


def brief(result: dict) -> dict:
    return {k: result[k] for k in ("protocol", "model", "features", "labels", "n_folds", "seeds", "summary",
                                   "recall", "confusion")}
