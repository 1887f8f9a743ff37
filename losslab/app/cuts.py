"""1-D cuts (Goodfellow et al. 2015): the loss, and the accuracy, along a line through parameter space.

A line is ``theta(t) = theta0 + t * d``, ``theta0, d: (P,)``, drawn over ``T`` values of t.
Three lines, one per ``LINES`` key:

- ``"optimum"``: from a run's start to the optimum, ``theta(t) = theta_start + t (theta* - theta_start)``.
  theta* is the plane's centre when the plane is centred at the optimum; a test surface's
  known minimum nearest the run's end; otherwise the run's end (the caption says which).
- ``"runs"``: between two runs' current points, ``theta(t) = theta_A + t (theta_B - theta_A)``.
- ``"random"``: through a run's current point along one filter-normalized Gaussian
  direction (Li et al. 2018: ``Plane.random``'s first direction, each filter of d as long as
  the point's same filter), t in ± span.

Every run's current point theta_k is marked where it projects onto the line:
``t_k = (theta_k - theta0) . d / |d|^2``, at height ``L(theta0 + t_k d)``; its distance
``|theta_k - theta(t_k)|`` from the line is in the legend and the marker's tool tip.

:func:`cut_line` and :func:`project_onto_line` are plain NumPy (no Qt); :class:`CutsPanel`
draws them and recomputes the curve only when the line itself changes, so the markers
follow the frames cheaply.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt6 import sip
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (QApplication, QCheckBox, QComboBox, QFormLayout, QFrame, QGraphicsItem, QHBoxLayout,
                             QLabel, QScrollArea, QToolButton, QVBoxLayout, QWidget)

from ..engine.generators import drain
from ..engine.landscape import PARTS
from ..engine.lines import accuracy_line, loss_line
from ..engine.planes import SEED, Plane
from ..engine.registry import Param
from .controls import swatch
from .display import PART_LABELS
from .figure import BACKGROUNDS, FOREGROUNDS
from .jobs import JobRunner
from .views import LEFT_AXIS_WIDTH, GridLines, LossAxis, flat_range, run_color, run_label
from .widgets import PALETTE_EVENTS, MutedLabel, NumberField, is_dark, muted_color

Array = np.ndarray

LINES = {"optimum": "start → optimum", "runs": "between two runs", "random": "random direction"}
SAMPLES = 401  # points along the curve: t = 0 and t = 1 (and every 0.005 of the interpolation) are among them
INTERPOLATION_T = (-0.5, 1.5)  # a little before the first point and beyond the second
INLINE_WORK = 2_000_000  # curves up to this curve_work are computed at once (~30 ms); larger ones in the background
JOB = "cuts"  # the JobRunner channel of a curve computed in the background
SPAN = Param("span", 1.0, "t ±", low=0.0, low_open=True, high=1e3,
             help="the random direction's t runs over ± this (t = 1: a step as long as the point's filters)")


@dataclass(frozen=True, eq=False)
class CutLine:
    """One line to draw: ``theta(t) = theta0 + t * direction`` over ``t (T,)``.

    ``marks`` are the t values labelled on the plot, as ``(t, label, colour or "")``;
    ``caption`` says in words what the line is (rich text).
    """

    kind: str
    theta0: Array
    direction: Array
    t: Array
    marks: tuple[tuple[float, str, str], ...]
    caption: str


class NoLine(ValueError):
    """There is no line to draw (two points coincide, a run diverged, no runs); the message says why."""


def sample_t(lo: float, hi: float, exact: tuple[float, ...] = (), n: int = SAMPLES) -> Array:
    """``n`` evenly spaced t in [lo, hi], with the samples nearest ``exact`` replaced by those values exactly."""
    t = np.linspace(lo, hi, n)
    for value in exact:
        t[np.argmin(np.abs(t - value))] = value
    return t


def project_onto_line(thetas: Array, theta0: Array, direction: Array) -> tuple[Array, Array]:
    """Where points project onto ``theta0 + t d``, and how far they are from it.

    ``thetas: (K, P)`` -> ``t: (K,)`` with ``t_k = (theta_k - theta0) . d / |d|^2`` and
    ``distance: (K,)``, ``|theta_k - theta0 - t_k d|``. ``d`` must not be zero.
    """
    offsets = np.asarray(thetas, dtype=float) - theta0
    t = offsets @ direction / float(direction @ direction)
    return t, np.linalg.norm(offsets - t[:, None] * direction, axis=1)


ROUNDING = 1e-9  # two points closer than this, relative to their size, are one (rounding, not distance)


def _coincide(a: Array, b: Array) -> bool:
    """Whether two points are the same up to rounding: no line goes through them."""
    return float(np.linalg.norm(b - a)) <= ROUNDING * max(float(np.linalg.norm(a)), float(np.linalg.norm(b)), 1e-300)


def _short(t: float) -> str:
    """t for the legend: three digits, and rounding noise (|t| < 5e-7) as 0."""
    return "0" if abs(t) < 5e-7 else f"{t:.3g}"


def point_at(result, frame: int) -> Array:
    """A run's parameters at ``frame`` (its last one once it has ended): ``(P,)``."""
    return np.asarray(result.thetas[min(frame, len(result.thetas) - 1)], dtype=float)


