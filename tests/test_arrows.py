"""Arrows on the landscape: the optimizer state recorded along a run, the engine's arrows and slopes
checked against independent numerical derivatives, and the overlay drawing exactly those arrows."""
import math
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
import pytest

from losslab.app.arrows import (DRAWN, KINDS, WINDOWS, ArrowOverlay, choose_factor, drawn_vectors, factors_in_window,
                                nice_factor, slope_text)
from losslab.app.views import LandscapePanel, run_color
from losslab.engine import Objective, Run, make_dataset, numerical_gradient, optimize, project
from losslab.engine.arrows import StepArrows, in_slice_space, step_arrows
from losslab.engine.experiment import Experiment, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec, compute_all
from sessions import shown_plot  # noqa: E402


# --- the state along a run ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def softmax():
    data = make_dataset("blobs", 60, 3, seed=1)
    return Objective(data.X, data.y, loss="softmax", reg="l2", lam=0.05)


def start(objective):
    return np.random.default_rng(2).normal(0.0, 0.5, objective.n_params)


def test_momentum_velocity_is_the_hand_run_buffer(softmax):
    lr, mu = 0.05, 0.8
    traj = optimize(softmax, "momentum", start(softmax), 12, lr=lr, momentum=mu, batch_size=0)
    assert set(traj.states) == {"v"} and traj.states["v"].shape == traj.thetas.shape
    theta, v = start(softmax), np.zeros(softmax.n_params)
    assert np.array_equal(traj.states["v"][0], v)
    for t in range(12):
        v = mu * v + softmax.loss_grad(theta)[1]
        theta = theta - lr * v
        np.testing.assert_allclose(traj.states["v"][t + 1], v, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(traj.thetas[t + 1], theta, rtol=1e-12, atol=1e-15)


def test_adagrad_cache_is_the_hand_run_sum_of_squares(softmax):
    lr = 0.2
    traj = optimize(softmax, "adagrad", start(softmax), 10, lr=lr, batch_size=0)
    assert set(traj.states) == {"G"}
    theta, G = start(softmax), np.zeros(softmax.n_params)
    for t in range(10):
        g = softmax.loss_grad(theta)[1]
        G = G + g * g
        theta = theta - lr * g / (np.sqrt(G) + 1e-10)
        np.testing.assert_allclose(traj.states["G"][t + 1], G, rtol=1e-12, atol=1e-15)


def test_minibatch_states_are_what_moved_the_run(softmax):
    """Minibatch gradients cannot be replayed, but the recorded state must explain every step."""
    lr = 0.1
    momentum = optimize(softmax, "momentum", start(softmax), 15, seed=4, lr=lr, batch_size=8, keep_prob=0.7)
    np.testing.assert_allclose(np.diff(momentum.thetas, axis=0), -lr * momentum.states["v"][1:], atol=1e-12)
    adagrad = optimize(softmax, "adagrad", start(softmax), 15, seed=4, lr=lr, batch_size=8)
    G = adagrad.states["G"]
    g_abs = np.sqrt(np.diff(G, axis=0))  # G grows by g² each update
    np.testing.assert_allclose(np.abs(np.diff(adagrad.thetas, axis=0)), lr * g_abs / (np.sqrt(G[1:]) + 1e-10),
                               rtol=1e-9, atol=1e-14)


def test_state_names_shapes_and_read_only(softmax):
    names = {"gd": set(), "sgd": set(), "numerical_gd": set(), "random_search": set(), "random_local_search": set(),
             "momentum": {"v"}, "nesterov": {"v"}, "adagrad": {"G"}, "rmsprop": {"s"}, "adam": {"m", "v"}}
    for method, expected in names.items():
        traj = optimize(softmax, method, start(softmax), 3, seed=1)
        assert set(traj.states) == expected, method
        for value in traj.states.values():
            assert value.shape == (4, softmax.n_params) and not value[0].any()
            with pytest.raises(ValueError):
                value[1, 0] = 1.0  # the record cannot be changed


def test_a_run_can_keep_no_states(softmax):
    kept = optimize(softmax, "adam", start(softmax), 5)
    bare = optimize(softmax, "adam", start(softmax), 5, record_states=False)
    assert bare.states == {} and np.array_equal(bare.thetas, kept.thetas)


@pytest.mark.parametrize("method, hyper", [
    ("momentum", {"batch_size": 5, "keep_prob": 0.8}),
    ("nesterov", {"batch_size": 0}),
    ("adagrad", {"batch_size": 7, "replace": True}),
    ("rmsprop", {"batch_size": 0}),
    ("adam", {"batch_size": 7, "keep_prob": 0.8, "schedule": "exponential", "decay_every": 10}),
])
def test_extending_a_run_records_the_same_states(softmax, method, hyper):
    whole = optimize(softmax, method, start(softmax), 30, seed=8, **hyper)
    run = Run(softmax, method, start(softmax), seed=8, **hyper)
    run.advance(11)
    for step in run.steps():
        if step.t == 19:
            break
    pieces = run.advance(11)
    assert np.array_equal(whole.thetas, pieces.thetas)
    assert whole.states.keys() == pieces.states.keys()
    for name in whole.states:
        assert np.array_equal(whole.states[name], pieces.states[name])


class Wall:
    """½θ² inside |θ| < 5, infinite outside: a run that jumps past 5 meets a non-finite loss."""

    n_examples = None
    n_params = 2

    def loss(self, theta):
        return 0.5 * float(theta @ theta) if np.all(np.abs(theta) < 5) else math.inf

    def loss_grad(self, theta, idx=None):
        return self.loss(theta), theta.copy()


def test_a_diverged_run_keeps_one_state_per_iterate():
    traj = optimize(Wall(), "momentum", np.array([1.0, 1.0]), 20, lr=4.0, batch_size=0)  # θ: 1, −3, 5.4
    assert traj.status == "diverged"
    assert "non-finite" in traj.message and len(traj.states["v"]) == len(traj.thetas) == 2


# --- the engine's arrows ----------------------------------------------------------------------------

RUNS = (RunSpec("gd", (("lr", 0.2),)), RunSpec("momentum", (("batch_size", 0), ("lr", 0.05))),
        RunSpec("nesterov", (("batch_size", 0), ("lr", 0.05))), RunSpec("adagrad", (("batch_size", 0),)),
        RunSpec("rmsprop", (("batch_size", 0),)), RunSpec("adam", (("batch_size", 0),)),
        RunSpec("sgd", (("batch_size", 16),)))
SMALL = Experiment(problem=ProblemSpec(n=90, seed=3), objective=ObjectiveSpec(loss="softmax", lam=0.05),
                   plane=PlaneSpec(kind="axes", axes=("W[0,0]", "W[1,2]"), centre="zero", span=2.0, resolution=8),
                   runs=RUNS, start=(-1.0, 1.5), steps=6)


@pytest.fixture(scope="module", params=[("axes", "slice"), ("random", "slice"), ("axes", "full"), ("random", "full")],
                ids=lambda p: "-".join(p))
def computed(request):
    kind, space = request.param
    return compute_all(replace(SMALL, plane=replace(SMALL.plane, kind=kind), space=space))


def numerical_grad(computed, theta):
    """The objective's gradient by centered differences: independent of loss_grad."""
    return numerical_gradient(computed.problem.objective.loss, theta, 1e-6)


def directional(computed, theta, direction, h=1e-6):
    loss = computed.problem.objective.loss
    return (loss(theta + h * direction) - loss(theta - h * direction)) / (2 * h)


def test_the_gradient_arrow_is_the_runs_projected_gradient(computed):
    plane = computed.plane
    B = plane.basis
    for result in computed.runs:
        for frame in (0, 3):
            arrows = step_arrows(computed, result, frame)
            theta = result.thetas[frame]
            g = numerical_grad(computed, theta)
            if in_slice_space(computed):  # the run lives in (a, b): its own gradient there
                expected = -(B.T @ g)
            else:  # the least-squares projection of −g, the map the paths are drawn with
                expected = np.linalg.lstsq(B, -g, rcond=None)[0]
                through_paths = project(theta - 1e-3 * g, plane)[0] - project(theta, plane)[0]
                np.testing.assert_allclose(expected, through_paths / 1e-3, rtol=1e-5, atol=1e-8)
            np.testing.assert_allclose(arrows.gradient, expected, rtol=1e-6, atol=1e-8)
            assert np.array_equal(arrows.origin, result.ab[frame])
            assert arrows.space == ("slice" if in_slice_space(computed) else "full")


def test_full_batch_steps_follow_their_update_rules(computed):
    results = {r.spec.method: r for r in computed.runs}
    for frame in range(5):
        gd = step_arrows(computed, results["gd"], frame)
        np.testing.assert_allclose(gd.step, gd.lr * gd.gradient, rtol=1e-9, atol=1e-13)
        assert gd.velocity is None and gd.scale is None
        m = step_arrows(computed, results["momentum"], frame)
        np.testing.assert_allclose(m.step, m.lr * (0.9 * m.velocity + m.gradient), rtol=1e-9, atol=1e-13)
        n = step_arrows(computed, results["nesterov"], frame)
        np.testing.assert_allclose(n.step, n.lr * (0.81 * n.velocity + 1.9 * n.gradient), rtol=1e-9, atol=1e-13)
        for method in ("adagrad", "rmsprop"):
            a = step_arrows(computed, results[method], frame)
            assert a.velocity is None
            np.testing.assert_allclose(a.step, a.scaled_gradient, rtol=1e-9, atol=1e-13)
            if in_slice_space(computed) or computed.plane.kind == "axes":  # the step ends on the scale's ellipse
                assert np.sum((a.step / a.scale_axes) ** 2) == pytest.approx(1.0, rel=1e-9)
        adam = step_arrows(computed, results["adam"], frame)
        assert adam.velocity is not None and adam.scale is not None


def test_a_minibatch_step_is_not_the_gradient(computed):
    sgd = step_arrows(computed, next(r for r in computed.runs if r.spec.method == "sgd"), 2)
    assert not np.allclose(sgd.step, sgd.lr * sgd.gradient, rtol=1e-3)


def test_slopes_are_centered_differences_along_the_axes_and_the_step(computed):
    plane = computed.plane
    for result in computed.runs:
        arrows = step_arrows(computed, result, 2)
        theta = result.thetas[2]
        assert arrows.slope_a == pytest.approx(directional(computed, theta, plane.d1), rel=1e-6, abs=1e-9)
        assert arrows.slope_b == pytest.approx(directional(computed, theta, plane.d2), rel=1e-6, abs=1e-9)
        dtheta = result.thetas[3] - theta
        u = dtheta / np.linalg.norm(dtheta)
        assert arrows.slope_step == pytest.approx(directional(computed, theta, u), rel=1e-6, abs=1e-9)


def test_the_scale_is_the_per_coordinate_step_factor():
    computed = compute_all(replace(SMALL, runs=(RunSpec("adagrad", (("batch_size", 0), ("lr", 0.3))),
                                                RunSpec("rmsprop", (("batch_size", 0),)))))
    adagrad, rmsprop = computed.runs
    arrows = step_arrows(computed, adagrad, 2)  # slice space: per a and b
    G = adagrad.trajectory.states["G"][3]
    np.testing.assert_allclose(arrows.scale, 0.3 / (np.sqrt(G) + 1e-10), rtol=1e-12)
    np.testing.assert_allclose(arrows.scale_axes, arrows.scale * np.linalg.norm(arrows.gradient), rtol=1e-12)
    s = rmsprop.trajectory.states["s"][1]
    np.testing.assert_allclose(step_arrows(computed, rmsprop, 0).scale, 0.01 / (np.sqrt(s) + 1e-8), rtol=1e-12)
    full = compute_all(replace(SMALL, runs=computed.experiment.runs[:1], space="full"))
    i, j = (full.problem.model.labels.index(a) for a in full.experiment.plane.axes)
    D = 0.3 / (np.sqrt(full.runs[0].trajectory.states["G"][3]) + 1e-10)
    np.testing.assert_allclose(step_arrows(full, full.runs[0], 2).scale, D[[i, j]], rtol=1e-12)  # an axes plane


def test_the_last_frame_has_no_step_and_frames_are_clamped(computed):
    result = computed.runs[0]
    last = len(result.ab) - 1
    for frame in (last, last + 5):
        arrows = step_arrows(computed, result, frame)
        assert arrows.frame == last and arrows.step is None and arrows.slope_step is None
    adagrad = step_arrows(computed, computed.runs[3], last)
    assert adagrad.scale is None and adagrad.scaled_gradient is None and adagrad.scale_axes is None
    assert step_arrows(computed, result, -3).frame == 0


def test_a_test_surface_has_arrows_too():
    computed = compute_all(Experiment(problem=ProblemSpec(source="surface", kind="rosenbrock"),
                                      plane=PlaneSpec(resolution=8), runs=(RunSpec("momentum"),), steps=5,
                                      start=(-1.0, 1.0)))
    result = computed.runs[0]
    arrows = step_arrows(computed, result, 3)
    g = numerical_gradient(computed.problem.objective.loss, result.thetas[3], 1e-6)
    np.testing.assert_allclose(arrows.gradient, -g, rtol=1e-6)
    assert arrows.labels == ("x", "y")


# --- the overlay --------------------------------------------------------------------------------------

@pytest.fixture
def plot(qtbot):
    widget = shown_plot(qtbot)
    yield widget.getPlotItem()  # the widget stays alive while the test runs


def show(plot, computed, frame, results=None):
    overlay = ArrowOverlay()
    overlay.attach(plot)
    a0, a1, b0, b1 = computed.plane.extent
    plot.setRange(xRange=(a0, a1), yRange=(b0, b1), padding=0)
    results = list(computed.runs if results is None else results)
    arrows = [(step_arrows(computed, r, frame), run_color(r.index, r.spec)) for r in results]
    overlay.set_arrows(arrows)
    return overlay, arrows


def drawn_end(drawn):
    path = drawn.line.path()
    first, last = path.elementAt(0), path.elementAt(path.elementCount() - 1)
    return np.array([first.x, first.y]), np.array([last.x, last.y])


def test_the_drawn_gradient_is_the_runs_projected_gradient(plot, computed):
    overlay, arrows = show(plot, computed, 2)
    gradients = [d for d in overlay.drawn if d.kind == "gradient"]
    assert len(gradients) == len(arrows)
    for drawn in gradients:
        engine = arrows[drawn.run][0]
        start, end = drawn_end(drawn)
        assert drawn.line.isVisible()
        np.testing.assert_allclose(start, engine.origin, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose((end - start) / overlay.factors["gradient"], engine.gradient, rtol=1e-9,
                                   atol=1e-12)
        head = drawn.head.pos()  # the head sits at the tip
        np.testing.assert_allclose([head.x(), head.y()], end, rtol=1e-12, atol=1e-12)
    for drawn in overlay.drawn:
        if drawn.kind in ("step", "velocity"):
            start, end = drawn_end(drawn)
            vector = drawn_vectors(arrows[drawn.run][0])[drawn.kind]
            np.testing.assert_allclose((end - start) / overlay.factors[drawn.kind], vector, rtol=1e-9, atol=1e-12)


def test_factors_bring_the_longest_arrow_into_view(plot, computed, qtbot):
    overlay, _ = show(plot, computed, 0, computed.runs[:1])
    vb = plot.vb
    scale = np.array([vb.width(), vb.height()]) / np.ptp(np.array(vb.viewRange()), axis=1)
    size = float(min(np.ptp(np.array(vb.viewRange()), axis=1) * scale))

    def share(kind):
        return max(np.hypot(*((d.tip - d.start) * scale)) for d in overlay.drawn if d.kind == kind) / size

    target, low, high = WINDOWS["gradient"]
    assert low <= share("gradient") <= high
    factor = overlay.factors["gradient"]
    a0, a1, b0, b1 = computed.plane.extent
    plot.setRange(xRange=(a0 / 1000, a1 / 1000), yRange=(b0 / 1000, b1 / 1000), padding=0)  # zoom far in
    assert overlay.factors["gradient"] < factor / 100  # a new factor, in the legend too
    assert f"×{overlay.factors['gradient']:g}" in dict(overlay.legend.rows)["gradient"]
    assert overlay.factors["velocity"] == overlay.factors["gradient"]
    assert overlay.factors["scale"] == overlay.factors["step"]


def test_heads_keep_their_pixel_size_at_any_zoom(plot, computed):
    overlay, _ = show(plot, computed, 1, computed.runs[:1])
    head = next(d.head for d in overlay.drawn if d.kind == "gradient")
    size = head.path().boundingRect()
    assert 5 <= size.width() <= 12  # pixels
    overlay.factors = dict.fromkeys(overlay.factors, 1.0)
    a0, a1, b0, b1 = computed.plane.extent
    plot.setRange(xRange=(a0 * 10, a1 * 10), yRange=(b0 * 10, b1 * 10), padding=0)
    head = next(d.head for d in overlay.drawn if d.kind == "gradient")
    assert head.path().boundingRect().width() <= 12
    assert head.flags() & head.GraphicsItemFlag.ItemIgnoresTransformations


def test_kinds_can_be_hidden_and_the_legend_follows(plot, computed):
    overlay, _ = show(plot, computed, 1)
    assert {d.kind for d in overlay.drawn} == set(DRAWN)
    assert [kind for kind, _ in overlay.legend.rows] == list(DRAWN)
    assert KINDS == ("gradient", "step", "velocity")
    overlay.set_visible_kinds({"velocity"})  # the optimizer's memory: velocity and per-coordinate scale
    assert {d.kind for d in overlay.drawn} == {"velocity", "scale"}
    overlay.set_visible_kinds({"step"})
    assert {d.kind for d in overlay.drawn} == {"step"}
    assert [kind for kind, _ in overlay.legend.rows] == ["step"]
    with pytest.raises(ValueError, match="unknown arrow kinds"):
        overlay.set_visible_kinds({"curvature"})
    overlay.set_arrows([])
    assert overlay.drawn == [] and not overlay.legend.isVisible()


def test_the_overlay_sits_on_a_landscape_panel(qtbot, computed):
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    panel = LandscapePanel("Gradient descent", "#E69F00")
    widget.ci.addItem(panel)
    widget.resize(400, 400)
    widget.show()
    qtbot.waitExposed(widget)
    overlay, arrows = show(panel, computed, 0, computed.runs[:2])
    assert overlay.getViewBox() is panel.vb and overlay.legend.parentItem() is panel.vb
    assert overlay.drawn and all(d.line.isVisible() for d in overlay.drawn)


def test_huge_and_far_arrows_stay_drawable(plot, computed):
    """A diverging run's arrows: a huge one is scaled into view, one from far away is out of sight, NaN is skipped."""
    overlay, arrows = show(plot, computed, 0, computed.runs[:1])
    huge = replace(arrows[0][0], gradient=np.array([1e300, -1e300]), step=np.array([np.nan, 1.0]))
    overlay.set_arrows([(huge, "#E69F00")])
    gradient = next(d for d in overlay.drawn if d.kind == "gradient")
    start, end = drawn_end(gradient)
    assert np.isfinite(end).all() and gradient.head.isVisible() and overlay.factors["gradient"] < 1e-299
    assert "step" not in {d.kind for d in overlay.drawn}  # a NaN arrow is not drawn
    far = replace(arrows[0][0], origin=np.array([1e30, 1.0]))
    overlay.set_arrows([(far, "#E69F00")])
    assert overlay.drawn and not any(d.line.isVisible() or d.head.isVisible() for d in overlay.drawn)


def test_slope_text_reads_the_slopes():
    arrows = StepArrows("gd", 3, ("W[0,0]", "W[0,1]"), "slice", np.zeros(2), np.zeros(2), np.ones(2), None, None,
                        None, -0.3127, 0.05, -0.3204, 0.1)
    assert slope_text(arrows) == "slope along W[0,0]: −0.313, along W[0,1]: 0.05, along the step: −0.32"
    last = replace(arrows, step=None, slope_step=None)
    assert slope_text(last) == "slope along W[0,0]: −0.313, along W[0,1]: 0.05"


@pytest.mark.parametrize("wanted, nice", [(6.9, 5.0), (7.4, 10.0), (0.031, 0.02), (3.3, 5.0), (1.2, 1.0), (150, 200)])
def test_nice_factors(wanted, nice):
    assert nice_factor(wanted) == pytest.approx(nice)


def test_factor_choice_keeps_one_and_the_current_factor_while_they_fit():
    window = (0.3, 0.12, 0.6)
    assert choose_factor(5.0, 30.0, 100.0, window) == 1.0  # 30% at ×1
    assert choose_factor(5.0, 5.0, 100.0, window) == 5.0  # 25% at the current ×5: kept
    assert choose_factor(5.0, 1.0, 100.0, window) == pytest.approx(20.0)  # too short: to ~30%
    assert choose_factor(5.0, 0.0, 100.0, window) == 5.0  # nothing to measure
    assert factors_in_window(1.0, 100.0, window) == pytest.approx([20.0, 50.0])  # nearest 30% first
    assert factors_in_window(30.0, 100.0, window)[0] == 1.0  # 1 first where it fits
    assert factors_in_window(0.0, 100.0, window) == []
