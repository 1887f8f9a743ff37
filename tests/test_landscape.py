"""Loss surfaces over a plane: exactly per-point evaluation, faster; display helpers.

"Exact" is checked as ``|Z - loss| <= 1e-9 |loss| + 1e-12``: 1e-9 relative, with an
absolute floor near 1e3 eps for grid points where the loss itself is ~0 (a hinge's
flat zero region), where both sides are exact only up to their own rounding.
"""
import numpy as np
import pytest

from losslab.engine import (PARTS, Objective, Plane, PlaneObjective, iso_levels, log_scale, loss_surface,
                            loss_surface_blocks, make_surface, robust_range, surface_parts)

LOSS_NAMES = ("svm", "squared_hinge", "softmax", "ova_svm", "structured_svm")
REG_NAMES = ("none", "l2", "l1", "elastic_net")
PLANE_KINDS = ("axes", "random", "pca", "interpolation")
RTOL, ATOL = 1e-9, 1e-12


def dataset(N=36, D=3, C=4, seed=0):
    """Gaussian classes with a few rows repeated exactly (duplicated data rows)."""
    rng = np.random.default_rng(seed)
    y = np.arange(N) % C
    X = rng.standard_normal((N, D)) + 1.5 * rng.standard_normal((C, D))[y]
    X[-6:], y[-6:] = X[:6], y[:6]
    return X, y


def plane_of_kind(kind, objective, seed=0):
    rng = np.random.default_rng(seed)
    P, shape = objective.n_params, (objective.n_features, objective.n_classes)
    theta0 = rng.standard_normal(P)
    if kind == "axes":
        return Plane.axes(theta0, 1, P - 2, shape)
    if kind == "random":
        return Plane.random(theta0, shape, seed=seed)
    if kind == "pca":
        path = theta0 + np.cumsum(0.3 * rng.standard_normal((25, P)), axis=0)
        return Plane.pca(path)
    return Plane.interpolation(theta0, rng.standard_normal(P), rng.standard_normal(P))


def uneven_grid(plane, n_a=13, n_b=9, seed=0):
    """a: unsorted, with a repeated value; b: irregularly spaced. Both straddle the extent."""
    rng = np.random.default_rng(seed)
    a0, a1, b0, b1 = plane.extent
    pad_a, pad_b = 0.5 * (a1 - a0), 0.5 * (b1 - b0)
    a = rng.uniform(a0 - pad_a, a1 + pad_a, n_a)
    a[3] = a[7]
    b = np.sort(rng.uniform(b0 - pad_b, b1 + pad_b, n_b))
    return a, b


def reference(objective, plane, a, b):
    """Per-point evaluation: (data, reg) at every grid point, Z[j, i] <-> (a_i, b_j)."""
    parts = np.array([[objective.parts(plane.point(ai, bj)) for ai in a] for bj in b])
    return parts[..., 0], parts[..., 1]


def assert_exact(Z, expected):
    assert Z.shape == expected.shape
    assert np.all(np.abs(Z - expected) <= RTOL * np.abs(expected) + ATOL), \
        f"max relative error {np.max(np.abs(Z - expected) / np.maximum(np.abs(expected), 1e-300)):.2e}"


# --- exactness ----------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("reg", REG_NAMES)
@pytest.mark.parametrize("kind", PLANE_KINDS)
def test_surface_equals_per_point_evaluation(loss, reg, kind):
    X, y = dataset()
    objective = Objective(X, y, loss=loss, reg=reg, lam=0.3, beta=0.7, margin=1.5)
    plane = plane_of_kind(kind, objective, seed=PLANE_KINDS.index(kind))
    a, b = uneven_grid(plane)
    data, reg_part = reference(objective, plane, a, b)
    assert_exact(loss_surface(objective, plane, a, b, "data"), data)
    assert_exact(loss_surface(objective, plane, a, b, "reg"), reg_part)
    assert_exact(loss_surface(objective, plane, a, b), data + reg_part)


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_uniform_grids_take_the_binned_path_and_stay_exact(loss):
    X, y = dataset(N=60, D=2, C=3, seed=4)
    objective = Objective(X, y, loss=loss, reg="l1", lam=0.05)
    plane = Plane.random(np.random.default_rng(4).standard_normal(objective.n_params), (2, 3), seed=4)
    a, b = np.linspace(-3, 3, 41), np.linspace(-2, 2.5, 23)
    data, reg_part = reference(objective, plane, a, b)
    assert_exact(loss_surface(objective, plane, a, b), data + reg_part)


