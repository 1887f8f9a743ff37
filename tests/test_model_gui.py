"""Beyond linear, in the window: the Model control, the axes it names, and the data view of any model.

Driven through the real widgets with qtbot (headless); small problems, so each test takes a few seconds.
"""
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QSettings, Qt  # noqa: E402

from losslab.app.figure import decision_function  # noqa: E402
from losslab.app.session import Session  # noqa: E402
from losslab.app.window import MainWindow  # noqa: E402
from losslab.engine.experiment import (Experiment, ModelSpec, ObjectiveSpec, PlaneSpec, ProblemSpec,  # noqa: E402
                                       RunSpec)
from losslab.engine.models import MLPModel  # noqa: E402
from sessions import settled  # noqa: E402

pytestmark = pytest.mark.timeout(120)

SPIRAL = Experiment(problem=ProblemSpec(kind="spiral", n=90, classes=3), objective=ObjectiveSpec(lam=0.001),
                    plane=PlaneSpec(resolution=24), steps=20, runs=(RunSpec("gd"), RunSpec("adam")))
DIGITS = replace(SPIRAL, problem=ProblemSpec(source="bundled", kind="digits"),
                 plane=PlaneSpec(resolution=12, centre="init"), steps=5, runs=(RunSpec("gd"),))


def wait_settled(qtbot, session, timeout=60_000):
    qtbot.waitUntil(lambda: settled(session), timeout=timeout)


def open_window(qtbot, tmp_path, experiment: Experiment) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(Session(experiment), settings=settings)
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    wait_settled(qtbot, win.session)
    return win


@pytest.fixture
def window(qtbot, tmp_path):
    win = open_window(qtbot, tmp_path, SPIRAL)
    yield win
    win.close()


def choose(box, key) -> None:
    """Pick an item of a combo box by its key, as a click in its list does."""
    index = box.findData(key)
    assert index >= 0, f"{key!r} is not offered"
    box.setCurrentIndex(index)


def type_into(field, text: str) -> None:
    field.setText(text)
    field.editingFinished.emit()


def row_visible(panel, widget) -> bool:
    return widget.isVisibleTo(panel)


def combo_items(box) -> list[str]:
    return [box.itemText(k) for k in range(box.count())]


# --- the Model control --------------------------------------------------------------------------

def test_the_model_combo_switches_to_the_network_and_its_axes(qtbot, window):
    panel, plane_panel = window.model_panel, window.plane_panel
    assert [panel.kind.itemData(k) for k in range(panel.kind.count())] == ["linear", "mlp"]
    assert combo_items(panel.kind) == ["Linear classifier", "Two-layer network"]
    assert not row_visible(panel, panel.hidden) and not row_visible(panel, panel.activation)
    assert "W x + b" in panel.formula.text()
    assert combo_items(plane_panel.axis_a)[:2] == ["W[0,0]", "W[0,1]"]

    choose(panel.kind, "mlp")
    wait_settled(qtbot, window.session)
    e = window.session.experiment
    assert e.model.kind == "mlp"
    assert all(axis.startswith("W1[") for axis in e.plane.axes)
    # a network gets Li et al.'s random plane (two of its weights may belong to units doing nothing)
    assert e.plane.kind == "random" and window.session.computed.plane.labels == ("direction 1", "direction 2")
    window.session.set_plane(kind="axes")
    wait_settled(qtbot, window.session)
    e = window.session.experiment
    assert window.session.computed.plane.labels == e.plane.axes  # the landscape is drawn over them
    # the axis combos list the network's coordinates, and show the chosen ones
    model = window.session.problem.model
    assert combo_items(plane_panel.axis_a) == list(model.labels)
    assert plane_panel.axis_a.currentText() == e.plane.axes[0] and plane_panel.axis_b.currentText() == e.plane.axes[1]
    assert "W[0,0]" not in combo_items(plane_panel.axis_a) and "b2[2]" in combo_items(plane_panel.axis_a)
    # the network's rows, its formula, its sizes
    assert row_visible(panel, panel.hidden) and row_visible(panel, panel.activation)
    assert row_visible(panel, panel.init_scale) and row_visible(panel, panel.init_seed)
    assert "W<sub>2</sub> act(W<sub>1</sub> x + b<sub>1</sub>)" in panel.formula.text()
    assert f"P = {model.n_params} parameters" in panel.description.text()
    assert "R(weights)" in window.objective_panel.total.text()
    assert "W<sub>1</sub> and W<sub>2</sub>" in window.objective_panel.reg_formula.text()
    assert panel.kind.currentData() == "mlp"

    choose(panel.kind, "linear")  # and back: the linear classifier's own names again
    wait_settled(qtbot, window.session)
    assert window.session.experiment.model.kind == "linear"
    assert all(axis.startswith("W[") for axis in window.session.experiment.plane.axes)
    assert combo_items(plane_panel.axis_a)[:2] == ["W[0,0]", "W[0,1]"]
    assert not row_visible(panel, panel.hidden)


