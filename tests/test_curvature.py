"""The Hessian and its eigenpairs: exact against naive sums over examples and finite differences of the gradient.

The naive twins below loop over the examples and build each one's curvature in the scores
by hand (softmax: diag(p) − p pᵀ; squared hinge: 2 Σ_active (e_j − e_y)(e_j − e_y)ᵀ; the
hinge losses: 0), as ``kron(x̃ x̃ᵀ, A_i)`` in θ's order. The finite differences are central
differences of the exact gradient, at points where no hinge term sits within reach of its
kink (so that the differences see no kink either).
"""
import threading

import numpy as np
import pytest

from losslab.engine import (Curvature, Objective, Plane, PlaneObjective, curvature, hessian, hessian_vector_product,
                            make_dataset, make_surface, optimize)
from losslab.engine import hessians
from losslab.engine.generators import Cancelled, cancellable
from losslab.engine.losses import kink_distance

LOSS_NAMES = ("svm", "squared_hinge", "softmax", "ova_svm", "structured_svm")
REG_NAMES = ("none", "l2", "l1", "elastic_net")
HINGES = ("svm", "ova_svm", "structured_svm")
LAM, BETA, H_STEP = 0.3, 0.7, 1e-6


def dataset(N=30, D=3, C=4, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(N) % C
    X = rng.standard_normal((N, D)) + 1.5 * rng.standard_normal((C, D))[y]
    return X, y


def away_from_kinks(objective, seed=0, h=H_STEP):
    """A random theta where every hinge term and every |w| is many steps h from its kink."""
    rng = np.random.default_rng(seed)
    for _ in range(100):
        theta = rng.standard_normal(objective.n_params)
        reach = h * objective.n_params * (1 + np.abs(objective.X).max())
        scores = objective.scores(theta)
        scores_ok = kink_distance(scores, objective.y, objective.loss_kind, objective.margin).min() > 100 * reach
        hidden_ok = objective.model.kind == "linear" or \
            objective.model.kink_distance(theta, objective.X, h).min() > 100
        if scores_ok and hidden_ok and np.abs(theta).min() > 100 * h:
            return theta
    raise AssertionError("no point away from the kinks")


def differences(objective, theta, h=H_STEP):
    """H[:, k] = (g(θ + h e_k) − g(θ − h e_k)) / 2h."""
    P = theta.size
    H = np.empty((P, P))
    for k in range(P):
        e = np.zeros(P)
        e[k] = h
        H[:, k] = (objective.grad(theta + e) - objective.grad(theta - e)) / (2 * h)
    return H


def naive_hessian(objective, theta):
    """Σ_i kron(x̃_i x̃_iᵀ, A_i) / N + the penalty's diagonal, one example at a time."""
    W, b = objective.unflatten(theta)
    X, y, margin = objective.X, objective.y, objective.margin
    N, D = X.shape
    C = objective.n_classes
    P = theta.size
    H = np.zeros((P, P))
    for i in range(N):
        s = X[i] @ W + b
        A = np.zeros((C, C))
        if objective.loss_kind == "softmax":
            p = np.exp(s - s.max())
            p /= p.sum()
            A = np.diag(p) - np.outer(p, p)
        elif objective.loss_kind == "squared_hinge":
            for j in range(C):
                if j != y[i] and s[j] - s[y[i]] + margin > 0:
                    e = np.zeros(C)
                    e[j], e[y[i]] = 1.0, -1.0
                    A += 2.0 * np.outer(e, e)
        xt = np.append(X[i], 1.0)
        H += np.kron(np.outer(xt, xt), A)
    H /= N
    penalty = {"l2": 2 * objective.lam, "elastic_net": 2 * objective.lam * objective.beta}.get(objective.reg, 0.0)
    for k in range(D * C):
        H[k, k] += penalty
    return H


def assert_close(H, expected, rtol=1e-6):
    scale = max(1.0, np.abs(expected).max())
    assert np.abs(H - expected).max() <= rtol * scale, np.abs(H - expected).max()


# --- the linear classifier: every loss x regularizer --------------------------------------------

@pytest.mark.parametrize("reg", REG_NAMES)
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_linear_hessian_equals_the_naive_sum_and_finite_differences(loss, reg):
    X, y = dataset()
    objective = Objective(X, y, loss=loss, reg=reg, lam=LAM, beta=BETA, margin=1.3)
    theta = away_from_kinks(objective)
    H = hessian(objective, theta)
    assert H.shape == (objective.n_params, objective.n_params)
    np.testing.assert_array_equal(H, H.T)
    assert_close(H, naive_hessian(objective, theta), rtol=1e-12)
    assert_close(H, differences(objective, theta), rtol=1e-6)


@pytest.mark.parametrize("loss", HINGES)
def test_hinge_losses_have_only_the_penalty_curvature(loss):
    X, y = dataset()
    objective = Objective(X, y, loss=loss, reg="elastic_net", lam=LAM, beta=BETA)
    theta = away_from_kinks(objective)
    D, C = objective.n_features, objective.n_classes
    expected = np.zeros(objective.n_params)
    expected[:D * C] = 2 * LAM * BETA  # the weights; biases are never penalized
    np.testing.assert_array_equal(hessian(objective, theta), np.diag(expected))


def test_l2_alone_is_two_lambda_on_the_weights():
    X, y = dataset()
    objective = Objective(X, y, loss="svm", reg="l2", lam=0.25)
    theta = away_from_kinks(objective)
    found = curvature(objective, theta)
    D, C = objective.n_features, objective.n_classes
    np.testing.assert_array_equal(found.eigenvalues, [0.0] * C + [0.5] * (D * C))
    assert found.lr_max == 4.0 and found.condition == np.inf


def test_softmax_is_flat_along_a_shift_of_every_score():
    # adding the same number to every class's score changes no probability: W̃'s column-sum direction
    X, y = dataset()
    objective = Objective(X, y, loss="softmax", reg="none")
    theta = np.random.default_rng(1).standard_normal(objective.n_params)
    D, C = objective.n_features, objective.n_classes
    shift = np.zeros(objective.n_params)
    shift[D * C:] = 1.0  # every bias
    np.testing.assert_allclose(hessian(objective, theta) @ shift, 0.0, atol=1e-15)
    assert curvature(objective, theta).lambda_min == 0.0


def test_hessian_vector_products_equal_the_dense_hessian():
    X, y = dataset()
    rng = np.random.default_rng(2)
    for loss in ("softmax", "squared_hinge", "svm"):
        objective = Objective(X, y, loss=loss, reg="l2", lam=LAM)
        theta = rng.standard_normal(objective.n_params)
        H = hessian(objective, theta)
        v, V = rng.standard_normal(objective.n_params), rng.standard_normal((objective.n_params, 5))
        np.testing.assert_allclose(hessian_vector_product(objective, theta, v), H @ v, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(hessian_vector_product(objective, theta, V), H @ V, rtol=1e-12, atol=1e-13)


def test_the_softmax_assembly_in_pieces_is_the_same(monkeypatch):
    X, y = dataset(N=50)
    objective = Objective(X, y, loss="softmax", reg="l2", lam=LAM)
    theta = np.random.default_rng(3).standard_normal(objective.n_params)
    whole = hessian(objective, theta)
    monkeypatch.setattr(hessians, "_PIECE_ELEMENTS", 7 * objective.n_params)  # pieces of a few examples
    np.testing.assert_allclose(hessian(objective, theta), whole, rtol=1e-13, atol=1e-15)


# --- the two-layer network -------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_network_hessian_equals_finite_differences(loss, activation):
    X, y = dataset(N=24, D=2, C=3)
    objective = Objective(X, y, loss=loss, reg="elastic_net", lam=LAM, beta=BETA, model="mlp", hidden=4,
                          activation=activation)
    theta = away_from_kinks(objective, seed=1)
    H = hessian(objective, theta)
    np.testing.assert_array_equal(H, H.T)
    assert_close(H, differences(objective, theta), rtol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_network_closed_form_equals_its_hessian_vector_products(activation):
    X, y = dataset(N=40, D=3, C=4)
    objective = Objective(X, y, loss="softmax", reg="l2", lam=LAM, model="mlp", hidden=6, activation=activation)
    theta = objective.model.init(0, 0.5)
    H = hessian(objective, theta)
    np.testing.assert_allclose(hessian_vector_product(objective, theta, np.eye(objective.n_params)), H,
                               rtol=1e-10, atol=1e-14)


def test_network_penalty_is_on_both_weight_matrices_only():
    X, y = dataset(N=12, D=2, C=3)
    objective = Objective(X, y, loss="svm", reg="l2", lam=0.5, model="mlp", hidden=3)
    plain = objective.replace(reg="none")
    theta = objective.model.init(0, 0.5)
    difference = np.diag(hessian(objective, theta) - hessian(plain, theta))
    expected = np.zeros(objective.n_params)
    expected[objective.model.penalized_index] = 1.0
    np.testing.assert_allclose(difference, expected, atol=1e-15)


# --- curvature ----------------------------------------------------------------------------------

def test_curvature_is_the_eigendecomposition_ascending_and_signed():
    X, y = dataset()
    objective = Objective(X, y, loss="softmax", reg="l2", lam=0.01)
    theta = np.random.default_rng(4).standard_normal(objective.n_params)
    found = curvature(objective, theta)
    H = hessian(objective, theta)
    assert isinstance(found, Curvature) and found.method == "dense"
    V, lam = found.eigenvectors, found.eigenvalues
    assert V.shape == (objective.n_params, objective.n_params)
    assert np.all(np.diff(lam) >= 0)
    np.testing.assert_allclose(V.T @ V, np.eye(objective.n_params), atol=1e-12)
    np.testing.assert_allclose(V @ np.diag(lam) @ V.T, H, atol=1e-12)
    assert np.all(V[np.argmax(np.abs(V), axis=0), np.arange(V.shape[1])] > 0)
    assert found.lambda_max == lam[-1] and found.lr_max == pytest.approx(2 / lam[-1])
    with pytest.raises((AttributeError, TypeError, ValueError)):
        found.eigenvalues[0] = 1.0  # read-only


def test_conventions_where_nothing_curves():
    X, y = dataset()
    objective = Objective(X, y, loss="svm", reg="none")
    found = curvature(objective, away_from_kinks(objective))
    assert np.all(found.eigenvalues == 0.0)
    assert found.lr_max == np.inf and found.condition == np.inf


def test_a_positive_definite_hessian_has_a_finite_condition():
    bowl = make_surface("bowl", kappa=25.0, angle=30.0)
    found = curvature(bowl, np.array([0.7, -1.2]))
    np.testing.assert_allclose(found.eigenvalues, [1.0, 25.0], rtol=1e-7)
    assert found.condition == pytest.approx(25.0, rel=1e-7)


def test_test_surfaces_by_differences_of_their_exact_gradient():
    rosenbrock = make_surface("rosenbrock")
    x, y = -0.8, 1.3
    b = 100.0
    expected = np.array([[2 - 4 * b * (y - x * x) + 8 * b * x * x, -4 * b * x], [-4 * b * x, 2 * b]])
    np.testing.assert_allclose(hessian(rosenbrock, np.array([x, y])), expected, rtol=1e-6)


def test_a_slice_has_the_projected_hessian():
    X, y = dataset()
    objective = Objective(X, y, loss="softmax", reg="l2", lam=LAM)
    rng = np.random.default_rng(5)
    plane = Plane(rng.standard_normal(objective.n_params), rng.standard_normal(objective.n_params),
                  rng.standard_normal(objective.n_params))
    sliced = PlaneObjective(objective, plane)
    ab = np.array([0.3, -0.4])
    expected = plane.basis.T @ hessian(objective, plane.point(*ab)) @ plane.basis
    np.testing.assert_allclose(hessian(sliced, ab), expected, rtol=1e-12)


# --- lr_max: the largest stable learning rate -------------------------------------------------------

def quadratic_objective():
    """An Objective that is exactly quadratic where gradient descent goes: every hinge term active.

    With a margin of 1e6 every term ``s_j − s_y + Δ`` stays positive, so the data loss is
    linear in θ, and with balanced classes its bias gradient is 0: the loss is
    ``linear(W) + lam ‖W‖²``, a bowl of curvature 2 lam in W (and flat, untouched, in b).
    """
    data = make_dataset("blobs", n=90, classes=3, seed=0)
    assert np.all(np.bincount(data.y) == 30)
    return Objective(data.X, data.y, loss="svm", margin=1e6, reg="l2", lam=0.5)


@pytest.mark.parametrize("problem, start", [
    ("bowl", (-2.5, 1.5)),
    ("objective", None),
])
def test_gradient_descent_converges_below_lr_max_and_diverges_above(problem, start):
    if problem == "bowl":
        objective = make_surface("bowl", kappa=10.0, angle=30.0)
        theta0, minimum = np.array(start), np.zeros(2)
    else:
        objective = quadratic_objective()
        theta0 = np.random.default_rng(6).standard_normal(objective.n_params)
        D, C = objective.n_features, objective.n_classes
        g0 = objective.grad(np.zeros(objective.n_params))  # the data part's constant gradient (W), 0 (b)
        assert np.all(np.abs(g0[D * C:]) <= 1e-15)  # 0 up to the rounding of the mean
        minimum = np.concatenate([-g0[:D * C] / (2 * objective.lam), theta0[D * C:]])
    found = curvature(objective, theta0)
    expected = 10.0 if problem == "bowl" else 2 * objective.lam
    assert found.lambda_max == pytest.approx(expected, rel=1e-7)
    assert found.lr_max == pytest.approx(2 / expected, rel=1e-7)

    stable = optimize(objective, "gd", theta0, steps=300, lr=0.9 * found.lr_max)
    assert stable.status == "completed"
    start_distance = np.linalg.norm(theta0 - minimum)
    assert np.linalg.norm(stable.thetas[-1] - minimum) <= 1e-9 * start_distance
    unstable = optimize(objective, "gd", theta0, steps=300, lr=1.1 * found.lr_max)
    assert unstable.status == "diverged"  # |L| passed 1000 x L(θ0): the error grew by 1.2 a step
    assert np.linalg.norm(unstable.thetas[-1] - minimum) > 10 * start_distance


# --- Lanczos past DENSE_LIMIT --------------------------------------------------------------------------

def lanczos(monkeypatch, objective, theta):
    monkeypatch.setattr(hessians, "DENSE_LIMIT", 8)
    return curvature(objective, theta)


@pytest.mark.parametrize("loss, model", [("softmax", "linear"), ("squared_hinge", "linear"), ("softmax", "mlp"),
                                         ("svm", "mlp")])
def test_lanczos_finds_the_extreme_eigenpairs(monkeypatch, loss, model):
    X, y = dataset(N=40, D=5, C=4)
    objective = Objective(X, y, loss=loss, reg="l2", lam=0.05, model=model, hidden=6)
    theta = np.random.default_rng(7).standard_normal(objective.n_params)
    dense = curvature(objective, theta)
    found = lanczos(monkeypatch, objective, theta)
    pairs = hessians.LANCZOS_PAIRS
    assert found.method == "lanczos"
    assert found.eigenvectors.shape == (objective.n_params, 2 * pairs)
    expected = np.r_[dense.eigenvalues[:pairs], dense.eigenvalues[-pairs:]]
    np.testing.assert_allclose(found.eigenvalues, expected, atol=1e-7 * dense.lambda_max)
    H = hessian(objective, theta)
    residual = H @ found.eigenvectors - found.eigenvectors * found.eigenvalues
    assert np.abs(residual).max() <= 1e-6 * dense.lambda_max
    assert found.lr_max == pytest.approx(dense.lr_max, rel=1e-9)


def test_lanczos_finds_a_repeated_top_eigenvalue_twice(monkeypatch):
    # the hinge's Hessian is 2 lam on every weight: the top eigenvalue repeats D*C times
    X, y = dataset(N=40, D=5, C=4)
    objective = Objective(X, y, loss="svm", reg="l2", lam=0.05)
    found = lanczos(monkeypatch, objective, away_from_kinks(objective))
    np.testing.assert_allclose(found.eigenvalues, [0.0, 0.0, 0.1, 0.1], atol=1e-12)
    top = found.eigenvectors[:, 2:]
    np.testing.assert_allclose(top.T @ top, np.eye(2), atol=1e-10)


# --- bad input -----------------------------------------------------------------------------------------

def test_bad_points_are_refused():
    X, y = dataset()
    objective = Objective(X, y, loss="softmax")
    P = objective.n_params
    with pytest.raises(ValueError, match=rf"\({P},\)"):
        hessian(objective, np.zeros(P + 1))
    with pytest.raises(ValueError, match="NaN"):
        curvature(objective, np.full(P, np.nan))
    with pytest.raises(ValueError, match="shape"):
        hessian_vector_product(objective, np.zeros(P), np.zeros(P - 1))


# --- what is not known here, and stopping ---------------------------------------------------------------

def test_a_loss_without_a_hessian_here_falls_back_to_differences_of_the_gradient(monkeypatch):
    X, y = dataset()
    objective = Objective(X, y, loss="softmax", reg="l2", lam=LAM)
    theta = np.random.default_rng(8).standard_normal(objective.n_params)
    exact = hessian(objective, theta)
    monkeypatch.delitem(hessians._SCORE_PRODUCTS, "softmax")
    assert_close(hessian(objective, theta), exact, rtol=1e-7)


def test_a_cancelled_computation_stops_inside():
    X, y = dataset()
    objective = Objective(X, y, loss="softmax", model="mlp", hidden=4)
    stop = threading.Event()
    stop.set()
    with cancellable(stop), pytest.raises(Cancelled):
        curvature(objective, objective.model.init(0))
