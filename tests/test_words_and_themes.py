"""Figures that read right: text contrast in both themes, formulas as math, the words of the window."""
import re

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QSettings, Qt  # noqa: E402
from PyQt6.QtGui import QColor, QPalette  # noqa: E402
from PyQt6.QtWidgets import QCheckBox, QLabel  # noqa: E402

from losslab.app.readout import GRADCHECK, STATUS, VERDICTS  # noqa: E402
from losslab.app.session import Session  # noqa: E402
from losslab.app.widgets import THEME_COLORS, formula_html  # noqa: E402
from losslab.app.window import MainWindow  # noqa: E402
from losslab.engine import datasets, losses, optimizers, planes, regularizers, schedules, surfaces  # noqa: E402
from losslab.engine.experiment import Experiment, PlaneSpec  # noqa: E402
from losslab.engine.gradcheck import GradCheck, describe_check, grad_check  # noqa: E402
from losslab.engine.objective import Objective  # noqa: E402

REGISTRIES = (losses.LOSSES, regularizers.REGULARIZERS, optimizers.OPTIMIZERS, datasets.DATASETS, datasets.BUNDLED,
              surfaces.SURFACES, planes.PLANES, schedules.SCHEDULES)
ROLE = QPalette.ColorRole


def luminance(color: QColor) -> float:
    """WCAG 2 relative luminance, written out here as the reference."""
    channels = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
                for c in (color.redF(), color.greenF(), color.blueF())]
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def contrast(a: QColor, b: QColor) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_reference():
    assert contrast(QColor("black"), QColor("white")) == pytest.approx(21.0)
    assert contrast(QColor("#777777"), QColor("white")) == pytest.approx(4.48, abs=0.01)
    assert contrast(QColor("#bcbd22"), QColor("white")) < 4.5  # the old "acceptable" olive


def idle(qtbot, window, timeout=20_000):
    qtbot.waitUntil(lambda: not window.session.jobs.busy and bool(window.results) and window.session.landscape is not None,
                    timeout=timeout)


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(Session(Experiment(plane=PlaneSpec(resolution=64), steps=30)), settings=settings)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    idle(qtbot, win)
    yield win
    win.close()  # the next window sets the application's palette to its own theme


def set_theme(qtbot, window, theme: str) -> None:
    window.session.set_view(theme=theme)
    # Qt hands the new palette to the widgets through the event loop
    qtbot.waitUntil(lambda: (window.readout.palette().color(ROLE.Base).lightness() < 128) == (theme == "dark"))
    qtbot.wait(10)  # and the rest of the posted palette events


def cell_color(readout, item) -> QColor:
    """The colour an item's text is drawn in: its own foreground, else the table's text colour."""
    if item.data(Qt.ItemDataRole.ForegroundRole) is not None:
        return item.foreground().color()
    return readout.palette().color(ROLE.Text)


def fill_readout(readout) -> None:
    """Rows whose status and grad-check cells carry every meaning: running, diverged and each verdict."""
    readout.stop()  # no background check overwrites the cells
    statuses = ["running", "diverged", "converged", "running", "running"]
    readout._set_rows([["run", "3", "1", "0", "1", "50%", "0.1", "0.1, 0 · —", "0", status] for status in statuses],
                      ["#1f77b4"] * len(statuses))
    for row, verdict in enumerate(VERDICTS):
        readout._set_gradcheck(row, f"1e-3 {verdict}", verdict)


