"""The animation clock: which frame of the precomputed trajectories is on screen.

The frame follows elapsed time, not the number of timer ticks, so the animation runs at
the chosen speed whatever the redraw rate. The time source is injectable, so tests can
advance time exactly and instantly.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from PyQt6.QtCore import QObject, QTimer, pyqtSignal


class AnimationClock(QObject):
    """Plays frames ``0 .. n_frames-1`` at ``speed`` frames per second.

    Signals:
        frameChanged(int): the frame on screen changed (by playing, stepping or seeking).
        playingChanged(bool): play or pause.
    """

    frameChanged = pyqtSignal(int)
    playingChanged = pyqtSignal(bool)

    def __init__(self, parent: QObject | None = None, time_source: Callable[[], float] = time.monotonic,
                 interval_ms: int = 16):
        super().__init__(parent)
        self._now = time_source
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.tick)
        self.n_frames = 1
        self.speed = 30.0
        self.loop = False
        self._frame = 0
        self._anchor_frame = 0.0  # playing: frame = anchor_frame + (now - anchor_time) * speed
        self._anchor_time = 0.0

    @property
    def frame(self) -> int:
        return self._frame

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def set_frame_count(self, n_frames: int) -> None:
        """New trajectories: keep the current frame where it still exists."""
        self.n_frames = max(1, int(n_frames))
        self.seek(min(self._frame, self.n_frames - 1), force=True)

    def set_speed(self, frames_per_second: float) -> None:
        self._reanchor()
        self.speed = float(frames_per_second)

    def play(self) -> None:
        if self.playing:
            return
        if self._frame >= self.n_frames - 1:  # at the end: play again from the start
            self.seek(0)
        self._reanchor()
        self._timer.start()
        self.playingChanged.emit(True)

    def pause(self) -> None:
        if self.playing:
            self._timer.stop()
            self.playingChanged.emit(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def step(self, delta: int = 1) -> None:
        """One frame forward (or back, with a negative delta); pauses first."""
        self.pause()
        self.seek(self._frame + delta)

    def restart(self) -> None:
        self.seek(0)
        self._reanchor()

    def seek(self, frame: int, force: bool = False) -> None:
        frame = min(max(int(frame), 0), self.n_frames - 1)
        self._reanchor(frame)
        if frame != self._frame or force:
            self._frame = frame
            self.frameChanged.emit(frame)

    def tick(self) -> None:
        """Advance to the frame that elapsed time calls for (the timer calls this)."""
        position = self._anchor_frame + (self._now() - self._anchor_time) * self.speed
        last = self.n_frames - 1
        if position >= last + 1 and self.loop and last > 0:
            position %= self.n_frames
            self._anchor_frame, self._anchor_time = position, self._now()
        elif position >= last:
            position = last
            self._timer.stop()
            self.playingChanged.emit(False)
        frame = int(position)
        if frame != self._frame:
            self._frame = frame
            self.frameChanged.emit(frame)

    def _reanchor(self, frame: float | None = None) -> None:
        self._anchor_frame = float(self._frame if frame is None else frame)
        self._anchor_time = self._now()
