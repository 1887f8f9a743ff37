"""Arrows on a landscape panel: the gradient, the step, the velocity and the per-coordinate scale of each run.

:class:`ArrowOverlay` draws what :func:`losslab.engine.arrows.step_arrows` computes at the
current frame, one set per run, starting at the run's current iterate:

- ``"gradient"``: ``−∇L`` in the plane (projected onto it, for full-space runs), solid
  white and a little wider: it belongs to the landscape, not to the optimizer;
- ``"step"``: the step taken, dashed, in the run's colour, on top;
- ``"velocity"``: ``−v``, the momentum buffer (momentum, Nesterov; Adam's first moment),
  dotted, in the run's colour;
- ``"scale"``: the per-coordinate scale of AdaGrad, RMSProp and Adam, drawn as the dotted
  ellipse ``{D v : ‖v‖ = ‖∇L‖}`` around the iterate (``StepArrows.scale_axes``): the steps
  the scale makes of slopes as steep as this one. A full-batch AdaGrad/RMSProp step ends on
  it, where gradient descent's would end on a circle.

:meth:`ArrowOverlay.set_visible_kinds` takes ``KINDS`` = gradient, step, velocity: the last
shows what the optimizer carries, the velocity and the scale alike.

Every line and head has a dark edge, so it reads over any colour map. Shafts live in plane
units (they zoom with the plane); heads are sized in pixels (readable at any zoom).

Lengths are the engine's times a factor, one per unit: the gradient and the velocity are
slopes (loss per plane unit), the step and the scale's ellipse displacements (plane units),
so each pair has its own factor, ``factors[kind]``, and ``drawn = origin + factors[kind] *
vector``. A factor is 1 — a step then ends at the next iterate — while the longest of its
pair fits its window of the view's smaller side on screen (slopes 4–60%, steps 3–30%);
otherwise it becomes the 1-2-5 number bringing it to about 30% (slopes) or 15% (steps).
It stays while it fits: the windows are wide, so a factor does not flicker while playing
and an arrow is seen to shrink, tenfold, as its run slows down before the factor changes.
Where a step's head would land on its run's gradient or velocity head (gradient descent's
step is lr times its gradient) the steps take another factor of their window. The legend
in the panel's corner names each kind shown, with its factor.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QPainterPath, QPen
from PyQt6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from ..engine.arrows import StepArrows, step_arrows

Array = np.ndarray

KINDS = ("gradient", "step", "velocity")  # what set_visible_kinds takes: "velocity" is the optimizer's memory
DRAWN = ("gradient", "step", "velocity", "scale")  # what is drawn: "velocity" shows as velocity and/or scale
TOGGLE = {"gradient": "gradient", "step": "step", "velocity": "velocity", "scale": "velocity"}
# the factor each kind shares: slopes (loss per plane unit) with slopes, displacements with displacements
UNIT = {"gradient": "gradient", "velocity": "gradient", "step": "step", "scale": "step"}
LABELS = {"gradient": "−∇L", "step": "step", "velocity": "velocity −v", "scale": "per-coordinate scale"}
GRADIENT_COLOR = "#ffffff"  # the landscape's own arrow; the optimizer's take the run's colour
# Qt dash patterns in pixels (divided by the pen's width when set)
DASHES = {"gradient": None, "step": (7.0, 4.0), "velocity": (2.0, 3.0), "scale": (2.0, 3.0)}
WIDTHS = {"gradient": 3.0, "step": 2.0, "velocity": 2.0, "scale": 1.5}  # px
LAYER = {"scale": 0, "gradient": 3, "velocity": 6, "step": 9}  # z within the overlay: the step on top
EDGE = 1.5  # px of dark edge on each side of a line: visible on any colour map
EDGE_COLOR = (0, 0, 0, 160)
HEAD_LENGTH, HEAD_WIDTH = 11.0, 8.0  # px
MIN_HEAD = 0.6  # a head takes at most this share of a short arrow's length
# the longest vector of a pair, as a share of the view's smaller side: (aimed at, lowest, highest kept)
# (wide: a factor stays while the run slows down tenfold, so shrinking arrows are seen to shrink)
WINDOWS = {"gradient": (0.3, 0.04, 0.6), "step": (0.15, 0.03, 0.3)}
LADDER = (1.0, 2.0, 5.0)
APART = 14.0  # px: a step's head nearer than this to its run's gradient or velocity head is moved
ELLIPSE_POINTS = 73


def nice_factor(wanted: float) -> float:
    """The number of the form {1, 2, 5} × 10^k nearest to ``wanted`` (> 0) on a log scale."""
    k = math.floor(math.log10(wanted))
    candidates = [m * 10.0 ** e for e in (k - 1, k, k + 1) for m in LADDER]
    return min(candidates, key=lambda c: abs(math.log(c / wanted)))


def factors_in_window(longest: float, size: float, window: tuple[float, float, float]) -> list[float]:
    """Every 1-2-5 factor putting ``longest`` within the window of ``size``: 1 first, then nearest the target."""
    target, low, high = window
    if not (longest > 0 and size > 0 and math.isfinite(longest) and math.isfinite(size)):
        return []
    lo, hi = low * size / longest, high * size / longest
    fits = [m * 10.0 ** k for k in range(math.floor(math.log10(lo)), math.floor(math.log10(hi)) + 1)
            for m in LADDER if lo <= m * 10.0 ** k <= hi]
    return sorted(fits, key=lambda f: (f != 1.0, abs(math.log(f * longest / (target * size)))))


def choose_factor(current: float, longest: float, size: float, window: tuple[float, float, float]) -> float:
    """The factor for vectors whose longest is ``longest`` long, in a view ``size`` across (the same units).

    ``window = (target, low, high)`` as shares of ``size``: 1 while the longest is within
    [low, high]; else ``current`` while it keeps it there; else the 1-2-5 number bringing it
    nearest to ``target``. Nothing to measure (no vector, a zero one): ``current``.
    """
    target, low, high = window
    if not (longest > 0 and size > 0 and math.isfinite(longest) and math.isfinite(size)):
        return current
    for factor in (1.0, current):
        if low <= factor * longest / size <= high:
            return factor
    return nice_factor(target * size / longest)


def drawn_vectors(arrows: StepArrows) -> dict[str, Array]:
    """What the overlay draws of one run, by kind (``DRAWN``): arrows, and the scale's semi-axes."""
    vectors = {"gradient": arrows.gradient, "step": arrows.step, "velocity": arrows.velocity,
               "scale": arrows.scale_axes}
    return {kind: np.asarray(v, dtype=float) for kind, v in vectors.items() if v is not None}


