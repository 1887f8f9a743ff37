"""The parameter table: every entry of θ at the current frame, its gradient, and ± nudges.

As in the CS231n linear-classification demo's weight table: one row per coordinate of the
flat parameter vector θ (``W[d,c]`` and ``b[c]`` for the linear classifier; ``W1``, ``b1``,
``W2``, ``b2`` for the two-layer network; the model names them), its value, the gradient
∂L/∂θ of the total loss there (red where it is positive: "+" raises the loss; blue where
it is negative: "+" lowers it) and two buttons that move that one coordinate by a step the
user picks. A model/view table with a painted delegate for the buttons, so 10⁴ rows (the
digits network) cost only what is on screen.

Which rows show is a filter on the proxy: one output class (the class's weight column and
bias: ``W[:, c]`` and ``b[c]``, or ``W2[:, c]`` and ``b2[c]``), the hidden layer (``W1``,
``b1``: they belong to no single class), and a text. Sorting is the source model's: it
permutes its rows with NumPy (the gradient column sorts by |∂L/∂θ|, steepest first), so a
re-sort on every frame costs no per-comparison Python call.
"""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import (QAbstractTableModel, QEvent, QModelIndex, QPersistentModelIndex, QRect,
                          QSortFilterProxyModel, Qt, pyqtSignal)
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView,
                             QLabel, QLineEdit, QSizePolicy, QStyle, QStyledItemDelegate, QStyleOptionButton, QStyleOptionViewItem,
                             QTableView, QVBoxLayout, QWidget)

from .widgets import PALETTE_EVENTS, MutedLabel, theme_color

PARAM, VALUE, GRAD, NUDGE = range(4)
HEADERS = ("parameter", "value", "∂L/∂θ", "nudge")

SORT_ROLE = Qt.ItemDataRole.UserRole + 1   # the key a header click sorts by (|∂L/∂θ| for the gradient)
INDEX_ROLE = Qt.ItemDataRole.UserRole + 2  # the row's index into θ (any column)
VALUE_ROLE = Qt.ItemDataRole.UserRole + 3  # the exact number: θᵢ or ∂L/∂θᵢ as a float, the label in column 0

ALL, HIDDEN = None, -1  # the class filter's keys besides a class c >= 0
NO_CLASS = -2           # a coordinate of a test surface: no class, no layer

STEP_DEFAULT, STEP_LOW, STEP_HIGH = 0.1, 1e-4, 10.0
STEP_LADDER = tuple(m * 10.0 ** e for e in range(-4, 2) for m in (1, 2, 5) if m * 10.0 ** e <= STEP_HIGH)


def coordinate_classes(model, n_params: int) -> np.ndarray:
    """Per coordinate of θ, the output class it belongs to, ``HIDDEN`` or ``NO_CLASS``.

    The output layer is the last matrix group and the groups after it (``W``, ``b`` of the
    linear model; ``W2``, ``b2`` of the network): its entry ``[..., c]`` belongs to class c.
    Every earlier group (``W1``, ``b1``) is the hidden layer's.
    """
    if model is None:
        return np.full(n_params, NO_CLASS)
    groups = model.groups
    last_matrix = max((k for k, g in enumerate(groups) if len(g.shape) == 2), default=0)
    out = np.full(model.n_params, HIDDEN)
    for k, g in enumerate(groups):
        if k >= last_matrix:
            start = int(model.offsets[k])
            out[start:start + g.size] = np.indices(g.shape)[-1].ravel()  # the last axis is the class
    return out


def surface_labels(n_params: int) -> tuple[str, ...]:
    """A test surface's coordinates: ``a``, ``b`` (``θ[k]`` past two)."""
    return ("a", "b") if n_params == 2 else tuple(f"θ[{k}]" for k in range(n_params))


def describe(model, index: int) -> str:
    """What coordinate ``index`` of θ does, in words (the parameter's tooltip)."""
    if model is None:
        return "a coordinate of the test surface"
    k = int(np.searchsorted(model.offsets, index, side="right")) - 1
    group = model.groups[k]
    position = [int(p) for p in np.unravel_index(index - int(model.offsets[k]), group.shape)]
    matrices = [j for j, g in enumerate(model.groups) if len(g.shape) == 2]
    output = k >= (matrices[-1] if matrices else 0)
    target = f"class {position[-1]}'s score" if output else f"hidden unit {position[-1]}"
    if len(group.shape) == 2:
        source = "input x" if not matrices or k == matrices[0] else "hidden unit "
        return f"the weight from {source}{position[0]} into {target}"
    return f"the bias of {target}"


