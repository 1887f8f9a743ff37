"""The lecture's hands-on views in the real window: the parameter editor, editing the data, the weight arrows."""
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QSettings, Qt  # noqa: E402

from losslab.app.param_editor import VALUE_ROLE  # noqa: E402
from losslab.app.session import Session  # noqa: E402
from losslab.app.window import MainWindow  # noqa: E402
from losslab.engine.experiment import Experiment, PlaneSpec, ProblemSpec  # noqa: E402
from sessions import settled, shown_window  # noqa: E402

pytestmark = pytest.mark.timeout(120)

SMALL = Experiment(problem=ProblemSpec(n=60), plane=PlaneSpec(resolution=32), steps=30)


@pytest.fixture
def window(qtbot, tmp_path):
    win = shown_window(qtbot, tmp_path, SMALL)
    yield win
    win.close()


def wait(qtbot, window):
    qtbot.waitUntil(lambda: settled(window.session), timeout=30_000)


def shown_values(editor) -> dict[str, float]:
    proxy = editor.proxy
    out = {}
    for row in range(proxy.rowCount()):
        label = proxy.index(row, 0).data(VALUE_ROLE)
        out[label] = proxy.index(row, 1).data(VALUE_ROLE)
    return out


def test_the_parameter_editor_follows_the_frame_and_nudges_the_start(qtbot, window):
    window.parameters_dock.raise_()
    qtbot.waitUntil(window.parameters.isVisible)
    window.clock.seek(10)
    result = window.figure.data_result()
    values = shown_values(window.parameters)
    assert values["W[0,0]"] == result.thetas[10][0] and values["b[2]"] == result.thetas[10][8]

    start = result.thetas[0].copy()
    minus, plus = window.parameters.nudge_rects(window.parameters.shown_labels().index("b[2]"))
    window.parameters.set_step(0.5)
    qtbot.mouseClick(window.parameters.view.viewport(), Qt.MouseButton.LeftButton, pos=plus.center())
    wait(qtbot, window)
    expected = start.copy()
    expected[8] += 0.5
    assert window.session.experiment.theta0 == tuple(expected)
    assert window.clock.frame == 0
    for r in window.results:
        assert np.array_equal(r.thetas[0], expected)
    assert shown_values(window.parameters)["b[2]"] == expected[8]
    window.session.undo()
    wait(qtbot, window)
    assert window.session.experiment.theta0 is None


# --- the data view, edited in the window --------------------------------------------------------

LEFT = Qt.MouseButton.LeftButton


def pixel(view, x, y):
    from PyQt6.QtCore import QPointF
    return view.mapFromScene(view.plot_item.vb.mapViewToScene(QPointF(x, y)))


def drag(qtbot, view, start, end, steps=8):
    from PyQt6.QtCore import QPoint
    qtbot.mousePress(view.viewport(), LEFT, Qt.KeyboardModifier.NoModifier, start)
    for t in np.linspace(0, 1, steps + 1)[1:]:
        qtbot.mouseMove(view.viewport(), QPoint(round(start.x() + t * (end.x() - start.x())),
                                                round(start.y() + t * (end.y() - start.y()))))
        qtbot.wait(20)
    qtbot.mouseRelease(view.viewport(), LEFT, Qt.KeyboardModifier.NoModifier, end)


