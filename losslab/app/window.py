"""The main window: landscapes side by side, loss curves, the data, readouts and controls."""
from __future__ import annotations

import os
import re
from dataclasses import asdict

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QElapsedTimer, QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence, QPalette, QColor
from PyQt6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDialog, QDockWidget, QFileDialog, QHBoxLayout,
                             QLabel, QMainWindow, QMessageBox, QProgressBar, QProgressDialog, QSizePolicy, QSlider,
                             QSplitter, QStackedWidget, QStyle, QTableWidget, QTableWidgetItem, QToolButton,
                             QVBoxLayout, QWidget)

from .. import __version__
from ..engine.experiment import Landscape, RunResult
from ..engine.gradcheck import grad_check
from .clock import AnimationClock
from ..io.exports import write_landscape_csv, write_landscape_npz, write_trajectories_csv, write_trajectories_npz
from ..io.session_file import (SessionError, dumps, list_presets, load_session, presets_folder, resolve_session,
                               save_session)
from .dialogs import ExportAnimationDialog, ExportFigureDialog
from .display import PART_LABELS, surface_display
from .export import ExportCancelled, export_animation, export_figure
from .jobs import single
from .controls import ObjectivePanel, OptimizersPanel, PlanePanel, ProblemPanel, ViewPanel, scrolled
from .session import Session, ViewSettings, view_from_dict
from .controls import swatch
from .views import run_color, run_label, DataView, LandscapeGrid, LossCurves, PathData, TemplateView

GRADCHECK_COLORS = {"good": "#2ca02c", "acceptable": "#bcbd22", "suspect": "#ff7f0e", "wrong": "#d62728"}
READOUT_COLUMNS = ["optimizer", "step", "data loss", "reg loss", "total", "accuracy", "‖∇L‖", "off plane", "status",
                   "grad check"]
GRADCHECK_SAMPLE = 40  # above this many parameters, check a seeded sample of coordinates (CS231n's sparse check)


