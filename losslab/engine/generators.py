"""The engine's long computations are generators: they yield progress (each yield is a place
where the caller may stop them) and return their result. :func:`drain` runs one to the end."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def drain(generator: Iterator) -> Any:
    """Run a generator to the end and return its result (no progress wanted)."""
    while True:
        try:
            next(generator)
        except StopIteration as stop:
            return stop.value
