"""Regenerate the README's screenshots: real windows, grabbed from the screen.

Run on a (virtual) display, e.g.:  xvfb-run -s "-screen 0 1700x1100x24" .venv/bin/python screenshots/take.py
Without a display it falls back to offscreen widget grabs. Writes screenshots/*.png.
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
from PyQt6.QtCore import QCoreApplication, QEvent, QSettings, Qt  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from PyQt6.QtGui import QColor, QPainter  # noqa: E402

from losslab.app.dialogs import ExportAnimationDialog  # noqa: E402
from losslab.app.session import Session, ViewSettings, view_from_dict  # noqa: E402
from losslab.io.session_file import load_session, resolve_session  # noqa: E402
from losslab.app.window import MainWindow  # noqa: E402
from losslab.engine.experiment import Experiment, ObjectiveSpec, ProblemSpec, RunSpec  # noqa: E402

HERE = Path(__file__).resolve().parent


def settle(app: QApplication, window: MainWindow, seconds: float = 60.0) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        if window.session.pending is None and window.session.snapshot is not None and not window.session.jobs.busy:
            break
        time.sleep(0.01)
    for _ in range(30):  # let the last paints and the gradient check land
        app.processEvents()
        time.sleep(0.01)


def open_window(app: QApplication, experiment: Experiment, view: ViewSettings, frame: int) -> MainWindow:
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "shot.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Session(experiment, view), settings=settings)
    window.resize(1600, 1000)
    window.show()
    settle(app, window)
    window.clock.seek(frame)
    settle(app, window)
    time.sleep(0.3)
    settle(app, window)
    return window


def close(app: QApplication, window: MainWindow) -> None:
    """Close and delete a window: a closed one left alive would still get the next window's theme change."""
    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # processEvents() would not


def save(image, name: str) -> None:
    path = HERE / f"{name}.png"
    image.save(str(path))
    print(f"wrote {path}")


def picture(app: QApplication, window: MainWindow):
    """What the user sees: the screen under the window on a real display, else the widget's own drawing."""
    if app.platformName() == "xcb":
        geometry = window.frameGeometry()
        return app.primaryScreen().grabWindow(0, geometry.x(), geometry.y(), geometry.width(), geometry.height())
    return window.grab()


def shoot(app: QApplication, name: str, experiment: Experiment, view: ViewSettings, frame: int) -> None:
    window = open_window(app, experiment, view, frame)
    save(picture(app, window), name)
    close(app, window)


def shoot_preset(app: QApplication, name: str, preset: str, frame: int) -> None:
    experiment, view, _ = load_session(resolve_session(preset))
    shoot(app, name, experiment, view_from_dict(view), frame)


