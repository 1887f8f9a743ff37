"""Curvature in the window: the readout says what ``curvature`` computes at the run's point, warns exactly
when lr passes the method's bound, the Hessian's axes drawn are its projected eigenvectors, and the map
over the plane is the per-point curvature."""
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from losslab.app.curvature_view import (MIN_HALF_PX, CurvatureMapItem, CurvatureReadout, EigenAxes,  # noqa: E402
                                        LrMaxLabel, add_lr_max_row, lr_max_text, map_markers, number)
from losslab.app import curvature_view  # noqa: E402
from losslab.app.jobs import JobRunner  # noqa: E402
from losslab.app.widgets import THEME_COLORS, ParamForm  # noqa: E402
from losslab.app.window import dark_palette  # noqa: E402
from losslab.engine import PlaneObjective, curvature, hessian, project  # noqa: E402
from losslab.engine.curvature_map import (CURVED_RTOL, CurvatureMap, curvature_map, curved_condition,  # noqa: E402
                                          lr_check, point_curvature, stable_lr, start_curvature)
from losslab.engine.experiment import (Experiment, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec,  # noqa: E402
                                       compute_all)
from losslab.engine.optimizers import OPTIMIZERS  # noqa: E402
from sessions import shown_plot  # noqa: E402

SMALL = Experiment(problem=ProblemSpec(n=60, seed=3), objective=ObjectiveSpec(loss="softmax", lam=0.05),
                   plane=PlaneSpec(kind="random", centre="optimum", span=2.0, resolution=8),
                   runs=(RunSpec("gd", (("lr", 0.5),)), RunSpec("momentum", (("batch_size", 0), ("lr", 0.2))),
                         RunSpec("adam", (("batch_size", 0),)), RunSpec("random_search")),
                   start=(-1.0, 1.5), steps=6)


@pytest.fixture(scope="module", params=["slice", "full"])
def computed(request):
    return compute_all(replace(SMALL, space=request.param))


def reference(computed, result, frame):
    """``curvature`` of the space the run moves in, at its iterate, straight from the engine."""
    if computed.experiment.slice_space:
        return curvature(PlaneObjective(computed.problem.objective, computed.plane), result.ab[frame])
    return curvature(computed.problem.objective, result.thetas[frame])


def readout(qtbot, jobs=None):
    widget = CurvatureReadout(jobs)
    qtbot.addWidget(widget)
    return widget


# --- the readout ------------------------------------------------------------------------------------

@pytest.mark.parametrize("frame", [0, 3, 99])
def test_the_readout_shows_the_curvature_at_the_runs_point(qtbot, computed, frame):
    widget = readout(qtbot)
    for result in computed.runs:
        widget.show(computed, result, frame)
        t = min(frame, len(result.ab) - 1)
        expected = reference(computed, result, t)
        found = widget.current
        assert found.frame == t and found.space == ("slice" if computed.experiment.slice_space else "full")
        np.testing.assert_allclose(found.curvature.eigenvalues, expected.eigenvalues, rtol=1e-12, atol=1e-14)
        texts = widget.texts
        assert texts["lambda_max"] == number(expected.lambda_max)
        assert texts["lambda_min"] == number(expected.lambda_min)
        assert texts["condition"] == number(expected.condition)
        assert texts["lr_max"] == number(expected.lr_max) == number(2 / expected.lambda_max)
        values = expected.eigenvalues
        curved = values[values > CURVED_RTOL * values[-1]]
        assert texts["curved_condition"] == number(values[-1] / curved[0])
        lr = result.spec.hyper_dict.get("lr", OPTIMIZERS[result.spec.method].defaults.get("lr"))
        assert texts["lr"] == number(lr)  # constant schedule: the rate of every step
        heading = widget.heading.text()
        assert ("the start" if t == 0 else f"step {t}") in heading


