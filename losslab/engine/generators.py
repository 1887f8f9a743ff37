"""The engine's long computations are generators: they yield progress (each yield is a place
where the caller may stop them) and return their result. :func:`drain` runs one to the end;
:func:`checkpoint` lets inner loops stop between two yields too."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def drain(generator: Iterator) -> Any:
    """Run a generator to the end and return its result (no progress wanted)."""
    while True:
        try:
            next(generator)
        except StopIteration as stop:
            return stop.value


class Cancelled(Exception):
    """The computation running on this thread was asked to stop (see :func:`checkpoint`)."""


_local = threading.local()


@contextmanager
def cancellable(event: threading.Event):
    """While inside, :func:`checkpoint` on this thread raises :class:`Cancelled` once ``event`` is set.

    A generator can only stop at its yields; one step between two yields can be long
    (a numerical gradient of a million examples is 2P loss evaluations). The engine's
    inner loops call :func:`checkpoint`, so a runner that sets ``event`` stops them
    within one loss evaluation, without any of them knowing who runs them.
    """
    previous = getattr(_local, "event", None)
    _local.event = event
    try:
        yield
    finally:
        _local.event = previous


def checkpoint() -> None:
    """Raise :class:`Cancelled` if this thread's computation was asked to stop; free otherwise."""
    event = getattr(_local, "event", None)
    if event is not None and event.is_set():
        raise Cancelled
