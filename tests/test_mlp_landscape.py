"""Landscapes of the two-layer network: exactly per-point evaluation, many grid points at once.

"Exact" is checked as ``|Z - loss| <= RTOL |loss| + ATOL * scale``, where ``scale`` is the
size of the terms summed into the scores (``|act(Z1)| |W2| + |b2|``, its largest entry over
the grid): the scores are sums of those terms, rounded relative to them, and a loss near 0
(a hinge's flat region, a confident softmax) is exact only up to that rounding, on both sides.
"""
import threading

import numpy as np
import pytest

import losslab.engine.landscape as landscape
from losslab.engine import LOSSES, Objective, Plane, loss_surface, loss_surface_blocks, surface_parts

LOSS_NAMES = ("svm", "squared_hinge", "softmax", "ova_svm", "structured_svm")
# ReLU takes kink binning or the dense path, whichever is cheaper for its moving units: forced here
PATHS = ("relu/binned", "relu/dense", "tanh")
PLANE_KINDS = ("axes_W1", "axes_b1", "axes_W2", "axes_b2", "axes_W1_W2", "axes_b1_b2",
               "random", "random_column", "pca", "interpolation")
RTOL, ATOL = 1e-12, 1e-15
D, H, C = 3, 5, 3


def dataset(N=18, seed=0):
    """Gaussian classes in shuffled order (the landscape sorts them by label), two rows repeated exactly."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(N) % C)
    X = rng.standard_normal((N, D)) + 1.5 * rng.standard_normal((C, D))[y]
    X[-2:], y[-2:] = X[:2], y[:2]
    return X, y


def use_path(path, monkeypatch):
    """Force the path (the dense path's estimated work per unit decides); returns the activation."""
    if path == "relu/binned":
        monkeypatch.setattr(landscape, "_DENSE_UNIT_WORK", 1e9)
    elif path == "relu/dense":
        monkeypatch.setattr(landscape, "_DENSE_UNIT_WORK", 0.0)
    return path.split("/")[0]


def network(loss, activation, N=18, seed=0, **kwargs):
    X, y = dataset(N, seed)
    kwargs = {"reg": "l2", "lam": 0.05, "margin": 1.3, **kwargs}
    if loss == "softmax":
        kwargs.pop("margin")
    return Objective(X, y, loss=loss, model="mlp", hidden=H, activation=activation, **kwargs)


def start(objective, seed=0, scale=0.8):
    """A random network with nonzero biases."""
    rng = np.random.default_rng(seed)
    W1, b1, W2, b2 = objective.unflatten(objective.model.init(seed, scale))
    return objective.flatten(W1, 0.3 * rng.standard_normal(b1.shape), W2, 0.3 * rng.standard_normal(b2.shape))


def coordinate(objective, name, *index):
    """The index into theta of ``name[index]`` (``W1[d, h]``, ``b2[c]``...)."""
    group = objective.model.group_slice(name)
    shape = dict((g.name, g.shape) for g in objective.model.groups)[name]
    return group.start + int(np.ravel_multi_index(index, shape))


def descent(objective, theta, steps=6, lr=0.05):
    path = [theta]
    for _ in range(steps):
        path.append(path[-1] - lr * objective.grad(path[-1]))
    return np.array(path)


def plane_of_kind(kind, objective, theta, seed=0):
    rng = np.random.default_rng(seed)
    model, P = objective.model, objective.n_params
    at = lambda *spec: coordinate(objective, *spec)  # noqa: E731
    axes = {"axes_W1": (at("W1", 0, 1), at("W1", 2, 3)), "axes_b1": (at("b1", 0), at("b1", 2)),
            "axes_W2": (at("W2", 1, 0), at("W2", 3, 2)), "axes_b2": (at("b2", 0), at("b2", 1)),
            "axes_W1_W2": (at("W1", 1, 2), at("W2", 2, 1)), "axes_b1_b2": (at("b1", 1), at("b2", 2))}
    if kind in axes:
        return Plane.axes(theta, *axes[kind], model)
    if kind == "random":
        return Plane.random(theta, model, seed=seed)
    if kind == "random_column":
        return Plane.random(theta, model, seed=seed, bias="column")
    if kind == "pca":  # two short descents from different starts
        return Plane.pca([descent(objective, theta), descent(objective, start(objective, seed + 1))])
    return Plane.interpolation(theta, theta + rng.standard_normal(P), theta + rng.standard_normal(P))


def grids(plane, seed=0):
    """Two grids over the plane's window, widened: a evenly spaced but shuffled (the arithmetic
    kink placement), and a at random with a repeated value (searchsorted); b uneven."""
    rng = np.random.default_rng(seed)
    a0, a1, b0, b1 = plane.extent
    wa, wb = 0.5 * (a1 - a0), 0.5 * (b1 - b0)
    even = rng.permutation(np.linspace(a0 - wa, a1 + wa, 9))
    uneven = rng.uniform(a0 - wa, a1 + wa, 8)
    uneven[5] = uneven[2]
    b = np.sort(rng.uniform(b0 - wb, b1 + wb, 5))
    return [(even, b), (uneven, b)]


def reference(objective, plane, a, b):
    """Per point: (data, reg) at every grid point (Z[j, i] <-> (a_i, b_j)) and the score scale."""
    model, X = objective.model, objective.X
    data, reg = np.empty((b.size, a.size)), np.empty((b.size, a.size))
    scale = 0.0
    for j, bj in enumerate(b):
        for i, ai in enumerate(a):
            theta = plane.point(ai, bj)
            data[j, i], reg[j, i] = objective.parts(theta)
            _, _, W2, b2 = model.unflatten(theta)
            terms = np.abs(model.hidden_layer(theta, X)[1]) @ np.abs(W2) + np.abs(b2)
            scale = max(scale, float(terms.max()))
    return data, reg, scale


def assert_exact(Z, expected, scale):
    assert Z.shape == expected.shape
    error = np.abs(Z - expected)
    assert np.all(error <= RTOL * np.abs(expected) + ATOL * scale), \
        f"max error {error.max():.2e} (relative {np.max(error / np.maximum(np.abs(expected), 1e-300)):.2e}, " \
        f"of the score scale {error.max() / scale:.2e})"


# --- exactness ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", PLANE_KINDS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_network_surface_equals_per_point_evaluation(loss, path, kind, monkeypatch):
    objective = network(loss, use_path(path, monkeypatch), seed=PLANE_KINDS.index(kind))
    plane = plane_of_kind(kind, objective, start(objective, seed=3), seed=PLANE_KINDS.index(kind))
    for a, b in grids(plane, seed=len(kind)):
        data, reg, scale = reference(objective, plane, a, b)
        assert_exact(loss_surface(objective, plane, a, b, "data"), data, scale)
        assert_exact(loss_surface(objective, plane, a, b, "reg"), reg, scale)
        assert_exact(loss_surface(objective, plane, a, b), data + reg, scale)


@pytest.mark.parametrize("path", PATHS)
def test_small_steps_tile_the_same_surface(path, monkeypatch):
    # steps of a few examples and rows (binned), a few columns, rows and units at a time (dense):
    # the same numbers, with an absent class among the labels
    activation = use_path(path, monkeypatch)
    X, y = dataset(N=40, seed=9)
    objective = Objective(X, y, loss="softmax", model="mlp", hidden=H, activation=activation, n_classes=C + 1)
    plane = Plane.random(start(objective, seed=9), objective.model, seed=9)
    a, b = np.linspace(-1.5, 1.5, 13), np.linspace(-1, 1, 11)
    data, _, scale = reference(objective, plane, a, b)
    whole = loss_surface(objective, plane, a, b, "data")
    assert_exact(whole, data, scale)
    monkeypatch.setattr(landscape, "_KINK_BLOCK", 3000)  # binned: 2-3 examples x 1 row per step
    monkeypatch.setattr(landscape, "_NETWORK_BLOCK", 64)  # dense: 4 examples x 8 columns, units 2 at a time
    monkeypatch.setattr(landscape, "_DENSE_EXAMPLES", 16)
    for block_rows in (None, 4):
        tiled = np.vstack([z for _, z in loss_surface_blocks(objective, plane, a, b, "data", block_rows)])
        assert_exact(tiled, data, scale)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_grid_points_on_relu_kinks(loss, path, monkeypatch):
    # unit 1 gets z = a x0 + b (W1[0, 1] and b1[1] are the axes) on the examples with x1 = x2 = 0:
    # with x0 in {+-1, +-2, 0.5} the kinks a = -b / x0 fall exactly on grid points, a = 0 zeroes
    # z where b = 0, and x0 = 0 leaves a unit flat along a (active iff b > 0)
    N = 15
    X = np.zeros((N, D))
    X[:, 0] = np.resize([1.0, -1.0, 2.0, -2.0, 0.5, 0.0], N)
    X[::2, 1:] = np.random.default_rng(1).standard_normal((X[::2].shape[0], D - 1))
    y = np.arange(N) % C
    objective = Objective(X, y, loss=loss, reg="l2", lam=0.05, model="mlp", hidden=H,
                          activation=use_path(path, monkeypatch))
    theta = start(objective, seed=1)
    plane = Plane.axes(theta, coordinate(objective, "W1", 0, 1), coordinate(objective, "b1", 1), objective.model)
    a, b = np.linspace(-2.0, 2.0, 17), np.linspace(-2.0, 2.0, 9)
    data, reg, scale = reference(objective, plane, a, b)
    assert_exact(loss_surface(objective, plane, a, b), data + reg, scale)
    assert_exact(loss_surface(objective, plane, a[::-1], b), (data + reg)[:, ::-1], scale)


@pytest.mark.parametrize("path", PATHS)
def test_softmax_with_scores_of_thousands_does_not_overflow(path, monkeypatch):
    objective = network("softmax", use_path(path, monkeypatch), reg="none")
    W1, b1, W2, b2 = objective.unflatten(start(objective, seed=2))
    theta = objective.flatten(20 * W1, 20 * b1, 300 * W2, b2)  # scores ~1e3 .. 1e4
    for plane in (Plane.random(theta, objective.model, seed=2), plane_of_kind("axes_W1_W2", objective, theta)):
        a, b = np.linspace(-2, 2, 11), np.linspace(-2, 2, 7)
        data, _, scale = reference(objective, plane, a, b)
        assert scale > 1e3
        Z = loss_surface(objective, plane, a, b, "data")
        assert np.all(np.isfinite(Z))
        assert_exact(Z, data, scale)


def test_tanh_far_in_saturation_is_exact():
    # pre-activations of thousands: e^{2q} and e^{2ap} would over- and underflow; clipped, they
    # stay exact unless both are extreme, and those units are taken directly
    objective = network("svm", "tanh", reg="none")
    W1, b1, W2, b2 = objective.unflatten(start(objective, seed=4))
    theta = objective.flatten(1e3 * W1, 1e3 * b1, W2, b2)
    plane = Plane.random(theta, objective.model, seed=4, bias="column")
    a, b = np.linspace(-1.5, 1.5, 13), np.linspace(-1.5, 1.5, 7)
    data, _, scale = reference(objective, plane, a, b)
    assert_exact(loss_surface(objective, plane, a, b, "data"), data, scale)


def test_parts_add_up_and_data_does_not_depend_on_lam():
    objective = network("squared_hinge", "tanh")
    plane = Plane.random(start(objective, seed=5), objective.model, seed=5)
    a, b = np.linspace(-1, 1, 9), np.linspace(-1, 1, 6)
    data, reg = surface_parts(objective, plane, a, b)
    assert np.allclose(data + reg, loss_surface(objective, plane, a, b), rtol=1e-14, atol=0)
    other = objective.replace(lam=3.0)
    assert np.array_equal(loss_surface(other, plane, a, b, "data"), data)


def test_threads_do_not_change_a_digit(monkeypatch):
    a, b = np.linspace(-1, 1, 12), np.linspace(-1, 1, 9)
    monkeypatch.setattr(landscape, "_KINK_BLOCK", 4000)  # several steps per block
    for path in PATHS:
        objective = network("softmax", use_path(path, monkeypatch), N=30)
        plane = Plane.random(start(objective, seed=6), objective.model, seed=6)
        monkeypatch.setattr(landscape, "_THREADS", 1)
        one = loss_surface(objective, plane, a, b)
        monkeypatch.setattr(landscape, "_THREADS", 2)
        assert np.array_equal(loss_surface(objective, plane, a, b), one)


def test_relu_bins_its_kinks_when_many_units_move():
    objective = Objective(*dataset(N=30), loss="svm", model="mlp", hidden=32)
    theta = start(objective, seed=10)
    a = np.linspace(-1, 1, 64)
    for plane, binned in ((Plane.random(theta, objective.model, seed=10), True),  # all 32 units move
                          (Plane.axes(theta, 0, 1, objective.model), False)):  # two units move: dense
        layers = [objective.model.unflatten(v) for v in (plane.origin, plane.d1, plane.d2)]
        assert landscape._NetworkData(objective, layers, a).binned is binned
        data, _, scale = reference(objective, plane, a[::8], a[::16])
        assert_exact(loss_surface(objective, plane, a[::8], a[::16], "data"), data, scale)


# --- the generator form ---------------------------------------------------------------------------

def test_blocks_concatenate_to_the_surface_and_the_setup_yields(monkeypatch):
    objective = network("svm", use_path("relu/binned", monkeypatch), N=36)
    plane = Plane.random(start(objective, seed=7), objective.model, seed=7)
    a, b = np.linspace(-1, 1, 10), np.linspace(-1, 1, 13)
    Z = loss_surface(objective, plane, a, b)
    for block_rows in (None, 1, 5):
        seen = list(loss_surface_blocks(objective, plane, a, b, block_rows=block_rows))
        assert [r.start for r, _ in seen] == sorted(r.start for r, _ in seen)
        assert np.array_equal(np.vstack([z for _, z in seen]), Z)
    # a set-up in several pieces, each reporting its work: with a tiny step of work, every report
    # is a cancellation point, an empty block before the first rows are done
    monkeypatch.setattr(landscape, "_STEP_WORK", 1)
    monkeypatch.setattr(landscape, "_PIECE_TERMS", 4 * H)  # 4 examples per set-up piece: 9 pieces
    pieces = []
    setup = landscape._NetworkData._setup

    def counted(self):
        for work in setup(self):
            pieces.append(work)
            yield work

    monkeypatch.setattr(landscape._NetworkData, "_setup", counted)
    blocks = loss_surface_blocks(objective, plane, a, b, block_rows=4)
    empty = 0
    for rows, z in blocks:
        if z.shape[0]:
            break
        assert rows == slice(0, 0) and z.shape == (0, a.size)
        empty += 1
        if len(pieces) == 3:  # cancel mid-set-up: closing stops it there
            blocks.close()
            break
    assert empty >= 3 and len(pieces) == 3
    # and run to the end, the empty blocks in between change nothing
    full = [z for _, z in loss_surface_blocks(objective, plane, a, b, block_rows=4)]
    assert len(pieces) == 3 + 9
    assert np.array_equal(np.vstack(full), Z)


def test_cancelling_mid_surface_leaves_no_thread_running(monkeypatch):
    objective = network("softmax", "tanh", N=60)
    plane = Plane.random(start(objective, seed=8), objective.model, seed=8)
    a, b = np.linspace(-1, 1, 40), np.linspace(-1, 1, 40)
    monkeypatch.setattr(landscape, "_NETWORK_BLOCK", 2000)  # many small steps
    monkeypatch.setattr(landscape, "_STEP_WORK", 1)
    monkeypatch.setattr(landscape, "_THREADS", 2)
    before = threading.active_count()
    blocks = loss_surface_blocks(objective, plane, a, b)
    for _ in range(5):
        next(blocks)
    blocks.close()
    assert threading.active_count() == before


# --- the per-example losses ------------------------------------------------------------------------

def score_cases():
    rng = np.random.default_rng(11)
    N, K = 23, 4
    yield "random", rng.standard_normal((N, K)), rng.integers(0, K, N)
    yield "sorted labels", 3 * rng.standard_normal((N, K)), np.sort(rng.integers(0, K, N))
    yield "ties", rng.integers(0, 2, (N, K)).astype(float), rng.integers(0, K, N)
    yield "all equal", np.full((N, K), 0.7), rng.integers(0, K, N)
    yield "margin ties", np.tile([0.0, 1.3, -1.3, 2.6], (N, 1)), np.arange(N) % K  # terms exactly 0
    yield "one label", rng.standard_normal((N, 2)), np.ones(N, dtype=int)
    yield "large", 1e3 * rng.standard_normal((N, K)), rng.integers(0, K, N)


@pytest.mark.parametrize("margin", [0.0, 1.3])
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_per_example_losses_equal_the_reference_losses(loss, margin):
    entry = LOSSES[loss]
    per_example = entry.extra["per_example"]
    for name, scores, y in score_cases():
        expected = np.array([entry.impl(scores[i:i + 1], y[i:i + 1], margin)[0] for i in range(len(y))])
        got = per_example(np.ascontiguousarray(scores.T), y, margin)  # class-major (C, N)
        assert np.allclose(got, expected, rtol=1e-15, atol=1e-15 * (1 + np.abs(scores).max())), name
        assert got.mean() == pytest.approx(entry.impl(scores, y, margin)[0], rel=1e-14, abs=1e-14), name
        # many score tables at once: (C, 2, 3, N), each table its own per-example losses
        tables = np.stack([scores, scores[::-1], 2 * scores, -scores, scores + 1, 0.5 * scores])
        many = per_example(tables.reshape(2, 3, *scores.shape).transpose(3, 0, 1, 2), y, margin)
        assert many.shape == (2, 3, len(y))
        for k, table in enumerate(tables):
            one = per_example(np.ascontiguousarray(table.T), y, margin)
            assert np.array_equal(many.reshape(6, -1)[k], one), name