def test_hidden_width_and_activation_change_the_experiment(qtbot, window):
    panel = window.model_panel
    choose(panel.kind, "mlp")
    wait_settled(qtbot, window.session)
    type_into(panel.hidden, "5")
    wait_settled(qtbot, window.session)
    e = window.session.experiment
    assert e.model.hidden == 5 and e.model.kind == "mlp"
    assert window.session.problem.model.hidden == 5
    assert window.plane_panel.axis_a.count() == 2 * 5 + 5 + 5 * 3 + 3  # W1, b1, W2, b2 of a 2-5-3 network

    choose(panel.activation, "tanh")
    wait_settled(qtbot, window.session)
    assert window.session.experiment.model.activation == "tanh"
    assert window.session.problem.model.activation == "tanh"
    assert panel.activation.currentText().startswith("tanh")

    type_into(panel.init_seed, "3")
    wait_settled(qtbot, window.session)
    type_into(panel.init_scale, "0.2")
    wait_settled(qtbot, window.session)
    assert (window.session.experiment.model.init_seed, window.session.experiment.model.init_scale) == (3, 0.2)


def test_a_bad_hidden_width_is_refused_and_nothing_changes(qtbot, window):
    panel = window.model_panel
    choose(panel.kind, "mlp")
    wait_settled(qtbot, window.session)
    before, shown = window.session.experiment, window.session.snapshot
    for text in ("0", "-3", "2.5", "many"):
        type_into(panel.hidden, text)
        assert "hidden" in window.message_label.text(), text  # the message names the field
        assert window.session.pending is None
        assert window.session.experiment == before and window.session.snapshot is shown
        assert panel.hidden.text() == str(before.model.hidden)  # the last good value is back
    # the session refuses it too, whoever asks
    assert not window.session.set_model(hidden=0)
    assert window.session.experiment == before and window.session.pending is None
    assert panel.hidden.value() == before.model.hidden


def test_the_panel_follows_the_experiment_without_echo(qtbot, window):
    calls = []
    real = window.session.set_model
    window.session.set_model = lambda **changes: calls.append(changes) or real(**changes)
    experiment = replace(window.session.experiment, model=ModelSpec(kind="mlp", hidden=7, activation="tanh",
                                                                    init_scale=0.05, init_seed=2),
                         plane=replace(window.session.experiment.plane, axes=("W1[0,0]", "b1[3]"), centre="init"))
    assert window.session.set_experiment(experiment)
    wait_settled(qtbot, window.session)
    panel = window.model_panel
    assert calls == []  # showing the new values sent nothing back
    assert panel.kind.currentData() == "mlp" and panel.activation.currentData() == "tanh"
    assert (panel.hidden.value(), panel.init_scale.value(), panel.init_seed.value()) == (7, 0.05, 2)
    assert window.plane_panel.centre.currentData() == "init"
    assert (window.plane_panel.axis_a.currentText(), window.plane_panel.axis_b.currentText()) == ("W1[0,0]", "b1[3]")


def test_the_model_panel_is_disabled_for_a_test_surface(qtbot, window):
    window.session.set_problem(source="surface", kind="rosenbrock")
    wait_settled(qtbot, window.session)
    assert not window.model_panel.isEnabled() and not window.objective_panel.isEnabled()
    assert window.plane_panel.axis_a.count() == 2  # x and y: no model names
    window.session.set_problem(source="generated", kind="spiral")
    wait_settled(qtbot, window.session)
    assert window.model_panel.isEnabled()


# --- the Slice panel's centre -------------------------------------------------------------------

