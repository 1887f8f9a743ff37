"""Input widgets built from the engine's ``Param`` descriptions.

Every number is typed into a field that checks it with ``Param.validate``: an empty,
NaN or out-of-range entry is refused with the reason shown beside it, and the last good
value is put back, so the session never sees a bad value.
"""
from __future__ import annotations

import math
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QSlider, QWidget

from ..engine.registry import Param

ERROR_STYLE = "QLineEdit { border: 1px solid #d62728; background: rgba(214, 39, 40, 40); }"


def format_number(value: float, kind: type = float) -> str:
    if kind is int:
        return str(int(value))
    return f"{value:.6g}"


class NumberField(QLineEdit):
    """A line edit for one numeric ``Param``.

    Signals:
        committed(object): a valid new value was entered (Enter or focus out).
        rejected(str): an entry was refused; the message says why.
    """

    committed = pyqtSignal(object)
    rejected = pyqtSignal(str)

    def __init__(self, param: Param, value: Any = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.param = param
        self._value = param.default if value is None else value
        self.setText(format_number(self._value, param.kind))
        self.setToolTip(param.help or param.label)
        self.setObjectName(f"field_{param.name}")
        self.editingFinished.connect(self._commit)
        self.textEdited.connect(lambda _: self.setStyleSheet(""))

    def value(self) -> Any:
        return self._value

    def set_value(self, value: Any) -> None:
        """Show ``value`` (from the session) without emitting ``committed``."""
        self._value = value
        self.setText(format_number(value, self.param.kind))
        self.setStyleSheet("")

    def _commit(self) -> None:
        text = self.text().strip()
        try:
            if not text:
                raise ValueError(f"{self.param.name} is empty: type a number")
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"{self.param.name}: {text!r} is not a number") from None
            value = self.param.validate(number if self.param.kind is float or not number.is_integer() else int(number))
        except ValueError as err:
            self.setStyleSheet(ERROR_STYLE)
            self.setText(format_number(self._value, self.param.kind))
            self.rejected.emit(str(err))
            return
        self.setStyleSheet("")
        if value != self._value:
            self._value = value
            self.setText(format_number(value, self.param.kind))
            self.committed.emit(value)


class LogSlider(QWidget):
    """A log-scale slider with a number field, for strengths such as λ (0 is the left end).

    Signals:
        committed(object): the value changed (slider released or moved, or a typed value).
        rejected(str): a typed value was refused.
    """

    committed = pyqtSignal(object)
    rejected = pyqtSignal(str)
    STEPS = 400

    def __init__(self, param: Param, value: float, low_exp: float = -5.0, high_exp: float = 2.0,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.param, self.low_exp, self.high_exp = param, low_exp, high_exp
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, self.STEPS)
        self.slider.setObjectName(f"slider_{param.name}")
        self.slider.setToolTip(param.help)
        self.field = NumberField(param, value)
        self.field.setMaximumWidth(80)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.field)
        self._sync_slider(value)
        self.slider.valueChanged.connect(self._slid)
        self.field.committed.connect(self._typed)
        self.field.rejected.connect(self.rejected)

    def value(self) -> float:
        return self.field.value()

    def set_value(self, value: float) -> None:
        self.field.set_value(value)
        self._sync_slider(value)

    def _sync_slider(self, value: float) -> None:
        self.slider.blockSignals(True)
        if value <= 0:
            self.slider.setValue(0)
        else:
            position = (math.log10(value) - self.low_exp) / (self.high_exp - self.low_exp)
            self.slider.setValue(round(min(max(position, 0.0), 1.0) * self.STEPS))
        self.slider.blockSignals(False)

    def _slid(self, position: int) -> None:
        # the left end is exactly 0 (no penalty); the rest spans 10^low .. 10^high
        value = 0.0 if position == 0 else 10 ** (self.low_exp + position / self.STEPS * (self.high_exp - self.low_exp))
        value = float(f"{value:.3g}")
        self.field.set_value(value)
        self.committed.emit(value)

    def _typed(self, value: float) -> None:
        self._sync_slider(value)
        self.committed.emit(value)


class ParamForm(QWidget):
    """A form with one editor per ``Param``: number fields, check boxes and combo boxes.

    Signals:
        changed(str, object): parameter ``name`` got a new valid value.
        rejected(str): an entry was refused (the message names the parameter).
    """

    changed = pyqtSignal(str, object)
    rejected = pyqtSignal(str)

    def __init__(self, params: tuple[Param, ...] | list[Param], values: dict[str, Any] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.editors: dict[str, QWidget] = {}
        values = values or {}
        for param in params:
            value = values.get(param.name, param.default)
            editor = self._editor(param, value)
            label = QLabel(param.label or param.name)
            label.setToolTip(param.help)
            self.layout_.addRow(label, editor)
            self.editors[param.name] = editor

    def _editor(self, param: Param, value: Any) -> QWidget:
        name = param.name
        if param.kind is bool:
            box = QCheckBox()
            box.setChecked(bool(value))
            box.setToolTip(param.help)
            box.setObjectName(f"check_{name}")
            box.toggled.connect(lambda on: self.changed.emit(name, bool(on)))
            return box
        if param.kind is str:
            combo = QComboBox()
            combo.addItems(param.choices)
            combo.setCurrentText(str(value))
            combo.setToolTip(param.help)
            combo.setObjectName(f"combo_{name}")
            combo.currentTextChanged.connect(lambda text: self.changed.emit(name, text))
            return combo
        editor = LogSlider(param, value) if param.log else NumberField(param, value)
        editor.committed.connect(lambda v: self.changed.emit(name, v))
        editor.rejected.connect(self.rejected)
        return editor

    def set_values(self, values: dict[str, Any]) -> None:
        """Show the session's values without emitting ``changed``."""
        for name, value in values.items():
            editor = self.editors.get(name)
            if editor is None:
                continue
            editor.blockSignals(True)
            if isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QComboBox):
                editor.setCurrentText(str(value))
            else:
                editor.set_value(value)
            editor.blockSignals(False)
