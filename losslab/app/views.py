"""The plots. Views only draw what they are handed (arrays), they decide nothing.

- ``LandscapePanel``: filled contour (heat map + iso-lines) of the loss over a slice plane,
  with animated paths, a start marker and a marker at each current iterate.
- ``LossCurves``: loss against step or cost, with the current frame marked.
- ``DataView``: the data with the decision regions of a classifier's current parameters
  (any model: it is handed the decision function, never the parameters themselves).
- ``TemplateView``: weights into units as images (the digits' 8×8 templates: a linear
  classifier's class columns, a network's first-layer units).
"""
from __future__ import annotations

import html
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt6 import sip
from PyQt6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QActionGroup, QColor, QFont, QFontMetrics, QIcon, QPainterPath, QPixmap
from PyQt6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QMenu, QSizePolicy

from ..engine.contours import contour_segments
from .arrows import ArrowOverlay
from .curvature_view import CurvatureMapItem, EigenAxes
from .display import isoline_path
from .raster import CurveLayer, RasterCurve, RasterSurface, SurfaceDrawing
from .zoom import Zoomable
from ..engine.geometry import clip_segments, score_zero_lines
from ..engine.optimizers import OPTIMIZERS

Array = np.ndarray

# optimizer colours: colour-blind-safe (Okabe–Ito), distinct from the heat map
RUN_COLORS = ["#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#D55E00", "#0072B2", "#F0E442", "#999999",
              "#FFFFFF", "#000000"]
# class colours for the data view (light fills for regions, saturated for points)
CLASS_COLORS = ["#d62728", "#2ca02c", "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"]


def run_color(index: int, spec=None) -> str:
    """The run's own colour if it has one, else the palette's colour for its position."""
    if spec is not None and spec.color:
        return spec.color
    return RUN_COLORS[index % len(RUN_COLORS)]


def run_label(spec) -> str:
    """The method's name and the hyperparameters set away from their defaults: "Gradient descent (lr=0.05)"."""
    entry = OPTIMIZERS[spec.method]
    changed = [f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
               for name, value in spec.hyper if entry.defaults.get(name) != value]
    return entry.label + (f" ({', '.join(changed)})" if changed else "")


# Lines are drawn inside a band around the view, BAND view sizes wide on every side (paths cut
# to it, loss values clamped into it); the data keep their values, only the drawn coordinates
# change. Qt's rasterizer and item caches
# misbehave with coordinates like 1e30 (a diverged run's): a DeviceCoordinateCache pixmap is
# as large as the item's bounding rect in device pixels and never finishes allocating, strokes
# lose their precision or vanish. Inside the band everything is drawn as it is, and a line
# that leaves the view is still seen leaving it.
BAND = 4.0

# fixed axis sizes: equal panels have equal plot areas, and tick labels never re-lay them out
LEFT_AXIS_WIDTH = 60
BOTTOM_AXIS_HEIGHT = 42


_band_now = BAND  # 0 while exporting vectors (see lines_cut_at_views)


def band(lo, hi):
    """The band around a view showing [lo, hi]: [lo − BAND·h, hi + BAND·h], h = hi − lo.

    ``lo`` and ``hi`` are floats, or arrays with one entry per axis.
    """
    h = hi - lo
    return lo - _band_now * h, hi + _band_now * h


@contextmanager
def lines_cut_at_views():
    """While inside, paths and curves are cut at the view's own edge, not a band around it.

    Qt's SVG generator writes no clipping: a path that runs past its panel on screen (where
    the view clips it) would run across the neighbouring panels in an SVG file. Cut at the
    edge, it looks the same in every renderer. Views redraw their lines on the way in and out
    (``redraw_lines``).
    """
    global _band_now
    old, _band_now = _band_now, 0.0
    try:
        yield
    finally:
        _band_now = old


FLAT = 1e-9  # a spread of values below this fraction of their size is flat: rounding, not change


def flat_range(values: Array, log: bool) -> tuple[float, float] | None:
    """A y range of ±5% around values that do not move (None if they do, or there are none).

    Left to itself the axis would zoom into the last digits of a constant loss and label its
    rounding noise (1.098612288668110, 1.098612288668112, ...).
    """
    values = values[np.isfinite(values)]
    if log:
        values = np.log10(values[values > 0])
    if not values.size:
        return None
    lo, hi = float(values.min()), float(values.max())
    mid = (lo + hi) / 2
    if hi - lo > FLAT * max(abs(mid), 1e-300):
        return None
    half = 0.05 if log else 0.05 * abs(mid) or 1.0
    return mid - half, mid + half


def clip_polyline(points: Array, lo: Array, hi: Array) -> Array:
    """The polyline through ``points`` (T, 2) cut to the box [lo, hi]: (M, 2), its pieces separated by NaN rows.

    Each segment keeps its part inside the box (``geometry.clip_segments``, Liang–Barsky).
    A cut segment keeps its direction, so a diverged path leaves the view the way
    it went, and a jump between two far points crosses the view only if it really does.
    NaN points are gaps.
    """
    a, b = points[:-1], points[1:]
    visible, first, last = clip_segments(a, b, lo, hi)
    first, last = first[visible], last[visible]
    # a segment starting inside the box goes on from where the previous one ended: no gap, no repeated point
    goes_on = ((lo <= a) & (a <= hi)).all(axis=1) & np.r_[False, visible[:-1]]
    new_piece = ~goes_on[visible]
    rows = np.stack([np.full_like(first, np.nan), first, last], axis=1)  # (n, 3, 2): gap, first, last
    return rows[np.stack([new_piece, new_piece, np.ones_like(new_piece)], axis=1)]


def polyline_path(points: Array) -> QPainterPath:
    """A painter path through ``points`` (M, 2); non-finite rows are gaps (as ``clip_polyline`` leaves them)."""
    path = QPainterPath()
    pen_down = False
    for x, y in points:
        if not (math.isfinite(x) and math.isfinite(y)):
            pen_down = False
        elif pen_down:
            path.lineTo(float(x), float(y))
        else:
            path.moveTo(float(x), float(y))
            pen_down = True
    return path


# --- tick labels that read as the numbers they are -------------------------------------------------

SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
TICK_SPACING_PX = 32  # a vertical axis's labels are ~15 px tall: one every 32 px never overlaps


def power_of_ten(k: int) -> str:
    """``10⁻³`` for k = −3."""
    return "10" + str(int(k)).translate(SUPERSCRIPTS)


