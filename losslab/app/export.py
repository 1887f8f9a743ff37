"""Figure and animation exports, drawn by the :class:`~losslab.app.figure.Figure`.

Figures are painted by the same views the window shows, with Qt's own painter, into a PNG
image, an SVG file or a PDF page (vector for SVG and PDF: lines as strokes, points as
circles, images only where the screen shows images). Any size is the on-screen layout
scaled whole, text, markers and line widths with it. Animations step the figure through
the trajectories and encode each frame: GIF with Pillow (one fixed palette, frame
differencing), MP4 with PyAV (the optional ``video`` extra). Every file is written
atomically: a cancelled or failed export leaves nothing behind.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pyqtgraph as pg
from PyQt6 import sip
from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QPoint, QRect, QRectF, QSize, QSizeF, Qt
from PyQt6.QtGui import QColor, QImage, QPageSize, QPainter, QPdfWriter
from PyQt6.QtSvg import QSvgGenerator
from PyQt6.QtWidgets import QApplication, QGraphicsItem, QGraphicsView, QWidget

from ..io.files import atomic_write, atomic_write_bytes
from .surface3d import SurfaceView3D
from .views import lines_cut_at_views

FIGURE_FORMATS = ("png", "svg", "pdf")
ANIMATION_FORMATS = ("gif", "mp4")
MAX_ANIMATION_FRAMES = 2000


class ExportCancelled(Exception):
    """The user cancelled an export; nothing was written."""


def format_of(path: str | os.PathLike, fmt: str | None, allowed: tuple[str, ...]) -> str:
    fmt = (fmt or Path(path).suffix.lstrip(".")).lower()
    if fmt not in allowed:
        raise ValueError(f"unknown format {fmt!r} for {Path(path).name}; choose one of {', '.join(allowed)}")
    return fmt


# --- what a figure is made of ------------------------------------------------------------------

Placed = list[tuple[QWidget, QRect, QRectF | None]]


def figure_parts(figure, part: str = "figure") -> tuple[QSize, Placed]:
    """The views to paint and where, in on-screen pixels: ``(size, [(view, rect, scene_rect), ...])``.

    ``scene_rect`` is set when only a piece of a view's scene is wanted (one panel).

    ``part``: ``"figure"`` (landscapes, curves and the data view as laid out), ``"landscapes"``,
    ``"curves"``, ``"data"`` or ``"panel:K"`` (one landscape panel, K from 1).
    """
    figure.flush()  # what a snapshot left for the views' turns to repaint is drawn first
    if part == "figure":
        root = figure.splitter
        views = [figure.landscape_view, figure.curves, figure.right.currentWidget()]
        placed = [(v, QRect(v.mapTo(root, QPoint(0, 0)), v.size()), None) for v in views if v.isVisibleTo(root)]
        return root.size(), placed
    single = {"landscapes": figure.landscape_view, "curves": figure.curves, "data": figure.right.currentWidget()}
    if part in single:
        view = single[part]
        return view.size(), [(view, QRect(QPoint(0, 0), view.size()), None)]
    if part.startswith("panel:"):
        if figure.landscape_view is not figure.grid:
            raise ValueError("the landscape is drawn as a 3-D surface, which has no panels: export \"landscapes\"")
        try:
            k = int(part.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"a panel is named panel:K with K a number, got {part!r}") from None
        if not 1 <= k <= len(figure.grid.panels):
            raise ValueError(f"there is no panel {k}: the figure has {len(figure.grid.panels)}")
        scene_rect = figure.grid.panels[k - 1].sceneBoundingRect()
        size = scene_rect.toAlignedRect().size()
        return size, [(figure.grid, QRect(QPoint(0, 0), size), scene_rect)]
    raise ValueError(f"unknown part {part!r}: figure, landscapes, curves, data or panel:K")


def paint_parts(painter: QPainter, target: QRectF, size: QSize, placed: Placed, background: QColor) -> None:
    """Paint the views into ``target`` scaled from their on-screen layout of ``size``."""
    sx, sy = target.width() / max(size.width(), 1), target.height() / max(size.height(), 1)
    painter.fillRect(target, background)
    for view, rect, scene_rect in placed:
        dest = QRectF(target.x() + rect.x() * sx, target.y() + rect.y() * sy, rect.width() * sx, rect.height() * sy)
        if isinstance(view, SurfaceView3D):  # rendered by OpenGL at the device's resolution
            view.paint_into(painter, dest)
        elif scene_rect is not None:
            view.scene().render(painter, dest, scene_rect, Qt.AspectRatioMode.IgnoreAspectRatio)  # one panel
        elif isinstance(view, QGraphicsView):
            view.render(painter, dest, view.viewport().rect())
        else:
            painter.save()
            painter.translate(dest.topLeft())
            painter.scale(sx, sy)
            view.render(painter)
            painter.restore()


@contextmanager
def drawn_for_export(placed: Placed):
    """Every item of the views drawn afresh, as shapes, while exporting; put back afterwards.

    Item caches (DeviceCoordinateCache) are bitmaps at screen resolution: pasted into an SVG
    or a PDF they are images, and in a scaled-up PNG they are blurred. pyqtgraph's scatter
    plots stamp their points from a pixmap atlas of screen size: as ``useCache=False`` they
    draw each point as a path (a circle in SVG and PDF, sharp at any scale). Paths and curves
    are cut at their view's edge (``views.lines_cut_at_views``).
    """
    items = [item for view, _, _ in placed if isinstance(view, QGraphicsView) for item in view.scene().items()]
    cache_modes = [(item, item.cacheMode()) for item in items if item.cacheMode() != QGraphicsItem.CacheMode.NoCache]
    scatters = [item for item in items if isinstance(item, pg.ScatterPlotItem) and item.opts.get("useCache", True)]
    lines = [view for view, _, _ in placed if hasattr(view, "redraw_lines")]
    try:
        for item, _ in cache_modes:
            item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        for item in scatters:
            item.opts["useCache"] = False
        with lines_cut_at_views():  # Qt's SVG has no clipping: a line must not run past its panel
            for view in lines:
                view.redraw_lines()
            yield
    finally:  # each step on its own: an item the figure dropped meanwhile is skipped, not fatal
        for item, mode in cache_modes:
            if not sip.isdeleted(item):
                item.setCacheMode(mode)
        for item in scatters:
            item.opts["useCache"] = True
        for view in lines:
            if not sip.isdeleted(view):
                view.redraw_lines()


def render_image(figure, size: tuple[int, int] | None = None, part: str = "figure") -> QImage:
    """The figure as an RGB image of ``size = (width, height)`` (default: as on screen).

    A size other than the on-screen one is drawn as a screen of another pixel density
    would show the same layout: text, markers and line widths grow with the width, so a
    3000 px image is a sharp version of the 1500 px one, not a 1500 px layout with tiny text.
    """
    source, placed = figure_parts(figure, part)
    width, height = size or (source.width(), source.height())
    scale = width / max(source.width(), 1)
    image = QImage(int(width), int(height), QImage.Format.Format_RGB32)
    # the device pixel ratio scales below every transform: cosmetic pens and markers that ignore
    # the view's transformations grow too (a painter.scale() would leave them at screen size)
    image.setDevicePixelRatio(scale)
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
    try:
        with drawn_for_export(placed) if scale != 1 else nullcontext():  # a no-op inside another one
            paint_parts(painter, QRectF(0, 0, width / scale, height / scale), source, placed, figure.background)
    finally:
        painter.end()  # a painter left active would hold the device
    image.setDevicePixelRatio(1.0)
    return image


def png_bytes(image: QImage) -> bytes:
    """The image encoded as PNG, in memory (the file is then written by Python, whose errors name the cause)."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise ValueError(f"the {image.width()}×{image.height()} image could not be encoded as PNG")
    buffer.close()
    return bytes(data)


