"""The readout: per optimizer at the current frame, its losses, accuracy, gradient norm, status
and a gradient check (run in the background whenever the animation rests on a frame)."""
from __future__ import annotations

import html

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QTableWidget, QTableWidgetItem

from ..engine.experiment import readout_at
from ..engine.generators import drain
from ..engine.gradcheck import describe_check, grad_check_steps
from .controls import swatch
from .jobs import JobRunner
from .session import Snapshot
from .views import run_color, run_label
from .widgets import PALETTE_EVENTS, theme_color

VERDICTS = ("good", "acceptable", "kink", "suspect", "wrong")  # each has its colour in THEME_COLORS
VERDICT_LEGEND = {"good": "≤ 1e-7: the gradient is right",
                  "acceptable": "≤ 1e-4: fine near kinks (hinge, L1), or a gap within the numerical gradient's own error",
                  "kink": "examples sit on a kink: the difference quotient straddles it, so the two may rightly differ",
                  "suspect": "≤ 1e-2: usually a bug",
                  "wrong": "> 1e-2 with no kink or finite-difference error to explain it: the gradient is wrong"}
STATUS, GRADCHECK = 9, 10  # columns coloured by meaning
COLUMNS = ["optimizer", "step", "data loss", "reg loss", "total", "accuracy", "‖∇L‖", "slope a, b · step",
           "off plane", "status", "grad check"]
