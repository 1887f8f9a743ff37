"""Regenerate the README's screenshots: real windows, grabbed offscreen (or on $DISPLAY).

Run: .venv/bin/python screenshots/take.py   (writes screenshots/*.png)
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")

import pyqtgraph as pg  # noqa: E402
from PyQt6.QtCore import QSettings  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from losslab.app.session import Session, ViewSettings  # noqa: E402
from losslab.app.window import MainWindow  # noqa: E402
from losslab.engine.experiment import Experiment, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec  # noqa: E402

HERE = Path(__file__).resolve().parent


def settle(app: QApplication, window: MainWindow, seconds: float = 60.0) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        if (not window.session.jobs.busy and window.results and window.session.landscape is not None
                and window.grid._surface is not None):
            break
        time.sleep(0.01)
    for _ in range(30):  # let the last paints and the gradient check land
        app.processEvents()
        time.sleep(0.01)


def shoot(app: QApplication, name: str, experiment: Experiment, view: ViewSettings, frame: int) -> None:
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "shot.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Session(experiment, view), settings=settings)
    window.resize(1600, 1000)
    window.show()
    settle(app, window)
    window.clock.seek(frame)
    settle(app, window)
    time.sleep(0.3)
    settle(app, window)
    path = HERE / f"{name}.png"
    window.grab().save(str(path))
    print(f"wrote {path}")
    window.close()


def main() -> None:
    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    app = QApplication(sys.argv[:1])
    shoot(app, "main-window", Experiment(), ViewSettings(), frame=40)
    shoot(app, "overlay-softmax-l1", Experiment(objective=ObjectiveSpec(loss="softmax", reg="l1", lam=0.05),
                                               runs=(RunSpec("gd"), RunSpec("sgd", (("batch_size", 8),)),
                                                     RunSpec("momentum"), RunSpec("adam"))),
          ViewSettings(layout="overlay", x_axis="cost", log_loss=True), frame=120)
    shoot(app, "rosenbrock-dark", Experiment(problem=ProblemSpec(source="surface", kind="rosenbrock"),
                                            start=(-1.5, 2.5), steps=400,
                                            runs=(RunSpec("gd", (("lr", 1e-3),)), RunSpec("momentum", (("lr", 1e-3),)),
                                                  RunSpec("rmsprop"), RunSpec("adam", (("lr", 0.05),)))),
          ViewSettings(theme="dark", log_scale=True, colormap="inferno"), frame=400)


if __name__ == "__main__":
    main()
