"""The model seam: the linear classifier and the two-layer network behind one layout.

Gradients against centred differences for every loss x regularizer x activation, a naive
per-example loop twin of the network, the layout contract (``unflatten`` order, labels,
filters), dropout on the hidden layer, the zero-init symmetry and the course's spiral result.
"""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from losslab.engine import LOSSES, MODELS, OPTIMIZERS, REGULARIZERS, Objective, Plane, make_dataset, numerical_gradient
from losslab.engine.experiment import (Experiment, ModelSpec, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec,
                                       compute_all, validate)
from losslab.engine.losses import kink_distance
from losslab.engine.models import LinearModel, make_model
from losslab.engine.optimizers import Run
from losslab.io.session_file import dumps, loads

RNG = np.random.default_rng(7)
X = RNG.standard_normal((24, 3))
Y = RNG.integers(0, 3, 24)


def network(loss="softmax", reg="l2", activation="relu", hidden=5, lam=0.1, **kw):
    return Objective(X, Y, loss=loss, reg=reg, lam=lam, beta=0.7, model="mlp", hidden=hidden, activation=activation,
                     **kw)


# --- layout -------------------------------------------------------------------------------------

def test_linear_layout_is_unchanged():
    o = Objective(X, Y)
    assert isinstance(o.model, LinearModel) and o.n_params == 3 * 3 + 3
    theta = np.arange(12.0)
    W, b = o.unflatten(theta)
    assert W.shape == (3, 3) and b.shape == (3,)
    assert np.array_equal(W, theta[:9].reshape(3, 3)) and np.array_equal(b, theta[9:])
    assert o.model.labels[:4] == ("W[0,0]", "W[0,1]", "W[0,2]", "W[1,0]") and o.model.labels[-1] == "b[2]"


def test_network_layout_order_and_labels():
    o = network(hidden=4)
    m = o.model
    assert o.n_params == 3 * 4 + 4 + 4 * 3 + 3
    theta = np.arange(float(o.n_params))
    W1, b1, W2, b2 = o.unflatten(theta)
    assert (W1.shape, b1.shape, W2.shape, b2.shape) == ((3, 4), (4,), (4, 3), (3,))
    assert np.array_equal(np.concatenate([W1.ravel(), b1, W2.ravel(), b2]), theta)
    assert np.array_equal(o.flatten(W1, b1, W2, b2), theta)
    assert m.labels[0] == "W1[0,0]" and m.labels[12] == "b1[0]" and m.labels[16] == "W2[0,0]"
    assert m.labels[-1] == "b2[2]" and len(set(m.labels)) == o.n_params
    with pytest.raises(ValueError, match="W2 must have shape"):
        o.flatten(W1, b1, W2.T, b2)
    with pytest.raises(ValueError, match=r"theta must have shape \(31,\)"):
        o.loss(np.zeros(5))


def test_model_registry_validates_its_parameters():
    assert list(MODELS) == ["linear", "mlp"]
    with pytest.raises(ValueError, match="hidden must be >= 1"):
        make_model("mlp", 2, 3, hidden=0)
    with pytest.raises(ValueError, match="activation must be one of relu, tanh"):
        make_model("mlp", 2, 3, activation="sigmoid")
    with pytest.raises(ValueError, match="unknown model 'cnn'"):
        Objective(X, Y, model="cnn")


def test_penalty_covers_the_weights_of_both_layers_and_never_a_bias():
    o = network(reg="l2", lam=0.0)
    theta = o.model.init(3, 0.5)
    g0 = o.grad(theta)
    g1 = o.replace(lam=0.5).grad(theta)
    W1, b1, W2, b2 = o.model.unflatten(g1 - g0)
    T1, _, T2, _ = o.model.unflatten(theta)
    assert np.allclose(W1, 0.5 * 2 * T1) and np.allclose(W2, 0.5 * 2 * T2)
    assert not np.any(b1) and not np.any(b2)
    data, reg = o.replace(lam=0.5).parts(theta)
    assert reg == pytest.approx(0.5 * (np.sum(T1 ** 2) + np.sum(T2 ** 2)))


# --- gradients ---------------------------------------------------------------------------------

def _away_from_kinks(o, theta, margin=1e-3) -> bool:
    Z1, _ = o.model.hidden_layer(theta, o.X)
    scores = o.scores(theta)
    kinks = kink_distance(scores, o.y, o.loss_kind, o.margin)
    W = o.model.penalized(theta)
    l1_safe = o.reg in ("none", "l2") or np.min(np.abs(W)) > margin
    relu_safe = o.model.activation != "relu" or np.min(np.abs(Z1)) > margin
    return bool(np.min(kinks) > margin and l1_safe and relu_safe)