# SVG and PDF are laid out in CSS pixels, 96 to the inch, the screen's logical resolution: the
# axes replay their drawing from a QPicture recorded at the screen's resolution, which Qt
# rescales on a device of any other resolution (ticks would slide off their positions).
VECTOR_DPI = 96


PREVIEW_SHOWN = "the full landscape is still being computed (a coarse preview is on screen); try again in a moment"


def refuse_preview(computed) -> None:
    """An export is of the experiment as asked: never of the coarse preview shown while its full grid computes."""
    if computed is not None and computed.is_preview:
        raise ValueError(PREVIEW_SHOWN)


def export_figure(figure, path: str | os.PathLike, fmt: str | None = None, size: tuple[int, int] | None = None,
                  part: str = "figure", overwrite: bool = True) -> Path:
    """Write the figure (or one part of it) as PNG, SVG or PDF; ``size`` in pixels (SVG, PDF: CSS px, 1/96 in).

    PNG and SVG at a size other than the on-screen one scale the whole layout; a PDF scales
    its text and geometry, but hairlines and markers keep their on-screen widths.
    """
    fmt = format_of(path, fmt, FIGURE_FORMATS)
    refuse_preview(figure.snapshot.computed if figure.snapshot is not None else None)
    source, placed = figure_parts(figure, part)
    width, height = size or (source.width(), source.height())
    if width < 16 or height < 16 or width > 20000 or height > 20000:
        raise ValueError(f"size must be between 16 and 20000 pixels a side, got {width}×{height}")

    if fmt == "png":  # encoded in memory, written by Python: a full disk says so
        return atomic_write_bytes(path, png_bytes(render_image(figure, (width, height), part)), overwrite)

    if fmt == "svg":
        # drawn at the on-screen layout's size; the SVG's own width and height scale it, text,
        # markers and line widths with it (as a PNG of that size is scaled)
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        device = QSvgGenerator()
        device.setOutputDevice(buffer)
        device.setResolution(VECTOR_DPI)
        device.setSize(source)
        device.setViewBox(QRect(QPoint(0, 0), source))
        device.setTitle("losslab figure")
        _paint_vector(device, figure, source, placed, QRectF(0, 0, source.width(), source.height()))
        buffer.close()
        svg = portable_svg(bytes(data).decode("utf-8"), (width, height))
        return atomic_write_bytes(path, svg.encode("utf-8"), overwrite)

    def write(tmp: str) -> None:
        device = QPdfWriter(tmp)
        device.setResolution(VECTOR_DPI)
        device.setPageSize(QPageSize(QSizeF(width * 72 / VECTOR_DPI, height * 72 / VECTOR_DPI), QPageSize.Unit.Point))
        device.setPageMargins(QMarginsF(0, 0, 0, 0))
        device.setTitle("losslab figure")
        _paint_vector(device, figure, source, placed, QRectF(0, 0, width, height))

    return atomic_write(path, write, overwrite)


