"""The data view as an editor: clicks select, drags move points and weight vectors, menus delete and relabel.

Real mouse events on a shown DataView; positions are data coordinates mapped to viewport pixels.
"""
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QPoint, QPointF, Qt  # noqa: E402

from losslab.app.views import HEAD_LEN_PX, WEIGHT_ARROW, DataView, class_color  # noqa: E402

pytestmark = pytest.mark.timeout(60)

LEFT, RIGHT = Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton
NONE, CTRL, SHIFT = Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier

# six points far apart (each alone within many pixels), three classes
X = np.array([[-2.0, -1.0], [1.5, 2.0], [0.5, -1.5], [-1.0, 1.5], [2.0, -0.5], [-0.3, 0.8]])
y = np.array([0, 1, 2, 0, 1, 2])
W = np.array([[1.2, -0.8, 0.1], [0.4, 0.9, -1.3]])
b = np.array([0.3, -0.2, 0.1])


@pytest.fixture
def view(qtbot):
    v = DataView()
    qtbot.addWidget(v)
    v.resize(640, 500)
    v.set_data(X, y, 3, "six points")
    v.set_decision(lambda Z: Z @ W + b)
    v.show()
    qtbot.waitExposed(v)
    return v


def pixel(view, x, y) -> QPoint:
    return view.mapFromScene(view.plot_item.vb.mapViewToScene(QPointF(x, y)))


def data_at(view, p: QPoint) -> np.ndarray:
    q = view.plot_item.vb.mapSceneToView(view.mapToScene(p))
    return np.array([q.x(), q.y()])


def record(signal) -> list:
    seen = []
    signal.connect(lambda *args: seen.append(args))
    return seen


def drag(qtbot, view, start: QPoint, end: QPoint, modifier=NONE, steps=8, release=True):
    qtbot.mousePress(view.viewport(), LEFT, modifier, start)
    for t in np.linspace(0, 1, steps + 1)[1:]:
        at = QPoint(round(start.x() + t * (end.x() - start.x())), round(start.y() + t * (end.y() - start.y())))
        qtbot.mouseMove(view.viewport(), at)
        qtbot.wait(5)
    if release:
        qtbot.mouseRelease(view.viewport(), LEFT, modifier, end)


# --- selection ----------------------------------------------------------------------------------

def test_a_click_on_a_point_selects_it_and_ctrl_extends(qtbot, view):
    clicked = record(view.pointClicked)
    qtbot.mouseClick(view.viewport(), LEFT, NONE, pixel(view, *X[2]))
    near = pixel(view, *X[4]) + QPoint(3, -2)  # a few pixels off still hits
    qtbot.mouseClick(view.viewport(), LEFT, CTRL, near)
    assert clicked == [(2, False), (4, True)]
    qtbot.mouseClick(view.viewport(), LEFT, NONE, pixel(view, 0.0, -0.3))  # empty space: nothing
    assert len(clicked) == 2


def test_the_nearest_of_close_points_is_picked_at_any_zoom(qtbot, view):
    crowded = np.array([[0.0, 0.0], [0.004, 0.0], [3.0, 3.0]])
    view.set_data(crowded, np.array([0, 1, 2]), 3, "crowded")
    clicked = record(view.pointClicked)
    # zoomed out the two first points are one pixel apart: the nearer one to the cursor wins
    qtbot.mouseClick(view.viewport(), LEFT, NONE, pixel(view, 0.005, 0.0))
    # zoomed in 1000×, they are far apart: each its own
    view.plot_item.setRange(xRange=(-0.004, 0.008), yRange=(-0.004, 0.004), padding=0)
    qtbot.mouseClick(view.viewport(), LEFT, NONE, pixel(view, 0.0, 0.0))
    qtbot.mouseClick(view.viewport(), LEFT, NONE, pixel(view, 0.004, 0.0))
    qtbot.mouseClick(view.viewport(), LEFT, NONE, pixel(view, 0.002, 0.0))  # 1/3 of the view away from each
    assert clicked == [(1, False), (0, False), (1, False)]


