"""Curvature in the window: a readout of the Hessian at the selected run's point, 2/λ_max beside
the learning-rate fields, the Hessian's axes on a landscape panel, and λ_min/λ_max over the plane.

The numbers come from :mod:`losslab.engine.curvature_map` (which Hessian, what each number
means, the bounds of each method): this module only shows them.

- :class:`CurvatureReadout`: λ_max, λ_min, κ, κ over the curved directions, 2/λ_max and the
  run's lr (in the theme's "wrong" colour when the method is unstable there);
- :func:`lr_max_text` and :class:`LrMaxLabel`: the bound beside a learning-rate field;
- :class:`EigenAxes`: the top two eigenvectors as crossing segments through the run's point,
  lengths ∝ 1/√λ (the quadratic model's level set, drawn dotted through their ends);
- :class:`CurvatureMapItem`: λ_min/λ_max over a coarse grid of the plane (Li et al.'s map), as
  markers: red discs where the loss curves down (λ_min < 0), hollow circles where it is convex.

Which run, which frame: the window decides; :func:`cheap_curvature` says whether a problem's
curvature may be computed on the GUI thread (every frame while playing, even) or belongs in a job.
"""
from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QPainterPath, QPen
from PyQt6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QGridLayout, QLabel, QVBoxLayout, QWidget

from ..engine.curvature_map import (CURVED_RTOL, CurvatureMap, PointCurvature, StableLR, lr_at, point_curvature,
                                    stable_lr)
from ..engine.optimizers import OPTIMIZERS
from .jobs import JobRunner, single
from .widgets import PALETTE_EVENTS, MutedLabel, ParamForm, theme_color

Array = np.ndarray

INLINE_SCORES = 200_000  # N × C up to which a small Hessian is computed at once (as the readout does)
INLINE_PARAMS = 64  # parameters up to which the full-space Hessian is computed at once
CHANNEL = "curvature"  # the job runner's channel of the readout


# --- numbers as text ----------------------------------------------------------------------------

def number(value: float | None, digits: int = 4) -> str:
    """``0.2``, ``1.23e-05``, ``∞``, ``−3.1``; ``—`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.{digits}g}".replace("-", "−")


def subscripts(text: str) -> str:
    """``λ_max``, ``λ_min`` as rich-text subscripts."""
    return text.replace("λ_max", "λ<sub>max</sub>").replace("λ_min", "λ<sub>min</sub>")


def lr_max_text(lr: float | None, lr_max: float | None, formula: str = "2/λ_max") -> tuple[str, bool]:
    """The bound beside a learning-rate field: ``(text, warn)``, ``warn`` exactly when ``lr > lr_max``.

    ``lr_max``: the method's bound (``StableLR.bound``: ``2/λ_max`` for gradient descent and
    SGD, ``2(1+μ)/λ_max`` for momentum... with its ``formula``); None or NaN: unknown, or no
    bound applies (empty text). The window shows it at the runs' start point (:class:`LrMaxLabel`).
    """
    if lr_max is None or (isinstance(lr_max, float) and math.isnan(lr_max)):
        return "", False
    if math.isinf(lr_max):
        return f"{formula} = ∞: nothing curves up at the start", False
    if lr is not None and math.isfinite(lr) and lr > lr_max:
        return f"lr > {formula} = {number(lr_max, 3)}: unstable at the start", True
    return f"stable below {formula} = {number(lr_max, 3)} at the start", False


def method_name(method: str) -> str:
    return OPTIMIZERS[method].label if method in OPTIMIZERS else method


def short_name(method: str) -> str:
    """"GD", "SGD", "Momentum"...: the method in the warning's sentence."""
    return {"gd": "GD", "numerical_gd": "Numerical GD", "sgd": "SGD"}.get(method, method_name(method))


def lr_sentence(method: str, lr: float | None, bound: StableLR) -> tuple[str, bool]:
    """What the run's lr means here: ``(sentence, unstable)``."""
    if lr is None:
        return f"{method_name(method)} takes no gradient steps: no learning rate to bound", False
    if bound.bound is None:
        return f"{method_name(method)} scales each coordinate's step: 2/λ_max does not bound its lr", False
    name = short_name(method)
    if math.isinf(bound.bound):
        return f"nothing curves up here: {name} is stable at any lr", False
    if lr > bound.bound:
        return f"{name} is unstable here: lr > {bound.formula} = {number(bound.bound, 3)}", True
    return f"{name} is stable here: lr ≤ {bound.formula} = {number(bound.bound, 3)}", False


