"""Input widgets built from the engine's ``Param`` descriptions.

Every number is typed into a field that checks it with ``Param.validate``: an empty,
NaN or out-of-range entry is refused with the reason shown beside it, and the last good
value is put back, so the session never sees a bad value.
"""
from __future__ import annotations

import functools
import html
import math
import re
from typing import Any

from PyQt6.QtCore import QEvent, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import (QApplication, QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QSlider,
                             QWidget)

from ..engine.registry import Param

# Work split over turns of the event loop (a view's repaint, an editor's first showing) waits this
# long between turns: a zero single shot is a queued call, delivered with the events already posted
# (measured: back to back, now and then); a 1 ms timer waits for input and the other timers.
TURN_MS = 1

ERROR_STYLE = "QLineEdit { border: 1px solid #d62728; background: rgba(214, 39, 40, 40); }"

# Colours that carry meaning, one shade per theme: each reads at 4.5:1 or more (WCAG AA for
# text) on that theme's backgrounds, white or #efefef in the light one, #1e1e1e to #353535 in the dark.
THEME_COLORS = {
    "light": {"good": "#1a6e1a", "acceptable": "#6b6b00", "kink": "#1f5fa8", "suspect": "#a65200",
              "wrong": "#c41e1e", "error": "#c41e1e"},
    "dark": {"good": "#5cd65c", "acceptable": "#d4d45a", "kink": "#6cb4ee", "suspect": "#ffa64d",
             "wrong": "#ff7b7b", "error": "#ff7b7b"},
}
TEXT_CONTRAST = 4.5  # WCAG AA for normal text
PALETTE_EVENTS = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def theme_color(name: str, palette: QPalette | None = None) -> QColor:
    """The shade of a meaningful colour (a verdict, "error") for the theme of ``palette`` (the application's)."""
    palette = palette if palette is not None else QApplication.palette()
    return QColor(THEME_COLORS["dark" if is_dark(palette) else "light"][name])


def relative_luminance(color: QColor) -> float:
    """WCAG 2's relative luminance of an sRGB colour: 0 for black, 1 for white."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * linear(color.redF()) + 0.7152 * linear(color.greenF()) + 0.0722 * linear(color.blueF())


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG 2's (L1 + 0.05) / (L2 + 0.05), from 1 (none) to 21 (black on white)."""
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def muted_color(text: QColor, background: QColor, ratio: float = 5.0) -> QColor:
    """``text`` blended towards ``background`` as far as it goes while keeping ``ratio`` against it.

    Secondary text (formulas, hints) then looks quieter than the rest in either theme; a
    fixed gray cannot do that (gray on #2b2b2b is 3.6:1).
    """
    best = QColor(text)
    for step in range(1, 20):
        t = step / 20
        mixed = QColor.fromRgbF(*(t * b + (1 - t) * a for a, b in zip(text.getRgbF()[:3], background.getRgbF()[:3])))
        if contrast_ratio(mixed, background) < ratio:
            break
        best = mixed
    return best


# the registries write formulas in plain Unicode (the command line prints them); Unicode's
# subscript letters are tiny in most fonts, so labels show them as rich-text subscripts
SUBSCRIPTS = dict(zip("ᵢⱼᵧₖₗₜₙₘₐₑₒₓ₀₁₂₃₄₅₆₇₈₉", "ijyklt" "nmaeox0123456789"))
SUPERSCRIPTS = dict(zip("ᵗᵏⁿ", "tkn"))
_SUB = "".join(SUBSCRIPTS)
_SUB_RUN = re.compile(f"[{_SUB}](?:[{_SUB}≠]*[{_SUB}])?")  # "ⱼ≠ᵧᵢ" is one subscript
_SUP_RUN = re.compile(f"[{''.join(SUPERSCRIPTS)}]+")


def formula_html(text: str) -> str:
    """A registry formula as rich text: ``Σⱼ≠ᵧᵢ`` becomes ``Σ<sub>j≠yi</sub>``; lines are kept."""
    out = html.escape(text, quote=False).replace("  ", "&nbsp; ")  # rich text would fold the wide gaps
    out = _SUB_RUN.sub(lambda m: "<sub>" + "".join(SUBSCRIPTS.get(c, c) for c in m.group()) + "</sub>", out)
    out = _SUP_RUN.sub(lambda m: "<sup>" + "".join(SUPERSCRIPTS[c] for c in m.group()) + "</sup>", out)
    return out.replace("\n", "<br>")


class MutedLabel(QLabel):
    """Secondary text (a formula, a description, a hint): quieter than the labels, still readable.

    Its colour follows the theme: it is recomputed whenever the palette changes. The Python
    work done inside Qt's palette delivery (every widget of every live window gets it) is kept
    small: the colour is looked up, not searched for again, and the PaletteChange that setting it
    sends back is not answered with a second pass. (Less allocation there, fewer chances for a
    garbage-collector pass to start inside the handler; what such a pass does to a window that was
    closed but not deleted is in tests/test_widget_teardown.py.)
    """

    _recolouring = False  # setPalette below sends this label a PaletteChange of its own

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(text, parent)
        self._recolour()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in PALETTE_EVENTS and not self._recolouring:
            self._recolour()

    def _recolour(self) -> None:
        palette = self.palette()
        text = QApplication.palette().color(QPalette.ColorRole.WindowText)  # the theme's, not our own
        color = _muted_on(text, palette.color(QPalette.ColorRole.Window))
        if palette.color(QPalette.ColorRole.WindowText) != color:
            own = QPalette()  # only the text colour is ours: every other role still follows the theme
            own.setColor(QPalette.ColorRole.WindowText, color)
            self._recolouring = True
            try:
                self.setPalette(own)
            finally:
                self._recolouring = False


def _muted_on(text: QColor, background: QColor) -> QColor:
    """``muted_color(text, background)``, remembered: a theme has a handful of (text, background) pairs
    (8-bit colours, as the themes' palettes are written)."""
    return QColor(_muted_cached(text.rgba(), background.rgba()))  # a copy: the remembered one stays as it is


@functools.lru_cache(maxsize=64)
def _muted_cached(text: int, background: int) -> QColor:
    return muted_color(QColor.fromRgba(text), QColor.fromRgba(background))


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
        # only what changed: a commit syncs every field, and each new text or style sheet lays the
        # form out again (style sheets re-polish the field even when both are empty)
        text = format_number(value, self.param.kind)
        if text != self.text():
            self.setText(text)
        if self.styleSheet():
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