@pytest.mark.parametrize("scale", [30.0, 300.0, 1e4])
def test_softmax_is_exact_where_exponentials_would_overflow(scale):
    # scores of hundreds to 1e5: the factorised exponentials must give way to the max-shift
    X, y = dataset(N=24, D=2, C=3, seed=5)
    objective = Objective(X, y, loss="softmax")
    theta0 = scale * np.random.default_rng(5).standard_normal(objective.n_params)
    plane = Plane.random(theta0, (2, 3), seed=5)
    a, b = np.linspace(-2, 2, 17), np.linspace(-2, 2, 11)
    data, _ = reference(objective, plane, a, b)
    assert_exact(loss_surface(objective, plane, a, b, "data"), data)


def test_softmax_without_stored_factors_is_the_same(monkeypatch):
    # large N x G: the a-side factors are recomputed block by block instead of kept (bounded memory)
    import losslab.engine.landscape as landscape
    X, y = dataset(N=50, D=2, C=3, seed=7)
    objective = Objective(X, y, loss="softmax")
    plane = Plane.random(np.random.default_rng(7).standard_normal(objective.n_params), (2, 3), seed=7)
    a, b = np.linspace(-2, 2, 33), np.linspace(-2, 2, 40)
    monkeypatch.setattr(landscape, "_SOFTMAX_CELLS", 8 * a.size)  # blocks of 8 rows: the factors are kept
    surface = landscape._Surface(objective, plane, a, b, ("total",))
    landscape.drain(surface.build())
    assert all(group["E"] is not None for piece in surface.terms["data"][0].pieces for group in piece.groups)
    stored = loss_surface(objective, plane, a, b)
    monkeypatch.setattr(landscape, "_E_STORED", 0)
    blocks = [block for _, block in loss_surface_blocks(objective, plane, a, b, block_rows=7)]
    assert np.allclose(np.vstack(blocks), stored, rtol=1e-14, atol=0)


@pytest.mark.parametrize("loss", ["svm", "squared_hinge", "ova_svm"])
def test_binned_sums_are_exact_next_to_a_kink(loss):
    # One example, margin 0, s_1 - s_0 = S (a - kink) with a steep S and the kink just left
    # of a = 0, where theta is the plane's origin and the per-point value S * 1e-10 is exact.
    # The binned sums are anchored mid-grid (a = 9), where the term is 9 S: they cancel
    # at a = 0, and the guard must recompute that point from the origin's coefficients.
    X, y = np.array([[1.0]]), np.array([0])
    objective = Objective(X, y, loss=loss, reg="none", margin=0.0, n_classes=2)
    S, kink = 1e4, -1e-10
    plane = Plane(np.array([0.0, 0.0, 0.0, -S * kink]), [0.0, S, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0])
    a, b = np.linspace(-1.0, 19.0, 201), np.array([0.0, 0.5])
    i0 = int(np.argmin(np.abs(a)))
    data, _ = reference(objective, plane, a, b)
    assert data[0, i0] == pytest.approx((S * (a[i0] - kink)) ** (2 if loss == "squared_hinge" else 1), rel=1e-9)
    Z = loss_surface(objective, plane, a, b, "data")
    assert_exact(Z, data)
    assert abs(Z[0, i0] - data[0, i0]) <= 1e-9 * data[0, i0]  # relative, with no floor to hide in
    assert np.all(Z[:, :i0 - 1] == 0.0)  # the flat side stays exactly zero


def test_dead_classes_and_huge_margins_do_not_warn():
    X, y = dataset(N=20, D=2, C=3, seed=6)
    for loss in LOSS_NAMES:
        objective = Objective(X, y, loss=loss, reg="l1", lam=1.0)
        plane = Plane.random(1e3 * np.ones(objective.n_params), (2, 3), seed=6)
        a = np.linspace(-1, 1, 9)
        data, reg_part = reference(objective, plane, a, a)
        assert_exact(loss_surface(objective, plane, a, a), data + reg_part)


# --- orientation, shapes, parts ------------------------------------------------------------------

