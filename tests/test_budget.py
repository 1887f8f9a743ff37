"""The cost model: estimates that bound what the engine really allocates, and refusals that say what to lower.

Memory is measured with tracemalloc (NumPy reports its allocations to it). An estimate
must be an upper bound, and a useful one: ``measured <= estimate <= 3 x measured``. The
estimate assumes the landscape and the runs are computed at the same time (as the app
does); here they run one after the other, which only makes the bound safer. No timed
assertions: the time estimate is checked for its shape (monotone in every size), not
against a clock.
"""
import gc
import tracemalloc

import numpy as np
import pytest

import losslab.engine.landscape as landscape
from losslab.engine import Objective, Plane, loss_surface, loss_surface_blocks, make_dataset
from losslab.engine.budget import (MEMORY_BUDGET, TIME_LIMIT, Cost, check_memory, check_time, csv_cost,
                                   experiment_cost, format_bytes, format_seconds, problem_cost, steps_per_yield)
from losslab.engine.experiment import (Experiment, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec, build_problem,
                                       compute_landscape, drain, landscape_blocks, run_blocks, validate)

DEFAULT_RUNS = [("random_search", 200, None), ("numerical_gd", 200, None), ("gd", 200, None), ("sgd", 200, None)]
LOSSES = ("svm", "squared_hinge", "softmax", "ova_svm", "structured_svm")


def experiment(n, classes, resolution, loss, kind="axes", steps=20, centre="zero"):
    runs = (RunSpec("random_search"), RunSpec("numerical_gd"), RunSpec("gd"), RunSpec("sgd"))
    return validate(Experiment(problem=ProblemSpec(n=n, classes=classes), objective=ObjectiveSpec(loss=loss),
                               plane=PlaneSpec(kind=kind, resolution=resolution, centre=centre), runs=runs,
                               steps=steps))


def traced_peak(fn):
    """``(value, peak bytes allocated while fn ran, above what was held before)``."""
    gc.collect()
    tracemalloc.start()
    try:
        held = tracemalloc.get_traced_memory()[0]
        value = fn()
        return value, tracemalloc.get_traced_memory()[1] - held
    finally:
        tracemalloc.stop()


def whole_experiment(e):
    problem = build_problem(e)
    plane, results = drain(run_blocks(e, problem))
    return compute_landscape(problem.objective, plane, e.plane.resolution), results


# --- memory: the estimate bounds the measured peak ---------------------------------------------

@pytest.mark.parametrize("n, classes, resolution, loss, kind, centre", [
    (20_000, 3, 128, "svm", "random", "zero"),
    (20_000, 3, 128, "softmax", "axes", "zero"),
    (30_000, 10, 64, "squared_hinge", "random", "zero"),
    (5_000, 30, 64, "structured_svm", "axes", "zero"),
    (10_000, 5, 96, "ova_svm", "pca", "zero"),
    (4_000, 10, 64, "svm", "axes", "optimum"),
])
def test_memory_estimate_bounds_a_whole_experiment(n, classes, resolution, loss, kind, centre):
    e = experiment(n, classes, resolution, loss, kind, centre=centre)
    cost = experiment_cost(e)
    _, measured = traced_peak(lambda: whole_experiment(e))
    assert measured <= cost.memory <= 3 * measured, \
        f"estimate {format_bytes(cost.memory)}, measured {format_bytes(measured)}"


@pytest.mark.parametrize("loss", LOSSES)
def test_landscape_memory_is_what_the_model_says(loss):
    # large enough that the per-loss tables dominate; the blocks must add nothing N x C x G-sized
    n, classes, G = 60_000, 4, 192
    data = make_dataset("blobs", n=n, classes=classes, seed=1)
    objective = Objective(data.X, data.y, loss=loss, reg="l2", lam=0.1)
    plane = Plane.random(np.full(objective.n_params, 0.2), (2, classes), seed=2)
    plane = Plane(plane.origin, plane.d1, plane.d2, plane.kind, plane.labels, (-1.0, 1.0, -1.0, 1.0))
    if loss == "structured_svm":  # O(G^2 N C): a smaller grid keeps the test quick
        G = 24
    estimate = problem_cost(n, 2, classes, G, [], loss, centre="zero", plane="random").parts["landscape"].memory
    _, measured = traced_peak(lambda: drain(landscape_blocks(objective, plane, G)))
    assert measured <= estimate <= 3 * measured, f"estimate {format_bytes(estimate)}, measured {format_bytes(measured)}"