def nice_ticks(lo: float, hi: float, max_ticks: int) -> list[tuple[float, str]]:
    """At most ``max_ticks`` round values in [lo, hi] (steps 1, 2, 2.5 or 5 × 10ⁿ), labelled as plain numbers."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return [(lo, f"{lo:g}")] if np.isfinite(lo) else []
    values: list[float] = []
    intervals = max(max_ticks - 1, 1)
    while not values:  # no multiple of the step in [lo, hi]: halve it (a step ≤ hi − lo always has one)
        raw = (hi - lo) / intervals
        magnitude = 10.0 ** math.floor(math.log10(raw))
        step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
        first = math.ceil(lo / step - 1e-9)
        values = [(first + i) * step for i in range(int(math.floor(hi / step + 1e-9)) - first + 1)]
        intervals *= 2
    decimals = max(0, -math.floor(math.log10(step) + 1e-9) + (1 if round(step / magnitude, 3) == 2.5 else 0))
    values = [0.0 if abs(v) < step / 2 else v for v in values]  # no "-0.0"
    if max(abs(values[0]), abs(values[-1])) >= 1e5:  # "2500000" would not fit an axis
        return [(v, f"{v:.3g}") for v in values]
    return [(v, f"{v:.{decimals}f}") for v in values]


def loss_ticks(lo: float, hi: float, log: bool, max_ticks: int) -> list[tuple[float, str]]:
    """Ticks for a loss axis showing [lo, hi]: plain numbers, or on a log₁₀ axis the powers of ten.

    On a log axis ``lo, hi`` are log₁₀ values; the ticks sit at whole decades labelled
    10ᵏ, every second or fifth decade when they would crowd. An axis spanning less than
    two decades has round loss values instead, placed at their log₁₀.
    """
    max_ticks = max(int(max_ticks), 2)
    if not log:
        return nice_ticks(lo, hi, max_ticks)
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return []
    decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if len(decades) >= 2:
        stride = next(s for s in (1, 2, 5, 10, 20, 50, 100) if len(decades) / s <= max_ticks)
        return [(float(k), power_of_ten(k)) for k in decades if k % stride == 0]
    # under two decades: 1, 2, 5 times a power of ten, evenly spread on a log axis
    steps = [(m * 10.0 ** k, k, m) for k in range(decades[0] - 1 if decades else math.floor(lo), math.ceil(hi) + 1)
             for m in (1, 2, 5) if lo - 1e-9 <= math.log10(m) + k <= hi + 1e-9]
    if 3 <= len(steps) <= max_ticks:
        return [(math.log10(m) + k, f"{v:g}") for v, k, m in steps]
    return [(math.log10(v), label) for v, label in nice_ticks(10.0 ** lo, 10.0 ** hi, max_ticks) if v > 0]


_AXIS_PICTURES: dict[tuple, object] = {}  # QuietAxis pictures by what they show, the newest 64


def axis_length_on_screen(axis: pg.AxisItem) -> float | None:
    """The axis's length in device pixels, as its ``generateDrawSpecs`` measures it (1 px past each end;
    a zoomed view — presentation mode — makes it longer than the axis in scene units). It sets the
    tick spacing; None while the axis is not in a view."""
    bounds = axis.mapRectFromParent(axis.geometry())
    if axis.orientation in ("left", "right"):
        ends = (bounds.topRight() + QPointF(-1, -1), bounds.bottomRight() + QPointF(-1, 1))
    else:
        ends = (bounds.topLeft() + QPointF(-1, 1), bounds.topRight() + QPointF(1, 1))
    points = [axis.mapToDevice(p) for p in ends]
    if None in points:
        return None
    return math.hypot(points[1].x() - points[0].x(), points[1].y() - points[0].y())


class QuietAxis(pg.AxisItem):
    """An axis that lays out its label again only when the label's text changed.

    pyqtgraph sets the label's HTML at every change of range (for its SI prefix), and laying
    out rich text is slow: switching to eight runs set it 218 times, 28 ms.
    """

    _label_html: str | None = None
    _ticks: tuple = (None, None)  # (range and length, tick levels): the grid asks for the same ticks

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph's names)
        key = (minVal, maxVal, round(size, 2), self.logMode, self.scale, self._tickDensity,
               repr(self._tickSpacing))  # everything pyqtgraph's tickValues reads
        if self._ticks[0] != key:
            self._ticks = (key, super().tickValues(minVal, maxVal, size))
        return self._ticks[1]

    def _picture_key(self) -> tuple | None:
        """Everything an axis's picture (ticks and their labels) is drawn from; None: not shared.

        Only axes of a fixed size share: an axis that fits its size to its labels learns their
        width while drawing them, which a shared picture would skip.
        """
        fixed = self.fixedWidth if self.orientation in ("left", "right") else self.fixedHeight
        if fixed is None:
            return None
        size = self.geometry().size()
        length = axis_length_on_screen(self)

        def pen(p):
            return p.color().name(QColor.NameFormat.HexArgb), p.widthF(), p.style().value

        font = self.style["tickFont"]
        span = tuple(float(f"{v:.12g}") for v in self.range)  # linked views' ranges differ by rounding
        return (type(self), self.orientation, round(size.width(), 2), round(size.height(), 2),
                None if length is None else round(length, 2), span,
                self.logMode, self.scale, self.autoSIPrefixScale, repr(self._tickLevels), self._tickSpacing,
                self.grid, pen(self.pen()), pen(self.tickPen()), pen(self.textPen()),
                font.toString() if font is not None else None, self.font().toString(),
                tuple(sorted((k, repr(v)) for k, v in self.style.items() if k != "tickFont")))

    def paint(self, p, opt, widget) -> None:
        # panels of one grid show the same ranges at the same size: their axes draw one picture
        # (eight panels' first paint spent 16 ms laying out the same ticks 16 times)
        key = self._picture_key() if self.picture is None else None
        if key is not None:
            self.picture = _AXIS_PICTURES.get(key)
        super().paint(p, opt, widget)
        if key is not None:
            _AXIS_PICTURES[key] = self.picture
            while len(_AXIS_PICTURES) > 64:
                del _AXIS_PICTURES[next(iter(_AXIS_PICTURES))]

    def _updateLabel(self) -> None:  # noqa: N802 (pyqtgraph's name)
        html = self.labelString()
        if html != self._label_html:
            self._label_html = html
            self.label.setHtml(html)
        self._adjustSize()
        self.picture = None  # the ticks follow the new range
        self.update()


class LossAxis(QuietAxis):
    """A loss axis: no SI prefix ("loss (x0.001)" helps nobody), and on a log scale ticks at powers of ten."""

    def __init__(self, orientation: str, **kwargs):
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickValues(self, minVal, maxVal, size):
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        ticks = loss_ticks(minVal, maxVal, True, size // TICK_SPACING_PX)
        self._labels = dict(ticks)
        return [(1.0, [value for value, _ in ticks])]

    def tickStrings(self, values, scale, spacing):
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        labels = getattr(self, "_labels", {})
        return [labels.get(v, f"{10.0 ** v:.3g}") for v in values]


class GridLines(pg.GraphicsObject):
    """A plot's grid: lines across its view at the ticks of its left and bottom axes.

    pyqtgraph draws a grid as part of each axis, so an axis then covers the whole plot: its
    picture (labels, ticks and grid) is redrawn into a plot-sized cache at every change of
    range and composited over the plot at every paint — 3.3 ms of the loss curves' 8 ms
    repaint for a λ step. Here the lines are 1 px wide and unsmoothed, in the ticks' colour
    at ``alpha``, fainter at finer tick levels, as pyqtgraph draws them.
    """

    def __init__(self, plot_item: pg.PlotItem, alpha: float = 0.25):
        super().__init__()
        self.plot_item = plot_item
        self.alpha = alpha
        self._lines: tuple[tuple, list[tuple[int, list[QLineF]]]] | None = None  # (drawn from, lines)
        self.setZValue(-100)  # under everything the plot shows
        plot_item.addItem(self, ignoreBounds=True)
        plot_item.vb.sigRangeChanged.connect(self._moved)
        plot_item.vb.sigResized.connect(self._moved)

    def _moved(self, *_) -> None:
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self) -> QRectF:
        return self.plot_item.vb.viewRect()

    def lines(self) -> list[tuple[int, list[QLineF]]]:
        """(alpha, lines) of each tick level of both axes, in view coordinates: the ticks each axis draws
        (asked for with its own length on screen, which a QuietAxis answers from its last drawing)."""
        rect = self.plot_item.vb.viewRect()
        axes = [(side, self.plot_item.getAxis(side)) for side in ("bottom", "left")]
        lengths = [axis_length_on_screen(axis) for _, axis in axes]
        key = ((rect.left(), rect.right(), rect.top(), rect.bottom()), tuple(lengths),
               tuple((axis.logMode, repr(axis._tickLevels)) for _, axis in axes))
        if self._lines is not None and self._lines[0] == key:
            return self._lines[1]
        drawn = []
        for (side, axis), pixels in zip(axes, lengths):
            if pixels is None:
                continue
            lo, hi = (rect.left(), rect.right()) if side == "bottom" else (rect.top(), rect.bottom())
            if axis._tickLevels is not None:  # ticks set by hand (setTicks)
                levels = [[value for value, _ in level] for level in axis._tickLevels]
            else:
                levels = [list(values) for _, values in axis.tickValues(lo, hi, pixels)]
            for i, values in enumerate(levels):
                # pyqtgraph's grid: each finer level half as opaque, and faint where the ticks crowd
                alpha = 255 / (i + 1) * self.alpha * min(1.0, max(0.0, 0.05 * pixels / (len(values) + 1)))
                inside = [v for v in values if lo <= v <= hi]
                drawn.append((int(alpha), [QLineF(v, rect.top(), v, rect.bottom()) for v in inside]
                              if side == "bottom" else [QLineF(rect.left(), v, rect.right(), v) for v in inside]))
        self._lines = (key, drawn)
        return drawn

    def paint(self, painter, option, widget=None) -> None:
        rect = self.plot_item.vb.viewRect()
        if rect.width() <= 0 or rect.height() <= 0:
            return
        color = QColor(self.plot_item.getAxis("left").tickPen().color())
        painter.setRenderHint(painter.RenderHint.Antialiasing, False)
        for alpha, lines in self.lines():
            color.setAlpha(alpha)
            painter.setPen(pg.mkPen(color, width=0))  # cosmetic: 1 px
            painter.drawLines(lines)


def contrast_ratio(first: QColor, second: QColor) -> float:
    """WCAG 2 contrast ratio of two opaque colours: (L₁ + 0.05) / (L₂ + 0.05), L the relative luminance."""
    def luminance(color: QColor) -> float:
        channels = [c / 255 for c in color.getRgb()[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def class_color(k: int) -> QColor:
    if k < len(CLASS_COLORS):
        return QColor(CLASS_COLORS[k])
    return pg.intColor(k, hues=max(k + 1, 12))


class Marker(QGraphicsEllipseItem):
    """A round marker of fixed on-screen size at one data point.

    One point does not need a ScatterPlotItem: this plain Qt item costs a fraction of it
    to move and repaint, which matters when every panel moves one every frame.
    """

    def __init__(self, color: str, size: float = 10.0, edge: str = "k"):
        super().__init__(-size / 2, -size / 2, size, size)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setBrush(pg.mkBrush(color))
        self.setPen(pg.mkPen(edge, width=1.2))

    def move_to(self, x: float, y: float) -> None:
        if np.isfinite(x) and np.isfinite(y):
            self.setPos(QPointF(float(x), float(y)))
            self.setVisible(True)
        else:
            self.setVisible(False)


ISOLINE_PEN = (255, 255, 255, 110)  # a 1 px white veil: readable on every colour map, never hiding it


def surface_drawing(rgba: Array, a_values: Array, b_values: Array, isolines: QPainterPath) -> SurfaceDrawing:
    """``rgba[j, i]`` colours ``(a_i, b_j)``, each grid point the centre of its cell; ``isolines`` is one
    path in plane coordinates, drawn with a cosmetic (1 px at any zoom) pen."""
    da = (a_values[-1] - a_values[0]) / max(len(a_values) - 1, 1)
    db = (b_values[-1] - b_values[0]) / max(len(b_values) - 1, 1)
    rect = QRectF(a_values[0] - da / 2, b_values[0] - db / 2,
                  a_values[-1] - a_values[0] + da, b_values[-1] - b_values[0] + db)
    pen = pg.mkPen(ISOLINE_PEN, width=1)
    pen.setCosmetic(True)
    return SurfaceDrawing(rgba, rect, isolines, pen)


@dataclass
class PathData:
    """One optimizer's path as drawn: plane coordinates per frame."""

    name: str
    label: str
    color: str
    ab: Array  # (T, 2)
    status: str = "completed"


