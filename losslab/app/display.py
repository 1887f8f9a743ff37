"""From a landscape to what the panels show: colours, colour range and iso-lines.

It runs as a background job: the GUI thread only hands the finished RGBA image and the
iso-lines, already a ``QPainterPath`` (a plain value type, safe to build on any thread), to
the panels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt6.QtGui import QPainterPath

from ..engine.contours import contour_segments
from ..engine.experiment import Landscape
from ..engine.landscape import iso_levels, log_scale, robust_range

Array = np.ndarray

PART_LABELS = {"total": "total loss", "data": "data loss", "reg": "λ R(W)"}


@dataclass(frozen=True, eq=False)
class SurfaceDisplay:
    """``rgba[j, i]`` colours grid point ``(a_values[i], b_values[j])``; ``values`` is the loss shown there.

    ``levels`` are in the colours' units: log₁₀ of the loss when ``log`` (the colour bar then
    reads powers of ten).
    """

    a_values: Array
    b_values: Array
    values: Array
    rgba: Array
    levels: tuple[float, float]
    isolines: Array | None
    label: str
    log: bool = False
    isoline_path: QPainterPath | None = None  # the iso-lines ready to stroke (None: made from ``isolines``)


def isoline_path(segments: Array | None) -> QPainterPath:
    """Segments ``(M, 2, 2)`` as one path of separate lines (1 ms for a 256² landscape's: made off the GUI thread)."""
    if segments is None or not len(segments):
        return QPainterPath()
    return pg.arrayToQPath(segments[:, :, 0].ravel(), segments[:, :, 1].ravel(), connect="pairs")


def colorize(shown: Array, levels: tuple[float, float], lut: Array) -> Array:
    """Map values onto a ``(256, 3|4)`` uint8 lookup table between ``levels``; NaN is transparent."""
    lo, hi = levels
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    with np.errstate(invalid="ignore"):
        index = np.clip((shown - lo) * scale, 0, 255)
    finite = np.isfinite(index)
    rgba = np.zeros(shown.shape + (4,), dtype=np.uint8)
    rgba[..., : lut.shape[1]] = lut[np.where(finite, index, 0).astype(np.intp)]
    rgba[..., 3] = np.where(finite, 255 if lut.shape[1] == 3 else rgba[..., 3], 0)
    return rgba


def surface_display(landscape: Landscape, part: str, log: bool, n_isolines: int, lut: Array) -> SurfaceDisplay | None:
    """The picture of one part of the landscape; None while no grid point is finite yet."""
    values = landscape.part(part)
    shown = log_scale(values) if log else values
    if not np.isfinite(shown).any():
        return None
    levels = robust_range(shown, 0.0, 99.0)
    isolines = None
    if n_isolines > 0:
        pieces = [contour_segments(shown, landscape.a_values, landscape.b_values, level)
                  for level in iso_levels(shown, n_isolines)]
        isolines = np.concatenate(pieces) if pieces else None
    label = PART_LABELS[part] + (" (log₁₀)" if log else "")
    return SurfaceDisplay(landscape.a_values, landscape.b_values, values, colorize(shown, levels, lut), levels,
                          isolines, label, log, isoline_path(isolines))
