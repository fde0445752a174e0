"""emovox imports librosa under a lock shared by its processes, so two never fill numba's cache at once."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time

import emovox.kernels as kernels

HOLD_SECONDS = 2.0


def test_importing_librosa_waits_while_another_process_holds_the_lock():
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom filelock import FileLock\n"
         f"with FileLock({str(kernels.lock_path())!r}):\n"
         "    print('held', flush=True)\n"
         f"    time.sleep({HOLD_SECONDS})\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        importlib.reload(kernels)  # librosa is already imported here: without the lock this takes milliseconds
        waited = time.monotonic() - started
    finally:
        assert holder.wait(timeout=60) == 0
    assert waited >= HOLD_SECONDS - 0.5
    assert all(name in sys.modules for name in kernels.KERNEL_MODULES)
    assert kernels.librosa.yin is sys.modules["librosa.core.pitch"].yin


def test_the_lock_is_named_after_the_installed_librosa():
    path = kernels.lock_path()
    assert path.name.startswith("emovox-librosa-") and path.suffix == ".lock"
    assert path == kernels.lock_path()  # every process computes the same name