def test_full_space_softmax_has_a_flat_direction_and_says_so(qtbot):
    computed = compute_all(replace(SMALL, space="full"))
    widget = readout(qtbot)
    widget.show(computed, computed.runs[0], 2)
    assert widget.texts["condition"] == "∞"  # the unpenalized biases: softmax's shift is flat
    assert widget.texts["curved_condition"] not in ("∞", "—")
    assert "1 flat direction left out" in widget.hints["curved_condition"]
    assert "all P = 9 parameters" in widget.space.text()


def test_the_readout_computes_in_the_background_when_given_a_runner(qtbot, monkeypatch):
    computed = compute_all(replace(SMALL, space="full", steps=4))
    monkeypatch.setattr(curvature_view, "INLINE_PARAMS", 0)  # as for a large problem
    jobs = JobRunner()
    widget = readout(qtbot, jobs)
    result = computed.runs[0]
    widget.show(computed, result, 4)
    assert "computing…" in widget.heading.text()
    qtbot.waitUntil(lambda: widget.current is not None, timeout=10_000)
    assert widget.texts["lambda_max"] == number(reference(computed, result, 4).lambda_max)
    assert "computing" not in widget.heading.text()
    widget.show(computed, result, 1)  # superseded by the next call: only the last one is shown
    widget.show(computed, result, 2)
    qtbot.waitUntil(lambda: widget.current is not None and widget.current.frame == 2, timeout=10_000)
    assert jobs.wait(10_000)
    qtbot.wait(20)
    assert widget.current.frame == 2
    jobs.shutdown()


def test_the_same_point_is_computed_once():
    computed = compute_all(replace(SMALL, space="full"))
    first = point_curvature(computed, computed.runs[0], 0)
    # every run starts at one point: its curvature is shared, the frame is each caller's own
    again = point_curvature(computed, computed.runs[2], 0)
    assert again.curvature is first.curvature and start_curvature(computed).curvature is first.curvature


def test_the_cache_keeps_one_computed_and_a_bounded_memory(monkeypatch):
    from losslab.engine import curvature_map as module
    computed = compute_all(replace(SMALL, space="full"))
    result = computed.runs[0]
    monkeypatch.setattr(module, "CACHE_BYTES", 3 * (9 * 9 + 9) * 8)  # three 9-parameter curvatures
    for frame in range(6):
        point_curvature(computed, result, frame)
    assert len(module._cache.points) == 3 and module._cache.nbytes <= module.CACHE_BYTES
    other = compute_all(replace(SMALL, space="full", steps=2))
    point_curvature(other, other.runs[0], 1)
    assert len(module._cache.points) == 1 and module._cache.owner() is other  # the latest computed only
    assert point_curvature(computed, result, 5).frame == 5  # computed again when asked again


def test_a_diverged_iterate_has_no_curvature(qtbot):
    computed = compute_all(replace(SMALL, space="full"))
    result = computed.runs[0]
    thetas = np.array(result.thetas)
    thetas[-1] = np.inf
    broken = replace(result, thetas=thetas)
    with pytest.raises(ValueError, match="not finite"):
        point_curvature(computed, broken, 99)
    widget = readout(qtbot)
    widget.show(computed, broken, 99)
    assert widget.current is None and "not finite" in widget.space.text()
    assert set(widget.texts.values()) == {"—"} and not widget.warning


# --- the learning rate against its bound --------------------------------------------------------------

@pytest.fixture(scope="module")
def around_the_bound():
    """Runs whose lr sits just below and just above 2/λ_max at the start (and momentum between 2/λ and 2(1+μ)/λ)."""
    probe = compute_all(replace(SMALL, space="full", runs=(RunSpec("gd"),), steps=1))
    lr_max = start_curvature(probe).lr_max
    runs = (RunSpec("gd", (("lr", 0.95 * lr_max),)), RunSpec("gd", (("lr", 1.05 * lr_max),)),
            RunSpec("sgd", (("batch_size", 20), ("lr", 1.05 * lr_max))),
            RunSpec("momentum", (("batch_size", 0), ("lr", 1.5 * lr_max), ("momentum", 0.9))),
            RunSpec("momentum", (("batch_size", 0), ("lr", 4.0 * lr_max), ("momentum", 0.9))),
            RunSpec("adam", (("batch_size", 0), ("lr", 100.0 * lr_max))))
    return compute_all(replace(SMALL, space="full", runs=runs, steps=8)), lr_max


