"""The 1-D cuts panel draws the loss and accuracy along a line exactly, and marks each run where it projects.

Oracles are independent of the panel: ``objective.loss`` / ``parts`` / ``accuracy`` at
``theta0 + t d`` point by point, the projection formula ``t_k = (theta_k - theta0) . d / |d|^2``
written out, and Li et al.'s filter normalization checked through the model's filters.
"""
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtGui import QColor  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from losslab.app import cuts  # noqa: E402
from losslab.app.cuts import SAMPLES, CutsPanel, NoLine, cut_line, project_onto_line, sample_t  # noqa: E402
from losslab.app.figure import BACKGROUNDS  # noqa: E402
from losslab.app.views import run_color  # noqa: E402
from losslab.engine.experiment import (Experiment, ModelSpec, ObjectiveSpec, PlaneSpec, ProblemSpec,  # noqa: E402
                                       compute_all)
from losslab.engine.planes import Plane  # noqa: E402

RTOL, ATOL = 1e-9, 1e-12
SMALL = dict(plane=PlaneSpec(resolution=8), steps=25)
FRAME = 12


@pytest.fixture(scope="module")
def svm():
    """The default experiment (multiclass SVM on blobs, L2, plane centred at the optimum), small."""
    return compute_all(Experiment(**SMALL))


@pytest.fixture(scope="module")
def softmax():
    return compute_all(Experiment(objective=ObjectiveSpec(loss="softmax"), **SMALL))


@pytest.fixture(scope="module")
def network():
    return compute_all(Experiment(model=ModelSpec(kind="mlp", hidden=6), objective=ObjectiveSpec(loss="softmax"),
                                  space="full", **SMALL))


@pytest.fixture(scope="module")
def surface():
    return compute_all(Experiment(problem=ProblemSpec(source="surface", kind="rosenbrock"), **SMALL))


@pytest.fixture
def panel(qtbot):
    widget = CutsPanel()
    qtbot.addWidget(widget)
    widget.resize(1000, 320)
    widget.show()
    return widget


def choose(panel, kind, part="total"):
    panel.kind.setCurrentIndex(panel.kind.findData(kind))
    panel.part.setCurrentIndex(panel.part.findData(part))


def curve(item):
    x, y = item.getOriginalDataset()
    if x is None:
        return np.array([]), np.array([])
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def per_point(objective, theta0, direction, t, part="total"):
    out = []
    for s in t:
        theta = theta0 + s * direction
        data, reg = objective.parts(theta)
        out.append({"total": objective.loss(theta), "data": data, "reg": reg}[part])
    return np.array(out)


def assert_exact(values, expected):
    assert values.shape == expected.shape
    assert np.all(np.abs(values - expected) <= RTOL * np.abs(expected) + ATOL), np.max(np.abs(values - expected))


def sampled(t):
    """Every 37th sample, plus t = 0 and t = 1 where the line has them."""
    picks = set(range(0, t.size, 37)) | {t.size - 1} | set(np.flatnonzero((t == 0.0) | (t == 1.0)))
    return np.array(sorted(picks))


# --- the line's definition (no Qt) -------------------------------------------------------------------

def test_sample_t_has_the_marked_values_exactly():
    t = sample_t(-0.5, 1.5, (0.0, 1.0))
    assert t.size == SAMPLES and t[0] == -0.5 and t[-1] == 1.5
    assert 0.0 in t and 1.0 in t and np.all(np.diff(t) > 0)


def test_projection_onto_a_line_by_hand():
    theta0, d = np.array([1.0, 0.0, 0.0]), np.array([2.0, 0.0, 0.0])
    t, distance = project_onto_line(np.array([[3.0, 4.0, 0.0], [0.0, 0.0, -2.0]]), theta0, d)
    np.testing.assert_allclose(t, [1.0, -0.5])
    np.testing.assert_allclose(distance, [4.0, 2.0])


def test_start_to_optimum_goes_from_the_runs_start_to_the_planes_centre(svm):
    run = svm.runs[2]
    line = cut_line(svm, FRAME, "optimum", 2)
    np.testing.assert_array_equal(line.theta0, run.thetas[0])
    np.testing.assert_allclose(line.theta0 + line.direction, svm.problem.centre, rtol=0, atol=1e-12)
    assert "optimum" in line.caption and (1.0, "optimum", "") in line.marks