def test_the_centre_offers_zero_the_random_start_and_the_optimum(qtbot, window):
    centre = window.plane_panel.centre
    assert [centre.itemData(k) for k in range(centre.count())] == ["zero", "init", "optimum"]
    assert combo_items(centre) == ["θ = 0 (the origin)", "the random start", "the optimum"]
    tips = [centre.itemData(k, Qt.ItemDataRole.ToolTipRole) for k in range(centre.count())]
    assert all(tips) and "symmetric" in tips[0] and "init scale" in tips[1]
    panel = window.model_panel
    assert not row_visible(panel, panel.init_scale)  # a linear model through its optimum: no start to set
    choose(centre, "init")
    wait_settled(qtbot, window.session)
    assert window.session.experiment.plane.centre == "init"
    assert row_visible(panel, panel.init_scale) and row_visible(panel, panel.init_seed)
    init = window.session.problem.model.init(0, 0.01)
    np.testing.assert_array_equal(window.session.problem.centre, init)


def test_planes_made_from_runs_follow_the_registry(qtbot, window):
    window.session.set_plane(kind="pca")
    wait_settled(qtbot, window.session)
    assert not window.plane_panel.space.isEnabled()
    window.session.set_plane(kind="random")
    wait_settled(qtbot, window.session)
    assert window.plane_panel.space.isEnabled()


# --- the data view ------------------------------------------------------------------------------