def icon_color(button) -> QColor:
    """The colour of a transport button's symbol, sampled from its opaque pixels."""
    image = button.icon().pixmap(32, 32).toImage()
    colors = {image.pixelColor(x, y).name() for x in range(32) for y in range(32) if image.pixelColor(x, y).alpha() == 255}
    assert len(colors) == 1, colors
    return QColor(colors.pop())


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_text_reads_at_4_5_to_1(qtbot, window, theme):
    set_theme(qtbot, window, theme)
    fill_readout(window.readout)
    window.show_message("a refused value")
    checked = 0
    for label in window.findChildren(QLabel):
        if label.text() and label is not window.message_label:
            palette = label.palette()
            assert contrast(palette.color(ROLE.WindowText), palette.color(ROLE.Window)) >= 4.5, label.text()
            checked += 1
    assert checked > 10  # labels of the panels, the transport bar, the formulas and hints
    for box in window.findChildren(QCheckBox):
        palette = box.palette()
        assert contrast(palette.color(ROLE.WindowText), palette.color(ROLE.Window)) >= 4.5, box.text()
    loop = window.transport.loop
    assert contrast(loop.palette().color(ROLE.WindowText), loop.palette().color(ROLE.Window)) >= 4.5

    readout = window.readout
    base = readout.palette().color(ROLE.Base)
    for row in range(readout.rowCount()):
        for column in range(readout.columnCount()):
            item = readout.item(row, column)
            if item is not None and item.text():
                assert contrast(cell_color(readout, item), base) >= 4.5, (item.text(), cell_color(readout, item).name())
    for button in window.transport.buttons.values():
        assert contrast(icon_color(button), button.palette().color(ROLE.Button)) >= 4.5, button.objectName()

    error = re.search(r"color:\s*(#[0-9a-fA-F]{6})", window.message_label.styleSheet())
    assert error, window.message_label.styleSheet()
    assert contrast(QColor(error.group(1)), window.message_label.palette().color(ROLE.Window)) >= 4.5
    # the legend in the readout's tooltip shows each verdict in its colour, on the tooltip's background
    legend = readout.toolTip()
    tip = readout.palette().color(ROLE.ToolTipBase)
    for verdict in VERDICTS:
        assert f"color: {THEME_COLORS[theme][verdict]}'><b>{verdict}</b>" in legend
        assert contrast(QColor(THEME_COLORS[theme][verdict]), tip) >= 4.5


def test_readout_and_icons_follow_a_theme_switch(qtbot, window):
    set_theme(qtbot, window, "light")
    fill_readout(window.readout)
    light_icon = icon_color(window.transport.play)
    set_theme(qtbot, window, "dark")  # no new frame: the cells must change colour by themselves
    readout = window.readout
    base = readout.palette().color(ROLE.Base)
    assert base.lightness() < 128
    running, diverged = readout.item(0, STATUS), readout.item(1, STATUS)
    assert (running.text(), diverged.text()) == ("running", "diverged")
    assert contrast(cell_color(readout, running), base) >= 4.5
    assert cell_color(readout, diverged).name() == THEME_COLORS["dark"]["wrong"]
    for row, verdict in enumerate(VERDICTS):
        assert cell_color(readout, readout.item(row, GRADCHECK)).name() == THEME_COLORS["dark"][verdict]
    dark_icon = icon_color(window.transport.play)
    assert dark_icon != light_icon and dark_icon.lightness() > 128
    set_theme(qtbot, window, "light")
    assert cell_color(readout, readout.item(1, STATUS)).name() == THEME_COLORS["light"]["wrong"]
    set_theme(qtbot, window, "dark")
    window.clock.play()  # the pause symbol is drawn in the theme's colour too
    assert contrast(icon_color(window.transport.play), window.transport.play.palette().color(ROLE.Button)) >= 4.5
    window.clock.pause()


def test_muted_labels_stay_quieter_than_the_text(qtbot, window):
    for theme in ("light", "dark"):
        set_theme(qtbot, window, theme)
        hint = next(label for label in window.findChildren(QLabel) if label.text().startswith("Click a contour"))
        palette = hint.palette()
        text = window.palette().color(ROLE.WindowText)
        assert palette.color(ROLE.WindowText) != text  # quieter than a label
        assert contrast(palette.color(ROLE.WindowText), palette.color(ROLE.Window)) >= 4.5  # and still readable


# --- words and formulas -----------------------------------------------------------------------------

