"""librosa, imported with its numba kernels compiled and cached by one process at a time.

Importing some librosa modules compiles numba kernels (gufuncs with explicit signatures)
and writes them to numba's on-disk cache beside librosa's sources. When two processes do
that at once (the first runs after an install: parallel jobs, a server and a command, a
test suite), each gufunc's two cache files can come from different processes and disagree,
and from then on every process that loads them dies of a segmentation fault (numba issue
#10128). ``bench/numba_race.py``: after three processes filled a fresh cache at once, the
next process crashed in 2 of 6 trials; through this module, in none.

So emovox takes librosa from this module: it imports librosa and every librosa module with
such kernels under a file lock that all emovox processes using the same librosa share. The
first process compiles and caches; the others wait, then load the finished cache.
"""

from __future__ import annotations

import getpass
import hashlib
import importlib
import importlib.util
import os
import tempfile
from pathlib import Path
from types import ModuleType

from filelock import FileLock

#: The librosa modules emovox calls into that compile numba kernels on import. librosa.beat
#: and librosa.sequence, which emovox does not use, are left out: they add 2 s to every start.
KERNEL_MODULES = ("librosa.core.audio", "librosa.core.pitch", "librosa.util.utils")
#: Modules with kernels imported only when asked for (:func:`load`): ``librosa.effects`` pulls scikit-learn
#: and pandas (about 100 MB of memory) that predicting with most models does not need.
LAZY_KERNEL_MODULES = ("librosa.effects",)

#: How long a process waits for another to finish compiling, seconds (a first compile takes 10-20 s).
LOCK_TIMEOUT = 600.0


def lock_path() -> Path:
    """The lock file: in the temporary folder, named after the user and the installed librosa's location."""
    spec = importlib.util.find_spec("librosa")
    where = str(Path(spec.origin).resolve()) if spec and spec.origin else "librosa"
    user = os.getuid() if hasattr(os, "getuid") else getpass.getuser()
    return Path(tempfile.gettempdir()) / f"emovox-librosa-{user}-{hashlib.sha1(where.encode()).hexdigest()[:12]}.lock"


def _import_under_lock(names: tuple[str, ...]) -> None:
    lock = FileLock(lock_path(), timeout=LOCK_TIMEOUT)
    try:
        lock.acquire()
    except OSError:  # no writable temporary folder, or still held after LOCK_TIMEOUT: import unguarded
        lock = None
    try:
        for name in names:
            importlib.import_module(name)
    finally:
        if lock is not None:
            lock.release()


def load(name: str) -> ModuleType:
    """A librosa module (e.g. ``"librosa.effects"``), imported under the lock the first time."""
    import sys

    if name not in sys.modules:
        _import_under_lock((name,))
    return sys.modules[name]


_import_under_lock((*KERNEL_MODULES, "librosa"))
librosa = importlib.import_module("librosa")

__all__ = ["KERNEL_MODULES", "LAZY_KERNEL_MODULES", "librosa", "load", "lock_path"]