@pytest.mark.parametrize("loss, reg, activation",
                         list(itertools.product(LOSSES, REGULARIZERS, ("relu", "tanh"))))
def test_network_gradient_matches_centred_differences(loss, reg, activation):
    o = network(loss=loss, reg=reg, activation=activation)
    for seed in range(20):  # a point away from every kink (hinge, |w|, ReLU) so the difference is fair
        theta = o.model.init(seed, 0.6)
        theta[o.model.group_slice("b1")] = 0.1 * (seed + 1)
        if _away_from_kinks(o, theta):
            break
    else:
        pytest.skip("no kink-free point found")
    analytic = o.grad(theta)
    numeric = numerical_gradient(o.loss, theta)
    assert np.allclose(analytic, numeric, rtol=1e-6, atol=1e-7)


def _naive_network_loss_grad(o, theta):
    """A per-example loop twin: forward and backward one example at a time, straight from the formulas."""
    W1, b1, W2, b2 = (np.array(a) for a in o.unflatten(theta))
    relu = o.model.activation == "relu"
    gW1, gb1, gW2, gb2 = (np.zeros_like(a) for a in (W1, b1, W2, b2))
    total = 0.0
    N, C = len(o.y), W2.shape[1]
    for x, yi in zip(o.X, o.y):
        z = np.array([sum(x[d] * W1[d, h] for d in range(len(x))) + b1[h] for h in range(len(b1))])
        a = np.maximum(z, 0) if relu else np.tanh(z)
        s = np.array([sum(a[h] * W2[h, c] for h in range(len(a))) + b2[c] for c in range(C)])
        assert o.loss_kind == "svm"
        ds = np.zeros(C)
        for j in range(C):
            if j == yi:
                continue
            m = s[j] - s[yi] + o.margin
            if m > 0:
                total += m
                ds[j] += 1
                ds[yi] -= 1
        ds /= N
        gW2 += np.outer(a, ds)
        gb2 += ds
        da = W2 @ ds
        dz = da * ((z > 0) if relu else (1 - a * a))
        gW1 += np.outer(x, dz)
        gb1 += dz
    lam = o.lam
    total = total / N + lam * (np.sum(W1 * W1) + np.sum(W2 * W2))
    gW1 += lam * 2 * W1
    gW2 += lam * 2 * W2
    return total, np.concatenate([gW1.ravel(), gb1, gW2.ravel(), gb2])


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_network_matches_a_naive_per_example_loop(activation):
    o = network(loss="svm", reg="l2", activation=activation, lam=0.05)
    theta = o.model.init(11, 0.7)
    value, grad = o.loss_grad(theta)
    naive_value, naive_grad = _naive_network_loss_grad(o, theta)
    assert value == pytest.approx(naive_value, rel=1e-12)
    assert np.allclose(grad, naive_grad, rtol=1e-10, atol=1e-13)


def test_relu_subgradient_is_zero_at_the_kink():
    # one unit whose pre-activation is exactly 0 on every example: it passes no gradient to W1, b1
    o = Objective(np.ones((4, 1)), np.array([0, 1, 0, 1]), loss="softmax", reg="none", model="mlp", hidden=1)
    theta = o.flatten(np.array([[1.0]]), np.array([-1.0]), np.array([[2.0, -1.0]]), np.zeros(2))
    W1, b1, W2, b2 = o.unflatten(o.grad(theta))
    assert W1[0, 0] == 0.0 and b1[0] == 0.0 and np.all(W2 == 0.0)


def test_dropout_acts_on_the_hidden_layer_of_a_minibatch():
    o = network(loss="softmax", reg="none", keep_prob=0.5)
    theta = o.model.init(2, 0.5)
    idx = np.arange(10)
    value, grad = o.loss_grad(theta, idx=idx, rng=np.random.default_rng(4))
    # the same mask by hand: drawn for the (batch, H) hidden layer, inverted
    mask = (np.random.default_rng(4).random((10, 5)) < 0.5) / 0.5
    W1, b1, W2, b2 = o.unflatten(theta)
    Z = X[idx] @ W1 + b1
    H = np.maximum(Z, 0) * mask
    S = H @ W2 + b2
    expected, dS = LOSSES["softmax"].impl(S, Y[idx])
    assert value == pytest.approx(expected)
    assert np.allclose(o.unflatten(grad)[2], H.T @ dS)
    assert np.allclose(o.unflatten(grad)[0], X[idx].T @ ((dS @ W2.T) * mask * (Z > 0)))
    # a full evaluation never drops anything
    assert o.loss(theta) == pytest.approx(o.replace(keep_prob=1.0).loss(theta))