def test_clicks_select_in_a_pca_view_too(qtbot, view):
    rng = np.random.default_rng(0)
    X4 = rng.standard_normal((12, 4)) * [3, 2, 0.1, 0.1]
    view.set_data(X4, np.arange(12) % 3, 3, "four features")
    assert not view.editable
    clicked = record(view.pointClicked)
    xs, ys = view.points.getData()
    far = int(np.argmax(np.hypot(xs, ys)))  # an outer point: alone on screen
    qtbot.mouseClick(view.viewport(), LEFT, NONE, pixel(view, xs[far], ys[far]))
    assert clicked == [(far, False)]


# --- moving, adding, deleting, relabelling points ----------------------------------------------

def test_dragging_a_point_moves_it_and_reports_where_it_was_dropped(qtbot, view):
    moved = record(view.pointMoved)
    clicked = record(view.pointClicked)
    view.highlight([0])
    before = view.plot_item.vb.viewRange()
    target = pixel(view, -1.0, -0.2)
    drag(qtbot, view, pixel(view, *X[0]), target, release=False)
    xs, ys = view.points.getData()  # it is drawn under the cursor while dragging
    np.testing.assert_allclose((xs[0], ys[0]), data_at(view, target), atol=0.03)
    np.testing.assert_allclose(view.highlighted.getData()[0], [xs[0]])  # its ring goes with it
    qtbot.mouseRelease(view.viewport(), LEFT, NONE, target)
    assert len(moved) >= 3 and all(not finished for *_, finished in moved[:-1])
    index, x, yy, finished = moved[-1]
    assert (index, finished) == (0, True)
    np.testing.assert_allclose((x, yy), (-1.0, -0.2), atol=0.03)  # a pixel is ~0.01 here
    assert clicked == []  # a drag is not a click
    np.testing.assert_allclose(view.plot_item.vb.viewRange(), before)  # a press on a point does not pan
    np.testing.assert_array_equal(X[0], [-2.0, -1.0])  # the caller's array is untouched


def test_new_data_mid_drag_keeps_the_point_under_the_cursor_and_the_view_still(qtbot, view):
    moved = record(view.pointMoved)
    before = view.plot_item.vb.viewRange()
    target = pixel(view, 1.0, 0.5)
    drag(qtbot, view, pixel(view, *X[2]), target, release=False)
    echoed = X.copy()
    echoed[2] = moved[-1][1:3]  # the window hands back the data with the debounced move
    echoed[1] = (4.0, 4.0)  # and a box that grew: the view does not jump mid-drag
    view.set_data(echoed, y, 3, "six points")
    np.testing.assert_allclose(view.plot_item.vb.viewRange(), before)
    qtbot.mouseMove(view.viewport(), target + QPoint(10, 0))  # a right button pressed meanwhile changes nothing
    qtbot.mousePress(view.viewport(), RIGHT, NONE, target + QPoint(10, 0))
    qtbot.mouseRelease(view.viewport(), RIGHT, NONE, target + QPoint(10, 0))
    qtbot.mouseRelease(view.viewport(), LEFT, NONE, target + QPoint(10, 0))
    assert moved[-1][0] == 2 and moved[-1][3] and len([m for m in moved if m[3]]) == 1
    np.testing.assert_allclose(moved[-1][1:3], data_at(view, target + QPoint(10, 0)), atol=0.03)
    xs, ys = view.points.getData()
    np.testing.assert_allclose((xs[2], ys[2]), moved[-1][1:3])
    np.testing.assert_allclose(view.plot_item.vb.viewRange(), before)
    view.set_data(echoed, y, 3, "six points", keep_view=True)  # the window keeps the view for its edits
    np.testing.assert_allclose(view.plot_item.vb.viewRange(), before)
    view.set_data(echoed, y, 3, "six points")  # and otherwise it spans the data
    assert view.plot_item.vb.viewRange()[0][1] > 4.0


def test_a_press_on_empty_space_still_pans(qtbot, view):
    moved, added = record(view.pointMoved), record(view.pointAdded)
    (x0, x1), _ = view.plot_item.vb.viewRange()
    start = pixel(view, 0.0, -0.3)
    drag(qtbot, view, start, start + QPoint(120, 0), steps=12)
    (nx0, nx1), _ = view.plot_item.vb.viewRange()
    assert nx0 < x0 - 0.3 and np.isclose(nx1 - nx0, x1 - x0)  # the view moved left under a rightward drag
    assert moved == [] and added == []