def _dot(result) -> str:
    return f"<span style='color:{run_color(result.index, result.spec)}'>●</span>"


def _named(result) -> str:
    return f"{_dot(result)} {html.escape(run_label(result.spec))}"


def _finite(theta: Array, result, what: str) -> Array:
    if not np.all(np.isfinite(theta)):
        raise NoLine(f"{run_label(result.spec)} has diverged: its {what} is not finite, so there is no line "
                     "through it. Pick another run.")
    return theta


def cut_line(computed, frame: int, kind: str, run: int, other: int = 1, seed: int = 0,
             span: float = SPAN.default) -> CutLine:
    """The line of kind ``kind`` (a ``LINES`` key) for ``computed`` (a ``Computed``) at ``frame``.

    ``run``: the position in ``computed.runs`` of the run it starts from (``"optimum"``),
    goes through (``"random"``) or of point A (``"runs"``); ``other``: point B's run;
    ``seed``, ``span``: the random direction's seed and t range. ``NoLine`` says why
    there is no line (no runs, two points that coincide, a diverged run).
    """
    runs = computed.runs
    if not runs:
        raise NoLine("No run to draw a line through: enable an optimizer.")
    result = runs[min(run, len(runs) - 1)]
    problem = computed.problem
    if kind == "optimum":
        start = _finite(point_at(result, 0), result, "start")
        end, end_label, about_end = _optimum_for(computed, result)
        direction = end - start
        if _coincide(start, end):
            raise NoLine(f"{run_label(result.spec)} starts at {about_end}: there is no line between them. "
                         "Move the start, or cut along a random direction.")
        return CutLine(kind, start, direction, sample_t(*INTERPOLATION_T, (0.0, 1.0)),
                       ((0.0, "start", ""), (1.0, end_label, "")),
                       f"θ(t) = θ<sub>start</sub> + t (θ* − θ<sub>start</sub>): t = 0 is where {_named(result)} "
                       f"starts, t = 1 {about_end}.")
    if kind == "runs":
        if len(runs) < 2:
            raise NoLine("A line between two runs needs two: enable another optimizer.")
        first, second = result, runs[min(other, len(runs) - 1)]
        if first is second:
            raise NoLine("Choose two different runs for the two ends of the line.")
        step_a, step_b = min(frame, len(first.thetas) - 1), min(frame, len(second.thetas) - 1)
        a = _finite(point_at(first, frame), first, "point at this frame")
        b = _finite(point_at(second, frame), second, "point at this frame")
        direction = b - a
        if _coincide(a, b):
            why = ("every run starts at the same point: play or step forward" if max(step_a, step_b) == 0 else
                   "their paths meet or coincide here: pick another pair of runs, or another frame")
            raise NoLine(f"{run_label(first.spec)} and {run_label(second.spec)} are at the same point "
                         f"(within rounding) at this frame, step {max(step_a, step_b)}: {why}.")
        steps = f"step {step_a}" if step_a == step_b else f"steps {step_a} and {step_b}"
        marks = ((0.0, "A", run_color(first.index, first.spec)), (1.0, "B", run_color(second.index, second.spec)))
        return CutLine(kind, a, direction, sample_t(*INTERPOLATION_T, (0.0, 1.0)), marks,
                       f"θ(t) = θ<sub>A</sub> + t (θ<sub>B</sub> − θ<sub>A</sub>) at {steps}: "
                       f"A = {_named(first)}, B = {_named(second)}.")
    if kind == "random":
        span = SPAN.validate(span)
        step = min(frame, len(result.thetas) - 1)
        theta = _finite(point_at(result, frame), result, "point at this frame")
        direction, how = random_direction(problem, theta, SEED.validate(seed), computed.experiment.plane.bias)
        return CutLine(kind, theta, direction, sample_t(-span, span, (0.0,)), ((0.0, "θ", ""),),
                       f"θ(t) = θ + t δ through {_named(result)} at step {step}: δ {how} (seed {seed}).")
    raise ValueError(f"kind must be one of {', '.join(LINES)}; got {kind!r}")


