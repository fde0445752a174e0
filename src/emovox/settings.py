"""The user's settings: the current model, the desktop app's choices. One JSON file, written atomically.

The file is ``<EMOVOX_HOME>/settings.json`` (see :func:`emovox.paths.home_dir`). Nothing in emovox
changes it as a side effect: only commands that are asked to (``emovox use``, ``train --use``, the
desktop app's choices) write it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .paths import atomic_write, home_dir


def settings_file() -> Path:
    """``<EMOVOX_HOME>/settings.json``."""
    return home_dir() / "settings.json"


def read_settings() -> dict:
    """The user's saved settings (current model, corpus folder, ...), ``{}`` if none or unreadable."""
    try:
        data = json.loads(settings_file().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, RecursionError):
        return {}


def write_settings(**changes) -> None:
    """Merge ``changes`` into the saved settings (atomically)."""
    settings = read_settings() | changes
    atomic_write(settings_file(), json.dumps(settings, indent=2).encode())


def current_model_path() -> Path | None:
    """The bundle :func:`emovox.load_model` uses when given none, if it still exists."""
    path = read_settings().get("current_model")
    return Path(path) if isinstance(path, str) and path and Path(path).is_file() else None


def set_current_model(path: str | os.PathLike) -> None:
    """Make ``path`` the model used when none is named."""
    write_settings(current_model=str(Path(path).resolve()))


def models_dir() -> Path:
    """The model store: ``<EMOVOX_HOME>/models``, where ``emovox train`` installs bundles."""
    return home_dir() / "models"


def installed_models() -> list[dict]:
    """Every bundle in the store, sorted by name: ``name``, ``path``, ``recipe``, ``labels``, ``figure`` (the
    first evaluation's UAR, as text) or ``error`` for a bundle that cannot be read."""
    import zipfile

    found = []
    folder = models_dir()
    for path in sorted(folder.glob("*.emovox")) if folder.is_dir() else []:
        entry: dict = {"name": path.stem, "path": str(path.resolve())}
        try:
            with zipfile.ZipFile(path) as archive:
                if archive.getinfo("manifest.json").file_size > 1024 * 1024:
                    raise ValueError("manifest too large")
                manifest = json.loads(archive.read("manifest.json"))
            entry["recipe"] = str(manifest["model"]["name"])
            entry["labels"] = [str(label) for label in manifest["labels"]]
            metrics = manifest.get("metrics") or []
            if metrics:
                first = metrics[0]
                entry["figure"] = f"{first['protocol']} UAR {first['uar']['mean']:.1f} %"
        except (OSError, KeyError, TypeError, ValueError, RecursionError, zipfile.BadZipFile) as exc:
            entry["error"] = f"unreadable bundle ({type(exc).__name__})"
        found.append(entry)
    return found


def installed_model(name: str) -> Path:
    """The store's bundle called ``name`` (its file name without ``.emovox``).

    Raises:
        BundleError: there is none (the message lists the installed names).
    """
    from .errors import BundleError

    path = models_dir() / f"{name}.emovox"
    if path.is_file():
        return path
    names = [m["name"] for m in installed_models()]
    raise BundleError(f"no installed model {name!r} and no such file; installed: "
                      + (", ".join(names) if names else "none (`emovox train` installs one)"))