def test_the_warning_appears_exactly_when_lr_passes_the_bound(qtbot, around_the_bound):
    computed, lr_max = around_the_bound
    widget = readout(qtbot)
    wrong = THEME_COLORS["light"]["wrong"]
    expected = [False, True, True, False, True, False]  # momentum: 1.5 < 2(1+μ) = 3.8 < 4
    for result, unstable in zip(computed.runs, expected):
        widget.show(computed, result, 0)
        assert widget.warning is unstable, result.spec
        assert lr_check(computed, result, 0).unstable is unstable
        assert (wrong in widget._values["lr"].text()) is unstable  # the theme's "wrong" colour
        if unstable:
            assert "unstable here" in widget.hints["lr"]
    widget.show(computed, computed.runs[1], 0)
    assert "GD is unstable here: lr &gt; 2/λ<sub>max</sub>" in widget.hints["lr"]
    widget.show(computed, computed.runs[5], 0)
    assert "does not bound" in widget.hints["lr"]


def test_the_warning_follows_the_theme(qtbot, around_the_bound):
    computed, _ = around_the_bound
    widget = readout(qtbot)
    widget.show(computed, computed.runs[1], 0)
    widget.setPalette(dark_palette())
    assert THEME_COLORS["dark"]["wrong"] in widget._values["lr"].text()


def test_gradient_descent_above_the_bound_grows_along_the_top_eigenvector(around_the_bound):
    """What the warning claims, checked on the runs themselves: the component along v₁ shrinks below 2/λ_max
    and flips sign growing above it (the first step, where the quadratic model holds best)."""
    computed, lr_max = around_the_bound
    start = start_curvature(computed)
    v1 = start.curvature.eigenvectors[:, -1]
    objective = computed.problem.objective
    g0 = objective.grad(computed.runs[0].thetas[0])
    for result, factor in zip(computed.runs[:2], (0.95, 1.05)):
        step = result.thetas[1] - result.thetas[0]
        assert step @ v1 == pytest.approx(-factor * lr_max * (g0 @ v1))  # lr × the slope along v₁
        assert 1 - factor * lr_max * start.lambda_max == pytest.approx(1 - 2 * factor)  # the factor per step


@pytest.mark.parametrize("lr, lr_max, text, warn", [
    (0.1, 0.2, "stable below 2/λ_max = 0.2 at the start", False),
    (0.2, 0.2, "stable below 2/λ_max = 0.2 at the start", False),
    (0.21, 0.2, "lr > 2/λ_max = 0.2: unstable at the start", True),
    (1.0, float("inf"), "2/λ_max = ∞: nothing curves up at the start", False),
    (1.0, None, "", False),
    (None, 0.2, "stable below 2/λ_max = 0.2 at the start", False),
])
def test_lr_max_text(lr, lr_max, text, warn):
    assert lr_max_text(lr, lr_max) == (text, warn)


def test_each_method_has_its_bound():
    assert stable_lr("gd", {}, 10.0).bound == pytest.approx(0.2)
    assert stable_lr("sgd", {}, 10.0).bound == pytest.approx(0.2)
    assert stable_lr("momentum", {"momentum": 0.9}, 10.0).bound == pytest.approx(0.38)
    assert stable_lr("nesterov", {"momentum": 0.9}, 10.0).bound == pytest.approx(3.8 / 28)
    assert stable_lr("adam", {}, 10.0).bound is None and stable_lr("adam", {}, 10.0).lr_max == pytest.approx(0.2)
    assert stable_lr("random_search", {}, 10.0).bound is None
    assert stable_lr("gd", {}, 0.0).bound == float("inf")


