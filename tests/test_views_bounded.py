"""Curves and paths that run off to 1e30 are drawn, clipped, in bounded memory and time.

Each check paints a real view the way a figure export does (``export.paint_parts``) and
reads the image's pixels: the diverged run's colour must be where it leaves the plot. The
same checks run in a subprocess whose address space is capped at 3 GB and at export size,
where an item cache sized by a 1e30 coordinate cannot allocate (and without the cap would
eat all memory): there the view must still draw everything.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PyQt6.QtCore import QRectF
from PyQt6.QtGui import QImage, QPainter

from losslab.app.views import BAND, LandscapeGrid, LossCurves, PathData, clip_polyline

STEADY, DIVERGED, PATH = "#E69F00", "#56B4E9", "#CC79A7"
SURFACE = (60, 60, 60)  # a grey surface: no run colour in it


# --- the views under test ------------------------------------------------------------------------

def loss_curves(log_y: bool) -> LossCurves:
    """One steady run and one whose losses go 0.75 → 1e30 → inf, at the last frame."""
    x = np.arange(8.0)
    steady = 0.75 * 0.8 ** x
    diverged = np.array([0.75, 0.9, 1.5, 1e30, np.inf, np.inf, np.inf, np.inf])
    curves = LossCurves()
    curves.resize(800, 500)
    curves.set_runs([("steady", STEADY, x, steady, "completed"), ("diverged", DIVERGED, x, diverged, "diverged")],
                    "step", log_y)
    curves.set_frame(7)
    return curves


def landscape() -> LandscapeGrid:
    """One panel over [-2, 2]²; the path heads from the centre toward (2e30, 1e30) and stops at inf."""
    a = b = np.linspace(-2, 2, 33)
    rgba = np.empty((33, 33, 4), np.ubyte)
    rgba[...] = (*SURFACE, 255)
    angle = np.linspace(0, 2 * np.pi, 65)
    circle = 1.5 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    isolines = np.stack([circle[:-1], circle[1:]], axis=1)  # (64, 2, 2) segments: one iso-line of radius 1.5
    surface = SimpleNamespace(rgba=rgba, a_values=a, b_values=b, isolines=isolines, levels=(0, 1), label="loss",
                              values=np.zeros((33, 33)))
    grid = LandscapeGrid()
    grid.resize(800, 500)
    grid.set_layout(["diverged"], ("a", "b"))
    grid.set_surface(surface, "viridis", reset_view=True)
    ab = np.array([[-1.5, -1.5], [-1.0, -1.0], [0.0, 0.0], [2e30, 1e30], [np.inf, np.inf]])
    grid.set_paths([[PathData("gd", "gd (lr=1000)", PATH, ab, "diverged")]], (-1.5, -1.5))
    grid.set_frame(4)
    return grid


# --- painting and reading pixels -----------------------------------------------------------------------

def render(view, width: int, height: int) -> tuple[QImage, float]:
    """``view`` painted into a width × height image as a figure export paints it, and the seconds it took.

    The views are 800 × 500 and the images of the same shape: the view fills the image.
    """
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    began = time.perf_counter()
    view.render(painter, QRectF(0, 0, width, height), view.viewport().rect())
    painter.end()
    return image, time.perf_counter() - began


def rgb(image: QImage) -> np.ndarray:
    """(H, W, 3) uint8."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    return data.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(
        image.height(), image.width(), 3).copy()


def to_image(view, image: QImage, item, rect: QRectF) -> tuple[int, int, int, int]:
    """``rect`` in ``item``'s coordinates as image pixel bounds (left, top, right, bottom)."""
    polygon = view.mapFromScene(item.mapRectToScene(rect)).boundingRect()
    sx = image.width() / view.viewport().width()
    sy = image.height() / view.viewport().height()
    return (int(polygon.left() * sx), int(polygon.top() * sy), int(polygon.right() * sx), int(polygon.bottom() * sy))


def count_near(pixels: np.ndarray, color: str, box: tuple[int, int, int, int], tolerance: int = 40) -> int:
    """How many pixels in ``box`` are within ``tolerance`` of ``color`` in every channel."""
    left, top, right, bottom = box
    target = np.array([int(color[k: k + 2], 16) for k in (1, 3, 5)])
    patch = pixels[top:bottom, left:right].astype(int)
    return int((np.abs(patch - target).max(axis=2) <= tolerance).sum())


# --- the checks (run here with qtbot, and in a memory-capped subprocess) -----------------------------

