"""The optimizer ladder: update rules worked by hand, convergence to a Newton reference, exact
cost bookkeeping, reproducibility, divergence, bad input and resumable runs."""
import math

import numpy as np
import pytest

from losslab.engine import (OPTIMIZERS, SCHEDULES, Objective, Run, Trajectory, learning_rate, make_dataset,
                            optimize)
from losslab.engine.optimizers import DIVERGENCE_FACTOR, STATUSES, AdamState, MomentumState, minibatches


# --- objectives worked by hand ----------------------------------------------------------

class Bowl:
    """A test surface ``f(θ) = ½ Σ_k a_k θ_k²`` with gradient ``a θ``; no examples."""

    n_examples = None

    def __init__(self, *a):
        self.a = np.array(a, dtype=float)
        self.n_params = len(a)

    def loss(self, theta):
        return 0.5 * float(np.sum(self.a * theta ** 2))

    def loss_grad(self, theta, idx=None):
        return self.loss(theta), self.a * theta


class Wall(Bowl):
    """½θ² inside |θ| < 5, infinite outside: a run that jumps past 5 meets a non-finite loss."""

    def loss(self, theta):
        return 0.5 * float(theta @ theta) if np.all(np.abs(theta) < 5) else math.inf

    def loss_grad(self, theta, idx=None):
        return self.loss(theta), theta.copy()


class AlwaysBetter:
    """Each call returns a lower loss than the last, so a search method keeps every candidate."""

    n_params, n_examples = 3, None

    def __init__(self):
        self.calls = 0

    def loss(self, theta):
        self.calls += 1
        return -float(self.calls)


class Recording:
    """Wraps an objective and logs the minibatch rows of every ``loss_grad`` call."""

    def __init__(self, objective, log):
        self.objective, self.log = objective, log
        self.n_params, self.n_examples = objective.n_params, objective.n_examples
        self.keep_prob = objective.keep_prob

    def loss(self, theta):
        return self.objective.loss(theta)

    def loss_grad(self, theta, idx=None, rng=None):
        self.log.append(None if idx is None else idx.copy())
        return self.objective.loss_grad(theta, idx, rng)

    def replace(self, **changes):
        return Recording(self.objective.replace(**changes), self.log)


@pytest.fixture(scope="module")
def blobs():
    return make_dataset("blobs", n=60, classes=3, seed=1)


@pytest.fixture(scope="module")
def softmax(blobs):
    return Objective(blobs.X, blobs.y, loss="softmax", reg="l2", lam=0.05)


def start(objective, seed=0, scale=0.5):
    return scale * np.random.default_rng(seed).standard_normal(objective.n_params)


def thetas(method, objective, theta0, steps=3, **hyper):
    return optimize(objective, method, np.array(theta0, dtype=float), steps, **hyper).thetas


# --- each update rule, two or three steps by hand ----------------------------------------
# On f = ½θ² (g = θ) from θ0 = 1, or on f = ½(θ1² + 4θ2²) (g = (θ1, 4θ2)) from (1, 1), where
# the adaptive methods must move both coordinates alike: they undo a diagonal rescaling.

def test_gd_by_hand():
    # θ ← θ − 0.1 θ = 0.9 θ
    np.testing.assert_allclose(thetas("gd", Bowl(1), [1], lr=0.1)[:, 0], [1, 0.9, 0.81, 0.729], rtol=1e-15)


def test_momentum_by_hand():
    # v1 = 1, θ1 = 1 − 0.1·1 = 0.9; v2 = 0.9·1 + 0.9 = 1.8, θ2 = 0.9 − 0.18 = 0.72;
    # v3 = 0.9·1.8 + 0.72 = 2.34, θ3 = 0.72 − 0.234 = 0.486
    np.testing.assert_allclose(thetas("momentum", Bowl(1), [1], lr=0.1)[:, 0], [1, 0.9, 0.72, 0.486], rtol=1e-14)