def test_drag_add_delete_relabel_in_the_window_with_undo_and_redo(qtbot, window):
    view, s = window.figure.data_view, window.session
    assert view.editable
    window.examples_dock.raise_()
    qtbot.waitUntil(window.examples.isVisible)
    X0, y0 = s.problem.dataset.X.copy(), s.problem.dataset.y.copy()
    landscape0 = s.landscape.part("total").copy()
    history0 = len(s._history)

    # drag example 5 to an empty corner: one undo step, the landscape and the table follow
    i = 5
    target = X0.min(axis=0) + 0.1
    drag(qtbot, view, pixel(view, *X0[i]), pixel(view, *target), steps=12)
    wait(qtbot, window)
    X = s.problem.dataset.X
    assert np.allclose(X[i], target, atol=0.05 * np.ptp(X0, axis=0).max())
    assert np.array_equal(np.delete(X, i, 0), np.delete(X0, i, 0))
    assert not np.array_equal(s.landscape.part("total"), landscape0)
    assert len(s._history) == history0 + 1  # many moves, one step
    row = [window.examples.model.data(window.examples.model.index(i, c)) for c in (1, 2)]
    assert [float(v) for v in row] == pytest.approx(list(X[i]), rel=1e-3)

    # a click on a point selects its row in the Examples tab, and the data view rings it
    qtbot.mouseClick(view.viewport(), LEFT, Qt.KeyboardModifier.NoModifier, pixel(view, *X[i]))
    rows = {window.examples.proxy.mapToSource(r).row() for r in window.examples.view.selectionModel().selectedRows()}
    assert rows == {i}

    # shift-click adds a point of the current class; the menu deletes and relabels
    view.set_current_class(1)
    free = X0.max(axis=0) - 0.1
    qtbot.mouseClick(view.viewport(), LEFT, Qt.KeyboardModifier.ShiftModifier, pixel(view, *free))
    wait(qtbot, window)
    assert len(s.problem.dataset.y) == 61 and s.problem.dataset.y[-1] == 1
    relabel = [a for a in view.context_menu(0).actions() if a.menu()][0].menu().actions()
    next(a for a in relabel if a.isEnabled()).trigger()
    wait(qtbot, window)
    assert s.problem.dataset.y[0] != y0[0]
    next(a for a in view.context_menu(3).actions() if a.text().startswith("Delete")).trigger()
    wait(qtbot, window)
    assert len(s.problem.dataset.y) == 60 and np.array_equal(s.problem.dataset.X[3], X[4])
    assert window.examples.model.rowCount() == 60

    # undo everything, then redo it
    edited = s.experiment
    for _ in range(4):
        window.undo_action.trigger()
        wait(qtbot, window)
    assert np.array_equal(s.problem.dataset.X, X0) and np.array_equal(s.problem.dataset.y, y0)
    assert np.array_equal(s.landscape.part("total"), landscape0)
    for _ in range(4):
        window.redo_action.trigger()
        wait(qtbot, window)
    assert s.experiment == edited


def test_dragging_a_weight_arrow_moves_the_start_in_full_space(qtbot, window):
    view, s = window.figure.data_view, window.session
    window.clock.seek(0)
    heads = view.weight_heads()
    c = 1
    start = heads[c]
    end = start + np.array([0.4, -0.3]) * np.ptp(s.problem.dataset.X, axis=0).max() / 4
    drag(qtbot, view, pixel(view, *start), pixel(view, *end))
    wait(qtbot, window)
    theta0 = np.array(s.experiment.theta0)
    W = theta0[:6].reshape(2, 3)
    assert s.experiment.space == "full"
    assert np.allclose(W[:, c], (end - view.weight_anchor) / view.weight_scale, atol=0.05 * abs(W[:, c]).max())
    for r in window.results:
        assert np.array_equal(r.thetas[0], theta0)
    # the landscape's start marker is the start's projection onto the plane
    assert np.allclose(window.figure._start(), window.results[0].ab[0])
    # and the arrows now show the new start
    assert np.allclose(view.weight_heads()[c], view.weight_anchor + view.weight_scale * W[:, c])


def test_edited_points_travel_inside_the_session_file(qtbot, tmp_path):
    """A session built on a CSV, with a point moved, saves, reopens and renders identically without the CSV."""
    from PIL import Image

    from losslab.app.main import render
    from losslab.io.session_file import load_session

    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(c, 0.4, size=(15, 2)) for c in ((-1, 0), (1, 1), (0, -1.5))])
    y = np.repeat([0, 1, 2], 15)
    csv = tmp_path / "three.csv"
    csv.write_text("x1,x2,label\n" + "".join(f"{float(a)!r},{float(b)!r},{['cat', 'car', 'frog'][k]}\n"
                                             for (a, b), k in zip(X, y)))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    experiment = Experiment(problem=ProblemSpec(source="csv", path=str(csv)), plane=PlaneSpec(resolution=32), steps=25)
    window = MainWindow(Session(experiment, preview_seconds=None), settings=settings)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    wait(qtbot, window)
    s = window.session
    assert s.experiment.problem.source == "csv" and np.array_equal(s.problem.dataset.X, X)
    assert s.move_point(4, (2.5, -2.5))
    wait(qtbot, window)
    edited_X, edited_y = s.problem.dataset.X.copy(), s.problem.dataset.y.copy()
    path = tmp_path / "edited.json"
    window.save_session(str(path))
    before = tmp_path / "before.png"
    render(str(path), str(before), size=(900, 520))
    landscape = s.landscape.part("total").copy()
    window.close()

    csv.unlink()
    loaded, view, _ = load_session(path)
    assert loaded.problem.source == "points"
    assert np.array_equal(loaded.problem.points.X, edited_X) and np.array_equal(loaded.problem.points.y, edited_y)
    assert loaded.problem.points.class_names == ("cat", "car", "frog")
    after = tmp_path / "after.png"
    render(str(path), str(after), size=(900, 520))
    assert np.array_equal(np.asarray(Image.open(before)), np.asarray(Image.open(after)))

    reopened = MainWindow(Session(preview_seconds=None), settings=settings)
    qtbot.addWidget(reopened)
    reopened.show()
    wait(qtbot, reopened)
    errors = []
    reopened.session.failed.connect(errors.append)
    assert reopened.open_session(str(path))
    qtbot.waitUntil(lambda: settled(reopened.session) and reopened.session.experiment == loaded, timeout=30_000)
    assert not errors
    assert np.array_equal(reopened.session.landscape.part("total"), landscape)
    assert np.array_equal(reopened.figure.data_view.points.getData()[0], edited_X[:, 0])
    reopened.close()


