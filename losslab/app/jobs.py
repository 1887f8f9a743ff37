"""Background jobs: heavy engine work off the GUI thread, cancellable, stale results dropped.

A job is a plain generator function from the engine side: it yields progress (often:
cancellation is checked between yields) and returns its final value. Each *channel*
(``"compute"``, ``"gradcheck"``...) runs at most one current job: submitting a new one
cancels the previous one, whose later output is dropped, never delivered.

Jobs run on daemon Python threads, not a ``QThreadPool``: a pool's destructor waits for
its running jobs, with the GIL held, so closing a window while a job runs could hang.
Here closing cancels every job, waits a moment for them to see it, and returns; a job
still inside one long NumPy call finishes on its own and its result goes nowhere.
Threads that finished a job wait for the next one (:class:`_Workers`): starting a thread
blocks its starter until the new thread runs, which takes the GIL from a busy worker.
"""
from __future__ import annotations

import itertools
import queue
import sys
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from PyQt6 import sip
from PyQt6.QtCore import QObject, pyqtSignal, pyqtSlot

from ..engine.generators import Cancelled, cancellable


def single(fn: Callable[..., Any], *args: Any) -> Generator[None, None, Any]:
    """A job that computes ``fn(*args)`` in one go (only for short work: it cannot be cancelled midway)."""
    return fn(*args)
    yield  # unreachable: makes this a generator function


class _Relay(QObject):
    """Carries a worker thread's news to the GUI thread (Qt queues signals across threads).

    It has no parent and is never deleted (``_RELAYS`` keeps it), so it outlives the
    runner: a job that ends after the window has gone emits into the void instead of into
    a deleted object, and no worker thread ever drops its last reference (a QObject must
    not be destroyed outside its own thread).
    """

    progress = pyqtSignal(str, int, object)
    finished = pyqtSignal(str, int, object)
    failed = pyqtSignal(str, int, object)
    done = pyqtSignal(str, int)


_RELAYS: list[_Relay] = []  # one small object per runner ever made


class _Workers:
    """Daemon threads that run one callable at a time and then wait for the next.

    ``Thread.start`` returns only once the new thread runs, and a new thread needs the GIL
    to run: while a job computes, every start made the GUI thread wait for it (0.5-1 ms a
    job, three jobs a slider step). Handing a callable to a waiting thread is a queue put.
    A callable is never queued behind another: with no thread idle, a new one starts. At most
    ``MAX_IDLE`` threads wait; one more, back from a job (a cancelled one that finished its
    last NumPy call late), ends.
    """

    MAX_IDLE = 4

    def __init__(self):
        self._idle: list[queue.SimpleQueue] = []
        self._lock = threading.Lock()

    def run(self, fn: Callable[[], None]) -> None:
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), name="losslab-job", daemon=True).start()
        inbox.put(fn)

    def _serve(self, inbox: queue.SimpleQueue) -> None:
        while True:
            fn = inbox.get()
            fn()
            del fn  # the job and whatever its result holds are not kept alive while this thread waits
            with self._lock:
                if len(self._idle) >= self.MAX_IDLE:
                    return
                self._idle.append(inbox)


def _every(_item) -> bool:
    return True


_WORKERS = _Workers()  # shared by every runner: a thread idle after one window's job serves the next


