"""Wide lines drawn as thin ones, and static drawings kept on screen as images (``app/raster.py``).

The fast strokes are checked against Qt's own wide pens pixel by pixel; the on-screen images
against the same view painted directly (as exports paint it); the cache by counting renders.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyqtgraph as pg
import pytest
from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, QSize
from PyQt6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QTransform
from PyQt6.QtSvg import QSvgGenerator

from losslab.app import raster
from losslab.app.export import drawn_for_export
from losslab.app.raster import SPACING, StrokeDrawing, stroke, thin_offsets
from losslab.app.views import LandscapeGrid, LossCurves, PathData, axis_length_on_screen

W, H = 400, 200


def pixels(image: QImage) -> np.ndarray:
    """(H, W, 4) RGBA floats in [0, 1], premultiplied as Qt keeps them."""
    image = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    raw = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    bgra = raw.reshape(image.height(), image.bytesPerLine() // 4, 4)[:, : image.width()]
    return bgra[..., [2, 1, 0, 3]] / 255.0


def cosmetic(color, width: float) -> QPen:
    pen = pg.mkPen(color, width=width)
    pen.setCosmetic(True)
    return pen


def wavy_path(n: int = 400):
    x = np.linspace(10, W - 10, n)
    y = H / 2 + 60 * np.sin(x / 23.0) * np.exp(-x / 300)
    return x, y


def painted(draw) -> QImage:
    image = QImage(W, H, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    draw(painter)
    painter.end()
    return image


@pytest.mark.parametrize("width", [1.0, 1.3, 2.0, 2.2, 3.2, 4.4, 7.0])
def test_thin_lines_span_on_average_a_pen_less_one_pixel(width):
    offsets = np.array(thin_offsets(width))
    if width <= 1.3:
        assert offsets.tolist() == [[0.0, 0.0]]
        return
    assert len(offsets) >= 4
    # the thin lines' spread across a line of each direction, averaged over directions: width − 1
    directions = np.linspace(0, np.pi, 3600, endpoint=False)
    normals = np.stack([-np.sin(directions), np.cos(directions)], axis=1)
    across = offsets @ normals.T
    spread = across.max(axis=0) - across.min(axis=0)
    assert spread.mean() == pytest.approx(width - 1, rel=1e-3)
    assert spread.min() >= 0.75 * (width - 1)  # in no direction much thinner (a square: π/4)
    corners = np.r_[offsets, offsets[:1]]
    assert np.hypot(*np.diff(corners, axis=0).T).max() <= SPACING * 1.12  # the corners stay close


@pytest.mark.parametrize("width", [2.0, 2.2, 3.2, 4.4])
def test_a_wide_line_drawn_thin_covers_what_qt_covers(width):
    x, y = wavy_path()
    path = pg.arrayToQPath(x, y)
    pen = cosmetic("#d62728", width)
    exact = pixels(painted(lambda p: (p.setPen(pen), p.drawPath(path))))[..., 3]
    fast = pixels(painted(lambda p: stroke(p, path, pen)))[..., 3]
    inked, ours = exact > 0.5, fast > 0.5
    overlap = (inked & ours).sum() / (inked | ours).sum()
    assert overlap > 0.85, f"the thin lines cover {overlap:.0%} of what the wide pen covers"
    assert abs(fast.sum() - exact.sum()) / exact.sum() < 0.12  # as much ink, within 12%


def test_a_translucent_wide_line_keeps_its_alpha_where_the_thin_lines_overlap():
    x, y = wavy_path()
    path = pg.arrayToQPath(x, y)
    pen = cosmetic((0, 0, 0, 150), 4.4)
    fast = pixels(painted(lambda p: stroke(p, path, pen)))[..., 3]
    assert fast.max() == pytest.approx(150 / 255, abs=2 / 255)  # a layer: overlaps do not darken it
    exact = pixels(painted(lambda p: (p.setPen(pen), p.drawPath(path))))[..., 3]
    assert exact.max() == pytest.approx(fast.max(), abs=2 / 255)


def test_the_thin_lines_follow_the_painters_transform():
    """Curves are drawn in data coordinates through the view's mapping; the offsets are in pixels after it."""
    x, y = wavy_path()
    path = pg.arrayToQPath(x / 100.0, y / 100.0)
    pen = cosmetic("#1f77b4", 2.0)
    mapping = QTransform.fromScale(100.0, 100.0)

    def through(draw):
        def paint(p):
            p.setTransform(mapping)
            draw(p)
        return paint

    exact = pixels(painted(through(lambda p: (p.setPen(pen), p.drawPath(path)))))[..., 3] > 0.5
    fast = pixels(painted(through(lambda p: stroke(p, path, pen))))[..., 3] > 0.5
    assert (exact & fast).sum() / (exact | fast).sum() > 0.85


