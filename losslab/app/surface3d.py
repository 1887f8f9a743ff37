"""The landscape as a 3-D surface, with the optimizers' paths lying on it (pyqtgraph.opengl).

:class:`SurfaceView3D` follows the figure's landscape-view protocol (``set_layout``,
``set_surface``, ``show_region``, ``set_foreground``, ``set_paths``, ``set_frame``,
``redraw_lines``) so it can stand in for the 2-D contour grid: the same
:class:`~losslab.app.display.SurfaceDisplay`, the same paths, the same animation clock.

What is drawn, in *scene* coordinates (scaled so that any value range reads):

- the plane's window ``[a0, a1] × [b0, b1]`` becomes the square ``x, y ∈ [−0.5, 0.5]``;
- the height is the value the 2-D view colours (log₁₀ of the loss when the display is
  logarithmic) in ``[z0, z1]`` (:func:`height_range`: the colour bar's range and a little
  headroom above it, so a far corner neither squashes the bowl nor is cut flat at once),
  scaled to ``z ∈ [0, HEIGHT]``: ``z = HEIGHT · (h − z0) / (z1 − z0)``;
- a path point ``(a, b)`` is lifted onto the surface, ``h = bilinear(heights, a, b)``; a
  path leaving the window is cut at its edge (as it leaves the 2-D view), and every line
  floats ``LIFT`` above the surface so the surface does not swallow it. A stretch hidden
  behind a hill is still drawn, faintly.

The surface's colours are the display's own ``rgba`` (the 2-D view's colour map), shaded by
a light fixed in the scene so slopes read as slopes. Text (tick labels, axis names, the
legend) is painted with QPainter by one function: on screen in a transparent widget over
the OpenGL picture (repainted only when the camera or the text changes, not every frame),
in exports onto the rendered image.

Where OpenGL cannot work (no PyOpenGL, Qt's headless "offscreen" platform, no context)
the widget shows a sentence saying why (:func:`available`) and nothing else changes:
creating it never raises. The OpenGL widget itself is made only when the view is first
shown or exported: a window gaining an OpenGL child composes all its widgets with OpenGL
from then on, which a window that never shows the 3-D view should not pay for.
"""
from __future__ import annotations

import math
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QGuiApplication, QImage, QMatrix4x4, QPainter, QPen
from PyQt6.QtWidgets import QLabel, QSizePolicy, QStackedLayout, QWidget

from ..engine.geometry import clip_segments
from ..engine.landscape import log_scale
from .display import SurfaceDisplay
from .views import PathData, loss_ticks, nice_ticks

Array = np.ndarray

HEIGHT = 0.6  # the surface's height range over the unit square
HEADROOM = 0.25  # heights go on above the colour bar's top by at most this fraction of its range
FLOOR = -0.04  # the floor grid, a little under the lowest point (no flicker where they would touch)
LIFT = 0.012  # paths and markers float this far above the surface (scene units)
ISO_LIFT = 0.004  # iso-lines likewise, closer
ELEVATION, AZIMUTH = 30.0, -60.0  # the default camera, degrees
FOV = 45.0  # horizontal field of view, degrees (pyqtgraph's 60 bends the box's edges)
LIGHT = np.array([0.35, -0.55, 1.0]) / np.linalg.norm([0.35, -0.55, 1.0])  # fixed in the scene: front-left, above
AMBIENT = 0.62  # light every face gets; the rest (1 − AMBIENT) follows the slope's angle to LIGHT
MISSING = (0.55, 0.55, 0.55)  # the colour of grid points without a value (drawn on the floor)
NO_GL_PLATFORMS = ("offscreen", "minimal", "minimalegl", "vnc", "linuxfb")  # Qt platforms without OpenGL widgets
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "swiftshader", "software", "gdi generic")
SAMPLES = 4  # multisampling (smooth edges) for exports, and on screen with a hardware renderer
RUN_WIDTH, EDGE_WIDTH, GHOST_WIDTH = 2.4, 4.4, 1.6  # path line widths in pixels (the 2-D view's 2.2 / 4.4)
MARKER_SIZE, MARKER_RIM = 10.0, 3.5  # pixels


# --- the geometry (pure NumPy: tested without OpenGL) -----------------------------------------------

def shown_values(display: SurfaceDisplay) -> Array:
    """``(n_b, n_a)``: the numbers the colour map is applied to (log₁₀ of the loss when ``display.log``)."""
    return log_scale(display.values) if display.log else np.asarray(display.values, dtype=float)


def height_range(display: SurfaceDisplay) -> tuple[float, float]:
    """``(z0, z1)``: the heights drawn. ``z0`` the colour bar's bottom; ``z1`` its top plus up to ``HEADROOM``.

    The colour bar's top is a high percentile (``robust_range``): above it every colour is the
    last one. Heights go on a little further (a quarter of the colour range at most), so the
    rim of a bowl still rises instead of being cut flat, and one far corner still cannot
    squash the rest of the surface.
    """
    lo, hi = display.levels
    shown = shown_values(display)
    finite = shown[np.isfinite(shown)]
    top = float(finite.max()) if finite.size else hi
    return float(lo), float(max(hi, min(top, hi + HEADROOM * (hi - lo))))


def surface_heights(display: SurfaceDisplay) -> Array:
    """``(n_b, n_a)`` heights in the colours' units, clipped to :func:`height_range`; NaN where there is no value."""
    with np.errstate(invalid="ignore"):
        return np.clip(shown_values(display), *height_range(display))


