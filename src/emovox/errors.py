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
