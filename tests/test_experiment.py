"""The experiment: validation, building the problem, the runs and the landscape it stands for."""
from dataclasses import replace

import numpy as np
import pytest

from losslab.engine.experiment import (Experiment, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec, build_problem,
                                       compute_landscape, landscape_blocks, relandscape_penalty, run_all, validate)
from losslab.engine.landscape import loss_surface

SMALL = Experiment(plane=PlaneSpec(resolution=24), steps=30)


def test_defaults_validate_and_build():
    experiment = validate(Experiment())
    problem = build_problem(experiment)
    assert problem.dataset.X.shape == (300, 2) and problem.objective.n_params == 9
    assert problem.plane.kind == "axes" and problem.plane.labels == ("W[0,0]", "W[0,1]") == problem.axes
    assert [r.method for r in experiment.runs] == ["random_search", "numerical_gd", "gd", "sgd"]


@pytest.mark.parametrize("change, message", [
    (dict(problem=ProblemSpec(source="web")), "problem.source must be one of"),
    (dict(problem=ProblemSpec(kind="moons")), "unknown dataset 'moons'"),
    (dict(problem=ProblemSpec(n=1)), "n must be >= 2"),
    (dict(problem=ProblemSpec(source="csv")), "problem.path: choose a CSV file"),
    (dict(objective=ObjectiveSpec(lam=-1)), "lam must be >= 0"),
    (dict(objective=ObjectiveSpec(loss="hinge")), "unknown loss 'hinge'"),
    (dict(plane=PlaneSpec(axes=("W[0,1]", "W[0,1]"))), "must be two different coordinates"),
    (dict(plane=PlaneSpec(axes=("W[0,1]", "weight"))), "must be two coordinate names"),
    (dict(plane=PlaneSpec(kind="interpolation"), runs=(RunSpec("gd"),)), "enable at least two optimizers"),
    (dict(plane=PlaneSpec(span=0)), "span must be > 0"),
    (dict(plane=PlaneSpec(resolution=4)), "resolution must be >= 8"),
    (dict(runs=(RunSpec("gd", (("lr", float("nan")),)),)), r"Gradient descent \(run 1\): lr must be a finite number"),
    (dict(runs=(RunSpec("gd", (("momentum", 0.9),)),)), "Gradient descent has no parameter 'momentum'"),
    (dict(runs=(RunSpec("lbfgs"),)), "unknown optimizer 'lbfgs'"),
    (dict(start=(float("inf"), 0.0)), "start must be two finite numbers"),
    (dict(steps=0), "steps must be >= 1"),
    (dict(space="both"), "space must be one of slice, full"),
])
def test_bad_fields_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        validate(replace(Experiment(), **change))


def test_axes_keep_their_meaning_when_the_classes_change():
    wide = validate(replace(SMALL, problem=ProblemSpec(classes=5), plane=PlaneSpec(axes=("W[1,0]", "b[4]"))))
    problem = build_problem(wide)
    assert problem.plane.labels == ("W[1,0]", "b[4]") and problem.axes == ("W[1,0]", "b[4]")
    narrow = build_problem(validate(replace(wide, problem=ProblemSpec(classes=3))))
    assert narrow.axes == ("W[1,0]", "W[0,0]")  # b[4] does not exist for 3 classes: the first free coordinate


def test_slice_runs_lie_on_the_plane_and_start_at_the_start():
    experiment = validate(SMALL)
    problem = build_problem(experiment)
    plane, results = run_all(experiment, problem)
    assert plane is problem.plane and len(results) == 4
    for result in results:
        np.testing.assert_array_equal(result.ab[0], experiment.start)
        np.testing.assert_allclose(result.thetas, plane.points(result.ab))
        assert np.all(result.residual == 0)
        # the recorded loss is the objective at the full parameter vector
        assert result.trajectory.losses[-1] == pytest.approx(problem.objective.loss(result.thetas[-1]))


