"""The 3-D surface view: its geometry (pure NumPy), its refusal without OpenGL, and a real OpenGL window.

Headless runs (Qt's offscreen platform) have no OpenGL: there the view must say so and keep
working. The drawing itself is checked in a subprocess on a virtual X display (Xvfb) with
Mesa's software OpenGL: the picture is looked at pixel by pixel, and the paths handed to
OpenGL are checked to lie on the surface.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QRectF  # noqa: E402
from PyQt6.QtGui import QColor, QGuiApplication, QImage, QPainter  # noqa: E402

from losslab.app import surface3d  # noqa: E402
from losslab.app.display import SurfaceDisplay  # noqa: E402
from losslab.app.session import colormap_lut  # noqa: E402
from losslab.app.surface3d import (AMBIENT, HEADROOM, HEIGHT, LIGHT, LIFT, NO_GL_PLATFORMS, OpenGLMissing,  # noqa: E402
                                   SceneBox, SurfaceView3D, available, bilinear, height_range, lift_path,
                                   lift_polyline, shaded_colors, surface_heights)
from losslab.app.views import PathData, clip_polyline  # noqa: E402
from losslab.engine.landscape import log_scale  # noqa: E402


def naive_bilinear(heights, a_values, b_values, a, b):
    """One point at a time, from the definition: the cell around (a, b), clamped to the grid, weighted by area."""
    a = min(max(a, a_values[0]), a_values[-1])
    b = min(max(b, b_values[0]), b_values[-1])
    i = max(k for k in range(len(a_values) - 1) if a_values[k] <= a) if a > a_values[0] else 0
    j = max(k for k in range(len(b_values) - 1) if b_values[k] <= b) if b > b_values[0] else 0
    s = (a - a_values[i]) / (a_values[i + 1] - a_values[i])
    t = (b - b_values[j]) / (b_values[j + 1] - b_values[j])
    return ((1 - s) * (1 - t) * heights[j, i] + s * (1 - t) * heights[j, i + 1]
            + (1 - s) * t * heights[j + 1, i] + s * t * heights[j + 1, i + 1])


def a_display(values, a_values, b_values, log=False, levels=None):
    shown = log_scale(values) if log else values
    levels = levels or (float(np.nanmin(shown)), float(np.nanmax(shown)))
    rgba = np.full(values.shape + (4,), 255, dtype=np.uint8)
    return SurfaceDisplay(a_values, b_values, values, rgba, levels, None, "total loss", log)


# --- geometry ---------------------------------------------------------------------------------------

def test_bilinear_is_exact_on_bilinear_functions_and_clamps_outside():
    a_values, b_values = np.linspace(-2, 3, 11), np.linspace(-1, 1, 7)
    A, B = np.meshgrid(a_values, b_values)  # [j, i]
    f = lambda a, b: 1.5 + 2 * a - 3 * b + 0.5 * a * b  # noqa: E731 (bilinear: reproduced exactly)
    heights = f(A, B)
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-2, 3, 200), rng.uniform(-1, 1, 200)
    np.testing.assert_allclose(bilinear(heights, a_values, b_values, a, b), f(a, b), rtol=1e-12, atol=1e-12)
    # outside: the nearest edge's value; NaN coordinates: NaN
    outside = bilinear(heights, a_values, b_values, np.array([10.0, -10.0, 0.0]), np.array([0.5, 5.0, np.nan]))
    np.testing.assert_allclose(outside[:2], [f(3.0, 0.5), f(-2.0, 1.0)])
    assert np.isnan(outside[2])


def test_bilinear_agrees_with_the_naive_oracle_on_a_bumpy_grid():
    rng = np.random.default_rng(1)
    a_values, b_values = np.linspace(0, 1, 9), np.linspace(-5, 5, 13)
    heights = rng.normal(size=(13, 9))
    points = rng.uniform([-0.3, -6], [1.3, 6], size=(100, 2))
    expected = [naive_bilinear(heights, a_values, b_values, a, b) for a, b in points]
    np.testing.assert_allclose(bilinear(heights, a_values, b_values, points[:, 0], points[:, 1]), expected,
                               rtol=1e-12, atol=1e-12)


def test_a_lifted_path_lies_on_the_surface_and_is_cut_at_the_grid_edge():
    a_values, b_values = np.linspace(-1, 1, 21), np.linspace(-1, 1, 21)
    A, B = np.meshgrid(a_values, b_values)
    heights = A ** 2 + 2 * B ** 2
    inside = np.array([[-0.9, 0.8], [-0.5, 0.3], [0.1, -0.2], [0.02, 0.01]])
    ends = lift_polyline(inside, heights, a_values, b_values)
    np.testing.assert_allclose(ends[:, :2], np.repeat(inside, 2, axis=0)[1:-1])  # (p0, p1), (p1, p2), (p2, p3)
    np.testing.assert_allclose(ends[:, 2], [naive_bilinear(heights, a_values, b_values, a, b) for a, b, _ in ends])
    # a diverging path leaves through the edge (cut there), and a point at 1e30 or NaN is never drawn
    diverging = np.array([[0.0, 0.0], [0.5, 0.0], [1e30, 0.0], [np.nan, np.nan]])
    ends = lift_polyline(diverging, heights, a_values, b_values)
    np.testing.assert_allclose(ends, [[0.0, 0.0, 0.0], [0.5, 0.0, 0.25], [0.5, 0.0, 0.25], [1.0, 0.0, 1.0]])


def polyline_pairs(points):
    """Consecutive finite points of a polyline with NaN gaps, as segment ends: ``(2S, ...)``."""
    if len(points) < 2:
        return np.empty((0, points.shape[1]))
    ok = np.isfinite(points).all(axis=1)
    keep = ok[:-1] & ok[1:]
    return np.stack([points[:-1][keep], points[1:][keep]], axis=1).reshape(-1, points.shape[1])


def test_every_frame_of_a_lifted_path_is_the_2d_views_cut_path_laid_on_the_surface():
    rng = np.random.default_rng(3)
    a_values, b_values = np.linspace(-2, 2, 33), np.linspace(-1, 3, 25)
    A, B = np.meshgrid(a_values, b_values)
    heights = np.sin(A) + B ** 2
    box = SceneBox(-2.0, 2.0, -1.0, 3.0, float(heights.min()), float(heights.max()))
    walk = np.cumsum(rng.normal(scale=0.6, size=(60, 2)), axis=0)  # wanders in and out of the window
    walk[20] = (1e30, -1e30)  # one far jump
    walk[40:43] = np.nan  # and a gap
    lifted = lift_path(walk, heights, a_values, b_values, box)
    lo, hi = np.array([-2.0, -1.0]), np.array([2.0, 3.0])
    for frame in range(len(walk) + 3):
        cut = clip_polyline(walk[: frame + 1], lo, hi) if frame else np.empty((0, 2))
        expected = polyline_pairs(cut)
        plane = box.from_scene(lifted.pairs_upto(frame) - (0.0, 0.0, LIFT))
        np.testing.assert_allclose(plane[:, :2], expected, atol=1e-9)
        np.testing.assert_allclose(plane[:, 2], [naive_bilinear(heights, a_values, b_values, a, b)
                                                 for a, b in expected], atol=1e-9)
    # the current point's marker: clamped into the window, on the surface; none for a NaN point
    marker = box.from_scene(lifted.point(20) - (0.0, 0.0, LIFT))
    np.testing.assert_allclose(marker, [2.0, -1.0, naive_bilinear(heights, a_values, b_values, 2.0, -1.0)])
    assert np.isnan(lifted.point(41)).all()


def test_the_scene_box_maps_the_window_to_a_unit_square_and_back():
    box = SceneBox(a0=-4.0, a1=6.0, b0=100.0, b1=102.0, z0=0.5, z1=2.5)
    corners = np.array([[-4.0, 100.0, 0.5], [6.0, 102.0, 2.5]])
    np.testing.assert_allclose(box.to_scene(corners), [[-0.5, -0.5, 0.0], [0.5, 0.5, HEIGHT]])
    points = np.random.default_rng(2).uniform([-4, 100, 0.5], [6, 102, 2.5], size=(50, 3))
    np.testing.assert_allclose(box.from_scene(box.to_scene(points)), points)


def test_heights_are_the_shown_values_with_some_headroom_above_the_colours():
    a_values = b_values = np.linspace(-1, 1, 5)
    A, B = np.meshgrid(a_values, b_values)
    values = 1.0 + A ** 2 + B ** 2
    values[0, 0] = 1e6  # one far corner
    display = a_display(values, a_values, b_values, levels=(1.0, 3.0))
    z0, z1 = height_range(display)
    assert (z0, z1) == (1.0, 3.0 + HEADROOM * 2.0)  # the corner cannot squash the bowl
    heights = surface_heights(display)
    assert heights[0, 0] == z1 and heights[2, 2] == 1.0
    # a log display: heights in log10, as the colours
    log = a_display(values, a_values, b_values, log=True)
    np.testing.assert_allclose(surface_heights(log)[1:, 1:], np.log10(values)[1:, 1:])


def test_shading_keeps_the_colour_map_on_flat_ground_and_darkens_slopes_away_from_the_light():
    rgba = np.zeros((3, 4, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 200, 100, 50, 255
    rgba[1, 2, 3] = 0  # no value there: grey
    x, y = np.linspace(-0.5, 0.5, 4), np.linspace(-0.5, 0.5, 3)
    colors = shaded_colors(rgba, x, y, np.zeros((4, 3))).reshape(4, 3, 4)
    factor = AMBIENT + (1 - AMBIENT) * LIGHT[2]
    np.testing.assert_allclose(colors[0, 0, :3], np.array([200, 100, 50]) / 255 * factor, rtol=1e-6)
    np.testing.assert_allclose(colors[2, 1, :3], np.array(surface3d.MISSING) * factor, rtol=1e-6)
    assert (colors[..., 3] == 1).all()
    # a steep slope facing away from the light (rising towards it) gets only the ambient part
    towards = LIGHT[:2] / np.linalg.norm(LIGHT[:2])
    z = 50.0 * (towards[0] * x[:, None] + towards[1] * y[None, :])
    steep = shaded_colors(rgba, x, y, z).reshape(4, 3, 4)
    assert steep[0, 0, 0] < colors[0, 0, 0] and steep[0, 0, 0] == pytest.approx(200 / 255 * AMBIENT, rel=0.02)


# --- without OpenGL (the headless platform of the test suite) ------------------------------------------

def test_without_opengl_the_view_says_so_and_keeps_working(qtbot):
    platform = QGuiApplication.platformName()
    if platform not in NO_GL_PLATFORMS:
        pytest.skip(f"this run has a display (Qt platform {platform!r}): the no-OpenGL path is checked headless")
    ok, reason = available()
    assert ok is False and platform in reason and "xvfb-run" in reason
    view = SurfaceView3D()  # never raises
    qtbot.addWidget(view)
    view.resize(500, 300)
    view.show()
    assert not view.has_gl and view.message == f"3-D view needs OpenGL: {reason}."
    assert view._stack.currentWidget() is view._label and view.message in view._label.text()
    assert view._label.isVisible()
    # every protocol call is harmless
    a_values = b_values = np.linspace(-1, 1, 8)
    A, B = np.meshgrid(a_values, b_values)
    view.set_layout([("all", None)], ("W[0,0]", "W[0,1]"))
    view.set_surface(a_display(A ** 2 + B ** 2, a_values, b_values), "viridis", reset_view=True)
    view.set_paths([[PathData("gd", "Gradient descent", "#E69F00", np.array([[0.5, 0.5], [0.1, 0.1]]))]], (0.5, 0.5))
    view.set_frame(1)
    view.set_foreground("#dddddd")
    view.setBackground("#1e1e1e")
    assert "#dddddd" in view._label.styleSheet()
    with pytest.raises(OpenGLMissing, match="needs OpenGL"):
        view.render_image((200, 100))
    # a figure export paints the message instead of the picture
    image = QImage(300, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("#ff00ff"))
    painter = QPainter(image)
    view.paint_into(painter, QRectF(0, 0, 300, 200))
    painter.end()
    assert QColor(image.pixel(5, 5)) == QColor("#1e1e1e")


def test_without_pyopengl_the_view_names_the_missing_package(qtbot, monkeypatch):
    monkeypatch.setattr(surface3d, "_availability", None)  # asked afresh, and put back afterwards
    monkeypatch.setitem(sys.modules, "OpenGL.GL", None)  # ``import OpenGL.GL`` now fails as if not installed
    ok, reason = available()
    assert ok is False and "PyOpenGL" in reason and "pip install PyOpenGL" in reason
    view = SurfaceView3D()
    qtbot.addWidget(view)
    assert not view.has_gl and "PyOpenGL" in view._label.text()


def test_a_command_line_render_asks_for_a_display_and_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ValueError, match="xvfb-run -a losslab render"):
        surface3d.command_line_platform()
    monkeypatch.setenv("DISPLAY", ":99")
    assert surface3d.command_line_platform() == "xcb"


# --- a real OpenGL window (Xvfb + Mesa) -----------------------------------------------------------------

PROBE = textwrap.dedent(r"""
    import json, sys
    import numpy as np
    from PyQt6.QtCore import QPoint, Qt
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
    import pyqtgraph as pg
    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    from losslab.app.session import ViewSettings, render_snapshot
    from losslab.app.surface3d import SurfaceView3D, available
    from losslab.app.views import PathData, run_color, run_label
    from losslab.engine.experiment import Experiment, PlaneSpec, RunSpec

    out = sys.argv[1]
    ok, reason = available()
    if not ok:
        json.dump({"available": False, "reason": reason}, open(f"{out}/report.json", "w"))
        sys.exit(0)
    runs = (RunSpec("gd", (("lr", 0.05),)), RunSpec("gd", (("lr", 1.0),)), RunSpec("momentum"), RunSpec("adam"))
    experiment = Experiment(plane=PlaneSpec(resolution=96), runs=runs, steps=120, start=(-2.5, 2.0))
    snapshot = render_snapshot(experiment, ViewSettings())
    display = snapshot.display
    paths = [PathData(r.spec.method, run_label(r.spec), run_color(r.index, r.spec), np.asarray(r.ab),
                      r.trajectory.status) for r in snapshot.computed.runs]
    start = tuple(snapshot.computed.runs[0].ab[0])
    view = SurfaceView3D()
    view.resize(800, 560)
    view.set_layout([("all optimizers", None)], snapshot.computed.plane.labels)
    view.set_surface(display, "viridis", reset_view=True)
    view.set_paths([[p] for p in paths], start)
    view.show()
    QTest.qWaitForWindowExposed(view)
    frame = 60
    view.set_frame(frame)
    for _ in range(10):
        app.processEvents()
    view.grab().toImage().save(f"{out}/screen.png")
    positions = view.path_positions()
    view.grab_png(f"{out}/export.png", (800, 560))
    view.set_frame(0)  # every path one point long: markers, no lines
    view.grab_png(f"{out}/start.png", (800, 560))
    view.set_frame(frame)
    view.grab_png(f"{out}/export_2x.png", (1600, 1120))
    # a double-click brings the default camera back
    gl = view._scene.view
    gl.opts["azimuth"], gl.opts["elevation"] = 80.0, 5.0
    QTest.mouseDClick(gl, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(400, 280))
    for _ in range(5):  # the camera is fitted at the next paint
        app.processEvents()
    box = view.box
    np.savez(f"{out}/data.npz", a_values=display.a_values, b_values=display.b_values, values=display.values,
             levels=np.array(display.levels), box=np.array([box.a0, box.a1, box.b0, box.b1, box.z0, box.z1]),
             **{f"positions{k}": p for k, p in enumerate(positions)},
             **{f"ab{k}": p.ab for k, p in enumerate(paths)})
    json.dump({"available": True, "reason": reason, "frame": frame, "colors": [p.color for p in paths],
               "log": bool(display.log), "camera": [gl.opts["azimuth"], gl.opts["elevation"]]},
              open(f"{out}/report.json", "w"))
