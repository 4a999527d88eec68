"""A feature's session state, made on first use.

A session whose tests use no feature of the plugin must not pay for the features: their modules
are imported, and their files read, only once something needs them. ``plugin.py`` puts a ``Lazy``
in ``config.stash`` for each feature; hooks look at ``value`` (None: the feature was not used, so
there is nothing to do) and code that uses the feature calls ``get()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .xdist import Channel

__all__ = ["Lazy"]

T = TypeVar("T")


class Lazy(Generic[T]):
    """``factory()``'s result, made by the first ``get()``; ``value`` is None until then."""

    __slots__ = ("_factory", "value")

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self.value: T | None = None

    def get(self) -> T:
        if self.value is None:
            self.value = self._factory()
        return self.value

    def channel(self, name: str) -> Channel:
        """The xdist channel of a state with ``collect()`` / ``merge(data)``: a worker that never used
        the feature sends nothing; the controller makes its state to merge what a worker sends."""
        return Channel(name, self._collect, lambda data: self.get().merge(data))  # type: ignore[attr-defined]

    def _collect(self) -> Any:
        return None if self.value is None else self.value.collect()  # type: ignore[attr-defined]