def _paint_vector(device, figure, source: QSize, placed: Placed, target: QRectF) -> None:
    painter = QPainter(device)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    try:
        with drawn_for_export(placed):
            paint_parts(painter, target, source, placed, figure.background)
    finally:
        painter.end()


_MATRIX = re.compile(r"matrix\(([^)]*)\)")
_PAIR = re.compile(r"(-?[0-9.]+(?:e[-+]?[0-9]+)?),(-?[0-9.]+(?:e[-+]?[0-9]+)?)")


def portable_svg(svg: str, size: tuple[int, int]) -> str:
    """Qt's SVG made to read the same in every renderer, at ``size`` = (width, height) pixels.

    Qt writes a cosmetic (fixed-width) stroke in plot coordinates under the plot's transform
    and marks it ``vector-effect="non-scaling-stroke"``; renderers that ignore that (librsvg,
    Inkscape) scale the stroke with the plot, 25× say, and a path becomes a blob. Here those
    strokes are moved to the page's coordinates, where no scaling is left to undo.
    """
    ElementTree.register_namespace("", SVG_NS)
    ElementTree.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    root = ElementTree.fromstring(svg)
    root.set("width", f"{size[0]}px")
    root.set("height", f"{size[1]}px")
    for group in root.iter(f"{{{SVG_NS}}}g"):
        match = _MATRIX.fullmatch(group.get("transform", "").strip())
        children = list(group)
        if not match or not children or not all(child.get("vector-effect") == "non-scaling-stroke"
                                                for child in children):
            continue
        a, b, c, d, e, f = (float(v) for v in match.group(1).split(","))
        if not all(_bake(child, (a, b, c, d, e, f)) for child in children):
            continue  # left as Qt wrote it (_bake changed nothing it could not finish)
        del group.attrib["transform"]
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)


