"""Figure and animation exports, drawn by the :class:`~losslab.app.figure.Figure`.

Figures are painted by the same views the window shows, into a PNG image, an SVG file or
a PDF page (vector for SVG and PDF). Animations step the figure through the trajectories
and encode each frame: GIF with Pillow, MP4 with PyAV (the optional ``video`` extra).
Every file is written atomically: a cancelled or failed export leaves nothing behind.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QPoint, QRect, QRectF, QSize, QSizeF, Qt
from PyQt6.QtGui import QColor, QImage, QPageSize, QPainter, QPdfWriter
from PyQt6.QtSvg import QSvgGenerator
from PyQt6.QtWidgets import QApplication, QGraphicsView, QWidget

from ..io.files import atomic_write, atomic_write_bytes

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
    if part == "figure":
        root = figure.splitter
        views = [figure.grid, figure.curves, figure.right.currentWidget()]
        placed = [(v, QRect(v.mapTo(root, QPoint(0, 0)), v.size()), None) for v in views if v.isVisibleTo(root)]
        return root.size(), placed
    single = {"landscapes": figure.grid, "curves": figure.curves, "data": figure.right.currentWidget()}
    if part in single:
        view = single[part]
        return view.size(), [(view, QRect(QPoint(0, 0), view.size()), None)]
    if part.startswith("panel:"):
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
        if scene_rect is not None:
            view.scene().render(painter, dest, scene_rect, Qt.AspectRatioMode.IgnoreAspectRatio)  # one panel
        elif isinstance(view, QGraphicsView):
            view.render(painter, dest, view.viewport().rect())  # vector on SVG and PDF devices
        else:
            painter.save()
            painter.translate(dest.topLeft())
            painter.scale(sx, sy)
            view.render(painter)
            painter.restore()


def render_image(figure, size: tuple[int, int] | None = None, part: str = "figure") -> QImage:
    """The figure as an RGB image of ``size = (width, height)`` (default: as on screen)."""
    source, placed = figure_parts(figure, part)
    width, height = size or (source.width(), source.height())
    image = QImage(int(width), int(height), QImage.Format.Format_RGB32)
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
    paint_parts(painter, QRectF(0, 0, width, height), source, placed, figure.background)
    painter.end()
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


def export_figure(figure, path: str | os.PathLike, fmt: str | None = None, size: tuple[int, int] | None = None,
                  part: str = "figure", overwrite: bool = True) -> Path:
    """Write the figure (or one part of it) as PNG, SVG or PDF; ``size`` in pixels (PNG) or points."""
    fmt = format_of(path, fmt, FIGURE_FORMATS)
    source, placed = figure_parts(figure, part)
    width, height = size or (source.width(), source.height())
    if width < 16 or height < 16 or width > 20000 or height > 20000:
        raise ValueError(f"size must be between 16 and 20000 pixels a side, got {width}×{height}")

    if fmt == "png":  # encoded in memory, written by Python: a full disk says so
        return atomic_write_bytes(path, png_bytes(render_image(figure, (width, height), part)), overwrite)

    def write(tmp: str) -> None:
        if fmt == "svg":
            device = QSvgGenerator()
            device.setFileName(tmp)
            device.setSize(QSize(width, height))
            device.setViewBox(QRect(0, 0, width, height))
            device.setTitle("losslab figure")
        else:
            device = QPdfWriter(tmp)
            device.setResolution(72)  # one point per on-screen pixel
            device.setPageSize(QPageSize(QSizeF(width, height), QPageSize.Unit.Point))
            device.setPageMargins(QMarginsF(0, 0, 0, 0))
        painter = QPainter(device)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        paint_parts(painter, QRectF(0, 0, width, height), source, placed, figure.background)
        painter.end()

    return atomic_write(path, write, overwrite)


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
    if not (isinstance(fps, (int, float)) and 1 <= fps <= 120):
        raise ValueError(f"fps must be between 1 and 120, got {fps!r}")
    frames = animation_frames(figure.n_frames, stride)
    if len(frames) > MAX_ANIMATION_FRAMES:
        raise ValueError(f"{len(frames)} frames is too many (at most {MAX_ANIMATION_FRAMES}): raise the stride")
    source, _ = figure_parts(figure, part)
    width, height = size or (source.width(), source.height())
    if fmt == "mp4":  # H.264 in yuv420p needs even sides
        width, height = width - width % 2, height - height % 2
    was = figure.frame

    def images():
        for done, k in enumerate(frames, start=1):
            figure.set_frame(k)
            QApplication.processEvents()
            yield _rgb(render_image(figure, (width, height), part))
            if progress is not None and progress(done, len(frames)) is False:
                raise ExportCancelled("export cancelled: nothing was written")

    try:
        writer = _write_gif if fmt == "gif" else _write_mp4
        return atomic_write(path, lambda tmp: writer(tmp, images(), fps), overwrite)
    finally:
        figure.set_frame(was)


def _write_gif(tmp: str, frames, fps: float) -> None:
    from PIL import Image  # Pillow: GIF palettes and LZW, better than code of our own

    def paletted():
        for rgb in frames:
            yield Image.fromarray(rgb).quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)

    sequence = paletted()
    first = next(sequence)
    first.save(tmp, format="GIF", save_all=True, append_images=sequence, duration=round(1000 / fps), loop=0,
               optimize=False)


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