def _optimum_for(computed, result) -> tuple[Array, str, str]:
    """θ* for a line from ``result``'s start: ``(theta, its short label, what it is in words)``."""
    problem = computed.problem
    end = point_at(result, len(result.thetas) - 1)
    who = html.escape(run_label(result.spec))
    if problem.is_surface:
        minima = getattr(problem.objective, "minima", ())
        if minima:
            diverged = result.trajectory.status == "diverged" or not np.all(np.isfinite(end))
            towards = point_at(result, 0) if diverged else end
            nearest = min(minima, key=lambda m: float(np.linalg.norm(m - towards)))
            where = ", ".join(f"{v:.3g}" for v in nearest)
            said = f"nearest its start ({who} diverged)" if diverged else f"nearest where {who} ends"
            return np.asarray(nearest, dtype=float), "minimum", f"the minimum ({where}) {said}"
    elif computed.experiment.plane.centre == "optimum":
        return np.asarray(problem.centre, dtype=float), "optimum", "the optimum θ* (the plane's centre)"
    centre = "" if problem.is_surface else \
        f" (the plane is centred at {'θ = 0' if computed.experiment.plane.centre == 'zero' else 'the random start'}," \
        " not at the optimum)"
    end = _finite(end, result, "end")
    if result.trajectory.status == "diverged":
        raise NoLine(f"{run_label(result.spec)} diverged, and the plane is not centred at the optimum: there is no "
                     "optimum to draw a line to. Pick another run, or centre the plane at the optimum.")
    return end, "end", f"where {who} ends, step {len(result.thetas) - 1}{centre}"


def random_direction(problem, theta: Array, seed: int, bias: str = "zero") -> tuple[Array, str]:
    """A seeded direction through ``theta`` for a 1-D cut, and how it was made (words).

    A classifier's is ``Plane.random(theta, model, seed, bias).d1``: Gaussian, each filter
    rescaled to the norm of theta's same filter (Li et al. 2018). A test surface has no
    filters: a seeded Gaussian direction of unit length.
    """
    if problem.model is None:
        d = np.random.default_rng(seed).standard_normal(theta.size)
        return d / np.linalg.norm(d), "a random unit direction (a test surface has no filters to normalize)"
    try:
        d = Plane.random(theta, problem.model, seed, bias).d1
    except ValueError as err:
        raise NoLine(f"No filter-normalized direction here: {err}") from None
    biases = "the biases fixed" if bias == "zero" else "each unit's bias in its filter"
    return d, f"a Gaussian direction, each filter as long as θ's (filter-normalized, Li et al. 2018; {biases})"


def _legend_html(rows) -> str:
    """One row per run: its coloured dot, then its name over where it projects (a table indents wrapped lines)."""
    cells = "".join(f"<tr><td>{_dot(result)}&nbsp;</td><td>{title}<br>{where}</td></tr>"
                    for result, title, where in rows)
    return f"<table cellspacing='0' cellpadding='1'>{cells}</table>"