class ParameterTableModel(QAbstractTableModel):
    """θ and ∂L/∂θ of one frame; row r shows coordinate ``order[r]`` (the sort's permutation).

    ``set_point`` replaces the numbers in place (``dataChanged``; a ``layoutChanged`` only when
    a value column is the sort key) and resets only when the labels change.
    """

    def __init__(self):
        super().__init__()
        self.labels: tuple[str, ...] = ()
        self.model = None
        self.theta = np.zeros(0)
        self.grad = np.zeros(0)
        self.classes = np.zeros(0, dtype=int)
        self.order = np.zeros(0, dtype=int)  # source row -> index into θ
        self.sort_column, self.sort_order = PARAM, Qt.SortOrder.AscendingOrder
        self.colors = {"positive": QColor("#c41e1e"), "negative": QColor("#1f5fa8")}
        self._scale = 1.0  # max |∂L/∂θ|: the tint of a gradient cell is its share of it

    # --- filling ----------------------------------------------------------------------------
    def set_point(self, model, labels: tuple[str, ...], theta: np.ndarray, grad: np.ndarray) -> None:
        theta = np.array(theta, dtype=float).ravel()  # copies: a caller's later edits do not leak in
        grad = np.array(grad, dtype=float).ravel()
        if labels != self.labels or model != self.model:
            self.beginResetModel()
            self.model, self.labels = model, tuple(labels)
            self.theta, self.grad = theta, grad
            self.classes = coordinate_classes(model, len(theta))
            self._rescale()
            self.order = self._sorted_order()
            self.endResetModel()
            return
        self.theta, self.grad = theta, grad  # the same rows: only the numbers change
        self._rescale()
        if self.sort_column in (VALUE, GRAD):  # a live ranking: the rows follow the new numbers
            self._reorder(self._sorted_order())
        if len(theta):
            self.dataChanged.emit(self.index(0, VALUE), self.index(len(theta) - 1, GRAD))

    def _rescale(self) -> None:
        finite = np.abs(self.grad[np.isfinite(self.grad)])
        self._scale = float(finite.max()) if finite.size and finite.max() > 0 else 1.0

    # --- sorting: a NumPy permutation of the rows ---------------------------------------------
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column == NUDGE or column < 0:
            return  # the buttons have no order: the rows keep theirs
        self.sort_column, self.sort_order = column, order
        self._reorder(self._sorted_order())

    def _sorted_order(self) -> np.ndarray:
        n = len(self.theta)
        if self.sort_column == PARAM:
            key = np.arange(n, dtype=float)  # θ's own order
        elif self.sort_column == VALUE:
            key = self.theta
        else:
            key = np.abs(self.grad)
        descending = self.sort_order == Qt.SortOrder.DescendingOrder
        # stable, NaN last either way; ties keep θ's order
        return np.argsort(-key if descending else key, kind="stable")

    def _reorder(self, order: np.ndarray) -> None:
        if np.array_equal(order, self.order):
            return
        self.layoutAboutToBeChanged.emit([], QAbstractTableModel.LayoutChangeHint.VerticalSortHint)
        old = self.persistentIndexList()
        new_row = np.empty_like(order)
        new_row[order] = np.arange(len(order))  # θ index -> its new row
        moved = [self.index(int(new_row[self.order[i.row()]]), i.column()) for i in old]
        self.order = order
        self.changePersistentIndexList(old, moved)
        self.layoutChanged.emit([], QAbstractTableModel.LayoutChangeHint.VerticalSortHint)

    # --- the Qt model -------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.theta)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def flags(self, index):
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if index.isValid() else Qt.ItemFlag.NoItemFlags

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if role == Qt.ItemDataRole.InitialSortOrderRole:  # a first click on ∂L/∂θ: the steepest first
            return Qt.SortOrder.DescendingOrder if section == GRAD else Qt.SortOrder.AscendingOrder
        if role == Qt.ItemDataRole.ToolTipRole:
            return ("the parameter: its weight matrix [row, column] or bias vector [entry]; click to sort in θ's order",
                    "its value at this frame; click to sort",
                    "∂L/∂θ, the slope of the total loss along this parameter: red > 0 (+ raises the loss), "
                    "blue < 0 (+ lowers it); click to sort by |∂L/∂θ|, the steepest first",
                    "move this one parameter by − or + the step (or select the row and press − or +)")[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        i, column = int(self.order[index.row()]), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == PARAM:
                return self.labels[i]
            if column == VALUE:
                return f"{self.theta[i]:.4g}"
            if column == GRAD:
                return f"{self.grad[i]:.4g}"
            return None
        if role == INDEX_ROLE:
            return i
        if role == VALUE_ROLE:
            return self.labels[i] if column == PARAM else float(self.theta[i] if column != GRAD else self.grad[i])
        if role == SORT_ROLE:
            return float((i, self.theta[i], abs(self.grad[i]), i)[column])
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column in (VALUE, GRAD):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if column == GRAD and role in (Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole):
            g = self.grad[i]
            if not np.isfinite(g) or g == 0:
                return None
            color = QColor(self.colors["positive" if g > 0 else "negative"])
            if role == Qt.ItemDataRole.BackgroundRole:  # a faint tint, stronger where the slope is steeper
                color.setAlpha(int(12 + 52 * min(abs(g) / self._scale, 1.0)))
            return color
        if role == Qt.ItemDataRole.ToolTipRole:
            label = self.labels[i]
            if column == PARAM:
                return f"{label} = θ[{i}]: {describe(self.model, i)}"
            if column == GRAD:
                g = self.grad[i]
                effect = ("+ raises the loss, − lowers it" if g > 0 else "+ lowers the loss, − raises it" if g < 0
                          else "a small nudge leaves the loss unchanged (to first order)")
                return f"∂L/∂{label} = {g:.6g}: {effect}"
            if column == VALUE:
                return f"{label} = {self.theta[i]:.8g}"
            return f"− / +: move {label} by the step"
        return None


class ParameterFilter(QSortFilterProxyModel):
    """Keeps the rows of one class (or the hidden layer) whose label contains a text; sorts in the source."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDynamicSortFilter(False)  # the filter depends on labels only: new numbers never re-filter
        self.class_key: int | None = ALL
        self.text = ""
        self._keep = np.zeros(0, dtype=bool)  # per index into θ
        self._rows: list[bool] = []  # per source row: _keep in the source's current order
        self._rows_for = None        # the source order _rows was computed for
        self._source = None

    def setSourceModel(self, model) -> None:
        self._source = model
        super().setSourceModel(model)

    def set_filter(self, class_key: int | None = ALL, text: str | None = None) -> None:
        self.class_key = class_key
        if text is not None:
            self.text = text.strip()
        self.refilter()

    def refilter(self, labels: tuple[str, ...] | None = None, classes: np.ndarray | None = None) -> None:
        """Recompute which coordinates pass and re-filter the rows.

        With ``labels`` and ``classes`` (those the source is about to get) only the first
        step: the source's reset then filters its new rows once.
        """
        prepare = labels is not None
        labels = labels if prepare else self._source.labels
        classes = classes if prepare else self._source.classes
        keep = np.ones(len(labels), dtype=bool)
        if self.class_key is not ALL and len(classes) == len(keep):
            keep &= classes == self.class_key
        if self.text:
            needle = self.text.lower()
            keep &= np.fromiter((needle in label.lower() for label in labels), bool, len(keep))
        self._keep = keep
        self._rows_for = None  # the per-row answers are recomputed at the next call
        if not prepare:
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        # called for every row on each re-filter and re-sort (10⁴ for the digits network): a list look-up
        order = self._source.order
        if self._rows_for is not order:
            self._rows = (self._keep[order] if len(self._keep) == len(order) else np.ones(len(order), bool)).tolist()
            self._rows_for = order
        return self._rows[source_row]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)  # a NumPy permutation there; this proxy keeps its rows' order

    def shown(self) -> np.ndarray:
        """The indices into θ of the rows that pass the filter (in θ's order)."""
        return np.flatnonzero(self._keep)


class NudgeDelegate(QStyledItemDelegate):
    """Paints a "−" and a "+" button in the nudge column and turns clicks on them into ``clicked``.

    Signals:
        clicked(QModelIndex, int): the view's index of the row, and −1 or +1.
    """

    clicked = pyqtSignal(QModelIndex, int)
    BUTTON_WIDTH, GAP, MARGIN = 30, 4, 2

    def __init__(self, view: QTableView):
        super().__init__(view)
        self.view = view
        self._pressed: tuple[QPersistentModelIndex, int] | None = None
        self._hover: tuple[int, int] | None = None  # (view row, sign) under the mouse

    def button_rects(self, cell: QRect) -> tuple[QRect, QRect]:
        """The "−" and "+" buttons' rectangles inside a nudge cell (viewport coordinates)."""
        h = cell.height() - 2 * self.MARGIN
        left = cell.left() + self.MARGIN + 2
        minus = QRect(left, cell.top() + self.MARGIN, self.BUTTON_WIDTH, h)
        plus = QRect(minus.right() + 1 + self.GAP, minus.top(), self.BUTTON_WIDTH, h)
        return minus, plus

    def sign_at(self, cell: QRect, pos) -> int:
        minus, plus = self.button_rects(cell)
        return -1 if minus.contains(pos) else 1 if plus.contains(pos) else 0

    def sizeHint(self, option, index):
        size = super().sizeHint(option, index)
        size.setWidth(2 * self.BUTTON_WIDTH + self.GAP + 2 * self.MARGIN + 8)
        return size

    def paint(self, painter, option, index) -> None:
        if index.column() != NUDGE:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        style = self.view.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, self.view)  # selection
        pressed = self._pressed if self._pressed is not None and self._pressed[0] == index else None
        for sign, rect, text in zip((-1, 1), self.button_rects(option.rect), ("−", "+")):
            button = QStyleOptionButton()
            button.rect, button.text, button.palette = rect, text, option.palette
            button.fontMetrics = option.fontMetrics
            button.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Raised
            if pressed is not None and pressed[1] == sign:
                button.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Sunken
            if self._hover == (index.row(), sign):
                button.state |= QStyle.StateFlag.State_MouseOver
            style.drawControl(QStyle.ControlElement.CE_PushButton, button, painter, self.view)

    def editorEvent(self, event, model, option, index) -> bool:
        if index.column() != NUDGE:
            return super().editorEvent(event, model, option, index)
        kind = event.type()
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick):
            if event.button() != Qt.MouseButton.LeftButton:
                return False
            sign = self.sign_at(option.rect, event.position().toPoint())
            if sign:
                self._pressed = (QPersistentModelIndex(index), sign)
                self.view.viewport().update(option.rect)
            return False  # the view still selects the row: the keys then nudge it again
        if kind == QEvent.Type.MouseButtonRelease and self._pressed is not None:
            pressed, self._pressed = self._pressed, None
            self.view.viewport().update(option.rect)
            if pressed[0] == index and self.sign_at(option.rect, event.position().toPoint()) == pressed[1]:
                self.clicked.emit(QModelIndex(index), pressed[1])
                return True
        return False

    def pressed_index(self) -> QModelIndex | None:
        """The view's index of the cell whose button is held down, if any."""
        return QModelIndex(self._pressed[0]) if self._pressed is not None else None

    def release(self) -> None:
        """Forget a press (the mouse was released away from its button)."""
        if self._pressed is not None:
            index = QModelIndex(self._pressed[0])
            self._pressed = None
            if index.isValid():
                self.view.viewport().update(self.view.visualRect(index))

    def hover(self, pos) -> None:
        """Follow the mouse over the viewport (the hovered button is drawn lit); None: it left."""
        index = self.view.indexAt(pos) if pos is not None else QModelIndex()
        hover = None
        if index.isValid() and index.column() == NUDGE:
            sign = self.sign_at(self.view.visualRect(index), pos)
            hover = (index.row(), sign) if sign else None
        if hover != self._hover:
            for state in (self._hover, hover):
                if state is not None:
                    self.view.viewport().update(self.view.visualRect(self.view.model().index(state[0], NUDGE)))
            self._hover = hover


