"""Slice planes, projection and the objective restricted to a plane."""
import dataclasses

import numpy as np
import pytest

from losslab.engine import (PLANES, Objective, Plane, PlaneObjective, coordinate_labels, make_dataset, make_plane,
                            make_surface, numerical_gradient, project)

D, C = 2, 3
P = D * C + C


@pytest.fixture(scope="module")
def data():
    ds = make_dataset("blobs", n=40, classes=C, seed=1)
    return ds.X, ds.y


def random_theta(seed=0, scale=1.0):
    return scale * np.random.default_rng(seed).standard_normal(P)


# --- Plane itself -----------------------------------------------------------------------------

def test_point_is_origin_plus_combination():
    o, d1, d2 = random_theta(0), random_theta(1), random_theta(2)
    plane = Plane(o, d1, d2)
    assert np.allclose(plane.point(0.5, -2.0), o + 0.5 * d1 - 2.0 * d2)
    ab = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.3, 0.7]])
    assert np.allclose(plane.points(ab), [o, o + d1, o + d2, o + 0.3 * d1 + 0.7 * d2])
    assert plane.n_params == P and plane.kind == "custom"


def test_plane_is_frozen_and_owns_read_only_copies():
    o = random_theta(0)
    plane = Plane(o, random_theta(1), random_theta(2))
    o[0] = 99.0
    assert plane.origin[0] != 99.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        plane.origin = o
    with pytest.raises(ValueError):
        plane.d1[0] = 1.0


@pytest.mark.parametrize("d1, d2, message", [
    (np.zeros(P), np.ones(P), "linearly independent"),
    (np.ones(P), 2.5 * np.ones(P), "linearly independent"),
    (np.ones(P), np.ones(P - 1), "same shape"),
    (np.full(P, np.nan), np.ones(P), "NaN"),
])
def test_degenerate_planes_are_refused(d1, d2, message):
    with pytest.raises(ValueError, match=message):
        Plane(np.zeros(P), d1, d2)


def test_bad_extent_is_refused():
    with pytest.raises(ValueError, match="extent"):
        Plane(np.zeros(2), [1, 0], [0, 1], extent=(1, -1, 0, 1))


def test_grid_spans_the_extent():
    plane = Plane(np.zeros(2), [1, 0], [0, 1], extent=(-1, 3, 0, 2))
    a, b = plane.grid(5)
    assert np.allclose(a, [-1, 0, 1, 2, 3]) and np.allclose(b, [0, 0.5, 1, 1.5, 2])


# --- the named constructors ---------------------------------------------------------------------

def test_axes_plane_moves_two_coordinates_and_names_them():
    theta0 = random_theta(3)
    plane = Plane.axes(theta0, 1, P - 1, shape=(D, C))
    assert plane.labels == ("W[0,1]", f"b[{C - 1}]")
    theta = plane.point(2.0, -3.0)
    expected = theta0.copy()
    expected[[1, P - 1]] = [2.0, -3.0]  # (a, b) are the coordinates' values themselves
    assert np.array_equal(theta, expected)
    ab, residual = project(theta0, plane)
    assert np.allclose(ab, [theta0[1], theta0[P - 1]]) and residual == 0.0
    a0, a1, b0, b1 = plane.extent
    assert a0 < theta0[1] < a1 and b0 < theta0[P - 1] < b1


def test_axes_plane_checks_its_coordinates():
    with pytest.raises(ValueError, match="different"):
        Plane.axes(random_theta(), 2, 2)
    with pytest.raises(ValueError, match="coordinate index"):
        Plane.axes(random_theta(), 0, P)
    with pytest.raises(ValueError, match="shape"):
        Plane.axes(random_theta(), 0, 1, shape=(3, 3))


def test_coordinate_labels_follow_theta_layout():
    assert coordinate_labels(2, 2) == ["W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]", "b[0]", "b[1]"]


def _columns(theta, rows):
    return theta.reshape(D + 1, C)[:rows]


def test_random_plane_is_filter_normalized_per_class_column():
    theta0 = random_theta(4, scale=3.0)
    plane = Plane.random(theta0, (D, C), seed=7)
    assert np.array_equal(plane.origin, theta0)
    for d in (plane.d1, plane.d2):
        assert np.allclose(np.linalg.norm(_columns(d, D), axis=0), np.linalg.norm(_columns(theta0, D), axis=0))
        assert np.all(d[D * C:] == 0.0)  # bias="zero": biases stay put (Li et al.'s default)
    again = Plane.random(theta0, (D, C), seed=7)
    assert np.array_equal(again.d1, plane.d1) and np.array_equal(again.d2, plane.d2)
    assert not np.allclose(Plane.random(theta0, (D, C), seed=8).d1, plane.d1)