# --- the linear model is bit-identical to its old formulas -------------------------------------

@pytest.mark.parametrize("loss, reg", list(itertools.product(LOSSES, REGULARIZERS)))
def test_linear_objective_is_bit_identical_to_the_closed_form(loss, reg):
    o = Objective(X, Y, loss=loss, reg=reg, lam=0.3, beta=0.4)
    theta = RNG.standard_normal(o.n_params)
    W, b = theta[:9].reshape(3, 3), theta[9:]
    data, dscores = LOSSES[loss].impl(X @ W + b, Y, 1.0)
    r, dr = REGULARIZERS[reg].impl(W, 0.4)
    value, grad = o.loss_grad(theta)
    assert value == data + 0.3 * r
    assert np.array_equal(grad, np.concatenate([(X.T @ dscores + 0.3 * dr).ravel(), dscores.sum(axis=0)]))


# --- optimizers, planes and symmetry ------------------------------------------------------------

@pytest.mark.parametrize("method", list(OPTIMIZERS))
def test_every_optimizer_runs_on_the_network(method):
    o = network(loss="softmax", reg="l2", lam=0.01)
    hyper = {"batch_size": 8} if any(p.name == "batch_size" for p in OPTIMIZERS[method].params) else {}
    run = Run(o, method, o.model.init(0, 0.3), 0, **hyper)
    run.advance(5)
    traj = run.trajectory()
    assert traj.thetas.shape == (6, o.n_params) and np.all(np.isfinite(traj.losses))


def test_random_plane_is_filter_normalized_per_unit():
    o = network(hidden=4)
    theta0 = o.model.init(5, 0.8)
    plane = Plane.random(theta0, o.model, seed=3)
    for d in (plane.d1, plane.d2):
        D1, e1, D2, e2 = o.model.unflatten(d)
        T1, _, T2, _ = o.model.unflatten(theta0)
        assert np.allclose(np.linalg.norm(D1, axis=0), np.linalg.norm(T1, axis=0))  # W1[:, h]: into unit h
        assert np.allclose(np.linalg.norm(D2, axis=0), np.linalg.norm(T2, axis=0))  # W2[:, c]: into class c
        assert not np.any(e1) and not np.any(e2)  # bias="zero": the biases stay
    column = Plane.random(theta0, o.model, seed=3, bias="column")
    D1, e1, _, _ = o.model.unflatten(column.d1)
    T1, t1, _, _ = o.model.unflatten(theta0)
    assert np.allclose(np.linalg.norm(np.vstack([D1, e1]), axis=0), np.linalg.norm(np.vstack([T1, t1]), axis=0))


def test_axes_plane_names_network_coordinates():
    o = network(hidden=4)
    labels = o.model.labels
    plane = Plane.axes(o.model.init(), labels.index("W1[0,3]"), labels.index("b1[3]"), o.model)
    assert plane.labels == ("W1[0,3]", "b1[3]")


def test_zero_start_is_a_symmetric_point_the_network_cannot_leave():
    o = network(loss="softmax", reg="l2", lam=0.01, activation="relu")
    run = Run(o, "gd", np.zeros(o.n_params), 0, lr=0.5)
    run.advance(50)
    W1, b1, W2, b2 = o.unflatten(run.trajectory().thetas[-1])
    assert not np.any(W1) and not np.any(b1) and not np.any(W2)  # only the output biases learn
    start = o.model.init(0, 0.01)
    moved = Run(o, "gd", start, 0, lr=0.5)
    moved.advance(50)
    W1, _, W2, _ = o.unflatten(moved.trajectory().thetas[-1])
    assert np.linalg.norm(W1) > 10 * np.linalg.norm(o.unflatten(start)[0])


def test_init_is_seeded_small_and_leaves_biases_at_zero():
    m = make_model("mlp", 2, 3, hidden=8)
    a, b = m.init(1, 0.01), m.init(1, 0.01)
    assert np.array_equal(a, b) and not np.array_equal(a, m.init(2, 0.01))
    W1, b1, W2, b2 = m.unflatten(a)
    assert 0.001 < np.std(W1) < 0.05 and not np.any(b1) and not np.any(b2)


def test_spiral_two_layer_network_reaches_the_course_accuracy():
    """CS231n's case study: 100 ReLU units, step 1, reg 1e-3 (as ½·reg·ΣW²), 10,000 full-batch steps, ~98%."""
    data = make_dataset("spiral", 300, 3)
    o = Objective(data.X, data.y, loss="softmax", reg="l2", lam=0.5e-3, model="mlp", hidden=100)
    run = Run(o, "gd", o.model.init(0, 0.01), 0, lr=1.0)
    run.advance(10_000)
    assert o.accuracy(run.trajectory().thetas[-1]) >= 0.95
    linear = Objective(data.X, data.y, loss="softmax", reg="l2", lam=0.5e-3)
    best = Run(linear, "gd", np.zeros(linear.n_params), 0, lr=1.0)
    best.advance(1000)
    assert linear.accuracy(best.trajectory().thetas[-1]) < 0.6  # the linear classifier stalls near 50%