def test_the_data_panel_says_the_data_is_edited_points(qtbot, window):
    panel, s = window.problem_panel, window.session
    X0 = s.problem.dataset.X.copy()
    panel.source.setCurrentIndex(panel.source.findData("points"))  # "edit this data": the same examples, carried
    wait(qtbot, window)
    assert s.experiment.problem.source == "points" and s.experiment.problem.kind == "blobs"
    assert np.array_equal(s.problem.dataset.X, X0)
    assert panel.description.text().startswith("blobs: 60 examples × 2 features, 3 classes")
    assert "Shift+click" in panel.description.text()
    assert not panel.kind.isEnabled() and panel.kind.currentText() == "blobs"
    panel.source.setCurrentIndex(panel.source.findData("generated"))
    wait(qtbot, window)
    assert s.experiment.problem.source == "generated" and s.experiment.problem.points is None


# --- arrows on the landscape and the slopes in the readout ------------------------------------

def test_the_drawn_gradient_is_the_runs_projected_gradient(qtbot, tmp_path):
    """View ▸ Arrows: at the current frame, each panel's gradient arrow is −∇L of its run, projected into the plane."""
    from losslab.app.readout import SLOPES
    from losslab.engine.experiment import RunSpec
    experiment = Experiment(problem=ProblemSpec(n=60), plane=PlaneSpec(kind="random", resolution=32), steps=30,
                            space="full", runs=(RunSpec("gd"), RunSpec("momentum"), RunSpec("adagrad")))
    window = shown_window(qtbot, tmp_path, experiment)
    for name in ("gradient", "step", "velocity"):
        window.view_panel.arrows[name].setChecked(True)
    assert window.session.view.arrows == ("gradient", "step", "velocity")
    window.clock.seek(7)
    computed = window.session.computed
    plane, objective = computed.plane, computed.problem.objective
    B = np.column_stack([plane.d1, plane.d2])
    for panel, result in zip(window.grid.panels, computed.runs):
        g = objective.loss_grad(result.thetas[7])[1]
        projected = -np.linalg.lstsq(B, g, rcond=None)[0]  # −∇L mapped onto the plane like the paths
        drawn = {a.kind: a for a in panel.arrows.drawn}
        arrow = drawn["gradient"]
        assert np.allclose(arrow.start, result.ab[7])
        assert np.allclose((arrow.tip - arrow.start) / panel.arrows.factors["gradient"], projected, rtol=1e-9,
                           atol=1e-12)
        assert "step" in drawn
    # momentum draws its velocity; the legend says what each style is
    assert "velocity" in {a.kind for a in window.grid.panels[1].arrows.drawn}
    assert any("∇L" in text for _, text in window.grid.panels[0].arrows.legend.rows)
    # a click on the legend is not a click on the landscape
    legend = window.grid.panels[0].arrows.legend
    centre = window.grid.mapFromScene(legend.sceneBoundingRect().center())
    starts = []
    window.figure.clicked.connect(lambda a, b: starts.append((a, b)))
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert starts == []

    # the readout's slopes are directional derivatives: d1·g, d2·g, and along the step taken
    window.readout.show_frame(7, playing=False)
    result = computed.runs[0]
    theta, after = result.thetas[7], result.thetas[8]
    u = (after - theta) / np.linalg.norm(after - theta)
    h = 1e-6
    def slope(d):
        return (objective.loss(theta + h * d) - objective.loss(theta - h * d)) / (2 * h)
    from losslab.engine.experiment import readout_at
    slopes = readout_at(computed.problem, result, 7, plane).slopes
    assert slopes == pytest.approx((slope(plane.d1), slope(plane.d2), slope(u)), rel=1e-6)
    assert window.readout.item(0, SLOPES).text() == f"{slopes[0]:.3g}, {slopes[1]:.3g} · {slopes[2]:.3g}"
    last = len(result.thetas) - 1
    assert readout_at(computed.problem, result, last, plane).slopes[2] is None  # no step from the last frame
    window.close()