def test_runs_memory_is_what_the_model_says():
    e = experiment(20_000, 10, 32, "softmax", steps=30)
    problem = build_problem(e)
    estimate = experiment_cost(e).parts["runs"].memory
    _, measured = traced_peak(lambda: drain(run_blocks(e, problem)))
    assert measured <= estimate <= 3 * measured, f"estimate {format_bytes(estimate)}, measured {format_bytes(measured)}"


def test_a_pca_plane_counts_its_svd_quadratic_in_P():
    # 64 features x 10 classes: P = 650 parameters, 4 runs x 400 steps pooled: K = 1604 iterates
    runs = [("gd", 400, None)] * 4
    with_svd = problem_cost(2_000, 64, 10, 64, runs, "svm", plane="pca", centre="zero")
    P, K = 650, 1604
    assert with_svd.parts["plane"].memory >= (2 * K * P + P * P) * 8
    assert "plane" not in problem_cost(2_000, 64, 10, 64, runs, "svm", plane="axes", centre="zero").parts


# --- refusals --------------------------------------------------------------------------------

def test_a_million_examples_in_100_classes_at_1024_squared_is_refused():
    cost = problem_cost(10**6, 2, 100, 1024, DEFAULT_RUNS, "svm")
    assert cost.memory > MEMORY_BUDGET
    with pytest.raises(ValueError, match=r"needs about \d+(\.\d)? GB of memory .* over the 2 GB budget: "
                                         r"lower N or the number of classes") as info:
        check_memory(cost)
    assert "1,000,000 × 100" in str(info.value)  # the sizes that make it big
    with pytest.raises(ValueError, match=r"would run for about \d+ (minutes|hours) .* over the 5-minute limit: lower"):
        check_time(cost)


def test_the_same_from_an_experiment_before_any_data_exists():
    e = validate(Experiment(problem=ProblemSpec(n=10**6, classes=100), plane=PlaneSpec(resolution=1024)))
    with pytest.raises(ValueError, match="lower N or the number of classes"):
        check_memory(experiment_cost(e))


def test_each_big_part_names_its_own_remedy():
    # a fine grid of little data: the grids dominate
    grid = problem_cost(300, 2, 3, 1024, [], "svm", centre="zero").parts["landscape"]
    assert grid.memory_lower == ("the resolution",)
    # long full-space runs of many parameters: the trajectories dominate
    runs = problem_cost(300, 784, 10, 64, [("gd", 100_000, None)] * 4, "svm", space="full").parts["runs"]
    assert "trajectories" in runs.memory_what and runs.memory_lower[0] == "the steps"
    with pytest.raises(ValueError, match="lower the steps or the number of optimizers"):
        check_memory(problem_cost(300, 784, 10, 64, [("gd", 100_000, None)] * 4, "svm", space="full"))
    # numerical gradients in the full space: 2P losses a step
    slow = problem_cost(20_000, 64, 10, 64, [("numerical_gd", 2_000, None)], "svm", space="full", centre="zero")
    with pytest.raises(ValueError, match=r"2P = 1,300 losses a step.*lower the numerical gradient's steps or N"):
        check_time(slow)
    # a big CSV file, before it is parsed
    with pytest.raises(ValueError, match="reading the CSV file.*lower the size of the file"):
        check_memory(csv_cost(500 * 2**20))
    check_memory(csv_cost(2 * 2**20))


def test_the_default_experiment_is_accepted_with_a_wide_margin():
    e = validate(Experiment())
    assert (e.problem.n, e.problem.classes, e.plane.resolution, len(e.runs), e.steps) == (300, 3, 128, 4, 200)
    cost = experiment_cost(e)
    check_memory(cost)
    check_time(cost)
    assert cost.memory < MEMORY_BUDGET / 100
    assert cost.seconds < TIME_LIMIT / 100
    same = problem_cost(300, 2, 3, 128, DEFAULT_RUNS, "svm")
    assert (same.memory, same.work) == (cost.memory, cost.work)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("size", ["n", "d", "c", "resolution", "steps"])
def test_the_estimates_grow_with_every_size(loss, size):
    base = {"n": 2_000, "d": 4, "c": 5, "resolution": 64, "steps": 100}
    costs = []
    for factor in (1, 2, 4):
        s = dict(base, **{size: base[size] * factor})
        runs = [(m, s["steps"], None) for m, _, _ in DEFAULT_RUNS]
        costs.append(problem_cost(s["n"], s["d"], s["c"], s["resolution"], runs, loss))
    works = [c.work for c in costs]
    assert works[0] < works[1] < works[2]
    assert [c.seconds for c in costs] == sorted(c.seconds for c in costs)
    # memory need not grow at every step (taller data, shorter landscape blocks), but overall it does
    assert costs[0].memory <= costs[2].memory