def test_escape_puts_a_dragged_point_back(qtbot, view):
    moved = record(view.pointMoved)
    drag(qtbot, view, pixel(view, *X[1]), pixel(view, 0.0, 0.0), release=False)
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert moved[-1] == (1, 1.5, 2.0, True)
    xs, ys = view.points.getData()
    np.testing.assert_allclose((xs[1], ys[1]), X[1])
    qtbot.mouseRelease(view.viewport(), LEFT, NONE, pixel(view, 0.0, 0.0))
    assert len([m for m in moved if m[3]]) == 1  # the release after Esc reports nothing more


def test_shift_click_on_empty_space_adds_a_point_of_the_current_class(qtbot, view):
    added, clicked = record(view.pointAdded), record(view.pointClicked)
    where = pixel(view, 1.0, 0.5)
    qtbot.mouseClick(view.viewport(), LEFT, SHIFT, where)
    view.set_current_class(2)
    qtbot.mouseClick(view.viewport(), LEFT, SHIFT, where)
    assert [a[2] for a in added] == [0, 2]
    np.testing.assert_allclose(added[-1][:2], data_at(view, where), atol=1e-9)
    np.testing.assert_allclose(added[-1][:2], (1.0, 0.5), atol=0.02)
    qtbot.mouseClick(view.viewport(), LEFT, SHIFT, pixel(view, *X[3]))  # Shift on a point is a click, not an add
    assert len(added) == 2 and clicked == [(3, False)]


def action_named(menu, text):
    found = [a for a in menu.actions() if a.text().replace("&", "") == text]
    assert len(found) == 1, [a.text() for a in menu.actions()]
    return found[0]


def test_the_point_menu_deletes_and_relabels(qtbot, view):
    view.set_class_names(["cat", "car", "frog"])
    deleted, relabelled = record(view.pointDeleted), record(view.pointRelabelled)
    menu = view.context_menu(4)
    assert [a.text() for a in menu.actions()] == ["Delete point 4", "Relabel as"]
    relabel = action_named(menu, "Relabel as").menu()
    names = [a.text() for a in relabel.actions()]
    assert names == ["cat", "car", "frog"]
    assert not action_named(relabel, "car").isEnabled()  # point 4 is a car already
    action_named(relabel, "frog").trigger()
    action_named(menu, "Delete point 4").trigger()
    assert relabelled == [(4, 2)] and deleted == [(4,)]


def test_the_empty_space_menu_only_chooses_the_class_shift_click_adds(qtbot, view):
    changed, added = record(view.currentClassChanged), record(view.pointAdded)
    menu = view.context_menu(None)
    assert [a.text() for a in menu.actions()] == ["New points are class"]
    chooser = menu.actions()[0].menu()
    assert [a.text() for a in chooser.actions()] == ["class 0", "class 1", "class 2"]
    assert action_named(chooser, "class 0").isChecked()
    action_named(chooser, "class 1").trigger()
    assert changed == [(1,)] and view.current_class == 1
    assert action_named(view.context_menu(None).actions()[0].menu(), "class 1").isChecked()
    qtbot.mouseClick(view.viewport(), LEFT, SHIFT, pixel(view, 1.0, 0.5))
    assert added[-1][2] == 1


def test_a_right_click_opens_the_menu_of_what_is_under_it(qtbot, view):
    qtbot.mouseClick(view.viewport(), RIGHT, NONE, pixel(view, *X[5]))
    menu = view._menu
    qtbot.waitUntil(menu.isVisible, timeout=2_000)
    assert menu.actions()[0].text() == "Delete point 5"
    menu.close()
    qtbot.mouseClick(view.viewport(), RIGHT, NONE, pixel(view, 0.0, -0.3))
    menu = view._menu
    qtbot.waitUntil(menu.isVisible, timeout=2_000)
    assert [a.text() for a in menu.actions()] == ["New points are class"]
    menu.close()


# --- weights in data space ----------------------------------------------------------------------

def half_size(view):
    lo, hi = view._box
    return float(np.min(hi - lo)) / 2


