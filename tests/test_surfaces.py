"""Analytic 2-D test surfaces: exact gradients, known minima, the objective interface."""
import math

import numpy as np
import pytest

from losslab.engine import SURFACES, AnalyticSurface, make_surface, numerical_gradient

NAMES = ("bowl", "rosenbrock", "himmelblau", "beale", "saddle", "rastrigin")


def test_registry_holds_the_six_surfaces():
    assert tuple(SURFACES) == NAMES
    assert SURFACES["bowl"].defaults == {"kappa": 10.0, "angle": 0.0}
    with pytest.raises(ValueError, match="unknown test surface"):
        make_surface("ackley")


@pytest.mark.parametrize("name", NAMES)
def test_interface_matches_an_objective(name):
    s = make_surface(name)
    assert isinstance(s, AnalyticSurface)
    assert s.n_params == 2 and s.n_examples is None
    theta = np.array(s.start)
    value, grad = s.loss_grad(theta, idx=np.array([0, 1]), rng=np.random.default_rng(0))  # both ignored
    assert value == s.loss(theta) and grad.shape == (2,) and np.array_equal(grad, s.grad(theta))
    assert s.parts(theta) == (value, 0.0)
    x0, x1, y0, y1 = s.window
    assert x0 < theta[0] < x1 and y0 < theta[1] < y1
    assert s.plane.extent == s.window and s.plane.labels == ("x", "y") and s.plane is s.plane
    with pytest.raises(ValueError, match=r"\(2,\)"):
        s.loss(np.zeros(3))


@pytest.mark.parametrize("name, params", [
    ("bowl", {}), ("bowl", {"kappa": 50.0, "angle": 30.0}), ("rosenbrock", {}), ("rosenbrock", {"a": -0.5, "b": 7.0}),
    ("himmelblau", {}), ("beale", {}), ("saddle", {}), ("rastrigin", {}), ("rastrigin", {"A": 3.0}),
])
def test_gradients_match_numerical(name, params):
    s = make_surface(name, **params)
    rng = np.random.default_rng(1)
    x0, x1, y0, y1 = s.window
    for _ in range(5):
        theta = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        numerical = numerical_gradient(s.loss, theta, h=1e-6)
        assert np.allclose(s.grad(theta), numerical, rtol=1e-6, atol=1e-6 * max(1.0, abs(s.loss(theta))))


@pytest.mark.parametrize("name, params, minima", [
    ("bowl", {"kappa": 100.0, "angle": 25.0}, [(0.0, 0.0)]),
    ("rosenbrock", {}, [(1.0, 1.0)]),
    ("rosenbrock", {"a": 2.0, "b": 10.0}, [(2.0, 4.0)]),
    ("himmelblau", {}, [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]),
    ("beale", {}, [(3.0, 0.5)]),
    ("rastrigin", {}, [(0.0, 0.0)]),
])
def test_known_minima(name, params, minima):
    s = make_surface(name, **params)
    assert len(s.minima) == len(minima) and s.min_value == 0.0
    x0, x1, y0, y1 = s.window
    for found, expected in zip(s.minima, minima):
        assert np.allclose(found, expected, atol=1e-6)
        assert x0 < found[0] < x1 and y0 < found[1] < y1  # the default view shows it
        assert s.loss(found) == pytest.approx(0.0, abs=1e-20)
        assert np.allclose(s.grad(found), 0.0, atol=1e-12)
        rng = np.random.default_rng(2)  # and it is a minimum: every nearby point is higher
        for _ in range(20):
            assert s.loss(found + 1e-3 * rng.standard_normal(2)) > s.loss(found)


def test_saddle_has_a_stationary_point_but_no_minimum():
    s = make_surface("saddle")
    assert s.minima == () and s.min_value is None
    assert np.array_equal(s.grad(np.zeros(2)), [0.0, 0.0])
    assert s.loss(np.array([0.0, 1.0])) < 0 < s.loss(np.array([1.0, 0.0]))


@pytest.mark.parametrize("kappa, angle", [(1.0, 0.0), (10.0, 0.0), (100.0, 30.0), (4.0, -90.0)])
def test_bowl_condition_number_and_orientation(kappa, angle):
    s = make_surface("bowl", kappa=kappa, angle=angle)
    # the Hessian, column by column, from differences of the exact gradient
    H = np.column_stack([s.grad(e) - s.grad(np.zeros(2)) for e in np.eye(2)])
    eigenvalues, vectors = np.linalg.eigh(H)
    assert np.allclose(eigenvalues, [1.0, kappa])
    if kappa > 1:  # the high-curvature axis is the long axis turned by 90 degrees
        t = math.radians(angle)
        assert abs(vectors[:, 1] @ [-math.sin(t), math.cos(t)]) == pytest.approx(1.0)


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="kappa"):
        make_surface("bowl", kappa=0.5)
    with pytest.raises(ValueError, match="no parameter"):
        make_surface("beale", a=1.0)


@pytest.mark.parametrize("name", NAMES)
def test_loss_batch_is_loss_per_point(name):
    s = make_surface(name)
    rng = np.random.default_rng(3)
    x0, x1, y0, y1 = s.window
    thetas = np.column_stack([rng.uniform(x0, x1, 50), rng.uniform(y0, y1, 50)])
    assert np.allclose(s.loss_batch(thetas), [s.loss(t) for t in thetas], rtol=1e-15, atol=0)
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        s.loss_batch(np.zeros(2))