class TransportBar(QWidget):
    """Play/pause, step, restart, the timeline, speed and loop."""

    def __init__(self, clock: AnimationClock, session: Session):
        super().__init__()
        self.clock, self.session = clock, session
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)

        def button(icon: QStyle.StandardPixmap, tip: str, slot, name: str) -> QToolButton:
            b = QToolButton()
            b.setIcon(self.style().standardIcon(icon))
            b.setToolTip(tip)
            b.setObjectName(name)
            b.clicked.connect(slot)
            layout.addWidget(b)
            return b

        pixmaps = QStyle.StandardPixmap
        button(pixmaps.SP_MediaSkipBackward, "restart (Home)", clock.restart, "button_restart")
        button(pixmaps.SP_MediaSeekBackward, "step back (←)", lambda: clock.step(-1), "button_back")
        self.play = button(pixmaps.SP_MediaPlay, "play / pause (Space)", clock.toggle, "button_play")
        button(pixmaps.SP_MediaSeekForward, "step forward (→)", lambda: clock.step(1), "button_forward")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("timeline")
        self.slider.setToolTip("scrub: every panel follows")
        self.slider.valueChanged.connect(clock.seek)
        layout.addWidget(self.slider, 1)
        self.label = QLabel("step 0 / 0")
        self.label.setMinimumWidth(110)
        layout.addWidget(self.label)
        layout.addWidget(QLabel("speed"))
        self.speed = QComboBox()
        self.speed.setObjectName("combo_speed")
        for fps in (5, 10, 20, 40, 80, 160, 320):
            self.speed.addItem(f"{fps} steps/s", fps)
        self.speed.setCurrentIndex(max(0, self.speed.findData(int(session.view.speed))))
        self.speed.currentIndexChanged.connect(lambda: session.set_view(speed=float(self.speed.currentData())))
        layout.addWidget(self.speed)
        self.loop = QCheckBox("loop")
        self.loop.setObjectName("check_loop")
        self.loop.setChecked(session.view.loop)
        self.loop.toggled.connect(lambda on: session.set_view(loop=on))
        layout.addWidget(self.loop)
        session.viewChanged.connect(self.show_view)
        clock.frameChanged.connect(self.show_frame)
        clock.playingChanged.connect(lambda on: self.play.setIcon(self.style().standardIcon(
            pixmaps.SP_MediaPause if on else pixmaps.SP_MediaPlay)))

    def show_view(self, view) -> None:
        """Follow the session (a file opened with another speed or loop setting)."""
        self.speed.blockSignals(True)
        index = self.speed.findData(int(view.speed)) if float(view.speed).is_integer() else -1
        if index < 0:
            self.speed.addItem(f"{view.speed:g} steps/s", view.speed)
            index = self.speed.count() - 1
        self.speed.setCurrentIndex(index)
        self.speed.blockSignals(False)
        self.loop.blockSignals(True)
        self.loop.setChecked(view.loop)
        self.loop.blockSignals(False)

    def set_frame_count(self, n: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        self.slider.blockSignals(False)
        self.show_frame(self.clock.frame)

    def show_frame(self, frame: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(frame)
        self.slider.blockSignals(False)
        self.label.setText(f"step {frame} / {self.slider.maximum()}")


class Readout(QTableWidget):
    """Per optimizer at the current frame: losses, accuracy, gradient norm, status and a gradient check."""

    def __init__(self):
        super().__init__(0, len(READOUT_COLUMNS))
        self.setHorizontalHeaderLabels(READOUT_COLUMNS)
        self.verticalHeader().setVisible(False)
        for column, width in enumerate((210, 50, 90, 90, 90, 75, 80, 80, 90)):  # fixed: no jitter while playing
            self.setColumnWidth(column, width)
        self.horizontalHeader().setStretchLastSection(True)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setObjectName("readout")
        self.setToolTip("off plane: distance of a full-space run from the drawn slice (0 inside the slice)\n"
                        "grad check: relative error |a − n| / max(|a|, |n|) of the analytic vs numerical gradient,\n"
                        "green ≤ 1e-7 good, olive ≤ 1e-4 acceptable near kinks, orange ≤ 1e-2 suspect, red wrong")

    def set_rows(self, rows: list[list[str]], colors: list[str]) -> None:
        self.setRowCount(len(rows))
        for r, (values, color) in enumerate(zip(rows, colors)):
            for c, text in enumerate(values[:-1]):  # the grad check column is filled in later
                item = self.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)
                if c == 0 and item.data(Qt.ItemDataRole.UserRole) != color:
                    item.setIcon(swatch(color))  # a colour dot: readable text whatever the run's colour
                    item.setData(Qt.ItemDataRole.UserRole, color)
                if c == 8:
                    item.setForeground(QColor("#d62728") if text == "diverged" else self.palette().text().color())

    def set_gradcheck(self, row: int, text: str, verdict: str) -> None:
        item = self.item(row, 9)
        if item is None:
            item = QTableWidgetItem()
            self.setItem(row, 9, item)
        if item.text() != text:
            item.setText(text)
        item.setForeground(QColor(GRADCHECK_COLORS.get(verdict, "#888888")))


class MainWindow(QMainWindow):
    """losslab's window. ``settings=None`` uses the user's QSettings; tests pass a scratch one."""

    def __init__(self, session: Session | None = None, settings: QSettings | None = None,
                 clock: AnimationClock | None = None, autoplay: bool = False):
        super().__init__()
        self.setWindowTitle("losslab — loss landscapes of linear classifiers")
        self.settings = settings if settings is not None else QSettings("losslab", "losslab")
        self.session = session or Session()
        self.session.setParent(self)
        self.clock = clock or AnimationClock(self)
        self.clock.setParent(self)
        self.results: list[RunResult] = []
        self.session_info: dict[str, str] = {}  # the title and description of the session file opened
        self._pending_open: tuple[str, dict] | None = None
        self._landscape_buffer: tuple | None = None
        self._reset_view = True

        self.grid = LandscapeGrid()
        self.curves = LossCurves()
        self.data_view = DataView()
        self.templates = TemplateView()
        self.right = QStackedWidget()
        self.right.addWidget(self.data_view)
        self.right.addWidget(self.templates)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.curves)
        bottom.addWidget(self.right)
        bottom.setSizes([600, 400])
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.grid)
        self.splitter.addWidget(bottom)
        self.splitter.setSizes([560, 300])
        self.transport = TransportBar(self.clock, self.session)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.transport)
        self.setCentralWidget(central)

        self.readout = Readout()
        readout_dock = self._dock("Readout", self.readout, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.problem_panel = ProblemPanel(self.session)
        self.problem_panel.ask_path = self._ask_path
        self.objective_panel = ObjectivePanel(self.session)
        self.plane_panel = PlanePanel(self.session)
        self.optimizers_panel = OptimizersPanel(self.session)
        self.view_panel = ViewPanel(self.session)
        docks = [self._dock(title, scrolled(panel), Qt.DockWidgetArea.LeftDockWidgetArea)
                 for title, panel in (("Data", self.problem_panel), ("Loss", self.objective_panel),
                                      ("Slice", self.plane_panel), ("Optimizers", self.optimizers_panel),
                                      ("View", self.view_panel))]
        # one tab group on the left, each panel with the full height (two stacked groups leave
        # a stray tab bar behind in Qt's dock layout)
        for dock in docks[1:]:
            self.tabifyDockWidget(docks[0], dock)
        docks[0].raise_()
        self.resizeDocks([readout_dock], [150], Qt.Orientation.Vertical)
        for panel in (self.problem_panel, self.objective_panel, self.plane_panel, self.optimizers_panel, self.view_panel):
            panel.rejected.connect(self.show_message)

        # the status bar never changes shape: showing a message or progress must not re-lay out
        # (and so repaint) the whole window while plots animate
        self.hover_label = QLabel()
        self.message_label = QLabel()
        for label in (self.hover_label, self.message_label):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(160)
        self.progress.setTextVisible(False)
        self.progress.setRange(0, 1)
        self.progress.setToolTip("background computation")
        self.statusBar().addWidget(self.hover_label, 1)
        self.statusBar().addWidget(self.message_label, 2)
        self.statusBar().addPermanentWidget(self.progress)
        self._build_menus()

        s = self.session
        s.problemReady.connect(self.on_problem)
        s.landscapeProgress.connect(self.on_landscape_rows)
        s.landscapeReady.connect(self.on_landscape)
        s.runsReady.connect(self.on_runs)
        s.viewChanged.connect(self.on_view)
        s.message.connect(self.on_session_message)
        s.busyChanged.connect(self.on_busy)
        self.clock.frameChanged.connect(self.on_frame)
        self.clock.playingChanged.connect(self.on_playing)
        self.grid.clicked.connect(self.on_contour_click)
        self.grid.hovered.connect(self.on_hover)
        self._secondary_timer = QElapsedTimer()
        self._secondary_timer.start()
        self._progress_timer = QElapsedTimer()
        self._progress_timer.start()
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.setInterval(10_000)
        self._message_timer.timeout.connect(self.message_label.clear)
        self._gradcheck_timer = QTimer(self)
        self._gradcheck_timer.setSingleShot(True)
        self._gradcheck_timer.setInterval(120)
        self._gradcheck_timer.timeout.connect(self.request_gradcheck)
        s.jobs.finished.connect(self.on_job_finished)

        self.apply_theme(s.view.theme)
        self.clock.set_speed(s.view.speed)
        self.clock.loop = s.view.loop
        self._build_panels()
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1500, 950)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        if autoplay:  # the window comes alive: play as soon as the first runs are in
            self.session.runsReady.connect(self._autoplay)
        self.session.start()

    def _autoplay(self, _results) -> None:
        self.session.runsReady.disconnect(self._autoplay)
        self.clock.play()

    # --- construction helpers -----------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Open session…", self.open_session_dialog, QKeySequence.StandardKey.Open)
        self.presets_menu = file_menu.addMenu("Presets")
        for name, title, path in list_presets():
            self._action(self.presets_menu, title, lambda _=False, p=path: self.open_session(p))
        self.recent_menu = file_menu.addMenu("Open recent")
        self._fill_recent()
        self._action(file_menu, "Save session…", self.save_session_dialog, QKeySequence.StandardKey.Save)
        file_menu.addSeparator()
        self._action(file_menu, "Open CSV dataset…", self.problem_panel.open_csv)
        export_menu = file_menu.addMenu("Export")
        self._action(export_menu, "Figure (PNG, SVG, PDF)…", self.export_figure_dialog, "Ctrl+E")
        self._action(export_menu, "Animation (GIF, MP4)…", self.export_animation_dialog, "Ctrl+Shift+E")
        self._action(export_menu, "Trajectories (CSV, NPZ)…", self.export_trajectories_dialog)
        self._action(export_menu, "Landscape grid (NPZ, CSV)…", self.export_landscape_dialog)
        self._action(export_menu, "Configuration (JSON)…", self.save_session_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, QKeySequence.StandardKey.Quit)
        play_menu = self.menuBar().addMenu("&Play")
        for text, key, slot in (("Play / pause", "Space", self.clock.toggle), ("Step forward", "Right", lambda: self.clock.step(1)),
                                ("Step back", "Left", lambda: self.clock.step(-1)), ("Restart", "Home", self.clock.restart)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(slot)
            play_menu.addAction(action)
            self.addAction(action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("About losslab", self)
        about.triggered.connect(lambda: QMessageBox.about(
            self, "About losslab", f"<b>losslab {__version__}</b><br>Loss landscapes of linear classifiers and the "
            "optimizers that cross them, after CS231n lecture 3, “Loss functions and optimization”."))
        help_menu.addAction(about)

    # --- panels and paths -------------------------------------------------------------------------
    def shown_runs(self) -> list[tuple[int, object]]:
        """(index in experiment.runs, spec) of the runs on screen: those of the results drawn, which may
        lag a change of the experiment by one computation; before any result, the enabled runs."""
        if self.results:
            return [(r.index, r.spec) for r in self.results]
        return [(k, r) for k, r in enumerate(self.session.experiment.runs) if r.enabled]

    def _titles(self) -> list[str]:
        if self.session.view.layout == "overlay":
            return ["all optimizers"]
        titles = []
        for k, spec in self.shown_runs():
            titles.append(f"<span style='color:{run_color(k, spec)}'>●</span> {run_label(spec)}")
        return titles or ["no optimizer enabled"]

    def _axes_labels(self) -> tuple[str, str]:
        plane = self.results_plane()
        return plane.labels if plane is not None else ("a", "b")

    def results_plane(self):
        if self.session.landscape is not None:
            return self.session.landscape.plane
        problem = self.session.problem
        return problem.plane if problem is not None else None

    def _build_panels(self) -> None:
        self._layout_panels(self._titles(), self._axes_labels())
        self._draw_paths()

    def _path_data(self) -> list[PathData]:
        return [PathData(r.spec.method, run_label(r.spec), run_color(r.index, r.spec), np.asarray(r.ab), r.trajectory.status)
                for r in self.results]

    def _draw_paths(self) -> None:
        paths = self._path_data()
        # where the runs really start, in the drawn plane's coordinates (for planes made from
        # full-space runs this is not the Slice panel's (a, b))
        start = tuple(self.results[0].ab[0]) if self.results else self.session.experiment.start
        if self.session.view.layout == "overlay":
            per_panel = [paths]
        else:
            per_panel = [[p] for p in paths]
        self.grid.set_paths(per_panel, start)
        self.grid.set_frame(self.clock.frame)

    # --- session signals ---------------------------------------------------------------------------
    def on_problem(self, problem) -> None:
        self._reset_view = True
        self.results = []
        self._landscape_buffer = None
        if problem.dataset is not None:
            data = problem.dataset
            self.data_view.set_data(data.X, data.y, data.n_classes, self._data_title())
            if data.image_shape is not None:
                self.templates.set_classes(data.class_names, data.image_shape)
                self.right.setCurrentWidget(self.templates)
            else:
                self.right.setCurrentWidget(self.data_view)
        self.right.setVisible(problem.dataset is not None)
        if problem.plane is not None:
            self._layout_panels(self._titles(), problem.plane.labels)

    def _set_data_title(self) -> None:
        title = self._data_title()
        if title != self.data_view.title:  # a new title re-lays out the plot: only when it changes
            self.data_view.title = title
            self.data_view.plot_item.setTitle(title)

    def _data_title(self) -> str:
        runs = self.shown_runs()
        if not runs:
            return "data"
        k, spec = runs[min(self.session.view.data_run, len(runs) - 1)]
        return f"decision regions of <span style='color:{run_color(k, spec)}'>●</span> {run_label(spec)}"

    def on_landscape_rows(self, rows, data, reg) -> None:
        plane = self.session.problem.plane if self.session.problem else None
        if plane is None:
            return
        if self._landscape_buffer is None or self._landscape_buffer[0] is not plane:
            a, b = plane.grid(self.session.experiment.plane.resolution)
            self._landscape_buffer = (plane, a, b, np.full((b.size, a.size), np.nan), np.full((b.size, a.size), np.nan))
            self._progress_timer.restart()  # a quick landscape is drawn once, when done
        _, a, b, data_buffer, reg_buffer = self._landscape_buffer
        data_buffer[rows] = data
        reg_buffer[rows] = reg
        self.progress.setRange(0, b.size)
        self.progress.setValue(rows.stop)
        if self._progress_timer.hasExpired(150):  # a slow one fills in a few times a second
            self._progress_timer.restart()
            view = self.session.view
            display = surface_display(Landscape(plane, a, b, data_buffer, reg_buffer), view.part, view.log_scale, 0,
                                      self._lut())
            if display is not None:
                self.grid.set_surface(display, view.colormap, reset_view=self._reset_view)
                self._reset_view = False

    def on_landscape(self, landscape: Landscape) -> None:
        self._landscape_buffer = None
        if self.grid.panels and self.grid.panels[0].getAxis("bottom").labelText != landscape.plane.labels[0]:
            self._layout_panels(self._titles(), landscape.plane.labels)
            self._draw_paths()
        self._submit_display(landscape)

    def _lut(self) -> np.ndarray:
        return pg.colormap.get(self.session.view.colormap).getLookupTable(nPts=256)

    def _submit_display(self, landscape: Landscape) -> None:
        """Colours and iso-lines are computed in the background, then handed to the panels."""
        view, lut = self.session.view, self._lut()
        self.session.jobs.submit("display", lambda: single(surface_display, landscape, view.part, view.log_scale,
                                                           view.isolines, lut))

    def _show_display(self, display) -> None:
        if display is None:
            return
        self.grid.set_surface(display, self.session.view.colormap, reset_view=self._reset_view)
        self._reset_view = False

    def on_runs(self, results: list[RunResult]) -> None:
        self.results = results
        if self._pending_open is not None and self.session.view_before_open is None:
            self._opened()
        n_frames = max((len(r.ab) for r in results), default=1)
        if self.grid.panels and len(self.grid.panels) != len(self._titles()) or self.session.view.layout == "side":
            self._layout_panels(self._titles(), self._axes_labels())
        self._draw_paths()
        self._draw_curves()
        self.clock.set_frame_count(n_frames)
        self.transport.set_frame_count(n_frames)
        self._set_data_title()

    def _draw_curves(self) -> None:
        view = self.session.view
        runs = []
        for result in self.results:
            k, spec, traj = result.index, result.spec, result.trajectory
            x = np.arange(len(traj.losses)) if view.x_axis == "step" else np.asarray(traj.cost)
            runs.append((run_label(spec), run_color(k, spec), x, np.asarray(traj.losses), traj.status))
        self.curves.set_runs(runs, "step" if view.x_axis == "step" else "cost (full-data passes)", view.log_loss)
        self.curves.set_frame(self.clock.frame)

    def on_view(self, view: ViewSettings) -> None:
        self.clock.set_speed(view.speed)
        self.clock.loop = view.loop
        self.apply_theme(view.theme)
        self._build_panels()
        landscape = self.session.landscape
        if landscape is not None:
            self._submit_display(landscape)
        self._draw_curves()
        self._set_data_title()
        self.on_frame(self.clock.frame)

    def on_busy(self, busy: bool) -> None:
        if busy:
            self.progress.setRange(0, 0)  # busy, of unknown length
        elif self._landscape_buffer is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    def on_session_message(self, text: str) -> None:
        if text.startswith("Not applied") or text.startswith("Could not open"):
            self._pending_open = None  # the opened file did not take
        self.show_message(text)

    def show_message(self, text: str, error: bool = True) -> None:
        """A line in the status bar: red for a refusal or failure, plain for news."""
        self.message_label.setText(text)
        self.message_label.setToolTip(text)
        self.message_label.setStyleSheet("color: #d62728;" if error else "")
        self._message_timer.start()  # the message fades after a while; a newer one restarts the wait

    # --- animation ----------------------------------------------------------------------------------
    SECONDARY_INTERVAL_MS = 60  # while playing, the readout and data view refresh at most ~16 times a second

    def on_frame(self, frame: int) -> None:
        self.grid.set_frame(frame)
        self.curves.set_frame(frame)
        # the paths and curves move every frame; the table and the decision regions are read,
        # not watched, so while playing they follow at a gentler rate
        if not self.clock.playing or self._secondary_timer.hasExpired(self.SECONDARY_INTERVAL_MS):
            self._secondary_timer.restart()
            self._update_readout(frame)
            self._update_data_view(frame)
        if not self.clock.playing:
            self._gradcheck_timer.start()

    def on_playing(self, playing: bool) -> None:
        if not playing:
            self._update_readout(self.clock.frame)
            self._update_data_view(self.clock.frame)
            self._gradcheck_timer.start()

    def _theta_at(self, result: RunResult, frame: int) -> np.ndarray:
        return result.thetas[min(frame, len(result.thetas) - 1)]

    def _update_data_view(self, frame: int) -> None:
        problem = self.session.problem
        if problem is None or problem.dataset is None:
            return
        if not self.results:
            self.data_view.set_parameters(None, None)  # no run: no decision regions to show
            return
        result = self.results[min(self.session.view.data_run, len(self.results) - 1)]
        W, b = problem.objective.unflatten(self._theta_at(result, frame))
        if problem.dataset.image_shape is not None:
            self.templates.set_weights(W)
        else:
            self.data_view.set_parameters(W, b)

    def _update_readout(self, frame: int) -> None:
        problem = self.session.problem
        if problem is None:
            return
        rows, colors = [], []
        objective = problem.objective
        for result in self.results:
            k, spec = result.index, result.spec
            theta = self._theta_at(result, frame)
            step = min(frame, len(result.thetas) - 1)
            with np.errstate(all="ignore"):
                data_loss, reg_loss = objective.parts(theta)
                grad = objective.loss_grad(theta)[1]
            accuracy = f"{objective.accuracy(theta):.1%}" if problem.dataset is not None else "—"
            status = result.trajectory.status if step == len(result.thetas) - 1 else "running"
            off_plane = "0 (in slice)" if self.session.experiment.slice_space else f"{result.residual[step]:.3g}"
            rows.append([run_label(spec), str(step), f"{data_loss:.5g}", f"{reg_loss:.5g}",
                         f"{data_loss + reg_loss:.5g}", accuracy, f"{np.linalg.norm(grad):.3g}", off_plane, status, ""])
            colors.append(run_color(k, spec))
        self.readout.set_rows(rows, colors)
        for row in range(len(rows)):  # checked when the animation rests on a frame
            self.readout.set_gradcheck(row, "(when paused)" if self.clock.playing else "…", "")

    def request_gradcheck(self) -> None:
        problem = self.session.problem
        if problem is None or not self.results:
            return
        objective = problem.objective
        frame, results = self.clock.frame, self.results
        thetas = [np.array(self._theta_at(r, frame)) for r in results]
        P = objective.n_params
        coordinates = None if P <= GRADCHECK_SAMPLE else np.sort(
            np.random.default_rng(0).choice(P, GRADCHECK_SAMPLE, replace=False))

        def work():
            checks = []
            for theta in thetas:
                checks.append(grad_check(objective, theta, coordinates=coordinates))
                yield len(checks)
            return frame, results, checks

        self.session.jobs.submit("gradcheck", work)

    def on_job_finished(self, channel: str, result) -> None:
        if channel == "display":
            self._show_display(result)
            return
        if channel != "gradcheck":
            return
        frame, results, checks = result
        if frame != self.clock.frame or results is not self.results:
            return  # the frame or the runs changed meanwhile: a newer check is on its way
        for row, check in enumerate(checks):
            verdict, notes = check.verdict, []
            if check.coordinates is not None:
                notes.append(f"{len(check.coordinates)} of {self.session.problem.objective.n_params} coordinates")
            if verdict in ("suspect", "wrong") and check.near_kink:
                # the course's caveat: across a kink the two gradients rightly differ
                notes.append(f"{check.near_kink} example{'s' if check.near_kink > 1 else ''} at a kink: "
                             "the difference quotient straddles it")
                verdict = "acceptable"
            elif verdict in ("suspect", "wrong") and check.within_fd_error:
                notes.append("within the finite-difference error")  # the reference is the limit here
                verdict = "acceptable"
            elif check.near_kink:
                notes.append(f"{check.near_kink} example{'s' if check.near_kink > 1 else ''} at a kink")
            note = f" ({'; '.join(notes)})" if notes else ""
            self.readout.set_gradcheck(row, f"{check.max_rel_error:.1e} {check.verdict}{note}", verdict)

    # --- interaction ----------------------------------------------------------------------------------
    def on_contour_click(self, a: float, b: float) -> None:
        if not self.session.experiment.slice_space and self.session.experiment.plane.kind in ("pca", "interpolation"):
            self.show_message("This plane is made from the runs themselves: set the start in the Slice panel")
            return
        self.session.set_start(float(f"{a:.4g}"), float(f"{b:.4g}"))
        self.clock.seek(0)

    def on_hover(self, a: float, b: float, value: float) -> None:
        labels = self._axes_labels()
        self.hover_label.setText(f"{labels[0]} = {a:.4g}   {labels[1]} = {b:.4g}   "
                                 f"{PART_LABELS[self.session.view.part]} = {value:.5g}")

    # --- export ----------------------------------------------------------------------------------------
    def _ask_path(self, title: str, name: str, filters: str, save: bool = True) -> str:
        """A file dialog that starts in the last folder used and remembers the new one.

        Saving asks before overwriting an existing file (Qt's dialog does).
        """
        folder = self.settings.value("files/folder", os.path.expanduser("~"))
        ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        path, chosen = ask(self, title, os.path.join(folder, name), filters)
        if path:
            self.settings.setValue("files/folder", os.path.dirname(path))
            suffix = re.search(r"\(\*(\.[\w.]+)", chosen or "")
            if save and suffix and not os.path.splitext(path)[1]:  # the chosen file type names the format
                path += suffix.group(1)
        return path

    def _report(self, action, done: str) -> bool:
        """Run a file action; a failure is shown in a dialog and nothing else changes."""
        try:
            action()
        except ExportCancelled as err:
            self.show_message(str(err))
            return False
        except (OSError, ValueError) as err:
            QMessageBox.warning(self, "losslab", str(err))
            return False
        self.show_message(done, error=False)
        return True

    # sessions
    def open_session_dialog(self) -> None:
        path = self._ask_path("Open a session", "", "losslab sessions (*.json);;All files (*)", save=False)
        if path:
            self.open_session(path)

    def open_session(self, path) -> bool:
        """Load a session file (or preset); a bad file is named in a dialog and changes nothing."""
        try:
            path = resolve_session(str(path))  # a file, or the name of a preset
            experiment, view, info = load_session(path)
            view = view_from_dict(view)
        except SessionError as err:
            text = str(err) if str(path) in str(err) else f"{path}: {err}"
            QMessageBox.warning(self, "Cannot open the session", text)
            return False
        self._reset_view = True
        self._pending_open = (str(path), info)  # named in the title and recent files once it has run
        if not self.session.set_experiment(experiment, view):
            self._pending_open = None
            return False
        if self.session.view_before_open is None:  # the same experiment: nothing to compute
            self._opened()
        self.clock.seek(0)
        return True

    def _opened(self) -> None:
        """The session opened last has been built and run: now it is the window's."""
        path, info = self._pending_open
        self._pending_open = None
        self.session_info = info
        if not path.startswith(str(presets_folder())):
            self._remember_recent(path)
        self.setWindowTitle(f"losslab — {info.get('title') or os.path.basename(path)}")
        if info.get("description"):
            self.show_message(info["description"], error=False)

    def save_session_dialog(self) -> None:
        path = self._ask_path("Save the session", "session.json", "losslab sessions (*.json)")
        if path and self._report(lambda: self.save_session(path), f"Saved {path}"):
            self._remember_recent(path)

    def save_session(self, path) -> None:
        info = self.session_info
        save_session(path, self.session.experiment, asdict(self.session.view), info.get("title", ""),
                     info.get("description", ""))

    def _remember_recent(self, path: str) -> None:
        recent = [p for p in self.settings.value("files/recent", [], type=list) if p != path]
        self.settings.setValue("files/recent", [path, *recent][:8])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.value("files/recent", [], type=list)
        for path in recent:
            self._action(self.recent_menu, path, lambda _=False, p=path: self.open_session(p))
        self.recent_menu.setEnabled(bool(recent))

    # exports
    def _export_choice(self, dialog) -> tuple[dict, str] | None:
        """The options chosen in an export dialog and the file to write, or None if cancelled."""
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        choice = dialog.choice()
        fmt = choice["fmt"]
        path = self._ask_path(dialog.windowTitle(), f"losslab.{fmt}", f"{fmt.upper()} files (*.{fmt})")
        return (choice, path) if path else None

    def export_figure_dialog(self) -> None:
        chosen = self._export_choice(ExportFigureDialog(self))
        if chosen:
            choice, path = chosen
            self._report(lambda: export_figure(self, path, choice["fmt"], choice["size"], choice["part"]),
                         f"Saved {path}")

    def export_animation_dialog(self) -> None:
        chosen = self._export_choice(ExportAnimationDialog(self))
        if not chosen:
            return
        choice, path = chosen
        fmt = choice["fmt"]
        progress = QProgressDialog("Rendering frames…", "Cancel", 0, 100, self)
        progress.setWindowTitle("Export animation")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)

        def step(done: int, total: int) -> bool:
            progress.setMaximum(total)
            progress.setValue(done)
            return not progress.wasCanceled()

        self._report(lambda: export_animation(self, path, fmt, choice["fps"], choice["stride"], choice["size"],
                                              choice["part"], progress=step), f"Saved {path}")
        progress.close()

    def export_trajectories_dialog(self) -> None:
        path = self._ask_path("Export the trajectories", "trajectories.csv", "CSV tables (*.csv);;NumPy archives (*.npz)")
        if path:
            self._report(lambda: self.export_trajectories(path), f"Saved {path}")

    def export_trajectories(self, path: str, fmt: str | None = None) -> None:
        """The runs as CSV or NPZ (``fmt``, default: from the file's extension, CSV otherwise)."""
        shape = self.session.problem.shape if self.session.problem else None
        fmt = fmt or ("npz" if path.lower().endswith(".npz") else "csv")
        write = write_trajectories_npz if fmt == "npz" else write_trajectories_csv
        write(path, self.results, shape)

    def export_landscape_dialog(self) -> None:
        path = self._ask_path("Export the landscape grid", "landscape.npz", "NumPy archives (*.npz);;CSV tables (*.csv)")
        if path:
            self._report(lambda: self.export_landscape(path), f"Saved {path}")

    def export_landscape(self, path: str) -> None:
        landscape = self.session.landscape
        if landscape is None:
            raise ValueError("the landscape is still being computed; try again in a moment")
        write = write_landscape_csv if path.lower().endswith(".csv") else write_landscape_npz
        write(path, landscape)

    def show_figure_only(self) -> None:
        """Just the plots: no controls, readout, transport or bars (headless rendering)."""
        for dock in self.findChildren(QDockWidget):
            dock.hide()
        for widget in (self.transport, self.menuBar(), self.statusBar()):
            widget.hide()

    def export_png(self, path: str) -> None:
        """The whole figure as a PNG (what File ▸ Export ▸ Figure writes by default)."""
        export_figure(self, path, "png")

    # --- theme and lifecycle ------------------------------------------------------------------------
    def apply_theme(self, theme: str) -> None:
        dark = theme == "dark"
        background = "#1e1e1e" if dark else "w"
        for view in (self.grid, self.curves, self.data_view, self.templates):
            view.setBackground(background)
        self._style_plots()
        app = QApplication.instance()
        if app is not None:
            app.setStyle("Fusion")
            app.setPalette(dark_palette() if dark else app.style().standardPalette())

    def _layout_panels(self, titles: list[str], labels: tuple[str, str]) -> None:
        if self.grid.set_layout(titles, labels):
            self._style_plots()  # new panels get the theme's axis colours

    def _style_plots(self) -> None:
        foreground = "#dddddd" if self.session.view.theme == "dark" else "#222222"
        for item in [*self.grid.panels, self.curves.plot_item, self.data_view.plot_item]:
            for side in ("left", "bottom"):
                axis = item.getAxis(side)
                if axis.textPen().color() != QColor(foreground):  # a new pen throws the axis drawing away
                    axis.setPen(foreground)
                    axis.setTextPen(foreground)
            item.titleLabel.setAttr("color", foreground)

    def closeEvent(self, event) -> None:
        self.clock.pause()
        self._gradcheck_timer.stop()
        self.settings.setValue("session/last", dumps(self.session.experiment, asdict(self.session.view)))
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.session.shutdown()
        super().closeEvent(event)


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in ((QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.WindowText, "#dddddd"),
                        (QPalette.ColorRole.Base, "#1e1e1e"), (QPalette.ColorRole.AlternateBase, "#2b2b2b"),
                        (QPalette.ColorRole.Text, "#dddddd"), (QPalette.ColorRole.Button, "#353535"),
                        (QPalette.ColorRole.ButtonText, "#dddddd"), (QPalette.ColorRole.Highlight, "#2a82da"),
                        (QPalette.ColorRole.HighlightedText, "#ffffff"), (QPalette.ColorRole.ToolTipBase, "#353535"),
                        (QPalette.ColorRole.ToolTipText, "#dddddd")):
        palette.setColor(role, QColor(color))
    return palette