def convexity_violations(label: np.ndarray, pairs: int = 4000, seed: int = 0) -> float:
    """The share of sampled pairs of grid points of one class whose midpoint is of another class.

    A linear classifier's regions (argmax of affine scores) are convex: 0. Pairs are drawn with
    equal parities so that the midpoint is itself a grid point.
    """
    rng = np.random.default_rng(seed)
    bad = total = 0
    for k in np.unique(label):
        rows, cols = np.nonzero(label == k)
        if len(rows) < 2:
            continue
        i, j = rng.integers(0, len(rows), (2, pairs))
        same = ((rows[i] + rows[j]) % 2 == 0) & ((cols[i] + cols[j]) % 2 == 0)
        i, j = i[same], j[same]
        mid = label[(rows[i] + rows[j]) // 2, (cols[i] + cols[j]) // 2]
        bad += int(np.sum(mid != k))
        total += len(i)
    return bad / max(total, 1)


def shown_theta(window):
    figure = window.figure
    result = figure.data_result()
    return result.thetas[min(figure.frame, len(result.thetas) - 1)]


def test_the_network_draws_curved_regions_on_the_spiral(qtbot, window):
    view = window.figure.data_view
    linear = view.predicted.copy()
    assert linear.shape == (view.GRID, view.GRID)
    assert convexity_violations(linear) == 0.0  # the check is real: a linear classifier's regions pass it

    choose(window.model_panel.kind, "mlp")
    wait_settled(qtbot, window.session)
    window.session.set_plane(kind="axes")  # runs that start next to the optimum: a trained network's regions
    wait_settled(qtbot, window.session)
    type_into(window.model_panel.hidden, "32")  # a wider network fits the arms better
    wait_settled(qtbot, window.session)
    assert window.session.experiment.model.hidden == 32
    window.clock.seek(window.clock.n_frames - 1)
    qtbot.waitUntil(lambda: window.figure.frame == window.clock.n_frames - 1, timeout=5_000)
    model = window.session.problem.model
    theta = shown_theta(window)
    # the view asks the model: its regions are the network's argmax on the grid
    expected = np.argmax(model.scores(theta, view.grid_points), axis=1).reshape(view.GRID, view.GRID)
    np.testing.assert_array_equal(view.predicted, expected)
    assert len(np.unique(view.predicted)) == 3
    assert convexity_violations(view.predicted) > 0.02, "the network's regions look linear"
    # and it fits the spiral better than a linear classifier can (about 1/2 on three arms)
    X, y = window.session.problem.dataset.X, window.session.problem.dataset.y
    assert np.mean(np.argmax(model.scores(theta, X), axis=1) == y) > 0.7
    # the drawn image is those regions, and boundaries are traced around them
    assert view.regions.image.shape[:2] == (view.GRID, view.GRID)
    assert len(view.boundaries.getData()[0]) > 0


def test_the_linear_regions_are_as_before(qtbot, window):
    """The linear classifier's regions are still argmax(x W + b) on the same grid."""
    view = window.figure.data_view
    W, b = window.session.problem.model.unflatten(shown_theta(window))
    GX, GY = np.meshgrid(*view._grid)
    scores = np.stack([GX.ravel(), GY.ravel()], axis=1) @ W + b
    np.testing.assert_array_equal(view.predicted, np.argmax(scores, axis=1).reshape(GX.shape))
    assert view.GRID == 120


def test_decision_function_is_bounded_and_exact():
    rng = np.random.default_rng(0)
    model = MLPModel(3, 4, hidden=4096)
    theta = rng.standard_normal(model.n_params) * 0.1
    X = rng.standard_normal((700, 3))
    import losslab.app.figure as figure_module
    old = figure_module.DECISION_CHUNK
    figure_module.DECISION_CHUNK = 4096 * 64  # 64 rows a block: the 700 points take 11 blocks
    try:
        scores = decision_function(model, theta)(X)
    finally:
        figure_module.DECISION_CHUNK = old
    np.testing.assert_allclose(scores, model.scores(theta, X), rtol=1e-12, atol=1e-12)


# --- digits: the first layer's units as templates ---------------------------------------------

def test_digits_network_shows_its_hidden_units(qtbot, tmp_path):
    win = open_window(qtbot, tmp_path, DIGITS)
    try:
        templates = win.figure.templates
        assert win.figure.right.currentWidget() is templates
        assert templates.titles == tuple(str(k) for k in range(10))  # the linear classifier: one per class
        choose(win.model_panel.kind, "mlp")
        wait_settled(qtbot, win.session)
        type_into(win.model_panel.hidden, "12")
        wait_settled(qtbot, win.session)
        assert win.session.experiment.model.hidden == 12
        assert templates.titles == tuple(f"unit {h}" for h in range(12))
        assert "W₁[:, h]" in templates.heading and "all 12" in templates.heading
        W1 = win.session.problem.model.unflatten(shown_theta(win))[0]
        assert W1.shape == (64, 12)
        images = templates.images
        assert len(images) == 12
        for h, image in enumerate(images):
            np.testing.assert_array_equal(image.image, W1[:, h].reshape(8, 8))
            scale = np.abs(W1[:, h]).max()
            assert tuple(image.levels) == pytest.approx((-scale, scale))  # centred at 0: the diverging map

        type_into(win.model_panel.hidden, "40")  # more than fit: the first 32
        wait_settled(qtbot, win.session)
        assert len(templates.images) == templates.MAX_UNITS == 32
        assert "the first 32 of 40" in templates.heading

        choose(win.model_panel.kind, "linear")  # back to the class templates
        wait_settled(qtbot, win.session)
        assert templates.titles == tuple(str(k) for k in range(10)) and templates.heading == ""
    finally:
        win.close()


def test_a_loss_that_does_not_move_gets_a_readable_axis():
    """A stuck network's loss is constant up to rounding: the axis shows ±5% around it, not its last digits."""
    from losslab.app.views import flat_range
    stuck = np.log(3) + np.array([0.0, 2e-16, -2e-16, 4e-16])
    lo, hi = flat_range(stuck, log=False)
    assert lo == pytest.approx(0.95 * np.log(3)) and hi == pytest.approx(1.05 * np.log(3))
    assert flat_range(stuck, log=True) == pytest.approx((np.log10(np.log(3)) - 0.05, np.log10(np.log(3)) + 0.05))
    assert flat_range(np.array([1.0, 0.9]), log=False) is None  # a loss that moves keeps the automatic range
    assert flat_range(np.zeros(3), log=False) == (-1.0, 1.0)
    assert flat_range(np.array([np.nan]), log=False) is None


def test_the_speed_combo_shows_a_speed_the_session_started_with(qtbot, tmp_path):
    """A preset's own speed (60 steps/s, not among the combo's items) is shown, not the first item."""
    from losslab.app.session import ViewSettings
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(Session(SPIRAL, ViewSettings(speed=60.0)), settings=settings)
    qtbot.addWidget(win)
    assert win.transport.speed.currentText() == "60 steps/s" and win.transport.speed.currentData() == 60.0
    win.close()
