"""Headless Chromium for the web page's tests: Debian's browser, driven by Playwright, its microphone a file."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

#: The browser (Debian's ``chromium`` package), or ``$EMOVOX_CHROMIUM``.
CHROMIUM = Path(os.environ.get("EMOVOX_CHROMIUM", "/usr/bin/chromium"))
#: Headless, sandbox off (root in CI), and nothing that calls out to the network this machine does not have.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def microphone_wav(clip: Path, folder: Path) -> Path:
    """A WAV for Chromium's fake microphone: ``clip`` then a second of silence (Chromium loops it)."""
    samples, rate = sf.read(str(clip), dtype="float32")
    wav = folder / "mic.wav"
    sf.write(str(wav), np.concatenate([samples, np.zeros(rate, np.float32)]), rate, subtype="PCM_16")
    return wav


@contextmanager
def chromium(sync_api, microphone: Path):
    """A launched Chromium whose microphone plays ``microphone``; ``pytest.skip`` if it cannot start."""
    import pytest

    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                 args=FLAGS + [f"--use-file-for-fake-audio-capture={microphone}"])
        except sync_api.Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} does not start under Playwright: {str(exc).splitlines()[0]}")
        try:
            yield browser
        finally:
            browser.close()