def check_loss_curves(curves: LossCurves, width: int, height: int) -> None:
    image, seconds = render(curves, width, height)
    assert seconds < 5, f"painting took {seconds:.1f} s"
    pixels = rgb(image)
    vb = curves.plot_item.vb
    plot = to_image(curves, image, vb, vb.boundingRect())
    left, top, right, bottom = plot
    legend = to_image(curves, image, curves.legend, curves.legend.boundingRect())
    pixels[legend[1]: legend[3] + 1, legend[0]: legend[2] + 1] = 0  # its colour samples are not the curves
    top_quarter = (left, top, right, top + (bottom - top) // 4)
    assert count_near(pixels, DIVERGED, top_quarter) > 40, "the diverged run is not drawn leaving the top"
    assert count_near(pixels, STEADY, plot) > 200, "the steady run is missing"


def check_landscape(grid: LandscapeGrid, width: int, height: int) -> None:
    panel = grid.panels[0]
    image, seconds = render(grid, width, height)
    assert seconds < 5, f"painting took {seconds:.1f} s"
    pixels = rgb(image)

    def near(a: float, b: float) -> tuple[int, int, int, int]:
        return to_image(grid, image, panel.vb.childGroup, QRectF(a - 0.08, b - 0.08, 0.16, 0.16))

    # from (0, 0) toward (2e30, 1e30): the path leaves the view at (2, 1), on its true heading
    assert count_near(pixels, PATH, near(1.9, 0.95)) > 5, "the diverged path does not leave the view"
    assert count_near(pixels, PATH, near(1.0, 0.5)) > 5
    assert count_near(pixels, PATH, near(1.9, 1.9)) == 0, "the diverged path left the view on the wrong heading"
    assert count_near(pixels, PATH, near(-1.2, -1.2)) > 5, "the path before the jump is missing"
    # zoomed in 1000×, the surface fills the view: drawn directly, not through a cache of a million pixels a side
    panel.setRange(xRange=(0.999, 1.001), yRange=(-0.501, -0.499), padding=0)
    image, seconds = render(grid, width, height)
    assert seconds < 5, f"painting took {seconds:.1f} s"
    plot = to_image(grid, image, panel.vb, panel.vb.boundingRect())
    inner = (plot[0] + 10, plot[1] + 10, plot[2] - 10, plot[3] - 10)
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    assert count_near(rgb(image), "#%02x%02x%02x" % SURFACE, inner, 10) > 0.9 * area, "the surface is missing"


def check_log_loss_curves(curves: LossCurves, width: int, height: int) -> None:
    check_loss_curves(curves, width, height)  # the view fitted to every value, up to log₁₀ 1e30 = 30
    curves.plot_item.setYRange(-1.0, 0.0, padding=0)  # zoomed in: the diverged run leaves the top
    check_loss_curves(curves, width, height)


# --- in this process, with qtbot ----------------------------------------------------------------------------

def shown(qtbot, view):
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.mark.timeout(60)
def test_a_diverged_loss_curve_is_drawn_leaving_the_top(qtbot):
    check_loss_curves(shown(qtbot, loss_curves(log_y=False)), 1600, 1000)


@pytest.mark.timeout(60)
def test_a_diverged_loss_curve_on_a_log_axis(qtbot):
    check_log_loss_curves(shown(qtbot, loss_curves(log_y=True)), 1600, 1000)


@pytest.mark.timeout(60)
def test_a_path_gone_to_1e30_leaves_the_view_on_its_heading(qtbot):
    check_landscape(shown(qtbot, landscape()), 1600, 1000)


@pytest.mark.timeout(60)
def test_the_drawn_curve_follows_the_view_and_the_data_keep_their_values(qtbot):
    curves = shown(qtbot, loss_curves(log_y=False))
    diverged = curves._curves[1]
    lo, hi = curves.plot_item.vb.viewRange()[1]
    assert np.nanmax(diverged.yData) == pytest.approx(hi + BAND * (hi - lo))  # drawn to the band's edge
    assert np.isnan(diverged.yData[4:]).all()  # inf stays a gap
    curves.plot_item.setYRange(0, 10, padding=0)  # a user's zoom: the band moves with the view
    assert np.nanmax(diverged.yData) == pytest.approx(10 + BAND * 10)
    assert curves._runs[1][3][3] == 1e30


# --- bounded memory: a subprocess capped at 3 GB, at export size --------------------------------------

CAPPED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
sys.path.insert(0, sys.argv[1])
from PyQt6.QtWidgets import QApplication
app = QApplication([])
import test_views_bounded as t
view = t.{build}
view.show()
app.processEvents()
t.{check}(view, 4000, 2500)
print("drawn")
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("build, check", [("loss_curves(log_y=False)", "check_loss_curves"),
                                          ("loss_curves(log_y=True)", "check_log_loss_curves"),
                                          ("landscape()", "check_landscape")])
def test_exporting_a_diverged_run_needs_bounded_memory(build, check):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", CAPPED.format(build=build, check=check), str(Path(__file__).parent)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "drawn" in done.stdout, done.stderr[-3000:]


# --- the clipping itself ---------------------------------------------------------------------------------------

NAN = [np.nan, np.nan]


@pytest.mark.parametrize("points, drawn", [
    ([[0, 0], [0.5, 0.5]], [NAN, [0, 0], [0.5, 0.5]]),  # inside: unchanged
    ([[0, 0], [0.5, 0.5], [1e30, 1e29]], [NAN, [0, 0], [0.5, 0.5], [1, 0.55]]),  # leaves on its heading
    ([[1e30, 1e29], [0.5, 0.5]], [NAN, [1, 0.55], [0.5, 0.5]]),  # and comes back
    ([[-1e6, 1e6], [1e6, -1e6]], [NAN, [-1, 1], [1, -1]]),  # far to far, across the box
    ([[-1e30, 3e30], [1e30, 1e30]], np.empty((0, 2))),  # far to far, past it
    ([[0, 0], NAN, [0.5, 0.5], [0.2, 0.1]], [NAN, [0.5, 0.5], [0.2, 0.1]]),  # a gap stays a gap
    ([[0.5, 0.5]], np.empty((0, 2))),  # one point: no line
])
def test_clip_polyline_keeps_what_lies_in_the_box(points, drawn):
    box = np.array([-1.0, -2.0]), np.array([1.0, 2.0])
    np.testing.assert_allclose(clip_polyline(np.array(points, float), *box), np.array(drawn, float).reshape(-1, 2))