def test_nesterov_by_hand():
    # v1 = 1, θ1 = 1 − 0.1(1 + 0.9·1) = 0.81; v2 = 0.9 + 0.81 = 1.71, θ2 = 0.81 − 0.1(0.81 + 1.539) = 0.5751;
    # v3 = 1.539 + 0.5751 = 2.1141, θ3 = 0.5751 − 0.1(0.5751 + 1.90269) = 0.327321
    np.testing.assert_allclose(thetas("nesterov", Bowl(1), [1], lr=0.1)[:, 0], [1, 0.81, 0.5751, 0.327321],
                               rtol=1e-14)


def test_adagrad_by_hand():
    # g0 = (1, 4), G1 = (1, 16): θ1 = θ0 − 0.1 (1/1, 4/4) = (0.9, 0.9)
    # g1 = (0.9, 3.6), G2 = (1.81, 28.96) = (1, 16)·1.81: θ2 = 0.9 − 0.09/√1.81 in both coordinates
    got = thetas("adagrad", Bowl(1, 4), [1, 1], steps=2, lr=0.1)
    second = 0.9 - 0.09 / math.sqrt(1.81)  # 0.83310...
    np.testing.assert_allclose(got, [[1, 1], [0.9, 0.9], [second, second]], rtol=1e-9)  # ε = 1e-10


def test_rmsprop_by_hand():
    # s1 = 0.01 g0² = (0.01, 0.16), √s1 = (0.1, 0.4): θ1 = θ0 − 0.01 (1/0.1, 4/0.4) = (0.9, 0.9)
    # s2 = 0.99 s1 + 0.01 g1² = (0.0099 + 0.0081, 0.1584 + 0.1296) = (0.018, 0.288): θ2 = 0.9 − 0.009/√0.018
    got = thetas("rmsprop", Bowl(1, 4), [1, 1], steps=2, lr=0.01)
    second = 0.9 - 0.009 / math.sqrt(0.018)  # 0.83292...
    np.testing.assert_allclose(got, [[1, 1], [0.9, 0.9], [second, second]], rtol=1e-7)  # ε = 1e-8


def test_adam_by_hand():
    # t = 1: m̂ = g0, v̂ = g0², so the first step is lr·sign(g0): θ1 = (0.9, 0.9)
    # t = 2: m = 0.09 g0 + 0.1 g1 = (0.18, 0.72), m̂ = m/0.19; v = 0.000999 g0² + 0.001 g1² = (0.001809, 0.028944),
    #        v̂ = v/0.001999; the second coordinate is the first times (4, 16), so in both
    #        θ2 = 0.9 − 0.1 (0.18/0.19)/√(0.001809/0.001999)
    got = thetas("adam", Bowl(1, 4), [1, 1], steps=2, lr=0.1)
    second = 0.9 - 0.1 * (0.18 / 0.19) / math.sqrt(0.001809 / 0.001999)  # 0.80041...
    np.testing.assert_allclose(got, [[1, 1], [0.9, 0.9], [second, second]], rtol=1e-7)


@pytest.mark.parametrize("method, lr, expected", [
    ("adagrad", 0.1, 1 - 0.1 * 1 / (1 + 1)),       # G = 1: lr·g/(√G + ε) with ε = 1
    ("rmsprop", 0.01, 1 - 0.01 * 1 / (0.1 + 1)),   # s = 0.01, √s = 0.1
    ("adam", 0.1, 1 - 0.1 * 1 / (1 + 1)),          # m̂ = 1, v̂ = 1
])
def test_eps_sits_outside_the_root(method, lr, expected):
    assert thetas(method, Bowl(1), [1], steps=1, lr=lr, eps=1.0)[1, 0] == pytest.approx(expected, rel=1e-15)