def test_a_drawing_keeps_its_own_copy_of_the_data():
    x, y = wavy_path()
    drawing = StrokeDrawing(x, y, "all", (cosmetic("r", 2.0),))
    before = pixels(raster.render(drawing, QTransform(), W, H))
    y[:] = 0.0  # the curve's arrays change afterwards
    assert np.array_equal(pixels(raster.render(drawing, QTransform(), W, H)), before)


# --- on screen ---------------------------------------------------------------------------------------------

def shown(qtbot, view, width, height):
    qtbot.addWidget(view)
    view.resize(width, height)
    view.show()
    qtbot.waitExposed(view)
    return view


def runs(k_runs=4, steps=300, scale=1.0):
    x = np.arange(steps + 1.0)
    colors = ["#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00"]
    return [(f"run {k}", colors[k], x, scale * np.exp(-x / (40.0 + 25 * k)) + 0.05, "completed")
            for k in range(k_runs)]


def on_screen(view) -> np.ndarray:
    """What the view shows: its viewport painted through the screen's path (the raster images)."""
    return pixels(view.grab().toImage())


def as_exported(view) -> np.ndarray:
    """The same view painted into an image as an export paints it: vectors, Qt's own wide pens."""
    size = view.viewport().size()
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(view.backgroundBrush().color()))
    painter = QPainter(image)
    view.render(painter, QRectF(image.rect()), view.viewport().rect())
    painter.end()
    return pixels(image)


def test_loss_curves_on_screen_match_their_export(qtbot):
    curves = shown(qtbot, LossCurves(), 900, 400)
    curves.set_runs(runs(), "step", False)
    curves.set_frame(150)
    screen, exported = on_screen(curves), as_exported(curves)
    assert screen.shape == exported.shape
    differs = np.abs(screen[..., :3] - exported[..., :3]).max(axis=2) > 0.25
    assert differs.mean() < 0.01, f"{differs.mean():.1%} of the pixels differ from the exported drawing"
    for _, color, *_ in runs():  # every run's colour is on screen
        target = np.array(QColor(color).getRgbF()[:3])
        assert (np.abs(screen[..., :3] - target).max(axis=2) < 0.08).sum() > 100


def test_the_curves_in_view_are_painted_when_the_first_is_out_of_it(qtbot):
    # one image for all the curves, painted by a layer that spans them all, not by the first curve
    curves = shown(qtbot, LossCurves(), 900, 400)
    short = ("run 0", "#E69F00", np.arange(41.0), np.exp(-np.arange(41.0) / 40.0) + 0.05, "completed")
    curves.set_runs([short] + runs()[1:], "step", False)
    curves.plot_item.setXRange(200, 300, padding=0)
    screen = on_screen(curves)
    for _, color, *_ in runs()[1:]:
        target = np.array(QColor(color).getRgbF()[:3])
        assert (np.abs(screen[..., :3] - target).max(axis=2) < 0.08).sum() > 100, color


