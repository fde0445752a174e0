"""``emovox models``: the installed bundles (the model store) and the recipes emovox can train."""

from __future__ import annotations

import argparse
import json

NAME = "models"
HELP = "list the installed models (the model store) and the recipes and feature sets emovox can train"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from importlib import resources

    from ..features import available
    from ..models import DEFAULT_MODEL, MODELS
    from ..settings import current_model_path, installed_models

    current = current_model_path()
    installed = installed_models()
    try:
        figures = json.loads(resources.files("emovox.models").joinpath("figures.json").read_text())
    except (OSError, ValueError):
        figures = {}
    if args.json:
        print(json.dumps({"installed": [m | {"current": current is not None and m["path"] == str(current)}
                                        for m in installed],
                          "recipes": {name: {"features": spec.features, "summary": spec.summary,
                                             "augmented_copies": spec.augment, "training_cost": spec.cost,
                                             "figures": figures.get(name, [])} for name, spec in MODELS.items()},
                          "feature_sets": available()}, indent=2))
        return 0
    print("Installed models (`emovox use NAME` makes one current; * is current):")
    if not installed:
        print("  none yet: `emovox train` installs one")
    for m in installed:
        mark = "*" if current is not None and m["path"] == str(current) else " "
        figure = f"  {m['figure']}" if m.get("figure") else ""
        detail = m.get("error") or f"{m['recipe']}, {len(m['labels'])} emotions ({', '.join(m['labels'])}){figure}"
        print(f" {mark} {m['name']:<28} {detail}")
    if current is not None and not any(m["path"] == str(current) for m in installed):
        print(f" * {current} (outside the store)")
    print("\nRecipes (`emovox train --recipe NAME`), with figures from bench/accuracy.py:")
    for name, spec in sorted(MODELS.items()):
        print(f"  {name:<11} {'(default) ' if name == DEFAULT_MODEL else ''}features {spec.features}: {spec.summary}")
        if spec.cost:
            print(f"  {'':<11} training: {spec.cost}")
        for row in figures.get(name, []):
            print(f"  {'':<11} {row['protocol']:<12} {row['emotions']} emotions: UAR {row['uar']['mean']:.1f} ± "
                  f"{row['uar']['std']:.1f} %")
    print("\nFeature sets: " + ", ".join(available()) + ", and whisper-<size> / whisper-<size>-vad for a Whisper "
          "checkpoint on this machine (tiny ... large-v3; see the README)")
    return 0