class LandscapePanel(pg.PlotItem):
    """One landscape: image + iso-lines + the paths of one or more optimizers.

    Signals:
        clicked(float, float): the user clicked the contour at plane point (a, b).
        hovered(float, float): the pointer moved over plane point (a, b).
    """

    clicked = pyqtSignal(float, float)
    hovered = pyqtSignal(float, float)

    TITLE_POINT_SIZE = 11  # pyqtgraph's title size

    def __init__(self, title: str = "", color: str | None = None):
        super().__init__(enableMenu=False,  # no context menus: pyqtgraph's would not be built at all (2–3 ms a panel)
                         axisItems={"left": QuietAxis("left"), "bottom": QuietAxis("bottom")})
        self._heading = (title, color)
        self._foreground = "#222222"
        self._heading_width = 0.0
        self._heading_html: str | None = None
        # fixed axes: every panel's plot area is its cell less the same margins, whatever its tick labels
        self.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.getAxis("bottom").setHeight(BOTTOM_AXIS_HEIGHT)
        self.surface = RasterSurface()  # the colour image and iso-lines, one drawing shared by every panel
        self.addItem(self.surface, ignoreBounds=True)
        # the axes are static while paths animate: keep them rendered, repaint by blitting (they are as
        # large as the panel at most)
        for axis in (self.getAxis("left"), self.getAxis("bottom")):
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.start = Marker("w", size=11)
        self.start.setZValue(20)
        self.addItem(self.start, ignoreBounds=True)
        self.vb.disableAutoRange()  # the window sets the view; moving paths must not rescale it
        self.showGrid(False, False)
        self.setLabel("bottom", "a")
        self.setLabel("left", "b")
        self._paths: list[PathData] = []
        self._lines: list[pg.PlotCurveItem] = []
        self._heads: list[Marker] = []
        self._frame = 0
        self.frames_held = False  # set by LandscapeGrid.held_frames: view changes redraw the paths once, later
        self._frame_stale = False  # the view moved since the paths were last drawn for it
        # dark red on its own white backdrop: readable (contrast > 4.5) over any colour map and theme
        self.diverged_text = pg.TextItem("", color="#b00000", anchor=(0.5, 1), fill=(255, 255, 255, 220))
        self.diverged_text.setZValue(30)
        self.addItem(self.diverged_text)
        self.arrows = ArrowOverlay()  # −∇L, the step and the velocity at each run's point (View ▸ Arrows)
        self.arrows.attach(self)
        self.eigen_axes = EigenAxes()  # the Hessian's sharpest directions there (View ▸ Curvature)
        self.eigen_axes.attach(self)
        self.curvature_map = CurvatureMapItem()
        self.curvature_map.attach(self)
        self.vb.sigRangeChanged.connect(self._view_changed)

    # --- the title ------------------------------------------------------------------------
    @property
    def heading(self) -> str:
        """The title in full, as plain text (the one shown may be elided)."""
        return self._heading[0]

    def set_foreground(self, color: str) -> None:
        self._foreground = color
        self._show_heading()

    def set_heading(self, title: str, color: str | None) -> None:
        """A new title (a panel reused for another run)."""
        if (title, color) != self._heading:
            self._heading = (title, color)
            self._show_heading()

    def set_axes_labels(self, labels: tuple[str, str]) -> None:
        if getattr(self, "_axes_labels", None) != tuple(labels):  # new label text re-lays out the axis
            self._axes_labels = tuple(labels)
            self.setLabel("bottom", labels[0])
            self.setLabel("left", labels[1])  # on every panel: equal widths, equal scales

    def fit_heading(self, width: float) -> None:
        """Show the title in ``width`` pixels, elided ("Nesterov mom…") when it is longer."""
        self._heading_width = width
        self._show_heading()

    def _show_heading(self) -> None:
        text, color = self._heading
        font = QFont(self.titleLabel.item.font())
        font.setPointSizeF(self.TITLE_POINT_SIZE)
        metrics = QFontMetrics(font)
        dot = f"<span style='color:{color}'>●</span> " if color else ""
        room = self._heading_width - (metrics.horizontalAdvance("● ") if color else 0) - 6
        shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(int(room), 0))
        heading = dot + html.escape(shown)
        if (heading, self._foreground) == self._heading_html:  # a new title re-lays out the panel
            return
        self._heading_html = (heading, self._foreground)
        self.setTitle(heading, color=self._foreground, size=f"{self.TITLE_POINT_SIZE}pt")
        # the cell sets the panel's width, never the title's length (that made panels of unequal widths)
        self.titleLabel.setMinimumWidth(0)
        self.titleLabel.setPreferredWidth(0)

    # --- the surface ----------------------------------------------------------------------
    def set_surface(self, drawing: SurfaceDrawing) -> None:
        """The colour image and iso-lines (see :func:`surface_drawing`)."""
        self.surface.set_drawing(drawing)

    def _view_changed(self, *_) -> None:
        if self.frames_held:
            self._frame_stale = True
            return
        self.set_frame(self._frame)  # the paths' band moved with the view

    # --- paths ------------------------------------------------------------------------------
    def set_paths(self, paths: list[PathData], start: tuple[float, float]) -> None:
        while len(self._lines) > len(paths):  # items are reused: new runs cost no scene surgery
            self.removeItem(self._lines.pop())
            self.removeItem(self._heads.pop())
        while len(self._lines) < len(paths):
            line = RasterCurve(connect="finite", cached=False)  # a non-finite point is a gap; new every frame
            line.setZValue(10)
            head = Marker("w")
            head.setZValue(25)
            self.addItem(line, ignoreBounds=True)
            self.addItem(head, ignoreBounds=True)
            self._lines.append(line)
            self._heads.append(head)
        for path, line, head in zip(paths, self._lines, self._heads):
            line.setPen(pg.mkPen(path.color, width=2.2))
            line.setShadowPen(pg.mkPen((0, 0, 0, 150), width=4.4))  # a dark edge: visible on any colour map
            head.setBrush(pg.mkBrush(path.color))
        self._paths = paths
        self.start.move_to(*start)

    def set_frame(self, frame: int) -> None:
        self._frame = frame
        self._frame_stale = False
        (x0, x1), (y0, y1) = self.vb.viewRange()
        lo, hi = band(np.array([x0, y0]), np.array([x1, y1]))
        notes = []
        for path, line, head in zip(self._paths, self._lines, self._heads):
            k = min(frame, len(path.ab) - 1)
            shown = path.ab[: k + 1]
            shown = np.where(np.isfinite(shown).all(axis=1, keepdims=True), shown, np.nan)
            drawn = clip_polyline(shown, lo, hi)  # a path gone to 1e30 is drawn leaving the view
            line.setData(drawn[:, 0], drawn[:, 1])
            head.move_to(*np.clip(shown[-1], lo, hi))  # out of the band is out of sight: no need to go further
            if path.status == "diverged" and frame >= len(path.ab) - 1:
                notes.append(f"{path.label}: diverged")
        text = "\n".join(notes)
        if text != self.diverged_text.textItem.toPlainText():  # new text re-lays out the item (every frame)
            self.diverged_text.setText(text)
        self.diverged_text.setVisible(bool(notes))  # its backdrop would show even without text
        if notes:
            rect = self.vb.viewRect()
            self.diverged_text.setPos(rect.center().x(), rect.top())  # at the bottom edge (y grows upwards)
        if self.arrows.drawn or self.arrows.visible_kinds:  # with neither, redrawing draws nothing again
            self.arrows.redraw()  # cut at the view's edge like the paths (exports draw at other sizes)
        self.eigen_axes.redraw()

    # --- mouse --------------------------------------------------------------------------------
    def plane_point(self, scene_pos: QPointF) -> tuple[float, float] | None:
        if not self.vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.vb.mapSceneToView(scene_pos)
        return p.x(), p.y()


def _same(held: Array | None, new: Array) -> bool:
    """Whether a curve already holds these values (NaN gaps where they are).

    pyqtgraph keeps the arrays it is given, not copies: this relies on a snapshot's runs never
    changing in place (they never do: a change makes a new snapshot).
    """
    return held is not None and np.array_equal(held, new, equal_nan=True)


class LossCurves(Zoomable, pg.PlotWidget):
    """Loss of every run against step or cost (full-data passes), with the current frame marked."""

    def __init__(self, parent=None):
        super().__init__(parent, axisItems={"left": LossAxis("left"), "bottom": LossAxis("bottom")}, enableMenu=False)
        self.plot_item = self.getPlotItem()
        self.grid = GridLines(self.plot_item)
        # the legend sits right of the plot, in the plot's own layout: it never covers a curve
        self.legend = pg.LegendItem(brush=pg.mkBrush(255, 255, 255, 235), pen=pg.mkPen(200, 200, 200),
                                    labelTextColor="#222222")
        self.plot_item.legend = self.legend  # plot(name=...) adds its entry here
        self.legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)  # its entries' size, not the cell's
        self.plot_item.layout.addItem(self.legend, 2, 3)
        self.plot_item.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignTop)
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#222222", style=Qt.PenStyle.DashLine))
        for side in ("left", "bottom"):
            self.plot_item.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.plot_item.addItem(self.cursor, ignoreBounds=True)
        self.layer = CurveLayer()  # paints the curves on screen, from one image
        self.plot_item.addItem(self.layer, ignoreBounds=True)
        self.plot_item.setLabel("left", "loss")
        self._runs: list[tuple[str, str, Array, Array, str]] = []
        self._legend_key: tuple | None = None
        self._axes_key: tuple | None = None
        self._curves: list[RasterCurve] = []
        self._edge_color = "#222222"
        self._dots: list[Marker] = []
        self._log = False
        self._frame = 0
        self._due: tuple | None = None  # set_runs' arguments, waiting for flush()
        self.plot_item.vb.sigYRangeChanged.connect(self._y_range_changed)

    def set_runs(self, runs: list[tuple[str, str, Array, Array, str]], x_label: str, log_y: bool,
                 later: bool = False) -> None:
        """``runs``: (label, colour, x, losses, status) per optimizer.

        ``later``: drawn by :meth:`flush`, which the figure calls at this view's turn to repaint
        (eight new runs' curves and legend entries cost 5-8 ms); exports flush first.
        """
        if later:
            self._due = (runs, x_label, log_y)
            return
        self._due = None
        names = [label + ("  ✕ diverged" if status == "diverged" else "") for label, _, _, _, status in runs]
        colors = [color for _, color, _, _, _ in runs]
        if (names, colors) != self._legend_key:  # a different set of runs: new items and legend entries
            old = list(zip(*self._legend_key)) if self._legend_key else []
            kept = 0  # the runs that keep their place, name and colour keep their items
            while kept < min(len(old), len(names)) and old[kept] == (names[kept], colors[kept]):
                kept += 1
            for curve, dot in zip(self._curves[kept:], self._dots[kept:]):
                self.legend.removeItem(curve)
                self.plot_item.removeItem(curve)
                self.plot_item.removeItem(dot)
            del self._curves[kept:], self._dots[kept:]
            for name, color in zip(names[kept:], colors[kept:]):
                # rendered once into an image, wide lines as thin ones (raster.py: 2 px lines are slow to
                # stroke); _draw_curves keeps the drawn values in a band around the view (a diverged run is unbounded)
                curve = RasterCurve(pen=pg.mkPen(color, width=2), connect="finite", shadowPen=self._edge_pen())
                self.plot_item.addItem(curve)
                self.legend.addItem(curve, name)
                dot = Marker(color, size=8)
                dot.setZValue(10)
                self.plot_item.addItem(dot, ignoreBounds=True)  # moving dots must not rescale the axes
                self._curves.append(curve)
                self._dots.append(dot)
            self.layer.set_curves(self._curves)
            self._legend_key = (names, colors)
        self._runs = runs
        if (x_label, log_y) != self._axes_key:  # relabelling re-lays out the plot: only when it changes
            self._axes_key = (x_label, log_y)
            self._log = log_y
            self.plot_item.setLogMode(False, log_y)
            self.plot_item.setLabel("bottom", x_label)
            self.plot_item.setLabel("left", "loss" + (" (log scale)" if log_y else ""))
        self._fit_y(runs, log_y)
        self._draw_curves()

    EDGE_ALPHA = 180  # the curves' edge: the theme's text colour, this opaque (≥ 4.5:1 on both backgrounds)

    def _edge_pen(self):
        """An edge around every curve, so a light or dark run colour reads on either background."""
        edge = QColor(self._edge_color)
        edge.setAlpha(self.EDGE_ALPHA)
        return pg.mkPen(edge, width=3.2)

    def set_colors(self, foreground: str, background: str) -> None:
        """Text, axes, cursor, the curves' edges and the legend's backdrop in the theme's colours."""
        self._edge_color = foreground
        for curve in self._curves:
            curve.setShadowPen(self._edge_pen())
        self.layer.changed()
        self.legend.setLabelTextColor(foreground)
        for _, label in self.legend.items:  # the colour applies when the text is set: set it again
            label.setText(label.text, color=foreground)
        self.legend.setBrush(pg.mkBrush(QColor(background)))
        self.legend.setPen(pg.mkPen(foreground, width=0.6))
        self.cursor.setPen(pg.mkPen(foreground, style=Qt.PenStyle.DashLine))

    def _drawn_band(self) -> tuple[float, float] | None:
        """Limits of the drawn y values (see BAND) in axis units, log₁₀ on a log axis.

        None while the view fits itself to the data: an auto-ranged view already takes in every
        finite value, and limits computed from it would feed back into the fit, which would then
        grow by a band at every repaint.
        """
        view = self.plot_item.vb
        if view.autoRangeEnabled()[1]:
            return None
        return band(*view.viewRange()[1])

    def _draw_curves(self) -> None:
        limits = self._drawn_band()  # in axis units: log₁₀ of the loss on a log axis
        changed = False
        for (_, _, x, losses, _), curve in zip(self._runs, self._curves):
            y = np.where(np.isfinite(losses), losses, np.nan)  # a gap, not a line to infinity
            if self._log:
                with np.errstate(divide="ignore", invalid="ignore"):
                    y = np.log10(np.where(y > 0, y, np.nan))
            if limits is not None:
                y = np.clip(y, *limits)  # a diverged run is drawn leaving the top, however far it went
            if not (_same(curve.xData, x) and _same(curve.yData, y)):  # new data: a new drawing, rendered again
                curve.setData(x, y)
                changed = True
        if changed:
            self.layer.changed()

    def _y_range_changed(self, *_) -> None:
        self.redraw_lines()

    def redraw_lines(self) -> None:
        """Draw the curves and dots again, cut to the current band (see lines_cut_at_views)."""
        self._draw_curves()
        self.set_frame(self._frame)

    def _fit_y(self, runs, log_y: bool) -> None:
        """Show every run that did not diverge in full; a diverged one may leave the top of the plot."""
        steady = [np.asarray(losses)[np.isfinite(losses)] for _, _, _, losses, status in runs if status != "diverged"]
        flat = flat_range(np.concatenate(steady) if steady else np.array([]), log_y)
        if flat is not None:  # a loss that does not move (a stuck network): a readable window around it
            self.plot_item.setYRange(*flat, padding=0)
            return
        if not steady or len(steady) == len(runs) or log_y:
            self.plot_item.enableAutoRange(axis="y")
            return
        values = np.concatenate(steady + [np.asarray(r[3][:1]) for r in runs])  # every start is shown too
        lo, hi = float(values.min()), float(values.max())
        pad = 0.08 * (hi - lo or 1.0)
        self.plot_item.setYRange(lo - pad, hi + pad, padding=0)

    def flush(self) -> None:
        """Draw the runs a ``set_runs(..., later=True)`` left waiting, at the current frame."""
        if self._due is not None:
            self.set_runs(*self._due)
            self.set_frame(self._frame)
            self.plot_item.layout.activate()  # a new legend in its place now: an export paints next

    def set_frame(self, frame: int) -> None:
        self._frame = frame
        if self._due is not None:  # the runs shown are not the ones this frame is for: flush() moves them
            return
        limits = self._drawn_band()
        xs = []
        for (label, color, x, losses, status), dot in zip(self._runs, self._dots):
            k = min(frame, len(x) - 1)
            value = losses[k]
            if np.isfinite(value) and (value > 0 or not self._log):
                y = np.log10(value) if self._log else value
                dot.move_to(x[k], y if limits is None else np.clip(y, *limits))
            else:
                dot.setVisible(False)
            xs.append(x[k])
        if xs:
            self.cursor.setPos(xs[0] if len(set(xs)) == 1 else min(frame, max(len(r[2]) for r in self._runs) - 1))
            self.cursor.setVisible(len(set(xs)) == 1)