def slope_text(arrows: StepArrows) -> str:
    """The slopes as one line: "slope along W[0,0]: −0.31, along W[0,1]: 0.05, along the step: −0.32".

    Directional derivatives of L: per unit of a and of b along the plane's axes, and per
    unit of θ along the step's direction (left out where there is no step: a run's last frame).
    """
    a, b = arrows.labels
    parts = [f"slope along {a}: {_number(arrows.slope_a)}", f"along {b}: {_number(arrows.slope_b)}"]
    if arrows.slope_step is not None:
        parts.append(f"along the step: {_number(arrows.slope_step)}")
    return ", ".join(parts)


def _number(value: float) -> str:
    return f"{value:.3g}".replace("-", "−")


def arrow_color(kind: str, run_color: str) -> str:
    """The gradient is drawn white whatever the run; the other kinds in the run's colour."""
    return GRADIENT_COLOR if kind == "gradient" else run_color


def _pen(color, kind: str, edge: bool = False) -> QPen:
    """A line's pen (``edge``: the dark one under it, ``EDGE`` wider a side, its dashes in step)."""
    width = WIDTHS[kind] + (2 * EDGE if edge else 0.0)
    pen = pg.mkPen(EDGE_COLOR if edge else color, width=width)
    pen.setCosmetic(True)
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    dashes = DASHES[kind]
    if dashes is not None:  # Qt counts dashes in pen widths: the same pixels for the line and its edge
        pen.setDashPattern([d / width for d in dashes])
    return pen


def _head_pen() -> QPen:
    pen = pg.mkPen(EDGE_COLOR, width=1.2)
    pen.setCosmetic(True)
    return pen


def _head_path(length: float, width: float) -> QPainterPath:
    """A triangle pointing along +x with its tip at (0, 0), in pixels."""
    path = QPainterPath(QPointF(0.0, 0.0))
    path.lineTo(-length, -width / 2)
    path.lineTo(-length, width / 2)
    path.closeSubpath()
    return path