SVG_NS = "http://www.w3.org/2000/svg"


def _bake(element, m: tuple[float, ...]) -> bool:
    """Apply the affine ``m`` = (a, b, c, d, e, f) to a path, polyline or circle's coordinates."""
    a, b, c, d, e, f = m

    def point(match) -> str:
        x, y = float(match.group(1)), float(match.group(2))
        return f"{a * x + c * y + e:.6g},{b * x + d * y + f:.6g}"

    tag = element.tag.split("}")[-1]
    if tag == "path":
        element.set("d", _PAIR.sub(point, element.get("d", "")))
    elif tag in ("polyline", "polygon"):
        element.set("points", _PAIR.sub(point, element.get("points", "")))
    elif tag == "circle" and b == 0 and c == 0:  # markers: a translation, at most a scale
        cx, cy, r = (float(element.get(k, "0")) for k in ("cx", "cy", "r"))
        element.tag = f"{{{SVG_NS}}}ellipse"
        for key in ("cx", "cy", "r"):
            element.attrib.pop(key, None)
        element.set("cx", f"{a * cx + e:.6g}")
        element.set("cy", f"{d * cy + f:.6g}")
        element.set("rx", f"{abs(a) * r:.6g}")
        element.set("ry", f"{abs(d) * r:.6g}")
    else:
        return False
    return True


# --- animations -------------------------------------------------------------------------------------

def animation_frames(n_frames: int, stride: int) -> list[int]:
    """Every ``stride``-th frame, always ending on the last one."""
    frames = list(range(0, n_frames, max(1, int(stride))))
    if frames[-1] != n_frames - 1:
        frames.append(n_frames - 1)
    return frames


def _rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), dtype=np.uint8)
    return data.reshape(height, image.bytesPerLine())[:, : width * 3].reshape(height, width, 3).copy()


def export_animation(figure, path: str | os.PathLike, fmt: str | None = None, fps: float = 20.0, stride: int = 1,
                     size: tuple[int, int] | None = None, part: str = "figure", overwrite: bool = True,
                     progress: Callable[[int, int], bool] | None = None) -> Path:
    """Play the trajectories into a GIF or MP4 file.

    ``stride`` keeps every stride-th frame; ``progress(done, total)`` is called after each
    frame and may return False to cancel (``ExportCancelled``, nothing written). The
    figure goes back to its frame afterwards.
    """
    fmt = format_of(path, fmt, ANIMATION_FORMATS)
    refuse_preview(figure.snapshot.computed if figure.snapshot is not None else None)
    if not (isinstance(fps, (int, float)) and 1 <= fps <= 120):
        raise ValueError(f"fps must be between 1 and 120, got {fps!r}")
    frames = animation_frames(figure.n_frames, stride)
    if len(frames) > MAX_ANIMATION_FRAMES:
        raise ValueError(f"{len(frames)} frames is too many (at most {MAX_ANIMATION_FRAMES}): raise the stride")
    source, placed = figure_parts(figure, part)
    width, height = size or (source.width(), source.height())
    if fmt == "mp4":  # H.264 in yuv420p needs even sides
        width, height = width - width % 2, height - height % 2
    was = figure.frame

    def image(k: int) -> np.ndarray:
        figure.set_frame(k)
        QApplication.processEvents()
        return _rgb(render_image(figure, (width, height), part))

    def images():
        for done, k in enumerate(frames, start=1):
            yield image(k)
            if progress is not None and progress(done, len(frames)) is False:
                raise ExportCancelled("export cancelled: nothing was written")

    scaled = width != source.width()  # items drawn afresh (see drawn_for_export): set up once, not per frame
    updates = figure.updatesEnabled()
    figure.setUpdatesEnabled(False)  # each frame is painted into the file, not onto the screen as well
    try:
        with drawn_for_export(placed) if scaled else nullcontext():
            if fmt == "gif":
                # one palette for every frame, from the first and last frames and the colours that must
                # be exact: the paths' colours, the classes', the theme's
                palette = gif_palette([image(frames[0]), image(frames[-1])], exact_colors(figure))
                return atomic_write(path, lambda tmp: _write_gif(tmp, images(), fps, palette), overwrite)
            return atomic_write(path, lambda tmp: _write_mp4(tmp, images(), fps), overwrite)
    finally:
        figure.set_frame(was)
        figure.setUpdatesEnabled(updates)