ScoresFn = Callable[[Array], Array]

# hit-testing and gestures in the data view, in screen pixels (the same at any zoom)
POINT_HIT_PX = 7.0  # a press this close to a point's centre is on the point (points are 6 px wide)
HEAD_LEN_PX = 16.0  # a weight arrow's head, tip to base
HEAD_HIT_PX = 11.0  # a press this close to a weight arrow's tip is on the arrow head
DRAG_PX = 3.0  # a press that moves farther than this is a drag, closer it is a click
WEIGHT_ARROW = 0.4  # the longest weight arrow, as a fraction of the data box's half-size (see DataView)
WEIGHT_RESCALE = (0.2, 0.7)  # outside these fractions the common arrow scale is chosen anew


def nice_scale(value: float) -> float:
    """``value`` rounded to 2 significant digits: the factor a legend can print exactly (3.2, 0.047)."""
    return float(f"{value:.2g}")


@dataclass
class _Gesture:
    """One mouse press in the data view, until its release.

    ``kind``: "point" / "weight" (a press on a point / a weight arrow head of an editable
    view: the view owns it, nothing pans), "add" (Shift+press on empty space, editable),
    "watch" (a left press handed on to the plot, which pans; a release close by on a point
    is still a click), "menu" (a right press handed on, which zooms; a release close by
    opens the context menu).
    """

    kind: str
    button: Qt.MouseButton
    index: int | None
    press: QPointF  # viewport pixels
    extend: bool = False
    dragging: bool = False
    moved: float = 0.0  # farthest distance from the press, pixels
    start: Array | None = None  # the point's position / the weight column at the press
    offset: Array | None = None  # grabbed item's position − the cursor's, data coordinates
    value: Array | None = None  # the last dragged-to position / weight column