def test_full_space_runs_are_projected_with_their_distance():
    experiment = validate(replace(SMALL, space="full", runs=(RunSpec("gd"),)))
    problem = build_problem(experiment)
    plane, (result,) = run_all(experiment, problem)
    assert result.thetas.shape == (31, 9)
    np.testing.assert_allclose(result.ab[0], experiment.start, atol=1e-12)
    assert result.residual[0] == pytest.approx(0, abs=1e-12) and result.residual[-1] > 1e-3


@pytest.mark.parametrize("kind", ["pca", "interpolation"])
def test_planes_made_from_the_runs(kind):
    experiment = validate(replace(SMALL, plane=PlaneSpec(kind=kind, resolution=16),
                                  runs=(RunSpec("gd"), RunSpec("momentum"))))
    problem = build_problem(experiment)
    assert problem.plane is None and not experiment.slice_space
    plane, results = run_all(experiment, problem)
    assert plane.kind == kind
    if kind == "interpolation":  # through the start and both ends: zero residual there
        for result in results:
            assert result.residual[0] == pytest.approx(0, abs=1e-9)
            assert result.residual[-1] == pytest.approx(0, abs=1e-9)


def test_test_surface_problem():
    experiment = validate(replace(SMALL, problem=ProblemSpec(source="surface", kind="rosenbrock"),
                                  start=(-1.5, 2.0), runs=(RunSpec("momentum", (("lr", 1e-3),)), RunSpec("adam"))))
    problem = build_problem(experiment)
    assert problem.is_surface and problem.plane.extent == problem.objective.window
    plane, results = run_all(experiment, problem)
    assert results[0].trajectory.losses[-1] < results[0].trajectory.losses[0]


def test_landscape_blocks_assemble_the_exact_surface():
    experiment = validate(SMALL)
    problem = build_problem(experiment)
    gen = landscape_blocks(problem.objective, problem.plane, 24)
    rows = []
    while True:
        try:
            rows.append(next(gen)[0])
        except StopIteration as stop:
            landscape = stop.value
            break
    assert rows[0].start == 0 and rows[-1].stop == 24
    a, b = problem.plane.grid(24)
    np.testing.assert_allclose(landscape.part("total"), loss_surface(problem.objective, problem.plane, a, b), rtol=1e-12)
    np.testing.assert_allclose(landscape.part("data") + landscape.part("reg"), landscape.part("total"))


def test_relandscape_penalty_matches_a_full_recompute():
    experiment = validate(replace(SMALL, objective=ObjectiveSpec(reg="l1", lam=0.1), plane=PlaneSpec(centre="zero")))
    problem = build_problem(experiment)
    landscape = compute_landscape(problem.objective, problem.plane, 24)
    heavier = problem.objective.replace(lam=2.0, reg="elastic_net", beta=0.3)
    again = relandscape_penalty(landscape, heavier)
    fresh = compute_landscape(heavier, problem.plane, 24)
    np.testing.assert_array_equal(again.data, landscape.data)
    np.testing.assert_allclose(again.reg, fresh.reg, rtol=1e-12, atol=1e-15)


def test_sgd_with_dropout_runs_inside_the_slice_reproducibly():
    experiment = validate(replace(SMALL, runs=(RunSpec("sgd", (("keep_prob", 0.5), ("batch_size", 16))),)))
    problem = build_problem(experiment)
    (_, (first,)), (_, (second,)) = run_all(experiment, problem), run_all(experiment, problem)
    np.testing.assert_array_equal(first.ab, second.ab)
    assert first.trajectory.hyper["keep_prob"] == 0.5
    plain = validate(replace(SMALL, runs=(RunSpec("sgd", (("batch_size", 16),)),)))
    _, (no_dropout,) = run_all(plain, problem)
    assert not np.array_equal(first.ab, no_dropout.ab)  # the masks changed the steps
