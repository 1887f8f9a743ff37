"""The figure: landscapes, loss curves and the data view, drawn from one :class:`Snapshot`.

The window embeds it and exports paint it; ``losslab render`` builds one offscreen with
no window around it. It holds no experiment of its own: it draws the snapshot it is
handed and moves to the frame it is told.

The landscape sits behind :class:`LandscapeView`, the small protocol any landscape view
follows (the contour grid today; a 3-D surface or 1-D cuts later), so the figure and the
exports do not care which one is shown.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Protocol

import numpy as np
import pyqtgraph as pg
from PyQt6 import sip
from PyQt6.QtCore import QElapsedTimer, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QGraphicsView, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from ..engine.datasets import Dataset
from ..engine.experiment import RunResult
from ..engine.curvature_map import point_curvature
from .arrows import panel_arrows
from .curvature_view import cheap_curvature
from .display import SurfaceDisplay
from .surface3d import SurfaceView3D
from .session import Snapshot
from .widgets import TURN_MS
from .views import DataView, LandscapeGrid, LossCurves, PathData, TemplateView, run_color, run_label

BACKGROUNDS = {"light": "#ffffff", "dark": "#1e1e1e"}
FOREGROUNDS = {"light": "#222222", "dark": "#dddddd"}


DECISION_CHUNK = 1 << 20  # numbers per block of a decision function's widest layer (8 MB)


def decision_function(model, theta: np.ndarray):
    """``scores(X) -> (N, C)``: the decision values of ``model`` at ``theta`` on any points.

    Evaluated in blocks of rows, each block's widest layer (the inputs, the hidden units or the
    scores) at most ``DECISION_CHUNK`` numbers, so a 4096-unit network costs no more memory
    than a linear model on the data view's grid.
    """
    theta = np.asarray(theta, dtype=float)
    width = max(model.n_features, model.n_classes, model.hidden_units or 0, 1)
    rows = max(1, DECISION_CHUNK // width)

    def scores(X: np.ndarray) -> np.ndarray:
        if len(X) <= rows:
            return model.scores(theta, X)
        return np.concatenate([model.scores(theta, X[k:k + rows]) for k in range(0, len(X), rows)])

    return scores


class LandscapeView(Protocol):
    """What the figure asks of a landscape view."""

    def set_layout(self, titles: list[tuple[str, str | None]], axes_labels: tuple[str, str]) -> bool:
        """One panel per ``(title, colour of its dot or None)``; returns whether the panels were rebuilt."""

    def set_surface(self, display: SurfaceDisplay, cmap: str, reset_view: bool) -> None:
        """Show the landscape's picture (``reset_view``: frame the whole grid)."""

    def show_region(self, a_range: tuple[float, float], b_range: tuple[float, float]) -> None:
        """Show this region of the plane."""

    def set_foreground(self, color: str) -> None:
        """The colour of text and axes (the theme)."""

    def set_paths(self, per_panel: list[list[PathData]], start: tuple[float, float]) -> None:
        """The paths each panel shows, and where every run starts."""

    def set_frame(self, frame: int) -> None:
        """Move every path to ``frame``."""


