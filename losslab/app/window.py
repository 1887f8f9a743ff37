"""The main window: it renders the session and sends it changes.

The figure (landscapes, curves, data) draws each committed snapshot; the readout, the
transport bar and the control panels sit around it; :class:`FileActions` does the File
menu's work. The window holds no copy of the experiment: what it shows comes from the
session's ``committed`` signal, and what the user does goes to the session's setters.
"""
from __future__ import annotations

import html
from dataclasses import asdict

import numpy as np

from PyQt6.QtCore import QElapsedTimer, QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QColor, QFont, QKeySequence, QPalette
from PyQt6.QtWidgets import (QApplication, QDockWidget, QFormLayout, QFrame, QLabel, QMainWindow, QMessageBox,
                             QProgressBar, QPushButton, QSizePolicy, QTabBar, QVBoxLayout, QWidget)

from .. import __version__
from ..engine.curvature_map import curvature_map_blocks, start_curvature
from ..engine.planes import PLANES
from ..io.session_file import dumps, list_presets
from .actions import FileActions
from .clock import AnimationClock
from .curvature_view import CurvatureReadout
from .cuts import CutsPanel
from .controls import ModelPanel, ObjectivePanel, OptimizersPanel, PlanePanel, ProblemPanel, ViewPanel, scrolled
from .display import PART_LABELS
from .examples_table import ExampleTable
from .figure import Figure
from .jobs import single
from .lessons import LessonBar, LessonBrowser, LessonGuide, Pointer
from .param_editor import ParameterEditor
from .readout import Readout
from .session import PROGRESS_DELAY, Session, ViewSettings
from .settings import restore_window
from .transport import TransportBar
from .views import run_label
from .widgets import theme_color

PROGRESS_DELAY_MS = round(PROGRESS_DELAY * 1000)  # a computation shows its progress and a Cancel button
PROGRESS_INTERVAL_MS = 100  # the bar's count moves at most this often
STAGE_LABELS = {"data": "building the problem", "optimum": "finding the optimum", "runs": "running the optimizers",
                "landscape": "computing the landscape", "picture": "drawing"}


