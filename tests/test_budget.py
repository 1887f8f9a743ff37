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


# --- the two-layer network ------------------------------------------------------------------------

def network_experiment(n, classes, resolution, loss="svm", kind="random", steps=20, centre="init", hidden=16,
                       activation="relu", runs=None):
    from losslab.engine.experiment import ModelSpec
    runs = runs or (RunSpec("random_search"), RunSpec("numerical_gd"), RunSpec("gd"), RunSpec("sgd"))
    return validate(Experiment(problem=ProblemSpec(n=n, classes=classes), objective=ObjectiveSpec(loss=loss),
                               model=ModelSpec(kind="mlp", hidden=hidden, activation=activation),
                               plane=PlaneSpec(kind=kind, resolution=resolution, centre=centre), runs=runs,
                               steps=steps))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("plane", ["random", "axes", "pca"])
def test_the_network_estimate_grows_with_its_width_linearly_when_wide(loss, plane):
    widths = (16, 64, 256, 1024, 2048)
    costs = [problem_cost(5_000, 8, 5, 64, DEFAULT_RUNS, loss, plane=plane, hidden=h) for h in widths]
    works = [c.work for c in costs]
    assert works == sorted(works) and len(set(works)) == len(works)
    assert [c.memory for c in costs] == sorted(c.memory for c in costs)
    assert 1.7 < costs[-1].memory / costs[-2].memory <= 2.0
    if plane == "pca":  # full-space runs: a numerical gradient is 2P losses of P ~ H parameters each
        assert 3.5 < works[-1] / works[-2] <= 4.0
        return
    # twice as wide, twice the work, once the hidden layer dominates
    assert 1.8 < works[-1] / works[-2] <= 2.0
    # and every part that evaluates the hidden layer scales with it; an axes plane moves at
    # most two hidden units: its landscape evaluates two (the others' share is made once)
    for name in ("optimum", "runs", "landscape"):
        ratio = costs[-1].parts[name].work / costs[-2].parts[name].work
        assert ratio < 1.2 if (name, plane) == ("landscape", "axes") else 1.8 < ratio <= 2.0


def test_a_network_costs_more_than_the_linear_model_and_the_linear_estimates_stay_put():
    linear = problem_cost(20_000, 2, 3, 128, DEFAULT_RUNS, "svm")
    assert problem_cost(20_000, 2, 3, 128, DEFAULT_RUNS, "svm", hidden=None) == linear
    network = problem_cost(20_000, 2, 3, 128, DEFAULT_RUNS, "svm", hidden=64)
    assert network.work > 10 * linear.work and network.memory > linear.memory
    # a network's problem also fits the linear classifier on its data: the linear optimum search's work
    assert network.parts["reference"].work == linear.parts["optimum"].work
    assert "reference" not in linear.parts
    # centred at the network's random start: no search for its optimum (the reference is still made)
    start = problem_cost(20_000, 2, 3, 128, DEFAULT_RUNS, "svm", centre="init", hidden=64)
    assert "optimum" not in start.parts and "reference" in start.parts
    assert start.work < network.work
    with pytest.raises(ValueError, match="hidden must be an integer of at least 1"):
        problem_cost(300, 2, 3, 64, [], "svm", hidden=0)


def test_experiment_cost_reads_the_model():
    import types
    e = experiment(2_000, 3, 64, "svm")
    mlp = network_experiment(2_000, 3, 64, kind="axes", centre="zero", hidden=32)
    runs = [(r.method, 20, None) for r in mlp.runs]
    assert experiment_cost(mlp) == problem_cost(2_000, 2, 3, 64, runs, "svm", centre="zero", hidden=32)
    # an experiment without a model is a linear classifier
    bare = types.SimpleNamespace(**{f: getattr(e, f) for f in ("problem", "plane", "runs", "steps", "objective")},
                                 slice_space=e.slice_space)
    assert experiment_cost(bare) == experiment_cost(e)


def test_a_huge_network_is_refused_before_any_data_exists():
    from losslab.engine.experiment import TooLong, compute
    # a million examples through 4,096 units: the hidden layer alone is 32 GB
    huge = network_experiment(10**6, 3, 128, hidden=4096)
    with pytest.raises(ValueError, match=r"needs about \d+ GB of memory \(.*1,000,000 × 4,096.*\), over the 2 GB "
                                         r"budget: lower N or the hidden units"):
        next(compute(huge, max_seconds=TIME_LIMIT))
    # it fits, but a fine landscape of 10,000 examples x 1,024 units takes hours; the same
    # experiment with the linear model takes seconds
    slow = network_experiment(10_000, 3, 512, hidden=1024)
    check_memory(experiment_cost(slow))
    with pytest.raises(TooLong, match=r"would run for about \d+ hours \(the landscape: N × H × grid points = "
                                      r"10,000 × 1,024 × 512²\), over the 5-minute limit: lower N, the hidden "
                                      r"units or the resolution") as info:
        next(compute(slow, max_seconds=TIME_LIMIT))
    assert info.value.cost.largest("work")[0] == "landscape"
    linear = validate(Experiment(problem=slow.problem, plane=slow.plane, runs=slow.runs, steps=slow.steps))
    assert experiment_cost(linear).seconds < 30


def test_network_runs_yield_more_often_the_wider_the_network():
    chunks = [steps_per_yield(5_000, 2, 3, "gd", "svm", hidden=h) for h in (4, 16, 64, 256, 1024)]
    assert chunks == sorted(chunks, reverse=True) and chunks[0] > chunks[-1] >= 1
    assert steps_per_yield(5_000, 2, 3, "gd", "svm", hidden=64) < steps_per_yield(5_000, 2, 3, "gd", "svm")
    assert steps_per_yield(5_000, 2, 3, "gd", "svm", hidden=None) == steps_per_yield(5_000, 2, 3, "gd", "svm")
    # numerical gradients in the full space: 2P losses of the network's P = D*H + H + H*C + C
    P = 2 * 64 + 64 + 64 * 3 + 3
    assert steps_per_yield(300, 2, 3, "numerical_gd", "svm", params=P, hidden=64) < \
        steps_per_yield(300, 2, 3, "numerical_gd", "svm", params=2, hidden=64)


def test_run_blocks_yields_as_often_as_the_network_needs():
    e = network_experiment(5_000, 3, 8, steps=12, hidden=64, runs=(RunSpec("gd"),))
    problem = build_problem(e)
    chunk = steps_per_yield(5_000, 2, 3, "gd", "svm", hidden=64)
    assert 1 <= chunk < 12 < steps_per_yield(5_000, 2, 3, "gd", "svm")  # the linear model's would be one block
    done = list(run_blocks(e, problem))
    assert done == [min(k, 12) for k in range(chunk, 12 + chunk, chunk)]


@pytest.mark.parametrize("n, hidden, kind, centre, loss, activation", [
    (2_000, 32, "random", "optimum", "svm", "relu"),
    (5_000, 64, "axes", "init", "softmax", "tanh"),
])
def test_the_network_memory_estimate_bounds_a_whole_experiment(n, hidden, kind, centre, loss, activation):
    # the estimate sums the runs' and the landscape's working sets (the app computes them side
    # by side); here they run one after the other, which only makes the bound safer. The
    # landscape's part also bounds a set-up that makes the three (N, H) products at once
    e = network_experiment(n, 3, 32, loss, kind, centre=centre, hidden=hidden, activation=activation)
    cost = experiment_cost(e)
    _, measured = traced_peak(lambda: whole_experiment(e))
    assert measured <= cost.memory <= 4 * measured, \
        f"estimate {format_bytes(cost.memory)}, measured {format_bytes(measured)}"
