"""The per-example table: one row per example for the data view's run at the current frame.

As in the CS231n demo: each example's inputs (its first two principal components when D > 2),
label, scores, the loss's per-class terms (hinge terms coloured where active; softmax's
probabilities) and L_i; under the table the mean data loss, the penalty and the total. A
model/view table, so thousands of rows cost only what is on screen; a click on a header
sorts (L_i, descending: the worst examples first).
"""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import (QAbstractTableModel, QItemSelection, QItemSelectionModel, QModelIndex, QSortFilterProxyModel,
                          Qt, pyqtSignal)
from PyQt6.QtWidgets import QTableView, QVBoxLayout, QWidget

from ..engine.losses import per_example_losses
from .widgets import MutedLabel, theme_color

SORT_ROLE = Qt.ItemDataRole.UserRole + 1


class ExampleTableModel(QAbstractTableModel):
    """The numbers of one frame: ``columns`` names and a (N, K) float table; row i is example i."""

    def __init__(self):
        super().__init__()
        self.headers: list[str] = []
        self.values = np.zeros((0, 0))
        self.active: np.ndarray | None = None  # (N, K) bool: hinge terms that are violated
        self.label_column = -1
        self.active_color = None

    def set_table(self, headers: list[str], values: np.ndarray, active: np.ndarray | None, label_column: int) -> None:
        if headers != self.headers or values.shape != self.values.shape:
            self.beginResetModel()
            self.headers, self.values, self.active, self.label_column = headers, values, active, label_column
            self.endResetModel()
            return
        self.values, self.active = values, active  # the same rows: only the numbers change
        if len(values):
            self.dataChanged.emit(self.index(0, 0), self.index(len(values) - 1, len(headers) - 1))

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.values)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        value = float(self.values[index.row(), index.column()])
        if role == SORT_ROLE:
            return value
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() in (0, self.label_column):
                return str(int(value))
            return f"{value:.6g}"  # enough for the lecture's numbers as written (695.45, 159.75)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if (role == Qt.ItemDataRole.ForegroundRole and self.active is not None and self.active_color is not None
                and self.active[index.row(), index.column()]):
            return self.active_color
        return None


class ExampleTable(QWidget):
    """The table and its summary line; ``show_frame`` fills them for the data view's run.

    Signals:
        selected(list[int]): the example indices of the selected rows (the data view rings them).
    """

    selected = pyqtSignal(list)

    def __init__(self):
        super().__init__()
        self.model = ExampleTableModel()
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.view = QTableView()
        self.view.setObjectName("example_table")
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # in the data's order until a header is clicked
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.verticalHeader().setVisible(False)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setToolTip("one row per example at the current frame; click a header to sort (Lᵢ: worst first)")
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.summary = MutedLabel("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)
        self._pca: tuple[object, np.ndarray] | None = None

    def show_frame(self, computed, result, frame: int) -> None:
        """The rows of ``result`` (a run of ``computed``) at ``frame``; empty without data or run."""
        problem = computed.problem if computed is not None else None
        if problem is None or problem.dataset is None or result is None:
            self.model.set_table([], np.zeros((0, 0)), None, -1)
            self.summary.setText("no data or no run: nothing to tabulate" if computed is not None else "")
            return
        objective = problem.objective
        theta = result.thetas[min(frame, len(result.thetas) - 1)]
        X, y = objective.X, objective.y
        with np.errstate(all="ignore"):
            scores = objective.scores(theta)
            finite = np.where(np.isfinite(scores), scores, 0.0)  # a diverged run: the table shows the loss as inf
            losses, terms = per_example_losses(finite, y, objective.loss_kind, objective.margin)
            losses = np.where(np.isfinite(scores).all(axis=1), losses, np.inf)
            data_loss, reg_loss = objective.parts(theta)
        inputs, names = self._inputs(problem.dataset, X)
        C = scores.shape[1]
        softmax = objective.loss_kind == "softmax"
        term_names = [f"p{j}" if softmax else f"term {j}" for j in range(C)]
        headers = ["#"] + names + ["y"] + [f"s{j}" for j in range(C)] + term_names + ["Lᵢ"]
        values = np.column_stack([np.arange(len(y)), inputs, y, scores, terms, losses])
        active = None
        if not softmax:  # a hinge term above 0 is a violated margin: coloured, as in the demo
            active = np.zeros(values.shape, dtype=bool)
            first = 1 + len(names) + 1 + C
            active[:, first:first + C] = terms > 0
        self.model.active_color = theme_color("wrong", self.palette())
        self.model.set_table(headers, values, active, 1 + len(names))
        self.summary.setText(f"step {min(frame, len(result.thetas) - 1)} · mean data loss (1/N) Σ Lᵢ = "
                             f"{data_loss:.5g} · penalty λR = {reg_loss:.5g} · total {data_loss + reg_loss:.5g}")

    def select_examples(self, indices, extend: bool = False) -> None:
        """Select the rows of these examples (``extend``: add them to the selection) and scroll to the first."""
        Flag = QItemSelectionModel.SelectionFlag
        selection = QItemSelection()
        rows = [self.proxy.mapFromSource(self.model.index(i, 0)) for i in indices if 0 <= i < self.model.rowCount()]
        for row in rows:
            selection.select(row, row)
        self.view.selectionModel().select(selection, Flag.Rows | (Flag.Select if extend else Flag.ClearAndSelect))
        if rows:
            self.view.scrollTo(rows[0])

    def content_height(self) -> int:
        """The height that shows every row, the header and the summary line (no empty space below)."""
        view = self.view
        rows = sum(view.rowHeight(row) for row in range(self.proxy.rowCount()))
        margins = self.layout().contentsMargins()
        return (view.horizontalHeader().height() + rows + 2 * view.frameWidth() + self.summary.sizeHint().height()
                + self.layout().spacing() + margins.top() + margins.bottom())

    def selected_rows(self) -> list[int]:
        """The examples selected, by index (a source row is its example's index)."""
        return sorted({self.proxy.mapToSource(index).row() for index in self.view.selectionModel().selectedRows()})

    def _selection_changed(self, *_) -> None:
        self.selected.emit(self.selected_rows())

    def _inputs(self, dataset, X: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """The inputs as shown: x₁, x₂ for 2-D data, else the first two principal components (cached)."""
        if X.shape[1] <= 2:
            return X, [f"x{k + 1}" for k in range(X.shape[1])]
        if self._pca is None or self._pca[0] is not dataset:
            centred = X - X.mean(axis=0)
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
            self._pca = (dataset, centred @ vt[:2].T)
        return self._pca[1], ["PC1", "PC2"]