def cheap_curvature(computed: Any) -> bool:
    """Whether the curvature at a point of ``computed``'s runs takes a few milliseconds at most (fine on the
    GUI thread, even every frame while playing): a run in the slice (a 2 x 2 Hessian) or up to
    ``INLINE_PARAMS`` parameters in full space, with at most ``INLINE_SCORES`` scores (N × C)."""
    objective = computed.problem.objective
    scores = (getattr(objective, "n_examples", None) or 1) * (getattr(objective, "n_classes", None) or 1)
    if scores > INLINE_SCORES:
        return False
    slice_space = computed.experiment.slice_space and computed.problem.plane is not None
    return slice_space or objective.n_params <= INLINE_PARAMS


# --- the readout ----------------------------------------------------------------------------------

ROWS = ("lambda_max", "lambda_min", "condition", "curved_condition", "lr_max", "lr")
NAMES = {"lambda_max": "λ<sub>max</sub>", "lambda_min": "λ<sub>min</sub>",
         "condition": "κ = λ<sub>max</sub>/λ<sub>min</sub>", "curved_condition": "κ over curved directions",
         "lr_max": "2/λ<sub>max</sub>", "lr": "lr (this run)"}


class CurvatureReadout(QWidget):
    """The Hessian at the current point of one run: λ_max, λ_min, κ, κ over curved directions,
    2/λ_max and the run's lr (warning colour when its method is unstable there).

    ``show(computed, result, frame)`` shows run ``result`` of ``computed`` at ``frame``. The
    Hessian is of the space the run moves in (2 x 2 in (a, b) for a run in the slice, P x P in
    full space: see :mod:`losslab.engine.curvature_map`). Small problems are computed at once;
    larger ones (up to ~0.1 s at P = 650, more for networks) in the background through
    ``jobs`` (channel ``"curvature"``, superseded by the next call), when a runner is given.
    Results are remembered by (computed, point), so going back to a frame costs nothing.
    Meant to be called when the animation rests (paused, stepped, scrubbed), not every frame
    while it plays.

    ``texts[row]``: the value shown in each row (``ROWS``); ``hints[row]``: its explanation;
    ``warning``: whether the lr row warns; ``current``: the :class:`PointCurvature` shown.
    """

    def __init__(self, jobs: JobRunner | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("curvature_readout")
        self.jobs = jobs
        self.current: PointCurvature | None = None
        self.warning = False
        self._key: tuple | None = None  # (computed, run index, frame) asked for last
        self._shown: tuple | None = None  # ... and the one on screen
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 6, 8, 6)
        self.heading = QLabel()
        self.heading.setObjectName("curvature_heading")
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setWordWrap(True)
        self.space = MutedLabel()
        self.space.setObjectName("curvature_space")
        self.space.setTextFormat(Qt.TextFormat.RichText)
        self.space.setWordWrap(True)
        outer.addWidget(self.heading)
        outer.addWidget(self.space)
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(3)
        self._values: dict[str, QLabel] = {}
        self._hints: dict[str, QLabel] = {}
        for row, name in enumerate(ROWS):
            label = QLabel(NAMES[name])
            label.setTextFormat(Qt.TextFormat.RichText)
            value = QLabel("—")
            value.setObjectName(f"curvature_{name}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setMinimumWidth(value.fontMetrics().horizontalAdvance("−0.00000e−00"))  # no jitter between frames
            hint = QLabel() if name == "lr" else MutedLabel()
            hint.setObjectName(f"curvature_{name}_hint")
            hint.setTextFormat(Qt.TextFormat.RichText)
            hint.setWordWrap(True)
            grid.addWidget(label, row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(hint, row, 2)
            self._values[name], self._hints[name] = value, hint
        grid.setColumnStretch(2, 1)
        outer.addLayout(grid)
        outer.addStretch(1)
        self.setToolTip("The Hessian H of the loss at the run's current point, in the space the run moves in. "
                        "Gradient descent multiplies the component along H's top eigenvector by 1 − lr·λ_max "
                        "each step: it shrinks only while lr < 2/λ_max.")
        self.clear()

    # --- what is shown ---------------------------------------------------------------------------
    @property
    def texts(self) -> dict[str, str]:
        """The value shown in each row (``ROWS``), as plain text."""
        return dict(self._texts)

    @property
    def hints(self) -> dict[str, str]:
        """Each row's explanation (rich text)."""
        return dict(self._hint_texts)

    def clear(self, message: str = "No run to show: enable an optimizer.") -> None:
        if self.jobs is not None:
            self.jobs.cancel(CHANNEL)
        self._key = self._shown = self.current = None
        self.heading.setText(html.escape(message))
        self.space.setText("")
        self._write(dict.fromkeys(ROWS, "—"), dict.fromkeys(ROWS, ""), False)

    def show(self, computed: Any = None, result: Any = None, frame: int = 0) -> None:
        """Show run ``result`` of ``computed`` at ``frame`` (clamped to its last iterate).

        Computed at once when small or remembered, else in the background (the rows keep the
        last point's numbers, marked "computing…", until it arrives). Without arguments this
        is ``QWidget.show()``.
        """
        if computed is None:
            super().show()
            return
        t = max(0, min(int(frame), len(result.ab) - 1))
        key = (computed, result.index, t)
        if key == self._key and (key == self._shown or (self.jobs is not None and self.jobs.is_running(CHANNEL))):
            return  # on screen already, or on its way
        self._key = key
        self._write_heading(result, t, "")
        if self.jobs is None or cheap_curvature(computed):
            self._compute_now(computed, result, t)
            return
        self.jobs.submit(CHANNEL, lambda: single(point_curvature, computed, result, t),
                         on_result=lambda found: self._arrived(key, result, found),
                         on_error=lambda error: self._failed(key, result, error))
        self._write_heading(result, t, "computing…")

    def _compute_now(self, computed, result, t: int) -> None:
        try:
            found = point_curvature(computed, result, t)
        except ValueError as error:  # a diverged iterate
            self._failed(self._key, result, error)
            return
        self._show(result, found)
        self._shown = self._key

    def _arrived(self, key: tuple, result, found: PointCurvature) -> None:
        if key == self._key:
            self._show(result, found)
            self._shown = key

    def _failed(self, key: tuple, result, error: Exception) -> None:
        if key != self._key:
            return
        self.current, self._shown = None, None
        self._write_heading(result, key[2], "")
        self.space.setText(html.escape(str(error)))
        self._write(dict.fromkeys(ROWS, "—"), dict.fromkeys(ROWS, ""), False)

    def _write_heading(self, result, t: int, status: str) -> None:
        from .views import run_color, run_label  # views imports the arrows: kept out of import time
        dot = f"<span style='color:{run_color(result.index, result.spec)}'>●</span>"
        where = "the start" if t == 0 else f"step {t}"
        tail = f" <i>{html.escape(status)}</i>" if status else ""
        self.heading.setText(f"<b>Curvature</b> at {where} of {dot} {html.escape(run_label(result.spec))}{tail}")

    def _show(self, result, found: PointCurvature) -> None:
        self.current = found
        self._write_heading(result, found.frame, "")
        c, curved = found.curvature, found.curved
        if found.space == "slice":
            self.space.setText("Hessian of L(a, b), 2 × 2: this run moves in the drawn slice, "
                               "so the slice's curvature decides its stability")
        else:
            method = "" if c.method == "dense" else " (the ends of the spectrum, by Lanczos)"
            self.space.setText(f"Hessian of L(θ), all P = {found.n_params} parameters: this run moves in "
                               f"full space{method}")
        values = {"lambda_max": number(c.lambda_max), "lambda_min": number(c.lambda_min),
                  "condition": number(c.condition), "curved_condition": number(curved.condition),
                  "lr_max": number(c.lr_max)}
        hints = {"lambda_max": "the sharpest curvature: the top eigenvalue of H",
                 "lambda_min": "the flattest: 0 along a flat direction, negative where the loss curves down",
                 "condition": "the condition number: ∞ whenever λ<sub>min</sub> ≤ 0 (a flat or downward "
                              "direction)",
                 "curved_condition": self._curved_hint(found),
                 "lr_max": "gradient descent's largest stable learning rate here"}
        traj = result.trajectory
        lr = lr_at(traj.hyper, found.frame)
        bound = stable_lr(traj.method, traj.hyper, c.lambda_max)
        sentence, unstable = lr_sentence(traj.method, lr, bound)
        values["lr"] = number(lr)
        hints["lr"] = ("⚠ " if unstable else "") + subscripts(html.escape(sentence))
        self._write(values, hints, unstable)

    @staticmethod
    def _curved_hint(found: PointCurvature) -> str:
        curved = found.curved
        if curved.smallest is None:
            if found.curvature.method != "dense" and found.lambda_max > 0:
                return "unknown: Lanczos finds only the ends of the spectrum, and its lowest are flat"
            return "no direction curves up here"
        rtol = f"10<sup>{round(math.log10(CURVED_RTOL))}</sup>"
        flat = ""
        if curved.n_flat:
            flat = f"; {curved.n_flat} flat direction{'s' * (curved.n_flat != 1)} left out"
        if curved.n_down:
            flat += f", {curved.n_down} curving down"
        return (f"λ<sub>max</sub>/λ<sub>+</sub>, λ<sub>+</sub> = {number(curved.smallest)}: the smallest "
                f"λ above {rtol}·λ<sub>max</sub>{flat}")

    # --- writing the rows ------------------------------------------------------------------------
    def _write(self, values: dict[str, str], hints: dict[str, str], warn: bool) -> None:
        """Every row's value and hint (rich text); the lr row in the theme's "wrong" shade when ``warn``."""
        self._texts, self._hint_texts, self.warning = dict(values), dict(hints), warn
        for name in ROWS:
            value, hint = html.escape(values[name]), hints[name]
            if name == "lr" and warn:  # coloured in the text: a style sheet would send a palette change back
                color = theme_color("wrong", self.palette()).name()
                value = f"<span style='color:{color}'><b>{value}</b></span>"
                hint = f"<span style='color:{color}'><b>{hint}</b></span>"
            self._values[name].setText(value)
            self._hints[name].setText(hint)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in PALETTE_EVENTS and self.warning:  # the theme's shade of "wrong" changed
            self._write(self._texts, self._hint_texts, True)


# --- 2/λ_max beside a learning-rate field ---------------------------------------------------------

class LrMaxLabel(MutedLabel):
    """The method's stable bound at the runs' start point, beside a learning-rate field.

    At the **start** (where every run begins, so one Hessian serves every field, and a
    setting is judged where it is first used): ``show_start(spec, start)`` with ``start`` the
    :class:`PointCurvature` there (``curvature_map.start_curvature(computed)``) or None.
    ``warn`` is True exactly when the spec's lr exceeds its method's bound there; the text
    then takes the theme's "wrong" colour (otherwise it is muted, as secondary text).
    """

    warn = False  # class attributes: MutedLabel's __init__ already delivers a palette change
    plain_text = ""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("", parent)
        self.setObjectName("label_lr_max")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        self.setToolTip("Gradient descent is stable at a point only while lr < 2/λ_max, λ_max the largest "
                        "eigenvalue of the Hessian there (momentum: 2(1+μ)/λ_max). Shown at the runs' start.")
        self.setVisible(False)

    def show_start(self, spec: Any, start: PointCurvature | None) -> None:
        """``spec``: the run's ``RunSpec``; ``start``: the curvature at the runs' start (None: hide)."""
        hyper = OPTIMIZERS[spec.method].defaults | spec.hyper_dict if spec.method in OPTIMIZERS else spec.hyper_dict
        if start is None or "lr" not in hyper:
            self.show_text("", False)
            return
        bound = stable_lr(spec.method, hyper, start.lambda_max)
        if bound.bound is None:  # Adam & co.: gradient descent's bound, for reference only
            self.show_text(f"GD's 2/λ_max = {number(bound.lr_max, 3)} ({method_name(spec.method)} rescales "
                           "its steps)", False)
            return
        self.show_text(*lr_max_text(float(hyper["lr"]), bound.bound, bound.formula))

    def show_text(self, text: str, warn: bool) -> None:
        self.warn, self.plain_text = warn, text
        self.setVisible(bool(text))
        self._paint()

    def _paint(self) -> None:
        """The text, in the theme's "wrong" shade when it warns (in the text: a style sheet would
        send a palette change back to ``changeEvent``)."""
        text = subscripts(html.escape(self.plain_text))
        if self.warn:
            text = f"<span style='color:{theme_color('wrong', self.palette()).name()}'>⚠ {text}</span>"
        self.setText(text)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in PALETTE_EVENTS and self.warn:
            self._paint()


def add_lr_max_row(form: ParamForm) -> LrMaxLabel | None:
    """An :class:`LrMaxLabel` in ``form``, the row right below its ``lr`` field; None without one."""
    editor = form.editors.get("lr")
    if editor is None:
        return None
    row, _ = form.layout_.getWidgetPosition(editor)
    label = LrMaxLabel()
    form.layout_.insertRow(row + 1, "", label)
    return label


# --- the Hessian's axes on a landscape ---------------------------------------------------------

AXIS_SHARE = 0.2  # the longer half-axis, as a share of the view's smaller side
MIN_HALF_PX = 8.0  # a half-axis is never drawn shorter (a very sharp direction stays visible)
AXIS_WIDTH, EDGE = 2.6, 1.4  # px: the line, and its dark edge on each side
EDGE_COLOR = (0, 0, 0, 170)
ELLIPSE_POINTS = 73
PARALLEL = 1e-12  # a projected eigenvector shorter than this (plane units) is perpendicular to the plane
SUBSCRIPT = {0: "₁", 1: "₂"}


class _Line(QGraphicsPathItem):
    """A path in plane coordinates whose bounding rect is its points' (not padded by the pen in plane units)."""

    def boundingRect(self) -> QRectF:
        return self.path().controlPointRect()


class _Caption(pg.LabelItem):
    """A label on a light box, anchored in a corner of the view."""

    def paint(self, painter, *args) -> None:
        painter.setPen(pg.mkPen(120, 120, 120, 200))
        painter.setBrush(pg.mkBrush(255, 255, 255, 215))
        painter.drawRect(self.boundingRect())

    def mouseDragEvent(self, event) -> None:  # a drag over it pans the view
        event.ignore()


class EigenAxes(pg.GraphicsObject):
    """The Hessian's top two eigenvectors as crossing segments through a run's point, on a landscape.

    ``attach(plot_item)`` adds it (and its caption, in the view's bottom-left corner) to a
    ``pg.PlotItem``; ``set_axes(point_ab, v1_ab, v2_ab, lam1, lam2, color)`` draws them:
    ``v_ab`` the eigenvectors in plane coordinates (``PointCurvature.axes_ab``), ``lam`` their
    eigenvalues. Each segment is ``point ± h_k``, ``h_k ∝ v_k / √λ_k``: the semi-axes of the
    quadratic model's level set ``½ δᵀHδ = const`` (drawn dotted through their ends), scaled
    together so that the longer is ``AXIS_SHARE`` of the view (a half never shorter than
    ``MIN_HALF_PX``): the picture is the shape, the labels give the numbers. A direction
    with λ ≤ 0 (flat, or curving down) has no such length: it is drawn dashed, as long as the
    longest. ``show_curvature(found, color)`` takes a :class:`PointCurvature` whole.

    ``half_axes (2, 2)``: the drawn ``h₁, h₂`` in plane units (NaN rows: not drawn);
    ``segments``: the items of v₁ and v₂ (their paths: ``point − h_k`` to ``point + h_k``).
    """

    def __init__(self):
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self.setZValue(14)  # over the paths (10), under the arrows (15) and the iterates' markers (25)
        self._axes: tuple | None = None
        self._cleared = False  # whether clear() has hidden everything since the axes were last drawn
        self.half_axes = np.full((2, 2), np.nan)
        self.segments: list[_Line] = []
        self._edges: list[_Line] = []
        for _ in range(3):  # v₁, v₂, the ellipse
            edge, line = _Line(self), _Line(self)
            edge.setZValue(0)
            line.setZValue(1)
            self._edges.append(edge)
            self.segments.append(line)
        self.ellipse = self.segments.pop()
        self._ellipse_edge = self._edges.pop()
        self.labels = [pg.TextItem("", color="#222222", fill=(255, 255, 255, 215), anchor=(0, 0.5))
                       for _ in range(2)]
        for label in self.labels:
            label.setParentItem(self)
            label.setZValue(2)
        self.caption = _Caption("", size="8pt", color="#222222", justify="left")
        self.caption.setZValue(40)
        self.clear()

    def attach(self, plot_item: pg.PlotItem) -> None:
        """Put the axes on ``plot_item``'s plane and their caption in its bottom-left corner."""
        plot_item.addItem(self, ignoreBounds=True)
        self.caption.setParentItem(plot_item.vb)
        self.caption.anchor(itemPos=(0, 1), parentPos=(0, 1), offset=(6, -6))

    def boundingRect(self) -> QRectF:
        return QRectF()

    def paint(self, *args) -> None:  # the children draw
        pass

    # --- what is shown ------------------------------------------------------------------------------
    def clear(self) -> None:
        if self._axes is None and self._cleared:
            return  # the figure clears at every frame while no axes are asked for: setting the text is slow
        self._axes = None
        self._hide_drawing()
        self.caption.setText("")
        self.caption.setVisible(False)
        self._cleared = True

    def set_axes(self, point_ab, v1_ab, v2_ab, lam1: float, lam2: float, color: str,
                 in_plane: tuple[float, float] | None = None) -> None:
        """Draw the axes at ``point_ab (2,)`` along ``v1_ab, v2_ab (2,)`` with eigenvalues ``lam1 ≥ lam2``.

        ``color``: the run's (``"#rrggbb"``); ``in_plane``: the share of each unit eigenvector
        lying in the plane, for full-space runs (the caption says it); None in the slice.
        """
        point = np.asarray(point_ab, dtype=float)
        vectors = np.array([v1_ab, v2_ab], dtype=float)
        if point.shape != (2,) or vectors.shape != (2, 2):
            raise ValueError(f"point_ab, v1_ab, v2_ab must have shape (2,), got {point.shape} and {vectors.shape}")
        if not (np.isfinite(point).all() and np.isfinite(vectors).all()):
            self.clear()
            return
        self._axes = (point, vectors, (float(lam1), float(lam2)), str(color), in_plane)
        self._cleared = False
        self.redraw()

    def show_curvature(self, found: PointCurvature | None, color: str) -> None:
        """``set_axes`` from a :class:`PointCurvature` (None clears)."""
        if found is None:
            self.clear()
            return
        self.set_axes(found.point_ab, found.axes_ab[0], found.axes_ab[1], *found.axes_lambdas, color,
                      None if found.space == "slice" else tuple(float(s) for s in found.in_plane))

    def viewRangeChanged(self) -> None:  # pyqtgraph calls these when the view pans, zooms or resizes
        self.redraw()

    def viewTransformChanged(self) -> None:
        self.redraw()

    # --- drawing ----------------------------------------------------------------------------------------
    def _pixels_per_unit(self) -> tuple[Array, float]:
        """Pixels per plane unit along a and b, and the view's smaller side in pixels."""
        view = self.getViewBox()
        if view is None or not hasattr(view, "viewRange"):
            return np.ones(2), 100.0
        (x0, x1), (y0, y1) = view.viewRange()
        pixels = np.array([max(view.width(), 1.0), max(view.height(), 1.0)])
        return pixels / np.maximum(np.array([x1 - x0, y1 - y0]), 1e-300), float(pixels.min())

    def redraw(self) -> None:
        if self._axes is None:
            return
        point, vectors, lambdas, color, in_plane = self._axes
        if not self._near_view(point):  # far out of sight (a diverging run): nothing huge is handed to Qt
            self._hide_drawing()
            return
        scale, size = self._pixels_per_unit()
        half, curved = half_axes(vectors, lambdas, scale, size)
        self.half_axes = half
        for k in range(2):
            drawn = bool(np.isfinite(half[k]).all())
            path = self._polyline(np.array([point - half[k], point + half[k]])) if drawn else QPainterPath()
            self._stroke(self._edges[k], self.segments[k], path, color, dashed=not curved[k])
            self._label(k, point, half[k], lambdas[k], drawn)
        if curved.all() and np.isfinite(half).all():
            angles = np.linspace(0.0, 2 * np.pi, ELLIPSE_POINTS)
            ring = point + np.cos(angles)[:, None] * half[0] + np.sin(angles)[:, None] * half[1]
            self._stroke(self._ellipse_edge, self.ellipse, self._polyline(ring), color, dotted=True)
        else:
            self.ellipse.setVisible(False)
            self._ellipse_edge.setVisible(False)
        self._write_caption(color, in_plane, curved)

    def _near_view(self, point: Array) -> bool:
        """Whether ``point`` lies in the band around the view in which the panel draws its paths."""
        from .views import band  # views imports the arrows; kept out of import time as they do
        view = self.getViewBox()
        if view is None or not hasattr(view, "viewRange"):
            return True
        (x0, x1), (y0, y1) = view.viewRange()
        lo, hi = band(np.array([x0, y0]), np.array([x1, y1]))
        return bool(((lo <= point) & (point <= hi)).all())

    def _polyline(self, points: Array) -> QPainterPath:
        """``points (T, 2)`` as a path, cut to the band around the view (to the view itself while
        exporting: ``views.lines_cut_at_views``; an SVG has no clipping)."""
        from .views import band, clip_polyline, polyline_path
        view = self.getViewBox()
        if view is not None and hasattr(view, "viewRange"):
            (x0, x1), (y0, y1) = view.viewRange()
            points = clip_polyline(points, *band(np.array([x0, y0]), np.array([x1, y1])))
        return polyline_path(points)

    def _hide_drawing(self) -> None:
        self.half_axes = np.full((2, 2), np.nan)
        for item in (*self.segments, *self._edges, self.ellipse, self._ellipse_edge, *self.labels):
            item.setVisible(False)

    def _stroke(self, edge: _Line, line: _Line, path: QPainterPath, color: str, dashed: bool = False,
                dotted: bool = False) -> None:
        width = 1.4 if dotted else AXIS_WIDTH
        for item, pen in ((edge, _pen(EDGE_COLOR, width + 2 * EDGE, dashed, dotted)),
                          (line, _pen(color, width, dashed, dotted))):
            item.prepareGeometryChange()
            item.setPath(path)
            item.setPen(pen)
            item.setVisible(not path.isEmpty())

    def _label(self, k: int, point: Array, half: Array, lam: float, drawn: bool) -> None:
        label = self.labels[k]
        label.setVisible(drawn)
        if not drawn:
            return
        text = f"λ{SUBSCRIPT[k]} = {number(lam, 3)}"
        if lam == 0:
            text += " (flat)"
        elif lam < 0:
            text += " (curves down)"
        label.setText(text)
        scale, _ = self._pixels_per_unit()
        view = self.getViewBox()
        if view is not None and hasattr(view, "viewRange"):  # label the end nearer the middle: it stays in sight
            middle = np.array([sum(r) / 2 for r in view.viewRange()])
            if np.hypot(*((point - half - middle) * scale)) < np.hypot(*((point + half - middle) * scale)):
                half = -half
        screen = half * scale * np.array([1.0, -1.0])  # pixels, y down
        norm = float(np.hypot(*screen)) or 1.0
        sx, sy = screen / norm
        label.setAnchor((0.5 - 0.55 * sx, 0.5 - 0.55 * sy))  # just beyond the segment's end
        label.setPos(QPointF(*(point + half)))

    def _write_caption(self, color: str, in_plane, curved: Array) -> None:
        lines = [f"<span style='color:{color}'>━</span> <b>Hessian axes</b>, length ∝ 1/√λ"]
        if curved.all():
            lines.append(f"<span style='color:{color}'>┅</span> the quadratic model's level set")
        else:
            lines.append(f"<span style='color:{color}'>╍</span> λ ≤ 0: flat or curving down")
        if in_plane is not None:
            shares = ", ".join(f"{100 * s:.0f}%" for s in in_plane)
            lines.append(f"projected: {shares} of v₁, v₂ lie in this plane")
        self.caption.setText("<br>".join(lines))
        self.caption.setVisible(True)


def half_axes(vectors: Array, lambdas: tuple[float, float], scale: Array, size: float) -> tuple[Array, Array]:
    """The drawn half-axes ``(2, 2)`` in plane units, and which directions curve up (λ > 0).

    ``vectors``: rows v₁, v₂ (plane units); ``scale``: pixels per plane unit along a and b;
    ``size``: the view's smaller side in pixels. Curving directions get ``c v_k / √λ_k``, one
    ``c`` making the longer ``AXIS_SHARE · size`` pixels; the others (λ ≤ 0) that length along
    ``v_k``; each half at least ``MIN_HALF_PX``. A vector of (nearly) zero length: a NaN row.
    """
    vectors = np.asarray(vectors, dtype=float)
    lam = np.asarray(lambdas, dtype=float)
    curved = lam > 0
    longest = AXIS_SHARE * size
    raw = np.where(curved[:, None], vectors / np.sqrt(np.where(curved, lam, 1.0))[:, None], vectors)
    pixels = np.hypot(*(raw * scale).T)  # (2,)
    usable = np.linalg.norm(vectors, axis=1) > PARALLEL
    half = np.full((2, 2), np.nan)
    c_curved = longest / max(float(np.max(pixels[curved & usable], initial=0.0)), 1e-300)
    for k in range(2):
        if not usable[k] or not pixels[k] > 0:
            continue
        factor = c_curved if curved[k] else longest / pixels[k]
        length = factor * pixels[k]
        if length < MIN_HALF_PX:
            factor *= MIN_HALF_PX / length
        half[k] = factor * raw[k]
    return half, curved


def _pen(color, width: float, dashed: bool = False, dotted: bool = False) -> QPen:
    pen = pg.mkPen(color, width=width)
    pen.setCosmetic(True)
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    if dashed or dotted:
        pattern = (2.0, 3.0) if dotted else (7.0, 4.0)  # pixels; Qt counts in pen widths
        pen.setDashPattern([d / width for d in pattern])
    return pen


# --- λ_min / λ_max over the plane ----------------------------------------------------------------

MAP_COLOR = (214, 39, 40, 230)  # where the loss curves down (the error style's red)
MAP_SIZES = (4.0, 15.0)  # px: the smallest and the largest downward marker
MAP_FULL_RATIO = 0.5  # curving down half as much as up: the largest marker
CONVEX_SIZE = 4.0  # px: the hollow marker of a sampled point where nothing curves down
MAP_LEGEND = ("<span style='color:#d62728'>●</span> curves down here (λ<sub>min</sub> &lt; 0),<br>"
              f"&nbsp;&nbsp;&nbsp;larger as −λ<sub>min</sub>/λ<sub>max</sub> → {MAP_FULL_RATIO:g}<br>"
              "○ convex here")


class CurvatureMapItem(pg.ScatterPlotItem):
    """λ_min/λ_max over the plane (a :class:`CurvatureMap`), as one marker per sampled point.

    A filled red disc where some direction curves down (λ_min < 0), its diameter growing with
    ``√min(1, −(λ_min/λ_max) / MAP_FULL_RATIO)`` from ``MAP_SIZES[0]`` to ``MAP_SIZES[1]`` px (the
    square root: a slight downward curvature is still seen); a small hollow circle where none
    does (a convex point). Markers, not a tint: they read over any colour map without
    changing the landscape's colours. ``MAP_LEGEND`` says so in words. Add with
    ``plot_item.addItem(item, ignoreBounds=True)``; ``set_map(map)`` draws, ``set_map(None)``
    clears. ``points_ab (K, 2)``, ``sizes (K,)`` (px) and ``down (K,)`` (bool): what is drawn.
    ``attach(plot_item)`` adds it with its caption (``MAP_LEGEND``, in the view's top-left corner).
    """

    def __init__(self):
        super().__init__(pxMode=True)
        self.setZValue(5)  # over the surface and its iso-lines, under the paths (10)
        self.points_ab = np.zeros((0, 2))
        self.sizes = np.zeros(0)
        self.down = np.zeros(0, dtype=bool)
        self.caption = _Caption(MAP_LEGEND, size="8pt", color="#222222", justify="left")
        self.caption.setZValue(40)
        self.caption.setVisible(False)
        self.setVisible(False)

    def attach(self, plot_item: pg.PlotItem) -> None:
        """Put the markers on ``plot_item``'s plane and their caption in its top-left corner (the arrows'
        legend is top-right, the eigen axes' caption bottom-left)."""
        plot_item.addItem(self, ignoreBounds=True)
        self.caption.setParentItem(plot_item.vb)
        self.caption.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(6, 6))

    def setVisible(self, visible: bool) -> None:  # noqa: N802 (Qt's name): the caption goes with the markers
        super().setVisible(visible)
        self.caption.setVisible(visible)

    def set_map(self, curvature_map: CurvatureMap | None) -> None:
        if curvature_map is None:
            self.points_ab, self.sizes, self.down = np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=bool)
            self.clear()
            self.setVisible(False)
            return
        self.points_ab, self.sizes, self.down = map_markers(curvature_map)
        down_pen = pg.mkPen(255, 255, 255, 220, width=1.0)
        convex_pen = pg.mkPen(255, 255, 255, 150, width=1.0)
        self.setData(pos=self.points_ab, size=self.sizes,
                     brush=[pg.mkBrush(*MAP_COLOR) if d else pg.mkBrush(0, 0, 0, 0) for d in self.down],
                     pen=[down_pen if d else convex_pen for d in self.down], symbol="o")
        self.setVisible(True)


def map_markers(curvature_map: CurvatureMap) -> tuple[Array, Array, Array]:
    """``(points_ab (K, 2), sizes (K,) px, down (K,) bool)``: one marker per grid point (see :class:`CurvatureMapItem`)."""
    a, b = np.meshgrid(curvature_map.a_values, curvature_map.b_values)  # [j, i] at (a_i, b_j), as the map
    ratio = curvature_map.ratio
    everywhere_down = (curvature_map.lambda_max <= 0) & (curvature_map.lambda_min < 0)  # near a local maximum
    depth = np.where(np.isfinite(ratio), np.clip(-ratio / MAP_FULL_RATIO, 0.0, 1.0), 0.0)
    depth = np.where(everywhere_down, 1.0, depth)
    down = (curvature_map.lambda_min < 0) & (depth > 0)
    low, high = MAP_SIZES
    sizes = np.where(down, low + (high - low) * np.sqrt(depth), CONVEX_SIZE)
    return np.column_stack([a.ravel(), b.ravel()]), sizes.ravel(), down.ravel()