def curve_blocks(objective, line: CutLine, part: str, with_accuracy: bool):
    """The loss along ``line`` and (``with_accuracy``) the accuracy: a generator returning ``(losses, accuracy|None)``.

    Each ``(T,)``; it yields once between the two (a cancellation point for a background job).
    Values that overflow far along the line come back as inf or nan (drawn as gaps), silently.
    """
    with np.errstate(all="ignore"):
        losses = loss_line(objective, line.theta0, line.direction, line.t, part)
    yield
    if not with_accuracy:
        return losses, None
    with np.errstate(all="ignore"):
        return losses, accuracy_line(objective, line.theta0, line.direction, line.t)


def curve_work(objective, line: CutLine) -> int:
    """A measure of a curve's cost: scores (and hidden units) computed along it, ``T * N * (C + H)``."""
    n = getattr(objective, "n_examples", None) or 1
    model = getattr(objective, "model", None)
    width = (getattr(objective, "n_classes", None) or 1) + ((model.hidden_units or 0) if model is not None else 0)
    return line.t.size * n * width


class PercentAxis(pg.AxisItem):
    """An accuracy axis: fractions shown as percentages."""

    def tickStrings(self, values, scale, spacing):
        return [f"{100 * v:.0f}%" for v in values]


@dataclass(frozen=True, eq=False)
class _Drawn:
    """The curve on screen and what it was computed from (to know when it must be computed again)."""

    objective: object
    part: str
    line: CutLine
    losses: Array
    accuracy: Array | None


