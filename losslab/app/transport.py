"""The transport bar: play/pause, step, restart, the timeline, speed and loop."""
from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap, QPolygonF
from PyQt6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from .clock import AnimationClock
from .session import Session
from .widgets import PALETTE_EVENTS

# the media symbols on a 16 × 16 grid: bars (x, width) and triangles (x of the flat side, x of the tip)
MEDIA_SHAPES = {"restart": ([(3, 2)], [(13, 5)]), "back": ([], [(8, 1), (15, 8)]), "play": ([], [(4, 13)]),
                "pause": ([(4, 3), (9, 3)], []), "forward": ([], [(1, 8), (8, 15)])}


def media_icon(kind: str, color: QColor) -> QIcon:
    """A flat media symbol in ``color``: the style's own icons are drawn dark, unreadable on a dark theme."""
    bars, triangles = MEDIA_SHAPES[kind]
    icon = QIcon()
    for size in (16, 32):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.scale(size / 16, size / 16)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        for x, width in bars:
            painter.drawRect(QRectF(x, 3, width, 10))
        for flat, tip in triangles:
            painter.drawPolygon(QPolygonF([QPointF(flat, 3), QPointF(tip, 8), QPointF(flat, 13)]))
        painter.end()
        icon.addPixmap(pixmap)
    return icon


class TransportBar(QWidget):
    """Play/pause, step, restart, the timeline, speed and loop."""

    def __init__(self, clock: AnimationClock, session: Session):
        super().__init__()
        self.clock, self.session = clock, session
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)

        self.buttons: dict[str, QToolButton] = {}

        def button(kind: str, tip: str, slot, name: str) -> QToolButton:
            b = QToolButton()
            self.buttons[kind] = b
            b.setToolTip(tip)
            b.setObjectName(name)
            b.clicked.connect(slot)
            layout.addWidget(b)
            return b

        button("restart", "restart (Home)", clock.restart, "button_restart")
        button("back", "step back (←)", lambda: clock.step(-1), "button_back")
        self.play = button("play", "play / pause (Space)", clock.toggle, "button_play")
        button("forward", "step forward (→)", lambda: clock.step(1), "button_forward")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("timeline")
        self.slider.setToolTip("scrub: every panel follows")
        self.slider.valueChanged.connect(clock.seek)
        layout.addWidget(self.slider, 1)
        self.label = QLabel("step 0 / 0")
        self.label.setMinimumWidth(110)
        layout.addWidget(self.label)
        layout.addWidget(QLabel("speed"))
        self.speed = QComboBox()
        self.speed.setObjectName("combo_speed")
        for fps in (5, 10, 20, 40, 80, 160, 320):
            self.speed.addItem(f"{fps} steps/s", fps)
        self.speed.currentIndexChanged.connect(lambda: session.set_view(speed=float(self.speed.currentData())))
        layout.addWidget(self.speed)
        self.loop = QCheckBox("loop")
        self.loop.setObjectName("check_loop")
        self.loop.setChecked(session.view.loop)
        self.loop.toggled.connect(lambda on: session.set_view(loop=on))
        layout.addWidget(self.loop)
        self.show_view(session.view)  # a session that starts with its own speed (a preset given on the command line)
        session.viewChanged.connect(self.show_view)
        clock.frameChanged.connect(self.show_frame)
        clock.playingChanged.connect(lambda _on: self.paint_icons())
        self.paint_icons()

    def paint_icons(self) -> None:
        """Draw the buttons' symbols in the theme's button text colour (and play or pause as the clock is)."""
        color = self.palette().color(QPalette.ColorRole.ButtonText)
        for kind, b in self.buttons.items():
            shown = "pause" if kind == "play" and self.clock.playing else kind
            b.setIcon(media_icon(shown, color))

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in PALETTE_EVENTS and hasattr(self, "buttons"):
            self.paint_icons()

    def show_view(self, view) -> None:
        """Follow the session (a file opened with another speed or loop setting)."""
        self.speed.blockSignals(True)
        index = self.speed.findData(int(view.speed)) if float(view.speed).is_integer() else -1
        if index < 0:
            self.speed.addItem(f"{view.speed:g} steps/s", view.speed)
            index = self.speed.count() - 1
        self.speed.setCurrentIndex(index)
        self.speed.blockSignals(False)
        self.loop.blockSignals(True)
        self.loop.setChecked(view.loop)
        self.loop.blockSignals(False)

    def set_frame_count(self, n: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        self.slider.blockSignals(False)
        self.show_frame(self.clock.frame)

    def show_frame(self, frame: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(frame)
        self.slider.blockSignals(False)
        self.label.setText(f"step {frame} / {self.slider.maximum()}")