class Figure(QWidget):
    """Landscape panels above; loss curves and the data (or the templates: class or hidden-unit weights) below.

    Signals:
        clicked(float, float): a click on a contour, in plane coordinates.
        hovered(float, float, float): the pointer's plane point and the loss shown there.
    """

    clicked = pyqtSignal(float, float)
    hovered = pyqtSignal(float, float, float)

    SECONDARY_INTERVAL_MS = 60  # while playing, the data view follows at most ~16 times a second

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.grid = LandscapeGrid()
        self.landscape_view: LandscapeView = self.grid
        self.landscapes = QStackedWidget()
        self.landscapes.addWidget(self.grid)
        self.curves = LossCurves()
        self.data_view = DataView()
        self.templates = TemplateView()
        self.right = QStackedWidget()
        self.right.addWidget(self.data_view)
        self.right.addWidget(self.templates)
        self.bottom = QSplitter(Qt.Orientation.Horizontal)
        self.bottom.addWidget(self.curves)
        self.bottom.addWidget(self.right)
        self.bottom.setSizes([600, 400])
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.landscapes)
        self.splitter.addWidget(self.bottom)
        self.splitter.setSizes([560, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.grid.clicked.connect(self.clicked)
        self.grid.hovered.connect(self.hovered)
        self.snapshot: Snapshot | None = None
        self._holding, self._waiting = False, None  # see held()
        self.frame = 0
        self._theme: str | None = None
        self._dataset = object()  # no snapshot yet: the first one sets the data (or hides the view)
        self._region: tuple | None = None
        self._secondary = QElapsedTimer()
        self._secondary.start()
        self._surface3d: SurfaceView3D | None = None
        self._turns: list[tuple[QGraphicsView, QGraphicsView.ViewportUpdateMode]] = []  # see _repaint_in_turns
        self._turn = QTimer(self)  # a timer, not a queued call: the loop reads input and runs timers in between
        self._turn.setSingleShot(True)
        self._turn.timeout.connect(self._next_turn)
        self._unfilled = False  # new panels laid out, filled at the first of the views' turns (see _show)
        self._queued = False  # a queued call to _next_turn is on its way (see _queue_turn)
        self._after: list = []  # work waiting for the views' turns to end (see after_turns)
        self._after_timer = QTimer(self)
        self._after_timer.setSingleShot(True)
        self._after_timer.setInterval(TURN_MS)
        self._after_timer.timeout.connect(self._run_after)

    @property
    def surface3d(self) -> SurfaceView3D:
        """The same landscape as a surface (View ▸ Landscape: 3-D), made when first asked for: asking
        whether OpenGL works here costs a launch a fifth of a second, and most sessions never need it."""
        if self._surface3d is None:
            self._surface3d = SurfaceView3D()
            self.landscapes.addWidget(self._surface3d)
            if self._theme is not None:
                self._surface3d.setBackground(BACKGROUNDS[self._theme])
                self._surface3d.set_foreground(FOREGROUNDS[self._theme])
        return self._surface3d

    def _landscape_views(self) -> list:
        """The landscape views made so far (the 3-D one only once it is)."""
        return [self.grid] + ([self._surface3d] if self._surface3d is not None else [])

    # --- what is shown --------------------------------------------------------------------------
    @property
    def results(self) -> list[RunResult]:
        return list(self.snapshot.computed.runs) if self.snapshot is not None else []

    @property
    def n_frames(self) -> int:
        return self.snapshot.computed.n_frames if self.snapshot is not None else 1

    @property
    def background(self) -> QColor:
        return QColor(BACKGROUNDS[self.snapshot.view.theme if self.snapshot else "light"])

    @contextmanager
    def held(self):
        """While inside, new snapshots wait and are drawn on the way out (the latest only).

        An export steps this figure through its frames and runs the event loop between them:
        a change committed meanwhile must not swap the experiment in the middle of a file.
        """
        self._holding, self._waiting = True, None
        try:
            yield
        finally:
            self._holding, waiting = False, self._waiting
            self._waiting = None
            if waiting is not None:
                self.show_snapshot(waiting)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Draw a snapshot whole: panels, picture, paths, curves and the data.

        A new plane or new paths move the view to keep the start, the optimum and the paths
        in sight (:meth:`framed_region`); the same ones keep the user's zoom.
        """
        if self._holding:
            self._waiting = snapshot
            return
        with self.grid.held_frames():  # the panels' views move several times: their paths are drawn once
            self._show(snapshot)

    def _show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._repaint_in_turns()
        computed, view = snapshot.computed, snapshot.view
        self._apply_theme(view.theme)
        self._use_landscape(view.surface)
        dataset = computed.problem.dataset
        if dataset is not self._dataset:
            old, self._dataset = self._dataset, dataset
            if dataset is not None:
                self.data_view.set_data(dataset.X, dataset.y, dataset.n_classes, self._data_title(),
                                        keep_view=_one_edit_apart(old, dataset))
                self.data_view.set_class_names(dataset.class_names)
                if dataset.image_shape is not None:
                    self._show_templates(computed.problem.model)
                    self.right.setCurrentWidget(self.templates)
                else:
                    self.right.setCurrentWidget(self.data_view)
            self.right.setVisible(dataset is not None)
        self._repaint_in_turns()  # the views now shown (another landscape view or data view) are held too
        self._unfilled = False  # this snapshot fills the panels itself
        relaid = self.landscape_view.set_layout(self._titles(), computed.plane.labels)
        if relaid:
            self._style_plots()
        if relaid and self.landscape_view is self.grid:
            # laying new panels out (10-20 ms for eight) and filling them made one block of up to 30 ms:
            # the views are held until their turns (_repaint_in_turns), so the panels are filled at the
            # first turn (_next_turn) and the landscapes repaint at the one after
            self._unfilled = True
            if not self._turn.isActive() and not self._queued:
                self._turn.start(0)
            return
        self._fill_with(snapshot)
        if (self._turn.isActive() or self._queued) and self._turns and self._turns[0][0] is self.landscape_view:
            # a commit that laid no panels out is short: the landscapes repaint right after it (a zero
            # single shot is a queued call; Linux's event loop delivers it before the timers due, the
            # λ step 2 ms sooner than by the timer). The timer was started by _repaint_in_turns:
            # whatever drawing the snapshot raised, the views are released
            self._turn.stop()
            self._queue_turn()

    def _queue_turn(self) -> None:
        """The next turn as a queued call (at most one on its way: two would release two views at once)."""
        if not self._queued:
            self._queued = True
            QTimer.singleShot(0, self._queued_turn)

    def _queued_turn(self) -> None:
        self._queued = False
        self._next_turn()

    def _fill_panels(self) -> None:
        """The second half of showing a snapshot that laid panels out (see :meth:`_show`), with the
        snapshot shown now (a new picture of the same results may have come meanwhile)."""
        self._unfilled = False
        with self.grid.held_frames():
            self._fill_with(self.snapshot)

    def _fill_with(self, snapshot: Snapshot) -> None:
        """Draw ``snapshot`` into panels laid out for it: surface, framing, paths, curves and frame."""
        view = snapshot.view
        if snapshot.display is not None:
            self.landscape_view.set_surface(snapshot.display, view.colormap, reset_view=False)
        region = self.framed_region()
        if region is not None and region != self._region:  # the same slice and paths keep the user's zoom
            self._region = region
            self.landscape_view.show_region(*region[1:])
        self._draw_paths()
        self._draw_curves(later=True)
        self._set_data_title()
        self.set_frame(min(self.frame, self.n_frames - 1), regions_later=True)

    def _repaint_in_turns(self) -> None:
        """Repaint the views a new snapshot changes one per turn of the event loop, landscapes first.

        Qt delivers the events posted while it delivers others (each view's repaint is one, and
        so is a zero-delay single shot) before it runs a timer or reads input: the commit and
        every repaint it caused made one block, 27-34 ms for a λ step. Each view's scene changes
        are held back here and the view repainted whole at its turn, by a timer: the landscapes
        at the loop's next turn (right after the commit unless it laid panels out: see the end of
        :meth:`show_snapshot`), each other view ``TURN_MS`` later. Only the screen waits: the views
        hold the new state at once, and a grab or an export paints it after :meth:`flush` (they
        render the scene, not the viewport's updates).
        """
        views = [view for view in (self.landscape_view, self.curves, self.right.currentWidget())
                 if isinstance(view, QGraphicsView)]
        held = {view for view, _ in self._turns}
        for view in views:
            if view not in held:
                mode = view.viewportUpdateMode()
                if mode == QGraphicsView.ViewportUpdateMode.NoViewportUpdate:  # never held for good
                    mode = QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate
                self._turns.append((view, mode))
                view.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.NoViewportUpdate)
        order = {view: k for k, view in enumerate(views)}  # a view shown since the last call keeps its place
        self._turns.sort(key=lambda turn: order.get(turn[0], len(views)))
        if not held:  # else the turns under way go on: a second chain would repaint two views in one turn
            self._turn.start(0)  # the landscapes at once: after the input and timers already waiting

    def _next_turn(self) -> None:
        if sip.isdeleted(self):
            return
        if self._unfilled:  # new panels are filled first, in a turn of their own
            try:
                self._fill_panels()
            finally:  # whatever the drawing raised, the views' turns go on
                self._continue_turns(0)
            return
        if not self._turns:
            return
        view, mode = self._turns.pop(0)
        try:  # what waits for this view's turn is drawn before it repaints
            if view is self.curves:
                self.curves.flush()
            if view is self.data_view or not self._turns:
                self.flush()  # the data view's regions (at the last turn if it is not shown)
        finally:  # whatever a flush raised, this view repaints and the others get their turns
            if not sip.isdeleted(view):
                if isinstance(view, pg.GraphicsView) and view.scene() is not None:
                    # the views' new ranges reach their items now, not in the paint: items moved there
                    # asked for a second paint of the whole view (2-3 ms for eight panels)
                    view.scene().prepareForPaint()
                view.setViewportUpdateMode(mode)
                view.viewport().update()
            self._continue_turns(TURN_MS)

    def _continue_turns(self, interval: int) -> None:
        """The next view's turn in ``interval`` ms (a timer: input and timers due run in between), or,
        the views all repainted, the work waiting for them (after_turns)."""
        if self._turns:
            self._turn.start(interval)
        elif self._after:
            self._after_timer.start()

    def after_turns(self, work) -> None:
        """Call ``work()`` in a turn of its own once the views a snapshot changed have repainted, or now
        if none is waiting. Other widgets' updates then never lengthen the landscapes' turn: a λ step's
        new learning-rate bounds laid seven forms out again, 2.5 ms, before the landscapes repainted."""
        if not self._turns and not self._unfilled:
            work()
            return
        self._after.append(work)

    def _run_after(self) -> None:
        try:
            while self._after:
                self._after.pop(0)()
        finally:  # whatever one raised, the others run in the next turn
            if self._after:
                self._after_timer.start()

    def flush(self) -> None:
        """Draw what a snapshot left for the views' turns to repaint (the curves, the data view's
        regions, new panels still to fill): exports and grabs paint the scene, so they flush first."""
        if self._unfilled:
            self._fill_panels()
        self.curves.flush()
        self.data_view.flush()

    def _use_landscape(self, kind: str) -> None:
        """The 2-D contour panels or the 3-D surface; the one switched to is fed by the caller."""
        view = self.surface3d if kind == "3d" else self.grid
        if view is self.landscape_view:
            return
        self.landscape_view = view
        self.landscapes.setCurrentWidget(view)
        self._region = None  # the view now shown frames itself (show_snapshot feeds it next)

    def show_display(self, snapshot: Snapshot) -> None:
        """The same results with a new picture of the landscape (other colours, part or iso-lines)."""
        if self._holding:
            self._waiting = snapshot
            return
        self.snapshot = snapshot
        if snapshot.display is not None:
            self.landscape_view.set_surface(snapshot.display, snapshot.view.colormap, reset_view=False)

    def set_frame(self, frame: int, playing: bool = False, regions_later: bool = False) -> None:
        """Move everything to ``frame``; while ``playing`` the data view follows at a gentler rate.

        ``regions_later``: the data view's decision regions (2 ms) are drawn at its turn to repaint,
        after the landscapes are on screen (see :meth:`_repaint_in_turns`).
        """
        self.frame = max(0, min(int(frame), self.n_frames - 1))
        self.landscape_view.set_frame(self.frame)
        self._draw_arrows()
        self._draw_eigen_axes(playing)
        self.curves.set_frame(self.frame)
        if not playing or self._secondary.hasExpired(self.SECONDARY_INTERVAL_MS):
            self._secondary.restart()
            self._update_data_view(regions_later)

    def _draw_arrows(self) -> None:
        """The arrows the View panel asks for, at each run's current point (each costs a full gradient)."""
        if self.snapshot is None:
            return
        if self.landscape_view is not self.grid:
            return  # the arrows are drawn on the contour panels
        kinds = self.snapshot.view.arrows
        if not kinds and not any(panel.arrows.drawn for panel in self.grid.panels):
            for panel in self.grid.panels:  # none asked for, none shown: nothing to compute or clear
                panel.arrows.set_visible_kinds(kinds)
            return
        results = self.results
        per_panel = [results] if self.snapshot.view.layout == "overlay" else [[r] for r in results]
        for panel, shown in zip(self.grid.panels, per_panel):
            panel.arrows.set_visible_kinds(kinds)
            panel.arrows.set_arrows(panel_arrows(self.snapshot.computed, self.frame, shown,
                                                 [run_color(r.index, r.spec) for r in shown]) if kinds else [])

    def _draw_eigen_axes(self, playing: bool) -> None:
        """The Hessian's two sharpest directions at each panel's run (View ▸ Curvature): while playing
        only where they are cheap (a run in the slice: a 2 × 2 Hessian), else once the animation rests."""
        if self.snapshot is None or self.landscape_view is not self.grid:
            return
        computed = self.snapshot.computed
        if not self.snapshot.view.eigen_axes:
            for panel in self.grid.panels:
                panel.eigen_axes.clear()
            return
        if playing and not cheap_curvature(computed):
            return
        results = self.results
        shown = [self.data_result()] if self.snapshot.view.layout == "overlay" and results else results
        for panel, result in zip(self.grid.panels, shown):
            try:
                found = point_curvature(computed, result, self.frame)
            except ValueError:  # a diverged iterate has no curvature to show
                found = None
            panel.eigen_axes.show_curvature(found, run_color(result.index, result.spec))

    def framed_region(self) -> tuple | None:
        """The plane region the landscape panels show: ``(plane key, (a0, a1), (b0, b1))``.

        The view moves to keep the start, the optimum and the paths in sight: the engine
        widens the slice's window to take them in (``extent_in_sight``) and computes the
        landscape over it, so framing the landscape frames them all over a drawn surface.
        """
        computed, display = self.snapshot.computed, self.snapshot.display
        if display is None:
            return None
        a, b = display.a_values, display.b_values
        plane = computed.plane
        key = (plane.extent, plane.labels, plane.origin.tobytes(), plane.d1.tobytes(), plane.d2.tobytes())
        return key, (float(a[0]), float(a[-1])), (float(b[0]), float(b[-1]))

    # --- pieces -----------------------------------------------------------------------------------
    def _titles(self) -> list[tuple[str, str | None]]:
        if self.snapshot.view.layout == "overlay":
            return [("all optimizers", None)]
        titles = [(run_label(r.spec), run_color(r.index, r.spec)) for r in self.results]
        return titles or [("no optimizer enabled", None)]

    def _start(self) -> tuple[float, float]:
        # where the runs really start, in the drawn plane's coordinates (for planes made from
        # full-space runs this is not the Slice panel's (a, b))
        results = self.results
        return tuple(results[0].ab[0]) if results else self.snapshot.computed.experiment.start

    def _draw_paths(self) -> None:
        results = self.results
        paths = [PathData(r.spec.method, run_label(r.spec), run_color(r.index, r.spec), np.asarray(r.ab),
                          r.trajectory.status) for r in results]
        start = self._start()
        per_panel = [paths] if self.snapshot.view.layout == "overlay" else [[p] for p in paths]
        self.landscape_view.set_paths(per_panel, start)

    def _draw_curves(self, later: bool = False) -> None:
        view = self.snapshot.view
        runs = []
        for result in self.results:
            traj = result.trajectory
            x = np.arange(len(traj.losses)) if view.x_axis == "step" else np.asarray(traj.cost)
            runs.append((run_label(result.spec), run_color(result.index, result.spec), x, np.asarray(traj.losses),
                         traj.status))
        self.curves.set_runs(runs, "step" if view.x_axis == "step" else "cost (full-data passes)", view.log_loss,
                             later=later)

    def data_result(self) -> RunResult | None:
        """The run whose parameters the data view shows."""
        results = self.results
        return results[min(self.snapshot.view.data_run, len(results) - 1)] if results else None

    def _data_title(self) -> str:
        result = self.data_result() if self.snapshot is not None else None
        if result is None:
            return "data"
        dot = f"<span style='color:{run_color(result.index, result.spec)}'>●</span>"
        features = self._dataset.X.shape[1] if self._dataset is not None else 2
        if features > 2:  # the view shows the first two principal components, not the data's own axes
            return f"classes by {dot} {run_label(result.spec)} (PCA of the {features} features)"
        return f"decision regions of {dot} {run_label(result.spec)}"

    def _set_data_title(self) -> None:
        title, foreground = self._data_title(), FOREGROUNDS[self._theme or "light"]
        label = self.data_view.plot_item.titleLabel
        if (title, foreground) != (self.data_view.title, label.opts.get("color")):  # a new title re-lays out the plot
            self.data_view.title = title
            self.data_view.plot_item.setTitle(title, color=foreground)

    def _update_data_view(self, regions_later: bool = False) -> None:
        if self.snapshot is None or self._dataset is None:
            return
        result = self.data_result()
        model = self.snapshot.computed.problem.model
        images = self._dataset.image_shape is not None
        if images:
            self._show_templates(model)
        if result is None or model is None:
            self.data_view.set_decision(None)  # no run: no decision regions to show
            self.data_view.set_weights(None, None)
            return
        theta = result.thetas[min(self.frame, len(result.thetas) - 1)]
        if images:
            self.templates.set_weights(model.input_weights(theta))  # W (D, C) or W1 (D, H): weights into units
        else:
            self.data_view.set_decision(decision_function(model, theta), later=regions_later)
            if self.snapshot.view.weights and model.has("affine_scores") and model.n_features == 2:
                W, b = model.unflatten(theta)
                self.data_view.set_weights(W, b)
            else:
                self.data_view.set_weights(None, None)

    def _show_templates(self, model) -> None:
        """A linear classifier's class templates, or a network's first-layer units (kept if already shown)."""
        dataset = self._dataset
        if model is not None and model.hidden_units:
            self.templates.set_units(model.hidden_units, dataset.image_shape)
        else:
            self.templates.set_classes(dataset.class_names, dataset.image_shape)

    def set_zoom(self, zoom: float) -> None:
        """Draw the landscapes, curves and data ``zoom`` times larger (presentation mode; 1: as usual)."""
        for view in (self.grid, self.curves, self.data_view, self.templates):
            view.set_zoom(zoom)

    # --- theme ------------------------------------------------------------------------------------
    def _apply_theme(self, theme: str) -> None:
        if theme == self._theme:
            return
        self._theme = theme
        for view in (*self._landscape_views(), self.curves, self.data_view, self.templates):
            view.setBackground(BACKGROUNDS[theme])
        self._style_plots()

    def _style_plots(self) -> None:
        """Text and lines in the theme's foreground: every one reads at a contrast of 4.5:1 or more."""
        theme = self._theme or "light"
        foreground, background = FOREGROUNDS[theme], BACKGROUNDS[theme]
        for view in self._landscape_views():
            view.set_foreground(foreground)
        self.curves.set_colors(foreground, background)
        self.data_view.set_colors(foreground)
        self.templates.set_foreground(foreground)
        for item in (self.curves.plot_item, self.data_view.plot_item):
            for side in ("left", "bottom"):
                axis = item.getAxis(side)
                if axis.textPen().color() != QColor(foreground):  # a new pen throws the axis drawing away
                    axis.setPen(foreground)
                    axis.setTextPen(foreground)
            if item.titleLabel.opts.get("color") != foreground:  # the colour applies when the text is set
                item.titleLabel.setText(item.titleLabel.text, color=foreground)


def _one_edit_apart(old, new) -> bool:
    """Whether ``new`` data is ``old`` after a point edit (or its undo): the data view keeps its zoom then."""
    return (isinstance(old, Dataset) and old.X.shape[1] == new.X.shape[1]
            and abs(old.X.shape[0] - new.X.shape[0]) <= 1 and old.class_names == new.class_names)