@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: next(iter(r)))
def test_formulas_are_plain_unicode_math(registry):
    for entry in registry.values():
        for text in (entry.formula, entry.description, *(p.label for p in entry.params)):
            for leftover in ("_{", "^{", "\\"):
                assert leftover not in text, (entry.name, text)


def test_formulas_show_subscripts_as_rich_text():
    assert formula_html(losses.LOSSES["svm"].formula) == \
        "L<sub>i</sub> = Σ<sub>j≠yi</sub> max(0, s<sub>j</sub> − s<sub>yi</sub> + Δ)"
    assert formula_html("L(θ') < L(θ)\nγᵗ") == "L(θ') &lt; L(θ)<br>γ<sup>t</sup>"


def test_loss_formula_label_shows_the_registry_formula(qtbot, window):
    label = window.objective_panel.loss_formula
    assert label.textFormat() == Qt.TextFormat.RichText
    assert label.text() == formula_html(losses.LOSSES["svm"].formula)


def made_check(error, verdict, near_kink=0, within=False):
    zeros = np.zeros(9)
    return GradCheck(zeros, zeros, zeros, error, verdict, near_kink, 1e-5, 1e-9, 0, zeros, within)


@pytest.mark.parametrize("check, verdict", [
    (made_check(0.65, "wrong", near_kink=2), "kink"),
    (made_check(5e-3, "suspect", near_kink=1, within=True), "kink"),
    (made_check(0.65, "wrong"), "wrong"),  # a real mismatch keeps its name
    (made_check(5e-3, "suspect", within=True), "acceptable"),
    (made_check(1e-9, "good", near_kink=1), "good"),
])
def test_kink_has_its_own_verdict(check, verdict):
    text, shown = describe_check(check, 9)
    assert shown == verdict
    assert (" kink " in text) == (verdict == "kink")


def test_a_real_hinge_kink_reads_kink():
    obj = Objective(np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([0, 1]), loss="svm")
    theta = obj.flatten(np.zeros((2, 2)), np.array([1.0, 0.0]))  # example 0 sits on the hinge
    text, verdict = describe_check(grad_check(obj, theta), obj.n_params)
    assert verdict == "kink" and "wrong" not in text and "suspect" not in text


# --- the window's words ---------------------------------------------------------------------------

def test_title_marks_an_opened_preset_as_modified(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.session.committed, timeout=30_000):
        assert window.open_session("06-momentum-rosenbrock")
    idle(qtbot, window)
    title = "losslab — The momentum family on Rosenbrock"
    assert window.windowTitle() == title
    steps = window.session.experiment.steps
    with qtbot.waitSignal(window.session.committed, timeout=30_000):
        window.session.set_steps(steps + 5)
    assert window.windowTitle() == f"{title} (modified)"
    with qtbot.waitSignal(window.session.committed, timeout=30_000):
        window.session.set_steps(steps)  # back to the file's experiment
    assert window.windowTitle() == title
    with qtbot.waitSignal(window.session.committed, timeout=30_000):
        window.session.set_steps(steps + 5)
    assert window.windowTitle().endswith("(modified)")
    window.save_session(tmp_path / "mine.json")  # the file now holds what is shown
    assert window.windowTitle() == title


def test_a_committed_change_clears_an_old_error_and_the_hover(qtbot, window):
    window.show_message("steps must be at least 1")
    window.on_hover(0.5, -0.5, 1.25)
    assert window.message_label.text() and window.hover_label.text()
    with qtbot.waitSignal(window.session.committed, timeout=30_000):
        window.session.set_steps(window.session.experiment.steps + 3)
    assert window.message_label.text() == "" and window.message_label.styleSheet() == ""
    assert window.hover_label.text() == ""
    window.show_message("Saved somewhere", error=False)  # news is not an error: it stays
    with qtbot.waitSignal(window.session.committed, timeout=30_000):
        window.session.set_steps(window.session.experiment.steps + 3)
    assert window.message_label.text() == "Saved somewhere"