# --- experiments and sessions -----------------------------------------------------------------------

def small_network_experiment(**plane) -> Experiment:
    return Experiment(problem=ProblemSpec(kind="spiral", n=60, classes=3),
                      objective=ObjectiveSpec(loss="softmax", lam=1e-3),
                      model=ModelSpec(kind="mlp", hidden=6, init_scale=0.5),
                      plane=PlaneSpec(**({"kind": "random", "centre": "init", "span": 1.0, "resolution": 12} | plane)),
                      runs=(RunSpec("gd", (("lr", 0.5),)), RunSpec("adam", (("lr", 0.05),))),
                      start=(0.0, 0.0), steps=20, space="full")


@pytest.mark.parametrize("plane", [{"kind": "random"}, {"kind": "axes", "axes": ("W1[0,1]", "W2[3,2]")},
                                   {"kind": "pca"}, {"kind": "interpolation"}, {"kind": "random", "centre": "optimum"}])
def test_network_experiments_compute_on_every_plane_kind(plane):
    computed = compute_all(small_network_experiment(**plane))
    o, pl, land = computed.problem.objective, computed.plane, computed.landscape
    assert o.model.kind == "mlp" and pl.n_params == o.n_params
    j, i = 5, 7
    assert land.part("total")[j, i] == pytest.approx(o.loss(pl.point(land.a_values[i], land.b_values[j])), rel=1e-9)
    if plane["kind"] == "axes":
        assert pl.labels == ("W1[0,1]", "W2[3,2]")


def test_zero_centre_keeps_the_network_stuck_and_init_does_not():
    stuck = compute_all(small_network_experiment(centre="zero"))
    free = compute_all(small_network_experiment(centre="init"))
    o = stuck.problem.objective
    W1, _, W2, _ = o.unflatten(stuck.runs[0].thetas[-1])
    assert not np.any(W1) and not np.any(W2)
    assert np.any(o.unflatten(free.runs[0].thetas[-1])[0])


def test_model_round_trips_through_session_files_and_is_validated():
    experiment = validate(small_network_experiment(kind="axes", axes=("W1[0,1]", "b1[2]")))
    again, _, _ = loads(dumps(experiment))
    assert again == experiment and again.model.kind == "mlp" and again.plane.axes == ("W1[0,1]", "b1[2]")
    with pytest.raises(ValueError, match="hidden must be >= 1"):
        validate(replace(experiment, model=replace(experiment.model, hidden=0)))
    with pytest.raises(ValueError, match="unknown model"):
        validate(replace(experiment, model=replace(experiment.model, kind="cnn")))


def test_missing_axes_of_another_model_are_replaced_with_a_note():
    computed = compute_all(small_network_experiment(kind="axes", axes=("W[0,0]", "W[0,1]")))
    assert computed.plane.labels == ("W1[0,0]", "W1[0,1]")
    assert any("do not exist here" in note for note in computed.notes)


def test_gradient_check_at_a_relu_kink_says_kink_not_wrong():
    from losslab.engine import describe_check, grad_check
    o = Objective(np.ones((4, 1)), np.array([0, 1, 0, 1]), loss="softmax", reg="none", model="mlp", hidden=1)
    theta = o.flatten(np.array([[1.0]]), np.array([-1.0]), np.array([[2.0, -1.0]]), np.zeros(2))
    check = grad_check(o, theta)
    assert check.near_kink == 4  # every example's hidden input sits exactly on the kink
    text, verdict = describe_check(check, o.n_params)
    assert verdict in ("kink", "acceptable", "good") and "kink" in text
    away = o.flatten(np.array([[1.0]]), np.array([0.5]), np.array([[2.0, -1.0]]), np.zeros(2))
    assert grad_check(o, away).near_kink == 0 and grad_check(o, away).verdict == "good"


def test_exports_name_the_network_coordinates(tmp_path):
    import csv
    from losslab.io.exports import write_trajectories
    computed = compute_all(small_network_experiment())
    path = write_trajectories(tmp_path / "runs.csv", computed)
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    model = computed.problem.model
    assert header[8:] == list(model.labels) and "W1[0,0]" in header and "b2[2]" in header
    npz = np.load(write_trajectories(tmp_path / "runs.npz", computed))
    assert list(npz["theta_labels"]) == list(model.labels)