def test_runs_yield_more_often_the_dearer_their_steps():
    for method in ("random_search", "numerical_gd", "gd", "sgd", "adam"):
        chunks = [steps_per_yield(n, 2, 3, method, "svm") for n in (300, 3_000, 30_000, 300_000)]
        assert chunks == sorted(chunks, reverse=True) and chunks[-1] >= 1
    # a numerical gradient costs 2P losses: in the full space it yields far more often
    assert steps_per_yield(300, 64, 10, "numerical_gd", "svm", params=650) < \
        steps_per_yield(300, 64, 10, "numerical_gd", "svm", params=2)


def test_surfaces_and_bundled_data_have_costs_too():
    surface = experiment_cost(validate(Experiment(problem=ProblemSpec(source="surface", kind="rosenbrock"))))
    assert 0 < surface.memory < 16 * 2**20 and surface.seconds < 10
    digits = experiment_cost(validate(Experiment(problem=ProblemSpec(source="bundled", kind="digits"))))
    assert digits.parts["data"].memory_what.startswith("the data: N × D = 1,797 × 64")
    with pytest.raises(ValueError, match="pass n, d and c"):
        experiment_cost(validate(Experiment(problem=ProblemSpec(source="csv", path="data.csv"))))


def test_bad_sizes_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="n must be an integer of at least 1"):
        problem_cost(0, 2, 3, 128, [], "svm")
    with pytest.raises(ValueError, match="at least 2 classes"):
        problem_cost(10, 2, 1, 128, [], "svm")
    with pytest.raises(ValueError, match="loss must be one of"):
        problem_cost(10, 2, 3, 128, [], "hinge")
    with pytest.raises(ValueError, match="space must be one of slice, full"):
        problem_cost(10, 2, 3, 128, [], "svm", space="plane")
    with pytest.raises(ValueError, match="steps must be an integer of at least 0"):
        problem_cost(10, 2, 3, 128, [("gd", -1, None)], "svm")


def test_numbers_in_messages_are_human():
    assert format_bytes(MEMORY_BUDGET) == "2 GB"
    assert format_bytes(3.6 * 2**30) == "3.6 GB"
    assert format_bytes(850 * 2**20) == "850 MB"
    assert format_seconds(40) == "about 40 seconds"
    assert format_seconds(540) == "about 9 minutes"
    assert format_seconds(2 * 3600) == "about 2 hours"
    assert format_seconds(TIME_LIMIT, about=False) == "5-minute"
    assert isinstance(problem_cost(10, 2, 3, 8, [], "svm"), Cost)


# --- the landscape stays exact when it is built and computed in pieces ----------------------------

def reference(objective, plane, a, b):
    return np.array([[objective.parts(plane.point(ai, bj))[0] for ai in a] for bj in b])


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("uniform", [True, False])
def test_tables_in_pieces_give_the_exact_surface(monkeypatch, loss, uniform):
    # tiny pieces and steps: many pieces per table, empty blocks during the set-up and the rows
    monkeypatch.setattr(landscape, "_PIECE_TERMS", 16)
    monkeypatch.setattr(landscape, "_STEP_WORK", 2_000)
    rng = np.random.default_rng(5)
    n, classes = 90, 4
    y = np.arange(n) % classes
    X = rng.standard_normal((n, 3)) + 1.5 * rng.standard_normal((classes, 3))[y]
    objective = Objective(X, y, loss=loss, margin=1.5)
    plane = Plane.random(rng.standard_normal(objective.n_params), (3, classes), seed=5)
    a = np.linspace(-2.0, 2.0, 11) if uniform else np.sort(rng.uniform(-2.0, 2.0, 11))
    b = np.linspace(-1.5, 2.5, 7)
    expected = reference(objective, plane, a, b)
    Z = np.full((b.size, a.size), np.nan)
    empty_before_first_rows = 0
    seen_rows = False
    for rows, block in loss_surface_blocks(objective, plane, a, b, "data"):
        assert block.shape == (rows.stop - rows.start, a.size)
        if rows.stop == rows.start:
            empty_before_first_rows += not seen_rows
        seen_rows = seen_rows or rows.stop > rows.start
        Z[rows] = block
    assert empty_before_first_rows > 0  # the set-up itself yields: it can be cancelled
    assert np.all(np.abs(Z - expected) <= 1e-9 * np.abs(expected) + 1e-12)
    np.testing.assert_allclose(loss_surface(objective, plane, a, b, "data"), Z, rtol=1e-13, atol=1e-15)