@pytest.mark.parametrize("size", [0.01, 1.0, 250.0])
def test_arrows_are_the_weight_vectors_at_one_stated_scale(qtbot, view, size):
    view.set_weights(W * size, b)
    scale = view.weight_scale
    heads = np.array([[h.pos().x(), h.pos().y()] for h in view.arrow_heads])
    np.testing.assert_allclose(view.weight_anchor, (0.0, 0.0))  # the origin is in the data's box
    np.testing.assert_allclose(heads, scale * (W * size).T, rtol=1e-12)
    longest = np.max(np.linalg.norm(heads, axis=1))
    assert longest == pytest.approx(WEIGHT_ARROW * half_size(view), rel=0.05)
    assert all(h.isVisible() for h in view.arrow_heads)
    assert f"× {scale:g}" in view.weights_label.toPlainText()
    for c, shaft in enumerate(view.arrow_shafts):  # each shaft runs from the anchor along W[:, c], into its head
        xs, ys = (v[np.isfinite(v)] for v in shaft.getData())  # (a NaN row starts each clipped piece)
        np.testing.assert_allclose((xs[0], ys[0]), (0.0, 0.0), atol=1e-12)
        direction = np.array([xs[-1], ys[-1]])
        cross = direction[0] * W[1, c] - direction[1] * W[0, c]
        assert cross == pytest.approx(0.0, abs=1e-9 * np.linalg.norm(direction))
        assert np.dot(direction, W[:, c]) > 0
        assert np.linalg.norm(direction) < np.linalg.norm(heads[c])
        assert shaft.opts["pen"].color() == class_color(c)


def test_arrow_heads_point_along_their_vector_on_screen(qtbot, view):
    view.set_weights(W, b)
    origin = view._pixels(np.zeros((1, 2)))[0]
    tips = view._pixels(view.weight_heads())
    for c, head in enumerate(view.arrow_heads):
        # the head's path sits behind its tip: its base is HEAD_LEN_PX back towards the anchor
        base = head.deviceTransform(view.viewportTransform()).map(head.shape().boundingRect().center())
        base = np.array([base.x(), base.y()])
        back = (origin - tips[c]) / np.linalg.norm(origin - tips[c])
        assert np.dot(base - tips[c], back) == pytest.approx(HEAD_LEN_PX * 0.5, abs=3.0)


def test_score_zero_lines_are_where_each_score_is_zero(qtbot, view):
    view.set_weights(W, b)
    (x0, x1), (y0, y1) = view.plot_item.vb.viewRange()
    for c, line in enumerate(view.zero_lines):
        xs, ys = line.getData()
        assert len(xs) == 2
        ends = np.stack([xs, ys], axis=1)
        np.testing.assert_allclose(ends @ W[:, c] + b[c], 0.0, atol=1e-9)
        assert np.linalg.norm(ends[1] - ends[0]) > x1 - x0  # it crosses the whole view
        assert line.opts["pen"].style() == Qt.PenStyle.DashLine and line.opts["pen"].color() == class_color(c)


def test_dragging_an_arrow_head_reports_the_weight_it_stands_for(qtbot, view):
    view.set_weights(W, b)
    scale = view.weight_scale
    moved = record(view.weightMoved)
    start = pixel(view, *view.weight_heads()[1])
    target = pixel(view, -0.2, 1.8)
    drag(qtbot, view, start, target, release=False)
    view.set_weights(W * 3, b)  # the window echoes a debounced value mid-drag: neither the scale nor the dragged head jump
    assert view.weight_scale == scale
    head = view.arrow_heads[1].pos()
    np.testing.assert_allclose((head.x(), head.y()), data_at(view, target), atol=0.03)
    qtbot.mouseRelease(view.viewport(), LEFT, NONE, target)
    assert all(c == 1 and not finished for c, *_, finished in moved[:-1])
    c, w0, w1, finished = moved[-1]
    assert (c, finished) == (1, True)
    # the inverse of the display scale: the head at anchor + scale·w
    np.testing.assert_allclose((w0, w1), (np.array([-0.2, 1.8]) - view.weight_anchor) / scale, atol=0.03 / scale)
    np.testing.assert_allclose(view.weight_scale * np.array([w0, w1]), data_at(view, target), atol=0.03)
    # and the dragged class's zero line went with it
    xs, ys = view.zero_lines[1].getData()
    np.testing.assert_allclose(np.stack([xs, ys], 1) @ [w0, w1] + b[1], 0.0, atol=1e-9)