def test_random_plane_can_move_the_biases_with_their_class():
    theta0 = random_theta(5)
    plane = Plane.random(theta0, (D, C), seed=0, bias="column")
    for d in (plane.d1, plane.d2):  # the column (W[:, c], b[c]) is scaled as one filter
        assert np.allclose(np.linalg.norm(_columns(d, D + 1), axis=0),
                           np.linalg.norm(_columns(theta0, D + 1), axis=0))


def test_random_plane_gives_zero_columns_a_scale():
    theta0 = random_theta(6)
    theta0.reshape(D + 1, C)[:D, 1] = 0.0  # class 1's weights are all zero
    plane = Plane.random(theta0, (D, C), seed=1)
    norms0 = np.linalg.norm(_columns(theta0, D), axis=0)
    rms = np.sqrt(np.mean(norms0[[0, 2]] ** 2))
    assert np.allclose(np.linalg.norm(_columns(plane.d1, D), axis=0), [norms0[0], rms, norms0[2]])
    start = Plane.random(np.zeros(P), (D, C), seed=1)  # the all-zero start: unit columns
    assert np.allclose(np.linalg.norm(_columns(start.d1, D), axis=0), 1.0)


def _path_in_plane(plane, T=30, seed=0):
    t = np.linspace(0.0, 1.0, T)
    ab = np.column_stack([np.cos(3 * t) - 1, 0.4 * np.sin(5 * t)]) * np.random.default_rng(seed).uniform(1, 2)
    return plane.points(ab)


def test_pca_plane_recovers_the_plane_of_a_planar_path():
    true = Plane(random_theta(1), random_theta(2), random_theta(3))
    path = _path_in_plane(true)
    plane = Plane.pca(path)
    assert plane.kind == "pca"
    assert np.array_equal(plane.origin, path[-1])  # centred at the final point
    assert np.allclose(plane.basis.T @ plane.basis, np.eye(2))  # orthonormal
    _, residual = project(path, plane)
    assert np.max(residual) < 1e-12 * np.max(np.abs(path))
    ratio = plane.explained_variance_ratio
    assert ratio[0] >= ratio[1] > 0 and np.isclose(sum(ratio), 1.0)
    ab, _ = project(path[0], plane)
    assert ab[0] <= 0 and ab[1] <= 0  # signed so that the run starts at negative coordinates
    a0, a1, b0, b1 = plane.extent
    ab_all, _ = project(path, plane)
    assert a0 < ab_all[:, 0].min() and ab_all[:, 0].max() < a1 and b0 < ab_all[:, 1].min()


def test_pca_plane_of_several_paths_and_of_a_straight_one():
    true = Plane(random_theta(1), random_theta(2), random_theta(3))
    paths = [_path_in_plane(true, seed=s) for s in range(3)]
    plane = Plane.pca(paths)
    _, residual = project(np.vstack(paths), plane)
    assert np.max(residual) < 1e-10
    line = np.outer(np.linspace(0, 1, 10), random_theta(4)) + random_theta(5)
    flat = Plane.pca(line)
    assert flat.explained_variance_ratio == (pytest.approx(1.0), 0.0)
    assert abs(flat.d1 @ flat.d2) < 1e-12 and np.isclose(np.linalg.norm(flat.d2), 1.0)
    with pytest.raises(ValueError, match="do not move"):
        Plane.pca(np.tile(random_theta(), (5, 1)))
    with pytest.raises(ValueError, match="NaN"):
        Plane.pca(np.full((3, P), np.nan))


def test_interpolation_plane_goes_through_its_three_points():
    p0, p1, p2 = random_theta(1), random_theta(2), random_theta(3)
    plane = Plane.interpolation(p0, p1, p2)
    for point, ab in ((p0, (0, 0)), (p1, (1, 0)), (p2, (0, 1))):
        assert np.allclose(plane.point(*ab), point)
        coords, residual = project(point, plane)
        assert np.allclose(coords, ab) and residual < 1e-12
    with pytest.raises(ValueError, match="collinear"):
        Plane.interpolation(p0, p1, 2 * p1 - p0)


# --- project ----------------------------------------------------------------------------------

def test_project_measures_the_distance_off_the_plane():
    plane = Plane(np.zeros(3), [1.0, 1.0, 0.0], [0.0, 1.0, 0.0])
    ab, residual = project(np.array([[2.0, 5.0, 4.0], [1.0, 1.0, -3.0]]), plane)
    assert np.allclose(ab, [[2.0, 3.0], [1.0, 0.0]]) and np.allclose(residual, [4.0, 3.0])
    single, r = project(np.array([2.0, 5.0, 4.0]), plane)
    assert single.shape == (2,) and r == pytest.approx(4.0)
    with pytest.raises(ValueError, match="shape"):
        project(np.zeros((2, 4)), plane)


# --- PlaneObjective ---------------------------------------------------------------------------