def test_without_an_optimum_centre_the_line_ends_where_the_run_ends():
    computed = compute_all(Experiment(plane=PlaneSpec(resolution=8, centre="zero"), steps=25))
    line = cut_line(computed, 0, "optimum", 2)
    np.testing.assert_allclose(line.theta0 + line.direction, computed.runs[2].thetas[-1], atol=1e-12)
    assert "ends" in line.caption and "not at the optimum" in line.caption


def test_two_runs_at_the_same_point_make_no_line(softmax):
    with pytest.raises(NoLine, match="same point"):
        cut_line(softmax, 0, "runs", 2, 3)  # every run starts at the same point
    with pytest.raises(NoLine, match="two different runs"):
        cut_line(softmax, FRAME, "runs", 2, 2)


# --- the panel: curves equal per-point evaluation ----------------------------------------------------

@pytest.mark.parametrize("part", ["total", "data", "reg"])
def test_start_to_optimum_curve_equals_per_point_loss(panel, svm, part):
    choose(panel, "optimum", part)
    panel.show(svm, FRAME, 2)
    objective, start, centre = svm.problem.objective, svm.runs[2].thetas[0], svm.problem.centre
    t, y = curve(panel.loss_curve)
    assert t.size == SAMPLES and t[0] == -0.5 and t[-1] == 1.5
    picks = sampled(t)
    assert_exact(y[picks], per_point(objective, start, centre - start, t[picks], part))
    # t = 0 and t = 1 are the endpoints' own values
    data0, reg0 = objective.parts(start)
    data1, reg1 = objective.parts(centre)
    ends = {"total": (objective.loss(start), objective.loss(centre)), "data": (data0, data1), "reg": (reg0, reg1)}[part]
    np.testing.assert_allclose([y[t == 0.0][0], y[t == 1.0][0]], ends, rtol=1e-9, atol=1e-12)
    assert [line.value() for line in panel.marks] == [0.0, 1.0]


def test_accuracy_curve_equals_per_point_accuracy_on_the_right_axis(panel, svm):
    choose(panel, "optimum")
    panel.show(svm, FRAME, 2)
    objective, start, centre = svm.problem.objective, svm.runs[2].thetas[0], svm.problem.centre
    t, accuracy = curve(panel.accuracy_curve)
    picks = sampled(t)
    expected = [objective.accuracy(start + s * (centre - start)) for s in t[picks]]
    np.testing.assert_array_equal(accuracy[picks], expected)
    assert panel.plot_item.getAxis("right").isVisible() and panel.accuracy_view.isVisible()
    assert "accuracy" in panel.caption.text()


def test_the_line_between_two_runs_and_every_runs_projection(panel, softmax):
    choose(panel, "runs")
    panel.show(softmax, FRAME, 2)
    panel.other.setCurrentIndex(3)
    objective = softmax.problem.objective
    a, b = softmax.runs[2].thetas[FRAME], softmax.runs[3].thetas[FRAME]
    t, y = curve(panel.loss_curve)
    picks = sampled(t)
    assert_exact(y[picks], per_point(objective, a, b - a, t[picks]))
    np.testing.assert_allclose([y[t == 0.0][0], y[t == 1.0][0]], [objective.loss(a), objective.loss(b)], rtol=1e-9)

    # each run's current point, written out: t_k = (θ_k − θ_A)·d / ‖d‖², at L(θ_A + t_k d), in its colour
    d = b - a
    spots = panel.markers.points()
    assert len(spots) == len(softmax.runs)
    for spot, run in zip(spots, softmax.runs):
        theta = run.thetas[min(FRAME, len(run.thetas) - 1)]
        t_k = float((theta - a) @ d / (d @ d))
        distance = float(np.linalg.norm(theta - (a + t_k * d)))
        assert spot.pos().x() == pytest.approx(t_k, rel=1e-9, abs=1e-12)
        assert spot.pos().y() == pytest.approx(objective.loss(a + t_k * d), rel=1e-9)
        assert QColor(spot.brush().color()) == QColor(run_color(run.index, run.spec))
        assert f"{distance:.4g}" in spot.data()
    np.testing.assert_allclose(panel.run_t[2:], [0.0, 1.0], atol=1e-12)  # A and B sit on their ends
    assert "Gradient descent" in panel.legend.text() and "on the line" in panel.legend.text()