class CutsPanel(QWidget):
    """The "1-D cuts" panel: loss and accuracy along a line, with every run's projection marked.

    ``show(computed, frame, data_run)`` draws it; call it when the panel is visible (it also
    waits until it is shown itself before computing). The curve is computed again only when
    the line, the objective or the part changes: with a line from the start to the optimum,
    moving through the frames only moves the markers. Colours follow the application's
    palette (light or dark theme), or ``set_colors``. With ``jobs`` (the session's
    ``JobRunner``) a curve larger than ``INLINE_WORK`` is computed in the background (the old
    picture stays until it is in); without, always at once.

    After drawing, ``run_t``, ``run_distance`` and ``run_heights`` ``(K,)`` hold each run's
    projection onto the line, its distance from it and the drawn part there (nan: diverged).
    """

    MARKER_SIZE = 11

    def __init__(self, jobs: JobRunner | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("cuts_panel")
        self.jobs = jobs
        self._computed = None
        self._frame = 0
        self._data_run: int | None = None
        self._drawn: _Drawn | None = None
        self._stale = False  # something changed while hidden: draw once shown
        self._theme: str | None = None
        self._foreground = FOREGROUNDS["light"]
        self._run_items: tuple = ()
        self.run_t = self.run_distance = self.run_heights = np.array([])

        # --- controls ------------------------------------------------------------------------
        self.kind = QComboBox()
        self.kind.setObjectName("combo_cut_line")
        for key, label in LINES.items():
            self.kind.addItem(label, key)
        self.kind.setToolTip("start → optimum: linear interpolation from a run's start to the optimum "
                             "(Goodfellow et al. 2015); between two runs: from one run's current point to "
                             "another's; random direction: a filter-normalized direction through a run's point")
        self.run = QComboBox()
        self.run.setObjectName("combo_cut_run")
        self.run.setToolTip("the run the line starts from (or goes through); follows the data view's run "
                            "until you pick one here")
        self.other = QComboBox()
        self.other.setObjectName("combo_cut_other")
        self.other.setToolTip("the run at the line's other end, t = 1")
        self.seed = NumberField(SEED, 0)
        self.seed.setObjectName("field_cut_seed")
        self.seed.setMaximumWidth(56)
        self.next_seed = QToolButton()
        self.next_seed.setObjectName("button_cut_next_seed")
        self.next_seed.setText("↻")
        self.next_seed.setToolTip("another random direction (the next seed)")
        self.span = NumberField(SPAN, SPAN.default)
        self.span.setObjectName("field_cut_span")
        self.span.setMaximumWidth(56)
        random_row = QHBoxLayout()
        random_row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.seed, self.next_seed, QLabel("t ±"), self.span):
            random_row.addWidget(widget)
        random_row.addStretch(1)
        self.random_row = QWidget()
        self.random_row.setLayout(random_row)
        self.part = QComboBox()
        self.part.setObjectName("combo_cut_part")
        for part in PARTS:
            self.part.addItem(PART_LABELS[part], part)
        self.part.setToolTip("which part of the objective to draw along the line")
        self.log = QCheckBox("log")
        self.log.setObjectName("check_cut_log")
        self.log.setToolTip("a logarithmic loss axis (values ≤ 0, such as a hinge loss of 0, are left out)")
        part_row = QHBoxLayout()
        part_row.setContentsMargins(0, 0, 0, 0)
        part_row.addWidget(self.part, 1)
        part_row.addWidget(self.log)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("line", self.kind)
        self.run_label = QLabel("run")
        form.addRow(self.run_label, self.run)
        self.other_label = QLabel("t = 1")
        form.addRow(self.other_label, self.other)
        self.random_label = QLabel("seed")
        form.addRow(self.random_label, self.random_row)
        form.addRow("show", part_row)
        controls = QWidget()
        controls.setLayout(form)
        controls.setFixedWidth(260)

        # --- plot ----------------------------------------------------------------------------
        self.plot = pg.PlotWidget(axisItems={"left": LossAxis("left"), "bottom": LossAxis("bottom"),
                                             "right": PercentAxis("right")}, enableMenu=False)
        self.plot.setObjectName("plot_cuts")
        self.plot_item = self.plot.getPlotItem()
        self.grid = GridLines(self.plot_item)
        self.plot_item.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.plot_item.setLabel("bottom", "t")
        self.loss_curve = self.plot_item.plot(pen=pg.mkPen(self._foreground, width=2), connect="finite")
        self.loss_curve.setZValue(5)
        # the accuracy has an axis of its own (right): a second view sharing the t axis
        self.accuracy_view = pg.ViewBox(enableMouse=False)
        self.plot_item.scene().addItem(self.accuracy_view)
        self.plot_item.getAxis("right").linkToView(self.accuracy_view)
        self.accuracy_view.setXLink(self.plot_item.vb)
        self.accuracy_view.setYRange(0.0, 1.0, padding=0.03)
        self.accuracy_curve = pg.PlotDataItem(connect="finite")
        self.accuracy_view.addItem(self.accuracy_curve)
        self.plot_item.vb.sigResized.connect(self._align_views)
        self.marks: list[pg.InfiniteLine] = []
        self.markers = pg.ScatterPlotItem(size=self.MARKER_SIZE, hoverable=True, tip=lambda x, y, data: data)
        self.markers.setZValue(10)
        self.plot_item.addItem(self.markers, ignoreBounds=True)  # moving markers must not rescale the axes
        self.plot_item.getAxis("left").setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

        self.caption = MutedLabel()
        self.caption.setObjectName("label_cut_caption")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.legend = QLabel()
        self.legend.setObjectName("label_cut_legend")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.legend.setWordWrap(True)
        legend_area = QScrollArea()  # a short dock scrolls the legend instead of growing
        legend_area.setObjectName("scroll_cut_legend")
        legend_area.setWidget(self.legend)
        legend_area.setWidgetResizable(True)
        legend_area.setFrameShape(QFrame.Shape.NoFrame)
        legend_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        legend_area.setFixedWidth(260)

        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(controls)
        left.addWidget(legend_area, 1)
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.setSpacing(2)
        right.addWidget(self.caption)
        right.addWidget(self.plot, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(left)
        layout.addLayout(right, 1)

        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.run.currentIndexChanged.connect(self._redraw)
        self.other.currentIndexChanged.connect(self._redraw)
        self.seed.committed.connect(self._redraw)
        self.next_seed.clicked.connect(lambda: self._set_seed(self.seed.value() + 1))
        self.span.committed.connect(self._redraw)
        self.part.currentIndexChanged.connect(self._redraw)
        self.log.toggled.connect(self._log_toggled)
        self._show_kind_controls()
        self._follow_palette()

    # --- API -----------------------------------------------------------------------------------
    def show(self, computed=None, frame: int = 0, data_run: int = 0) -> None:
        """Draw the cut for ``computed`` (a ``Computed``) at ``frame``.

        ``data_run``: the data view's run (its position in ``computed.runs``); the panel's run
        follows it until the user picks another one here. Called with no arguments this is
        ``QWidget.show``.
        """
        if computed is None:
            super().show()
            return
        self._computed, self._frame = computed, int(frame)
        self._sync_runs(computed.runs, data_run)
        surface = computed.problem.is_surface
        self.part.setEnabled(not surface)
        self.part.setToolTip("a test surface is its own loss: no data loss, no penalty" if surface else
                             "which part of the objective to draw along the line")
        self._redraw()

    def set_colors(self, foreground: str, background: str) -> None:
        """Text, axes and the loss curve in ``foreground`` on ``background`` (the figure's theme colours)."""
        self._foreground = foreground
        self.plot.setBackground(background)
        muted = muted_color(QColor(foreground), QColor(background), 4.5).name()
        for side in ("left", "bottom"):
            axis = self.plot_item.getAxis(side)
            axis.setPen(foreground)
            axis.setTextPen(foreground)
        right = self.plot_item.getAxis("right")
        right.setPen(muted)
        right.setTextPen(muted)
        self.loss_curve.setPen(pg.mkPen(foreground, width=2))
        self.accuracy_curve.setPen(pg.mkPen(muted, width=1.6, style=Qt.PenStyle.DashLine))
        self._accuracy_color = muted
        self.markers.setPen(pg.mkPen(foreground, width=1.2))
        for line in self.marks:
            self._style_mark(line)
        if self._drawn is not None:  # the caption's key and the axis labels carry the colours too
            self._label_axes()
            self.caption.setText(self._caption(self._drawn.line))

    # --- drawing -------------------------------------------------------------------------------
    def _redraw(self, *_) -> None:
        if self._computed is None:
            return
        if not self.isVisible():
            self._stale = True  # computed once the panel is shown
            return
        self._stale = False
        try:
            line = cut_line(self._computed, self._frame, self.kind.currentData(), max(self.run.currentIndex(), 0),
                            max(self.other.currentIndex(), 0), self.seed.value(), self.span.value())
        except NoLine as err:
            self._clear(str(err))
            return
        problem = self._computed.problem
        part = self.part.currentData() if not problem.is_surface else "total"
        if self._same_curve(problem.objective, part, line):
            if self.jobs is not None:
                self.jobs.cancel(JOB)  # a curve on its way for another line is not wanted now
            self._drawn = _Drawn(problem.objective, part, line, self._drawn.losses, self._drawn.accuracy)
            self.caption.setText(self._caption(line))  # the same curve, said of the current step
            self._draw_markers()
            return
        def work():
            return curve_blocks(problem.objective, line, part, problem.dataset is not None)

        if self.jobs is None or curve_work(problem.objective, line) <= INLINE_WORK:
            self._curve_ready(problem.objective, part, line, drain(work()))
            return
        # a large problem: in the background, the old picture stays until the new one is in (a newer frame supersedes)
        self.jobs.submit(JOB, work, on_result=lambda result: self._curve_ready(problem.objective, part, line, result),
                         on_error=lambda error: self._clear(f"The cut could not be computed: {error}"))

    def _same_curve(self, objective, part: str, line: CutLine) -> bool:
        d = self._drawn
        return (d is not None and d.objective is objective and d.part == part
                and np.array_equal(d.line.theta0, line.theta0) and np.array_equal(d.line.direction, line.direction)
                and np.array_equal(d.line.t, line.t) and d.line.marks == line.marks)

    def _curve_ready(self, objective, part: str, line: CutLine, curves: tuple[Array, Array | None]) -> None:
        """Draw a computed curve (and the markers on it)."""
        if sip.isdeleted(self) or self._computed is None or self._computed.problem.objective is not objective:
            return  # a background result for a panel gone, or for another problem
        losses, accuracy = curves
        self._drawn = _Drawn(objective, part, line, losses, accuracy)
        self._set_marks(line.marks)
        self._show_loss()
        has_accuracy = accuracy is not None
        self.plot_item.showAxis("right", has_accuracy)
        self.accuracy_view.setVisible(has_accuracy)
        self.accuracy_curve.setData(line.t, accuracy if has_accuracy else np.array([]))
        self.plot_item.setXRange(float(line.t[0]), float(line.t[-1]), padding=0.02)
        self.caption.setText(self._caption(line))
        self._label_axes()
        self._draw_markers()

    def _show_loss(self) -> None:
        """The loss curve on the current scale: values ≤ 0 (and inf) are gaps on a log axis."""
        d = self._drawn
        log = self.log.isChecked()
        y = np.where(np.isfinite(d.losses), d.losses, np.nan)
        if log:
            y = np.where(y > 0, y, np.nan)  # a hinge loss of 0 has no logarithm: a gap, not -inf
        if self.plot_item.ctrl.logYCheck.isChecked() != log:
            self.plot_item.setLogMode(False, log)
            self.plot_item.getAxis("right").setLogMode(False, False)  # the accuracy's own view is never log
        self.loss_curve.setData(d.line.t, y)
        flat = flat_range(y, log)
        if flat is not None:  # a loss that does not move (a stuck network): a readable window, not rounding noise
            self.plot_item.setYRange(*flat, padding=0)
        else:
            self.plot_item.enableAutoRange(axis="y")

    def _caption(self, line: CutLine) -> str:
        """The line in words, then what the two curves are."""
        d = self._drawn
        key = f"<span style='color:{self._foreground}'>━</span> {self._loss_name()} (left axis)"
        if d.accuracy is not None:
            key += f" &nbsp; <span style='color:{self._accuracy_color}'>┅</span> training accuracy (right axis)"
        else:
            key += " &nbsp; (a test surface has no examples: no accuracy)"
        if self.log.isChecked() and np.any(d.losses <= 0):
            key += " &nbsp; · gaps: a loss of 0 has no place on a log axis"
        return f"{line.caption}<br>{key}"

    def _loss_name(self) -> str:
        return "f(θ)" if self._computed.problem.is_surface else PART_LABELS[self._drawn.part]

    def _label_axes(self) -> None:
        self.plot_item.setLabel("left", self._loss_name() + (" (log scale)" if self.log.isChecked() else ""),
                                color=self._foreground)
        self.plot_item.setLabel("bottom", "t", color=self._foreground)
        if self._drawn.accuracy is not None:
            self.plot_item.setLabel("right", "accuracy", color=self._accuracy_color)

    def _set_marks(self, marks) -> None:
        for line in self.marks:
            self.plot_item.removeItem(line)
        self.marks = []
        for t, label, color in marks:
            line = pg.InfiniteLine(t, angle=90, movable=False, label=label,
                                   labelOpts={"position": 0.93, "anchors": [(0, 0.5), (0, 0.5)]})
            line.setToolTip(f"t = {t:g}: {label}")
            line._mark_color = color
            self._style_mark(line)
            self.plot_item.addItem(line, ignoreBounds=True)
            self.marks.append(line)

    def _style_mark(self, line: pg.InfiniteLine) -> None:
        color = line._mark_color or self._foreground
        line.setPen(pg.mkPen(color, width=1.4, style=Qt.PenStyle.DashLine))
        line.label.setColor(color if not line._mark_color else self._foreground)

    def _draw_markers(self) -> None:
        """Each run's current point, projected onto the line, in its colour; the legend says where."""
        d = self._drawn
        line, computed = d.line, self._computed
        results = computed.runs
        thetas = [point_at(r, self._frame) for r in results]
        finite = np.array([np.all(np.isfinite(theta)) for theta in thetas], dtype=bool)
        t = np.full(len(results), np.nan)
        distance = np.full(len(results), np.nan)
        heights = np.full(len(results), np.nan)
        if finite.any():
            with np.errstate(all="ignore"):
                t[finite], distance[finite] = project_onto_line(np.array(thetas)[finite], line.theta0, line.direction)
                heights[finite] = loss_line(computed.problem.objective, line.theta0, line.direction, t[finite], d.part)
        self.run_t, self.run_distance, self.run_heights = t, distance, heights
        log = self.log.isChecked()
        spots, rows = [], []
        lo, hi = float(line.t[0]), float(line.t[-1])
        length = float(np.linalg.norm(line.direction))
        for k, result in enumerate(results):
            name = run_label(result.spec)
            step = min(self._frame, len(result.thetas) - 1)
            diverged = result.trajectory.status == "diverged" and step == len(result.thetas) - 1
            title = html.escape(name) + (" <i>(diverged)</i>" if diverged or not finite[k] else "")
            if not finite[k]:
                rows.append((result, title, "not a finite point: not on any line"))
                continue
            size = length + float(np.linalg.norm(line.theta0)) + float(np.linalg.norm(thetas[k]))
            off = "on the line" if distance[k] <= ROUNDING * size else f"{distance[k]:.3g} from the line"
            where = f"t = {_short(t[k])}{'' if lo <= t[k] <= hi else ' (off the plot)'}, {off}"
            y = heights[k]
            if log and y <= 0:
                where += f"; {self._loss_name()} 0 there (not on a log axis)"
            rows.append((result, title, where))
            if not np.isfinite(y) or (log and y <= 0):
                continue
            tip = (f"{name}, step {step}\nprojected onto the line at t = {t[k]:.4g}\n"
                   f"{self._loss_name()} there: {y:.5g}\ndistance from the line: {distance[k]:.4g}")
            spots.append({"pos": (t[k], np.log10(y) if log else y), "data": tip,
                          "brush": pg.mkBrush(run_color(result.index, result.spec))})
        self.markers.setData(spots)
        self.legend.setText(_legend_html(rows))

    def _clear(self, message: str) -> None:
        if sip.isdeleted(self):
            return
        if self.jobs is not None:
            self.jobs.cancel(JOB)
        self._drawn = None
        self.loss_curve.setData([], [])
        self.accuracy_curve.setData([], [])
        self.markers.setData([])
        self._set_marks(())
        self.plot_item.showAxis("right", False)
        self.accuracy_view.setVisible(False)
        self.legend.setText("")
        self.caption.setText(f"<b>{html.escape(message)}</b>")

    # --- controls ------------------------------------------------------------------------------
    def _sync_runs(self, results, data_run: int) -> None:
        """The run combos list ``results``; the first follows the data view's run when that changes."""
        items = tuple((run_label(r.spec), run_color(r.index, r.spec)) for r in results)
        follow = data_run != self._data_run
        self._data_run = data_run
        if items == self._run_items and not follow:
            return
        mine, theirs = self.run.currentIndex(), self.other.currentIndex()
        for combo in (self.run, self.other):
            combo.blockSignals(True)
            if items != self._run_items:
                combo.clear()
                for label, color in items:
                    combo.addItem(swatch(color), label)
        n = len(items)
        first = min(data_run, n - 1) if follow or mine < 0 else min(mine, n - 1)
        self.run.setCurrentIndex(first)
        # B: the user's choice if it is another run, else the next run along
        second = theirs if 0 <= theirs < n and theirs != first else (first + 1) % max(n, 1)
        self.other.setCurrentIndex(second if n else -1)
        for combo in (self.run, self.other):
            combo.blockSignals(False)
        self._run_items = items

    def _kind_changed(self, *_) -> None:
        self._show_kind_controls()
        self._redraw()

    def _show_kind_controls(self) -> None:
        kind = self.kind.currentData()
        self.run_label.setText("t = 0" if kind == "runs" else "run")
        for widget in (self.other_label, self.other):
            widget.setVisible(kind == "runs")
        for widget in (self.random_label, self.random_row):
            widget.setVisible(kind == "random")

    def _set_seed(self, seed: int) -> None:
        self.seed.set_value(SEED.validate(seed))
        self._redraw()

    def _log_toggled(self, _on: bool) -> None:
        if self._drawn is None:
            self._redraw()
            return
        self._show_loss()
        self._label_axes()
        self.caption.setText(self._caption(self._drawn.line))
        self._draw_markers()

    def _align_views(self) -> None:
        self.accuracy_view.setGeometry(self.plot_item.vb.sceneBoundingRect())
        self.accuracy_view.linkedViewChanged(self.plot_item.vb, self.accuracy_view.XAxis)

    # --- Qt ------------------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._redraw()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in PALETTE_EVENTS:
            self._follow_palette()

    def _follow_palette(self) -> None:
        theme = "dark" if is_dark(QApplication.palette()) else "light"
        if theme != self._theme:
            self._theme = theme
            self.set_colors(FOREGROUNDS[theme], BACKGROUNDS[theme])
