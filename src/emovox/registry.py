"""One way to register things by name: feature sets, models, corpora, protocols, VADs, sub-commands.

>>> FRUIT = Registry("fruit")
>>> @FRUIT.register("apple")
... def apple(): ...
>>> FRUIT.get("apple") is apple
True
>>> FRUIT.get("pear")
Traceback (most recent call last):
...
emovox.errors.ParameterError: unknown fruit 'pear'; choose from apple
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import ParameterError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, in registration order.

    Args:
        kind: what the entries are, for messages (``"feature set"``, ``"model"`` ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator (or plain call: ``REGISTRY.register("x")(thing)``) adding ``thing`` under ``name``.

        Raises:
            ParameterError: ``name`` is taken by another entry.
        """
        def add(entry: T) -> T:
            if name in self._entries and self._entries[name] is not entry:
                raise ParameterError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> T:
        """The entry called ``name``.

        Raises:
            ParameterError: no such entry (the message lists the names there are).
        """
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ParameterError(f"unknown {self.kind} {name!r}; choose from {', '.join(self.names())}") from None

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