def bilinear(heights: Array, a_values: Array, b_values: Array, a: Array, b: Array) -> Array:
    """The grid ``heights[j, i]`` at ``(a_values[i], b_values[j])`` interpolated bilinearly at points ``(a, b)``.

    Points outside the grid take the value at the nearest edge (clamped); a non-finite
    coordinate gives NaN.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    finite = np.isfinite(a) & np.isfinite(b)
    fi = np.interp(np.where(finite, a, a_values[0]), a_values, np.arange(len(a_values), dtype=float))
    fj = np.interp(np.where(finite, b, b_values[0]), b_values, np.arange(len(b_values), dtype=float))
    i0 = np.clip(np.floor(fi).astype(np.intp), 0, max(len(a_values) - 2, 0))
    j0 = np.clip(np.floor(fj).astype(np.intp), 0, max(len(b_values) - 2, 0))
    i1, j1 = np.minimum(i0 + 1, len(a_values) - 1), np.minimum(j0 + 1, len(b_values) - 1)
    s, t = fi - i0, fj - j0
    z = ((1 - s) * (1 - t) * heights[j0, i0] + s * (1 - t) * heights[j0, i1]
         + (1 - s) * t * heights[j1, i0] + s * t * heights[j1, i1])
    return np.where(finite, z, np.nan)


@dataclass(frozen=True)
class SceneBox:
    """The plane window ``[a0, a1] × [b0, b1]`` and height range ``[z0, z1]`` mapped onto the scene.

    ``x = (a − a_mid) / (a1 − a0)``, ``y = (b − b_mid) / (b1 − b0)`` (both in [−0.5, 0.5]) and
    ``z = HEIGHT · (h − z0) / (z1 − z0)``.
    """

    a0: float
    a1: float
    b0: float
    b1: float
    z0: float
    z1: float

    @classmethod
    def of(cls, display: SurfaceDisplay) -> SceneBox:
        a, b = display.a_values, display.b_values
        return cls(float(a[0]), float(a[-1]), float(b[0]), float(b[-1]), *height_range(display))

    def _centre_and_spans(self) -> tuple[Array, Array]:
        centre = np.array([(self.a0 + self.a1) / 2, (self.b0 + self.b1) / 2, self.z0])
        spans = np.array([(self.a1 - self.a0) or 1.0, (self.b1 - self.b0) or 1.0,
                          ((self.z1 - self.z0) or 1.0) / HEIGHT])
        return centre, spans

    def to_scene(self, abh: Array) -> Array:
        """``(..., 3)`` plane points ``(a, b, h)`` → scene points ``(x, y, z)``."""
        centre, spans = self._centre_and_spans()
        return (np.asarray(abh, dtype=float) - centre) / spans

    def from_scene(self, xyz: Array) -> Array:
        """``(..., 3)`` scene points → plane points ``(a, b, h)`` (the inverse of :meth:`to_scene`)."""
        centre, spans = self._centre_and_spans()
        return np.asarray(xyz, dtype=float) * spans + centre


@dataclass(frozen=True, eq=False)
class LiftedPath:
    """One path lying on the surface, in scene coordinates, for every frame at once.

    ``pairs[s]`` are the two ends of visible segment ``segment[s]`` (segment i joins path
    points i and i + 1), cut to the window and lifted (``LIFT`` above the surface); ``points[t]``
    is path point t clamped into the window and lifted (NaN where the point is not finite).
    Frame k shows the segments before k (:meth:`pairs_upto`) and a marker at ``points[k]``.
    """

    pairs: Array  # (S, 2, 3)
    segment: Array  # (S,) ascending
    points: Array  # (T, 3)

    def pairs_upto(self, frame: int) -> Array:
        """``(2m, 3)``: the ends of the segments drawn at ``frame``, as a line item takes them."""
        return self.pairs[: np.searchsorted(self.segment, frame)].reshape(-1, 3)

    def point(self, frame: int) -> Array:
        return self.points[min(max(frame, 0), len(self.points) - 1)]


def lift_path(ab: Array, heights: Array, a_values: Array, b_values: Array, box: SceneBox) -> LiftedPath:
    """A plane path ``ab`` (T, 2) laid on the surface ``heights[j, i]`` over ``(a_values[i], b_values[j])``."""
    ab = np.asarray(ab, dtype=float).reshape(-1, 2)
    lo, hi = np.array([a_values[0], b_values[0]]), np.array([a_values[-1], b_values[-1]])
    visible, first, last = clip_segments(ab[:-1], ab[1:], lo, hi)
    ends = np.stack([first[visible], last[visible]], axis=1).reshape(-1, 2)  # (2S, 2)
    up = np.array([0.0, 0.0, LIFT])

    def lifted(points: Array) -> Array:
        h = bilinear(heights, a_values, b_values, points[:, 0], points[:, 1])
        return box.to_scene(np.column_stack([points, h])) + up

    with np.errstate(invalid="ignore"):
        clamped = np.clip(ab, lo, hi)  # a far point's marker waits at the edge it left by
    return LiftedPath(lifted(ends).reshape(-1, 2, 3), np.flatnonzero(visible), lifted(clamped))


def lift_polyline(ab: Array, heights: Array, a_values: Array, b_values: Array) -> Array:
    """The drawn segments of a plane path, in plane units: ``(2S, 3)`` ends ``(a, b, h)``, each pair one segment.

    The segments are cut to the grid's window (:func:`clip_segments`) and each end is at the
    surface's height there (:func:`bilinear`), the geometry :func:`lift_path` hands to OpenGL.
    """
    ab = np.asarray(ab, dtype=float).reshape(-1, 2)
    lo, hi = np.array([a_values[0], b_values[0]]), np.array([a_values[-1], b_values[-1]])
    visible, first, last = clip_segments(ab[:-1], ab[1:], lo, hi)
    ends = np.stack([first[visible], last[visible]], axis=1).reshape(-1, 2)
    return np.column_stack([ends, bilinear(heights, a_values, b_values, ends[:, 0], ends[:, 1])])


def shaded_colors(rgba: Array, x: Array, y: Array, z: Array) -> Array:
    """Per-vertex colours ``(n_a · n_b, 4)`` float32 for the scene grid ``z[i, j]`` at ``(x[i], y[j])``.

    ``rgba[j, i]`` (uint8, the display's colours) times ``AMBIENT + (1 − AMBIENT) · max(n · LIGHT, 0)``,
    ``n`` the surface's unit normal in scene coordinates (the slope the eye sees). Order: x
    outer, y inner, as the surface item lays out its vertices. Points without a value are grey.
    """
    if len(x) > 1 and len(y) > 1:
        dz_dx, dz_dy = np.gradient(z, x, y)
    else:
        dz_dx = dz_dy = np.zeros_like(z)
    normal = np.stack([-dz_dx, -dz_dy, np.ones_like(z)], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    light = AMBIENT + (1 - AMBIENT) * np.clip(normal @ LIGHT, 0.0, 1.0)
    colors = np.asarray(rgba, dtype=np.float32).transpose(1, 0, 2) / 255.0  # (n_a, n_b, 4)
    colors[colors[..., 3] == 0, :3] = MISSING
    colors[..., :3] *= light[..., None]
    colors[..., 3] = 1.0
    return colors.reshape(-1, 4).astype(np.float32)


# --- whether OpenGL works here --------------------------------------------------------------------

_availability: tuple[bool, str] | None = None


def available() -> tuple[bool, str]:
    """``(True, "OpenGL 4.5 … (llvmpipe …)")`` where the 3-D view can draw, else ``(False, why not)``.

    Checks, in order: PyOpenGL and pyqtgraph.opengl import; a Qt application runs; its
    platform has OpenGL windows (Qt's headless "offscreen" one has none); an OpenGL ≥ 2.1
    context can be created and made current. The answer is kept for the process (once an
    application runs).
    """
    global _availability
    if _availability is not None:
        return _availability
    try:
        import OpenGL.GL  # noqa: F401
        import pyqtgraph.opengl  # noqa: F401
    except Exception as err:  # ImportError, or PyOpenGL finding no OpenGL library at all
        _availability = (False, f"PyOpenGL is missing or finds no OpenGL library ({err}); "
                                f"install it with: pip install PyOpenGL")
        return _availability
    app = QGuiApplication.instance()
    if app is None:
        return False, "no Qt application is running yet"  # not kept: one may start later
    platform = app.platformName()
    if platform in NO_GL_PLATFORMS:
        _availability = (False, f"Qt's \u201c{platform}\u201d platform has no OpenGL windows (headless); "
                                f"run losslab on a display, or under xvfb-run")
        return _availability
    _availability = _probe_context()
    return _availability


def _probe_context() -> tuple[bool, str]:
    from PyQt6.QtGui import QOffscreenSurface, QOpenGLContext

    context = QOpenGLContext()
    if not context.create():
        return False, "no OpenGL context can be created on this display"
    surface = QOffscreenSurface()
    surface.setFormat(context.format())
    surface.create()
    try:
        if not context.makeCurrent(surface):
            return False, "an OpenGL context was created but cannot draw (makeCurrent failed)"
        version = context.format().version()
        try:
            from OpenGL import GL
            renderer = GL.glGetString(GL.GL_RENDERER).decode(errors="replace")
            gl_version = GL.glGetString(GL.GL_VERSION).decode(errors="replace")
        except Exception:
            renderer, gl_version = "unknown renderer", f"{version[0]}.{version[1]}"
        parsed = re.match(r"(?:OpenGL ES )?(\d+)\.(\d+)", gl_version)  # the driver's own word; a context's
        if parsed:  # format can under-report (GLX through Qt's offscreen platform says 2.0 for 4.5)
            version = (int(parsed.group(1)), int(parsed.group(2)))
        if version < (2, 1) and not context.isOpenGLES():
            return False, f"OpenGL 2.1 or newer is needed, this display offers {gl_version}"
        return True, f"OpenGL {gl_version} ({renderer})"
    finally:
        context.doneCurrent()
        surface.destroy()


def command_line_platform() -> str:
    """The Qt platform for drawing the 3-D view without a window (``losslab render --view 3d``).

    Call it before the QApplication exists. Qt's headless "offscreen" platform has no OpenGL,
    so a 3-D render needs a display (X11, or Wayland) — drawn to without showing anything
    (``Qt.WidgetAttribute.WA_DontShowOnScreen``). Raises ``ValueError`` saying how to get one.
    """
    if os.environ.get("DISPLAY"):
        return "xcb"
    if os.environ.get("WAYLAND_DISPLAY"):
        return "wayland"
    raise ValueError("the 3-D view needs OpenGL, which needs a display, and none is set ($DISPLAY is empty); "
                     "render on a virtual one: xvfb-run -a losslab render ... --view 3d")


def software_renderer() -> bool:
    """Whether OpenGL here is drawn by the CPU (Mesa llvmpipe and the like): no multisampling on screen then."""
    ok, reason = available()
    return ok and any(name in reason.lower() for name in SOFTWARE_RENDERERS)


class OpenGLMissing(RuntimeError):
    """The 3-D view cannot draw here (its message says why)."""


# --- the view ----------------------------------------------------------------------------------------

@dataclass
class _Scene:
    """The OpenGL widget and its items (made once, when first needed)."""

    view: object  # the GLViewWidget
    walls: object  # floor and far walls: the box's edges, faint lines at the ticks
    surface: object
    isolines: object
    ghosts: object  # every path's segments, drawn faintly only where the surface hides them
    edges: object  # every path's segments, dark and wide: an edge that reads on any colour
    lines: object  # every path's segments in its run's colour
    marker_rims: object  # the start and every current point: a dark rim...
    markers: object  # ... and the fill


class SurfaceView3D(QWidget):
    """The landscape as a rotatable shaded surface with the runs' paths on it.

    Mouse: drag to turn, Ctrl+drag (or the middle button) to pan, the wheel to zoom, a
    double-click to go back to the default camera (:meth:`reset_camera`).

    For tests and exports: :attr:`box` (the :class:`SceneBox` of the surface shown),
    :attr:`message` (why OpenGL is missing, or ""), :meth:`path_positions` (what the line
    item was handed, per path).
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._stack = QStackedLayout(self)
        self._stack.setContentsMargins(0, 0, 0, 0)
        self._label = QLabel("", self)
        self._label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._label.setWordWrap(True)
        self._label.setMargin(24)
        self._stack.addWidget(self._label)
        self._scene: _Scene | None = None
        self._creating = False
        self.message = ""
        self.box: SceneBox | None = None
        self._display: SurfaceDisplay | None = None
        self._heights: Array | None = None  # drawn heights, plane units (no value: the floor's)
        self._paths: list[PathData] = []
        self._lifted: list[LiftedPath] = []
        self._start: tuple[float, float] | None = None
        self._start_point: Array | None = None  # lifted, scene units
        self._frame = 0
        self._counts: list[int] = []  # vertices per path in the line item, in order
        self._axes_labels = ("a", "b")
        self._laid_out = False
        self._foreground = "#222222"
        self._background = "#ffffff"
        self._stale = {"surface", "paths", "camera", "colors"}  # what the OpenGL items still have to take in
        self._camera_pending = False
        self._angles = (ELEVATION, AZIMUTH)
        self._walls: tuple | None = None  # the corner the far walls were built for
        self._exporting = False
        self._export_scale = 1.0
        self._overlay_drawn: tuple | None = None  # the key of the text on screen (see _overlay_key)
        self.hint = True  # how to move the camera, on screen (never in exports)
        self._style_label()
        ok, reason = available()
        if not ok:
            self._show_message(reason)

    # --- OpenGL, made on first use ------------------------------------------------------------
    @property
    def has_gl(self) -> bool:
        """Whether this view draws with OpenGL (False: it shows :attr:`message`)."""
        return not self.message

    def _style_label(self) -> None:
        self._label.setStyleSheet(f"color: {self._foreground}; background: {self._background};")

    def _show_message(self, reason: str) -> None:
        self.message = f"3-D view needs OpenGL: {reason}."
        self._label.setText(self.message + "\nThe 2-D views work without it.")
        self._stack.setCurrentWidget(self._label)

    def _ensure_scene(self) -> _Scene:
        """The OpenGL widget and items, made now if need be; raises :class:`OpenGLMissing` where they cannot be."""
        if self._scene is not None:
            return self._scene
        if self.message:
            raise OpenGLMissing(self.message)
        ok, reason = available()
        if not ok:
            self._show_message(reason)
            raise OpenGLMissing(self.message)
        self._creating = True  # a window gaining its first OpenGL child is made anew: showEvent comes again
        try:
            self._scene = self._make_scene()
        except Exception as err:  # a driver refusing a shader, say: say so instead of failing the window
            self._show_message(f"{type(err).__name__}: {err}")
            raise OpenGLMissing(self.message) from err
        finally:
            self._creating = False
        self._stack.addWidget(self._scene.view)
        self._stack.setCurrentWidget(self._scene.view)
        return self._scene

    def _make_scene(self) -> _Scene:
        import pyqtgraph.opengl as gl
        from OpenGL import GL
        from PyQt6.QtGui import QSurfaceFormat

        view = _gl_view_class()(self)
        fmt = QSurfaceFormat(view.format())
        fmt.setSamples(0 if software_renderer() else SAMPLES)  # 4× the fill work on a CPU: half the frame rate
        fmt.setDepthBufferSize(24)
        view.setFormat(fmt)
        view.opts["fov"] = FOV
        # every item states all the state it needs: pyqtgraph leaves each item's state set for the next
        opaque = {GL.GL_DEPTH_TEST: True, GL.GL_BLEND: False, GL.GL_CULL_FACE: False,
                  GL.GL_POLYGON_OFFSET_FILL: True, "glPolygonOffset": (1.0, 1.0), "glDepthFunc": (GL.GL_LESS,),
                  "glDepthMask": (True,)}
        blended = {GL.GL_DEPTH_TEST: True, GL.GL_BLEND: True, GL.GL_CULL_FACE: False,
                   "glBlendFuncSeparate": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA, GL.GL_ONE,
                                           GL.GL_ONE_MINUS_SRC_ALPHA),
                   "glDepthFunc": (GL.GL_LEQUAL,), "glDepthMask": (True,)}  # LEQUAL: a line over its own edge
        faint = {**blended, "glDepthMask": (False,)}  # grid and iso-lines hide nothing
        hidden_only = {**faint, "glDepthFunc": (GL.GL_GREATER,)}  # drawn only where something is in front
        on_top = {**blended, GL.GL_DEPTH_TEST: False}  # markers: never lost behind a hill
        items = _Scene(
            view=view,
            walls=gl.GLLinePlotItem(mode="lines", glOptions=faint),
            surface=gl.GLSurfacePlotItem(computeNormals=False, smooth=True, glOptions=opaque),
            isolines=gl.GLLinePlotItem(mode="lines", width=1.0, glOptions=faint),
            ghosts=gl.GLLinePlotItem(mode="lines", antialias=True, glOptions=hidden_only),
            edges=gl.GLLinePlotItem(mode="lines", antialias=True, glOptions=blended),
            lines=gl.GLLinePlotItem(mode="lines", antialias=True, glOptions=blended),
            marker_rims=gl.GLScatterPlotItem(pxMode=True, glOptions=on_top),
            markers=gl.GLScatterPlotItem(pxMode=True, glOptions=on_top))
        items.surface.setVisible(False)  # an empty surface item cannot draw: shown with its first data
        order = (items.walls, items.surface, items.isolines, items.ghosts, items.edges, items.lines,
                 items.marker_rims, items.markers)
        for depth, item in enumerate(order):  # drawn in this order
            item.setDepthValue(depth)
            view.addItem(item)
        return items

    # --- the landscape-view protocol ------------------------------------------------------------
    def set_layout(self, titles: list, axes_labels: tuple[str, str]) -> bool:
        """The plane's axis names (one 3-D view whatever the layout: ``titles`` are not shown).

        Returns whether anything changed, always on the first call (the figure then styles the
        view: :meth:`set_foreground`).
        """
        axes_labels = tuple(axes_labels)
        if axes_labels == self._axes_labels and self._laid_out:
            return False
        self._axes_labels, self._laid_out = axes_labels, True
        self._redraw()
        return True

    def set_surface(self, display: SurfaceDisplay, cmap: str = "", reset_view: bool = False) -> None:
        """Show a :class:`~losslab.app.display.SurfaceDisplay` (its ``rgba`` carries the colour map ``cmap``).

        ``reset_view``: back to the default camera (the first surface always is).
        """
        first = self._display is None
        self._display = display
        heights = surface_heights(display)
        self._heights = np.where(np.isfinite(heights), heights, height_range(display)[0])
        self.box = SceneBox.of(display)
        self._stale |= {"surface", "paths"} | ({"camera"} if reset_view or first else set())
        self._redraw()

    def show_region(self, a_range: tuple[float, float], b_range: tuple[float, float]) -> None:
        """Accepted for the protocol: the 3-D view always shows the whole grid (the region the figure frames)."""

    def set_foreground(self, color: str) -> None:
        """The colour of text, axes and grid (the theme)."""
        color = QColor(color).name()
        if color != self._foreground:
            self._foreground = color
            self._style_label()
            self._stale.add("colors")
            self._redraw()

    def setBackground(self, color) -> None:  # noqa: N802 (the name pyqtgraph's views use: the figure calls it)
        """The background colour (the theme)."""
        color = QColor(color).name()
        if color != self._background:
            self._background = color
            self._style_label()
            self._stale.add("colors")
            self._redraw()

    def set_paths(self, per_panel: list[list[PathData]], start: tuple[float, float] | None) -> None:
        """The runs' paths (every panel's, each once: one 3-D view shows them all) and where the runs start."""
        paths: list[PathData] = []
        for panel in per_panel:
            for path in ([panel] if isinstance(panel, PathData) else panel):
                if not any(path is p for p in paths):
                    paths.append(path)
        self._paths = paths
        self._start = None if start is None else (float(start[0]), float(start[1]))
        self._stale.add("paths")
        self._redraw()

    def set_frame(self, frame: int) -> None:
        """Show every path up to its point ``frame`` (the animation's clock; past its end a path stays whole)."""
        self._frame = max(int(frame), 0)
        self._stale.add("frame")
        self._redraw()

    def redraw_lines(self) -> None:
        """Draw the paths again (exports call this around their work; the 3-D view has nothing to re-cut)."""
        self._stale.add("frame")
        self._redraw()

    def reset_camera(self) -> None:
        """Back to the default camera: elevation 30°, azimuth −60°, the whole box in sight."""
        self.set_camera(ELEVATION, AZIMUTH)

    def set_camera(self, elevation: float, azimuth: float) -> None:
        """Look from ``elevation`` degrees above the floor and ``azimuth`` degrees round from the a axis.

        The distance is fitted so the box and its labels are in sight (the mouse changes all three).
        """
        self._angles = (float(elevation), float(azimuth))
        self._stale.add("camera")
        self._redraw()

    # --- drawing ------------------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self._creating:
            return
        if not self.message and self._scene is None:
            try:
                self._ensure_scene()
            except OpenGLMissing:
                return
        self._redraw()

    def _redraw(self) -> None:
        """Hand the OpenGL items what changed; nothing while the view is hidden (it catches up when shown)."""
        scene = self._scene
        if scene is None or not (self.isVisible() or self._exporting):
            return
        stale, self._stale = self._stale, set()
        if "camera" in stale:
            self._camera_pending = True  # fitted at the next paint, to the size it paints at
        if "colors" in stale:
            scene.view.setBackgroundColor(self._background)
            self._walls = None  # drawn again in the new foreground at the next paint
        if self._display is not None:
            if "surface" in stale:
                self._draw_surface(scene)
            if stale & {"surface", "paths"}:
                self._lift_paths()
            if stale & {"surface", "paths", "frame"}:
                self._draw_frame(scene)
        scene.view.update()

    def _draw_surface(self, scene: _Scene) -> None:
        display, box = self._display, self.box
        x = (display.a_values - (box.a0 + box.a1) / 2) / ((box.a1 - box.a0) or 1.0)
        y = (display.b_values - (box.b0 + box.b1) / 2) / ((box.b1 - box.b0) or 1.0)
        z = (HEIGHT * (self._heights - box.z0) / ((box.z1 - box.z0) or 1.0)).T  # (n_a, n_b): x outer
        scene.surface.setData(x=x.astype(np.float32), y=y.astype(np.float32), z=z.astype(np.float32),
                              colors=shaded_colors(display.rgba, x, y, z))
        scene.surface.setVisible(True)
        segments = display.isolines
        if segments is not None and len(segments):
            points = segments.reshape(-1, 2)
            h = bilinear(self._heights, display.a_values, display.b_values, points[:, 0], points[:, 1])
            pos = box.to_scene(np.column_stack([points, h])) + (0.0, 0.0, ISO_LIFT)
            scene.isolines.setData(pos=pos.astype(np.float32), color=(1.0, 1.0, 1.0, 0.45))
        scene.isolines.setVisible(segments is not None and len(segments) > 0)
        self._walls = None  # new ticks

    def _lift_paths(self) -> None:
        """Every frame of every path laid on the surface at once: a frame is then a slice."""
        display = self._display
        self._lifted = [lift_path(path.ab, self._heights, display.a_values, display.b_values, self.box)
                        for path in self._paths]
        self._start_point = None
        if self._start is not None and np.isfinite(self._start).all():
            self._start_point = lift_path(np.array([self._start]), self._heights, display.a_values,
                                          display.b_values, self.box).points[0]

    def _draw_frame(self, scene: _Scene) -> None:
        """The paths up to the current frame, the start and each run's current point."""
        s = self._export_scale
        pieces = [lifted.pairs_upto(self._frame) for lifted in self._lifted]
        self._counts = [len(piece) for piece in pieces]
        colors = [QColor(path.color).getRgbF() for path in self._paths]
        pos = np.concatenate(pieces).astype(np.float32) if pieces else np.empty((0, 3), np.float32)
        rgba = np.repeat(np.array(colors, dtype=np.float32).reshape(-1, 4), self._counts, axis=0)
        ghost = rgba.copy()
        ghost[:, 3] = 0.45
        scene.lines.setData(pos=pos, color=rgba, width=RUN_WIDTH * s)
        scene.edges.setData(pos=pos, color=(0.0, 0.0, 0.0, 0.5), width=EDGE_WIDTH * s)
        scene.ghosts.setData(pos=pos, color=ghost, width=GHOST_WIDTH * s)
        for item in (scene.lines, scene.edges, scene.ghosts):
            item.setVisible(len(pos) > 0)
        heads = [(lifted.point(self._frame), color) for lifted, color in zip(self._lifted, colors)]
        if self._start_point is not None:
            heads.insert(0, (self._start_point, (1.0, 1.0, 1.0, 1.0)))  # the start: white, as in the 2-D view
        heads = [(point, color) for point, color in heads if np.isfinite(point).all()]  # a NaN run has none
        if heads:
            points = np.array([point for point, _ in heads], dtype=np.float32)
            sizes = np.full(len(heads), MARKER_SIZE * s, dtype=np.float32)
            scene.markers.setData(pos=points, color=np.array([c for _, c in heads], dtype=np.float32), size=sizes)
            scene.marker_rims.setData(pos=points, color=(0.0, 0.0, 0.0, 0.85), size=sizes + MARKER_RIM * s)
        scene.markers.setVisible(bool(heads))
        scene.marker_rims.setVisible(bool(heads))

    def path_positions(self) -> list[Array]:
        """Per path, the ``(2S, 3)`` segment ends (scene coordinates) in the line item's data now."""
        if self._scene is None or self._scene.lines.pos is None:
            return [np.empty((0, 3)) for _ in self._paths]
        return np.split(np.asarray(self._scene.lines.pos), np.cumsum(self._counts)[:-1])

    def _fit_camera(self, view, width: int, height: int) -> None:
        """The camera's angles (:meth:`set_camera`) and the nearest distance that keeps the box and labels in sight."""
        view.opts["center"] = _vector(0.0, 0.0, HEIGHT * 0.4)
        (view.opts["elevation"], view.opts["azimuth"]), view.opts["fov"] = self._angles, FOV
        width, height = max(width, 1), max(height, 1)
        corners = np.array([[x, y, z] for x in (-0.6, 0.6) for y in (-0.6, 0.6) for z in (FLOOR, HEIGHT)])
        near, far = 0.5, 20.0
        for _ in range(30):  # bisect: the box and its labels just fit in the middle 92% × 84%
            view.opts["distance"] = distance = (near + far) / 2
            px, _ = _project(_mvp(view, width, height), width, height, corners)
            fits = (np.abs(px[:, 0] / width - 0.5) <= 0.46).all() and (np.abs(px[:, 1] / height - 0.5) <= 0.42).all()
            near, far = (near, distance) if fits else (distance, far)
        view.opts["distance"] = far

    # --- axes, walls and text -----------------------------------------------------------------------
    def _ticks(self) -> tuple[list, list, list]:
        """Ticks of a, b and the height, each ``[(scene coordinate, label), ...]``."""
        box, display = self.box, self._display
        scale = lambda v, lo, hi, size: size * (v - lo) / ((hi - lo) or 1.0)  # noqa: E731
        a_ticks = [(scale(v, box.a0, box.a1, 1.0) - 0.5, text) for v, text in nice_ticks(box.a0, box.a1, 5)]
        b_ticks = [(scale(v, box.b0, box.b1, 1.0) - 0.5, text) for v, text in nice_ticks(box.b0, box.b1, 5)]
        z_ticks = [(scale(v, box.z0, box.z1, HEIGHT), text)
                   for v, text in loss_ticks(box.z0, box.z1, bool(display.log), 5)]
        return a_ticks, b_ticks, z_ticks

    @staticmethod
    def _near_corner(view) -> tuple[float, float]:
        """The signs ``(sx, sy)`` of the box's corner nearest the camera (its floor edges carry the tick labels)."""
        azimuth = math.radians(view.opts["azimuth"])
        return (1.0 if math.cos(azimuth) >= 0 else -1.0), (1.0 if math.sin(azimuth) >= 0 else -1.0)

    def _build_walls(self, view) -> None:
        """Floor and the two far walls: the box's edges and faint grid lines at the ticks (when the corner turns)."""
        key = (self._near_corner(view), self._foreground, self._export_scale)
        if self._walls == key:
            return
        self._walls = key
        sx, sy = key[0]
        fx, fy = -0.5 * sx, -0.5 * sy  # the far walls
        a_ticks, b_ticks, z_ticks = self._ticks()
        grid = []
        for x, _ in a_ticks:
            grid += [(x, -0.5, FLOOR), (x, 0.5, FLOOR), (x, fy, FLOOR), (x, fy, HEIGHT)]
        for y, _ in b_ticks:
            grid += [(-0.5, y, FLOOR), (0.5, y, FLOOR), (fx, y, FLOOR), (fx, y, HEIGHT)]
        for z, _ in z_ticks:
            grid += [(-0.5, fy, z), (0.5, fy, z), (fx, -0.5, z), (fx, 0.5, z)]
        edges = [(-0.5, -0.5, FLOOR), (0.5, -0.5, FLOOR), (0.5, -0.5, FLOOR), (0.5, 0.5, FLOOR),
                 (0.5, 0.5, FLOOR), (-0.5, 0.5, FLOOR), (-0.5, 0.5, FLOOR), (-0.5, -0.5, FLOOR),
                 (fx, fy, FLOOR), (fx, fy, HEIGHT), (-fx, fy, FLOOR), (-fx, fy, HEIGHT),
                 (fx, -fy, FLOOR), (fx, -fy, HEIGHT), (fx, fy, HEIGHT), (-fx, fy, HEIGHT),
                 (fx, fy, HEIGHT), (fx, -fy, HEIGHT)]
        fg = QColor(self._foreground)
        rgb = (fg.redF(), fg.greenF(), fg.blueF())
        colors = [(*rgb, 0.22)] * len(grid) + [(*rgb, 0.7)] * len(edges)
        self._scene.walls.setData(pos=np.array(grid + edges, dtype=np.float32),
                                  color=np.array(colors, dtype=np.float32), width=1.0 * self._export_scale)

    def _before_paint(self, view, width: int, height: int) -> None:
        from OpenGL import GL

        # QPainter work in this context (Qt's, or a caller's) can leave its state behind (a scissor
        # box, masks): the frame's glClear would then clear only part of the picture, or no depth
        GL.glDisable(GL.GL_SCISSOR_TEST)
        GL.glDisable(GL.GL_STENCIL_TEST)
        GL.glColorMask(True, True, True, True)
        GL.glDepthMask(True)
        if self._camera_pending:
            self._camera_pending = False
            self._fit_camera(view, width, height)
        if self._display is not None:
            self._build_walls(view)
        self._scene.walls.setVisible(self._display is not None)

    def _legend_entries(self) -> tuple:
        entries = []
        for path in self._paths:
            diverged = path.status == "diverged" and self._frame >= len(path.ab) - 1
            entries.append((path.color, path.label + ("  ✕ diverged" if diverged else ""), diverged))
        return tuple(entries)

    def _overlay_key(self, view) -> tuple:
        """What the text over the picture depends on: it is painted again only when this changes."""
        o = view.opts
        return (view.width(), view.height(), o["distance"], o["elevation"], o["azimuth"], o["fov"],
                tuple(o["center"]), id(self._display), self._axes_labels, self._foreground, self._background,
                self._legend_entries(), self._start is not None, self.hint)

    def _paint_overlay(self, painter: QPainter, view, width: int, height: int, scale: float, screen: bool) -> None:
        """Tick labels, axis names, the title, the legend (and on screen, how to move the camera)."""
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        fg = QColor(self._foreground)
        font = QFont(painter.font())
        font.setPixelSize(max(int(round(12 * scale)), 1))
        bold = QFont(font)
        bold.setBold(True)
        metrics, bold_metrics = QFontMetricsF(font), QFontMetricsF(bold)
        painter.setFont(font)
        painter.setPen(fg)
        if self._display is None:
            painter.drawText(QRectF(0, 0, width, height), Qt.AlignmentFlag.AlignCenter, "no landscape yet")
            return
        mvp = _mvp(view, width, height)
        sx, sy = self._near_corner(view)
        a_ticks, b_ticks, z_ticks = self._ticks()
        centre_x = _project(mvp, width, height, np.array([[0.0, 0.0, FLOOR]]))[0][0, 0]
        out = 0.07  # tick labels this far outside the box (scene units)

        def label(point, text, heavy=False):
            """Text at a scene point, shifted sideways away from the box so it never sits on its edge."""
            px, front = _project(mvp, width, height, np.array([point], dtype=float))
            if not front[0]:
                return
            m = bold_metrics if heavy else metrics
            painter.setFont(bold if heavy else font)
            w = m.horizontalAdvance(text)
            side = np.clip((px[0, 0] - centre_x) / (0.25 * width), -1.0, 1.0)  # −1 far left … 1 far right
            painter.drawText(QPointF(px[0, 0] - w / 2 + side * w / 2, px[0, 1] + m.capHeight() / 2), text)

        near_x, near_y = 0.5 * sx, 0.5 * sy
        for x, text in a_ticks:
            label((x, near_y + out * sy, FLOOR), text)
        for y, text in b_ticks:
            label((near_x + out * sx, y, FLOOR), text)
        label((0.0, near_y + 2.7 * out * sy, FLOOR), self._axes_labels[0], heavy=True)
        label((near_x + 2.7 * out * sx, 0.0, FLOOR), self._axes_labels[1], heavy=True)
        # the value axis: on whichever side edge is seen further left, labels to its left (seen from
        # straight above, the axis is a point and its labels would pile up: the title gives the range)
        sides = np.array([[-0.5 * sx, 0.5 * sy, 0.0], [0.5 * sx, -0.5 * sy, 0.0]])
        zx, zy = sides[int(np.argmin(_project(mvp, width, height, sides)[0][:, 0]))][:2]
        painter.setFont(font)
        if abs(view.opts["elevation"]) > 75:
            z_ticks = []
        for z, text in z_ticks:
            px, front = _project(mvp, width, height, np.array([(zx * (1 + 2 * out), zy * (1 + 2 * out), z)]))
            if front[0]:
                painter.drawText(QPointF(px[0, 0] - metrics.horizontalAdvance(text) - 2 * scale,
                                         px[0, 1] + metrics.capHeight() / 2), text)
        display = self._display
        px, front = _project(mvp, width, height, np.array([(zx, zy, HEIGHT + 0.06)]))
        if front[0] and z_ticks:  # the value axis's name, over its top
            painter.setFont(bold)
            w = bold_metrics.horizontalAdvance(display.label)
            painter.drawText(QPointF(max(px[0, 0] - w / 2, 2 * scale), px[0, 1]), display.label)
        # the title: what the height is, and its range
        painter.setFont(font)
        painter.setPen(fg)
        lo, hi = self.box.z0, self.box.z1
        lo, hi = (10.0 ** lo, 10.0 ** hi) if display.log else (lo, hi)
        margin = 8 * scale
        painter.drawText(QPointF(margin, margin + metrics.ascent()),
                         f"height and colour: {display.label}, {lo:.3g} to {hi:.3g}")
        self._paint_legend(painter, width, margin, scale, font)
        if screen and self.hint:
            faint = QColor(fg)
            faint.setAlpha(150)
            painter.setPen(faint)
            painter.drawText(QPointF(margin, height - margin - metrics.descent()),
                             "drag: turn · Ctrl+drag: pan · wheel: zoom · double-click: reset")

    def _paint_legend(self, painter: QPainter, width: int, margin: float, scale: float, font: QFont) -> None:
        """The runs' colours and names, and the start, at the top right on the background's colour."""
        metrics = QFontMetricsF(font)
        painter.setFont(font)
        entries = self._legend_entries() + (((None, "start", False),) if self._start is not None else ())
        if not entries:
            return
        swatch, pad = 18 * scale, 5 * scale
        row = metrics.height() * 1.15
        text_width = max(metrics.horizontalAdvance(text) for _, text, _ in entries)
        box = QRectF(width - margin - text_width - swatch - 3 * pad, margin,
                     text_width + swatch + 3 * pad, row * len(entries) + 1.2 * pad)
        back, edge = QColor(self._background), QColor(self._foreground)
        back.setAlpha(215)
        edge.setAlpha(90)
        painter.setPen(QPen(edge, 1.0 * scale))
        painter.setBrush(back)
        painter.drawRect(box)
        warning = QColor("#b00000") if QColor(self._background).lightnessF() >= 0.5 else QColor("#ff7b7b")
        for k, (color, text, diverged) in enumerate(entries):
            y = box.top() + 0.6 * pad + row * (k + 0.5)
            x = box.left() + pad
            if color is None:  # the start: a white dot with a dark rim, as drawn
                painter.setPen(QPen(QColor("#000000"), 1.2 * scale))
                painter.setBrush(QColor("#ffffff"))
                painter.drawEllipse(QPointF(x + swatch / 2, y), 4.5 * scale, 4.5 * scale)
            else:  # a run: its line over its dark edge, as drawn
                painter.setPen(QPen(QColor(0, 0, 0, 130), EDGE_WIDTH * scale, cap=Qt.PenCapStyle.RoundCap))
                painter.drawLine(QPointF(x, y), QPointF(x + swatch, y))
                painter.setPen(QPen(QColor(color), RUN_WIDTH * scale, cap=Qt.PenCapStyle.RoundCap))
                painter.drawLine(QPointF(x, y), QPointF(x + swatch, y))
            painter.setPen(warning if diverged else QColor(self._foreground))
            painter.drawText(QPointF(x + swatch + pad, y + metrics.capHeight() / 2), text)

    # --- export -------------------------------------------------------------------------------------
    @contextmanager
    def _for_export(self, scale: float):
        """Line widths and marker sizes scaled like the rest of an export; everything drawn even while hidden."""
        self._exporting, self._export_scale = True, scale
        self._stale.add("frame")
        try:
            self._redraw()
            yield
        finally:
            self._exporting, self._export_scale = False, 1.0
            self._stale.add("frame")
            self._redraw()

    def render_image(self, size: tuple[int, int] | None = None) -> QImage:
        """The view as an RGB image of ``size = (width, height)`` pixels (default: its size on screen).

        A size other than the on-screen one is the same picture on a denser screen: line
        widths, markers and text grow with the width, as in the figure's exports. Drawn off
        screen (multisampled), so a hidden view exports too. Raises :class:`OpenGLMissing`
        where OpenGL cannot draw.
        """
        scene = self._ensure_scene()
        view = scene.view
        from OpenGL import GL
        from PyQt6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat

        width, height = (int(v) for v in (size or (self.width(), self.height())))
        if not (1 <= width <= 20000 and 1 <= height <= 20000):
            raise ValueError(f"an image is 1 to 20000 pixels a side, got {width}×{height}")
        scale = width / max(self.width(), 1)
        if not view.isValid():
            view.grabFramebuffer()  # makes the context (a view never shown has none yet)
        with self._for_export(scale):
            view.makeCurrent()
            try:
                fmt = QOpenGLFramebufferObjectFormat()
                fmt.setAttachment(QOpenGLFramebufferObject.Attachment.CombinedDepthStencil)
                fmt.setSamples(SAMPLES)
                fbo = QOpenGLFramebufferObject(width, height, fmt)
                fbo.bind()
                GL.glViewport(0, 0, width, height)
                self._before_paint(view, width, height)
                view.paint(region=(0, 0, width, height), viewport=(0, 0, width, height))
                fbo.release()
                image = fbo.toImage().convertToFormat(QImage.Format.Format_RGB32)
            finally:
                view.doneCurrent()
            painter = QPainter(image)
            try:
                self._paint_overlay(painter, view, width, height, scale, screen=False)
            finally:
                painter.end()
        return image

    def grab_png(self, path: str | Path, size: tuple[int, int] | None = None, overwrite: bool = True) -> Path:
        """Write :meth:`render_image` as a PNG file (atomically); raises :class:`OpenGLMissing` without OpenGL."""
        from ..io.files import atomic_write_bytes
        from .export import png_bytes

        return atomic_write_bytes(path, png_bytes(self.render_image(size)), overwrite)

    def paint_into(self, painter: QPainter, target: QRectF) -> None:
        """Draw the view into ``target`` of a painter's device (the figure's exports); never raises.

        Rendered at the device's resolution (an export's image carries its scale as a device
        pixel ratio; SVG and PDF get twice their CSS pixels). Where OpenGL is missing the
        message is drawn instead.
        """
        device = painter.device()
        ratio = device.devicePixelRatioF() if isinstance(device, QImage) else 2.0
        size = (max(int(round(target.width() * ratio)), 1), max(int(round(target.height() * ratio)), 1))
        try:
            image = self.render_image(size) if not self.message else None
        except (OpenGLMissing, ValueError):
            image = None
        if image is None:
            painter.save()
            painter.fillRect(target, QColor(self._background))
            painter.setPen(QColor(self._foreground))
            painter.drawText(target, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            painter.restore()
            return
        painter.drawImage(target, image)


# --- OpenGL plumbing -----------------------------------------------------------------------------------

def _vector(x: float, y: float, z: float):
    from pyqtgraph import Vector
    return Vector(x, y, z)


def _mvp(view, width: int, height: int) -> QMatrix4x4:
    """The view's projection × camera for a picture of ``width × height`` pixels."""
    region = (0, 0, width, height)
    return view.projectionMatrix(region, region) * view.viewMatrix()


def _project(mvp: QMatrix4x4, width: int, height: int, points: Array) -> tuple[Array, Array]:
    """Scene points ``(N, 3)`` → pixel positions ``(N, 2)`` (y down) and whether each is in front of the camera."""
    m = np.array(mvp.data(), dtype=float).reshape(4, 4).T  # QMatrix4x4.data() is column-major
    clip = np.column_stack([points, np.ones(len(points))]) @ m.T
    front = clip[:, 3] > 1e-9
    ndc = clip[:, :3] / np.where(front, clip[:, 3], 1.0)[:, None]
    return np.column_stack([(ndc[:, 0] + 1) / 2 * width, (1 - ndc[:, 1]) / 2 * height]), front


_GL_VIEW_CLASS = None


def _gl_view_class():
    """pyqtgraph's GLViewWidget with the text over it and a double-click that resets the camera.

    Made on first use: importing pyqtgraph.opengl needs PyOpenGL, which importing this module must not.
    """
    global _GL_VIEW_CLASS
    if _GL_VIEW_CLASS is not None:
        return _GL_VIEW_CLASS
    import pyqtgraph.opengl as gl

    class GLView(gl.GLViewWidget):
        """The OpenGL picture; the text is a transparent widget over it, painted only when it changes.

        (Painted into the OpenGL frame, text cost a full-window texture or a few ms of
        QPainter work at every frame of an animation; a widget on top is composed for free.)
        """

        def __init__(self, owner: SurfaceView3D):
            super().__init__(owner)
            self._owner = owner
            self.overlay = Overlay(self)

        def paintGL(self):  # noqa: N802
            owner = self._owner
            owner._before_paint(self, self.width(), self.height())
            super().paintGL()
            key = owner._overlay_key(self)
            if key != owner._overlay_drawn:  # the camera turned, the legend changed...
                owner._overlay_drawn = key
                self.overlay.update()

        def resizeEvent(self, event):  # noqa: N802
            super().resizeEvent(event)
            self.overlay.resize(self.size())

        def mouseDoubleClickEvent(self, event):  # noqa: N802
            self._owner.reset_camera()

    class Overlay(QWidget):
        def __init__(self, view):
            super().__init__(view)
            self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)  # the view turns and zooms
            self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)

        def paintEvent(self, event):  # noqa: N802
            view = self.parentWidget()
            painter = QPainter(self)
            try:
                view._owner._paint_overlay(painter, view, view.width(), view.height(), 1.0, screen=True)
            finally:
                painter.end()

    _GL_VIEW_CLASS = GLView
    return GLView
