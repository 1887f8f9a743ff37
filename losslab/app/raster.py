"""Static drawings kept on screen as images, with wide lines drawn fast.

Qt strokes a line wider than 1 px as a filled polygon through its antialiasing rasterizer:
eight 2 px loss curves of 1000 points with their 3.2 px edges take 60–70 ms to paint, and
the window stalled on them at every change of λ. The same curves as 1 px lines take 1 ms:
Qt has a fast path for thin antialiased lines. :func:`stroke` draws a wide line as thin
lines spread over the pen's width (about 12 ms for those curves, and alike to the eye: the
mean difference is 1% of full scale), and a translucent pen through a layer, so the thin
lines' overlaps do not darken it.

An item whose drawing is a fixed description (a :class:`Drawing`) paints on screen from an image
(:func:`paint_from_image`): the drawing is rendered once at the size of its view, and
blitted on every repaint until the drawing or the view changes (while the animation moves
the markers over it). Items that show the same drawing at the same scale (the landscape
panels share one surface) share one image, and so do the curves of one view
(:class:`CurveLayer`). Anything painted into an image, SVG or PDF (exports,
``QGraphicsScene.render``) gets the vectors drawn directly, with Qt's own wide pens, exactly
as before.

Why not a worker thread: PyQt holds the GIL inside every Qt call, so a thread painting with
QPainter blocks the GUI thread for as long as each of its calls takes (measured: a repaint
of the loss curves went from 14 ms to 75 ms while a thread painted).
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QTransform
from PyQt6.QtWidgets import QWidget

SNAP = 1e-6  # pixels: a rectangle's edge this close to a whole pixel is on it
CACHE_BYTES = 48 * 2**20  # finished images kept (a 1600×300 view is 1.9 MB)
THIN = 1.3  # pens up to this wide (pixels) are stroked as they are
SPACING = 1.25  # the thin lines of a wide one lie on a circle this far apart (pixels)


# --- wide lines as thin ones --------------------------------------------------------------------------

def thin_offsets(width: float) -> list[tuple[float, float]]:
    """Where 1 px lines go to cover a ``width`` px line: the corners of a regular polygon (pixels).

    The polygon's mean width over all directions (its perimeter / π, Cauchy) is width − 1, so a
    line in any direction gets on average as much ink as the wide pen gives it; its corners are at
    most ``SPACING`` apart.
    """
    if width <= THIN:
        return [(0.0, 0.0)]
    half = (width - 1.0) / 2.0
    n = max(4, math.ceil(2 * math.pi * half / SPACING))
    radius = half * math.pi / (n * math.sin(math.pi / n))
    return [(radius * math.cos(2 * math.pi * (k + 0.5) / n), radius * math.sin(2 * math.pi * (k + 0.5) / n))
            for k in range(n)]


def logical_rect(device) -> QRectF:
    """A paint device's area in the painter's unscaled coordinates: an image's pixels divided by its pixel ratio."""
    size = getattr(device, "deviceIndependentSize", None)  # QImage, QPixmap; a widget's size is already logical
    return QRectF(QPointF(0, 0), size()) if size is not None else QRectF(device.rect())


