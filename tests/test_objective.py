"""The objective on theta: conventions, gradients of every loss × regularizer, minibatches, dropout."""
import math

import numpy as np
import pytest

from losslab.engine import (LOSSES, REGULARIZERS, GRADCHECK_THRESHOLDS, Objective, grad_check, gradcheck_verdict,
                            make_dataset, numerical_gradient, penalty, relative_error)


@pytest.fixture(scope="module")
def blobs():
    return make_dataset("blobs", n=60, classes=4, seed=1)


def generic_theta(objective, seed=0, scale=0.5):
    return scale * np.random.default_rng(seed).standard_normal(objective.n_params)


def test_theta_layout_is_row_major_W_then_b():
    X = np.array([[1.0, 2.0]])
    obj = Objective(X, np.array([0]), n_classes=3)
    theta = np.arange(9.0)
    W, b = obj.unflatten(theta)
    np.testing.assert_array_equal(W, [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(b, [6, 7, 8])
    np.testing.assert_array_equal(obj.scores(theta), [[0 + 6 + 6, 1 + 8 + 7, 2 + 10 + 8]])
    np.testing.assert_array_equal(obj.flatten(W, b), theta)
    assert (obj.n_params, obj.n_features, obj.n_classes, obj.n_examples) == (9, 2, 3, 1)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("reg", list(REGULARIZERS))
def test_analytic_gradient_matches_numerical(blobs, loss, reg):
    obj = Objective(blobs.X, blobs.y, loss=loss, reg=reg, lam=0.3, beta=0.7)
    theta = generic_theta(obj)
    check = grad_check(obj, theta)
    assert check.near_kink == 0, "pick a point away from kinks"
    assert check.max_rel_error < 1e-6
    assert check.verdict in ("good", "acceptable")
    np.testing.assert_allclose(check.analytic, check.numerical, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("C", [2, 3, 10])
def test_softmax_at_tiny_weights_is_log_C(C):
    data = make_dataset("blobs", n=200, classes=C, seed=2)
    obj = Objective(data.X, data.y, loss="softmax", n_classes=C)
    assert obj.loss(1e-6 * generic_theta(obj)) == pytest.approx(math.log(C), rel=1e-4)


@pytest.mark.parametrize("C", [2, 3, 10])
def test_svm_at_tiny_weights_is_C_minus_1(C):
    data = make_dataset("spiral", n=200, classes=C, seed=2)
    obj = Objective(data.X, data.y, loss="svm", margin=1.0)
    assert obj.loss(1e-6 * generic_theta(obj)) == pytest.approx(C - 1, rel=1e-4)


def test_total_is_data_plus_penalty_and_bias_is_not_regularized(blobs):
    obj = Objective(blobs.X, blobs.y, loss="softmax", reg="l2", lam=0.25)
    theta = generic_theta(obj)
    W, b = obj.unflatten(theta)
    data, reg = obj.parts(theta)
    assert reg == pytest.approx(0.25 * np.sum(W ** 2))
    assert obj.loss(theta) == pytest.approx(data + reg)
    bumped = theta.copy()
    bumped[-obj.n_classes:] += 5.0  # move only the biases: the penalty must not change
    assert obj.parts(bumped)[1] == pytest.approx(reg)


@pytest.mark.parametrize("kind, lam, beta, W, value, dW", [
    ("none", 2.0, 0.5, [[1.0, -2.0]], 0.0, [[0, 0]]),
    ("l2", 2.0, 0.5, [[1.0, -2.0]], 2.0 * 5.0, [[4.0, -8.0]]),
    ("l1", 2.0, 0.5, [[1.0, -2.0], [0.0, 0.5]], 2.0 * 3.5, [[2.0, -2.0], [0.0, 2.0]]),  # 0 at w = 0
    ("elastic_net", 2.0, 0.5, [[1.0, -2.0]], 2.0 * (0.5 * 5.0 + 3.0), [[2 * (1 + 1), 2 * (-2 - 1)]]),
    ("l2", 0.0, 0.5, [[1.0, -2.0]], 0.0, [[0, 0]]),
])
def test_penalty_hand_worked(kind, lam, beta, W, value, dW):
    got, grad = penalty(np.array(W), kind, lam, beta)
    assert got == pytest.approx(value)
    np.testing.assert_allclose(grad, dW)


def test_minibatch_is_the_subset_mean_plus_the_penalty_once(blobs):
    obj = Objective(blobs.X, blobs.y, loss="svm", reg="l2", lam=0.5)
    theta = generic_theta(obj)
    idx = np.array([3, 17, 17, 42])
    sub = Objective(blobs.X[idx], blobs.y[idx], loss="svm", reg="l2", lam=0.5, n_classes=obj.n_classes)
    loss, grad = obj.loss_grad(theta, idx)
    ref_loss, ref_grad = sub.loss_grad(theta)
    assert loss == pytest.approx(ref_loss)
    np.testing.assert_allclose(grad, ref_grad)


def test_dropout_applies_to_minibatches_only_and_is_seeded(blobs):
    obj = Objective(blobs.X, blobs.y, loss="softmax", keep_prob=0.5, seed=3)
    plain = obj.replace(keep_prob=1.0)
    theta = generic_theta(obj)
    everything = np.arange(obj.n_examples)
    # full evaluations never drop anything
    assert obj.loss(theta) == plain.loss(theta)
    np.testing.assert_array_equal(obj.loss_grad(theta)[1], plain.loss_grad(theta)[1])
    # minibatch evaluations do, reproducibly from a seeded generator
    a = obj.loss_grad(theta, everything, rng=np.random.default_rng(9))
    b = obj.loss_grad(theta, everything, rng=np.random.default_rng(9))
    assert a[0] == b[0] and a[0] != plain.loss_grad(theta, everything)[0]
    # inverted dropout: X * mask / p, mask ~ Bernoulli(p)
    mask = np.random.default_rng(9).random(blobs.X.shape) < 0.5
    dropped = Objective(blobs.X * mask / 0.5, blobs.y, loss="softmax", n_classes=obj.n_classes)
    assert a[0] == pytest.approx(dropped.loss(theta))


def test_dropout_is_unbiased_on_the_scores(blobs):
    obj = Objective(blobs.X, blobs.y, loss="softmax", keep_prob=0.8)
    rng = np.random.default_rng(0)
    masks = [rng.random(blobs.X.shape) < 0.8 for _ in range(4000)]
    mean_input = np.mean([blobs.X * m / 0.8 for m in masks], axis=0)
    np.testing.assert_allclose(mean_input, blobs.X, atol=0.1 * np.abs(blobs.X).max())
    assert obj.keep_prob == 0.8


def test_accuracy_and_predict(blobs):
    obj = Objective(blobs.X, blobs.y, n_classes=4)
    W = np.zeros((2, 4))
    b = np.array([0.0, 0.0, 1.0, 0.0])  # always predicts class 2
    theta = obj.flatten(W, b)
    assert np.all(obj.predict(theta) == 2)
    assert obj.accuracy(theta) == pytest.approx(np.mean(blobs.y == 2))


def test_replace_keeps_data_and_validates(blobs):
    obj = Objective(blobs.X, blobs.y, loss="svm", lam=0.1)
    other = obj.replace(loss="softmax", lam=2.0)
    assert other.loss_kind == "softmax" and other.lam == 2.0 and other.X is obj.X
    with pytest.raises(ValueError, match="lam must be >= 0"):
        obj.replace(lam=-1.0)
    with pytest.raises(ValueError, match="cannot change X"):
        obj.replace(X=None)


def test_objective_keeps_a_private_read_only_copy(blobs):
    X = blobs.X.copy()
    obj = Objective(X, blobs.y)
    X[0, 0] = 1e9
    assert obj.X[0, 0] != 1e9
    with pytest.raises(ValueError):
        obj.X[0, 0] = 1.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(X=np.zeros((3, 2)), y=np.array([0, 1])), r"y must have shape \(3,\)"),
    (dict(X=np.zeros(3), y=np.array([0, 1, 1])), "2-D"),
    (dict(X=np.zeros((2, 2)), y=np.array([0, 3]), n_classes=3), "0..2"),
    (dict(X=np.zeros((2, 2)), y=np.array([0, -1])), "0..1"),
    (dict(X=np.array([[0.0, np.nan], [1, 1]]), y=np.array([0, 1])), r"NaN or infinity \(first at row 0, column 1\)"),
    (dict(X=np.zeros((2, 2)), y=np.array([0, 1]), lam=-0.1), "lam must be >= 0"),
    (dict(X=np.zeros((2, 2)), y=np.array([0, 1]), lam=float("nan")), "lam must be a finite number"),
    (dict(X=np.zeros((2, 2)), y=np.array([0, 1]), loss="hinge"), "unknown loss 'hinge'; choose one of"),
    (dict(X=np.zeros((2, 2)), y=np.array([0, 1]), reg="l3"), "unknown regularizer 'l3'"),
    (dict(X=np.zeros((2, 2)), y=np.array([0, 1]), keep_prob=0.0), "keep_prob must be > 0"),
    (dict(X=np.zeros((2, 2)), y=np.array([0, 1]), n_classes=1), "at least 2 classes"),
    (dict(X=np.zeros((2, 2)), y=np.array(["cat", "dog"])), "whole numbers"),
    (dict(X=np.zeros((2, 2)), y=np.array([0.0, np.nan])), "whole numbers"),
])
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Objective(**kwargs)


