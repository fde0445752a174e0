"""Where emovox keeps its files: cache, models, settings (overridable by environment variables)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def cache_dir() -> Path:
    """``$EMOVOX_CACHE``, else ``$XDG_CACHE_HOME/emovox``, else ``~/.cache/emovox``."""
    if os.environ.get("EMOVOX_CACHE"):
        return Path(os.environ["EMOVOX_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "emovox"


def home_dir() -> Path:
    """``$EMOVOX_HOME``, else ``$XDG_DATA_HOME/emovox``, else ``~/.local/share/emovox``: models, settings."""
    if os.environ.get("EMOVOX_HOME"):
        return Path(os.environ["EMOVOX_HOME"])
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "emovox"


def atomic_write(path: str | os.PathLike, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part.

    ``durable`` also flushes the data to the disk before the rename (fsync, about 1 ms), so a
    power cut cannot leave an empty file; caches whose entries carry their own checksum skip it.
    The file gets the mode a new file gets from the user's umask (0644 by default), as other tools' do.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def clean_stale_temporaries(folder: str | os.PathLike, older_than_s: float = 3600.0) -> int:
    """Delete the temporary files :func:`atomic_write` left in ``folder`` (not below it) when killed.

    Only regular files named ``.NAME.*.tmp`` last modified more than ``older_than_s`` seconds ago
    go (a younger one may belong to a write in progress). Never raises: a folder that is missing
    or unreadable, or a file another process removed first, is skipped.

    Returns:
        How many files were deleted.
    """
    cutoff = time.time() - older_than_s
    removed = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
                    continue
                try:
                    if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
                except OSError:
                    continue
    except OSError:
        pass
    return removed