def stroke(painter: QPainter, path: QPainterPath, pen: QPen) -> None:
    """``path`` stroked with the cosmetic ``pen`` on a raster ``painter``, a wide pen as thin lines (see the module).

    A translucent wide pen is drawn opaque into a layer over the path's extent, and the layer laid
    on at the pen's alpha.
    """
    width = pen.widthF() or 1.0
    if width <= THIN or not pen.isCosmetic():
        painter.setPen(pen)
        painter.drawPath(path)
        return
    thin = QPen(pen)
    thin.setWidthF(1.0)
    base = painter.transform()
    alpha = pen.color().alphaF()
    target, shift = painter, QTransform()
    if alpha < 1.0:
        device = painter.device()
        ratio = device.devicePixelRatio()
        extent = base.mapRect(path.controlPointRect()).adjusted(-width, -width, width, width)
        extent = extent.toAlignedRect() & logical_rect(device).toAlignedRect()
        if extent.isEmpty():
            return
        layer = QImage(round(extent.width() * ratio), round(extent.height() * ratio),
                       QImage.Format.Format_ARGB32_Premultiplied)
        layer.setDevicePixelRatio(ratio)
        layer.fill(Qt.GlobalColor.transparent)
        target = QPainter(layer)
        target.setRenderHints(painter.renderHints())
        shift = QTransform.fromTranslate(-extent.left(), -extent.top())
        opaque = QColor(pen.color())
        opaque.setAlpha(255)
        thin.setColor(opaque)
    target.setPen(thin)
    for dx, dy in thin_offsets(width):
        target.setTransform(base * QTransform.fromTranslate(dx, dy) * shift)  # shifted in pixels, after the view's mapping
        target.drawPath(path)
    if target is not painter:
        target.end()
        painter.save()
        painter.resetTransform()
        painter.setOpacity(painter.opacity() * alpha)
        painter.drawImage(QPointF(extent.topLeft()), layer)
        painter.restore()
    else:
        painter.setTransform(base)


# --- drawings ------------------------------------------------------------------------------------------

class Drawing:
    """What an item draws, in the item's coordinates. Immutable once made.

    Two drawings are the same drawing only if they are the same object: a new description is a
    new drawing, whatever it holds.
    """

    def draw(self, painter: QPainter, fast: bool = False) -> None:
        """Draw on ``painter``; ``fast``: onto a raster image, wide lines as thin ones (see :func:`stroke`)."""
        raise NotImplementedError

    def size_in_bytes(self) -> int:
        """About what the drawing holds on to (a cached image keeps its drawing alive)."""
        return 0


