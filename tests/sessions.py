"""What GUI tests wait for: a session with nothing left to compute, and a small one to start from."""
from __future__ import annotations


def settled(session) -> bool:
    """Nothing pending and nothing computing: what is shown is the last change asked for."""
    return session.pending is None and session.snapshot is not None and not session.jobs.is_running("compute")


def wait_settled(qtbot, session, timeout: int = 30_000) -> None:
    qtbot.waitUntil(lambda: settled(session), timeout=timeout)


def started(qtbot, experiment):
    """A session on ``experiment`` (full grids at once: no coarse preview first), computed."""
    from losslab.app.session import Session
    session = Session(experiment, preview_seconds=None)
    session.start()
    wait_settled(qtbot, session)
    return session