def test_grid_orientation_rows_are_b_columns_are_a():
    saddle = make_surface("saddle")  # f = x^2 - y^2 on the identity plane: a = x, b = y
    a, b = np.array([0.0, 1.0, 2.0, 3.0]), np.array([-1.0, 0.5])
    Z = loss_surface(saddle, saddle.plane, a, b)
    assert Z.shape == (2, 4)
    assert np.array_equal(Z, [[-1.0, 0.0, 3.0, 8.0], [-0.25, 0.75, 3.75, 8.75]])  # Z[j, i] = a_i^2 - b_j^2
    X, y = dataset(N=10, D=2, C=3)
    objective = Objective(X, y, loss="svm", reg="l2", lam=0.1)
    plane = Plane.axes(np.zeros(objective.n_params), 0, 4, (2, 3))
    Z = loss_surface(objective, plane, a, b)
    for j in range(b.size):
        for i in range(a.size):
            assert Z[j, i] == pytest.approx(objective.loss(plane.point(a[i], b[j])), rel=1e-12)


def test_parts_add_up_and_data_does_not_depend_on_lam():
    X, y = dataset(N=30, D=2, C=3)
    objective = Objective(X, y, loss="softmax", reg="elastic_net", lam=0.2, beta=0.3)
    plane = Plane.random(np.random.default_rng(1).standard_normal(objective.n_params), (2, 3), seed=1)
    a, b = np.linspace(-1, 1, 15), np.linspace(-1, 1, 12)
    data, reg_part = surface_parts(objective, plane, a, b)
    assert np.allclose(data + reg_part, loss_surface(objective, plane, a, b), rtol=1e-14, atol=0)
    stronger = objective.replace(lam=2.0)
    assert np.array_equal(loss_surface(stronger, plane, a, b, "data"), data)
    assert np.allclose(loss_surface(stronger, plane, a, b, "reg"), 10.0 * reg_part, rtol=1e-13)
    assert np.array_equal(loss_surface(objective.replace(lam=0.0), plane, a, b, "reg"), np.zeros((12, 15)))


def test_a_slice_of_a_slice_is_the_composed_slice():
    X, y = dataset(N=30, D=2, C=3)
    objective = Objective(X, y, loss="svm", reg="l1", lam=0.1)
    plane = Plane.random(np.random.default_rng(2).standard_normal(objective.n_params), (2, 3), seed=2)
    inner = Plane(np.array([0.2, -0.1]), [1.0, 0.5], [0.0, 2.0])
    a, b = np.linspace(-1, 1, 11), np.linspace(-1, 1, 7)
    Z = loss_surface(PlaneObjective(objective, plane), inner, a, b)
    expected = np.array([[objective.loss(plane.point(*inner.point(ai, bj))) for ai in a] for bj in b])
    assert_exact(Z, expected)


@pytest.mark.parametrize("name", ["bowl", "rosenbrock", "himmelblau", "beale", "saddle", "rastrigin"])
def test_test_surfaces_are_drawn_point_by_point(name):
    s = make_surface(name)
    a, b = s.plane.grid(21)
    Z = loss_surface(s, s.plane, a, b[:13])
    assert np.allclose(Z, [[s.loss(np.array([ai, bj])) for ai in a] for bj in b[:13]], rtol=1e-14)
    assert np.array_equal(loss_surface(s, s.plane, a, b, "reg"), np.zeros((21, 21)))


# --- the generator form --------------------------------------------------------------------------

def test_blocks_cover_the_rows_in_order_and_match_the_surface():
    X, y = dataset(N=40, D=2, C=3)
    objective = Objective(X, y, loss="softmax", reg="l2", lam=0.1)
    plane = Plane.random(np.random.default_rng(3).standard_normal(objective.n_params), (2, 3), seed=3)
    a, b = np.linspace(-1, 1, 16), np.linspace(-1, 1, 23)
    Z = loss_surface(objective, plane, a, b)
    rows_seen = []
    for rows, block in loss_surface_blocks(objective, plane, a, b, block_rows=5):
        assert block.shape == (rows.stop - rows.start, a.size)
        assert np.allclose(block, Z[rows], rtol=1e-13, atol=0)
        rows_seen.extend(range(rows.start, rows.stop))
    assert rows_seen == list(range(b.size))


