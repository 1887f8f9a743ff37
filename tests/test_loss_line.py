"""1-D cuts: the loss and accuracy along θ0 + t·direction equal per-point evaluation.

"Exact" as in tests/test_landscape.py: ``|line - loss| <= 1e-9 |loss| + 1e-12``.
"""
import numpy as np
import pytest

from losslab.engine import (PARTS, Objective, Plane, PlaneObjective, accuracy_line, loss_line, make_dataset,
                            make_surface)

LOSS_NAMES = ("svm", "squared_hinge", "softmax", "ova_svm", "structured_svm")
REG_NAMES = ("none", "l2", "l1", "elastic_net")
RTOL, ATOL = 1e-9, 1e-12


def dataset(N=36, D=3, C=4, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(N) % C
    X = rng.standard_normal((N, D)) + 1.5 * rng.standard_normal((C, D))[y]
    return X, y


def uneven_t(seed=0):
    """Unsorted, with a repeat, straddling 0 and beyond ±1."""
    t = np.random.default_rng(seed).uniform(-2.0, 2.0, 41)
    t[5] = t[17]
    return np.append(t, 0.0)


def per_point(objective, theta0, direction, t, part):
    values = []
    for s in t:
        theta = theta0 + s * direction
        data, reg = objective.parts(theta)
        values.append({"total": objective.loss(theta), "data": data, "reg": reg}[part])
    return np.array(values)


def assert_exact(line, expected):
    assert line.shape == expected.shape
    assert np.all(np.abs(line - expected) <= RTOL * np.abs(expected) + ATOL), np.max(np.abs(line - expected))


@pytest.mark.parametrize("reg", REG_NAMES)
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_linear_line_equals_per_point_evaluation(loss, reg):
    X, y = dataset()
    objective = Objective(X, y, loss=loss, reg=reg, lam=0.2, beta=0.6, margin=1.1)
    rng = np.random.default_rng(1)
    theta0, direction = rng.standard_normal(objective.n_params), rng.standard_normal(objective.n_params)
    t = uneven_t()
    for part in PARTS:
        assert_exact(loss_line(objective, theta0, direction, t, part), per_point(objective, theta0, direction, t, part))


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_network_line_equals_per_point_evaluation(loss, activation):
    X, y = dataset(N=30, D=2, C=3)
    objective = Objective(X, y, loss=loss, reg="elastic_net", lam=0.1, model="mlp", hidden=7, activation=activation)
    rng = np.random.default_rng(2)
    theta0, direction = objective.model.init(0, 0.8), rng.standard_normal(objective.n_params)
    t = uneven_t(1)
    for part in PARTS:
        assert_exact(loss_line(objective, theta0, direction, t, part), per_point(objective, theta0, direction, t, part))


def test_a_line_through_the_output_layer_only():
    # the network's landscape then takes the linear shortcuts over fixed hidden features
    X, y = dataset(N=30, D=2, C=3)
    objective = Objective(X, y, loss="svm", reg="l2", lam=0.1, model="mlp", hidden=5)
    theta0 = objective.model.init(0, 0.8)
    direction = np.zeros(objective.n_params)
    direction[objective.model.group_slice("W2")] = np.random.default_rng(3).standard_normal(15)
    t = np.linspace(-3, 3, 25)
    assert_exact(loss_line(objective, theta0, direction, t), per_point(objective, theta0, direction, t, "total"))


@pytest.mark.parametrize("k", [0, 5, -1])
def test_a_line_along_one_coordinate(k):
    X, y = dataset()
    objective = Objective(X, y, loss="squared_hinge", reg="l1", lam=0.3)
    theta0 = np.random.default_rng(4).standard_normal(objective.n_params)
    direction = np.zeros(objective.n_params)
    direction[k] = 2.0
    t = np.linspace(-1, 1, 9)
    assert_exact(loss_line(objective, theta0, direction, t), per_point(objective, theta0, direction, t, "total"))


def test_directions_of_any_length():
    X, y = dataset()
    objective = Objective(X, y, loss="softmax", reg="l2", lam=0.1)
    rng = np.random.default_rng(5)
    theta0, direction = rng.standard_normal(objective.n_params), rng.standard_normal(objective.n_params)
    for scale in (1e-9, 1e9):
        t = np.linspace(-1, 1, 7) / scale
        assert_exact(loss_line(objective, theta0, scale * direction, t),
                     per_point(objective, theta0, scale * direction, t, "total"))


def test_a_zero_direction_is_constant():
    X, y = dataset()
    objective = Objective(X, y, loss="svm", reg="l2", lam=0.1)
    theta0 = np.random.default_rng(6).standard_normal(objective.n_params)
    line = loss_line(objective, theta0, np.zeros(objective.n_params), np.linspace(-1, 1, 5), "reg")
    np.testing.assert_array_equal(line, objective.parts(theta0)[1])


def test_surfaces_and_slices():
    rosenbrock = make_surface("rosenbrock")
    t = np.linspace(-1, 1, 11)
    theta0, direction = np.array([-1.0, 0.5]), np.array([0.7, 1.1])
    assert_exact(loss_line(rosenbrock, theta0, direction, t), per_point(rosenbrock, theta0, direction, t, "total"))

    X, y = dataset()
    objective = Objective(X, y, loss="ova_svm", reg="l2", lam=0.1)
    rng = np.random.default_rng(7)
    plane = Plane.random(rng.standard_normal(objective.n_params), objective.model, seed=1)
    sliced = PlaneObjective(objective, plane)
    ab0, dab = np.array([0.2, -0.1]), np.array([1.0, 0.5])
    assert_exact(loss_line(sliced, ab0, dab, t, "data"), per_point(sliced, ab0, dab, t, "data"))


# --- accuracy -----------------------------------------------------------------------------------

@pytest.mark.parametrize("model, activation", [("linear", "relu"), ("mlp", "relu"), ("mlp", "tanh")])
def test_accuracy_line_equals_per_point_accuracy(model, activation):
    data = make_dataset("spiral", n=150, classes=3, seed=0)
    objective = Objective(data.X, data.y, loss="softmax", model=model, hidden=9, activation=activation)
    rng = np.random.default_rng(8)
    theta0, direction = rng.standard_normal(objective.n_params), rng.standard_normal(objective.n_params)
    t = uneven_t(2)
    expected = np.array([objective.accuracy(theta0 + s * direction) for s in t])
    np.testing.assert_array_equal(accuracy_line(objective, theta0, direction, t), expected)
    assert len(set(expected)) > 3  # the line does cross decision boundaries


def test_accuracy_needs_examples():
    with pytest.raises(ValueError, match="examples"):
        accuracy_line(make_surface("bowl"), np.zeros(2), np.ones(2), [0.0, 1.0])


# --- bad input -----------------------------------------------------------------------------------

def test_bad_input_is_refused():
    X, y = dataset()
    objective = Objective(X, y)
    P = objective.n_params
    with pytest.raises(ValueError, match="part"):
        loss_line(objective, np.zeros(P), np.ones(P), [0.0], "penalty")
    with pytest.raises(ValueError, match="direction"):
        loss_line(objective, np.zeros(P), np.ones(P + 1), [0.0])
    with pytest.raises(ValueError, match="t_values"):
        loss_line(objective, np.zeros(P), np.ones(P), [])
    with pytest.raises(ValueError, match="NaN"):
        accuracy_line(objective, np.zeros(P), np.ones(P), [0.0, np.nan])