def test_update_rules_are_pure_functions_of_their_state():
    g = np.array([1.0, -2.0])
    adam = OPTIMIZERS["adam"].impl
    state = adam.init(np.zeros(2))
    delta, state = adam.update(g, state, 0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    assert isinstance(state, AdamState) and state.t == 1
    np.testing.assert_allclose(state.m, 0.1 * g)
    np.testing.assert_allclose(state.v, 0.001 * g ** 2)
    np.testing.assert_allclose(delta, [-0.1, 0.1], rtol=1e-7)
    momentum = OPTIMIZERS["momentum"].impl
    v0 = MomentumState(np.array([1.0, 1.0]))
    first = momentum.update(g, v0, 0.5, momentum=0.9)
    again = momentum.update(g, v0, 0.5, momentum=0.9)
    np.testing.assert_array_equal(first[0], again[0])  # the old state is not changed by an update
    np.testing.assert_allclose(first[1].v, [1.9, -1.1])
    np.testing.assert_allclose(first[0], [-0.95, 0.55])


def test_sgd_steps_along_the_minibatch_gradient(softmax):
    log = []
    objective = Recording(softmax, log)
    theta0 = start(softmax)
    got = optimize(objective, "sgd", theta0, 3, seed=4, lr=0.2, batch_size=7)
    theta = theta0
    for t, idx in enumerate(log):
        assert idx.shape == (7,) and len(set(idx)) == 7
        theta = theta - 0.2 * softmax.loss_grad(theta, idx)[1]
        np.testing.assert_allclose(got.thetas[t + 1], theta, rtol=1e-14)


def test_minibatches_without_replacement_cover_each_epoch_once():
    batches = minibatches(10, 3, False, np.random.default_rng(0))
    epoch = np.concatenate([next(batches) for _ in range(3)])  # 3 batches of 3: one row left out
    assert len(set(epoch)) == 9
    with_replacement = minibatches(10, 50 // 10, True, np.random.default_rng(0))
    assert all(next(with_replacement).shape == (5,) for _ in range(4))


def test_search_proposals_by_hand():
    # every candidate is kept, so the iterates are the proposals themselves
    draws = optimize(AlwaysBetter(), "random_search", np.zeros(3), 400, seed=2, scale=1.0).thetas[1:]
    assert np.array_equal(optimize(AlwaysBetter(), "random_search", np.zeros(3), 400, seed=2, scale=3.0).thetas[1:],
                          3.0 * draws)
    assert abs(draws.mean()) < 0.15 and abs(draws.std() - 1.0) < 0.1  # θ' ~ N(0, I)
    walk = optimize(AlwaysBetter(), "random_local_search", np.ones(3), 400, seed=2, step_size=0.5).thetas
    # θ' = θ + step_size·ε with the same ε as random search's
    np.testing.assert_allclose(np.diff(walk, axis=0), 0.5 * draws, rtol=0, atol=1e-13)


# --- schedules ------------------------------------------------------------------------

def test_schedules_by_hand():
    assert [learning_rate("constant", 0.3, t) for t in (0, 7)] == [0.3, 0.3]
    assert [learning_rate("step", 1.0, t, 0.5, 2) for t in range(6)] == [1, 1, 0.5, 0.5, 0.25, 0.25]
    assert learning_rate("exponential", 1.0, 1, 0.25, 2) == pytest.approx(0.5)
    assert learning_rate("exponential", 1.0, 4, 0.25, 2) == pytest.approx(0.0625)
    assert list(SCHEDULES) == ["constant", "step", "exponential"]


def test_gd_follows_its_schedule():
    # θ_{t+1} = θ_t (1 − lr_t) with lr_t = 0.5·0.5^t: 1 → 0.5 → 0.375 → 0.328125
    got = thetas("gd", Bowl(1), [1], lr=0.5, schedule="step", decay_rate=0.5, decay_every=1)
    np.testing.assert_allclose(got[:, 0], [1, 0.5, 0.375, 0.328125], rtol=1e-15)


# --- convergence on softmax + L2 against a Newton reference -----------------------------

def newton_optimum(objective, iterations=25):
    """The minimizer of mean cross-entropy + λ Σ W² by Newton's method with the exact Hessian.

    θ = concat(W.ravel(), b) is the row-major (D+1, C) matrix [W; b], so with x̃ = [x, 1] the
    Hessian is mean_i (x̃ x̃ᵀ) ⊗ (diag p − p pᵀ) + 2λ on the W entries. It is singular along a
    common shift of the biases (the loss ignores it), hence the least-squares solve.
    """
    X1 = np.hstack([objective.X, np.ones((objective.n_examples, 1))])
    N, C = objective.n_examples, objective.n_classes
    decay = np.r_[np.full(objective.n_features * C, 2 * objective.lam), np.zeros(C)]
    theta = np.zeros(objective.n_params)
    for _ in range(iterations):
        S = X1 @ theta.reshape(-1, C)
        p = np.exp(S - S.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        curvature = np.einsum("ic,cd->icd", p, np.eye(C)) - np.einsum("ic,id->icd", p, p)
        H = np.einsum("ia,ib,icd->acbd", X1, X1, curvature).reshape(objective.n_params, objective.n_params) / N
        theta = theta - np.linalg.lstsq(H + np.diag(decay), objective.grad(theta), rcond=None)[0]
    return theta


@pytest.mark.parametrize("method, hyper", [
    ("gd", {"lr": 0.5}),
    ("momentum", {"lr": 0.05}),
    ("adam", {"lr": 0.03}),
])
def test_reaches_the_optimum_loss(softmax, method, hyper):
    optimum = newton_optimum(softmax)
    assert np.linalg.norm(softmax.grad(optimum)) < 1e-12
    best = softmax.loss(optimum)
    trajectory = optimize(softmax, method, np.zeros(softmax.n_params), 600, **hyper)
    assert trajectory.status == "completed"
    assert trajectory.loss - best < 1e-6
    assert trajectory.loss >= best - 1e-12  # nothing beats the optimum


@pytest.mark.parametrize("method, hyper", [
    ("random_search", {"scale": 2.0}),
    ("random_local_search", {"step_size": 0.3}),
])
def test_search_never_increases_the_kept_loss(softmax, method, hyper):
    trajectory = optimize(softmax, method, start(softmax), 300, seed=5, **hyper)
    assert np.all(np.diff(trajectory.losses) <= 0)
    assert trajectory.loss < trajectory.losses[0]  # and it does find something better
    for t in np.flatnonzero(np.diff(trajectory.losses)):  # a kept candidate is the new iterate, with its loss
        assert not np.array_equal(trajectory.thetas[t + 1], trajectory.thetas[t])
    np.testing.assert_allclose(trajectory.losses, [softmax.loss(th) for th in trajectory.thetas], rtol=1e-12)


def test_numerical_gd_tracks_gd_on_a_smooth_objective(softmax):
    theta0 = start(softmax)
    numeric = optimize(softmax, "numerical_gd", theta0, 100, lr=0.5)
    analytic = optimize(softmax, "gd", theta0, 100, lr=0.5)
    np.testing.assert_allclose(numeric.thetas, analytic.thetas, atol=1e-6, rtol=0)
    np.testing.assert_allclose(numeric.losses, analytic.losses, atol=1e-6, rtol=0)


@pytest.mark.parametrize("method", list(OPTIMIZERS))
def test_losses_are_the_full_objective_at_each_iterate(softmax, method):
    hyper = {"keep_prob": 0.7} if "keep_prob" in OPTIMIZERS[method].defaults else {}
    trajectory = optimize(softmax, method, start(softmax), 20, seed=1, **hyper)
    np.testing.assert_allclose(trajectory.losses, [softmax.loss(th) for th in trajectory.thetas], rtol=1e-12)


# --- cost bookkeeping ---------------------------------------------------------------------

COST_TABLE = [
    ("random_search", {}, 1),
    ("random_local_search", {}, 1),
    ("numerical_gd", {}, 2 * 9),                    # 2P full-loss evaluations, P = 9
    ("gd", {}, 1),
    ("sgd", {"batch_size": 16}, 16 / 60),
    ("sgd", {"batch_size": 16, "replace": True, "keep_prob": 0.5}, 16 / 60),
    ("momentum", {}, 1),
    ("nesterov", {"batch_size": 5}, 5 / 60),
    ("adagrad", {"batch_size": 60}, 1),
    ("rmsprop", {"keep_prob": 0.5}, 1),             # dropout over the full batch
    ("adam", {"batch_size": 1}, 1 / 60),
]


@pytest.mark.parametrize("method, hyper, per_step", COST_TABLE)
def test_cost_is_exact(softmax, method, hyper, per_step):
    trajectory = optimize(softmax, method, start(softmax), 25, seed=3, **hyper)
    assert trajectory.n_steps == 25
    assert np.array_equal(trajectory.cost, np.arange(26) * round(per_step * 60) / 60)


@pytest.mark.parametrize("method, hyper, per_step", [
    ("numerical_gd", {}, 4),  # P = 2
    ("gd", {}, 1),
    ("sgd", {"batch_size": 10**6}, 1),  # no examples: batch_size cannot exceed anything
    ("adam", {"batch_size": 1}, 1),
    ("random_search", {}, 1),
])
def test_cost_on_a_surface_counts_evaluations(method, hyper, per_step):
    trajectory = optimize(Bowl(1, 3), method, [1.0, -1.0], 10, **hyper)
    assert np.array_equal(trajectory.cost, np.arange(11.0) * per_step)


def test_every_method_is_in_the_cost_table():
    assert {method for method, _, _ in COST_TABLE} == set(OPTIMIZERS)


# --- surfaces and gradient noise ------------------------------------------------------------

def test_surface_noise_is_added_to_the_gradient():
    bowl, theta0 = Bowl(1, 3), np.array([1.0, -1.0])
    exact = optimize(bowl, "gd", theta0, 5, lr=0.1)
    assert np.array_equal(optimize(bowl, "sgd", theta0, 5, lr=0.1, noise=0.0).thetas, exact.thetas)
    one = optimize(bowl, "sgd", theta0, 1, seed=9, lr=0.1, noise=1.0).thetas[1] - exact.thetas[1]
    two = optimize(bowl, "sgd", theta0, 1, seed=9, lr=0.1, noise=2.0).thetas[1] - exact.thetas[1]
    assert np.linalg.norm(one) > 0
    np.testing.assert_allclose(two, 2 * one, rtol=1e-12)  # θ1 = θ0 − lr (∇f + σ ε), the same ε for one seed
    assert not np.array_equal(optimize(bowl, "momentum", theta0, 5, lr=0.1, batch_size=1).thetas,
                              optimize(bowl, "momentum", theta0, 5, lr=0.1).thetas)


# --- reproducibility and shared minibatches --------------------------------------------------

@pytest.mark.parametrize("method", list(OPTIMIZERS))
def test_same_seed_same_trajectory_bit_for_bit(softmax, method):
    hyper = {"batch_size": 8, "keep_prob": 0.6} if "keep_prob" in OPTIMIZERS[method].defaults else {}
    theta0 = start(softmax)
    first = optimize(softmax, method, theta0, 30, seed=11, **hyper)
    again = optimize(softmax, method, theta0, 30, seed=11, **hyper)
    for a, b in [(first.thetas, again.thetas), (first.losses, again.losses), (first.cost, again.cost)]:
        assert np.array_equal(a, b)
    if method in ("random_search", "random_local_search") or hyper:
        assert not np.array_equal(first.thetas, optimize(softmax, method, theta0, 30, seed=12, **hyper).thetas)


def test_dropout_masks_come_from_the_run_not_the_objective(blobs):
    # an objective with dropout of its own: two runs on the same instance must still agree
    objective = Objective(blobs.X, blobs.y, loss="softmax", keep_prob=0.5)
    theta0 = start(objective)
    first = optimize(objective, "sgd", theta0, 20, seed=1, keep_prob=0.5)
    assert np.array_equal(first.thetas, optimize(objective, "sgd", theta0, 20, seed=1, keep_prob=0.5).thetas)
    plain = optimize(objective, "sgd", theta0, 20, seed=1, keep_prob=1.0)
    assert not np.array_equal(first.thetas, plain.thetas)
    assert objective.keep_prob == 0.5  # the caller's objective is left alone


def test_side_by_side_runs_share_one_minibatch_sequence(softmax):
    logs = {}
    for method, hyper in [("sgd", {"lr": 0.1}), ("adam", {"keep_prob": 0.5}), ("momentum", {"replace": False})]:
        logs[method] = []
        optimize(Recording(softmax, logs[method]), method, start(softmax), 12, seed=21, batch_size=16, **hyper)
    for other in ("adam", "momentum"):
        assert len(logs[other]) == 12
        assert all(np.array_equal(a, b) for a, b in zip(logs["sgd"], logs[other]))


# --- divergence -----------------------------------------------------------------------------

def test_exploding_run_is_diverged_and_keeps_its_iterates(softmax):
    trajectory = optimize(softmax, "gd", start(softmax), 100, lr=50.0)  # |1 − 2λ·lr| = 4: W grows ×4 per step
    assert trajectory.status == "diverged"
    assert trajectory.n_steps < 100
    assert np.all(np.isfinite(trajectory.losses)) and np.all(np.isfinite(trajectory.thetas))
    limit = DIVERGENCE_FACTOR * max(1.0, abs(trajectory.losses[0]))  # 1000 × max(1, |L(θ0)|)
    assert np.all(trajectory.losses[:-1] <= limit) and trajectory.loss > limit  # it stops at the first one past it
    assert "diverged" in repr(trajectory) and "exceeds" in trajectory.message


def test_non_finite_loss_keeps_the_last_finite_iterate():
    # θ ← θ − 3θ = −2θ: 1 → −2 → 4 → −8, and at −8 the loss is infinite
    trajectory = optimize(Wall(1), "gd", [1.0], 10, lr=3.0)
    assert trajectory.status == "diverged"
    np.testing.assert_array_equal(trajectory.thetas[:, 0], [1, -2, 4])
    np.testing.assert_array_equal(trajectory.losses, [0.5, 2, 8])
    assert "non-finite" in trajectory.message


@pytest.mark.parametrize("method", list(OPTIMIZERS))
def test_wild_hyperparameters_never_raise_or_warn(softmax, method):
    hyper = {name: 1e6 for name in ("lr", "scale", "step_size") if name in OPTIMIZERS[method].defaults}
    trajectory = optimize(softmax, method, start(softmax), 40, seed=2, **hyper)  # warnings are errors here
    assert trajectory.status in STATUSES
    assert np.all(np.isfinite(trajectory.losses)) and np.all(np.isfinite(trajectory.thetas))
    if method not in ("random_search", "random_local_search"):
        assert trajectory.status == "diverged"


@pytest.mark.parametrize("a, theta0, lr, message", [
    (1e200, 1e-100, 1.0, "loss became non-finite"),       # θ1 = −1e100: ½·1e200·1e200 overflows
    (1e300, 1e3, 1e6, "iterate became non-finite"),       # lr·g = 1e6·1e303 overflows
])
def test_overflow_diverges_quietly(a, theta0, lr, message):
    trajectory = optimize(Bowl(a), "gd", [theta0], 5, lr=lr)
    assert trajectory.status == "diverged" and trajectory.n_steps == 0 and message in trajectory.message


# --- convergence -----------------------------------------------------------------------------

def test_gd_converges_at_an_exact_stationary_point():
    data = make_dataset("blobs", n=60, classes=3, seed=1, noise=0.3)
    svm = Objective(data.X, data.y, loss="svm", reg="none")
    trajectory = optimize(svm, "gd", np.zeros(svm.n_params), 500, lr=0.1)  # tol = 0: only a zero gradient
    assert trajectory.status == "converged" and trajectory.n_steps < 500
    assert trajectory.loss == 0.0 and np.linalg.norm(svm.grad(trajectory.theta)) == 0.0
    assert np.linalg.norm(svm.grad(trajectory.thetas[-2])) > 0


def test_tol_stops_once_the_gradient_is_small(softmax):
    trajectory = optimize(softmax, "nesterov", np.zeros(softmax.n_params), 1000, lr=0.05, tol=1e-5)
    assert trajectory.status == "converged"
    last, before = (np.linalg.norm(softmax.grad(theta)) for theta in trajectory.thetas[-1:-3:-1])
    assert last <= 1e-5 < before
    run = Run(softmax, "nesterov", np.zeros(softmax.n_params), lr=0.05, tol=1e-5)
    run.advance(1000)
    assert run.step() is None and run.advance(10).n_steps == trajectory.n_steps  # finished runs stay put


def test_stochastic_runs_never_claim_convergence(softmax):
    assert optimize(softmax, "adam", np.zeros(softmax.n_params), 50, batch_size=10, tol=1e3).status == "completed"


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("method, hyper, name", [
    ("gd", {"lr": 0}, "lr"),
    ("gd", {"lr": -0.1}, "lr"),
    ("gd", {"lr": math.nan}, "lr"),
    ("adam", {"lr": "fast"}, "lr"),
    ("sgd", {"batch_size": 0}, "batch_size"),
    ("sgd", {"batch_size": 61}, "batch_size"),
    ("momentum", {"batch_size": 61}, "batch_size"),
    ("sgd", {"batch_size": 2.5}, "batch_size"),
    ("sgd", {"replace": "yes"}, "replace"),
    ("sgd", {"keep_prob": 0.0}, "keep_prob"),
    ("gd", {"beta1": 0.9}, "beta1"),
    ("sgd", {"tol": 1e-3}, "tol"),
    ("newton", {}, "newton"),
    ("momentum", {"momentum": 1.0}, "momentum"),
    ("adam", {"beta2": 1.0}, "beta2"),
    ("rmsprop", {"alpha": -0.1}, "alpha"),
    ("adagrad", {"eps": 0.0}, "eps"),
    ("gd", {"schedule": "cosine"}, "schedule"),
    ("gd", {"decay_rate": 0.0}, "decay_rate"),
    ("gd", {"decay_every": 0}, "decay_every"),
    ("numerical_gd", {"h": 0.0}, "h"),
    ("random_search", {"scale": -1.0}, "scale"),
    ("random_local_search", {"step_size": math.inf}, "step_size"),
    ("gd", {"tol": -1.0}, "tol"),
])
def test_bad_hyperparameters_are_named(softmax, method, hyper, name):
    with pytest.raises(ValueError, match=name):
        optimize(softmax, method, np.zeros(softmax.n_params), 5, **hyper)


@pytest.mark.parametrize("steps", [-1, 2.5, True, "10"])
def test_bad_steps_are_named(softmax, steps):
    with pytest.raises(ValueError, match="steps"):
        optimize(softmax, "gd", np.zeros(softmax.n_params), steps)


@pytest.mark.parametrize("objective, method, theta0, hyper, name", [
    ("softmax", "gd", np.zeros(4), {}, "theta0"),
    ("softmax", "gd", np.full(9, np.nan), {}, "theta0"),
    ("softmax", "gd", ["a"] * 9, {}, "theta0"),
    ("softmax", "gd", np.zeros(9), {"seed": -1}, "seed"),
    ("bowl", "sgd", np.zeros(2), {"keep_prob": 0.5}, "keep_prob"),
    ("search-only", "gd", np.zeros(3), {}, "loss_grad"),
    ("wall", "gd", np.full(1, 6.0), {}, "theta0"),
])
def test_bad_runs_are_named(softmax, objective, method, theta0, hyper, name):
    objective = {"softmax": softmax, "bowl": Bowl(1, 2), "search-only": AlwaysBetter(), "wall": Wall(1)}[objective]
    with pytest.raises(ValueError, match=name):
        optimize(objective, method, theta0, 5, **hyper)


def test_dropout_needs_a_replaceable_objective(softmax):
    class Plain(Recording):
        replace = None

    with pytest.raises(ValueError, match="keep_prob"):
        optimize(Plain(softmax, []), "sgd", np.zeros(9), 5, keep_prob=0.5)
    assert optimize(Plain(softmax, []), "sgd", np.zeros(9), 5).status == "completed"


# --- resumable runs --------------------------------------------------------------------------

@pytest.mark.parametrize("method, hyper", [
    ("sgd", {"batch_size": 16}),  # 3 batches per epoch: the pieces cross epoch boundaries
    ("adam", {"batch_size": 7, "keep_prob": 0.8, "schedule": "exponential", "decay_every": 10}),
    ("random_search", {}),
    ("numerical_gd", {"lr": 0.3}),
    ("gd", {"schedule": "step", "decay_every": 4}),
])
def test_extending_a_run_equals_one_long_run(softmax, method, hyper):
    theta0 = start(softmax)
    whole = optimize(softmax, method, theta0, 40, seed=8, **hyper)
    run = Run(softmax, method, theta0, seed=8, **hyper)
    assert run.advance(0).n_steps == 0
    run.advance(13)
    steps = []
    for step in run.steps():  # endless: the caller decides when to stop
        steps.append(step)
        if step.t == 25:
            break
    paused = run.trajectory()
    assert paused.status == "stopped" and paused.message == "stopped after 25 steps"
    with pytest.raises(ValueError):
        steps[0].theta[0] = 0.0  # handed-out iterates are read-only: the record cannot be changed
    pieces = run.advance(15)
    assert pieces.status == "completed"
    for a, b in [(whole.thetas, pieces.thetas), (whole.losses, pieces.losses), (whole.cost, pieces.cost)]:
        assert np.array_equal(a, b)
    assert [s.t for s in steps] == list(range(14, 26))
    for s in steps:
        assert np.array_equal(s.theta, whole.thetas[s.t]) and s.loss == whole.losses[s.t] and s.cost == whole.cost[s.t]


def test_stopping_early_is_reported(softmax):
    run = Run(softmax, "gd", np.zeros(9))
    for step in run.steps(50):
        if step.t == 10:
            break
    trajectory = run.trajectory()
    assert trajectory.status == "stopped" and trajectory.n_steps == 10 and "10 of 50" in trajectory.message


# --- the registry and the trajectory record ---------------------------------------------------

def test_registry_lists_the_ladder_with_the_standard_defaults():
    assert list(OPTIMIZERS) == ["random_search", "random_local_search", "numerical_gd", "gd", "sgd",
                                "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
    defaults = {name: OPTIMIZERS[name].defaults for name in OPTIMIZERS}
    assert defaults["momentum"]["momentum"] == defaults["nesterov"]["momentum"] == 0.9
    assert defaults["adagrad"]["eps"] == 1e-10
    assert (defaults["rmsprop"]["alpha"], defaults["rmsprop"]["eps"]) == (0.99, 1e-8)
    assert (defaults["adam"]["beta1"], defaults["adam"]["beta2"], defaults["adam"]["eps"]) == (0.9, 0.999, 1e-8)
    assert defaults["numerical_gd"]["h"] == 1e-5
    keywords = {"lr", "batch_size", "replace", "keep_prob", "h", "scale", "step_size", "momentum", "alpha", "beta1",
                "beta2", "eps", "schedule", "decay_rate", "decay_every", "noise", "tol"}
    for entry in OPTIMIZERS.values():
        assert entry.label and entry.formula and entry.description
        for param in entry.params:
            assert param.name in keywords and param.help
            assert param.validate(param.default) == param.default


def test_trajectory_records_what_was_used(blobs):
    small = Objective(blobs.X[:10], blobs.y[:10], loss="softmax")
    trajectory = optimize(small, "sgd", np.zeros(small.n_params), 4, seed=3, lr=0.2)
    assert isinstance(trajectory, Trajectory)
    assert trajectory.hyper == OPTIMIZERS["sgd"].defaults | {"lr": 0.2, "batch_size": 10}  # 32 > N = 10
    assert (trajectory.method, trajectory.seed, trajectory.status) == ("sgd", 3, "completed")
    assert trajectory.thetas.shape == (5, small.n_params) and trajectory.losses.shape == trajectory.cost.shape == (5,)
    with pytest.raises(ValueError):
        trajectory.thetas[0, 0] = 1.0  # read-only: views may share it safely
    zero = optimize(small, "adam", np.zeros(small.n_params), 0)
    assert zero.n_steps == 0 and zero.status == "completed" and zero.cost.tolist() == [0.0]