class StrokeDrawing(Drawing):
    """The polyline through ``(x[i], y[i])`` stroked with each pen in turn (an edge under a line: the wide pen first).

    ``connect`` as in pyqtgraph ("finite": a non-finite point is a gap).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, connect, pens: tuple[QPen, ...], antialias: bool = True):
        self.path = pg.arrayToQPath(np.asarray(x, dtype=float), np.asarray(y, dtype=float), connect=connect)
        self.pens = tuple(QPen(pen) for pen in pens)
        self.antialias = antialias

    def size_in_bytes(self) -> int:
        return 40 * self.path.elementCount()  # an element: two doubles and a type, in Qt's vector

    def draw(self, painter: QPainter, fast: bool = False) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, self.antialias)
        for pen in self.pens:
            if fast:
                stroke(painter, self.path, pen)
            else:
                painter.setPen(pen)
                painter.drawPath(self.path)


class SurfaceDrawing(Drawing):
    """A colour image over a plane rectangle, and the iso-lines over it.

    ``rgba[j, i]`` (uint8) colours the cell of column i and row j, row 0 at ``rect.top()``
    (the smallest b: the view turns it upwards).
    """

    def __init__(self, rgba: np.ndarray, rect: QRectF, isolines: QPainterPath, pen: QPen):
        self.rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
        self.rect = QRectF(rect)
        self.isolines = QPainterPath(isolines)
        self.pen = QPen(pen)

    def image(self) -> QImage:
        h, w = self.rgba.shape[:2]
        return QImage(self.rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)  # a view: self.rgba stays alive

    def size_in_bytes(self) -> int:
        return self.rgba.nbytes + 40 * self.isolines.elementCount()

    def draw(self, painter: QPainter, fast: bool = False) -> None:
        painter.drawImage(self.rect, self.image())
        if not self.isolines.isEmpty():
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setPen(self.pen)
            painter.drawPath(self.isolines)


def render(drawing: Drawing, transform: QTransform, width: int, height: int, ratio: float = 1.0) -> QImage:
    """``drawing`` through ``transform`` (item → image pixels) in a transparent ``width × height`` image."""
    image = QImage(max(round(width * ratio), 1), max(round(height * ratio), 1),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(ratio)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        painter.setTransform(transform)
        drawing.draw(painter, fast=True)
    finally:
        painter.end()
    return image


# --- on screen -------------------------------------------------------------------------------------------

class ImageCache:
    """Rendered images by (drawing, transform, size, pixel ratio); the least recently used go first.

    ``limit`` bounds the images and the drawings they keep alive (a 512² surface holds 1 MB):
    a slider dragged through a hundred values must not keep a hundred surfaces.
    """

    def __init__(self, limit: int = CACHE_BYTES):
        self.limit = limit
        self._images: OrderedDict[tuple, QImage] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple) -> QImage | None:
        image = self._images.get(key)
        if image is not None:
            self._images.move_to_end(key)
        return image

    @staticmethod
    def _cost(key: tuple, image: QImage) -> int:
        return image.sizeInBytes() + key[0].size_in_bytes()

    def put(self, key: tuple, image: QImage) -> None:
        if key in self._images:
            self._bytes -= self._cost(key, self._images.pop(key))
        self._images[key] = image
        self._bytes += self._cost(key, image)
        while self._bytes > self.limit and len(self._images) > 1:
            old_key, old = self._images.popitem(last=False)
            self._bytes -= self._cost(old_key, old)

    @property
    def size_in_bytes(self) -> int:
        return self._bytes


IMAGES = ImageCache()


def _transform_key(t: QTransform) -> tuple:
    return tuple(round(v, 6) for v in (t.m11(), t.m12(), t.m21(), t.m22(), t.dx(), t.dy()))


def on_screen(painter: QPainter) -> bool:
    """Whether ``painter`` paints a view on screen (a widget), not an export (an image, SVG or PDF)."""
    return isinstance(painter.device(), QWidget)


def pixel_box(rect: QRectF) -> tuple[int, int, int, int]:
    """``(x0, y0, width, height)``: the whole pixels ``rect`` covers, forgiving rounding.

    Panels of one size then share one image: a view at y = 37 mapped to 36.99999999 took a
    second image, one pixel taller.
    """
    x0, y0 = math.floor(rect.left() + SNAP), math.floor(rect.top() + SNAP)
    return x0, y0, math.ceil(rect.right() - SNAP) - x0, math.ceil(rect.bottom() - SNAP) - y0


def paint_from_image(painter: QPainter, drawing: Drawing | None, visible: QRectF) -> None:
    """Paint ``drawing`` on screen from its rendered image (see the module); an export gets the vectors.

    ``visible``: where the item can be seen (its view, in the item's coordinates); only that
    part is rendered.
    """
    if drawing is None:
        return
    if not on_screen(painter):  # an export: vectors, at the export's own scale
        painter.save()
        drawing.draw(painter)
        painter.restore()
        return
    device = painter.device()
    world = painter.worldTransform()
    seen = world.mapRect(visible) & logical_rect(device)
    if seen.isEmpty():
        return
    x0, y0, width, height = pixel_box(seen)
    local = world * QTransform.fromTranslate(-x0, -y0)
    ratio = device.devicePixelRatioF()
    key = (drawing, _transform_key(local), width, height, ratio)
    image = IMAGES.get(key)
    if image is None:
        image = render(drawing, local, width, height, ratio)
        IMAGES.put(key, image)
    painter.save()
    painter.setWorldTransform(QTransform.fromTranslate(x0, y0))
    painter.drawImage(QPointF(0, 0), image)
    painter.restore()


def seen_rect(item) -> QRectF:
    """Where ``item`` can be seen: its view box (which clips it), in the item's coordinates."""
    view = item.getViewBox()
    return item.mapRectFromScene(view.sceneBoundingRect()) if view is not None else item.boundingRect()


class RasterCurve(pg.PlotCurveItem):
    """A pyqtgraph curve (its pen over its shadow pen, no fill) with its wide lines drawn fast on screen.

    ``cached``: painted from a rendered image, kept while the curve and its view stay as they are
    (a loss curve, while the animation moves the dots over it); otherwise stroked at every paint
    (a path that grows with every frame). Everything else is pyqtgraph's: data, bounds, the
    legend's sample.
    """

    def __init__(self, *args, cached: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.cached = cached
        self.layer: CurveLayer | None = None  # paints this curve on screen, with its others, when set
        self._drawing: StrokeDrawing | None = None
        self._drawn_from: tuple | None = None  # the data and pens the drawing was made of

    def drawing(self) -> StrokeDrawing | None:
        """The drawing of the curve as it is now (a new one when its data or pens changed)."""
        if self.xData is None or len(self.xData) == 0:
            return None
        pens = tuple(QPen(pen) for pen in (self.opts["shadowPen"], self.opts["pen"])
                     if pen is not None and pen.style() != Qt.PenStyle.NoPen)
        # pyqtgraph holds new arrays whenever the data change
        if (self._drawn_from is None or self._drawn_from[0] is not self.xData or self._drawn_from[1] is not self.yData
                or self._drawn_from[2] != pens):
            self._drawn_from = (self.xData, self.yData, pens)
            self._drawing = StrokeDrawing(self.xData, self.yData, self.opts["connect"], pens,
                                          bool(self.opts["antialias"]))
        return self._drawing

    def paint(self, painter, option, widget=None) -> None:
        if self.layer is not None and on_screen(painter):
            return
        drawing = self.drawing()
        if self.cached or drawing is None:
            paint_from_image(painter, drawing, seen_rect(self))
        else:
            painter.save()
            drawing.draw(painter, fast=on_screen(painter))  # exports: Qt's own wide pens
            painter.restore()


class Drawings(Drawing):
    """Drawings drawn one after the other, the first lowest."""

    def __init__(self, parts: tuple[Drawing, ...]):
        self.parts = parts

    def size_in_bytes(self) -> int:
        return sum(part.size_in_bytes() for part in self.parts)

    def draw(self, painter: QPainter, fast: bool = False) -> None:
        for part in self.parts:
            painter.save()
            part.draw(painter, fast)
            painter.restore()


class CurveLayer(pg.GraphicsObject):
    """The cached :class:`RasterCurve` items of one view, painted on screen from one image in their order.

    Eight new loss curves rendered into eight images took 12.5-16 ms, into one 7-10 ms: each
    image is made, cleared and laid over the view. The curves still paint
    themselves anywhere else (exports and grabs get their vectors); the layer paints only on
    screen. Call :meth:`changed` after a curve's data or pens change, or the set of curves.
    """

    def __init__(self):
        super().__init__()
        self.curves: list[RasterCurve] = []
        self._drawing = Drawings(())

    def set_curves(self, curves: list[RasterCurve]) -> None:
        for curve in self.curves:
            curve.layer = None
        self.curves = list(curves)
        for curve in self.curves:
            curve.layer = self
        self.changed()

    def changed(self) -> None:
        self.prepareGeometryChange()  # the curves' extent, which Qt reads to know what to repaint
        self.update()

    def drawing(self) -> Drawings:
        """The drawings of the visible curves, one :class:`Drawings` while they stay the same objects."""
        parts = tuple(drawing for curve in self.curves if curve.isVisible() and (drawing := curve.drawing()) is not None)
        if len(parts) != len(self._drawing.parts) or any(a is not b for a, b in zip(parts, self._drawing.parts)):
            self._drawing = Drawings(parts)
        return self._drawing

    def boundingRect(self) -> QRectF:
        rect = QRectF()
        for curve in self.curves:
            rect |= curve.boundingRect()
        return rect

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()  # the curves' extent takes in their pens' width, in pixels: it moves with a zoom

    def paint(self, painter, option, widget=None) -> None:
        if on_screen(painter):
            paint_from_image(painter, self.drawing(), seen_rect(self))


class RasterSurface(pg.GraphicsObject):
    """A landscape's colour image and iso-lines (a :class:`SurfaceDrawing`), painted from a rendered image.

    The panels showing one surface are handed the same drawing: at the same size they share its image.
    """

    def __init__(self):
        super().__init__()
        self.drawing: SurfaceDrawing | None = None

    def set_drawing(self, drawing: SurfaceDrawing | None) -> None:
        self.prepareGeometryChange()
        self.drawing = drawing
        self.update()

    def boundingRect(self) -> QRectF:
        if self.drawing is None:
            return QRectF()
        return self.drawing.rect | self.drawing.isolines.controlPointRect()

    def paint(self, painter, option, widget=None) -> None:
        paint_from_image(painter, self.drawing, seen_rect(self))
