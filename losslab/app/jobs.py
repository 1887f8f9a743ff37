"""Background jobs: heavy engine work off the GUI thread, cancellable, stale results dropped.

A job is a plain generator function from the engine side: it yields partial results
(rows of a landscape, say) and returns its final value. Each *channel* (``"landscape"``,
``"runs"``...) runs at most one current job: submitting a new one cancels the previous
one, whose later output is dropped, never delivered. Cancellation is checked between
yields, so generators should yield often.
"""
from __future__ import annotations

import itertools
import sys
import threading
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal


def single(fn: Callable[..., Any], *args: Any) -> Generator[None, None, Any]:
    """A job that computes ``fn(*args)`` in one go, with nothing to report on the way."""
    return fn(*args)
    yield  # unreachable: makes this a generator function


class _Cancelled(Exception):
    pass


class _Job(QRunnable):
    def __init__(self, runner: "JobRunner", channel: str, generation: int, work: Callable[[], Generator]):
        super().__init__()
        self.runner, self.channel, self.generation, self.work = runner, channel, generation, work
        self.cancelled = threading.Event()

    def run(self) -> None:
        try:
            self._run()
        except RuntimeError:
            pass  # the window (and the relay with it) was destroyed while we worked: nobody to tell

    def _run(self) -> None:
        emit = self.runner._relay
        try:
            gen = self.work()
            while True:
                if self.cancelled.is_set():
                    gen.close()
                    raise _Cancelled
                try:
                    item = next(gen)
                except StopIteration as stop:
                    result = stop.value
                    break
                if not self.cancelled.is_set():
                    emit.progress.emit(self.channel, self.generation, item)
            if not self.cancelled.is_set():
                emit.finished.emit(self.channel, self.generation, result)
        except _Cancelled:
            pass
        except Exception as err:  # reported to the user; the app keeps going
            if not self.cancelled.is_set():
                detail = "".join(traceback.format_exception_only(type(err), err)).strip()
                emit.failed.emit(self.channel, self.generation, detail)
        finally:
            emit.done.emit(self.channel, self.generation)


class _Relay(QObject):
    # emitted from pool threads; Qt queues them to the GUI thread
    progress = pyqtSignal(str, int, object)
    finished = pyqtSignal(str, int, object)
    failed = pyqtSignal(str, int, str)
    done = pyqtSignal(str, int)


class JobRunner(QObject):
    """Runs one current job per channel on a thread pool and delivers only current results.

    Signals (all on the GUI thread, all for the current job of the channel only):
        progress(channel, item): a partial result yielded by the job.
        finished(channel, result): the job's return value.
        failed(channel, message): the job raised; ``message`` names the error.
        busyChanged(bool): whether any channel has a job running.
    """

    progress = pyqtSignal(str, object)
    finished = pyqtSignal(str, object)
    failed = pyqtSignal(str, str)
    busyChanged = pyqtSignal(bool)

    def __init__(self, parent: QObject | None = None, threads: int = 2):
        super().__init__(parent)
        # Jobs run Python loops that hold the GIL; hand it back to the GUI thread every
        # millisecond (default: 5 ms) so that the event loop never waits long for it.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._relay = _Relay()
        self._relay.progress.connect(self._on_progress)
        self._relay.finished.connect(self._on_finished)
        self._relay.failed.connect(self._on_failed)
        self._relay.done.connect(self._on_done)
        self._counter = itertools.count(1)
        self._current: dict[str, _Job] = {}
        self._running: set[tuple[str, int]] = set()
        self._closed = False

    def submit(self, channel: str, work: Callable[[], Generator[Any, None, Any]]) -> int:
        """Start ``work()`` (a generator function) in the background; cancel the channel's previous job.

        After :meth:`shutdown` nothing starts any more (returns 0).
        """
        self.cancel(channel)
        if self._closed:
            return 0
        job = _Job(self, channel, next(self._counter), work)
        self._current[channel] = job
        was_busy = self.busy
        self._running.add((channel, job.generation))
        self._pool.start(job)
        if not was_busy:
            self.busyChanged.emit(True)
        return job.generation

    def cancel(self, channel: str) -> None:
        job = self._current.pop(channel, None)
        if job is not None:
            job.cancelled.set()

    def cancel_all(self) -> None:
        for channel in list(self._current):
            self.cancel(channel)

    def is_running(self, channel: str) -> bool:
        """Whether the channel has a current job that has not delivered yet."""
        return channel in self._current

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def is_current(self, channel: str, generation: int) -> bool:
        job = self._current.get(channel)
        return job is not None and job.generation == generation and not job.cancelled.is_set()

    def shutdown(self, msecs: int = 5_000) -> None:
        """Cancel everything, refuse new jobs, and wait for running ones to return."""
        self._closed = True
        self.cancel_all()
        self._pool.waitForDone(msecs)

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until every job has returned (for tests and shutdown)."""
        return self._pool.waitForDone(msecs)

    def _on_progress(self, channel: str, generation: int, item: object) -> None:
        if self.is_current(channel, generation):
            self.progress.emit(channel, item)

    def _on_finished(self, channel: str, generation: int, result: object) -> None:
        if self.is_current(channel, generation):
            del self._current[channel]
            self.finished.emit(channel, result)

    def _on_failed(self, channel: str, generation: int, message: str) -> None:
        if self.is_current(channel, generation):
            del self._current[channel]
            self.failed.emit(channel, message)

    def _on_done(self, channel: str, generation: int) -> None:
        self._running.discard((channel, generation))
        if not self._running:
            self.busyChanged.emit(False)
