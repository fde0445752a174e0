"""``emovox info``: the version, the data found, the cache and a model's details."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import EmovoxError
from .common import add_model_option, resolve_model

NAME = "info"
HELP = "show the version, the data found, the cache and a model's details"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, help="corpus folder or CSV manifest (default: $EMOVOX_DATA, else "
                                                "../shared/data/ravdess)")
    add_model_option(p)
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from .. import __version__, corpora
    from ..features import available
    from ..models import MODELS
    from ..paths import cache_dir, home_dir
    from ..recognizer import load_model
    from ..settings import current_model_path

    info: dict = {"emovox": __version__, "python": sys.version.split()[0], "cache": str(cache_dir()),
                  "home": str(home_dir()), "recipes": sorted(MODELS), "feature_sets": available()}
    try:
        data = corpora.default_data_dir(args.data)
        info["data"] = {"path": str(data)} | corpora.summary(corpora.open_corpus(data))
    except EmovoxError as exc:
        info["data"] = {"error": str(exc)}
    try:
        model_path = resolve_model(args.model) or current_model_path()
    except EmovoxError as exc:
        model_path, info["model"] = None, {"error": str(exc)}
    if model_path:
        try:
            model = load_model(model_path)
            info["model"] = {"path": str(model_path), "rate": model.rate} | model.info
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
        recipe = (m.get("model") or {}).get("name", "a model")
        print(f"model: {m['path']}\n       {recipe} on {m['feature_set']['name']} at {m['rate']} Hz, "
              f"labels {', '.join(m['labels'])}, emovox {m.get('emovox_version', '?')}")
        for metric in m.get("metrics") or []:
            print(f"       {metric['protocol']}: UAR {metric['uar']['mean']:.1f} ± {metric['uar']['std']:.1f}")
        if m.get("speaker_adaptive"):
            print(f"       speaker-adaptive head: adapts to one voice from {m['speaker_adaptive']['min_utterances']} "
                  "utterances (`predict --same-speaker`, `listen --adapt`)")
    elif m:
        print(f"model: {m['error']}")
    else:
        print("model: none chosen (`emovox use NAME|FILE`, or train one with `emovox train`)")
    return 0
