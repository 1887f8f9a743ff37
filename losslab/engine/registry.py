"""Registries: one per family (losses, regularizers, datasets, optimizers, planes...).

A registry maps a user-facing name to an :class:`Entry`: the implementation, a label for
menus, the formula as text for tooltips, and the entry's parameters with their defaults
and valid ranges. The same registry validates input, fills the window's combo boxes and
names things in session files, so adding a loss touches one place.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Param:
    """One tunable parameter: its default, its valid range and how to show it.

    ``kind`` is ``float``, ``int``, ``bool`` or ``str`` (a choice among ``choices``).
    ``low``/``high`` bound the value; ``low_open``/``high_open`` make a bound strict.
    ``log`` hints that a control should move on a log scale.
    """

    name: str
    default: Any
    label: str = ""
    kind: type = float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    log: bool = False
    help: str = ""

    def validate(self, value: Any) -> Any:
        """Return ``value`` coerced to this parameter's kind, or raise ``ValueError`` naming it."""
        if self.kind is bool:
            if isinstance(value, (bool, int)) and value in (0, 1):
                return bool(value)
            raise ValueError(f"{self.name} must be true or false, got {value!r}")
        if self.kind is str:
            if value not in self.choices:
                raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}; got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not _is_numpy_number(value):
            raise ValueError(f"{self.name} must be a number, got {value!r}")
        if self.kind is int:
            if not math.isfinite(float(value)) or float(value) != int(value):
                raise ValueError(f"{self.name} must be a whole number, got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{self.name} must be a finite number, got {value!r}")
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise ValueError(f"{self.name} must be {'>' if self.low_open else '>='} {self.low:g}, got {value!r}")
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            raise ValueError(f"{self.name} must be {'<' if self.high_open else '<='} {self.high:g}, got {value!r}")
        return value


def _is_numpy_number(value: Any) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "dtype") and value.dtype.kind in "iuf"


@dataclass(frozen=True)
class Entry:
    """One member of a family: ``impl`` does the work, the rest describes it."""

    name: str
    label: str
    impl: Callable[..., Any]
    formula: str = ""
    params: tuple[Param, ...] = ()
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ValueError(f"{self.label} has no parameter {name!r}; it takes {', '.join(self.defaults) or 'none'}")

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``values``, each validated; unknown names raise ``ValueError``."""
        out = self.defaults
        for name, value in values.items():
            out[name] = self.param(name).validate(value)
        return out


class Registry(Mapping[str, Entry]):
    """An ordered, read-only name → :class:`Entry` map whose lookups fail with a clear message."""

    def __init__(self, family: str, entries: list[Entry]):
        self.family = family
        self._entries = {e.name: e for e in entries}

    def __getitem__(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown {self.family} {name!r}; choose one of: {', '.join(self._entries)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def get(self, name: str, default: Any = None) -> Any:
        return self._entries.get(name, default) if isinstance(name, str) else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.family!r}, {list(self._entries)})"
