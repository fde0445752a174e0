"""Helpers the server's tests share: audio as request bodies, and the JSON error check."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf


def audio_bytes(samples: np.ndarray, rate: int, fmt: str = "WAV", subtype: str | None = "PCM_16") -> bytes:
    """``samples`` encoded as a file of format ``fmt`` (``WAV``, ``FLAC``, ``OGG``, ``MP3``...), in memory."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def assert_error(response, status: int, words: str) -> dict:
    """The response is the server's JSON error with ``status`` and ``words`` in its message; return it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == status and words in error["message"], error
    return error