def test_the_cuts_tab_follows_the_data_views_run_and_the_frame(qtbot, window):
    window.cuts_dock.raise_()
    qtbot.waitUntil(window.cuts.isVisible)
    window.clock.seek(5)
    qtbot.waitUntil(lambda: window.cuts.run_t.size == len(window.results), timeout=10_000)
    first = window.cuts.run_t.copy()
    window.clock.seek(25)
    qtbot.waitUntil(lambda: not np.array_equal(window.cuts.run_t, first), timeout=10_000)
    # the default line runs from the start (t = 0) to the optimum (t = 1): the runs approach t = 1
    assert np.all(window.cuts.run_t[1:] > first[1:])


# --- curvature in the window --------------------------------------------------------------------

def test_curvature_in_the_window_bounds_the_learning_rate(qtbot, tmp_path):
    """The curvature preset: the readout, each lr field's bound and the eigen axes say what the engine says."""
    from losslab.app.session import view_from_dict
    from losslab.engine import curvature
    from losslab.io.session_file import load_session, resolve_session
    experiment, view, _ = load_session(resolve_session("why-this-learning-rate-diverges"))
    window = shown_window(qtbot, tmp_path, experiment, view_from_dict(view))
    window.curvature_dock.raise_()
    window.view_panel.eigen_axes.setChecked(True)
    window.session.set_view(data_run=2)
    window.clock.seek(3)
    qtbot.waitUntil(lambda: window.curvature.warning, timeout=10_000)
    result = window.results[2]
    expected = curvature(window.session.problem.objective, result.thetas[3])
    assert float(window.curvature.texts["lambda_max"]) == pytest.approx(expected.lambda_max, rel=1e-3)
    assert float(window.curvature.texts["lr_max"]) == pytest.approx(expected.lr_max, rel=1e-3)
    # beside each learning rate: its bound where the runs start, the too-large one flagged
    qtbot.waitUntil(lambda: all(e.lr_max.plain_text for e in window.optimizers_panel.editors), timeout=10_000)
    assert [e.lr_max.warn for e in window.optimizers_panel.editors] == [False, False, True]
    # bounds computed for runs no longer shown are dropped (they wait for the views' turns, out of the
    # reach of the job's cancellation): the labels keep the bounds of the runs on screen
    shown = [e.lr_max.plain_text for e in window.optimizers_panel.editors]
    from dataclasses import replace
    stale = replace(window.session.snapshot.computed)  # another Computed, as an older commit's would be
    window._show_lr_bounds(stale, None)
    assert [e.lr_max.plain_text for e in window.optimizers_panel.editors] == shown
    window._show_lr_bounds(window.session.snapshot.computed, None)  # the runs shown: taken (None: unknown)
    assert all(e.lr_max.plain_text == "" for e in window.optimizers_panel.editors)
    # the Hessian's axes at each panel's run: λ₁ = 10 along the steep direction
    for panel in window.grid.panels:
        assert np.isfinite(panel.eigen_axes.half_axes).all()
    window.view_panel.eigen_axes.setChecked(False)
    assert all(np.isnan(panel.eigen_axes.half_axes).all() for panel in window.grid.panels)
    window.close()


def test_the_3d_switch_without_opengl_says_so_and_2d_comes_back(qtbot, window, monkeypatch):
    """Headless (no OpenGL), the 3-D view explains itself; the contours return whole."""
    figure = window.figure
    panels = len(window.grid.panels)
    window.view_panel.surface.setCurrentIndex(window.view_panel.surface.findData("3d"))
    assert window.session.view.surface == "3d"
    assert figure.landscape_view is figure.surface3d and figure.landscapes.currentWidget() is figure.surface3d
    if not figure.surface3d.has_gl:
        assert "OpenGL" in figure.surface3d.message
    window.clock.seek(12)  # the clock keeps going; nothing on the contour panels is touched
    window.view_panel.surface.setCurrentIndex(window.view_panel.surface.findData("2d"))
    assert figure.landscape_view is figure.grid and len(window.grid.panels) == panels
    assert all(len(p._paths) == 1 for p in window.grid.panels)
    # from the command line, 3-D needs a display
    from losslab.app.main import render
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ValueError, match="xvfb-run"):
        render("svm-slice", str(window.settings.fileName()) + ".png", view="3d")
