"""The exceptions emovox raises. Each message is one line a user can act on."""

from __future__ import annotations


class EmovoxError(Exception):
    """Base class of every error emovox raises on purpose."""


class AudioError(EmovoxError, ValueError):
    """Audio that cannot be used: missing, empty, corrupt, not audio, too short, silent.

    ``path`` names the file (or ``"<array>"`` for samples given in memory) and
    ``problem`` is a short phrase; ``str(err)`` is ``"{path}: {problem}"``.
    """

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class DataError(EmovoxError, ValueError):
    """A corpus, manifest or label set that cannot be used as asked."""


class BundleError(EmovoxError, ValueError):
    """A model bundle that cannot be loaded: missing, truncated, tampered or incompatible."""


class ParameterError(EmovoxError, ValueError):
    """An option with a value emovox does not accept."""


class DeviceError(EmovoxError):
    """An audio device problem: none found, no such device, unplugged, or PortAudio missing."""


class SpeechError(EmovoxError):
    """No text-to-speech engine or no audio output: the message says which and how to fix it."""


class ApiError(EmovoxError):
    """A request the web service answers with an error: an HTTP status (4xx / 503), one line, extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class StreamClosed(EmovoxError):
    """The web service ends a WebSocket stream: an error event (if ``status``), then close ``code``."""

    def __init__(self, code: int, status: int | None = None, message: str = "") -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


class EmovoxWarning(UserWarning):
    """Base class of the warnings emovox gives: the run goes on, but the user should know."""


class LowRateWarning(EmovoxWarning):
    """Audio recorded at a lower rate than the model was trained at: it lacks bands the features use."""


class CacheWarning(EmovoxWarning):
    """The feature cache cannot be used (unwritable, full disk, an odd entry): the run goes on without it."""