SLOPES = 7
REFERENCE_LABEL = "linear classifier (its optimum)"
REFERENCE_COLOR = "#888888"
INLINE_SCORES = 200_000  # N × C up to which the readout is computed at once (a few milliseconds a run)
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
        for column, width in enumerate((210, 50, 90, 90, 90, 75, 80, 170, 80, 90)):  # fixed: no jitter while playing
            self.setColumnWidth(column, width)
        self.horizontalHeader().setStretchLastSection(True)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setObjectName("readout")
        self._write_legend()
        self._gradcheck_timer = QTimer(self)
        self._gradcheck_timer.setSingleShot(True)
        self._gradcheck_timer.setInterval(120)
        self._gradcheck_timer.timeout.connect(self.request_gradcheck)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.jobs.cancel("gradcheck")  # a check of the old runs is of no use now
        self.show_frame(self.frame, playing=False)

    def show_frame(self, frame: int, playing: bool) -> None:
        """The rows at ``frame``; the gradient check follows once the animation rests there.

        A large problem's losses and gradients are computed in the background (one job,
        superseded by the next frame), so the window never waits for them.
        """
        self.frame = frame
        if self.snapshot is None:
            return
        computed = self.snapshot.computed
        objective = computed.problem.objective
        scores = (getattr(objective, "n_examples", None) or 1) * (getattr(objective, "n_classes", None) or 1)
        if scores <= INLINE_SCORES:
            self._show_readouts(computed, frame, drain(_readout_blocks(computed, frame)))
        else:
            self.jobs.submit("readout", lambda: _readout_blocks(computed, frame),
                             on_result=lambda readouts: self._show_readouts(computed, frame, readouts))
        self._gradcheck_timer.stop()
        self.jobs.cancel("gradcheck")
        for row in range(len(computed.runs)):
            self._set_gradcheck(row, "(when paused)" if playing else "…", "")
        if not playing:
            self._gradcheck_timer.start()


    def _show_readouts(self, computed, frame: int, readouts: list) -> None:
        if self.snapshot is None or self.snapshot.computed is not computed or self.frame != frame:
            return  # a later frame or other runs are on their way
        rows, colors = [], []
        slice_space = computed.experiment.slice_space
        for result, r in zip(computed.runs, readouts):
            accuracy = "—" if r.accuracy is None else f"{r.accuracy:.1%}"
            off_plane = "0 (in slice)" if slice_space else f"{r.off_plane:.3g}"
            rows.append([run_label(result.spec), str(r.step), f"{r.data_loss:.5g}", f"{r.reg_loss:.5g}",
                         f"{r.total:.5g}", accuracy, f"{r.grad_norm:.3g}", slopes_text(r.slopes), off_plane, r.status])
            colors.append(run_color(result.index, result.spec))
        reference = computed.problem.reference
        if reference is not None:  # a network's readout ends with what a linear classifier achieves on the same data
            data_loss, reg_loss = reference.parts
            rows.append([REFERENCE_LABEL, "—", f"{data_loss:.5g}", f"{reg_loss:.5g}", f"{data_loss + reg_loss:.5g}",
                         f"{reference.accuracy:.1%}", "—", "—", "—", "best fit"])
            colors.append(REFERENCE_COLOR)
        self._set_rows(rows, colors)
        if reference is not None:
            self._set_gradcheck(len(rows) - 1, "", "")

    def stop(self) -> None:
        self._gradcheck_timer.stop()
        self.jobs.cancel("gradcheck")

    def _set_rows(self, rows: list[list[str]], colors: list[str]) -> None:
        self.setRowCount(len(rows))
        for r, (values, color) in enumerate(zip(rows, colors)):
            for c, text in enumerate(values):
                item = self._cell(r, c, text)
                if c == 0 and item.data(Qt.ItemDataRole.UserRole) != color:
                    item.setIcon(swatch(color))  # a colour dot: readable text whatever the run's colour
                    item.setData(Qt.ItemDataRole.UserRole, color)
                if c == STATUS:
                    self._colour(item, "wrong" if text == "diverged" else "")

    def _set_gradcheck(self, row: int, text: str, verdict: str) -> None:
        item = self._cell(row, GRADCHECK, text)
        item.setData(Qt.ItemDataRole.UserRole, verdict)  # kept for re-colouring when the theme changes
        self._colour(item, verdict)

    def _cell(self, row: int, column: int, text: str) -> QTableWidgetItem:
        """The cell's item, made on first use, showing ``text`` (set only when it changes: no repaint)."""
        item = self.item(row, column)
        if item is None:
            item = QTableWidgetItem()
            self.setItem(row, column, item)
        if item.text() != text:
            item.setText(text)
        return item

    def _colour(self, item: QTableWidgetItem, meaning: str) -> None:
        """The theme's shade of ``meaning`` (a verdict), or no colour of its own: the palette's text then."""
        if meaning:
            item.setForeground(theme_color(meaning, self.palette()))
        elif item.data(Qt.ItemDataRole.ForegroundRole) is not None:
            item.setData(Qt.ItemDataRole.ForegroundRole, None)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in PALETTE_EVENTS:  # a theme change: colours picked for the old one would not read
            for row in range(self.rowCount()):
                status, check = self.item(row, STATUS), self.item(row, GRADCHECK)
                if status is not None:
                    self._colour(status, "wrong" if status.text() == "diverged" else "")
                if check is not None:
                    self._colour(check, check.data(Qt.ItemDataRole.UserRole) or "")
            self._write_legend()

    def _write_legend(self) -> None:
        """The table's tooltip, with each verdict in its colour of the current theme."""
        rows = "".join(f"<tr><td style='color: {theme_color(v, self.palette()).name()}'><b>{v}</b></td>"
                       f"<td>{html.escape(VERDICT_LEGEND[v])}</td></tr>" for v in VERDICTS)
        self.setToolTip("<p><b>off plane</b>: distance of a full-space run from the drawn slice (0 inside the slice)</p>"
                        "<p><b>grad check</b>: relative error |a − n| / max(|a|, |n|) of the analytic and numerical "
                        f"gradients</p><table>{rows}</table>")

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


def _readout_blocks(computed, frame: int):
    """Each run's readout at ``frame``, one run between two yields: a superseded job stops at the next."""
    readouts = []
    for result in computed.runs:
        readouts.append(readout_at(computed.problem, result, frame, computed.plane))
        yield len(readouts)
    return readouts


def slopes_text(slopes) -> str:
    """``d1·g, d2·g · ĝ·u``: the loss's slope along each plane axis and along the step taken from here."""
    if slopes is None:
        return "—"
    a, b, step = slopes
    return f"{a:.3g}, {b:.3g} · " + ("—" if step is None else f"{step:.3g}")