def test_markers_follow_the_frames_without_computing_the_curve_again(panel, svm, monkeypatch):
    calls = []
    original = cuts.loss_line
    monkeypatch.setattr(cuts, "loss_line", lambda *args, **kw: calls.append(len(args[3])) or original(*args, **kw))
    choose(panel, "optimum")
    panel.show(svm, 3, 2)
    first = panel.markers.points()[2].pos().x()
    panel.show(svm, FRAME, 2)
    later = panel.markers.points()[2].pos().x()
    assert calls.count(SAMPLES) == 1  # the curve once; each frame only the few markers' heights
    assert first != later
    panel.part.setCurrentIndex(panel.part.findData("data"))  # another part: a new curve
    assert calls.count(SAMPLES) == 2


def test_nothing_is_computed_while_hidden(qtbot, svm, monkeypatch):
    calls = []
    original = cuts.loss_line
    monkeypatch.setattr(cuts, "loss_line", lambda *args, **kw: calls.append(1) or original(*args, **kw))
    widget = CutsPanel()
    qtbot.addWidget(widget)
    widget.show(svm, FRAME, 2)
    assert not calls
    widget.show()
    assert calls and curve(widget.loss_curve)[0].size == SAMPLES


def test_a_large_problems_curve_is_computed_in_the_background(qtbot, svm, monkeypatch):
    from losslab.app.jobs import JobRunner

    monkeypatch.setattr(cuts, "INLINE_WORK", 0)  # every curve counts as large
    jobs = JobRunner()
    widget = CutsPanel(jobs)
    qtbot.addWidget(widget)
    widget.show()
    choose(widget, "optimum")
    widget.show(svm, FRAME, 2)
    qtbot.waitUntil(lambda: curve(widget.loss_curve)[0].size == SAMPLES)
    objective, start, centre = svm.problem.objective, svm.runs[2].thetas[0], svm.problem.centre
    t, y = curve(widget.loss_curve)
    picks = sampled(t)
    assert_exact(y[picks], per_point(objective, start, centre - start, t[picks]))
    assert len(widget.markers.points()) == len(svm.runs)
    widget.show(svm, FRAME + 1, 2)  # the same line: the markers move at once, no job
    assert not jobs.is_running(cuts.JOB)
    jobs.shutdown()


def test_the_run_follows_the_data_views_run_until_one_is_picked(panel, svm):
    panel.show(svm, FRAME, 2)
    assert panel.run.currentIndex() == 2
    panel.show(svm, FRAME, 1)
    assert panel.run.currentIndex() == 1
    panel.run.setCurrentIndex(3)
    panel.show(svm, FRAME + 1, 1)
    assert panel.run.currentIndex() == 3


def test_two_runs_at_their_common_start_say_so(panel, softmax):
    choose(panel, "runs")
    panel.show(softmax, 0, 2)
    assert "same point" in panel.caption.text()
    assert curve(panel.loss_curve)[0].size == 0 and len(panel.markers.points()) == 0


# --- the random direction ---------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["svm", "network"])
def test_random_direction_is_filter_normalized_through_the_current_point(panel, request, which):
    computed = request.getfixturevalue(which)
    choose(panel, "random")
    panel.show(computed, FRAME, 2)
    panel.seed.set_value(5)
    panel._set_seed(5)
    line = panel._drawn.line
    theta = computed.runs[2].thetas[FRAME]
    model = computed.problem.model
    np.testing.assert_array_equal(line.theta0, theta)
    # Plane.random's convention (Li et al.): its first direction, each filter as long as θ's same filter
    np.testing.assert_array_equal(line.direction, Plane.random(theta, model, 5, computed.experiment.plane.bias).d1)
    for f in model.filters(computed.experiment.plane.bias):
        np.testing.assert_allclose(np.linalg.norm(line.direction[f], axis=0), np.linalg.norm(theta[f], axis=0),
                                   rtol=1e-12)
    in_filters = np.zeros(theta.size, dtype=bool)
    for f in model.filters(computed.experiment.plane.bias):
        in_filters[f.ravel()] = True
    assert not np.any(line.direction[~in_filters])  # bias="zero": biases stay fixed
    t, y = curve(panel.loss_curve)
    assert t[0] == -1.0 and t[-1] == 1.0 and 0.0 in t
    picks = sampled(t)
    assert_exact(y[picks], per_point(computed.problem.objective, theta, line.direction, t[picks]))
    _, accuracy = curve(panel.accuracy_curve)
    assert np.mean(accuracy[picks] == [computed.problem.objective.accuracy(theta + s * line.direction)
                                       for s in t[picks]]) >= 0.95  # equal but where two scores tie
    panel.next_seed.click()
    assert panel.seed.value() == 6 and not np.array_equal(panel._drawn.line.direction, line.direction)
    panel.span.set_value(2.5)
    panel.span.committed.emit(2.5)
    assert curve(panel.loss_curve)[0][-1] == 2.5