def test_blocks_are_lazy_and_can_be_abandoned():
    calls = []

    class Counting:  # a stand-in objective that records each point it is asked for
        n_params, n_examples = 2, None

        def loss(self, theta):
            calls.append(theta)
            return float(theta @ theta)

    blocks = loss_surface_blocks(Counting(), make_surface("bowl").plane, np.arange(4.0), np.arange(10.0),
                                 block_rows=2)
    assert calls == []  # nothing happens before the first next()
    rows, block = next(blocks)
    assert rows == slice(0, 2) and len(calls) == 8
    assert np.array_equal(block, [[0, 1, 4, 9], [1, 2, 5, 10]])
    blocks.close()  # cancelling: no more evaluations
    assert len(calls) == 8


def test_bad_arguments_are_refused_with_a_clear_message():
    X, y = dataset(N=10, D=2, C=3)
    objective = Objective(X, y)
    plane = Plane.random(np.ones(objective.n_params), (2, 3))
    a = np.linspace(-1, 1, 5)
    with pytest.raises(ValueError, match="part must be one of"):
        loss_surface(objective, plane, a, a, "penalty")
    with pytest.raises(ValueError, match="parameters"):
        loss_surface(objective, make_surface("bowl").plane, a, a)
    with pytest.raises(ValueError, match="a_values"):
        loss_surface(objective, plane, np.array([0.0, np.nan]), a)
    with pytest.raises(ValueError, match="b_values"):
        loss_surface(objective, plane, a, np.array([]))
    with pytest.raises(ValueError, match="block_rows"):
        loss_surface_blocks(objective, plane, a, a, block_rows=0)  # checked at once, not at next()
    with pytest.raises(ValueError, match="part"):
        loss_surface_blocks(objective, plane, a, a, part="all")
    assert PARTS == ("total", "data", "reg")


# --- display helpers -------------------------------------------------------------------------------

def test_robust_range_ignores_outliers_and_non_finite_values():
    Z = np.concatenate([np.linspace(0, 1, 1001), [1e6, np.inf, np.nan]])
    lo, hi = robust_range(Z, 1.0, 99.0)
    assert lo == pytest.approx(0.0101, abs=1e-3) and hi == pytest.approx(0.9999, abs=1e-2)
    assert robust_range(np.full((3, 3), 2.0)) == (1.0, 3.0)  # flat: a small interval around the value
    assert robust_range(np.array([np.nan, np.inf])) == (0.0, 1.0)
    with pytest.raises(ValueError):
        robust_range(Z, 50.0, 10.0)


def test_log_scale_handles_zeros_negatives_and_nan():
    Z = np.array([[0.0, 1e-3, 1.0], [10.0, 100.0, np.nan]])
    L = log_scale(Z)
    assert np.allclose(L[0, 1:], [-3.0, 0.0]) and np.allclose(L[1, :2], [1.0, 2.0])
    assert L[0, 0] == pytest.approx(np.log10(1e-6 * 100.0))  # exact zeros clip to the floor
    assert np.isnan(L[1, 2])
    assert log_scale(np.array([0.0, 1.0]), floor=1e-3)[0] == pytest.approx(-3.0)
    shifted = log_scale(np.array([-1.0, 0.0, 99.0]))  # negative surfaces are lifted by their minimum
    assert np.allclose(shifted[1:], [0.0, 2.0]) and np.isfinite(shifted[0])
    with pytest.raises(ValueError, match="floor"):
        log_scale(Z, floor=0.0)


def test_iso_levels():
    Z = np.add.outer(np.linspace(0, 1, 50), np.linspace(0, 1, 50)) ** 2
    lo, hi = robust_range(Z)
    levels = iso_levels(Z, 8)
    assert levels.size == 8 and np.all(np.diff(levels) > 0) and lo < levels[0] and levels[-1] < hi
    quantile = iso_levels(Z, 8, spacing="quantile")
    assert np.all(np.diff(quantile) > 0) and quantile.size == 8
    area = [np.mean(Z <= q) for q in quantile]  # equal-area bands
    assert np.allclose(np.diff(area), np.diff(area)[0], atol=0.02)
    assert iso_levels(np.zeros((4, 4)), 5, spacing="quantile").size == 1  # a flat surface: one level
    with pytest.raises(ValueError, match="spacing"):
        iso_levels(Z, 4, spacing="cubic")