class _Line(QGraphicsPathItem):
    """A path in plane coordinates, its bounding rect padded by ``pad`` plane units, not by the pen.

    (QGraphicsPathItem pads by the cosmetic pen's width read as plane units: 2 on a plane 0.01 wide.)
    """

    pad = (0.0, 0.0)

    def boundingRect(self) -> QRectF:
        px, py = self.pad
        return self.path().controlPointRect().adjusted(-px, -py, px, py)


@dataclass
class DrawnArrow:
    """One drawn vector: ``tip = start + factor * vector`` in plane units, and its Qt items.

    For ``"scale"`` the vector is the ellipse's semi-axes and ``tip`` the corner of its box;
    it has no head.
    """

    kind: str
    run: int  # position in the list handed to set_arrows
    start: Array  # (2,)
    tip: Array  # (2,)
    edge: _Line
    line: _Line
    head: QGraphicsPathItem


class ArrowSample(pg.ItemSample):
    """A legend entry's picture: a short arrow (or a bit of ellipse) in the kind's style."""

    WIDTH = 34

    def __init__(self, kind: str, color: str = "#7f7f7f"):
        pg.GraphicsWidget.__init__(self)
        self.item = None  # no plot item behind it (the legend looks items up by it)
        self.kind, self.color = kind, arrow_color(kind, color)
        self.setFixedWidth(self.WIDTH)
        self.setFixedHeight(16)

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.WIDTH, 16)

    def paint(self, painter, *args) -> None:
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        y = 9.0
        for edge in (True, False):
            painter.setPen(_pen(self.color, self.kind, edge))
            if self.kind == "scale":
                painter.drawEllipse(QRectF(3, y - 5, self.WIDTH - 6, 10))
            else:
                painter.drawLine(QPointF(2, y), QPointF(self.WIDTH - 8, y))
        if self.kind != "scale":
            painter.setPen(_head_pen())
            painter.setBrush(pg.mkBrush(self.color))
            painter.translate(self.WIDTH - 1, y)
            painter.drawPath(_head_path(9, 8))

    def mouseClickEvent(self, event) -> None:  # there is no plot item behind the sample to hide
        event.ignore()


class ArrowLegend(pg.LegendItem):
    """What each line style means, with its factor: "−∇L ×20", "step ×5"."""

    def __init__(self):
        super().__init__(offset=None, brush=(255, 255, 255, 215), pen=(120, 120, 120, 200),
                         labelTextColor="#222222", labelTextSize="8pt", verSpacing=-6, sampleType=ArrowSample)
        self.setZValue(40)
        self._key: tuple | None = None

    def mouseDragEvent(self, event) -> None:  # it stays in its corner: a drag over it pans the view
        event.ignore()

    def show_kinds(self, kinds: Iterable[str], factors: dict[str, float], projected: bool = False,
                   color: str | None = None) -> None:
        """List ``kinds`` (in ``DRAWN`` order) with their factors; hidden when there are none.

        ``projected``: the gradient is −∇L projected onto the plane (full-space runs);
        ``color``: the samples' colour (the panel's one run), else grey.
        """
        kinds = set(kinds)
        rows = tuple((kind, LABELS[kind] + (" projected" if kind == "gradient" and projected else "")
                      + f" ×{factors[kind]:g}") for kind in DRAWN if kind in kinds)
        if (rows, color) == self._key:  # a new entry re-lays out the legend: only when it changes
            return
        self._key = (rows, color)
        self.clear()
        for kind, text in rows:
            self.addItem(ArrowSample(kind, color or "#7f7f7f"), text)
        self.setVisible(bool(rows))

    @property
    def rows(self) -> tuple[tuple[str, str], ...]:
        """``(kind, text)`` of each entry shown."""
        return self._key[0] if self._key else ()