""")


@pytest.fixture(scope="module")
def opengl_window(tmp_path_factory):
    """Run PROBE on a virtual X display with Mesa's software OpenGL; its files, or a skip saying why not."""
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed: the OpenGL window is checked on a virtual X display (apt install xvfb)")
    out = tmp_path_factory.mktemp("surface3d")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "xcb"
    result = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-c", PROBE, str(out)],
                            env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    if not report["available"]:
        pytest.skip(f"no OpenGL on the virtual display: {report['reason']}")
    return out, report


def pixels(path) -> np.ndarray:
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    assert not image.isNull()
    data = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    return data.reshape(image.height(), image.bytesPerLine() // 4, 4)[:, :image.width(), 2::-1].astype(float)  # RGB


def colour_map_entries(pixels_rgb: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Per pixel ``(P, 3)``, the colour-map entry it shows up to the light's shading (a factor 0.5–1), or −1."""
    lut = lut[:, :3].astype(float)
    # |p − f·c|² = |p|² − 2f·(p·c) + f²·|c|², with f the best factor for each (pixel, entry)
    dot, norm2 = pixels_rgb @ lut.T, (lut ** 2).sum(axis=1)
    factor = np.clip(dot / np.maximum(norm2, 1.0), 0.5, 1.0)
    distance2 = (pixels_rgb ** 2).sum(axis=1)[:, None] - 2 * factor * dot + factor ** 2 * norm2
    best = distance2.argmin(axis=1)
    return np.where(distance2[np.arange(len(best)), best] < 6.0 ** 2, best, -1)


def test_the_opengl_view_draws_the_landscape_in_its_colour_map(opengl_window):
    out, report = opengl_window
    assert report["reason"].startswith("OpenGL")
    for name in ("export.png", "screen.png"):
        rgb = pixels(out / name)
        assert rgb.shape[:2] == (560, 800)
        assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 2000, f"{name} is (nearly) blank"
        rgb = rgb[::2, ::2].reshape(-1, 3)
        drawn = rgb[(rgb != 255).any(axis=1)]  # not the white background
        entries = colour_map_entries(drawn, colormap_lut("viridis"))
        shown = entries[entries >= 0]
        assert shown.size > 0.5 * len(drawn), f"{name}: too little of the picture is the colour map"
        # the surface spans the colour map: its dark low end and its bright high end are both there
        assert (shown < 40).sum() > 50 and (shown > 200).sum() > 50, name


def test_each_run_is_drawn_in_its_colour_on_the_surface(opengl_window):
    out, report = opengl_window
    drawn, start = pixels(out / "export.png"), pixels(out / "start.png")
    changed = np.abs(drawn - start).sum(axis=2) > 30  # what the paths' lines and moved markers add
    assert changed.sum() > 300
    for color in report["colors"]:
        target = np.array(QColor(color).getRgb()[:3], dtype=float)
        close = np.sqrt(((drawn - target) ** 2).sum(axis=2)) < 40
        assert (close & changed).sum() >= 15, f"no path drawn in {color}"


def test_the_paths_handed_to_opengl_lie_on_the_surface(opengl_window):
    out, report = opengl_window
    data = np.load(out / "data.npz")
    box = SceneBox(*data["box"])
    a_values, b_values = data["a_values"], data["b_values"]
    values = data["values"]
    shown = log_scale(values) if report["log"] else values
    lo, hi = data["levels"]
    heights = np.clip(shown, box.z0, box.z1)
    assert box.z0 == lo and box.z1 >= hi
    frame = report["frame"]
    for k in range(len(report["colors"])):
        segments = data[f"positions{k}"]
        plane = box.from_scene(segments - (0.0, 0.0, LIFT))  # (a, b, h) of every segment end
        ab = data[f"ab{k}"][: frame + 1]
        inside = ((ab >= (box.a0, box.b0)) & (ab <= (box.a1, box.b1))).all(axis=1)
        assert inside.all(), "the probe's paths stay inside the grid"
        # the line goes through the path's points, in order, from its start to its current point
        ends = np.vstack([plane[::2][:1], plane[1::2]])[:, :2]
        np.testing.assert_allclose(ends, ab, atol=1e-6 * (box.a1 - box.a0))  # OpenGL takes float32
        # and every point is at the surface's height there
        expected = [naive_bilinear(heights, a_values, b_values, a, b) for a, b in plane[:, :2]]
        np.testing.assert_allclose(plane[:, 2], expected, rtol=1e-5, atol=1e-5 * (box.z1 - box.z0))


def test_a_larger_export_is_the_same_picture_sharper(opengl_window):
    out, _ = opengl_window
    small, large = pixels(out / "export.png"), pixels(out / "export_2x.png")
    assert large.shape[:2] == (1120, 1600)
    halved = large.reshape(560, 2, 800, 2, 3).mean(axis=(1, 3))
    assert np.abs(halved - small).mean() < 12  # the same camera and layout, drawn at twice the density


def test_a_double_click_brings_the_default_camera_back(opengl_window):
    _, report = opengl_window
    assert report["camera"] == [surface3d.AZIMUTH, surface3d.ELEVATION]
