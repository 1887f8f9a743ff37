"""What GUI tests wait for: a session with nothing left to compute, and a small one to start from."""
from __future__ import annotations

from losslab.engine.experiment import Experiment, PlaneSpec, ProblemSpec

SMALL = Experiment(problem=ProblemSpec(n=60), plane=PlaneSpec(resolution=24), steps=20)  # computed in a blink


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


def shown_window(qtbot, tmp_path, experiment, view=None, size=(1400, 900), **session_options):
    """A real main window on ``experiment`` (scratch settings, full grids at once), shown and computed."""
    from PyQt6.QtCore import QSettings

    from losslab.app.session import Session
    from losslab.app.window import MainWindow
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Session(experiment, view, **({"preview_seconds": None} | session_options)),
                        settings=settings)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    wait_settled(qtbot, window.session)
    return window


def shown_plot(qtbot):
    """A pyqtgraph plot widget on screen (for overlays drawn in plane units); hold on to it while used."""
    import pyqtgraph as pg
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(500, 400)
    widget.show()
    qtbot.waitExposed(widget)
    return widget
