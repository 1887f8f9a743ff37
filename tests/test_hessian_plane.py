"""The hessian plane: through a point, along the Hessian's top two eigenvectors; in experiments and the budget."""
from dataclasses import replace

import numpy as np
import pytest

from losslab.engine import (PLANES, Objective, Plane, curvature, hessian, loss_surface, make_dataset, make_plane,
                            make_surface)
from losslab.engine import hessians
from losslab.engine.budget import experiment_cost, format_bytes, problem_cost
from losslab.engine.experiment import (Experiment, ModelSpec, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec,
                                       build_problem, compute_all, validate)
from test_budget import traced_peak  # the budget's tests measure memory the same way

RTOL, ATOL = 1e-9, 1e-12


def objective_of(loss="softmax", model="linear", reg="l2", lam=0.05, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(40) % 4
    X = rng.standard_normal((40, 3)) + 1.5 * rng.standard_normal((4, 3))[y]
    return Objective(X, y, loss=loss, reg=reg, lam=lam, model=model, hidden=5)


def assert_top_eigenvectors(plane, objective, centre):
    H = hessian(objective, centre)
    top = np.linalg.eigvalsh(H)
    for d, value in ((plane.d1, plane.eigenvalues[0]), (plane.d2, plane.eigenvalues[1])):
        assert np.linalg.norm(d) == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(H @ d, value * d, atol=1e-10 * max(1.0, abs(top[-1])))
    assert plane.d1 @ plane.d2 == pytest.approx(0.0, abs=1e-12)
    assert plane.eigenvalues == pytest.approx((top[-1], top[-2]), abs=1e-10 * max(1.0, abs(top[-1])))


@pytest.mark.parametrize("loss, model", [("softmax", "linear"), ("squared_hinge", "linear"), ("svm", "linear"),
                                         ("softmax", "mlp"), ("structured_svm", "mlp")])
def test_the_plane_is_spanned_by_the_top_two_eigenvectors(loss, model):
    objective = objective_of(loss, model)
    centre = np.random.default_rng(1).standard_normal(objective.n_params)
    plane = Plane.hessian(objective, centre)
    assert plane.kind == "hessian"
    np.testing.assert_array_equal(plane.origin, centre)
    assert_top_eigenvectors(plane, objective, centre)
    assert plane.labels[0].startswith("v₁") and f"{plane.eigenvalues[0]:.3g}" in plane.labels[0]
    found = curvature(objective, centre)
    np.testing.assert_array_equal(plane.d1, found.eigenvectors[:, -1])  # the same vectors, signs included
    np.testing.assert_array_equal(plane.d2, found.eigenvectors[:, -2])


@pytest.mark.parametrize("loss, model", [("softmax", "linear"), ("svm", "linear"), ("squared_hinge", "mlp")])
def test_the_landscape_over_it_matches_per_point_evaluation(loss, model):
    objective = objective_of(loss, model, reg="elastic_net")
    centre = np.random.default_rng(2).standard_normal(objective.n_params)
    plane = Plane.hessian(objective, centre)
    a, b = np.linspace(-2, 2, 9), np.linspace(-1.5, 1.5, 7)
    Z = loss_surface(objective, plane, a, b, "total")
    expected = np.array([[objective.loss(plane.point(ai, bj)) for ai in a] for bj in b])
    assert np.all(np.abs(Z - expected) <= RTOL * np.abs(expected) + ATOL)


def test_the_sharpest_direction_bends_as_its_eigenvalue_says():
    # near the centre, L(θ + a d1) − L(θ) − a g·d1 ≈ λ₁ a² / 2
    objective = objective_of("softmax")
    centre = np.random.default_rng(3).standard_normal(objective.n_params)
    plane = Plane.hessian(objective, centre)
    a = 1e-3
    loss0, g = objective.loss_grad(centre)
    bend = (objective.loss(plane.point(a, 0)) + objective.loss(plane.point(-a, 0)) - 2 * loss0) / a**2
    assert bend == pytest.approx(plane.eigenvalues[0], rel=1e-5)


def test_where_nothing_curves_the_plane_is_still_an_orthonormal_pair():
    # the hinge without a penalty: the Hessian is 0, every direction an eigenvector with λ = 0
    objective = objective_of("svm", reg="none")
    centre = np.random.default_rng(4).standard_normal(objective.n_params)
    plane = Plane.hessian(objective, centre)
    assert plane.eigenvalues == (0.0, 0.0)
    np.testing.assert_allclose(plane.basis.T @ plane.basis, np.eye(2), atol=1e-15)


def test_a_test_surface_and_lanczos(monkeypatch):
    bowl = make_surface("bowl", kappa=9.0, angle=30.0)
    plane = Plane.hessian(bowl, np.array([0.5, -0.5]))
    c, s = np.cos(np.radians(30.0)), np.sin(np.radians(30.0))
    assert abs(plane.d1 @ np.array([-s, c])) == pytest.approx(1.0, abs=1e-6)  # the steep axis, κ = 9
    assert plane.eigenvalues == pytest.approx((9.0, 1.0), rel=1e-6)

    objective = objective_of("softmax", "mlp")
    centre = objective.model.init(0, 0.5)
    dense = Plane.hessian(objective, centre)
    monkeypatch.setattr(hessians, "DENSE_LIMIT", 10)
    sparse = Plane.hessian(objective, centre)
    assert sparse.eigenvalues == pytest.approx(dense.eigenvalues, rel=1e-8)
    assert abs(sparse.d1 @ dense.d1) == pytest.approx(1.0, abs=1e-8)


# --- the registry ----------------------------------------------------------------------------------

def test_registry_entry_and_make_plane():
    entry = PLANES["hessian"]
    assert entry.extra == {"needs": ("theta0", "objective"), "from_runs": False}
    assert entry.defaults == {}
    objective = objective_of()
    theta0 = np.random.default_rng(5).standard_normal(objective.n_params)
    plane = make_plane("hessian", theta0, objective=objective)
    assert plane.kind == "hessian"
    np.testing.assert_array_equal(plane.d1, Plane.hessian(objective, theta0).d1)
    with pytest.raises(ValueError, match="objective"):
        make_plane("hessian", theta0)
    with pytest.raises(ValueError, match="theta0"):
        make_plane("hessian", objective=objective)


# --- experiments ----------------------------------------------------------------------------------

def hessian_experiment(model="linear", centre="optimum", loss="softmax", span=2.0, space="slice"):
    return validate(Experiment(problem=ProblemSpec(n=90, classes=3), objective=ObjectiveSpec(loss=loss, lam=0.01),
                               model=ModelSpec(kind=model, hidden=6), runs=(RunSpec("gd"), RunSpec("adam")),
                               plane=PlaneSpec(kind="hessian", centre=centre, span=span, resolution=16),
                               steps=20, space=space))


@pytest.mark.parametrize("model, centre", [("linear", "optimum"), ("linear", "zero"), ("mlp", "init")])
def test_an_experiment_slices_along_the_hessian_at_its_centre(model, centre):
    e = hessian_experiment(model, centre)
    problem = build_problem(e)
    plane = problem.plane
    assert plane.kind == "hessian" and plane.extent == (-2.0, 2.0, -2.0, 2.0)
    np.testing.assert_array_equal(plane.origin, problem.centre)
    assert_top_eigenvectors(plane, problem.objective, problem.centre)
    done = compute_all(e)
    assert done.plane.kind == "hessian" and len(done.runs) == 2
    np.testing.assert_allclose(done.runs[0].residual, 0.0)  # slice space: the paths lie in the plane
    j, i = 8, 5
    a, b = done.landscape.a_values[i], done.landscape.b_values[j]
    assert done.landscape.part("total")[j, i] == pytest.approx(problem.objective.loss(done.plane.point(a, b)),
                                                               rel=1e-9)


def test_full_space_runs_are_projected_onto_it():
    done = compute_all(hessian_experiment(space="full"))
    assert done.plane.kind == "hessian"
    assert done.runs[0].thetas.shape[1] == done.problem.objective.n_params


def test_a_changed_penalty_rebuilds_the_plane():
    first = compute_all(hessian_experiment(centre="zero"))
    changed = replace(first.experiment, objective=replace(first.experiment.objective, lam=1.0))
    second = compute_all(changed)
    assert second.plane.eigenvalues[0] > first.plane.eigenvalues[0]  # 2 lam more on the weights


# --- the budget -------------------------------------------------------------------------------------

def test_the_budget_prices_the_hessian_quadratic_in_P_and_lanczos_past_the_limit():
    small = problem_cost(1797, 64, 10, 64, [], "softmax", plane="hessian", centre="zero").parts["plane"]
    P = 650
    assert small.memory >= 5 * P * P * 8  # the Hessian and eigh's copies
    assert small.work >= 1797 * P * P * 0.08  # the UᵀU product
    hinge = problem_cost(1797, 64, 10, 64, [], "svm", plane="hessian", centre="zero").parts["plane"]
    assert hinge.work < small.work  # no data curvature to assemble
    assert "plane" not in problem_cost(1797, 64, 10, 64, [], "softmax", plane="random", centre="zero").parts
    wide = problem_cost(1797, 64, 10, 64, [], "softmax", plane="hessian", centre="init", hidden=64).parts["plane"]
    assert "Lanczos" in wide.memory_what  # P = 4810 > DENSE_LIMIT: never P² floats
    assert wide.memory < 4810 ** 2 * 8
    e = hessian_experiment()
    assert experiment_cost(e).parts["plane"].memory > 0




@pytest.mark.parametrize("loss, hidden, factor", [("softmax", None, 5), ("softmax", 16, 5),
                                                   ("squared_hinge", None, 10)])
def test_the_budget_bounds_what_curvature_allocates(loss, hidden, factor):
    # tracemalloc sees NumPy's arrays, not LAPACK's workspace (about 3 P² more inside eigh): the
    # estimate, which counts it, must bound the measured peak and stay within a small factor of
    # it. Squared hinge's pieces are one class's examples, whose number the budget cannot know:
    # it counts a piece of all N (here 10 classes of 200), on the safe side
    data = make_dataset("blobs", n=2000, classes=10, seed=0)
    X = np.hstack([data.X, np.random.default_rng(0).standard_normal((2000, 30))])  # D = 32
    extra = {} if hidden is None else {"model": "mlp", "hidden": hidden}
    objective = Objective(X, data.y, loss=loss, reg="l2", lam=0.01, **extra)
    theta = objective.model.init(0, 0.1)
    measured = traced_peak(lambda: curvature(objective, theta))[1]
    estimate = problem_cost(2000, 32, 10, 16, [], loss, plane="hessian", centre="zero",
                            hidden=hidden).parts["plane"].memory
    assert measured <= estimate <= factor * measured, \
        f"estimate {format_bytes(estimate)}, measured {format_bytes(measured)}"