def test_bad_theta_and_idx_are_named(blobs):
    obj = Objective(blobs.X, blobs.y)
    with pytest.raises(ValueError, match=r"theta must have shape \(12,\)"):
        obj.loss(np.zeros(8))
    with pytest.raises(ValueError, match="idx must index rows 0..59"):
        obj.loss_grad(np.zeros(12), np.array([60]))
    with pytest.raises(ValueError, match="non-empty"):
        obj.loss_grad(np.zeros(12), np.array([], dtype=int))


def test_huge_theta_gives_inf_without_warnings(blobs):
    obj = Objective(blobs.X, blobs.y, loss="softmax", reg="l2", lam=1.0)
    loss, grad = obj.loss_grad(np.full(obj.n_params, 1e200))
    assert not np.isfinite(loss)


# --- numerical gradient and the gradient check ---------------------------------------------

def test_numerical_gradient_of_a_known_function_leaves_input_alone():
    theta = np.array([1.0, -2.0, 0.5])
    before = theta.copy()
    grad = numerical_gradient(lambda t: t[0] ** 2 + 3 * t[1] * t[2] + np.sin(t[2]), theta)
    np.testing.assert_allclose(grad, [2.0, 1.5, -6.0 + np.cos(0.5)], rtol=1e-9)
    np.testing.assert_array_equal(theta, before)


