"""Export dialogs: what to export, in which format and size."""
from __future__ import annotations

from PyQt6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel,
                             QSpinBox)

from .export import figure_parts
from .widgets import MutedLabel

FIGURE_FORMAT_LABELS = {"png": "PNG image", "svg": "SVG (vector)", "pdf": "PDF (vector)"}
ANIMATION_FORMAT_LABELS = {"gif": "GIF", "mp4": "MP4 (H.264)"}


def _parts(figure) -> list[tuple[str, str]]:
    parts = [("figure", "Whole figure"), ("landscapes", "Landscapes"), ("curves", "Loss curves")]
    if figure.right.isVisible():
        parts.append(("data", "Data view"))
    for k, panel in enumerate(figure.grid.panels, start=1):
        title = panel.heading or f"{k}"  # the whole title, not the one cut to fit the panel
        parts.append((f"panel:{k}", f"Panel {k}: {title}"))
    return parts


class _ExportDialog(QDialog):
    def __init__(self, figure, title: str, formats: dict[str, str]):
        super().__init__(figure.window())
        self.figure = figure
        self.setWindowTitle(title)
        self.setObjectName("export_dialog")
        self.form = QFormLayout(self)
        self.part = QComboBox()
        for key, label in _parts(figure):
            self.part.addItem(label, key)
        self.part.currentIndexChanged.connect(self._natural_size)
        self.format = QComboBox()
        for key, label in formats.items():
            self.format.addItem(label, key)
        self.width = QSpinBox()
        self.height = QSpinBox()
        for box in (self.width, self.height):
            box.setRange(16, 20000)
            box.setSuffix(" px")
        self.keep_aspect = QCheckBox("keep the on-screen proportions")
        self.keep_aspect.setChecked(True)
        self.width.valueChanged.connect(self._width_changed)
        self.form.addRow("Export", self.part)
        self.form.addRow("Format", self.format)
        self.form.addRow("Width", self.width)
        self.form.addRow("Height", self.height)
        self.form.addRow("", self.keep_aspect)
        self._aspect = 1.0
        self._natural_size()

    def _finish(self) -> None:
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Choose file…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.form.addRow(buttons)

    def _natural_size(self) -> None:
        size, _ = figure_parts(self.figure, self.part.currentData())
        self._aspect = size.height() / max(size.width(), 1)
        self.width.blockSignals(True)
        self.width.setValue(size.width())
        self.width.blockSignals(False)
        self.height.setValue(size.height())

    def _width_changed(self, width: int) -> None:
        if self.keep_aspect.isChecked():
            self.height.setValue(max(16, round(width * self._aspect)))

    def choice(self) -> dict:
        return {"part": self.part.currentData(), "fmt": self.format.currentData(),
                "size": (self.width.value(), self.height.value())}


class ExportFigureDialog(_ExportDialog):
    """The figure, one panel, the curves or the data view as PNG, SVG or PDF, at a chosen size."""

    def __init__(self, figure):
        super().__init__(figure, "Export figure", FIGURE_FORMAT_LABELS)
        hint = MutedLabel("Sizes are pixels (SVG and PDF: CSS pixels, 96 to the inch). A PNG or SVG of another size "
                     "than the screen's is the figure scaled whole: text, markers and lines grow with it.")
        hint.setWordWrap(True)
        self.form.addRow(hint)
        self._finish()


class ExportAnimationDialog(_ExportDialog):
    """The animation as GIF or MP4: frame rate, which frames, size."""

    def __init__(self, figure):
        super().__init__(figure, "Export animation", ANIMATION_FORMAT_LABELS)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(1, 120)
        self.fps.setValue(20)
        self.fps.setSuffix(" frames/s")
        self.stride = QSpinBox()
        self.stride.setRange(1, 1000)
        n = figure.n_frames
        self.stride.setValue(max(1, n // 200))
        self.stride.setPrefix("every ")
        self.stride.setSuffix(" step(s)")
        self.frames_label = QLabel()
        self.stride.valueChanged.connect(self._count)
        self.form.addRow("Rate", self.fps)
        self.form.addRow("Frames", self.stride)
        self.form.addRow("", self.frames_label)
        self.width.setValue(min(self.width.value(), 1200))
        self._count()
        self._finish()

    def _count(self) -> None:
        n = self.figure.n_frames
        frames = len(range(0, n, self.stride.value())) + (1 if (n - 1) % self.stride.value() else 0)
        self.frames_label.setText(f"{frames} frames of {n}")

    def choice(self) -> dict:
        return super().choice() | {"fps": self.fps.value(), "stride": self.stride.value()}