def shoot_export_dialog(app: QApplication) -> None:
    """The window with File ▸ Export ▸ Animation open over it."""
    window = open_window(app, Experiment(), ViewSettings(), frame=120)
    dialog = ExportAnimationDialog(window.figure)
    dialog.show()
    for _ in range(40):
        app.processEvents()
        time.sleep(0.01)
    if app.platformName() == "xcb":
        shot = picture(app, window)  # the dialog is on the screen, over the window
    else:
        shot = window.grab().toImage()
        painter = QPainter(shot)
        box = dialog.grab()
        painter.fillRect(shot.rect(), QColor(0, 0, 0, 60))  # the modal shade
        painter.drawPixmap((shot.width() - box.width()) // 2, (shot.height() - box.height()) // 3, box)
        painter.end()
    save(shot, "export-dialog")
    dialog.close()
    close(app, window)


def shoot_examples(app: QApplication) -> None:
    """The Examples tab, sorted worst first, its top rows selected and ringed in the data view."""
    window = open_window(app, Experiment(problem=ProblemSpec(noise=1.0)), ViewSettings(), frame=60)
    window.examples_dock.raise_()
    settle(app, window)
    table = window.examples
    table.view.sortByColumn(table.model.columnCount() - 1, Qt.SortOrder.DescendingOrder)
    worst = [table.proxy.mapToSource(table.proxy.index(row, 0)).row() for row in range(4)]
    table.select_examples(worst)
    settle(app, window)
    save(picture(app, window), "examples-table")
    close(app, window)


def shoot_hands_on(app: QApplication) -> None:
    """Points dragged and added, the weight vectors in data space, the Parameters tab."""
    window = open_window(app, Experiment(problem=ProblemSpec(n=60), runs=(RunSpec("gd"), RunSpec("momentum"))),
                         ViewSettings(data_run=0), frame=0)
    s = window.session
    X = s.problem.dataset.X
    s.move_point(0, tuple(X[0] * 0.2))
    settle(app, window)
    s.add_point((2.5, 2.5), 2)
    settle(app, window)
    window.parameters_dock.raise_()
    window.clock.seek(15)
    settle(app, window)
    save(picture(app, window), "hands-on-data-and-weights")
    close(app, window)


def shoot_gradient_arrows(app: QApplication) -> None:
    """View ▸ Arrows: −∇L, the step and the velocity or adaptive scale of each run, with the slopes in the readout."""
    window = open_window(app, Experiment(objective=ObjectiveSpec(loss="softmax"), steps=80,
                                         runs=(RunSpec("gd"), RunSpec("momentum"), RunSpec("adagrad"))),
                         ViewSettings(arrows=("gradient", "step", "velocity"), data_run=1), frame=10)
    save(picture(app, window), "gradient-arrows")
    close(app, window)


def shoot_curvature(app: QApplication) -> None:
    """The curvature preset at a resting frame: the Curvature tab, the bounds beside the learning rates,
    the Hessian's axes on the contour."""
    experiment, view, _ = load_session(resolve_session("why-this-learning-rate-diverges"))
    window = open_window(app, experiment, replace(view_from_dict(view), eigen_axes=True, data_run=2), frame=3)
    window.curvature_dock.raise_()
    for dock in window.findChildren(type(window.curvature_dock)):
        if dock.windowTitle() == "Optimizers":
            dock.raise_()
    settle(app, window)
    save(picture(app, window), "curvature")
    close(app, window)


def shoot_cuts(app: QApplication) -> None:
    """The 1-D cuts tab: the loss and accuracy from the start to the optimum, the runs projected onto it."""
    window = open_window(app, Experiment(objective=ObjectiveSpec(loss="softmax")), ViewSettings(), frame=15)
    window.cuts_dock.raise_()
    settle(app, window)
    save(picture(app, window), "one-d-cuts")
    close(app, window)


def shoot_surface3d(app: QApplication) -> None:
    """The landscape as a 3-D surface (OpenGL: on a display only)."""
    experiment, view, _ = load_session(resolve_session("learning-rate-too-high"))
    window = open_window(app, experiment, replace(view_from_dict(view), surface="3d"), frame=30)
    if window.figure.surface3d.has_gl:
        save(picture(app, window), "surface-3d")
    else:
        print(f"no 3-D screenshot: {window.figure.surface3d.message}")
    close(app, window)


def shoot_lesson_presentation(app: QApplication) -> None:
    """Lesson 1, step 2 (the hinge loss worked on the cat image) in presentation mode at 1280×720."""
    experiment, view, _ = load_session(resolve_session("17-cat-car-frog-scores"))
    window = open_window(app, experiment, view_from_dict(view), frame=0)
    window.set_presentation(True)
    window.setGeometry(0, 0, 1280, 720)  # a projector's size, whatever the screen
    settle(app, window)
    window.open_lesson("1-svm-loss", 2)  # arriving, it outlines the row the text works on
    settle(app, window, 10)
    save(picture(app, window), "lesson-presentation")
    window.set_presentation(False)
    close(app, window)


def main() -> None:
    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    app = QApplication(sys.argv[:1])
    shoot(app, "main-window", Experiment(), ViewSettings(), frame=40)
    shoot(app, "overlay-softmax-l1", Experiment(objective=ObjectiveSpec(loss="softmax", reg="l1", lam=0.05),
                                               runs=(RunSpec("gd"), RunSpec("sgd", (("batch_size", 8),)),
                                                     RunSpec("momentum"), RunSpec("adam"))),
          ViewSettings(layout="overlay", x_axis="cost", log_loss=True), frame=120)
    experiment, view, _ = load_session(resolve_session("momentum-rosenbrock"))
    shoot(app, "rosenbrock-dark", experiment, replace(view_from_dict(view), theme="dark", colormap="inferno"), frame=300)
    shoot(app, "six-runs-dark", Experiment(objective=ObjectiveSpec(loss="softmax"),
                                           runs=(RunSpec("gd"), RunSpec("sgd", (("batch_size", 16),)), RunSpec("momentum"),
                                                 RunSpec("nesterov"), RunSpec("rmsprop"), RunSpec("adam"))),
          ViewSettings(theme="dark", data_run=5), frame=60)
    shoot_preset(app, "digit-templates", "digit-templates", frame=200)
    shoot_preset(app, "learning-rate-too-high", "learning-rate-too-high", frame=100)
    shoot_preset(app, "network-optimizers", "network-optimizers", frame=500)
    shoot_preset(app, "spiral-network", "spiral-linear-vs-network", frame=1000)
    experiment, view, _ = load_session(resolve_session("spiral-linear-vs-network"))
    shoot(app, "digit-units-dark", replace(experiment, problem=replace(experiment.problem, source="bundled",
                                                                       kind="digits", standardize=True),
                                           steps=100, runs=(RunSpec("adam", (("lr", 0.01),)),)),
          replace(view_from_dict(view), theme="dark", data_run=0), frame=100)
    shoot_export_dialog(app)
    shoot_examples(app)
    shoot_hands_on(app)
    shoot_gradient_arrows(app)
    shoot_preset(app, "lesson-many-zero-loss-w", "many-zero-loss-w", frame=150)
    shoot_curvature(app)
    shoot_cuts(app)
    shoot_lesson_presentation(app)
    shoot_surface3d(app)  # last: once a window holds an OpenGL view, Qt composes it through OpenGL


if __name__ == "__main__":
    main()
