"""The parameter table: θ and ∂L/∂θ entry by entry, filters, sorting, and ± nudges driven with the mouse and keys."""
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QPoint, Qt  # noqa: E402
from PyQt6.QtGui import QColor, QPalette  # noqa: E402

from losslab.app.param_editor import (ALL, GRAD, HIDDEN, INDEX_ROLE, NUDGE, PARAM, SORT_ROLE, VALUE,  # noqa: E402
                                      VALUE_ROLE, ParameterEditor)
from losslab.app.widgets import theme_color  # noqa: E402
from losslab.engine.models import make_model  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def point(model, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(model.n_params), rng.standard_normal(model.n_params)


@pytest.fixture
def editor(qtbot):
    widget = ParameterEditor()
    qtbot.addWidget(widget)
    widget.resize(420, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def column(editor, col, role=VALUE_ROLE):
    proxy = editor.proxy
    return [proxy.index(r, col).data(role) for r in range(proxy.rowCount())]


def click_nudge(qtbot, editor, row, sign):
    minus, plus = editor.nudge_rects(row)
    qtbot.mouseClick(editor.view.viewport(), Qt.MouseButton.LeftButton, pos=(plus if sign > 0 else minus).center())


def click_header(qtbot, editor, section):
    header = editor.view.horizontalHeader()
    pos = QPoint(header.sectionViewportPosition(section) + header.sectionSize(section) // 2, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_every_entry_shows_its_value_and_gradient(editor):
    model = make_model("linear", 2, 3)
    theta, grad = point(model)
    editor.show_point(model, theta, grad, "gradient descent, step 12")
    assert column(editor, PARAM) == list(model.labels)
    np.testing.assert_array_equal(column(editor, VALUE), theta)
    np.testing.assert_array_equal(column(editor, GRAD), grad)
    assert column(editor, PARAM, INDEX_ROLE) == list(range(model.n_params))
    # what is on screen: ~4 significant digits of the same numbers
    assert column(editor, VALUE, Qt.ItemDataRole.DisplayRole) == [f"{v:.4g}" for v in theta]
    assert column(editor, GRAD, Qt.ItemDataRole.DisplayRole) == [f"{g:.4g}" for g in grad]
    assert editor.caption.text() == "gradient descent, step 12"
    assert f"{np.linalg.norm(grad):.4g}" in editor.norm.text()
    # the gradient's sign picks its colour: the theme's red above 0, its blue below
    palette = editor.view.palette()
    colours = column(editor, GRAD, Qt.ItemDataRole.ForegroundRole)
    for g, c in zip(grad, colours):
        assert QColor(c) == theme_color("wrong" if g > 0 else "kink", palette)


def test_clicking_plus_and_minus_emits_that_entrys_index_and_the_step(qtbot, editor):
    model = make_model("linear", 2, 3)
    theta, grad = point(model)
    editor.show_point(model, theta, grad, "gd")
    for row, sign in ((0, 1), (4, -1), (8, 1)):
        with qtbot.waitSignal(editor.nudged, timeout=1000) as blocker:
            click_nudge(qtbot, editor, row, sign)
        assert blocker.args == [row, sign * 0.1]
    # a click between the buttons or on a number nudges nothing
    with qtbot.assertNotEmitted(editor.nudged):
        minus, plus = editor.nudge_rects(2)
        gap = QPoint((minus.right() + plus.left()) // 2, minus.center().y())
        qtbot.mouseClick(editor.view.viewport(), Qt.MouseButton.LeftButton, pos=gap)
        qtbot.mouseClick(editor.view.viewport(), Qt.MouseButton.LeftButton,
                         pos=editor.view.visualRect(editor.proxy.index(2, VALUE)).center())
        # pressed on "+" and released away from it, as with a real button: nothing
        viewport = editor.view.viewport()
        qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=editor.nudge_rects(1)[1].center())
        qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton,
                           pos=editor.view.visualRect(editor.proxy.index(1, VALUE)).center())
    assert editor.delegate._pressed is None


def test_the_step_sets_the_delta(qtbot, editor):
    model = make_model("linear", 2, 3)
    editor.show_point(model, *point(model), "gd")
    editor.step_box.setValue(0.005)
    assert editor.step() == pytest.approx(0.005)
    with qtbot.waitSignal(editor.nudged, timeout=1000) as blocker:
        click_nudge(qtbot, editor, 3, -1)
    assert blocker.args[0] == 3 and blocker.args[1] == pytest.approx(-0.005)
    # the arrows walk a 1-2-5 ladder and stay in 1e-4..10
    editor.set_step(0.1)
    editor.step_box.stepBy(1)
    assert editor.step() == pytest.approx(0.2)
    editor.step_box.stepBy(-2)
    assert editor.step() == pytest.approx(0.05)
    editor.step_box.stepBy(100)
    assert editor.step() == pytest.approx(10)
    editor.step_box.stepBy(-100)
    assert editor.step() == pytest.approx(1e-4)
    editor.set_step(1e9)
    assert editor.step() == pytest.approx(10)


def test_sorted_and_filtered_rows_nudge_the_entry_under_the_mouse(qtbot, editor):
    model = make_model("linear", 2, 3)
    theta, grad = point(model, seed=3)
    editor.show_point(model, theta, grad, "gd")
    click_header(qtbot, editor, GRAD)  # the first click: steepest first
    order = np.argsort(-np.abs(grad), kind="stable")
    assert column(editor, PARAM, INDEX_ROLE) == list(order)
    assert column(editor, GRAD, SORT_ROLE) == sorted(np.abs(grad), reverse=True)
    for row in (0, 5):
        with qtbot.waitSignal(editor.nudged, timeout=1000) as blocker:
            click_nudge(qtbot, editor, row, 1)
        assert blocker.args == [int(order[row]), 0.1]
    editor.set_class_filter(1)
    shown = [i for i in order if model.labels[i] in ("W[0,1]", "W[1,1]", "b[1]")]
    assert column(editor, PARAM, INDEX_ROLE) == shown
    with qtbot.waitSignal(editor.nudged, timeout=1000) as blocker:
        click_nudge(qtbot, editor, 2, -1)
    assert blocker.args == [int(shown[2]), -0.1]
    click_header(qtbot, editor, GRAD)  # again: the gentlest first
    assert column(editor, PARAM, INDEX_ROLE) == shown[::-1]
    click_header(qtbot, editor, NUDGE)  # the buttons do not sort: the order and the arrow stay
    assert column(editor, PARAM, INDEX_ROLE) == shown[::-1]
    assert editor.view.horizontalHeader().sortIndicatorSection() == GRAD


def test_keys_nudge_the_selected_row(qtbot, editor):
    model = make_model("linear", 2, 3)
    editor.show_point(model, *point(model), "gd")
    editor.view.sortByColumn(VALUE, Qt.SortOrder.AscendingOrder)
    editor.view.setFocus()
    editor.view.selectRow(4)
    target = editor.proxy.index(4, PARAM).data(INDEX_ROLE)
    for key, sign in ((Qt.Key.Key_Plus, 1), (Qt.Key.Key_Minus, -1), (Qt.Key.Key_Equal, 1)):
        with qtbot.waitSignal(editor.nudged, timeout=1000) as blocker:
            qtbot.keyClick(editor.view, key)
        assert blocker.args == [target, sign * 0.1]
    editor.view.clearSelection()
    with qtbot.assertNotEmitted(editor.nudged):
        qtbot.keyClick(editor.view, Qt.Key.Key_Plus)


def test_the_class_filter_keeps_one_class_of_a_linear_model(editor):
    model = make_model("linear", 2, 3)
    editor.show_point(model, *point(model), "gd")
    items = [editor.class_filter.itemText(k) for k in range(editor.class_filter.count())]
    assert items == ["all parameters", "class 0", "class 1", "class 2"]  # no hidden layer
    editor.set_class_filter(1)
    assert editor.shown_labels() == ["W[0,1]", "W[1,1]", "b[1]"]
    editor.set_class_filter(2)
    assert editor.shown_labels() == ["W[0,2]", "W[1,2]", "b[2]"]
    assert "shown" in editor.norm.text()
    editor.set_class_filter(ALL)
    assert editor.shown_labels() == list(model.labels)
    with pytest.raises(ValueError):
        editor.set_class_filter(HIDDEN)


def test_the_class_filter_of_a_network(editor):
    D, H, C = 2, 4, 3
    model = make_model("mlp", D, C, hidden=H)
    theta, grad = point(model)
    editor.show_point(model, theta, grad, "sgd")
    assert editor.class_filter.findData(HIDDEN) >= 0
    for c in range(C):
        editor.set_class_filter(c)
        assert editor.shown_labels() == [f"W2[{h},{c}]" for h in range(H)] + [f"b2[{c}]"]
        shown = column(editor, PARAM, INDEX_ROLE)
        np.testing.assert_array_equal(column(editor, GRAD), grad[shown])
    editor.set_class_filter(HIDDEN)
    assert editor.shown_labels() == [label for label in model.labels if label.startswith(("W1", "b1"))]
    editor.set_class_filter(ALL)
    assert len(editor.shown_labels()) == model.n_params
    # the text filter narrows whatever the class filter keeps
    editor.text_filter.setText("b")
    assert editor.shown_labels() == [label for label in model.labels if label.startswith("b")]
    editor.set_class_filter(1)
    assert editor.shown_labels() == ["b2[1]"]
    editor.text_filter.setText("W1")
    assert editor.shown_labels() == []
    editor.set_class_filter(ALL)
    assert editor.shown_labels() == [label for label in model.labels if label.startswith("W1")]
    # a square network (H = C) still tells its hidden layer from its classes
    square = make_model("mlp", 2, 3, hidden=3)
    editor.text_filter.clear()
    editor.show_point(square, *point(square), "sgd")
    editor.set_class_filter(0)
    assert editor.shown_labels() == ["W2[0,0]", "W2[1,0]", "W2[2,0]", "b2[0]"]


def test_a_new_frame_updates_in_place(qtbot, editor):
    model = make_model("mlp", 4, 3, hidden=32)
    theta, grad = point(model)
    editor.show_point(model, theta, grad, "step 1")
    editor.view.selectRow(40)
    bar = editor.view.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(bar.maximum() // 2)
    selected = editor.view.selectionModel().selectedRows()[0].data(INDEX_ROLE)
    theta2, grad2 = point(model, seed=1)
    with qtbot.assertNotEmitted(editor.table.modelReset), qtbot.assertNotEmitted(editor.proxy.modelReset):
        editor.show_point(model, theta2, grad2, "step 2")
    np.testing.assert_array_equal(column(editor, VALUE), theta2)
    assert bar.value() == bar.maximum() // 2
    assert [i.data(INDEX_ROLE) for i in editor.view.selectionModel().selectedRows()] == [selected]
    assert editor.caption.text() == "step 2"
    # sorted by |∂L/∂θ|, a new frame re-ranks the rows, and the selection follows its parameter
    editor.view.sortByColumn(GRAD, Qt.SortOrder.DescendingOrder)
    with qtbot.assertNotEmitted(editor.table.modelReset):
        editor.show_point(model, theta, grad, "step 3")
    assert column(editor, PARAM, INDEX_ROLE) == list(np.argsort(-np.abs(grad), kind="stable"))
    assert [i.data(INDEX_ROLE) for i in editor.view.selectionModel().selectedRows()] == [selected]
    # other labels: a reset, and the table is the new model's
    other = make_model("linear", 4, 3)
    with qtbot.waitSignal(editor.table.modelReset, timeout=1000):
        editor.show_point(other, *point(other), "linear")
    assert sorted(editor.shown_labels()) == sorted(other.labels)


def test_ten_thousand_parameters_need_no_widget_per_row(qtbot, editor):
    model = make_model("mlp", 64, 10, hidden=150)  # a digits-sized network
    assert model.n_params > 10_000
    theta, grad = point(model)
    editor.show_point(model, theta, grad, "sgd")
    assert editor.proxy.rowCount() == model.n_params
    view = editor.view
    visible = [view.rowAt(y) for y in range(0, view.viewport().height(), 5)]
    for row in {r for r in visible if r >= 0}:
        for col in range(4):
            assert view.indexWidget(editor.proxy.index(row, col)) is None
    editor.show_point(model, theta * 2, grad, "sgd")
    click_header(qtbot, editor, GRAD)
    assert editor.proxy.index(0, PARAM).data(INDEX_ROLE) == int(np.argmax(np.abs(grad)))
    view.scrollToBottom()
    last = editor.proxy.rowCount() - 1
    with qtbot.waitSignal(editor.nudged, timeout=1000) as blocker:
        click_nudge(qtbot, editor, last, 1)
    assert blocker.args == [int(np.argmin(np.abs(grad))), 0.1]


def test_a_test_surface_and_nothing(qtbot, editor):
    editor.show_point(None, np.array([1.5, -2.0]), np.array([0.25, 0.0]), "Rosenbrock")
    assert editor.shown_labels() == ["a", "b"]
    assert not editor.class_filter.isEnabled()
    np.testing.assert_array_equal(column(editor, VALUE), [1.5, -2.0])
    with qtbot.waitSignal(editor.nudged, timeout=1000) as blocker:
        click_nudge(qtbot, editor, 1, -1)
    assert blocker.args == [1, -0.1]
    editor.clear("no run selected")
    assert editor.proxy.rowCount() == 0
    assert editor.caption.text() == "no run selected" and editor.norm.text() == ""
    with pytest.raises(ValueError):
        editor.show_point(make_model("linear", 2, 3), np.zeros(5), np.zeros(5), "bad")


def test_the_dark_theme_recolours_the_gradient(editor):
    model = make_model("linear", 2, 3)
    theta, grad = point(model)
    editor.show_point(model, theta, grad, "gd")
    row = int(np.argmax(grad))
    light = QColor(editor.proxy.index(row, GRAD).data(Qt.ItemDataRole.ForegroundRole))
    dark = QPalette(editor.palette())
    for role, colour in ((QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.Base, "#1e1e1e"),
                         (QPalette.ColorRole.Text, "#dddddd"), (QPalette.ColorRole.WindowText, "#dddddd")):
        dark.setColor(role, QColor(colour))
    editor.setPalette(dark)  # a PaletteChange: the shades are the dark theme's now
    shade = QColor(editor.proxy.index(row, GRAD).data(Qt.ItemDataRole.ForegroundRole))
    assert shade == theme_color("wrong", dark) and shade != light
    assert theme_color("wrong", dark).name() in editor.summary.text()  # the legend's too
