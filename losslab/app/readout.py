"""The readout: per optimizer at the current frame, its losses, accuracy, gradient norm, status
and a gradient check (run in the background whenever the animation rests on a frame)."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QTableWidget, QTableWidgetItem

from ..engine.experiment import readout_at
from ..engine.gradcheck import describe_check, grad_check_steps
from .controls import swatch
from .jobs import JobRunner
from .session import Snapshot
from .views import run_color, run_label

GRADCHECK_COLORS = {"good": "#2ca02c", "acceptable": "#bcbd22", "suspect": "#ff7f0e", "wrong": "#d62728"}
DIVERGED_COLOR = "#d62728"
COLUMNS = ["optimizer", "step", "data loss", "reg loss", "total", "accuracy", "‖∇L‖", "off plane", "status",
           "grad check"]
GRADCHECK_SAMPLE = 40  # above this many parameters, check a seeded sample of coordinates (CS231n's sparse check)


class Readout(QTableWidget):
    """One row per run on screen; follows the frame it is told, checks gradients when it rests."""

    def __init__(self, jobs: JobRunner):
        super().__init__(0, len(COLUMNS))
        self.jobs = jobs
        self.snapshot: Snapshot | None = None
        self.frame = 0
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().setVisible(False)
        for column, width in enumerate((210, 50, 90, 90, 90, 75, 80, 80, 90)):  # fixed: no jitter while playing
            self.setColumnWidth(column, width)
        self.horizontalHeader().setStretchLastSection(True)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setObjectName("readout")
        self.setToolTip("off plane: distance of a full-space run from the drawn slice (0 inside the slice)\n"
                        "grad check: relative error |a − n| / max(|a|, |n|) of the analytic vs numerical gradient,\n"
                        "green ≤ 1e-7 good, olive ≤ 1e-4 acceptable near kinks, orange ≤ 1e-2 suspect, red wrong")
        self._gradcheck_timer = QTimer(self)
        self._gradcheck_timer.setSingleShot(True)
        self._gradcheck_timer.setInterval(120)
        self._gradcheck_timer.timeout.connect(self.request_gradcheck)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.jobs.cancel("gradcheck")  # a check of the old runs is of no use now
        self.show_frame(self.frame, playing=False)

    def show_frame(self, frame: int, playing: bool) -> None:
        """The rows at ``frame``; the gradient check follows once the animation rests there."""
        self.frame = frame
        if self.snapshot is None:
            return
        computed = self.snapshot.computed
        rows, colors = [], []
        slice_space = computed.experiment.slice_space
        for result in computed.runs:
            r = readout_at(computed.problem, result, frame)
            accuracy = "—" if r.accuracy is None else f"{r.accuracy:.1%}"
            off_plane = "0 (in slice)" if slice_space else f"{r.off_plane:.3g}"
            rows.append([run_label(result.spec), str(r.step), f"{r.data_loss:.5g}", f"{r.reg_loss:.5g}",
                         f"{r.total:.5g}", accuracy, f"{r.grad_norm:.3g}", off_plane, r.status])
            colors.append(run_color(result.index, result.spec))
        self._set_rows(rows, colors)
        self._gradcheck_timer.stop()
        self.jobs.cancel("gradcheck")
        for row in range(len(rows)):
            self._set_gradcheck(row, "(when paused)" if playing else "…", "")
        if not playing:
            self._gradcheck_timer.start()

    def stop(self) -> None:
        self._gradcheck_timer.stop()
        self.jobs.cancel("gradcheck")

    def _set_rows(self, rows: list[list[str]], colors: list[str]) -> None:
        self.setRowCount(len(rows))
        text_color = self.palette().text().color()
        for r, (values, color) in enumerate(zip(rows, colors)):
            for c, text in enumerate(values):
                item = self.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)
                if c == 0 and item.data(Qt.ItemDataRole.UserRole) != color:
                    item.setIcon(swatch(color))  # a colour dot: readable text whatever the run's colour
                    item.setData(Qt.ItemDataRole.UserRole, color)
                if c == 8:
                    item.setForeground(QColor(DIVERGED_COLOR) if text == "diverged" else text_color)

    def _set_gradcheck(self, row: int, text: str, verdict: str) -> None:
        item = self.item(row, 9)
        if item is None:
            item = QTableWidgetItem()
            self.setItem(row, 9, item)
        if item.text() != text:
            item.setText(text)
        item.setForeground(QColor(GRADCHECK_COLORS[verdict]) if verdict else self.palette().text().color())

    def request_gradcheck(self) -> None:
        """Check every run's gradient at the current frame, in the background (cancelled by any move)."""
        if self.snapshot is None or not self.snapshot.computed.runs:
            return
        computed, frame = self.snapshot.computed, self.frame
        objective = computed.problem.objective
        thetas = [np.array(r.thetas[min(frame, len(r.thetas) - 1)]) for r in computed.runs]
        P = objective.n_params
        coordinates = None if P <= GRADCHECK_SAMPLE else np.sort(
            np.random.default_rng(0).choice(P, GRADCHECK_SAMPLE, replace=False))

        def work():
            checks = []
            for theta in thetas:
                check = yield from grad_check_steps(objective, theta, coordinates=coordinates)
                checks.append(check)
            return checks

        def show(checks) -> None:
            if self.snapshot is None or self.snapshot.computed is not computed or self.frame != frame:
                return  # the runs or the frame changed meanwhile
            for row, check in enumerate(checks):
                text, verdict = describe_check(check, P)
                self._set_gradcheck(row, text, verdict)

        self.jobs.submit("gradcheck", work, on_result=show)