@pytest.mark.parametrize("method, mu", [("momentum", 0.9), ("momentum", 0.5), ("nesterov", 0.9), ("nesterov", 0.3)])
def test_the_momentum_bounds_are_where_the_iteration_turns_unstable(method, mu):
    """On ½ λ x², the method's update as a 2 x 2 linear map of (x, v): spectral radius < 1 just below the bound."""
    lam = 4.0
    bound = stable_lr(method, {"momentum": mu}, lam).bound

    def radius(lr):
        # v' = μv + λx; x' = x − lr v' (heavy ball) or x − lr (λx + μ v') (Nesterov, torch's)
        if method == "momentum":
            M = np.array([[1 - lr * lam, -lr * mu], [lam, mu]])
        else:
            M = np.array([[1 - lr * lam * (1 + mu), -lr * mu * mu], [lam, mu]])
        return max(abs(np.linalg.eigvals(M)))

    assert radius(0.99 * bound) < 1 < radius(1.01 * bound)


def test_the_lr_field_shows_the_bound_below_it(qtbot, around_the_bound):
    computed, lr_max = around_the_bound
    start = start_curvature(computed)
    for spec, warn in zip(computed.experiment.runs, [False, True, True, False, True, False]):
        entry = OPTIMIZERS[spec.method]
        form = ParamForm(entry.params, entry.defaults | spec.hyper_dict)
        qtbot.addWidget(form)
        label = add_lr_max_row(form)
        row, _ = form.layout_.getWidgetPosition(form.editors["lr"])
        assert form.layout_.getWidgetPosition(label)[0] == row + 1
        label.show_start(spec, start)
        assert label.warn is warn
        assert ("unstable at the start" in label.plain_text) is warn
        assert (THEME_COLORS["light"]["wrong"] in label.text()) is warn
    search = ParamForm(OPTIMIZERS["random_search"].params)
    qtbot.addWidget(search)
    assert add_lr_max_row(search) is None  # no learning rate: no bound
    label = LrMaxLabel()
    qtbot.addWidget(label)
    label.show_start(computed.experiment.runs[0], None)  # not known yet
    assert label.plain_text == "" and not label.warn


# --- the condition over the curved directions ---------------------------------------------------------

class Quadratic:
    """L(θ) = ½ θᵀ A θ with A = Q diag(values) Qᵀ: a hand-made objective with a known spectrum."""

    def __init__(self, values, seed=0):
        self.values = np.asarray(values, dtype=float)
        self.n_params = self.values.size
        q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((self.n_params, self.n_params)))
        self.A = q @ np.diag(self.values) @ q.T

    def loss(self, theta):
        return 0.5 * theta @ self.A @ theta

    def loss_grad(self, theta, idx=None, rng=None):
        return self.loss(theta), self.A @ theta

    def grad(self, theta):
        return self.A @ theta


@pytest.mark.parametrize("values, condition, flat, down", [
    ([0.0, 0.0, 0.5, 2.0, 8.0], 16.0, 2, 0),       # two flat directions left out: 8 / 0.5
    ([1.0, 2.0, 4.0], 4.0, 0, 0),                   # nothing flat: the ordinary condition number
    ([-1.0, 0.0, 0.25, 3.0], 12.0, 1, 1),           # a saddle: one down, one flat
    ([3e-11, 1.0, 10.0], 10.0, 1, 0),               # below 1e-9 λ_max: flat, as rounding would leave it
])
def test_kappa_over_curved_directions_on_a_hand_made_objective(values, condition, flat, down):
    objective = Quadratic(values)
    found = curvature(objective, np.ones(objective.n_params))  # central differences: exact for a quadratic
    curved = curved_condition(found.eigenvalues)
    assert curved.condition == pytest.approx(condition, rel=1e-6)
    assert (curved.n_flat, curved.n_down) == (flat, down)
    if flat or down:
        assert found.condition > 1e10  # the plain one says ∞ (or rounding's 3e11): it cannot tell