LOSS_NAMES = ("svm", "squared_hinge", "softmax", "ova_svm", "structured_svm")


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("reg", ("none", "l2", "l1", "elastic_net"))
def test_plane_objective_gradient_matches_numerical(data, loss, reg):
    X, y = data
    objective = Objective(X, y, loss=loss, reg=reg, lam=0.1)
    plane = Plane.random(random_theta(7), (D, C), seed=3)
    restricted = PlaneObjective(objective, plane)
    ab = np.array([0.31, -0.47])
    value, grad = restricted.loss_grad(ab)
    assert value == objective.loss(plane.point(*ab))
    numerical = numerical_gradient(restricted.loss, ab)
    assert np.allclose(grad, numerical, rtol=1e-6, atol=1e-8)
    assert restricted.n_params == 2 and restricted.n_examples == objective.n_examples
    data_part, reg_part = restricted.parts(ab)
    assert data_part + reg_part == pytest.approx(value)


def test_plane_objective_forwards_minibatches(data):
    X, y = data
    objective = Objective(X, y, loss="softmax", reg="l2", lam=0.1)
    plane = Plane.random(random_theta(8), (D, C), seed=0)
    restricted = PlaneObjective(objective, plane)
    idx = np.array([0, 3, 5, 7])
    ab = np.array([0.2, 0.1])
    value, grad = restricted.loss_grad(ab, idx=idx)
    full_value, full_grad = objective.loss_grad(plane.point(*ab), idx=idx)
    assert value == full_value and np.allclose(grad, plane.basis.T @ full_grad)


def test_plane_objective_on_a_test_surface():
    surface = make_surface("rosenbrock")
    restricted = PlaneObjective(surface, Plane(np.array([1.0, 1.0]), [1.0, 1.0], [1.0, -1.0]))
    assert restricted.n_examples is None
    ab = np.array([0.1, -0.2])
    assert np.allclose(restricted.grad(ab), numerical_gradient(restricted.loss, ab), rtol=1e-6)


def test_a_path_run_in_the_plane_projects_onto_itself(data):
    X, y = data
    objective = Objective(X, y, loss="svm", reg="l2", lam=0.01)
    plane = Plane.random(random_theta(9), (D, C), seed=2)
    restricted = PlaneObjective(objective, plane)
    path = [np.array([0.8, -0.6])]
    for _ in range(40):  # plain gradient descent inside the slice
        path.append(path[-1] - 0.5 * restricted.grad(path[-1]))
    path = np.array(path)
    assert restricted.loss(path[-1]) < restricted.loss(path[0])
    ab, residual = project(plane.points(path), plane)
    scale = np.max(np.abs(plane.points(path)))
    assert np.allclose(ab, path, rtol=0, atol=1e-12 * scale)
    assert np.max(residual) <= 1e-12 * scale


def test_plane_objective_checks_dimensions(data):
    X, y = data
    with pytest.raises(ValueError, match="parameters"):
        PlaneObjective(Objective(X, y), Plane(np.zeros(4), [1, 0, 0, 0], [0, 1, 0, 0]))
    restricted = PlaneObjective(Objective(X, y), Plane.random(random_theta(), (D, C)))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        restricted.loss(np.zeros(3))


# --- the registry -------------------------------------------------------------------------------

def test_registry_lists_the_five_kinds_with_their_parameters():
    assert list(PLANES) == ["axes", "random", "pca", "interpolation", "hessian"]
    assert PLANES["random"].defaults == {"seed": 0, "bias": "zero"}
    assert PLANES["axes"].defaults == {"i": 0, "j": 1}
    with pytest.raises(ValueError, match="unknown plane"):
        PLANES["diagonal"]


def test_make_plane_builds_every_kind_from_session_facts():
    theta0 = random_theta(10)
    runs = [_path_in_plane(Plane(theta0, random_theta(11 + s), random_theta(13 + s))) for s in range(2)]
    axes = make_plane("axes", theta0, shape=(D, C), i=2, j=4)
    assert axes.kind == "axes" and axes.labels == ("W[0,2]", "W[1,1]")
    assert make_plane("random", theta0, shape=(D, C), seed=3).kind == "random"
    assert make_plane("pca", trajectories=runs).kind == "pca"
    interpolation = make_plane("interpolation", theta0, trajectories=runs)
    assert np.allclose(interpolation.point(1, 0), runs[0][-1]) and np.allclose(interpolation.point(0, 1), runs[1][-1])
    with pytest.raises(ValueError, match="two trajectories"):
        make_plane("interpolation", theta0, trajectories=runs[:1])
    with pytest.raises(ValueError, match="shape"):
        make_plane("random", theta0)
    with pytest.raises(ValueError, match="seed"):
        make_plane("random", theta0, shape=(D, C), seed=-1)