# --- other problems ----------------------------------------------------------------------------------------

def test_network_start_to_optimum(panel, network):
    choose(panel, "optimum")
    panel.show(network, FRAME, 2)
    objective, start, centre = network.problem.objective, network.runs[2].thetas[0], network.problem.centre
    t, y = curve(panel.loss_curve)
    picks = sampled(t)
    assert_exact(y[picks], per_point(objective, start, centre - start, t[picks]))
    _, accuracy = curve(panel.accuracy_curve)
    np.testing.assert_array_equal(accuracy[picks], [objective.accuracy(start + s * (centre - start)) for s in t[picks]])


def test_a_test_surface_shows_its_loss_only(panel, surface):
    choose(panel, "optimum")
    panel.show(surface, FRAME, 2)
    objective = surface.problem.objective
    start = surface.runs[2].thetas[0]
    line = panel._drawn.line
    assert any(np.allclose(line.theta0 + line.direction, m) for m in objective.minima)  # Rosenbrock's (1, 1)
    t, y = curve(panel.loss_curve)
    picks = sampled(t)
    assert_exact(y[picks], per_point(objective, start, line.direction, t[picks]))
    assert curve(panel.accuracy_curve)[0].size == 0
    assert not panel.plot_item.getAxis("right").isVisible() and not panel.accuracy_view.isVisible()
    assert not panel.part.isEnabled() and "no accuracy" in panel.caption.text()
    choose(panel, "random")
    assert np.linalg.norm(panel._drawn.line.direction) == pytest.approx(1.0)  # no filters: a unit direction


# --- log scale ---------------------------------------------------------------------------------------------

def test_log_scale_leaves_out_the_hinges_zero(panel):
    separable = ProblemSpec(kind="blobs", noise=0.2)  # the hinge reaches 0 at and beyond the optimum
    computed = compute_all(Experiment(problem=separable, objective=ObjectiveSpec(loss="svm", reg="none"), **SMALL))
    choose(panel, "optimum", "data")
    panel.show(computed, len(computed.runs[2].thetas) - 1, 2)
    losses = panel._drawn.losses
    assert np.any(losses == 0.0) and np.any(losses > 0)
    panel.log.setChecked(True)
    t, y = curve(panel.loss_curve)
    np.testing.assert_array_equal(np.isnan(y), losses <= 0)  # gaps, not log(0)
    np.testing.assert_array_equal(y[losses > 0], losses[losses > 0])
    low, high = panel.plot_item.vb.viewRange()[1]
    assert np.isfinite(low) and np.isfinite(high)
    for spot, height in zip(panel.markers.points(), panel.run_heights[panel.run_heights > 0]):
        assert spot.pos().y() == pytest.approx(np.log10(height))
    assert "log scale" in panel.plot_item.getAxis("left").labelText and "gaps" in panel.caption.text()
    assert not panel.plot_item.getAxis("right").logMode  # accuracy stays linear
    # nothing positive at all (no penalty): an empty curve, no error
    panel.part.setCurrentIndex(panel.part.findData("reg"))
    assert np.all(np.isnan(curve(panel.loss_curve)[1]))
    panel.log.setChecked(False)
    assert np.all(curve(panel.loss_curve)[1] == 0.0)


# --- theme -------------------------------------------------------------------------------------------------

def test_the_panel_follows_the_dark_theme(qtbot, panel):
    from losslab.app.window import dark_palette

    app = QApplication.instance()
    old = app.palette()
    try:
        app.setPalette(dark_palette())
        qtbot.waitUntil(lambda: panel.plot.backgroundBrush().color() == QColor(BACKGROUNDS["dark"]))
    finally:
        app.setPalette(old)
    qtbot.waitUntil(lambda: panel.plot.backgroundBrush().color() == QColor(BACKGROUNDS["light"]))