def exact_colors(figure) -> list[tuple[int, int, int]]:
    """The colours an animation must keep exactly: every run's, the classes', background and text."""
    from .figure import BACKGROUNDS, FOREGROUNDS
    from .views import CLASS_COLORS, run_color

    names = [run_color(r.index, r.spec) for r in figure.results] + CLASS_COLORS
    names += [BACKGROUNDS[t] for t in BACKGROUNDS] + [FOREGROUNDS[t] for t in FOREGROUNDS] + ["#000000", "#ffffff"]
    colors = []
    for name in names:
        rgb = QColor(name).getRgb()[:3]
        if rgb not in colors:
            colors.append(rgb)
    return colors


GIF_COLORS = 255  # a GIF palette holds 256; one is left free for the transparency of unchanged pixels


def gif_palette(samples: list[np.ndarray], exact: list[tuple[int, int, int]]) -> list[int]:
    """A fixed palette (flat RGB list) for every frame: ``exact`` colours, then the samples' commonest.

    ``samples``: frames (H, W, 3) whose colours the palette should cover (the colour map, the
    iso-lines, antialiased edges). A palette of its own for each frame would shift the colours
    from frame to frame and defeat frame differencing.
    """
    from PIL import Image

    exact = exact[:GIF_COLORS]
    stacked = Image.fromarray(np.concatenate(samples, axis=0))
    fitted = stacked.quantize(colors=GIF_COLORS - len(exact), method=Image.Quantize.MEDIANCUT,
                              dither=Image.Dither.NONE)
    rgb = np.array(fitted.getpalette()[: 3 * (GIF_COLORS - len(exact))], dtype=int).reshape(-1, 3)
    colors = list(exact) + [tuple(c) for c in rgb if tuple(c) not in exact]
    return [v for c in colors[:GIF_COLORS] for v in c]


def _write_gif(tmp: str, frames, fps: float, palette: list[int]) -> None:
    from PIL import Image  # Pillow: GIF palettes and LZW, better than code of our own

    target = Image.new("P", (1, 1))
    target.putpalette(palette)

    def paletted():
        for rgb in frames:  # each pixel to its nearest palette colour; an exact colour to itself
            yield Image.fromarray(rgb).quantize(palette=target, dither=Image.Dither.NONE)

    sequence = paletted()
    first = next(sequence)
    # optimize: each frame after the first keeps only the pixels that changed (the rest transparent)
    first.save(tmp, format="GIF", save_all=True, append_images=sequence, duration=round(1000 / fps), loop=0,
               optimize=True)


def _write_mp4(tmp: str, frames, fps: float) -> None:
    try:
        import av  # PyAV: FFmpeg's encoders, an optional extra (pip install "losslab[video]")
    except ImportError:
        raise ValueError("MP4 export needs PyAV: pip install \"losslab[video]\" (or choose GIF)") from None
    from fractions import Fraction
    with av.open(tmp, mode="w", format="mp4") as container:
        stream = None
        for rgb in frames:
            if stream is None:
                codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
                stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
                stream.width, stream.height = rgb.shape[1], rgb.shape[0]
                stream.pix_fmt = "yuv420p"
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
