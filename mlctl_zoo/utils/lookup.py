"""Things found by name (losses, poolings, tasks, suites): one small ``Registry[T]`` table for all of them.

Register with a decorator, ``add`` or ``add_lazy`` (a ``"module:attr"`` target imported on first use);
unknown names fail with "did you mean" and the list of known names.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from mlctl_zoo.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object mapping with helpful errors.

    Example:
        >>> POOLINGS = Registry[Callable]("pooling")
        >>> @POOLINGS.register("mean")
        ... def mean_pool(...): ...
        >>> POOLINGS.get("mean")

    Entries added with ``add_lazy(name, "package.module:attr")`` are imported on their first ``get``: a table
    of names costs no import, and importing the module that holds the table registers nothing by side effect.
    """

    def __init__(self, kind: str, names: Iterable[str] | None = None) -> None:
        """``names``: the closed set of names this registry may hold (a schema's ``Literal``), when the names are
        declared elsewhere once; ``add`` refuses any other and ``missing()`` lists those not yet added."""
        self.kind = kind
        self.allowed = tuple(names) if names is not None else None
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}  # name -> "module:attr", until first use

    def _check_new(self, name: str) -> None:
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if self.allowed is not None and name not in self.allowed:
            raise ValueError(f"{self.kind} {name!r} is not one of the declared names {list(self.allowed)}")

    def missing(self) -> list[str]:
        """Declared names with nothing registered (empty when the registry is open or complete)."""
        return [n for n in self.allowed or () if n not in self]

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        self._check_new(name)
        self._items[name] = obj

    def add_lazy(self, name: str, target: str) -> None:
        """Register ``target`` (``"package.module:attr"``) under ``name``; it is imported on first ``get``."""
        self._check_new(name)
        if target.count(":") != 1:
            raise ValueError(f"{self.kind} {name!r}: lazy target {target!r} is not 'package.module:attr'")
        self._lazy[name] = target

    def get(self, name: str) -> T:
        if name in self._lazy:
            module, _, attr = self._lazy[name].partition(":")
            self._items[name] = getattr(importlib.import_module(module), attr)
            del self._lazy[name]
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(unknown_name_message(self.kind, name, self.names())) from None

    def names(self) -> list[str]:
        return sorted([*self._items, *self._lazy])

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        """Every entry, lazy ones imported."""
        return [(n, self.get(n)) for n in self.names()]


def did_you_mean(name: str, known) -> str:
    """``"; did you mean 'mean'?"`` for the closest of ``known``, or ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown_name_message(kind: str, name: str, known) -> str:
    """``unknown pooling 'maen'; did you mean 'mean'? (known: cls, mean)``."""
    known = sorted(known)
    hint = did_you_mean(name, known)
    listing = ", ".join(known) if known else "none"
    return f"unknown {kind} {name!r}{hint} (known: {listing})"