# --- structured SVM: binned envelopes ------------------------------------------------------------

@pytest.mark.parametrize("C", [2, 3, 5, 10])
@pytest.mark.parametrize("grid", ["uniform", "uneven"])
def test_structured_svm_envelopes_are_exact(C, grid):
    X, y = dataset(N=40, D=3, C=C, seed=C)
    objective = Objective(X, y, loss="structured_svm", reg="none", margin=0.7)
    plane = Plane.random(np.random.default_rng(C).standard_normal(objective.n_params), (3, C), seed=C)
    a, b = (np.linspace(-3, 3, 37), np.linspace(-2, 2.5, 19)) if grid == "uniform" else uneven_grid(plane)
    data, _ = reference(objective, plane, a, b)
    assert_exact(loss_surface(objective, plane, a, b, "data"), data)


def test_structured_svm_with_parallel_and_concurrent_lines():
    # an axes plane moves two weights only: most wrong-class lines keep slope 0 (parallel to the
    # true class's zero line), and with one example at the origin every line passes through one point
    X = np.vstack([np.zeros((3, 2)), dataset(N=20, D=2, C=4, seed=9)[0]])
    y = np.r_[0, 1, 2, dataset(N=20, D=2, C=4, seed=9)[1]]
    objective = Objective(X, y, loss="structured_svm", reg="none", margin=0.0, n_classes=4)
    for plane in (Plane.axes(np.zeros(objective.n_params), 0, 5, (2, 4)),
                  Plane.axes(np.zeros(objective.n_params), 8, 9, (2, 4)),  # biases only: every example alike
                  Plane.random(np.zeros(objective.n_params), (2, 4), seed=9)):
        a, b = np.linspace(-2, 2, 21), np.linspace(-1, 1, 11)  # both contain 0, where the lines meet
        data, _ = reference(objective, plane, a, b)
        Z = loss_surface(objective, plane, a, b, "data")
        assert_exact(Z, data)
        assert np.all(Z[data == 0.0] == 0.0)  # where every example is satisfied: exactly zero


def test_structured_svm_zero_region_is_exactly_zero():
    # well-separated classes and a large margin of victory: a wide region of exactly zero loss
    X, y = dataset(N=30, D=2, C=3, seed=11)
    objective = Objective(X, y, loss="structured_svm", reg="none", margin=1.0)
    from losslab.engine import Plane as P
    theta = np.zeros(objective.n_params)
    for _ in range(300):
        theta -= 0.5 * objective.grad(theta)
    plane = P.random(10 * theta, (2, 3), seed=11)
    a, b = np.linspace(-1, 1, 41), np.linspace(-1, 1, 41)
    data, _ = reference(objective, plane, a, b)
    Z = loss_surface(objective, plane, a, b, "data")
    assert_exact(Z, data)
    assert np.array_equal(Z == 0.0, data == 0.0)


def test_structured_svm_many_classes_falls_back_and_stays_exact():
    import losslab.engine.landscape as landscape
    C = landscape._ENVELOPE_LINES + 2
    X, y = dataset(N=3 * C, D=2, C=C, seed=12)
    objective = Objective(X, y, loss="structured_svm", reg="l2", lam=0.1)
    plane = Plane.random(np.random.default_rng(12).standard_normal(objective.n_params), (2, C), seed=12)
    a, b = np.linspace(-2, 2, 9), np.linspace(-2, 2, 7)
    data, reg_part = reference(objective, plane, a, b)
    assert_exact(loss_surface(objective, plane, a, b), data + reg_part)


def test_structured_svm_blocks_match_the_surface():
    X, y = dataset(N=50, D=2, C=3, seed=13)
    objective = Objective(X, y, loss="structured_svm", reg="l1", lam=0.1)
    plane = Plane.random(np.random.default_rng(13).standard_normal(objective.n_params), (2, 3), seed=13)
    a, b = np.linspace(-1, 1, 16), np.linspace(-1, 1, 23)
    Z = loss_surface(objective, plane, a, b)
    blocks = [block for _, block in loss_surface_blocks(objective, plane, a, b, block_rows=4)]
    assert np.allclose(np.vstack(blocks), Z, rtol=1e-13, atol=1e-15)
