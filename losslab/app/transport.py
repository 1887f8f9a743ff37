"""The transport bar: play/pause, step, restart, the timeline, speed and loop."""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QWidget

from .clock import AnimationClock
from .session import Session


class TransportBar(QWidget):
    """Play/pause, step, restart, the timeline, speed and loop."""

    def __init__(self, clock: AnimationClock, session: Session):
        super().__init__()
        self.clock, self.session = clock, session
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)

        def button(icon: QStyle.StandardPixmap, tip: str, slot, name: str) -> QToolButton:
            b = QToolButton()
            b.setIcon(self.style().standardIcon(icon))
            b.setToolTip(tip)
            b.setObjectName(name)
            b.clicked.connect(slot)
            layout.addWidget(b)
            return b

        pixmaps = QStyle.StandardPixmap
        button(pixmaps.SP_MediaSkipBackward, "restart (Home)", clock.restart, "button_restart")
        button(pixmaps.SP_MediaSeekBackward, "step back (←)", lambda: clock.step(-1), "button_back")
        self.play = button(pixmaps.SP_MediaPlay, "play / pause (Space)", clock.toggle, "button_play")
        button(pixmaps.SP_MediaSeekForward, "step forward (→)", lambda: clock.step(1), "button_forward")
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
        self.speed.setCurrentIndex(max(0, self.speed.findData(int(session.view.speed))))
        self.speed.currentIndexChanged.connect(lambda: session.set_view(speed=float(self.speed.currentData())))
        layout.addWidget(self.speed)
        self.loop = QCheckBox("loop")
        self.loop.setObjectName("check_loop")
        self.loop.setChecked(session.view.loop)
        self.loop.toggled.connect(lambda on: session.set_view(loop=on))
        layout.addWidget(self.loop)
        session.viewChanged.connect(self.show_view)
        clock.frameChanged.connect(self.show_frame)
        clock.playingChanged.connect(lambda on: self.play.setIcon(self.style().standardIcon(
            pixmaps.SP_MediaPause if on else pixmaps.SP_MediaPlay)))

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