def test_kappa_over_curved_directions_needs_an_upward_direction_and_the_whole_spectrum():
    assert curved_condition(np.array([-2.0, -1.0, 0.0])).condition is None  # nothing curves up
    assert curved_condition(np.array([0.0, 0.0])).condition is None
    # Lanczos knows only the ends: with its lowest flat, λ₊ is somewhere in the unknown middle
    assert curved_condition(np.array([0.0, 0.0, 5.0, 9.0]), complete=False).condition is None
    assert curved_condition(np.array([1.0, 2.0, 5.0, 9.0]), complete=False).condition == pytest.approx(9.0)


# --- the axes on the landscape --------------------------------------------------------------------------

@pytest.fixture
def plot(qtbot):
    widget = shown_plot(qtbot)
    yield widget.getPlotItem()  # the widget stays alive while the test runs


def segment(axes, k):
    path = axes.segments[k].path()
    first, last = path.elementAt(0), path.elementAt(path.elementCount() - 1)
    return np.array([first.x, first.y]), np.array([last.x, last.y])


def independent_axes(computed, result, frame):
    """The top two eigenvectors in plane coordinates, from ``hessian`` and eigh directly."""
    objective, plane = computed.problem.objective, computed.plane
    theta = result.thetas[frame]
    H = hessian(objective, theta)
    if computed.experiment.slice_space:
        values, vectors = np.linalg.eigh(plane.basis.T @ H @ plane.basis)  # the slice's 2 x 2
        return vectors[:, ::-1].T, values[::-1]
    values, vectors = np.linalg.eigh(H)
    top = vectors[:, [-1, -2]]
    ab, _ = project((plane.origin + top.T), plane)  # project's own map, the origin taken off again
    return ab - project(plane.origin, plane)[0], values[[-1, -2]]


def test_the_drawn_axes_are_the_projected_eigenvectors(plot, computed):
    result = computed.runs[0]
    a0, a1, b0, b1 = computed.plane.extent
    plot.setRange(xRange=(a0, a1), yRange=(b0, b1), padding=0)
    axes = EigenAxes()
    axes.attach(plot)
    found = point_curvature(computed, result, 3)
    axes.show_curvature(found, "#E69F00")
    vectors, values = independent_axes(computed, result, 3)
    np.testing.assert_allclose(found.axes_lambdas, values, rtol=1e-9)
    halves = []
    for k in range(2):
        start, end = segment(axes, k)
        assert axes.segments[k].isVisible()
        np.testing.assert_allclose((start + end) / 2, result.ab[3], rtol=1e-9, atol=1e-12)  # through the point
        half = (end - start) / 2
        v = vectors[k]
        cross = half[0] * v[1] - half[1] * v[0]
        assert abs(cross) <= 1e-9 * np.linalg.norm(half) * np.linalg.norm(v)  # along the eigenvector (either sign)
        halves.append(np.linalg.norm(half))
        np.testing.assert_allclose(axes.half_axes[k], half * np.sign(half @ axes.half_axes[k]), rtol=1e-9)
    # lengths ∝ |v| / √λ: the quadratic model's level set (unless the shorter had to be lengthened to be seen)
    scale = np.array([plot.vb.width(), plot.vb.height()]) / np.ptp(np.array(plot.vb.viewRange()), axis=1)
    pixels = [np.hypot(*(axes.half_axes[k] * scale)) for k in range(2)]
    if min(pixels) > MIN_HALF_PX + 1e-9:
        expected = (np.linalg.norm(vectors[0]) / np.sqrt(values[0])) / (np.linalg.norm(vectors[1]) / np.sqrt(values[1]))
        assert halves[0] / halves[1] == pytest.approx(expected, rel=1e-9)
    assert max(pixels) == pytest.approx(curvature_view.AXIS_SHARE * min(plot.vb.width(), plot.vb.height()))
    assert axes.ellipse.isVisible() and axes.caption.isVisible()
    assert [label.toPlainText() for label in axes.labels] == [f"λ₁ = {number(values[0], 3)}",
                                                              f"λ₂ = {number(values[1], 3)}"]
    assert ("projected" in axes.caption.text) is (not computed.experiment.slice_space)