class ParameterView(QTableView):
    """The table; "+" (or "=") and "−" nudge the current row.

    Signals:
        key_nudge(QModelIndex, int): the current index and −1 or +1.
    """

    key_nudge = pyqtSignal(QModelIndex, int)
    PLUS = (Qt.Key.Key_Plus, Qt.Key.Key_Equal)
    MINUS = (Qt.Key.Key_Minus, Qt.Key.Key_Underscore)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in self.PLUS + self.MINUS:
            index = self.currentIndex()
            if index.isValid() and self.selectionModel().isRowSelected(index.row(), QModelIndex()):
                self.key_nudge.emit(index, 1 if key in self.PLUS else -1)
            event.accept()
            return
        super().keyPressEvent(event)


class StepBox(QDoubleSpinBox):
    """The nudge step: any value in 1e-4..10; the arrows walk the 1-2-5 ladder (0.1 → 0.2 → 0.5 → 1)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDecimals(4)
        self.setRange(STEP_LOW, STEP_HIGH)
        self.setValue(STEP_DEFAULT)
        self.setKeyboardTracking(False)
        self.setAccelerated(False)

    def stepBy(self, steps: int) -> None:
        value = self.value()
        if steps > 0:
            above = [s for s in STEP_LADDER if s > value * (1 + 1e-9)]
            target = above[min(steps, len(above)) - 1] if above else STEP_HIGH
        else:
            below = [s for s in STEP_LADDER if s < value * (1 - 1e-9)]
            target = below[max(len(below) + steps, 0)] if below else STEP_LOW
        self.setValue(target)

    def stepEnabled(self):
        enabled = QDoubleSpinBox.StepEnabledFlag.StepNone
        if self.value() < STEP_HIGH:
            enabled |= QDoubleSpinBox.StepEnabledFlag.StepUpEnabled
        if self.value() > STEP_LOW:
            enabled |= QDoubleSpinBox.StepEnabledFlag.StepDownEnabled
        return enabled

    def textFromValue(self, value: float) -> str:
        text = self.locale().toString(value, "f", self.decimals())
        point = self.locale().decimalPoint()
        return text.rstrip("0").rstrip(point) if point in text else text


class ParameterEditor(QWidget):
    """θ entry by entry at the selected run's current frame, with ∂L/∂θ and ± nudges.

    ``show_point(model, theta, grad, title)`` fills it (in place when the labels stay the
    same), ``clear(message)`` empties it. The caption shows the title and ‖∂L/∂θ‖.

    Signals:
        nudged(int, float): the index into θ of a nudged entry and the change to add to it
            (± the step).
    """

    nudged = pyqtSignal(int, float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = ParameterTableModel()
        self.proxy = ParameterFilter(self)
        self.proxy.setSourceModel(self.table)
        self.view = ParameterView()
        self.view.setObjectName("parameter_table")
        self.view.setModel(self.proxy)
        self.delegate = NudgeDelegate(self.view)
        self.view.setItemDelegate(self.delegate)
        self.view.setSortingEnabled(True)
        self.view.horizontalHeader().setSortIndicator(PARAM, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setWordWrap(False)
        self.view.setMouseTracking(True)
        self.view.viewport().installEventFilter(self)
        vertical = self.view.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # 10⁴ rows: no per-row measuring
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.view.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(PARAM, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(VALUE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(GRAD, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(NUDGE, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(NUDGE, self.delegate.sizeHint(QStyleOptionViewItem(), QModelIndex()).width())
        header.sortIndicatorChanged.connect(self._sort_indicator_changed)
        self._sort_indicator = (PARAM, Qt.SortOrder.AscendingOrder)
        self.view.setToolTip("θ entry by entry at this frame: click − / + (or select a row and press − / +) to "
                             "move one parameter by the step; click ∂L/∂θ's header for the steepest first")

        self.caption = QLabel("")
        self.caption.setObjectName("parameter_caption")
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        font = self.caption.font()
        font.setBold(True)
        self.caption.setFont(font)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # a long title
        self.caption.setMinimumWidth(40)                                                    # never widens the dock
        self.norm = QLabel("")
        self.norm.setObjectName("parameter_norm")
        self.norm.setTextFormat(Qt.TextFormat.PlainText)
        self.norm.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.norm.setToolTip("the length of the whole gradient, ‖∂L/∂θ‖ = √(Σᵢ (∂L/∂θᵢ)²)")

        self.class_filter = QComboBox()
        self.class_filter.setObjectName("parameter_class_filter")
        self.class_filter.setToolTip("only the parameters of one class's score (its weight column and bias), "
                                     "or of the network's hidden layer")
        self.class_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.class_filter.addItem("all parameters", ALL)
        self.class_filter.currentIndexChanged.connect(self._filter_changed)
        self.text_filter = QLineEdit()
        self.text_filter.setObjectName("parameter_text_filter")
        self.text_filter.setPlaceholderText("name contains… (W1, b)")
        self.text_filter.setClearButtonEnabled(True)
        self.text_filter.setToolTip("keep the parameters whose name contains this text (W1, b, [2,…)")
        self.text_filter.textChanged.connect(self._filter_changed)
        self.step_box = StepBox()
        self.step_box.setObjectName("parameter_step")
        self.step_box.setMinimumWidth(self.step_box.fontMetrics().horizontalAdvance("0.0005") + 40)
        self.step_box.setToolTip("how far one click of − or + moves a parameter (1e-4 to 10; "
                                 "the arrows go 0.1 → 0.2 → 0.5 → 1)")
        step_label = QLabel("step")
        step_label.setBuddy(self.step_box)

        self.summary = MutedLabel("")
        self.summary.setObjectName("parameter_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)

        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.norm)
        controls = QHBoxLayout()
        controls.addWidget(self.class_filter)
        controls.addWidget(self.text_filter, 1)
        controls.addSpacing(6)
        controls.addWidget(step_label)
        controls.addWidget(self.step_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(controls)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)

        self.delegate.clicked.connect(self._nudge)
        self.view.key_nudge.connect(self._nudge)
        self._grad = np.zeros(0)
        self._recolour()
        self.clear()

    # --- public ---------------------------------------------------------------------------------
    def show_point(self, model, theta, grad, title: str) -> None:
        """θ ``(P,)`` and ∂L/∂θ ``(P,)`` of ``model`` (None: a test surface, coordinates a, b) under ``title``."""
        theta = np.asarray(theta, dtype=float).ravel()
        grad = np.asarray(grad, dtype=float).ravel()
        if theta.shape != grad.shape:
            raise ValueError(f"theta {theta.shape} and its gradient {grad.shape} must have one shape")
        if model is not None and model.n_params != len(theta):
            raise ValueError(f"theta has {len(theta)} entries; the {model.kind} model has {model.n_params}")
        labels = model.labels if model is not None else surface_labels(len(theta))
        new_rows = labels != self.table.labels or model != self.table.model
        if new_rows:
            self._fill_class_filter(model)
            self.proxy.refilter(labels, coordinate_classes(model, len(theta)))  # the reset then filters once
        self.table.set_point(model, labels, theta, grad)
        if new_rows:
            self._size_columns()
        self._grad = grad
        self.caption.setText(title)
        self.caption.setToolTip(title)
        self._write_norm()

    def clear(self, message: str = "") -> None:
        """Nothing to show: no rows, ``message`` as the caption."""
        self._fill_class_filter(None)
        self.proxy.refilter((), np.zeros(0, dtype=int))
        self.table.set_point(None, (), np.zeros(0), np.zeros(0))
        self._grad = np.zeros(0)
        self.caption.setText(message)
        self.norm.setText("")
        self.summary.setText("")

    def step(self) -> float:
        return float(self.step_box.value())

    def set_step(self, step: float) -> None:
        self.step_box.setValue(step)

    def set_class_filter(self, key: int | None) -> None:
        """Show only class ``key``'s parameters (``ALL``: every one; ``HIDDEN``: the hidden layer's)."""
        position = self.class_filter.findData(key)
        if position < 0:
            raise ValueError(f"no class filter {key!r} for this model")
        self.class_filter.setCurrentIndex(position)

    def shown_labels(self) -> list[str]:
        """The labels of the rows on screen, top to bottom (after filtering and sorting)."""
        return [self.proxy.index(r, PARAM).data(VALUE_ROLE) for r in range(self.proxy.rowCount())]

    def nudge_rects(self, row: int) -> tuple[QRect, QRect]:
        """The "−" and "+" buttons of view row ``row``, in the view's viewport coordinates."""
        return self.delegate.button_rects(self.view.visualRect(self.proxy.index(row, NUDGE)))

    # --- internals ------------------------------------------------------------------------------
    def _nudge(self, index: QModelIndex, sign: int) -> None:
        if index.isValid():
            self.nudged.emit(int(index.data(INDEX_ROLE)), sign * self.step())

    def _fill_class_filter(self, model) -> None:
        keys: list[tuple[str, int | None]] = [("all parameters", ALL)]
        if model is not None:
            classes = coordinate_classes(model, model.n_params)
            keys += [(f"class {c}", c) for c in range(model.n_classes)]
            if (classes == HIDDEN).any():
                keys.append(("hidden layer (W1, b1)" if model.kind == "mlp" else "hidden layer", HIDDEN))
        current = self.class_filter.currentData()
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        for text, key in keys:
            self.class_filter.addItem(text, key)
        position = self.class_filter.findData(current)
        self.class_filter.setCurrentIndex(max(position, 0))
        self.class_filter.setEnabled(len(keys) > 1)
        self.class_filter.blockSignals(False)
        self.proxy.class_key = self.class_filter.currentData()

    def _filter_changed(self, *_) -> None:
        self.proxy.set_filter(self.class_filter.currentData(), self.text_filter.text())
        self._write_norm()

    def _write_norm(self) -> None:
        grad = self._grad
        if not len(grad):
            self.norm.setText("")
            self.summary.setText("")
            return
        with np.errstate(all="ignore"):
            norm = float(np.linalg.norm(grad))
        text = f"‖∂L/∂θ‖ = {norm:.4g}"
        shown = self.proxy.shown()
        filtered = len(shown) < len(grad)
        if filtered and len(shown):
            with np.errstate(all="ignore"):
                text += f"  (shown: {float(np.linalg.norm(grad[shown])):.4g})"
        self.norm.setText(text)
        count = f"{len(shown)} of {len(grad)} parameters" if filtered else f"{len(grad)} parameters"
        palette = self.palette()
        red, blue = (theme_color(name, palette).name() for name in ("wrong", "kink"))
        self.summary.setText(f"{count} · − / + (or keys) nudge by the step<br>"
                             f"∂L/∂θ <span style='color:{red}'>&gt; 0</span>: + raises the loss · "
                             f"<span style='color:{blue}'>&lt; 0</span>: + lowers it")

    def _size_columns(self) -> None:
        labels = self.table.labels
        metrics = self.view.fontMetrics()
        longest = max(labels, key=len, default="parameter")
        width = max(metrics.horizontalAdvance(longest), metrics.horizontalAdvance("parameter ▲")) + 24
        self.view.horizontalHeader().resizeSection(PARAM, width)

    def _sort_indicator_changed(self, section: int, order: Qt.SortOrder) -> None:
        if section == NUDGE:  # the buttons do not sort: the arrow goes back where the order came from
            header = self.view.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(*self._sort_indicator)
            header.blockSignals(False)
            return
        self._sort_indicator = (section, order)

    def _recolour(self) -> None:
        palette = self.palette()  # the view's follows it, but only after this widget hears of the change
        self.table.colors = {"positive": theme_color("wrong", palette), "negative": theme_color("kink", palette)}
        if self.table.rowCount():
            self.table.dataChanged.emit(self.table.index(0, GRAD), self.table.index(self.table.rowCount() - 1, GRAD))
            self._write_norm()  # the legend's shades

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in PALETTE_EVENTS and hasattr(self, "table"):  # a theme change: the other shades read
            self._recolour()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.view.viewport():
            if event.type() == QEvent.Type.MouseMove:
                self.delegate.hover(event.position().toPoint())
            elif event.type() == QEvent.Type.MouseButtonRelease:
                pressed = self.delegate.pressed_index()
                if pressed is not None and self.view.indexAt(event.position().toPoint()) != pressed:
                    self.delegate.release()  # released off its cell: the view tells the delegate nothing
            elif event.type() == QEvent.Type.Leave:
                self.delegate.hover(None)
        return super().eventFilter(watched, event)


__all__ = ["ParameterEditor", "ParameterTableModel", "ParameterFilter", "NudgeDelegate", "SORT_ROLE", "INDEX_ROLE",
           "VALUE_ROLE", "ALL", "HIDDEN", "PARAM", "VALUE", "GRAD", "NUDGE", "coordinate_classes"]