def test_numerical_gradient_rejects_bad_step():
    with pytest.raises(ValueError, match="step h must be a positive"):
        numerical_gradient(lambda t: 0.0, np.zeros(2), h=0.0)


def test_relative_error_definition():
    np.testing.assert_allclose(relative_error([1.0, 0.0, -2.0], [1.1, 0.0, 2.0]), [0.1 / 1.1, 0.0, 2.0])


@pytest.mark.parametrize("err, verdict", [(1e-9, "good"), (1e-7, "good"), (5e-6, "acceptable"),
                                          (1e-3, "suspect"), (0.5, "wrong"), (float("nan"), "wrong")])
def test_course_thresholds(err, verdict):
    assert gradcheck_verdict(err) == verdict
    assert [t[0] for t in GRADCHECK_THRESHOLDS[:3]] == [1e-7, 1e-4, 1e-2]


def test_grad_check_flags_a_wrong_gradient(blobs):
    class Broken(Objective):
        def loss_grad(self, theta, idx=None, rng=None):
            loss, grad = super().loss_grad(theta, idx, rng)
            return loss, 1.5 * grad

    obj = Broken(blobs.X, blobs.y, loss="softmax")
    check = grad_check(obj, generic_theta(obj))
    assert check.verdict == "wrong" and check.max_rel_error == pytest.approx(0.5 / 1.5, rel=1e-6)  # |1.5g − g| / |1.5g|


def test_grad_check_counts_examples_at_a_kink():
    # example 0 has s_1 - s_0 + 1 = 0 exactly at theta = 0 with these biases
    X = np.array([[0.0, 0.0], [5.0, 5.0]])
    obj = Objective(X, np.array([0, 1]), loss="svm")
    theta = obj.flatten(np.zeros((2, 2)), np.array([1.0, 0.0]))
    check = grad_check(obj, theta)
    assert check.near_kink == 1
    smooth = grad_check(obj.replace(loss="softmax"), theta)
    assert smooth.near_kink == 0


def test_grad_check_ignores_coordinates_at_rounding_level():
    data = make_dataset("blobs", n=300, classes=3, seed=0)
    obj = Objective(data.X, data.y, loss="svm", reg="l2", lam=0.1)
    theta = 0.01 * np.random.default_rng(0).standard_normal(obj.n_params)
    check = grad_check(obj, theta)
    # every margin is violated: the bias gradients are 0 by symmetry, numerically ~1e-10
    assert check.at_rounding_level == 3 and check.verdict == "good"


def test_grad_check_tells_finite_difference_error_from_a_wrong_gradient():
    data = make_dataset("blobs", n=200, classes=3, seed=0)
    obj = Objective(data.X, data.y, loss="softmax", reg="l2", lam=1e-3)
    # near the optimum the entries are tiny and the reference itself is the limit
    theta = np.zeros(obj.n_params)
    for _ in range(3000):
        theta -= 0.5 * obj.grad(theta)
    check = grad_check(obj, theta)
    assert check.within_fd_error
    assert np.all(check.fd_error > 0)

    class Broken(Objective):
        def loss_grad(self, theta, idx=None, rng=None):
            loss, grad = super().loss_grad(theta, idx, rng)
            return loss, grad * 1.01

    broken = Broken(data.X, data.y, loss="softmax", reg="l2", lam=1e-3)
    assert not grad_check(broken, generic_theta(broken)).within_fd_error