class DataView(Zoomable, pg.PlotWidget):
    """The examples coloured by class, over the decision regions of the current parameters.

    It is handed a decision function ``scores(X (N, D)) -> (N, C)`` (:meth:`set_decision`),
    so it draws any model's regions: the linear classifier's half-planes as much as a
    network's curved ones. For 2-D data the regions are the argmax of the scores on a fixed
    grid (``GRID`` points a side, whatever the model) and the boundary lines outline each
    class's region. For D > 2 the examples are shown in their first two principal
    components, filled by predicted class and ringed by true class.

    A linear classifier's own geometry (:meth:`set_weights`, 2-D data only): each class's
    weight vector ``W[:, c]`` as an arrow in its class colour, and its score-zero line
    ``W[:, c] · x + b[c] = 0`` dashed, clipped to the view. The arrows start at the origin
    (0, 0) — the weight vector is a vector from it, as in the CS231n demo — unless the origin
    lies outside the data box, where they start at the box's centre so they are on screen
    (the legend says which). Their lengths share one factor: ``head = anchor + weight_scale
    · W[:, c]``, the longest arrow 40% of the box's half-size when the factor is chosen; it
    is chosen anew only when the longest arrow leaves 20–70% of the half-size (a new data
    set, a W grown or shrunk a lot), so a playing animation shows W growing. Never mid-drag.

    Mouse (signals carry example indices into the data as handed to :meth:`set_data`):

    - a click on a point (within ``POINT_HIT_PX``, nearest wins): ``pointClicked(i, extend)``,
      extend with Ctrl held — any D;
    - editable (:attr:`editable`: 2-D data and :meth:`set_editable`):
      dragging a point moves it under the cursor and emits ``pointMoved(i, x, y, False)`` on
      every move, ``pointMoved(i, x, y, True)`` on release (Esc puts it back, finished);
      Shift+click on empty space: ``pointAdded(x, y, current_class)``; dragging a weight
      arrow head: ``weightMoved(c, w0, w1, finished)`` with the ``W[:, c]`` the head stands
      for; a right click: :meth:`context_menu` (delete / relabel a point, or choose the class
      Shift+click adds: ``currentClassChanged(k)``);
    - a press on empty space pans, the right button zooms, the wheel zooms, as in any plot.

    The view moves a dragged point or arrow itself; the data and the weights stay the
    window's, handed back through :meth:`set_data` and :meth:`set_weights`.
    """

    GRID = 120  # decision-region grid points per side: the cost of a redraw is GRID² score rows

    pointClicked = pyqtSignal(int, bool)  # index, extend (Ctrl held)
    pointMoved = pyqtSignal(int, float, float, bool)  # index, x, y, finished
    pointAdded = pyqtSignal(float, float, int)  # x, y, label
    pointDeleted = pyqtSignal(int)  # index
    pointRelabelled = pyqtSignal(int, int)  # index, label
    weightMoved = pyqtSignal(int, float, float, bool)  # class c, W[0, c], W[1, c], finished
    currentClassChanged = pyqtSignal(int)  # the class Shift+click adds, chosen in the context menu

    def __init__(self, parent=None):
        super().__init__(parent, enableMenu=False)
        self.plot_item = self.getPlotItem()
        # no aspect lock: the data fill the box (a locked aspect left wide empty margins)
        for side in ("left", "bottom"):
            self.plot_item.getAxis(side).enableAutoSIPrefix(False)
        self.regions = pg.ImageItem(axisOrder="row-major")
        self.regions.setOpacity(0.35)
        self.plot_item.addItem(self.regions)
        self.boundaries = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen("#222222", width=1.5))  # set_colors
        self.plot_item.addItem(self.boundaries)
        self.points = pg.ScatterPlotItem(size=6, pen=pg.mkPen("k", width=0.5))
        self.plot_item.addItem(self.points)
        # the examples selected in the per-example table: rings around their points
        self.highlighted = pg.ScatterPlotItem(size=16, brush=None, pen=pg.mkPen("#222222", width=2.0))
        self.plot_item.addItem(self.highlighted)
        # a linear classifier's weight vectors and score-zero lines (set_weights): one of each per class
        self.zero_lines: list[pg.PlotCurveItem] = []
        self.arrow_shafts: list[pg.PlotCurveItem] = []
        self.arrow_heads: list[pg.ArrowItem] = []
        self.arrow_anchor = pg.ScatterPlotItem(size=7, brush=None, pen=pg.mkPen("#222222", width=1.2))
        self.plot_item.addItem(self.arrow_anchor, ignoreBounds=True)
        self.weights_label = pg.TextItem(anchor=(0, 0))
        self.weights_label.setParentItem(self.plot_item.vb)  # the box's own (pixel) coordinates: a fixed corner
        self.weights_label.setPos(6, 4)
        self.weights_label.setZValue(1e6)
        # drawing order, bottom up: regions, boundaries, zero lines, points, arrows, rings
        base = self.regions.zValue()
        for z, item in enumerate((self.boundaries, self.points, self.arrow_anchor, self.highlighted), start=1):
            item.setZValue(base + 2 * z)  # odd levels are for the per-class items made later
        self.title = ""
        self._X2: Array | None = None
        self._y: Array | None = None
        self._D = 0
        self._n_classes = 0
        self._box: tuple[Array, Array] | None = None
        self._grid: tuple[Array, Array] | None = None
        self._grid_points: Array | None = None
        self._predicted: Array | None = None  # the predicted class on the grid (2-D) or of each example (D > 2)
        self._due: ScoresFn | None = None  # a decision function whose regions wait for flush()
        self._highlight = np.empty(0, dtype=int)
        self._point_brushes: list = []
        # editing
        self._editable = True
        self.current_class = 0
        self._class_names: tuple[str, ...] | None = None
        self._gesture: _Gesture | None = None
        self._menu: QMenu | None = None
        # weights
        self._W: Array | None = None
        self._b: Array | None = None
        self._weights_shown = True
        self.weight_scale: float | None = None  # data units per unit of W along the arrows
        self.weight_anchor = np.zeros(2)  # where the arrows start, data coordinates
        self._foreground = "#222222"
        self.plot_item.vb.sigTransformChanged.connect(self._view_changed)

    # --- colours -----------------------------------------------------------------------------------
    def set_colors(self, foreground: str) -> None:
        """The boundaries and the selection rings in the theme's text colour: dark on light, light on dark.

        The weight arrows get a halo in the background colour (``setBackground``) so they read
        over the regions and the boundaries in either theme.
        """
        self._foreground = foreground
        self.boundaries.setPen(pg.mkPen(foreground, width=1.5))
        self.highlighted.setPen(pg.mkPen(foreground, width=2.0))
        self._style_weights()

    def setBackground(self, background) -> None:  # noqa: N802 (Qt's name)
        super().setBackground(background)
        if hasattr(self, "arrow_anchor"):  # GraphicsView's __init__ sets the first background
            self._style_weights()

    def _background_color(self) -> QColor:
        return QColor(self.backgroundBrush().color())

    def _style_weights(self) -> None:
        background = self._background_color()
        halo = QColor(background)
        halo.setAlpha(190)
        for c, (shaft, head) in enumerate(zip(self.arrow_shafts, self.arrow_heads)):
            shaft.setPen(pg.mkPen(class_color(c), width=2.5, cap=Qt.PenCapStyle.FlatCap))
            shaft.setShadowPen(pg.mkPen(halo, width=5.5, cap=Qt.PenCapStyle.FlatCap))
            head.setStyle(pen=pg.mkPen(halo, width=1.0), brush=pg.mkBrush(class_color(c)))
        for c, line in enumerate(self.zero_lines):
            line.setPen(pg.mkPen(class_color(c), width=2.0, style=Qt.PenStyle.DashLine))
        self.arrow_anchor.setPen(pg.mkPen(self._foreground, width=1.2))
        self.weights_label.setColor(self._foreground)
        fill = QColor(background)
        fill.setAlpha(200)
        self.weights_label.fill = pg.mkBrush(fill)
        self.weights_label.update()

    # --- data --------------------------------------------------------------------------------------
    def highlight(self, examples) -> None:
        """Rings around the points of these example indices (none: no rings)."""
        index = np.asarray(list(examples), dtype=int)
        if self._X2 is None or not index.size:
            self._highlight = np.empty(0, dtype=int)
            self.highlighted.setData([], [])
            return
        self._highlight = index[(index >= 0) & (index < len(self._X2))]
        self.highlighted.setData(self._X2[self._highlight, 0], self._X2[self._highlight, 1])

    def set_data(self, X: Array, y: Array, n_classes: int, title: str, keep_view: bool = False) -> None:
        """Show the examples ``X (N, D)`` with labels ``y``; the view spans their box unless ``keep_view``.

        ``keep_view`` (or a drag in progress) keeps the zoom and pan: for the data the user
        is editing, which should not jump under the cursor. A point being dragged stays under
        the cursor when the same number of examples comes back.
        """
        gesture = self._gesture
        if gesture is not None and gesture.kind == "point" and (X.shape[1] != 2 or len(X) != len(self._X2)):
            self._gesture = None  # the dragged point is gone: the window's data rule
        self._X_full, self._y, self._n_classes = X, np.asarray(y, dtype=int), n_classes
        self._D = X.shape[1]
        self._predicted, self._due = None, None
        if self._D == 2:
            self._X2 = np.array(X, dtype=float)  # a copy: a drag moves it, never the caller's data
            self.plot_item.setLabel("bottom", "x₁")
            self.plot_item.setLabel("left", "x₂")
        else:
            centred = X - X.mean(axis=0)
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
            self._X2 = centred @ vt[:2].T
            self.plot_item.setLabel("bottom", "PC 1")
            self.plot_item.setLabel("left", "PC 2")
            if self._gesture is not None and self._gesture.kind in ("point", "weight", "add"):
                self._gesture = None
        dragging = self._gesture is not None and self._gesture.kind in ("point", "weight")
        if self._gesture is not None and self._gesture.kind == "point" and self._gesture.value is not None:
            self._X2[self._gesture.index] = self._gesture.value
        lo, hi = self._X2.min(axis=0), self._X2.max(axis=0)
        pad = 0.08 * (hi - lo) + 1e-9
        self._box = (lo - pad, hi + pad)
        self._grid, self._grid_points = None, None
        if self._D == 2:
            gx = np.linspace(self._box[0][0], self._box[1][0], self.GRID)
            gy = np.linspace(self._box[0][1], self._box[1][1], self.GRID)
            self._grid = (gx, gy)
            GX, GY = np.meshgrid(gx, gy)
            self._grid_points = np.stack([GX.ravel(), GY.ravel()], axis=1)
        if not 0 <= self.current_class < n_classes:
            self.current_class = 0
        self.regions.setVisible(self._D == 2)
        self.boundaries.setVisible(self._D == 2)
        self.title = title
        self.plot_item.setTitle(title)
        self._brushes = [pg.mkBrush(class_color(k)) for k in range(n_classes)]
        self._point_brushes = [self._brushes[k] for k in self._y]
        self.points.setData(self._X2[:, 0], self._X2[:, 1], brush=self._point_brushes, pen=pg.mkPen("k", width=0.5))
        self._highlight = np.empty(0, dtype=int)
        self.highlighted.setData([], [])  # new data: an old selection means nothing here
        if not (keep_view or dragging):
            self.plot_item.setRange(xRange=(self._box[0][0], self._box[1][0]),
                                    yRange=(self._box[0][1], self._box[1][1]), padding=0)
        if self._D != 2:
            self._W = self._b = None  # no weight vectors in a PCA view
        self._place_weights(rescale=not dragging)

    @property
    def grid_points(self) -> Array | None:
        """The 2-D grid the regions are computed on, as ``(GRID², 2)`` rows (row-major: x fastest)."""
        return self._grid_points

    def set_decision(self, scores: ScoresFn | None, later: bool = False) -> None:
        """Draw the regions of the decision function ``scores(X (N, D)) -> (N, C)`` (None: no regions).

        The function is evaluated once per redraw, on ``GRID²`` points for 2-D data or on
        the examples themselves; keeping it affordable for wide models is the caller's part
        (see ``figure.decision_function``, which evaluates in bounded chunks).

        ``later``: 2-D regions (2 ms) are drawn by :meth:`flush`, which the figure calls at this
        view's turn to repaint; :attr:`predicted` and exports flush first.
        """
        if self._X2 is None:
            return
        self._due = None
        if scores is None:
            self._predicted = None
            self.regions.clear()
            self.boundaries.setData([], [])
            return
        if self._D == 2:
            if later:
                self._due = scores
                return
            gx, gy = self._grid
            label = np.argmax(self._finite(scores, self.grid_points), axis=1).reshape(len(gy), len(gx))
            self._predicted = label
            rgb = np.array([class_color(k).getRgb()[:3] for k in range(self._n_classes)], dtype=np.ubyte)
            self.regions.setImage(rgb[label], autoLevels=False, levels=(0, 255))
            self.regions.setRect(QRectF(gx[0], gy[0], gx[-1] - gx[0], gy[-1] - gy[0]))  # after setImage: it scales by size
            # class boundaries: where the winning class changes, traced at half-integer levels
            # of a per-pair indicator would be costly; instead outline each class region
            segments = [contour_segments((label == k).astype(float), gx, gy, 0.5) for k in range(self._n_classes)]
            segments = np.concatenate(segments) if segments else np.empty((0, 2, 2))
            self.boundaries.setData(segments[:, :, 0].ravel(), segments[:, :, 1].ravel())
        else:
            predicted = np.argmax(self._finite(scores, self._X_full), axis=1)
            self._predicted = predicted
            self.points.setData(self._X2[:, 0], self._X2[:, 1], brush=[self._brushes[k] for k in predicted],
                                pen=[pg.mkPen(class_color(k), width=1.5) for k in self._y])

    def flush(self) -> None:
        """Draw the regions a ``set_decision(..., later=True)`` left waiting."""
        if self._due is not None:
            self.set_decision(self._due)

    @property
    def predicted(self) -> Array | None:
        """The predicted class on the grid (2-D data: ``(GRID, GRID)``) or of each example (projected data)."""
        self.flush()
        return self._predicted

    @staticmethod
    def _finite(scores: ScoresFn, X: Array) -> Array:
        with np.errstate(all="ignore"):
            values = np.asarray(scores(X), dtype=float)
        return np.nan_to_num(values, nan=0.0, posinf=1e300, neginf=-1e300)

    # --- editing state -----------------------------------------------------------------------------
    @property
    def editable(self) -> bool:
        """Whether the mouse edits: :meth:`set_editable` on (the default) and 2-D data (never a PCA view)."""
        return self._editable and self._D == 2

    def set_editable(self, editable: bool) -> None:
        """Turn direct manipulation on or off (clicks still select); a drag in progress ends, finished."""
        self._editable = bool(editable)
        if not self.editable and self._gesture is not None and self._gesture.kind in ("point", "weight", "add"):
            gesture, self._gesture = self._gesture, None
            if gesture.dragging:
                self._emit_drag(gesture, finished=True)
            self.viewport().unsetCursor()

    def set_current_class(self, label: int) -> None:
        """The class a Shift+click adds (0 by default; back to 0 when a data set has fewer classes)."""
        label = int(label)
        if label < 0 or (self._n_classes and label >= self._n_classes):
            return
        self.current_class = label

    def set_class_names(self, names) -> None:
        """The names the context menu gives the classes (None: "class k")."""
        self._class_names = None if names is None else tuple(str(name) for name in names)

    def class_name(self, k: int) -> str:
        if self._class_names is not None and k < len(self._class_names):
            return self._class_names[k]
        return f"class {k}"

    @staticmethod
    def _class_icon(k: int) -> QIcon:
        pixmap = QPixmap(12, 12)
        pixmap.fill(class_color(k))
        return QIcon(pixmap)

    def context_menu(self, index: int | None) -> QMenu | None:
        """The right-click menu for the point ``index``, or for empty space (None); None when not editable.

        On a point: "Delete point i" (``pointDeleted``) and "Relabel as ▸ class k"
        (``pointRelabelled``). On empty space: "New points are class ▸ k", the class
        Shift+click adds (``currentClassChanged``). The menu is built, not shown: the view
        pops it up on a right click, tests trigger its actions.
        """
        if not self.editable or self._X2 is None or (index is not None and not 0 <= index < len(self._X2)):
            return None
        if self._menu is not None:
            self._menu.deleteLater()
        menu = self._menu = QMenu(self)
        if index is not None:
            index = int(index)
            label = int(self._y[index])
            delete = menu.addAction(f"Delete point {index}")
            delete.triggered.connect(lambda _=False, i=index: self.pointDeleted.emit(i))
            relabel = menu.addMenu("Relabel as")
            for k in range(self._n_classes):
                action = relabel.addAction(self._class_icon(k), self.class_name(k))
                action.setCheckable(True)
                action.setChecked(k == label)
                action.setEnabled(k != label)
                action.triggered.connect(lambda _=False, i=index, k=k: self.pointRelabelled.emit(i, k))
        else:
            chooser = menu.addMenu("New points are class")
            chooser.setToolTipsVisible(True)
            group = QActionGroup(chooser)
            for k in range(self._n_classes):
                action = chooser.addAction(self._class_icon(k), self.class_name(k))
                action.setToolTip("Shift+click on empty space adds a point of this class")
                action.setCheckable(True)
                action.setChecked(k == self.current_class)
                group.addAction(action)
                action.triggered.connect(lambda _=False, k=k: self._choose_class(k))
        return menu

    def _choose_class(self, k: int) -> None:
        self.set_current_class(k)
        self.currentClassChanged.emit(k)

    # --- weights in data space ---------------------------------------------------------------------
    def set_weights(self, W: Array | None, b: Array | None) -> None:
        """A linear classifier's ``W (2, C)`` and ``b (C,)`` as arrows and score-zero lines (None: nothing).

        Drawn for 2-D data only; any other shape draws nothing. During a drag of an arrow the
        dragged column stays where the cursor put it and the scale stays as it was.
        """
        if W is None or b is None:
            self._W = self._b = None
        else:
            W, b = np.array(W, dtype=float), np.array(b, dtype=float)
            ok = W.ndim == 2 and W.shape[0] == 2 and b.shape == (W.shape[1],)
            self._W, self._b = (W, b) if ok else (None, None)
        gesture = self._gesture
        dragging = gesture is not None and gesture.kind == "weight"
        if dragging and (self._W is None or gesture.index >= self._W.shape[1]):
            self._gesture, dragging = None, False
        if dragging and gesture.value is not None:
            self._W[:, gesture.index] = gesture.value
        self._place_weights(rescale=not dragging)

    def show_weights(self, shown: bool) -> None:
        """Show or hide the weight arrows, the score-zero lines and their legend."""
        self._weights_shown = bool(shown)
        self._draw_weights()

    @property
    def weights_shown(self) -> bool:
        return self._weights_shown

    def _weights_drawn(self) -> bool:
        return self._weights_shown and self._W is not None and self._D == 2 and self._box is not None

    def _place_weights(self, rescale: bool) -> None:
        """Choose the arrows' anchor and common scale (unless mid-drag), then draw."""
        if self._W is not None and self._box is not None and rescale:
            lo, hi = self._box
            self.weight_anchor = np.zeros(2) if np.all((lo <= 0) & (0 <= hi)) else (lo + hi) / 2
            half = float(np.min(hi - lo)) / 2
            norms = np.linalg.norm(self._W, axis=0)
            longest = float(np.max(norms[np.isfinite(norms)], initial=0.0))
            current = self.weight_scale
            if longest == 0.0:
                scale = current if current else nice_scale(WEIGHT_ARROW * half)  # as if |W| were 1
            elif current and WEIGHT_RESCALE[0] <= current * longest / half <= WEIGHT_RESCALE[1]:
                scale = current
            else:
                scale = nice_scale(WEIGHT_ARROW * half / longest)
            self.weight_scale = scale if np.isfinite(scale) and scale > 0 else None
        self._draw_weights()

    def _ensure_weight_items(self, C: int) -> None:
        if len(self.arrow_heads) >= C:
            return  # styled when made, and again when the theme changes (set_colors, setBackground)
        while len(self.arrow_heads) < C:
            z = self.points.zValue()
            line = pg.PlotCurveItem(connect="finite")
            line.setZValue(z - 1)  # above the boundaries, under the points
            shaft = pg.PlotCurveItem(connect="finite")
            shaft.setZValue(z + 1)  # over the points: the heads are handles
            head = pg.ArrowItem(headLen=HEAD_LEN_PX, tipAngle=36, tailLen=None, pxMode=True)
            head.setZValue(z + 1.5)
            for item in (line, shaft, head):
                self.plot_item.addItem(item, ignoreBounds=True)
            self.zero_lines.append(line)
            self.arrow_shafts.append(shaft)
            self.arrow_heads.append(head)
        self._style_weights()

    def weight_heads(self) -> Array:
        """``(C, 2)``: where the arrow heads' tips are, data coordinates (``anchor + weight_scale · W[:, c]``)."""
        if self._W is None or self.weight_scale is None:
            return np.empty((0, 2))
        return self.weight_anchor + self.weight_scale * self._W.T

    def _draw_weights(self) -> None:
        drawn = self._weights_drawn()
        C = self._W.shape[1] if drawn else 0
        if drawn:
            self._ensure_weight_items(C)
        for c in range(len(self.arrow_heads)):
            for item in (self.zero_lines[c], self.arrow_shafts[c], self.arrow_heads[c]):
                item.setVisible(c < C)
        self.arrow_anchor.setVisible(drawn and self.weight_scale is not None)
        self.weights_label.setVisible(drawn)
        if not drawn:
            return
        (x0, x1), (y0, y1) = self.plot_item.vb.viewRange()
        lo, hi = band(np.array([x0, y0]), np.array([x1, y1]))
        box = (lo[0], hi[0], lo[1], hi[1])
        with np.errstate(all="ignore"):
            for c, line in enumerate(score_zero_lines(np.nan_to_num(self._W), np.nan_to_num(self._b))):
                segment = line.segment(box) if np.all(np.isfinite(self._W[:, c])) and np.isfinite(self._b[c]) else None
                if segment is None:
                    self.zero_lines[c].setData([], [])
                else:
                    self.zero_lines[c].setData(segment[:, 0], segment[:, 1])
        anchor = self.weight_anchor
        self.arrow_anchor.setData([anchor[0]], [anchor[1]])
        heads = self.weight_heads()
        pixels = self._pixels(np.vstack([anchor[None], heads])) if len(heads) else np.empty((0, 2))
        for c in range(C):
            shaft, head = self.arrow_shafts[c], self.arrow_heads[c]
            tip = heads[c] if len(heads) else anchor
            with np.errstate(all="ignore"):
                dx, dy = pixels[c + 1] - pixels[0] if len(heads) else (0.0, 0.0)
                length = math.hypot(dx, dy)
            if not (np.all(np.isfinite(tip)) and np.isfinite(length)) or length < 1.0:  # no direction: no arrow
                shaft.setData([], [])
                head.setVisible(False)
                continue
            # the shaft ends inside the head (narrower than the shaft near its tip), the head's tip is the vector's end
            end = anchor + max(0.0, 1.0 - 0.6 * HEAD_LEN_PX / length) * (tip - anchor)
            cut = clip_polyline(np.array([anchor, end]), lo, hi)
            shaft.setData(cut[:, 0], cut[:, 1])
            head.setPos(QPointF(*tip))
            head.setStyle(angle=math.degrees(math.atan2(-dy, -dx)))  # on screen (the axes' scales differ); 0 points left
            head.setVisible(bool(np.all((lo <= tip) & (tip <= hi))))
        scale = self.weight_scale
        text = "arrows: W[:, c] × " + (f"{scale:g}" if scale is not None else "–")
        if np.any(anchor != 0):
            text += ", from the data's centre"
        self.weights_label.setText(text)

    def redraw_lines(self) -> None:
        """Re-cut the zero lines and the arrows to the band around the view (exports cut them at its edge)."""
        self._draw_weights()

    def _view_changed(self, *_) -> None:
        if self._weights_drawn():
            self._draw_weights()

    # --- mouse ------------------------------------------------------------------------------------
    def _transform(self):
        """Data coordinates → viewport pixels."""
        return self.plot_item.vb.childGroup.sceneTransform() * self.viewportTransform()

    def _pixels(self, xy: Array) -> Array:
        """``(n, 2)`` data coordinates → ``(n, 2)`` viewport pixels."""
        t = self._transform()
        x, y = xy[:, 0], xy[:, 1]
        return np.stack([t.m11() * x + t.m21() * y + t.m31(), t.m12() * x + t.m22() * y + t.m32()], axis=1)

    def data_point(self, pos: QPointF) -> Array:
        """The data coordinates under the viewport pixel ``pos``."""
        inverse, _ = self._transform().inverted()
        p = inverse.map(QPointF(pos))
        return np.array([p.x(), p.y()])

    def hit(self, pos: QPointF) -> tuple[str, int] | None:
        """What is under the viewport pixel ``pos``: ("point", i), ("weight", c) or None; the nearest wins."""
        if self._X2 is None:
            return None
        here = np.array([pos.x(), pos.y()])
        best: tuple[float, str, int] | None = None
        candidates = [("weight", self._visible_heads(), HEAD_HIT_PX), ("point", self._X2, POINT_HIT_PX)]
        for kind, xy, reach in candidates:
            if len(xy) == 0:
                continue
            with np.errstate(all="ignore"):
                distance = np.linalg.norm(self._pixels(xy) - here, axis=1)
            distance = np.where(np.isfinite(distance), distance, np.inf)
            i = int(np.argmin(distance))
            if distance[i] <= reach and (best is None or distance[i] < best[0]):
                best = (float(distance[i]), kind, i)
        return None if best is None else (best[1], best[2])

    def _visible_heads(self) -> Array:
        if not self._weights_drawn():
            return np.empty((0, 2))
        heads = self.weight_heads().copy()
        hidden = [c for c in range(len(heads)) if not self.arrow_heads[c].isVisible()]
        heads[hidden] = np.nan
        return heads

    def mousePressEvent(self, ev) -> None:  # noqa: N802 (Qt's name)
        stale = self._gesture
        if stale is not None:
            if ev.buttons() & ~ev.button() & stale.button:
                ev.accept()  # a second button during a drag of ours: ignored
                if stale.kind in ("point", "weight", "add"):
                    return
                super().mousePressEvent(ev)
                return
            self._end_gesture(stale)  # its release never came (a grab lost to a popup)
        pos = ev.position()
        hit = self.hit(pos)
        extend = bool(ev.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if ev.button() == Qt.MouseButton.LeftButton:
            if self.editable and hit is not None:
                kind, index = hit
                start = self._X2[index].copy() if kind == "point" else self._W[:, index].copy()
                item = self._X2[index] if kind == "point" else self.weight_heads()[index]
                self._gesture = _Gesture(kind, ev.button(), index, QPointF(pos), extend, start=start,
                                         offset=item - self.data_point(pos))
                ev.accept()
                return  # a press on a point or an arrow head is ours: no pan
            if self.editable and ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self._gesture = _Gesture("add", ev.button(), None, QPointF(pos))
                ev.accept()
                return
            index = hit[1] if hit is not None and hit[0] == "point" else None
            self._gesture = _Gesture("watch", ev.button(), index, QPointF(pos), extend)
        elif ev.button() == Qt.MouseButton.RightButton:
            index = hit[1] if hit is not None and hit[0] == "point" else None
            self._gesture = _Gesture("menu", ev.button(), index, QPointF(pos))
        super().mousePressEvent(ev)  # the plot pans (left), zooms (right), ...

    def mouseDoubleClickEvent(self, ev) -> None:  # noqa: N802 (Qt's name)
        # Qt sends a quick second press as a double click: on our items it is a press again
        if self.editable and ev.button() == Qt.MouseButton.LeftButton and self.hit(ev.position()) is not None:
            self.mousePressEvent(ev)
            return
        super().mouseDoubleClickEvent(ev)

    def mouseMoveEvent(self, ev) -> None:  # noqa: N802 (Qt's name)
        gesture, pos = self._gesture, ev.position()
        if gesture is not None:
            gesture.moved = max(gesture.moved, math.hypot(pos.x() - gesture.press.x(), pos.y() - gesture.press.y()))
        if gesture is None or gesture.kind in ("watch", "menu"):
            if gesture is None:
                self._hover(pos)
            super().mouseMoveEvent(ev)
            return
        ev.accept()
        if gesture.kind in ("point", "weight") and (gesture.dragging or gesture.moved > DRAG_PX):
            if not gesture.dragging:
                gesture.dragging = True
                self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            self._drag_to(gesture, pos)
            self._emit_drag(gesture, finished=False)

    def mouseReleaseEvent(self, ev) -> None:  # noqa: N802 (Qt's name)
        gesture = self._gesture
        if gesture is None or ev.button() != gesture.button:
            if gesture is None or gesture.kind in ("watch", "menu"):
                super().mouseReleaseEvent(ev)
            else:
                ev.accept()
            return
        self._gesture = None
        if gesture.kind in ("watch", "menu"):
            super().mouseReleaseEvent(ev)
        else:
            ev.accept()
        click = gesture.moved <= DRAG_PX
        if gesture.kind in ("point", "weight") and gesture.dragging:
            self._drag_to(gesture, ev.position())
            self._emit_drag(gesture, finished=True)
        elif gesture.kind in ("point", "watch") and click and gesture.index is not None:
            self.pointClicked.emit(gesture.index, gesture.extend)
        elif gesture.kind == "add" and click:
            x, y = self.data_point(gesture.press)
            self.pointAdded.emit(float(x), float(y), int(self.current_class))
        elif gesture.kind == "menu" and click:
            menu = self.context_menu(gesture.index)
            if menu is not None:
                menu.popup(ev.globalPosition().toPoint())
        self._hover(ev.position())

    def contextMenuEvent(self, ev) -> None:  # noqa: N802 (Qt's name)
        if not self.editable:
            super().contextMenuEvent(ev)
            return
        ev.accept()  # a mouse's right click opens the menu on release (a right drag zooms)
        if ev.reason() != ev.Reason.Mouse:  # the menu key: the menu for what is under the cursor
            pos = QPointF(self.viewport().mapFromGlobal(ev.globalPos()))
            hit = self.hit(pos)
            menu = self.context_menu(hit[1] if hit is not None and hit[0] == "point" else None)
            if menu is not None:
                menu.popup(ev.globalPos())

    def keyPressEvent(self, ev) -> None:  # noqa: N802 (Qt's name)
        gesture = self._gesture
        if ev.key() == Qt.Key.Key_Escape and gesture is not None and gesture.dragging:
            self._gesture = None  # Esc: put it back where it was
            gesture.value = gesture.start.copy()
            self._show_drag(gesture)
            self._emit_drag(gesture, finished=True)
            self.viewport().unsetCursor()
            ev.accept()
            return
        super().keyPressEvent(ev)

    def _hover(self, pos: QPointF) -> None:
        """The cursor says what a press would do: an open hand on what a drag moves, a pointing hand on a point."""
        hit = self.hit(pos) if self._X2 is not None else None
        if hit is not None and self.editable:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif hit is not None and hit[0] == "point":
            self.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
        else:
            self.viewport().unsetCursor()

    def _drag_to(self, gesture: _Gesture, pos: QPointF) -> None:
        """Move the dragged point or arrow head under the cursor (the grab offset kept)."""
        at = self.data_point(pos) + gesture.offset
        if gesture.kind == "point":
            gesture.value = at
        else:
            gesture.value = (at - self.weight_anchor) / self.weight_scale
        self._show_drag(gesture)

    def _show_drag(self, gesture: _Gesture) -> None:
        if gesture.kind == "point":
            self._X2[gesture.index] = gesture.value
            self.points.setData(self._X2[:, 0], self._X2[:, 1], brush=self._point_brushes,
                                pen=pg.mkPen("k", width=0.5))
            if self._highlight.size:
                self.highlighted.setData(self._X2[self._highlight, 0], self._X2[self._highlight, 1])
        elif self._W is not None and gesture.index < self._W.shape[1]:
            self._W[:, gesture.index] = gesture.value
            self._draw_weights()

    def _emit_drag(self, gesture: _Gesture, finished: bool) -> None:
        if gesture.value is None:
            return
        first, second = (float(v) for v in gesture.value)
        if gesture.kind == "point":
            self.pointMoved.emit(gesture.index, first, second, finished)
        else:
            self.weightMoved.emit(gesture.index, first, second, finished)

    def _end_gesture(self, gesture: _Gesture) -> None:
        """A gesture whose release never came: a drag ends where it was, finished."""
        self._gesture = None
        if gesture.kind in ("point", "weight") and gesture.dragging:
            self._emit_drag(gesture, finished=True)


DIVERGING_LUT = "CET-D1"  # blue (negative) – white (0) – red (positive): the templates' colour map


class TemplateView(Zoomable, pg.GraphicsLayoutWidget):
    """Weight vectors into units shown as images: the CS231n templates.

    The linear classifier's class columns ``W[:, c]`` (one image per class, titled by the
    class), or a network's first-layer units ``W1[:, h]`` (what each hidden unit looks for
    in the input, titled "unit h" under a heading that says so), each in a diverging colour
    map centred at 0 (blue negative, white 0, red positive) and scaled to its own largest
    weight. At most ``MAX_UNITS`` units are shown (the first ones), in a grid.
    """

    MAX_UNITS = 32
    MAX_COLUMNS = 8

    def __init__(self, parent=None):
        super().__init__(parent)
        self._items: list[pg.ImageItem] = []
        self._labels: list[pg.LabelItem] = []
        self._shape: tuple[int, int] | None = None
        self._titles: tuple[str, ...] = ()
        self.heading = ""
        self._foreground: str | None = None  # None: pyqtgraph's default until the figure sets the theme's
        self._lut = pg.colormap.get(DIVERGING_LUT).getLookupTable(nPts=256)

    @property
    def titles(self) -> tuple[str, ...]:
        """The title of each image shown, in order."""
        return self._titles

    @property
    def images(self) -> list[pg.ImageItem]:
        return list(self._items)

    def set_foreground(self, color: str) -> None:
        """The colour of the titles (the figure's theme)."""
        if color == self._foreground:
            return
        self._foreground = color
        for label in self._labels:
            label.setText(label.text, color=color)

    def set_classes(self, class_names: tuple[str, ...], image_shape: tuple[int, int]) -> None:
        """One image per class (the linear classifier's templates)."""
        self.set_titles(tuple(class_names), image_shape, max_columns=5)

    def set_units(self, n_units: int, image_shape: tuple[int, int]) -> None:
        """One image per hidden unit, the first ``MAX_UNITS`` of them (a network's first layer)."""
        shown = min(int(n_units), self.MAX_UNITS)
        which = f"the first {shown} of {n_units}" if n_units > shown else f"all {n_units}"
        self.set_titles(tuple(f"unit {h}" for h in range(shown)), image_shape, max_columns=self.MAX_COLUMNS,
                        heading=f"hidden units: first-layer weights W₁[:, h] ({which})")

    def set_titles(self, titles: tuple[str, ...], image_shape: tuple[int, int], max_columns: int = 5,
                   heading: str = "") -> None:
        """One image per title, in rows of at most ``max_columns``, under an optional ``heading``.

        Nothing is rebuilt when the titles, shape and heading are the ones shown. Many
        images (more than ten) get smaller titles and tighter rows, so the images keep their size.
        """
        titles, image_shape = tuple(titles), tuple(image_shape)
        if (titles, image_shape, heading) == (self._titles, self._shape, self.heading) and self._items:
            return
        self.clear()
        self._items, self._labels = [], []
        self._shape, self._titles, self.heading = image_shape, titles, heading
        columns = grid_columns(len(titles), max_columns) if titles else 1
        color = {"color": self._foreground} if self._foreground else {}
        many = len(titles) > 10
        self.ci.layout.setVerticalSpacing(2 if many else 6)
        top = 0
        if heading:
            self.addItem(self._label(heading, "9pt", color, tight=False, heading=True), row=0, col=0, colspan=columns)
            top = 1
        for k, name in enumerate(titles):
            row, col = top + 2 * (k // columns), k % columns
            view = self.addViewBox(row=row + 1, col=col, lockAspect=True, enableMouse=False)
            self.ci.layout.setRowStretchFactor(row + 1, 1)  # the images' rows take the height the titles leave
            self.addItem(self._label(name, "8pt" if many else "9pt", color, tight=many), row=row, col=col)
            image = pg.ImageItem(axisOrder="row-major")
            view.addItem(image)
            view.invertY(True)
            self._items.append(image)

    def _label(self, text: str, size: str, color: dict, tight: bool, heading: bool = False) -> pg.LabelItem:
        label = pg.LabelItem(text, size=size, **color)
        if tight:  # no margin around the text: the row is as tall as the text
            label.item.document().setDocumentMargin(0)
            label.updateMin()
        if not heading:  # a title's row is its text's height, the rest is image (a spanning heading
            label.setMaximumHeight(label.minimumHeight())  # with a maximum would cap the whole grid's height)
        self._labels.append(label)
        return label

    def set_weights(self, W: Array | None) -> None:
        """Show column k of ``W (pixels, units)`` in image k (extra columns are not shown)."""
        if W is None or self._shape is None:
            return
        for k, item in enumerate(self._items[:W.shape[1]]):
            template = W[:, k].reshape(self._shape)
            with np.errstate(all="ignore"):
                scale = float(np.nanmax(np.abs(template))) if np.isfinite(template).any() else 0.0
            scale = scale if np.isfinite(scale) and scale > 0 else 1.0
            item.setImage(np.nan_to_num(template, nan=0.0, posinf=scale, neginf=-scale), levels=(-scale, scale),
                          lut=self._lut)


def grid_columns(n: int, max_columns: int) -> int:
    """Columns for ``n`` panels: at most ``max_columns``, rows as full as they can evenly be (5 → 3 + 2)."""
    rows = max(1, math.ceil(n / max_columns))
    return max(1, math.ceil(n / rows))


class LandscapeGrid(Zoomable, pg.GraphicsLayoutWidget):
    """The landscape panels (one per run, or one overlay panel) in a grid, sharing one colour bar.

    Every panel gets a plot area of the same size: the cells are sized here from the
    widget's size (equal columns, at most ``MAX_COLUMNS`` a row, then more rows), the axes
    have fixed sizes and titles are elided to the cell. Nothing depends on the order in
    which Qt settles text sizes, so the same snapshot gives the same pixels every time.

    Panels share zoom and pan (linked axes). Signals:
        clicked(float, float): a click on any contour, in plane coordinates.
        hovered(float, float, float): pointer position (a, b) and the displayed loss there.
    """

    clicked = pyqtSignal(float, float)
    hovered = pyqtSignal(float, float, float)

    MAX_COLUMNS = 4
    MARGIN = 6  # around the grid
    SPACING = 10  # between cells
    COLORBAR_WIDTH = 14
    COLORBAR_AXIS_WIDTH = 62

    def __init__(self, parent=None):
        super().__init__(parent)
        self.panels: list[LandscapePanel] = []
        self._pool: list[LandscapePanel] = []  # every panel made, in layout order: panels is a prefix of it
        self._holding_frames = 0  # held_frames blocks under way
        self._spares = QTimer(self)
        self._spares.setInterval(self.SPARE_INTERVAL_MS)
        self._spares.timeout.connect(self._make_spare_panel)
        self.colorbar: pg.ColorBarItem | None = None
        self._surface: tuple | None = None  # (SurfaceDisplay, colour map name)
        self._colorbar_key: tuple | None = None  # the colour map and label the colour bar shows
        self._region: tuple[tuple[float, float], tuple[float, float]] | None = None
        self._axes_labels = ("a", "b")
        self._foreground = "#222222"
        self._layout_key: tuple | None = None
        self._cells: tuple | None = None
        grid = self.ci.layout  # one grid for every layout: set_layout places the items in it
        grid.setContentsMargins(*(self.MARGIN,) * 4)
        grid.setHorizontalSpacing(self.SPACING)
        grid.setVerticalSpacing(self.SPACING)
        self.scene().sigMouseMoved.connect(self._moved)
        self.scene().sigMouseClicked.connect(self._clicked)

    @property
    def columns(self) -> int:
        return grid_columns(len(self.panels), self.MAX_COLUMNS)

    def set_layout(self, titles: list, axes_labels: tuple[str, str]) -> bool:
        """One panel per title (overlay: a single title). Returns whether the panels were rebuilt:
        unchanged ones are kept as they are (rebuilding costs every axis its cached drawing).

        A title is a string, or ``(text, colour)`` for a run's name after a dot in its colour.
        """
        titles = [(t, None) if isinstance(t, str) else tuple(t) for t in titles]
        if (titles, tuple(axes_labels)) == self._layout_key:
            return False
        self._layout_key = (titles, tuple(axes_labels))
        for panel in self.panels[len(titles):]:  # set aside: hidden, no longer following the first one's view
            panel.setXLink(None)
            panel.setYLink(None)
            panel.hide()
        self._axes_labels = axes_labels
        columns = grid_columns(len(titles), self.MAX_COLUMNS)
        rows = math.ceil(len(titles) / columns)
        # The items are placed in the grid itself, laid out once at the end: they stay in the scene
        # (pyqtgraph's addItem and clear take each item out of the scene and put it back, and lay
        # the whole grid out after every item: 9 passes for 8 panels, each resizing every panel).
        grid = self.ci.layout
        while grid.count():
            grid.removeAt(grid.count() - 1)
        self.panels = []
        for k, (text, color) in enumerate(titles):
            panel = self._pooled_panel(k)
            panel.set_heading(text, color)
            panel.set_foreground(self._foreground)
            panel.set_axes_labels(axes_labels)
            panel.show()  # before the grid is laid out: a hidden panel's own layout would wait for the loop
            grid.addItem(panel, k // columns, k % columns)
            self.panels.append(panel)
        if self.colorbar is None:
            self.colorbar = pg.ColorBarItem(values=(0, 1), width=self.COLORBAR_WIDTH, interactive=False,
                                            colorMap="viridis")
            # fixed: new tick labels must not re-lay out (and redraw) every panel
            self.colorbar.axis.setWidth(self.COLORBAR_AXIS_WIDTH)
            self.colorbar.axis.enableAutoSIPrefix(False)  # "total loss (x0.001)" misreads every tick
            self.colorbar.axis.setPen(self._foreground)
            self.colorbar.axis.setTextPen(self._foreground)
        grid.addItem(self.colorbar, 0, columns, rows, 1)
        self._cells = None
        self._fit_cells()
        grid.activate()
        # linked once laid out: while the grid settles, each resize would move every linked view again
        for panel in self.panels[1:]:  # every panel follows the first one's zoom and pan
            if panel.vb.linkedView(pg.ViewBox.XAxis) is not self._pool[0].vb:
                panel.setXLink(self._pool[0])
                panel.setYLink(self._pool[0])
        self._spares.start()  # then, while the window idles, panels for layouts with more runs
        if self._surface is not None:
            self._draw_surface()
            if self._region is None:
                a, b = self._surface[0].a_values, self._surface[0].b_values
                self._region = ((a[0], a[-1]), (b[0], b[-1]))
        if self._region is not None:
            self.show_region(*self._region)
        return True

    # --- panels are kept and reused: making one costs 10–20 ms (pyqtgraph's plot item, menus, axes) ---
    SPARE_PANELS = 8  # made ahead, one per idle moment, so that more runs cost no stall
    SPARE_INTERVAL_MS = 40

    def _pooled_panel(self, k: int) -> LandscapePanel:
        while len(self._pool) <= k:
            self._pool.append(LandscapePanel())
        return self._pool[k]

    def _make_spare_panel(self) -> None:
        """One more panel for later layouts (each in its own turn of the event loop: one short pause)."""
        if len(self._pool) >= self.SPARE_PANELS or sip.isdeleted(self.ci):  # done, or the scene torn down
            self._spares.stop()
            return
        self._pooled_panel(len(self._pool))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_cells()

    def _fit_cells(self) -> None:
        """Equal cells filling the widget: plot areas of one size, and nothing cut off at the right."""
        if not getattr(self, "panels", None):  # also called while pyqtgraph's constructor runs
            return
        if self.colorbar is not None and sip.isdeleted(self.colorbar):  # a last resize while the scene is torn down
            return
        columns = self.columns
        rows = math.ceil(len(self.panels) / columns)
        size = self.layout_size()  # the viewport's, unless drawn larger (presentation mode)
        bar = self.colorbar.effectiveSizeHint(Qt.SizeHint.MinimumSize).width() if self.colorbar else 0
        bar = math.ceil(max(bar, self.COLORBAR_WIDTH + self.COLORBAR_AXIS_WIDTH))
        inner_width = size.width() - 2 * self.MARGIN - bar - columns * self.SPACING
        inner_height = size.height() - 2 * self.MARGIN - (rows - 1) * self.SPACING
        width, height = max(inner_width // columns, 60), max(inner_height // rows, 60)  # whole pixels: exact
        if (width, height, bar) == self._cells:
            return
        self._cells = (width, height, bar)
        layout = self.ci.layout
        for column in range(columns):
            layout.setColumnFixedWidth(column, width)
        layout.setColumnFixedWidth(columns, bar)
        for column in range(columns + 1, layout.columnCount()):  # left by a grid of more columns
            layout.setColumnFixedWidth(column, 0)
        for row in range(rows):
            layout.setRowFixedHeight(row, height)
        for row in range(rows, layout.rowCount()):
            layout.setRowFixedHeight(row, 0)
        for panel in self.panels:
            panel.fit_heading(width - LEFT_AXIS_WIDTH)
        self._set_colorbar_ticks()

    def set_foreground(self, color: str) -> None:
        """The colour of titles, axes and the colour bar's text (the figure's theme)."""
        self._foreground = color
        for panel in self.panels:
            panel.set_foreground(color)
            for side in ("left", "bottom"):
                axis = panel.getAxis(side)
                if axis.textPen().color() != QColor(color):  # a new pen throws the axis drawing away
                    axis.setPen(color)
                    axis.setTextPen(color)
        if self.colorbar is not None and self.colorbar.axis.textPen().color() != QColor(color):
            self.colorbar.axis.setPen(color)
            self.colorbar.axis.setTextPen(color)

    def set_surface(self, display, cmap: str, reset_view: bool) -> None:
        """Show a :class:`~losslab.app.display.SurfaceDisplay` in every panel, with its colour bar."""
        self._surface = (display, cmap)
        self._draw_surface()
        if reset_view and self.panels:
            a, b = display.a_values, display.b_values
            self.show_region((a[0], a[-1]), (b[0], b[-1]))

    @contextmanager
    def held_frames(self):
        """Within, a panel whose view moves redraws its paths once, at the end, instead of at each move.

        Linked views move each other: one new region moved the four panels' views 15 times, and
        each redrew its paths (3.6 ms of a λ step). Nested blocks end with the outermost; a block
        left by an exception redraws nothing more.
        """
        held = [] if self._holding_frames else list(self._pool)
        self._holding_frames += 1
        for panel in held:
            panel.frames_held = True
        finished = False
        try:
            yield
            finished = True
        finally:
            self._holding_frames -= 1
            for panel in held:
                panel.frames_held = False
            if finished:
                for panel in held:
                    if panel._frame_stale and panel in self.panels:
                        panel.set_frame(panel._frame)

    def show_region(self, a_range: tuple[float, float], b_range: tuple[float, float]) -> None:
        """Show the plane region ``a_range × b_range`` in every panel (kept when the panels are rebuilt)."""
        self._region = (tuple(a_range), tuple(b_range))
        if self.panels:
            self.panels[0].setRange(xRange=a_range, yRange=b_range, padding=0)

    def _set_colorbar_ticks(self) -> None:
        if self.colorbar is None or self._surface is None:
            return
        display = self._surface[0]
        lo, hi = display.levels
        height = self._cells[1] * math.ceil(len(self.panels) / self.columns) if self._cells else 300
        self.colorbar.axis.setTicks([loss_ticks(lo, hi, getattr(display, "log", False),
                                                (height - BOTTOM_AXIS_HEIGHT) // TICK_SPACING_PX)])

    def _draw_surface(self) -> None:
        display, cmap = self._surface
        path = getattr(display, "isoline_path", None)  # made with the display, on the job's thread
        if path is None:  # a display made by hand (tests, scripts) brings segments only
            path = isoline_path(display.isolines)
        drawing = surface_drawing(display.rgba, display.a_values, display.b_values, path)
        for panel in self.panels:
            panel.set_surface(drawing)
        if self.colorbar is not None:
            if self._colorbar_key != (cmap, display.label):  # each costs the bar a new drawing
                self._colorbar_key = (cmap, display.label)
                self.colorbar.setColorMap(pg.colormap.get(cmap))
                self.colorbar.axis.setLabel(display.label)
            self.colorbar.setLevels(display.levels)
            self._set_colorbar_ticks()

    def set_paths(self, per_panel: list[list[PathData]], start: tuple[float, float]) -> None:
        """New paths, drawn by the next :meth:`set_frame` (the figure always moves to its frame next: drawing
        them here too cost a second pass over every path at every commit)."""
        for panel, paths in zip(self.panels, per_panel):
            panel.set_paths(paths, start)

    def redraw_lines(self) -> None:
        """Draw every panel's paths again, cut to the current band (see lines_cut_at_views)."""
        for panel in self.panels:
            panel.set_frame(panel._frame)

    def set_frame(self, frame: int) -> None:
        for panel in self.panels:
            panel.set_frame(frame)

    def value_at(self, a: float, b: float) -> float:
        """The loss shown at the grid point nearest to (a, b); NaN outside the grid."""
        if self._surface is None:
            return float("nan")
        display = self._surface[0]
        a_values, b_values = display.a_values, display.b_values
        if not (a_values[0] <= a <= a_values[-1] and b_values[0] <= b <= b_values[-1]):
            return float("nan")
        i = int(np.argmin(np.abs(a_values - a)))
        j = int(np.argmin(np.abs(b_values - b)))
        return float(display.values[j, i])

    def _moved(self, scene_pos) -> None:
        for panel in self.panels:
            point = panel.plane_point(scene_pos)
            if point is not None:
                self.hovered.emit(point[0], point[1], self.value_at(*point))
                return

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        for panel in self.panels:
            point = panel.plane_point(event.scenePos())
            legend = panel.arrows.legend
            if legend.isVisible() and legend.sceneBoundingRect().contains(event.scenePos()):
                return  # a click on the arrows' legend is not a new start point
            if point is not None:
                event.accept()
                self.clicked.emit(point[0], point[1])
                return