def test_arrows_start_at_the_data_centre_when_the_origin_is_outside(qtbot, view):
    view.set_data(X + [40.0, -25.0], y, 3, "far away")
    view.set_weights(W, b)
    lo, hi = view._box
    np.testing.assert_allclose(view.weight_anchor, (lo + hi) / 2)
    np.testing.assert_allclose(view.weight_heads(), view.weight_anchor + view.weight_scale * W.T)
    assert "centre" in view.weights_label.toPlainText()
    moved = record(view.weightMoved)
    target = pixel(view, *(view.weight_anchor + [0.5, 0.5]))
    drag(qtbot, view, pixel(view, *view.weight_heads()[0]), target)
    np.testing.assert_allclose(moved[-1][1:3], (data_at(view, target) - view.weight_anchor) / view.weight_scale,
                               atol=0.03 / view.weight_scale)


def test_weights_can_be_hidden_and_cleared(qtbot, view):
    view.set_weights(W, b)
    view.show_weights(False)
    assert not any(item.isVisible() for item in view.arrow_heads + view.arrow_shafts + view.zero_lines)
    assert not view.weights_label.isVisible()
    view.show_weights(True)
    assert all(item.isVisible() for item in view.arrow_heads + view.zero_lines) and view.weights_label.isVisible()
    view.set_weights(None, None)  # a network: no weight vectors in data space
    assert not any(item.isVisible() for item in view.arrow_heads + view.zero_lines)
    view.set_weights(np.zeros((2, 3)), b)  # W = 0: no directions, nothing to draw or grab
    assert not any(h.isVisible() for h in view.arrow_heads) and view.hit(pixel(view, 0, 0)) is None


def test_the_arrows_are_drawn_in_their_class_colours(qtbot, view):
    view.set_weights(W, b)
    qtbot.wait(20)
    image = view.grab().toImage()
    ratio = image.devicePixelRatio()
    for c, tip in enumerate(view._pixels(view.weight_heads())):
        back = view._pixels(np.zeros((1, 2)))[0] - tip
        inside = tip + back / np.linalg.norm(back) * HEAD_LEN_PX * 0.6  # in the head's filled body
        rgb = image.pixelColor(round(inside[0] * ratio), round(inside[1] * ratio)).getRgb()[:3]
        assert np.abs(np.subtract(rgb, class_color(c).getRgb()[:3])).max() < 40, (c, rgb)


# --- read-only views ---------------------------------------------------------------------------

def test_a_pca_view_is_read_only_and_has_no_arrows(qtbot, view):
    rng = np.random.default_rng(1)
    view.set_data(rng.standard_normal((12, 4)) * [3, 2, 0.1, 0.1], np.arange(12) % 3, 3, "four features")
    view.set_editable(True)
    assert not view.editable and view.context_menu(0) is None and view.context_menu(None) is None
    view.set_weights(rng.standard_normal((2, 3)), np.zeros(3))  # even if handed (2, C) weights
    assert not any(item.isVisible() for item in view.arrow_heads + view.zero_lines)
    assert not view.weights_label.isVisible()
    moved, added = record(view.pointMoved), record(view.pointAdded)
    xs, ys = view.points.getData()
    start = pixel(view, xs[0], ys[0])
    drag(qtbot, view, start, start + QPoint(60, 40))
    qtbot.mouseClick(view.viewport(), LEFT, SHIFT, pixel(view, 0.0, 0.0))
    assert moved == [] and added == []
    np.testing.assert_allclose(view.points.getData()[0][0], xs[0])


def test_editing_can_be_turned_off_for_2d_data(qtbot, view):
    view.set_weights(W, b)
    view.set_editable(False)
    assert not view.editable and view.context_menu(1) is None
    moved, weights, clicked = record(view.pointMoved), record(view.weightMoved), record(view.pointClicked)
    drag(qtbot, view, pixel(view, *X[0]), pixel(view, 0.0, 0.0))
    drag(qtbot, view, pixel(view, *view.weight_heads()[0]), pixel(view, 0.0, 0.0))
    qtbot.mouseClick(view.viewport(), LEFT, NONE, pixel(view, *X[2]))
    assert moved == [] and weights == [] and clicked == [(2, False)]


def test_theme_colours_reach_the_arrows_and_the_legend(qtbot, view):
    view.set_weights(W, b)
    view.setBackground("#1e1e1e")
    view.set_colors("#dddddd")
    assert view.arrow_shafts[0].opts["shadowPen"].color().name() == "#1e1e1e"
    assert view.weights_label.color.name() == "#dddddd"
    assert view.boundaries.opts["pen"].color().name() == "#dddddd"
