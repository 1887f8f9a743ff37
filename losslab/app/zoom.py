"""Drawing a pyqtgraph view larger, for a projector (presentation mode).

A view with ``zoom = 1.5`` lays its scene out for a viewport 1.5 times smaller and scales it
up to fill the real one: every font, line, marker and margin grows alike, as on a screen of
1.5 device pixels a point, and the layout logic (fixed axis widths, panel cells) stays the
one tested at 1×. Mouse positions map through the same transform, so clicking and dragging
work unchanged.
"""
from __future__ import annotations

import pyqtgraph as pg
from PyQt6.QtCore import QRectF, QSize
from PyQt6.QtGui import QResizeEvent, QTransform


class Zoomable:
    """Mix into a ``pg.GraphicsView`` subclass (first among its bases) to give it ``set_zoom``."""

    zoom = 1.0

    def set_zoom(self, zoom: float) -> None:
        if zoom == self.zoom:
            return
        self.zoom = zoom
        self.resizeEvent(QResizeEvent(self.size(), self.size()))  # the subclass lays itself out again

    def layout_size(self) -> QSize:
        """The size the scene is laid out for: the viewport's, divided by the zoom."""
        size = self.viewport().size()
        return QSize(round(size.width() / self.zoom), round(size.height() / self.zoom))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "closed", False):
            return
        if self.zoom == 1.0:
            if not self.autoPixelRange:  # back to pyqtgraph's own behaviour: one scene unit a pixel
                self.autoPixelRange = True
                pg.GraphicsView.setRange(self, QRectF(0, 0, self.width(), self.height()), padding=0,
                                         disableAutoPixel=False)
        else:
            pg.GraphicsView.setRange(self, QRectF(0, 0, self.width() / self.zoom, self.height() / self.zoom),
                                     padding=0, disableAutoPixel=True)

    def updateMatrix(self, propagate: bool = True) -> None:
        """pyqtgraph's, with the exact scale instead of ``fitInView`` (which leaves a margin of 2 px)."""
        if self.zoom == 1.0 or self.autoPixelRange:
            super().updateMatrix(propagate)
            return
        self.setSceneRect(self.range)
        self.setTransform(QTransform.fromScale(self.zoom, self.zoom))
        if propagate:
            for view in self.lockedViewports:
                view.setXRange(self.range, padding=0)
        self.sigDeviceRangeChanged.emit(self, self.range)
        self.sigDeviceTransformChanged.emit(self)