def on_screen(widget: QWidget) -> bool:
    """Whether any of ``widget`` can be seen: a dock behind another tab is "visible" to Qt, but covered."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


class MainWindow(QMainWindow):
    """losslab's window. ``settings=None`` uses the user's QSettings; tests pass a scratch one."""

    def __init__(self, session: Session | None = None, settings: QSettings | None = None,
                 clock: AnimationClock | None = None, autoplay: bool = False):
        super().__init__()
        self.setWindowTitle("losslab — loss landscapes of classifiers")
        self.setAcceptDrops(True)  # a session or CSV file dropped on the window opens
        self.settings = settings if settings is not None else QSettings("losslab", "losslab")
        self.session = session or Session()
        self.session.setParent(self)
        self.session.prepare()  # the first results compute while the window builds itself (start() announces them)
        self.clock = clock or AnimationClock(self)
        self.clock.setParent(self)

        self.figure = Figure()
        self.transport = TransportBar(self.clock, self.session)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.lesson_bar = LessonBar()  # shown while a lesson is open (Help ▸ Lessons)
        self.lesson_bar.hide()
        layout.addWidget(self.lesson_bar)
        layout.addWidget(self.figure, 1)
        layout.addWidget(self.transport)
        self.setCentralWidget(central)

        self.readout = Readout(self.session.jobs)
        readout_dock = self._dock("Readout", self.readout, Qt.DockWidgetArea.BottomDockWidgetArea)

        def tab(title: str, widget: QWidget, on_shown) -> QDockWidget:
            """A tab beside the readout; what it shows is drawn when it comes into view."""
            dock = self._dock(title, widget, Qt.DockWidgetArea.BottomDockWidgetArea)
            self.tabifyDockWidget(readout_dock, dock)
            if on_shown is not None:
                dock.visibilityChanged.connect(lambda visible: visible and on_shown())
            return dock

        # the tabs behind the readout are made the first time they are needed (_tab): the window
        # opens sooner (the 1-D cuts alone take 25 ms to build)
        self._tabs: dict[str, QWidget] = {}
        self.examples_dock = tab("Examples", QWidget(), self.show_tables)
        self.parameters_dock = tab("Parameters", QWidget(), self.show_tables)
        self.cuts_dock = tab("Cuts", QWidget(), self.show_tables)
        self.cuts_dock.setWindowTitle("1-D cuts")
        self.curvature_dock = tab("Curvature", QWidget(), self.show_curvature)
        self.notes = QLabel()
        self.notes.setObjectName("label_notes")
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(Qt.TextFormat.RichText)
        self.notes.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes.setContentsMargins(8, 6, 8, 6)
        self.notes_dock = tab("Notes", scrolled(self.notes), None)
        readout_dock.raise_()
        self.bottom_docks = {"readout": readout_dock, "examples": self.examples_dock,
                             "parameters": self.parameters_dock, "cuts": self.cuts_dock,
                             "curvature": self.curvature_dock, "notes": self.notes_dock}
        self.show_notes({})
        self._build_status_bar()
        self.files = FileActions(self, self.session, self.figure, self.settings, self.show_message, self.show_notes)
        self.problem_panel = ProblemPanel(self.session)
        self.problem_panel.ask_path = self.files.ask_path
        self.model_panel = ModelPanel(self.session)
        self.objective_panel = ObjectivePanel(self.session)
        self.plane_panel = PlanePanel(self.session)
        self.optimizers_panel = OptimizersPanel(self.session)
        self.view_panel = ViewPanel(self.session)
        docks = [self._dock(title, scrolled(panel, grows=panel is self.optimizers_panel),
                            Qt.DockWidgetArea.LeftDockWidgetArea)
                 for title, panel in (("Data", self.problem_panel),
                                      ("Loss", stacked(self.model_panel, self.objective_panel)),
                                      ("Slice", self.plane_panel), ("Optimizers", self.optimizers_panel),
                                      ("View", self.view_panel))]
        # one tab group on the left, each panel with the full height (two stacked groups leave
        # a stray tab bar behind in Qt's dock layout)
        for dock in docks[1:]:
            self.tabifyDockWidget(docks[0], dock)
        docks[0].raise_()
        self.control_docks = dict(zip(("data", "loss", "slice", "optimizers", "view"), docks))
        for panel in (self.problem_panel, self.model_panel, self.objective_panel, self.plane_panel,
                      self.optimizers_panel, self.view_panel):
            panel.rejected.connect(self.show_message)
        self._build_menus()

        s = self.session
        s.committed.connect(self.on_committed)
        s.displayChanged.connect(self.figure.show_display)
        s.viewChanged.connect(self.on_view)
        s.failed.connect(self.show_message)
        s.notice.connect(lambda text: self.show_message(text, error=False))
        s.pendingChanged.connect(self.on_pending)
        s.progress.connect(self.on_progress)
        s.confirmNeeded.connect(self.on_confirm_needed)
        self.clock.frameChanged.connect(self.on_frame)
        self.clock.playingChanged.connect(self.on_playing)
        self.figure.clicked.connect(self.on_contour_click)
        self._connect_data_edits()
        self._curvature_map_of = None  # the results the curvature map shown (or computing) belongs to
        self._curvature_map = None
        self.figure.hovered.connect(self.on_hover)
        self.pointer = Pointer(self)  # what a lesson's step points at
        self.guide = LessonGuide(self)
        self.presenting = False
        self._before_presentation = None  # the window's state, to come back to

        self.apply_theme(s.view.theme)
        self.clock.set_speed(s.view.speed)
        self.clock.loop = s.view.loop
        if not restore_window(self, self.settings):
            self.resize(1500, 950)
            # the tables and plots below the figure get room for a handful of rows (after the window's
            # size is set: a resize hands all new height to the figure)
            self.resizeDocks([readout_dock], [self.BOTTOM_DOCK_HEIGHT], Qt.Orientation.Vertical)
        if autoplay:  # the window comes alive: play as soon as the first runs are in
            self.session.committed.connect(self._autoplay)
        if s.snapshot is not None:
            self.on_committed(s.snapshot)
        self.session.start()

    def _autoplay(self, _snapshot) -> None:
        self.session.committed.disconnect(self._autoplay)
        self.clock.play()

    # --- what is shown ---------------------------------------------------------------------------
    @property
    def results(self) -> list:
        return self.session.results

    @property
    def grid(self):
        return self.figure.grid

    @property
    def curves(self):
        return self.figure.curves

    @property
    def splitter(self):
        return self.figure.splitter

    def on_committed(self, snapshot) -> None:
        """Draw a new snapshot once, at the clock's frame (kept within the new runs)."""
        n_frames = snapshot.computed.n_frames
        self.clock.blockSignals(True)  # the old snapshot is not drawn at the new frame first
        self.clock.set_frame_count(n_frames)
        self.clock.blockSignals(False)
        self.transport.set_frame_count(n_frames)
        self.figure.frame = self.readout.frame = self.clock.frame
        self.figure.show_snapshot(snapshot)
        self.readout.show_snapshot(snapshot)
        self.show_tables()
        self.show_curvature()
        self.show_curvature_map()
        computed = snapshot.computed  # beside every learning rate: its stable bound where the runs start
        self.session.jobs.submit("lr-bounds", lambda: single(start_curvature, computed),
                                 on_result=lambda start: self.figure.after_turns(
                                     lambda: self._show_lr_bounds(computed, start)))
        # a valid change answers an old refusal, and the point once hovered is on another landscape now
        if self._message_is_error:
            self.clear_message()
        self.hover_label.clear()

    def _show_lr_bounds(self, computed, start) -> None:
        """Beside every learning rate, its bound at the start of ``computed``'s runs, unless newer runs
        are shown by now (their own bounds follow)."""
        if self.session.snapshot is not None and self.session.snapshot.computed is computed:
            self.optimizers_panel.show_start_curvature(start)

    def on_view(self, view: ViewSettings) -> None:
        self.clock.set_speed(view.speed)
        self.clock.loop = view.loop
        self.apply_theme(view.theme)
        if self.session.snapshot is not None:
            self.figure.show_snapshot(self.session.snapshot)
            self.show_tables()  # the data view's run may be another one now
            self.show_curvature()
            self.show_curvature_map()

    BOTTOM_DOCK_HEIGHT = 200
    READOUT_INTERVAL_MS = 100  # while playing, the table follows at most ten times a second

    def on_frame(self, frame: int) -> None:
        playing = self.clock.playing
        self.figure.set_frame(frame, playing)
        # the table is read, not watched: while playing it follows at a gentler rate
        if not playing or self._readout_timer.hasExpired(self.READOUT_INTERVAL_MS):
            self._readout_timer.restart()
            self.readout.show_frame(frame, playing)
            self.show_tables()
        if not playing:
            self.show_curvature()  # a Hessian per frame is for a resting animation

    def on_playing(self, playing: bool) -> None:
        if not playing:
            self.figure.set_frame(self.clock.frame)
            self.readout.show_frame(self.clock.frame, playing=False)
            self.show_tables()
            self.show_curvature()

    # --- the tabs behind the readout, made when first needed ---------------------------------------
    def _make_examples(self) -> ExampleTable:
        table = ExampleTable()
        table.selected.connect(self.figure.data_view.highlight)
        return table

    def _make_parameters(self) -> ParameterEditor:
        editor = ParameterEditor()
        editor.nudged.connect(self.nudge_start)
        return editor

    def _tab(self, name: str) -> QWidget:
        widget = self._tabs.get(name)
        if widget is None:
            make = {"examples": self._make_examples, "parameters": self._make_parameters,
                    "cuts": lambda: CutsPanel(self.session.jobs),
                    "curvature": lambda: CurvatureReadout(self.session.jobs)}[name]
            widget = self._tabs[name] = make()
            dock = self.bottom_docks[name]
            placeholder = dock.widget()
            if placeholder.testAttribute(Qt.WidgetAttribute.WA_SetFont):  # presentation's larger tables
                widget.setFont(placeholder.font())
            dock.setWidget(widget)
            placeholder.deleteLater()
        return widget

    @property
    def examples(self) -> ExampleTable:
        return self._tab("examples")

    @property
    def parameters(self) -> ParameterEditor:
        return self._tab("parameters")

    @property
    def cuts(self) -> CutsPanel:
        return self._tab("cuts")

    @property
    def curvature(self) -> CurvatureReadout:
        return self._tab("curvature")

    def _tab_shown(self, name: str) -> bool:
        """Whether the tab can be seen now (then it is made, if it had not been yet)."""
        if not on_screen(self.bottom_docks[name]):
            return False
        self._tab(name)
        return True

    def show_tables(self) -> None:
        """The per-example table, the 1-D cut and the parameters at the figure's frame, for the data
        view's run (each only while it is shown)."""
        if self.figure.snapshot is None:
            return
        computed, result, frame = self.figure.snapshot.computed, self.figure.data_result(), self.figure.frame
        if self._tab_shown("examples"):
            self.examples.show_frame(computed, result, frame)
        if self._tab_shown("cuts"):
            self.cuts.show(computed, frame, self.figure.snapshot.view.data_run)
        if self._tab_shown("parameters"):
            if result is None:
                self.parameters.clear("No run to show: enable an optimizer")
                return
            step = min(frame, len(result.thetas) - 1)
            theta = result.thetas[step]
            with np.errstate(all="ignore"):  # a diverged iterate shows inf or nan, and says so
                grad = computed.problem.objective.loss_grad(theta)[1]
            self.parameters.show_point(computed.problem.model, theta, grad, f"{run_label(result.spec)}, step {step}")

    def show_curvature(self) -> None:
        """λ_max, λ_min, κ and the stable learning rate at the data view's run's point (only while shown)."""
        if self.figure.snapshot is None or not self._tab_shown("curvature"):
            return
        result = self.figure.data_result()
        if result is None:
            self.curvature.clear()
        else:
            self.curvature.show(self.figure.snapshot.computed, result, self.figure.frame)

    CURVATURE_MAP_RESOLUTION = (16, 8)  # cells a side: a Hessian each; the coarser one beyond P = 200

    def show_curvature_map(self) -> None:
        """Where the loss curves down over the plane (View ▸ Curvature), computed in the background."""
        snapshot = self.session.snapshot
        if snapshot is None or not snapshot.view.curvature_map:
            self.session.jobs.cancel("curvature-map")
            self._curvature_map_of = None
            for panel in self.grid.panels:
                panel.curvature_map.set_map(None)
            return
        computed = snapshot.computed
        if self._curvature_map_of is computed:
            if self._curvature_map is not None:  # the panels may be new ones (another layout)
                for panel in self.grid.panels:
                    panel.curvature_map.set_map(self._curvature_map)
            return  # computed, or being computed, for what is shown
        self._curvature_map_of, self._curvature_map = computed, None
        objective, plane = computed.problem.objective, computed.plane
        space = "slice" if computed.experiment.slice_space else "full"
        fine, coarse = self.CURVATURE_MAP_RESOLUTION
        resolution = fine if objective.n_params <= 200 else coarse
        self.session.jobs.submit("curvature-map", lambda: curvature_map_blocks(objective, plane, resolution, space),
                                 on_result=lambda found: self._curvature_map_found(computed, found))

    def _curvature_map_found(self, computed, found) -> None:
        if self.session.snapshot is not None and self.session.snapshot.computed is computed:
            self._curvature_map = found
            for panel in self.grid.panels:
                panel.curvature_map.set_map(found)

    def nudge_start(self, index: int, delta: float) -> None:
        """A parameter's ± button: the runs start from the start shown, moved along that coordinate."""
        result = self.figure.data_result() if self.figure.snapshot is not None else None
        if result is None:
            return
        theta = np.array(result.thetas[0], dtype=float)
        theta[index] += delta
        if self.session.set_theta0(theta):
            self.clock.seek(0)

    def show_notes(self, info: dict) -> None:
        """The opened file's title and explanation (a preset's lesson) in the Notes tab, raised when there is one."""
        title, text = info.get("title", ""), info.get("description", "")
        if not text:
            self.notes.setText("<i>Presets and session files explain themselves here: File ▸ Presets.</i>")
            return
        self.notes.setText(f"<b>{html.escape(title)}</b><br>{html.escape(text)}" if title else html.escape(text))
        self.notes_dock.raise_()

    # --- interaction ------------------------------------------------------------------------------
    def on_contour_click(self, a: float, b: float) -> None:
        if not self.session.target.slice_space and PLANES[self.session.target.plane.kind].extra["from_runs"]:
            self.show_message("This plane is made from the runs themselves: set the start in the Slice panel")
            return
        self.session.set_start(float(f"{a:.4g}"), float(f"{b:.4g}"))
        self.clock.seek(0)

    EDIT_DELAY_MS = 120  # a drag recomputes at most this often: the landscape follows the mouse, debounced

    def _connect_data_edits(self) -> None:
        """The data view's edits go to the session; a drag is one gesture (one undo step), sent debounced."""
        view, s = self.figure.data_view, self.session
        view.pointClicked.connect(self.select_example)
        view.pointAdded.connect(lambda x, y, label: s.add_point((x, y), label))
        view.pointDeleted.connect(s.delete_point)
        view.pointRelabelled.connect(s.relabel_point)
        view.pointMoved.connect(lambda i, x, y, finished: self._drag(("point", i), (x, y), finished))
        view.weightMoved.connect(lambda c, w0, w1, finished: self._drag(("weight", c), (w0, w1), finished))
        self._drag_timer = QTimer(self)
        self._drag_timer.setSingleShot(True)
        self._drag_timer.timeout.connect(self._send_drag)
        self._dragging = None  # (what, value, gesture) of the drag in progress

    def select_example(self, index: int, extend: bool) -> None:
        """A point clicked in the data view: its row in the Examples tab."""
        self.examples_dock.raise_()
        self.show_tables()
        self.examples.select_examples([index], extend)

    def _drag(self, what: tuple, value: tuple[float, float], finished: bool) -> None:
        gesture = self._dragging[2] if self._dragging is not None and self._dragging[0] == what else object()
        if self._dragging is None:
            self.clock.pause()
            if what[0] == "weight":
                self.clock.seek(0)  # the arrows show the start being moved
        self._dragging = (what, value, gesture)
        if finished:
            self._drag_timer.stop()
            self._send_drag()
            self._dragging = None
        elif not self._drag_timer.isActive():
            self._drag_timer.start(self.EDIT_DELAY_MS)

    def _send_drag(self) -> None:
        if self._dragging is None:
            return
        (kind, index), value, gesture = self._dragging
        if kind == "point":
            self.session.move_point(index, value, gesture)
            return
        result = self.figure.data_result() if self.figure.snapshot is not None else None
        model = self.session.problem.model if self.session.problem is not None else None
        if result is None or model is None:
            return
        theta = np.array(result.thetas[0], dtype=float)
        W = model.unflatten(theta)[0]  # a view into theta: W[:, c] is the class's weight vector
        W[:, index] = value
        self.session.set_theta0(theta, gesture)

    def on_hover(self, a: float, b: float, value: float) -> None:
        snapshot = self.session.snapshot
        labels = snapshot.computed.plane.labels if snapshot is not None else ("a", "b")
        self.hover_label.setText(f"{labels[0]} = {a:.4g}   {labels[1]} = {b:.4g}   "
                                 f"{PART_LABELS[self.session.view.part]} = {value:.5g}")

    # --- background work --------------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        # the status bar never changes shape: showing a message or progress must not re-lay out
        # (and so repaint) the whole window while plots animate
        self.hover_label = QLabel()
        self.message_label = QLabel()
        for label in (self.hover_label, self.message_label):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(260)
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress.setToolTip("background computation")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("button_cancel")
        self.cancel_button.setToolTip("stop this computation: the settings go back to what is shown")
        self.cancel_button.clicked.connect(self.session.cancel)
        self.cancel_button.setEnabled(False)
        self.statusBar().addWidget(self.hover_label, 1)
        self.statusBar().addWidget(self.message_label, 2)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.setInterval(10_000)
        self._message_timer.timeout.connect(self.clear_message)
        self._message_is_error = False
        self._readout_timer = QElapsedTimer()
        self._readout_timer.start()
        self._progress_delay = QTimer(self)
        self._progress_delay.setSingleShot(True)
        self._progress_delay.setInterval(PROGRESS_DELAY_MS)
        self._progress_delay.timeout.connect(self._show_progress)
        self._progress_stage: str | None = None  # what the bar shows, and since when (on_progress)
        self._progress_shown = QElapsedTimer()
        self._progress_shown.start()

    def on_pending(self, pending: bool) -> None:
        if pending:
            self._progress_delay.start()
        else:
            self._progress_delay.stop()
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("")
            self.cancel_button.setEnabled(False)
            self._progress_stage = None

    def _show_progress(self) -> None:
        """The computation takes a while: say what it does, and offer to stop it."""
        if self.session.pending is not None:
            self.progress.setRange(0, 0)
            self.cancel_button.setEnabled(True)

    def on_progress(self, progress) -> None:
        if not self.cancel_button.isEnabled():
            return  # quick computations show nothing
        # each repaint of the bar costs the GUI thread 1–2 ms: a new stage shows at once, counts ten times a second
        stage = progress.stage
        if stage == self._progress_stage and not self._progress_shown.hasExpired(PROGRESS_INTERVAL_MS):
            return
        self._progress_stage = stage
        self._progress_shown.restart()
        self.progress.setRange(0, max(1, progress.total))
        self.progress.setValue(min(progress.done, progress.total))
        self.progress.setFormat(f"{STAGE_LABELS.get(progress.stage, progress.stage)} %p%")

    def on_confirm_needed(self, text: str) -> None:
        """Ask before a long computation; the window stays live while the question is open."""
        box = QMessageBox(QMessageBox.Icon.Question, "A long computation",
                          f"{text[0].upper()}{text[1:]}.\n\nStart it anyway? It can be cancelled from the status bar.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("confirm_long")
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.buttonClicked.connect(lambda button: self.session.confirm()
                                  if box.standardButton(button) == QMessageBox.StandardButton.Yes
                                  else self.session.decline())
        box.rejected.connect(self.session.decline)  # Esc or the window's close button
        box.open()
        self.confirm_box = box

    def show_message(self, text: str, error: bool = True) -> None:
        """A line in the status bar: red for a refusal or failure, plain for news."""
        self.message_label.setText(text)
        self.message_label.setToolTip(text)
        self._message_is_error = error
        self._colour_message()
        self._message_timer.start()  # the message fades after a while; a newer one restarts the wait

    def clear_message(self) -> None:
        self.message_label.clear()
        self.message_label.setToolTip("")
        self._message_is_error = False
        self._colour_message()

    def _colour_message(self) -> None:
        color = theme_color("error") if self._message_is_error else None
        self.message_label.setStyleSheet(f"color: {color.name()};" if color is not None else "")

    # --- construction -----------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable |
                         QDockWidget.DockWidgetFeature.DockWidgetFloatable)
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
        files = self.files
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Open session…", files.open_session_dialog, QKeySequence.StandardKey.Open)
        presets_menu = file_menu.addMenu("Presets")
        for name, title, path in list_presets():
            self._action(presets_menu, title, lambda _=False, p=path: files.open_session(p))
        files.recent_menu = file_menu.addMenu("Open recent")
        files.fill_recent()
        self._action(file_menu, "Save session…", files.save_session_dialog, QKeySequence.StandardKey.Save)
        self._action(file_menu, "Save session with data…", files.save_session_with_data_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "Open CSV dataset…", self.problem_panel.open_csv)
        export_menu = file_menu.addMenu("Export")
        self._action(export_menu, "Figure (PNG, SVG, PDF)…", self.export_figure_dialog, "Ctrl+E")
        self._action(export_menu, "Animation (GIF, MP4)…", self.export_animation_dialog, "Ctrl+Shift+E")
        self._action(export_menu, "Trajectories (CSV, NPZ)…", files.export_trajectories_dialog)
        self._action(export_menu, "Landscape grid (NPZ, CSV)…", files.export_landscape_dialog)
        self._action(export_menu, "Configuration (JSON)…", files.save_session_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, QKeySequence.StandardKey.Quit)
        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(edit_menu, "Undo", self.session.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit_menu, "Redo", self.session.redo)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit_menu.addSeparator()
        self._action(edit_menu, "Copy session as text", self.files.copy_session, "Ctrl+Shift+C")
        self._action(edit_menu, "Paste session", self.files.paste_session, "Ctrl+Shift+V")
        self.session.historyChanged.connect(self._update_history_actions)
        self.session.pendingChanged.connect(self._update_history_actions)
        self._update_history_actions()
        play_menu = self.menuBar().addMenu("&Play")
        for text, key, slot in (("Play / pause", "Space", self.clock.toggle),
                                ("Step forward", "Right", lambda: self.clock.step(1)),
                                ("Step back", "Left", lambda: self.clock.step(-1)),
                                ("Restart", "Home", self.clock.restart)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(slot)
            play_menu.addAction(action)
            self.addAction(action)
        view_menu = self.menuBar().addMenu("&View")
        self.presentation_action = self._action(view_menu, "Presentation", self.toggle_presentation, "F11")
        self.presentation_action.setCheckable(True)
        self.presentation_action.setToolTip("controls hidden, everything larger, for a projector (Esc leaves)")
        # window-wide keys: they work with the menu bar hidden (presentation mode) too
        self.addAction(self.presentation_action)
        # keys taken from the widgets only while they mean something: Esc while presenting,
        # Page Down / Page Up (what a presenter's clicker sends) while a lesson is open
        self.leave_presentation_action = QAction("Leave presentation", self)
        self.leave_presentation_action.setShortcut(QKeySequence("Esc"))
        self.leave_presentation_action.triggered.connect(lambda: self.set_presentation(False))
        self.leave_presentation_action.setEnabled(False)
        self.addAction(self.leave_presentation_action)
        self.lesson_key_actions = []
        for key, step in (("PgDown", 1), ("PgUp", -1)):
            action = QAction(self)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(lambda _=False, d=step: self.guide.go(self.guide.number + d))
            action.setEnabled(False)
            self.addAction(action)
            self.lesson_key_actions.append(action)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "Lessons…", self.open_lessons_dialog, "F1")
        about = QAction("About losslab", self)
        about.triggered.connect(lambda: QMessageBox.about(
            self, "About losslab", f"<b>losslab {__version__}</b><br>Loss landscapes of linear classifiers and "
            "small networks, and the optimizers that cross them, after CS231n lecture 3, "
            "“Loss functions and optimization”."))
        help_menu.addAction(about)

    # --- lessons and presentation mode -------------------------------------------------------------
    def open_lessons_dialog(self) -> None:
        """Help ▸ Lessons: pick a bundled lesson and open it at its first step."""
        browser = LessonBrowser(self)
        browser.setWindowModality(Qt.WindowModality.WindowModal)
        browser.accepted.connect(lambda: browser.chosen() is not None and self.open_lesson(browser.chosen()))
        browser.open()
        self.lesson_browser = browser

    def open_lesson(self, lesson, step: int = 1) -> bool:
        """Open a lesson (or a bundled lesson's name) at ``step`` (from 1); the lesson bar shows its text."""
        if not self.guide.open(lesson, step):
            return False
        self.files.path, self.files.session_info = None, {"title": self.guide.lesson.title,
                                                          "description": self.guide.lesson.description}
        for action in self.lesson_key_actions:
            action.setEnabled(True)
        return True

    def lesson_closed(self) -> None:
        self.pointer.hide()
        for action in self.lesson_key_actions:
            action.setEnabled(False)

    def point_at(self, kind: str, target) -> None:
        """Show a lesson step's subject: a run's landscape panel, a panel of the window, or a table row."""
        if kind == "row":
            self.examples_dock.show()
            self.examples_dock.raise_()
            self.show_tables()
            if self.presenting:
                self._fit_presented_dock(self.examples_dock)
            self.examples.select_examples([target])
            self.pointer.point_at(self.examples_dock)
            return
        if kind == "run":
            panels = self.grid.panels
            if self.figure.landscapes.currentWidget() is not self.grid or not panels:
                self.pointer.point_at(self.figure.landscapes)
                return
            panel = panels[min(target, len(panels) - 1)]
            view = self.grid
            rect = view.mapFromScene(panel.sceneBoundingRect()).boundingRect()
            self.pointer.point_at(view.viewport(), rect)
            return
        dock = self.bottom_docks.get(target) or self.control_docks.get(target)
        if dock is not None:
            if not self.presenting or target in self.bottom_docks:  # presenting: the controls stay hidden
                dock.show()
                dock.raise_()
                if self.presenting:
                    self._fit_presented_dock(dock)
                self.pointer.point_at(dock)
            return
        widget = {"landscape": self.figure.landscapes, "curves": self.figure.curves,
                  "data view": self.figure.right}[target]
        self.pointer.point_at(widget)

    PRESENTATION_ZOOM = 1.25  # plots drawn this much larger: fonts and lines that read on a projector
    PRESENTATION_TABLE_PIXELS = 18  # the tables' text while presenting
    PRESENTED_DOCK_SHARE = 0.3  # at most this share of the window's height for a table a step points at

    def _fit_presented_dock(self, dock: QDockWidget) -> None:
        """Presenting, a table a step points at gets the height of its rows (the figure keeps the rest)."""
        content = getattr(dock.widget(), "content_height", None)
        chrome = dock.height() - dock.widget().height()  # the dock's title bar and frame
        wanted = content() + chrome + 4 if content is not None else self.BOTTOM_DOCK_HEIGHT
        self.resizeDocks([dock], [min(wanted, round(self.height() * self.PRESENTED_DOCK_SHARE))],
                         Qt.Orientation.Vertical)

    def toggle_presentation(self) -> None:
        self.set_presentation(not self.presenting)

    def set_presentation(self, presenting: bool) -> None:
        """View ▸ Presentation (F11): full screen, the controls hidden, plots and the lesson text larger; Esc leaves."""
        if presenting == self.presenting:
            self.presentation_action.setChecked(presenting)
            return
        self.presenting = presenting
        self.presentation_action.setChecked(presenting)
        self.leave_presentation_action.setEnabled(presenting)
        if presenting:
            self._before_presentation = (self.saveState(), self.windowState(), self.geometry())
            for dock in (*self.control_docks.values(), *self.bottom_docks.values()):
                dock.hide()
            for bar in self.findChildren(QTabBar):  # the dock areas' tab bars: Qt can leave a stale one showing
                if bar.parent() is self:
                    bar.hide()
            for widget in (self.menuBar(), self.statusBar(), self.transport):
                widget.hide()
            self.showFullScreen()
            self.setGeometry(self.screen().geometry())  # also where no window manager makes it full screen
        else:
            state, window_state, geometry = self._before_presentation
            for widget in (self.menuBar(), self.statusBar(), self.transport):
                widget.show()
            self.restoreState(state)
            self.setWindowState(window_state)
            if not window_state & (Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen):
                self.setGeometry(geometry)  # also where no window manager undoes full screen
        self.figure.set_zoom(self.PRESENTATION_ZOOM if presenting else 1.0)
        table_font = QFont()  # no attribute set: the widgets inherit the window's font again
        if presenting:
            table_font.setPixelSize(self.PRESENTATION_TABLE_PIXELS)
        for dock in self.bottom_docks.values():
            dock.widget().setFont(table_font)
        self.lesson_bar.set_presentation(presenting)
        self.pointer.hide()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.pointer.isVisible():
            self.pointer.follow()

    def _update_history_actions(self, *_) -> None:
        self.undo_action.setEnabled(self.session.can_undo)
        self.redo_action.setEnabled(self.session.can_redo)

    # --- files dropped on the window: a session opens, a CSV becomes the data -----------------------
    def dragEnterEvent(self, event) -> None:
        if dropped_file(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = dropped_file(event.mimeData())
        if path is None:
            return
        event.acceptProposedAction()
        if path.lower().endswith(".json"):
            self.files.open_session(path)
        else:
            self.session.set_problem(source="csv", path=path, kind="")

    # --- the File menu's entry points (kept here for scripts and tests) ----------------------------
    def open_session(self, path) -> bool:
        return self.files.open_session(path)

    def save_session(self, path, with_data: bool = False) -> None:
        self.files.save_session(path, with_data)

    def export_trajectories(self, path: str, fmt: str | None = None) -> None:
        self.files.export_trajectories(path, fmt)

    def export_landscape(self, path: str) -> None:
        self.files.export_landscape(path)

    def export_figure_dialog(self) -> None:
        self._while_paused(self.files.export_figure_dialog)

    def export_animation_dialog(self) -> None:
        self._while_paused(self.files.export_animation_dialog)

    def export_png(self, path: str) -> None:
        """The whole figure as a PNG (what File ▸ Export ▸ Figure writes by default)."""
        from .export import export_figure
        export_figure(self.figure, path, "png")

    def _while_paused(self, action) -> None:
        playing = self.clock.playing
        self.clock.pause()
        try:
            with self.figure.held():  # a change committed during the export is drawn after it
                action()
        finally:
            self.figure.set_frame(self.clock.frame)
            if playing:
                self.clock.play()

    # --- theme and lifecycle ----------------------------------------------------------------------
    _theme = None

    def apply_theme(self, theme: str) -> None:
        if theme == self._theme:
            return  # a new palette re-colours every widget: only when the theme really changes
        self._theme = theme
        app = QApplication.instance()
        if app is not None:
            if app.style().name().lower() != "fusion":  # once: replacing the style deletes the old one under
                app.setStyle("Fusion")                   # every widget, and a half-destroyed one can crash on it
            app.setPalette(dark_palette() if theme == "dark" else light_palette())
        self._colour_message()  # the error red of the old theme may not read on the new one

    LAST_SESSION_CHARS = 2_000_000  # the settings file keeps edited points, not whole embedded datasets

    def closeEvent(self, event) -> None:
        self.set_presentation(False)  # the window's layout is saved as it is outside presentation mode
        self.clock.pause()
        self.readout.stop()
        # the target: a change still being computed is what the user asked for last
        last = dumps(self.session.target, asdict(self.session.view))
        if len(last) <= self.LAST_SESSION_CHARS:
            self.settings.setValue("session/last", last)
        else:  # large embedded data does not belong in the settings file: the defaults open next time
            self.settings.remove("session/last")
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.session.shutdown()
        super().closeEvent(event)


def dropped_file(mime) -> str | None:
    """The one local session (.json) or dataset (.csv, .csv.gz) file being dropped, else None."""
    urls = mime.urls() if mime.hasUrls() else []
    if len(urls) != 1 or not urls[0].isLocalFile():
        return None
    path = urls[0].toLocalFile()
    return path if path.lower().endswith((".json", ".csv", ".csv.gz")) else None


def stacked(*panels: QWidget) -> QWidget:
    """Panels one above the other on one tab, a thin line between them (the Loss tab: model, then loss).

    Their forms' label columns get one width, so the fields of every panel line up.
    """
    widget = QWidget()
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    labels = []
    for k, panel in enumerate(panels):
        if k:
            line = QFrame()
            line.setFrameShape(QFrame.Shape.HLine)
            line.setFrameShadow(QFrame.Shadow.Sunken)
            layout.addWidget(line)
        layout.addWidget(panel)
        form = getattr(panel, "form", None)
        if isinstance(form, QFormLayout):
            items = (form.itemAt(row, QFormLayout.ItemRole.LabelRole) for row in range(form.rowCount()))
            labels += [item.widget() for item in items if item is not None and isinstance(item.widget(), QLabel)]
    width = max((label.sizeHint().width() for label in labels), default=0)
    for label in labels:
        label.setMinimumWidth(width)
    layout.addStretch(1)
    return widget


SELECTION_COLOR = "#1f6fbf"  # white on it reads at 5.1:1 (Fusion's own #308cc6: 3.7:1)


def light_palette() -> QPalette:
    palette = QApplication.style().standardPalette()
    palette.setColor(QPalette.ColorRole.Highlight, QColor(SELECTION_COLOR))
    return palette


def dark_palette() -> QPalette:
    role = QPalette.ColorRole
    palette = QPalette()
    for r, color in ((role.Window, "#2b2b2b"), (role.WindowText, "#dddddd"), (role.Base, "#1e1e1e"),
                     (role.AlternateBase, "#2b2b2b"), (role.Text, "#dddddd"), (role.Button, "#353535"),
                     (role.ButtonText, "#dddddd"), (role.BrightText, "#ff7b7b"), (role.Highlight, SELECTION_COLOR),
                     (role.HighlightedText, "#ffffff"), (role.ToolTipBase, "#353535"), (role.ToolTipText, "#dddddd"),
                     (role.PlaceholderText, "#9a9a9a"), (role.Link, "#6cb4ee"), (role.LinkVisited, "#b48ee8"),
                     (role.Light, "#505050"), (role.Midlight, "#404040"), (role.Mid, "#2a2a2a"),
                     (role.Dark, "#1a1a1a"), (role.Shadow, "#101010")):
        palette.setColor(r, QColor(color))
    # disabled controls look disabled: dimmer text, not the light theme's gray
    for r, color in ((role.WindowText, "#808080"), (role.Text, "#808080"), (role.ButtonText, "#808080")):
        palette.setColor(QPalette.ColorGroup.Disabled, r, QColor(color))
    return palette