class ArrowOverlay(pg.GraphicsObject):
    """The arrows of one landscape panel, and their legend (see the module docstring).

    ``attach(plot_item)`` adds both to a ``pg.PlotItem``; ``set_arrows([(StepArrows, colour),
    ...])`` draws each run's; ``set_visible_kinds({"gradient", "step", ...})`` picks the kinds
    (all by default). Zooming or resizing redraws. ``factors[kind]`` is each kind's length
    factor and ``drawn`` the vectors on screen (:class:`DrawnArrow`).
    """

    def __init__(self):
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self.setZValue(15)  # over the paths (10), under the markers of the current iterates (25)
        self.legend = ArrowLegend()
        self.legend.setVisible(False)
        self.factors = {kind: 1.0 for kind in DRAWN}
        self.visible_kinds = set(KINDS)
        self.drawn: list[DrawnArrow] = []
        self._arrows: list[tuple[StepArrows, str]] = []
        self._pool: list[tuple[_Line, _Line, QGraphicsPathItem]] = []

    def attach(self, plot_item: pg.PlotItem) -> None:
        """Put the arrows on ``plot_item``'s plane and the legend in its top-right corner."""
        plot_item.addItem(self, ignoreBounds=True)  # arrows never rescale the view
        self.legend.setParentItem(plot_item.vb)
        self.legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-6, 6))

    def boundingRect(self) -> QRectF:
        return QRectF()

    def paint(self, *args) -> None:  # the children draw
        pass

    # --- what is shown --------------------------------------------------------------------------
    def set_arrows(self, arrows: list[tuple[StepArrows, str]]) -> None:
        """Each run's arrows at the current frame, with its colour (``"#rrggbb"``); ``[]`` clears."""
        self._arrows = list(arrows)
        self.redraw()

    def set_visible_kinds(self, kinds: Iterable[str]) -> None:
        """Show only these kinds, any of ``KINDS`` (an unknown name raises ``ValueError``).

        ``"velocity"`` is what the optimizer carries: the momentum family's velocity and the
        adaptive methods' per-coordinate scale (both for Adam).
        """
        kinds = set(kinds)
        unknown = kinds - set(KINDS)
        if unknown:
            raise ValueError(f"unknown arrow kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
        self.visible_kinds = kinds
        self.redraw()

    def viewRangeChanged(self) -> None:  # pyqtgraph calls these when the view pans, zooms or resizes
        self.redraw()

    def viewTransformChanged(self) -> None:
        self.redraw()

    # --- drawing --------------------------------------------------------------------------------
    def _vectors(self) -> list[tuple[int, str, Array, Array, str]]:
        """``(run, kind, start, vector, colour)`` of every finite, nonzero vector of a visible kind."""
        vectors = []
        for run, (arrows, color) in enumerate(self._arrows):
            start = np.asarray(arrows.origin, dtype=float)
            if not np.isfinite(start).all():
                continue
            for kind, vector in drawn_vectors(arrows).items():
                if TOGGLE[kind] in self.visible_kinds and np.isfinite(vector).all() and vector.any():
                    vectors.append((run, kind, start, vector, color))
        return vectors

    def _view(self) -> tuple[Array, Array, Array]:
        """The view's corners ``lo, hi`` (plane units) and its pixels per plane unit along a and b."""
        view = self.getViewBox()
        if view is None or not hasattr(view, "viewRange"):  # not on a plot yet: a unit view
            return np.zeros(2), np.ones(2), np.ones(2)
        (x0, x1), (y0, y1) = view.viewRange()
        lo, hi = np.array([x0, y0]), np.array([x1, y1])
        pixels = np.array([max(view.width(), 1.0), max(view.height(), 1.0)])
        return lo, hi, pixels / np.maximum(hi - lo, 1e-300)

    def _choose_factors(self, vectors, size: float, scale: Array) -> None:
        """``size``: the view's smaller side in pixels; ``scale``: pixels per plane unit along a and b."""
        for unit in ("gradient", "step"):
            lengths = [float(np.hypot(*(v * scale))) for _, kind, _, v, _ in vectors if UNIT[kind] == unit]
            factor = choose_factor(self.factors[unit], max(lengths, default=0.0), size, WINDOWS[unit])
            for kind in DRAWN:
                if UNIT[kind] == unit:
                    self.factors[kind] = factor
        # a step's head landing on its run's gradient (or velocity) head would hide one of them: then
        # the steps take another factor of their window (it stays while it fits and misses)
        slopes = [(run, start + self.factors[kind] * v) for run, kind, start, v, _ in vectors
                  if UNIT[kind] == "gradient"]
        steps = [(run, start, v) for run, kind, start, v, _ in vectors if kind == "step"]

        def collides(factor: float) -> bool:
            return any(run == other and np.hypot(*((start + factor * v - tip) * scale)) < APART
                       for run, start, v in steps for other, tip in slopes)

        if collides(self.factors["step"]):
            longest = max((float(np.hypot(*(v * scale))) for _, kind, _, v, _ in vectors if UNIT[kind] == "step"),
                          default=0.0)
            factor = next((f for f in factors_in_window(longest, size, WINDOWS["step"]) if not collides(f)),
                          self.factors["step"])
            self.factors["step"] = self.factors["scale"] = factor

    def redraw(self) -> None:
        """Draw the arrows again for the current view (also after ``views.lines_cut_at_views`` changes the band)."""
        from .views import band  # here, not above: views.py may import this module
        vectors = self._vectors()
        if not vectors and not self.drawn and not self.legend.rows:
            return  # nothing shown, nothing to show: every view move of every panel asks (2 ms in a commit)
        lo, hi, scale = self._view()
        self._choose_factors(vectors, float(min((hi - lo) * scale)), scale)
        band_lo, band_hi = band(lo, hi)
        pad = tuple(6.0 / scale)  # 6 px: the widest line and its edge
        while len(self._pool) < len(vectors):
            self._pool.append(self._new_items())
        self.drawn = []
        for items, (run, kind, start, vector, color) in zip(self._pool, vectors):
            tip = start + self.factors[kind] * vector
            self._draw(items, kind, arrow_color(kind, color), start, tip, band_lo, band_hi, scale, pad)
            self.drawn.append(DrawnArrow(kind, run, start, tip, *items))
        for items in self._pool[len(vectors):]:
            for item in items:
                item.setVisible(False)
        colors = {color for _, color in self._arrows}
        self.legend.show_kinds({kind for _, kind, _, _, _ in vectors}, self.factors,
                               any(arrows.space == "full" for arrows, _ in self._arrows),
                               colors.pop() if len(colors) == 1 else None)

    def _new_items(self) -> tuple[_Line, _Line, QGraphicsPathItem]:
        edge, line = _Line(self), _Line(self)
        head = QGraphicsPathItem(self)
        head.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)  # sized in pixels
        head.setPen(_head_pen())
        return edge, line, head

    def _draw(self, items, kind: str, color: str, start: Array, tip: Array, lo: Array, hi: Array,
              scale: Array, pad: tuple[float, float]) -> None:
        edge, line, head = items
        for z, item in enumerate(items):  # each arrow whole, over the kinds below it
            item.setZValue(LAYER[kind] + z)
        if kind == "scale":  # the ellipse with semi-axes tip - start, around start
            angles = np.linspace(0.0, 2 * np.pi, ELLIPSE_POINTS)
            points = start + (tip - start) * np.column_stack([np.cos(angles), np.sin(angles)])
        else:
            points = np.array([start, tip])
        from .views import clip_polyline, polyline_path
        # a tip at 1e30 (a diverging run) is drawn leaving the view, never handed to Qt as it is
        path = polyline_path(clip_polyline(points, lo, hi))
        for item, pen in ((edge, _pen(color, kind, edge=True)), (line, _pen(color, kind))):
            item.prepareGeometryChange()
            item.pad = pad
            item.setPath(path)
            item.setPen(pen)
            item.setVisible(not path.isEmpty())
        inside = kind != "scale" and bool(((lo <= tip) & (tip <= hi)).all())
        head.setVisible(inside)
        if not inside:
            return
        pixels = (tip - start) * scale * np.array([1.0, -1.0])  # screen pixels, y down
        shrink = min(1.0, MIN_HEAD * float(np.hypot(*pixels)) / HEAD_LENGTH)  # a short arrow, a smaller head
        head.setPath(_head_path(HEAD_LENGTH * shrink, HEAD_WIDTH * shrink))
        head.setBrush(pg.mkBrush(color))
        head.setPos(QPointF(float(tip[0]), float(tip[1])))
        head.setRotation(math.degrees(math.atan2(pixels[1], pixels[0])))


def panel_arrows(computed, frame: int, results, colors: list[str]) -> list[tuple[StepArrows, str]]:
    """``[(step_arrows(computed, result, frame), colour), ...]`` for the runs one panel shows."""
    return [(step_arrows(computed, result, frame), color) for result, color in zip(results, colors)]