def test_the_axes_are_cut_at_the_view_for_an_export(plot):
    from losslab.app.views import lines_cut_at_views
    plot.setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0)
    axes = EigenAxes()
    axes.attach(plot)
    axes.set_axes((0.95, 0.0), (1.0, 0.0), (0.0, 1.0), 1.0, 1.0, "#E69F00")  # near the right edge
    start, end = segment(axes, 0)
    assert max(start[0], end[0]) > 1.0  # on screen the view clips it
    with lines_cut_at_views():
        axes.redraw()  # as the figure's export redraws every panel
        start, end = segment(axes, 0)
        assert max(start[0], end[0]) == pytest.approx(1.0)  # an SVG has no clipping: cut here
        ring = axes.ellipse.path().controlPointRect()
        assert ring.right() <= 1.0 + 1e-9


def test_flat_and_far_axes(plot):
    plot.setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0)
    axes = EigenAxes()
    axes.attach(plot)
    axes.set_axes((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), 2.0, 0.0, "#56B4E9")  # a flat direction: dashed, no ellipse
    assert all(s.isVisible() for s in axes.segments) and not axes.ellipse.isVisible()
    assert axes.segments[1].pen().style() != axes.segments[0].pen().style()
    assert "(flat)" in axes.labels[1].toPlainText()
    axes.set_axes((1e30, 0.0), (1.0, 0.0), (0.0, 1.0), 2.0, 1.0, "#56B4E9")  # a diverging run: out of sight
    assert not any(s.isVisible() for s in axes.segments) and not axes.ellipse.isVisible()
    axes.set_axes((np.nan, 0.0), (1.0, 0.0), (0.0, 1.0), 2.0, 1.0, "#56B4E9")
    assert not any(s.isVisible() for s in axes.segments) and not axes.caption.isVisible()


# --- λ_min / λ_max over the plane --------------------------------------------------------------------------

@pytest.mark.parametrize("space", ["full", "slice"])
def test_the_map_is_the_per_point_curvature(computed, space):
    objective, plane = computed.problem.objective, computed.plane
    found = curvature_map(objective, plane, 5, space)
    a_values, b_values = plane.grid(5)
    np.testing.assert_array_equal(found.a_values, a_values)
    for j, i in [(0, 0), (2, 3), (4, 1), (4, 4)]:
        if space == "full":
            values = curvature(objective, plane.point(a_values[i], b_values[j])).eigenvalues
        else:
            values = curvature(PlaneObjective(objective, plane), np.array([a_values[i], b_values[j]])).eigenvalues
        assert found.lambda_min[j, i] == pytest.approx(values[0], abs=1e-12)
        assert found.lambda_max[j, i] == pytest.approx(values[-1], rel=1e-12)
    assert np.all(found.ratio >= 0)  # a convex objective curves down nowhere


def test_the_map_marks_only_where_the_loss_curves_down(qtbot, plot):
    low = np.array([[0.0, -0.5], [0.5, -4.0]])
    high = np.array([[2.0, 2.0], [1.0, -1.0]])
    found = CurvatureMap(np.array([0.0, 1.0]), np.array([10.0, 20.0]), low, high, "full")
    points, sizes, down = map_markers(found)
    np.testing.assert_array_equal(points, [[0, 10], [1, 10], [0, 20], [1, 20]])  # [j, i] at (a_i, b_j)
    np.testing.assert_array_equal(down, [False, True, False, True])  # convex points: hollow
    assert sizes[0] == sizes[2] == curvature_view.CONVEX_SIZE
    assert curvature_view.MAP_SIZES[0] < sizes[1] < sizes[3] == curvature_view.MAP_SIZES[1]  # −1/4 < down everywhere
    item = CurvatureMapItem()
    plot.addItem(item, ignoreBounds=True)
    item.set_map(found)
    drawn_x, drawn_y = item.getData()
    np.testing.assert_array_equal(np.column_stack([drawn_x, drawn_y]), points)
    np.testing.assert_array_equal(item.data["size"], sizes)
    assert item.isVisible()
    item.set_map(None)
    assert not item.isVisible() and len(item.getData()[0]) == 0