def test_the_curves_are_rendered_once_into_one_image_while_only_the_frame_moves(qtbot, monkeypatch):
    curves = shown(qtbot, LossCurves(), 900, 400)
    curves.set_runs(runs(), "step", False)
    calls = []
    real = raster.render
    monkeypatch.setattr(raster, "render", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    curves.grab()
    first = len(calls)
    assert first >= 1  # one image for the four curves (again if the first paint fitted the axes to them)
    assert all(isinstance(drawing, raster.Drawings) and len(drawing.parts) == 4 for drawing in calls)
    assert calls[-1].parts == tuple(curve.drawing() for curve in curves._curves)  # in the curves' order
    for frame in range(0, 300, 30):  # the animation: the dots and the cursor move over the curves
        curves.set_frame(frame)
        curves.grab()
    assert len(calls) == first
    curves.set_runs(runs(), "step", False)  # the same losses again (another resolution): nothing to draw
    curves.grab()
    assert len(calls) == first
    kept = calls[-1].parts
    curves.set_runs(runs(scale=1.01), "step", False)  # new losses (λ moved): drawn anew
    curves.grab()
    assert len(calls) == first + 1 and not set(map(id, calls[-1].parts)) & set(map(id, kept))


def test_panels_of_one_surface_share_its_image(qtbot, monkeypatch):
    n = 65
    a = b = np.linspace(-2, 2, n)
    A, B = np.meshgrid(a, b)
    rgba = np.zeros((n, n, 4), np.uint8)
    rgba[..., 0] = (255 * (A + 2) / 4).astype(np.uint8)
    rgba[..., 2] = (255 * (B + 2) / 4).astype(np.uint8)
    rgba[..., 3] = 255
    display = SimpleNamespace(rgba=rgba, a_values=a, b_values=b, isolines=np.zeros((0, 2, 2)), levels=(0, 1),
                              label="loss", values=A)
    grid = shown(qtbot, LandscapeGrid(), 900, 700)
    grid.set_layout([f"run {k}" for k in range(4)], ("a", "b"))
    calls = []
    real = raster.render
    monkeypatch.setattr(raster, "render", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    grid.set_surface(display, "viridis", reset_view=True)
    t = np.linspace(0, 1, 50)[:, None]
    grid.set_paths([[PathData(f"r{k}", f"r{k}", "#ffffff", np.hstack([1.5 * t - 0.7, 0.2 * k - t]))]
                    for k in range(4)], (0.0, 0.0))
    grid.set_frame(49)
    grid.grab()
    surfaces = [d for d in calls if isinstance(d, raster.SurfaceDrawing)]
    assert len(surfaces) == 1  # four panels of one size and one view: one image
    assert all(panel.surface.drawing is surfaces[0] for panel in grid.panels)
    screen, exported = on_screen(grid), as_exported(grid)
    differs = np.abs(screen[..., :3] - exported[..., :3]).max(axis=2) > 0.25
    assert differs.mean() < 0.01
    # the surface's colours are where the plane puts them: red grows with a, blue with b
    panel = grid.panels[0]
    low = panel.vb.mapViewToScene(pg.Point(-1.5, -1.5))
    high = panel.vb.mapViewToScene(pg.Point(1.5, 1.5))
    at = lambda p: screen[int(p.y()), int(p.x())]  # noqa: E731
    assert at(high)[0] > at(low)[0] + 0.5 and at(high)[2] > at(low)[2] + 0.5


def test_axes_showing_the_same_ticks_at_the_same_size_draw_one_picture(qtbot):
    """Four panels of one view share their axes' pictures; a change of colour or range draws anew."""
    from losslab.app import views

    views._AXIS_PICTURES.clear()
    grid = shown(qtbot, LandscapeGrid(), 900, 700)
    grid.set_layout([f"run {k}" for k in range(4)], ("a", "b"))
    grid.show_region((-2.0, 2.0), (-1.0, 1.0))
    grid.grab()
    lefts = [panel.getAxis("left") for panel in grid.panels]
    assert lefts[0].picture is not None and all(axis.picture is lefts[0].picture for axis in lefts)
    assert grid.panels[0].getAxis("bottom").picture is not lefts[0].picture

    before = on_screen(grid)
    for panel in grid.panels:
        panel.getAxis("left").setTextPen(pg.mkPen("#ff0000"))
    grid.grab()
    red = on_screen(grid)
    assert lefts[0].picture is not None and all(axis.picture is lefts[0].picture for axis in lefts)
    reddish = lambda img: ((img[..., 0] > 0.6) & (img[..., 1] < 0.3) & (img[..., 2] < 0.3)).sum()  # noqa: E731
    assert reddish(red) > reddish(before) + 100  # every panel's labels turned red
    red_picture = lefts[0].picture
    grid.show_region((-20.0, 20.0), (-10.0, 10.0))
    moved = on_screen(grid)
    assert lefts[0].picture is not red_picture and all(axis.picture is lefts[0].picture for axis in lefts)
    assert np.abs(moved - red).max(axis=2).sum() > 50  # the labels changed on screen


def test_an_svg_export_keeps_the_curves_as_vectors(qtbot):
    curves = shown(qtbot, LossCurves(), 600, 300)
    curves.set_runs(runs(2), "step", False)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    generator = QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(QSize(600, 300))
    generator.setViewBox(QRectF(0, 0, 600, 300))
    painter = QPainter(generator)
    with drawn_for_export([(curves, None, None)]):  # as the figure's SVG export paints it
        curves.scene().render(painter, QRectF(0, 0, 600, 300), curves.sceneRect())
    painter.end()
    svg = bytes(data).decode()
    assert "<image" not in svg  # no bitmap of a curve
    assert 'stroke="#e69f00"' in svg.lower() and 'stroke-width="2"' in svg


def test_the_image_cache_bounds_its_images_and_the_drawings_they_keep():
    """A slider dragged through many values makes a new 512² surface each time: the cache keeps a few."""
    cache = raster.ImageCache(limit=8 * 2**20)
    path = QPainterPath()
    for k in range(60):
        drawing = raster.SurfaceDrawing(np.zeros((512, 512, 4), np.uint8), QRectF(0, 0, 1, 1), path, QPen())
        key = (drawing, (1.0, 0.0, 0.0, 1.0, 0.0, 0.0), 300, 300, 1.0)
        cache.put(key, QImage(300, 300, QImage.Format.Format_ARGB32_Premultiplied))
        assert cache.size_in_bytes <= 8 * 2**20
        assert cache.get(key) is not None  # the newest is always kept
    expected = 512 * 512 * 4 + 300 * 300 * 4
    assert cache.size_in_bytes == (8 * 2**20 // expected) * expected


def test_a_translucent_wide_line_on_a_high_dpi_image_is_laid_where_it_is_drawn():
    """At a pixel ratio of 2 the layer covers the image's logical area, not half or twice of it."""
    x, y = wavy_path()
    path = pg.arrayToQPath(x, y)
    pen = cosmetic((0, 0, 0, 150), 4.4)
    images = []
    for ratio in (1.0, 2.0):
        image = QImage(round(W * ratio), round(H * ratio), QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(ratio)
        image.fill(0)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        stroke(painter, path, pen)
        painter.end()
        images.append(pixels(image)[..., 3])
    one, two = images
    halved = two.reshape(H, 2, W, 2).mean(axis=(1, 3))  # back to logical pixels
    assert (one > 0.3).sum() > 1000
    assert np.abs(halved - one).mean() < 0.03  # the same line in the same place, only finer
    assert two.max() == pytest.approx(150 / 255, abs=2 / 255)


def test_the_loss_curves_grid_lies_on_the_axes_ticks_and_follows_the_view(qtbot):
    """GridLines draws a faint line across the plot at every major tick of both axes (as pyqtgraph's
    own grid did), in the ticks' colour, and moves when the range does."""
    curves = shown(qtbot, LossCurves(), 900, 400)
    curves.set_runs([("GD", "#E69F00", np.arange(101.0), np.linspace(5, 1, 101), "ok")], "step", False)
    qtbot.wait(50)  # the view fits the new curve
    item, view = curves.plot_item, curves.plot_item.vb

    def major_lines():
        (x0, x1), (y0, y1) = view.viewRange()
        alpha, lines = curves.grid.lines()[0]  # the bottom axis's major ticks
        return alpha, sorted(line.x1() for line in lines)

    bottom = item.getAxis("bottom")
    x0, x1 = view.viewRange()[0]
    ticks = [v for v in bottom.tickValues(x0, x1, axis_length_on_screen(bottom))[0][1] if x0 <= v <= x1]
    alpha, xs = major_lines()
    assert xs == sorted(ticks) and len(xs) >= 4 and 0 < alpha < 255
    # on screen: a column of pixels at a tick, inside the plot and above the curve, stands out
    screen = on_screen(curves)
    vb_rect = view.sceneBoundingRect()
    col = int(view.mapViewToScene(pg.Point(xs[-1], 0)).x())
    rows = slice(int(vb_rect.top()) + 5, int(vb_rect.top()) + 40)
    line, beside = screen[rows, col - 1:col + 2].max(axis=1), screen[rows, col + 4]
    assert np.abs(line - beside).max(axis=1).min() > 0.05
    view.setXRange(0, 1000, padding=0)
    qtbot.wait(20)
    _, moved = major_lines()
    assert moved != xs and moved[-1] > 100
    # drawn larger (presentation mode) the axis spaces its ticks by its length on screen: so does the grid
    asked = []
    real = bottom.tickValues
    bottom.tickValues = lambda lo, hi, size: asked.append(round(size, 2)) or real(lo, hi, size)
    curves.set_zoom(1.5)
    curves.set_runs([("GD", "#E69F00", np.arange(101.0), np.linspace(5, 1, 101), "ok")], "step", True)
    qtbot.wait(50)
    asked.clear()
    bottom.picture, curves.grid._lines, bottom._ticks = None, None, (None, None)  # both ask again
    bottom.update()
    curves.grab()
    curves.grid.lines()
    assert len(asked) == 2 and asked[0] == asked[1], asked  # the axis's drawing and the grid: one length
    assert asked[0] > 1.4 * bottom.geometry().width()  # on screen, 1.5 times the axis in scene units


def test_a_rectangle_a_rounding_error_off_whole_pixels_covers_those_pixels():
    """Views of one size share one image only if their rectangles round to the same pixels."""
    assert raster.pixel_box(QRectF(67.0, 37.0, 221.5, 381.5)) == (67, 37, 222, 382)
    assert raster.pixel_box(QRectF(67.0, 36.99999999, 221.5, 381.50000001)) == (67, 37, 222, 382)
    assert raster.pixel_box(QRectF(66.6, 36.5, 10.0, 10.0)) == (66, 36, 11, 11)  # a real fraction still counts