class _Job:
    """One generator run on a daemon thread; the callbacks are dropped once it is delivered or
    cancelled, so a finished job keeps nothing of its owner alive."""

    def __init__(self, relay: _Relay, channel: str, generation: int, work: Callable[[], Generator],
                 callbacks: tuple, reports: Callable[[Any], bool] | None):
        self.relay, self.channel, self.generation, self.work = relay, channel, generation, work
        self.on_progress, self.on_result, self.on_error = callbacks
        self.reports = reports  # which progress items cross to the GUI thread (None: none)
        self.cancelled = threading.Event()
        self.ended = threading.Event()  # set when the job's thread is done with it

    def forget_callbacks(self) -> None:
        self.on_progress = self.on_result = self.on_error = None

    def start(self) -> None:
        _WORKERS.run(self.run)

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the job to end; whether it has."""
        return self.ended.wait(timeout)

    def is_alive(self) -> bool:
        return not self.ended.is_set()

    def run(self) -> None:
        threading.current_thread().name = f"losslab-{self.channel}-{self.generation}"  # for tracebacks and profilers
        try:
            with cancellable(self.cancelled):  # the engine's inner loops stop too, not only its yields
                self._run()
        except RuntimeError:
            pass  # the relay's receiver is gone (the app is closing): nobody to tell
        finally:
            self.work = None  # nothing of the generator's inputs outlives the job
            self.ended.set()

    def _run(self) -> None:
        relay, channel, generation = self.relay, self.channel, self.generation
        try:
            gen = self.work()
            while True:
                if self.cancelled.is_set():
                    gen.close()
                    return
                try:
                    item = next(gen)
                except StopIteration as stop:
                    result = stop.value
                    break
                if self.reports is not None and self.reports(item) and not self.cancelled.is_set():
                    relay.progress.emit(channel, generation, item)
            if not self.cancelled.is_set():
                relay.finished.emit(channel, generation, result)
        except Cancelled:
            pass
        except Exception as err:  # handed to whoever asked; the app keeps going
            if not self.cancelled.is_set():
                relay.failed.emit(channel, generation, err)
        finally:
            relay.done.emit(channel, generation)


class JobRunner(QObject):
    """Runs one current job per channel on a background thread and delivers only current results.

    Results go to the callbacks given to :meth:`submit` and to these signals (all on the
    GUI thread, all for the current job of a channel only):
        progress(channel, item): a partial result yielded by the job.
        finished(channel, result): the job's return value.
        failed(channel, error): the exception the job raised.
        busyChanged(bool): whether any job is running.
    """

    progress = pyqtSignal(str, object)
    finished = pyqtSignal(str, object)
    failed = pyqtSignal(str, object)
    busyChanged = pyqtSignal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        # Jobs run Python loops that hold the GIL; hand it back to the GUI thread every
        # millisecond (default: 5 ms) so that the event loop never waits long for it.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self._relay = _Relay()
        _RELAYS.append(self._relay)
        self._relay.progress.connect(self._on_progress)
        self._relay.finished.connect(self._on_finished)
        self._relay.failed.connect(self._on_failed)
        self._relay.done.connect(self._on_done)
        self._counter = itertools.count(1)
        self._current: dict[str, _Job] = {}
        self._running: dict[tuple[str, int], _Job] = {}
        self._closed = False

    def submit(self, channel: str, work: Callable[[], Generator[Any, None, Any]],
               on_result: Callable[[Any], None] | None = None, on_error: Callable[[Exception], None] | None = None,
               on_progress: Callable[[Any], None] | None = None,
               progress_filter: Callable[[Any], bool] | None = None) -> int:
        """Start ``work()`` (a generator function) in the background; cancel the channel's previous job.

        The callbacks are called on the GUI thread, for this job only, unless it is
        superseded or cancelled first. After :meth:`shutdown` nothing starts (returns 0).

        Each progress item handed over is an event the GUI thread handles after waiting for the
        GIL the job holds (0.5-1 ms): items go over only when someone listens (``on_progress``,
        or the ``progress`` signal connected at submit time) and ``progress_filter(item)``,
        called on the job's thread, is true (no filter: every item).
        """
        self.cancel(channel)
        if self._closed:
            return 0
        listened = on_progress is not None or self.receivers(self.progress) > 0
        reports = (progress_filter or _every) if listened else None
        job = _Job(self._relay, channel, next(self._counter), work, (on_progress, on_result, on_error), reports)
        self._current[channel] = job
        was_busy = self.busy
        self._running[(channel, job.generation)] = job
        job.start()
        if not was_busy:
            self.busyChanged.emit(True)
        return job.generation

    def cancel(self, channel: str) -> None:
        """Stop the channel's job at its next yield; nothing more of it is delivered."""
        job = self._current.pop(channel, None)
        if job is not None:
            job.cancelled.set()
            job.forget_callbacks()

    def cancel_all(self) -> None:
        for channel in list(self._current):
            self.cancel(channel)

    def is_running(self, channel: str) -> bool:
        """Whether the channel has a current job that has not delivered yet."""
        return channel in self._current

    @property
    def busy(self) -> bool:
        """Whether any job thread, current or cancelled, is still running."""
        return bool(self._running)

    def is_current(self, channel: str, generation: int) -> bool:
        job = self._current.get(channel)
        return job is not None and job.generation == generation and not job.cancelled.is_set()

    def shutdown(self, msecs: int = 500) -> None:
        """Cancel everything and refuse new jobs; give running jobs ``msecs`` to stop, never more."""
        self._closed = True
        self.cancel_all()
        self.join(msecs)

    def join(self, msecs: int) -> bool:
        """Wait up to ``msecs`` for every job thread to end (without running the event loop)."""
        deadline = time.monotonic() + msecs / 1000
        for job in list(self._running.values()):
            job.join(max(0.0, deadline - time.monotonic()))
        return not any(job.is_alive() for job in self._running.values())

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until every job thread has ended (for tests and scripts)."""
        return self.join(msecs)

    # news from a job that outlives the runner (the relay does) must not reach a deleted object
    @pyqtSlot(str, int, object)
    def _on_progress(self, channel: str, generation: int, item: object) -> None:
        if not sip.isdeleted(self) and self.is_current(channel, generation):
            job = self._current[channel]
            if job.on_progress is not None:
                job.on_progress(item)
            self.progress.emit(channel, item)

    @pyqtSlot(str, int, object)
    def _on_finished(self, channel: str, generation: int, result: object) -> None:
        if not sip.isdeleted(self) and self.is_current(channel, generation):
            job = self._current.pop(channel)
            on_result = job.on_result
            job.forget_callbacks()
            if on_result is not None:
                on_result(result)
            self.finished.emit(channel, result)

    @pyqtSlot(str, int, object)
    def _on_failed(self, channel: str, generation: int, error: object) -> None:
        if not sip.isdeleted(self) and self.is_current(channel, generation):
            job = self._current.pop(channel)
            on_error = job.on_error
            job.forget_callbacks()
            if on_error is not None:
                on_error(error)
            self.failed.emit(channel, error)

    @pyqtSlot(str, int)
    def _on_done(self, channel: str, generation: int) -> None:
        if sip.isdeleted(self):
            return
        if self._running.pop((channel, generation), None) is not None and not self._running:
            self.busyChanged.emit(False)
