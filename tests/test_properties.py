"""Property-based checks of the engine over random shapes, scales, labels, margins, λ and planes."""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from losslab.engine import LOSSES, REGULARIZERS, Objective, kink_distance, numerical_gradient
from losslab.engine.landscape import loss_surface
from losslab.engine.planes import Plane

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    N = draw(st.integers(1, 25))
    D = draw(st.integers(1, 4))
    C = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([1e-3, 1.0, 10.0, 1e3]))
    rng = np.random.default_rng(seed)
    X = scale * rng.standard_normal((N, D))
    y = rng.integers(0, C, N)
    loss = draw(st.sampled_from(list(LOSSES)))
    reg = draw(st.sampled_from(list(REGULARIZERS)))
    margin = draw(st.floats(0.0, 5.0))
    lam = draw(st.sampled_from([0.0, 1e-3, 0.5, 10.0, 1e3]))
    beta = draw(st.floats(0.0, 2.0))
    objective = Objective(X, y, loss=loss, margin=margin, reg=reg, lam=lam, beta=beta, n_classes=C)
    theta = rng.standard_normal(objective.n_params) * draw(st.sampled_from([0.01, 1.0, 5.0]))
    return objective, theta, rng


@SETTINGS
@given(problems())
def test_losses_are_finite_and_non_negative(problem):
    objective, theta, _ = problem
    value, grad = objective.loss_grad(theta)
    data, reg = objective.parts(theta)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert data >= 0 and reg >= 0 and value == pytest.approx(data + reg, rel=1e-12, abs=1e-12)


@SETTINGS
@given(problems())
def test_gradients_match_numerical_ones_away_from_kinks(problem):
    objective, theta, _ = problem
    h = 1e-6
    W, _ = objective.unflatten(theta)
    scores = objective.scores(theta)
    reach = 1e-3 * max(1.0, float(np.abs(objective.X).max()))
    assume(np.all(kink_distance(scores, objective.y, objective.loss_kind, objective.margin) > reach))
    assume(objective.reg in ("none", "l2") or np.abs(W).min() > 1e-3)  # |w| has a kink at 0
    _, analytic = objective.loss_grad(theta)
    numerical = numerical_gradient(objective.loss, theta, h)
    scale = max(1.0, float(np.abs(analytic).max()))
    np.testing.assert_allclose(analytic, numerical, rtol=1e-4, atol=1e-5 * scale)


@SETTINGS
@given(problems(), st.integers(3, 9), st.integers(3, 9))
def test_landscape_equals_per_point_evaluation(problem, Ga, Gb):
    objective, theta, rng = problem
    d1, d2 = rng.standard_normal((2, objective.n_params))
    assume(abs(np.dot(d1, d2)) < 0.99 * np.linalg.norm(d1) * np.linalg.norm(d2))
    plane = Plane(theta, d1, d2)
    a = np.sort(rng.uniform(-2, 2, Ga))
    b = np.sort(rng.uniform(-2, 2, Gb))
    assume(np.all(np.diff(a) > 1e-9) and np.all(np.diff(b) > 1e-9))
    Z = loss_surface(objective, plane, a, b)
    expected = np.array([[objective.loss(plane.point(ai, bj)) for ai in a] for bj in b])
    np.testing.assert_allclose(Z, expected, rtol=1e-9, atol=1e-9 * max(1.0, float(np.abs(expected).max())))
