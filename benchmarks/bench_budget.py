"""Benchmark: the cost model of ``losslab.engine.budget`` against what the engine really does.

    python benchmarks/bench_budget.py [--skip-large] [--gaps-only] [--network]

1. calibration: ``budget.calibrate()`` (seconds per counted operation, from a tiny real
   landscape) next to the constant ``SECONDS_PER_OP`` the estimates use;
2. memory: tracemalloc's peak (NumPy reports its allocations to it) for building the
   problem, the landscape and the runs of an experiment, one after the other, against
   ``experiment_cost``'s estimate, part by part;
3. time: the same steps timed against the estimate's seconds, part by part;
4. cancellation: at N = 10^6, D = 2, C = 3, 256², every loss: the time to the first yield
   of ``loss_surface_blocks`` (the set-up), the longest and median gap between two yields (a
   superseded job stops at the next one), and the block heights. ``--skip-large`` skips it.
5. the two-layer network (``--network``: only this): one full loss and one loss-and-gradient
   call, the network's landscape (relu and tanh) and a few whole network experiments, each
   estimated against measured seconds (min of repeats) and, for the whole experiments,
   tracemalloc's peak against the estimated memory. How the ``_MLP_*`` and ``_NET_*``
   constants of ``budget`` were fitted.

BLAS runs on one thread unless OPENBLAS_NUM_THREADS is set (as bench_landscape.py). Timings
on a shared machine are noisy: compare the ratios, not the digits.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from losslab.engine import budget  # noqa: E402
from losslab.engine.experiment import (Experiment, ModelSpec, ObjectiveSpec, PlaneSpec, ProblemSpec,  # noqa: E402
                                       RunSpec, build_problem, drain, landscape_blocks, run_blocks, validate)

RUNS = (RunSpec("random_search"), RunSpec("numerical_gd"), RunSpec("gd"), RunSpec("sgd"))
LOSSES = ("svm", "squared_hinge", "ova_svm", "softmax", "structured_svm")


def experiment(n: int, classes: int, resolution: int, loss: str, steps: int = 200, kind: str = "axes",
               model: ModelSpec | None = None, centre: str = "optimum") -> Experiment:
    return validate(Experiment(problem=ProblemSpec(n=n, classes=classes),
                               objective=ObjectiveSpec(loss=loss), model=model or ModelSpec(),
                               plane=PlaneSpec(kind=kind, resolution=resolution, centre=centre), runs=RUNS,
                               steps=steps))


def measured(e: Experiment) -> dict[str, tuple[float, float]]:
    """``{part: (peak bytes above what was held before, seconds)}`` for build, runs, landscape and the whole.

    Memory from one traced pass, time from another (tracemalloc slows every allocation).
    """
    peaks = steps(e, traced=True)
    times = steps(e, traced=False)
    held, held_runs = peaks.pop("held"), peaks.pop("held_runs")
    times.pop("held"), times.pop("held_runs")
    if e.plane.kind in ("pca", "interpolation"):  # the landscape waits for the runs' plane
        whole = max(peaks["build"], held + peaks["runs"], held_runs + peaks["landscape"])
    else:  # landscape and runs run side by side in the app: their working sets add up
        whole = max(peaks["build"], held + peaks["runs"] + peaks["landscape"])
    out = {part: (peaks[part], times[part]) for part in ("build", "runs", "landscape")}
    out["whole"] = (whole, sum(times.values()))
    return out


def steps(e: Experiment, traced: bool) -> dict[str, float]:
    """Build, run, draw: each step's peak bytes above what was held before (traced) or its seconds."""
    out = {}
    gc.collect()
    if traced:
        tracemalloc.start()

    def done(name: str, t0: float, held: float = 0.0) -> None:
        out[name] = tracemalloc.get_traced_memory()[1] - held if traced else time.perf_counter() - t0
        if traced:
            tracemalloc.reset_peak()

    t0 = time.perf_counter()
    problem = build_problem(e)
    done("build", t0)
    out["held"] = tracemalloc.get_traced_memory()[0] if traced else 0.0
    t0 = time.perf_counter()
    plane, _ = drain(run_blocks(e, problem))
    done("runs", t0, out["held"])
    out["held_runs"] = tracemalloc.get_traced_memory()[0] if traced else 0.0
    t0 = time.perf_counter()
    drain(landscape_blocks(problem.objective, plane, e.plane.resolution))
    done("landscape", t0, out["held_runs"])
    if traced:
        tracemalloc.stop()
    return out


def mib(x: float) -> str:
    return f"{x / 2**20:8.1f}"


def compare(cases) -> None:
    print(f"{'case':41s} {'part':10s} {'est MiB':>8s} {'meas MiB':>8s} {'ratio':>6s}  "
          f"{'est s':>7s} {'meas s':>7s} {'ratio':>6s}")
    for n, c, G, loss, steps, kind in cases:
        e = experiment(n, c, G, loss, steps, kind)
        cost = budget.experiment_cost(e)
        got = measured(e)
        p = cost.parts
        est = {"runs": (p["runs"].memory, p["runs"].work * budget.SECONDS_PER_OP),
               "landscape": (p["landscape"].memory, p["landscape"].work * budget.SECONDS_PER_OP),
               "whole": (cost.memory, cost.seconds)}
        for part in ("runs", "landscape", "whole"):
            (em, es), (mm, ms) = est[part], got[part]
            print(f"N={n:<8,d} C={c:<3d} G={G:<4d} {loss:13s} {kind:6s} {part:10s} {mib(em)} {mib(mm)} {em / mm:6.2f}  "
                  f"{es:7.2f} {ms:7.2f} {es / max(ms, 1e-9):6.2f}", flush=True)


def gaps(n: int, c: int, G: int, losses=LOSSES, limit: float = 60.0) -> None:
    """Yields of the app's landscape job at a large N: set-up, longest gap, block heights."""
    from losslab.engine import Objective, Plane, make_dataset
    from losslab.engine.landscape import loss_surface_blocks
    data = make_dataset("blobs", n=n, classes=c, seed=0)
    for loss in losses:
        objective = Objective(data.X, data.y, loss=loss, reg="l2", lam=0.1)
        plane = Plane.random(0.3 * np.random.default_rng(0).standard_normal(objective.n_params), (2, c), seed=1)
        a = np.linspace(-1, 1, G)
        blocks = loss_surface_blocks(objective, plane, a, a, "data")
        start = last = time.perf_counter()
        intervals, heights, empty, done, first_rows = [], set(), 0, 0, None
        for rows, _ in blocks:
            now = time.perf_counter()
            intervals.append(now - last)
            last = now
            if rows.stop == rows.start:
                empty += 1
            else:
                heights.add(rows.stop - rows.start)
                done = rows.stop
                first_rows = first_rows or now - start
            if now - start > limit:
                blocks.close()
                break
        g = np.array(intervals)
        print(f"N={n:,} C={c} G={G} {loss:14s}: first yield {g[0]:.3f} s, first rows {first_rows:.2f} s, "
              f"longest gap {g.max():.3f} s, median {np.median(g) * 1e3:.0f} ms, {len(g)} yields ({empty} empty), "
              f"block heights {sorted(heights)}, {done}/{G} rows in {time.perf_counter() - start:.1f} s", flush=True)


def best_of(fn, repeats: int = 3) -> float:
    """The shortest of ``repeats`` timings of ``fn()``: the machine is shared, noise only adds time."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def row(label: str, estimate: float, seconds: float) -> None:
    print(f"{label:58s} {estimate:9.4f} {seconds:9.4f} {estimate / max(seconds, 1e-12):6.2f}", flush=True)


def network(repeats: int = 3) -> None:
    """The two-layer network: estimated against measured seconds, call by call, landscape and whole experiments."""
    from losslab.engine import Objective, Plane
    from losslab.engine.landscape import loss_surface
    rng = np.random.default_rng(0)
    spo = budget.SECONDS_PER_OP
    print(f"{'network: one call':58s} {'est s':>9s} {'meas s':>9s} {'ratio':>6s}")
    for n, d, h, c, loss, act in [(20_000, 2, 16, 3, "svm", "relu"), (20_000, 2, 64, 3, "softmax", "tanh"),
                                  (20_000, 2, 256, 3, "svm", "relu"), (5_000, 2, 1024, 3, "svm", "tanh"),
                                  (20_000, 20, 64, 10, "softmax", "relu"), (5_000, 64, 256, 10, "svm", "tanh"),
                                  (2_000, 784, 256, 10, "svm", "relu"), (5_000, 2, 16, 100, "softmax", "relu"),
                                  (5_000, 64, 1024, 100, "svm", "relu"), (50_000, 2, 32, 5, "squared_hinge", "relu")]:
        X, y = rng.standard_normal((n, d)), rng.integers(0, c, n)
        objective = Objective(X, y, loss=loss, model="mlp", hidden=h, activation=act, n_classes=c, lam=0.1)
        theta = objective.model.init(0, 0.1)
        P = theta.size
        label = f"N={n:<6,d} D={d:<3d} H={h:<4d} C={c:<3d} {loss:13s} {act:4s}"
        row(label + " loss", budget._loss_ops(n, d, c, loss, h, P) * spo,
            best_of(lambda: objective.loss(theta), repeats))
        row(label + " grad", budget._grad_ops(n, d, c, loss, h, P) * spo,
            best_of(lambda: objective.loss_grad(theta), repeats))
    print(f"\n{'network: the data landscape (random plane)':58s} {'est s':>9s} {'meas s':>9s} {'ratio':>6s}")
    for n, d, h, c, G, loss, act in [
            (2_000, 2, 16, 3, 64, "svm", "relu"), (2_000, 2, 16, 3, 64, "svm", "tanh"),
            (2_000, 2, 64, 3, 64, "softmax", "relu"), (2_000, 2, 64, 3, 64, "softmax", "tanh"),
            (2_000, 2, 256, 3, 32, "svm", "relu"), (500, 2, 1024, 3, 32, "svm", "tanh"),
            (2_000, 2, 16, 10, 64, "ova_svm", "relu"), (2_000, 2, 16, 30, 32, "softmax", "relu"),
            (1_000, 64, 128, 10, 32, "structured_svm", "tanh"), (20_000, 2, 16, 3, 24, "squared_hinge", "relu")]:
        X, y = rng.standard_normal((n, d)), rng.integers(0, c, n)
        objective = Objective(X, y, loss=loss, model="mlp", hidden=h, activation=act, n_classes=c, lam=0.1)
        plane = Plane.random(objective.model.init(0, 0.3), objective.model, seed=1)
        a = np.linspace(-1.0, 1.0, G)
        estimate = budget.problem_cost(n, d, c, G, [], loss, centre="zero", plane="random", hidden=h)
        row(f"N={n:<6,d} D={d:<3d} H={h:<4d} C={c:<3d} G={G:<4d} {loss:14s} {act:4s}",
            estimate.parts["landscape"].work * spo,
            best_of(lambda: loss_surface(objective, plane, a, a, "data"), repeats))
    print(f"\n{'network: whole experiments':41s} {'part':10s} {'est MiB':>8s} {'meas MiB':>8s} {'ratio':>6s}  "
          f"{'est s':>7s} {'meas s':>7s} {'ratio':>6s}")
    for n, c, G, loss, steps, kind, h, act, centre in [
            (2_000, 3, 64, "svm", 100, "random", 16, "relu", "init"),
            (5_000, 3, 64, "softmax", 50, "axes", 64, "tanh", "init"),
            (5_000, 3, 64, "softmax", 50, "random", 64, "tanh", "init"),
            (20_000, 3, 64, "svm", 50, "axes", 128, "relu", "init"),
            (2_000, 10, 48, "svm", 50, "random", 256, "relu", "init"),
            (1_000, 3, 48, "svm", 50, "axes", 32, "relu", "optimum"),
            (3_000, 5, 32, "svm", 30, "pca", 64, "relu", "init")]:
        e = experiment(n, c, G, loss, steps, kind, ModelSpec(kind="mlp", hidden=h, activation=act), centre)
        cost = budget.experiment_cost(e)
        times = [steps_timed(e) for _ in range(repeats)]
        got_time = {part: min(t[part] for t in times) for part in ("build", "runs", "landscape")}
        got_time["whole"] = sum(got_time.values())
        got = measured(e)
        p = cost.parts
        build = sum(p[name].work for name in ("data", "optimum", "reference") if name in p)
        est = {"build": (max(p[name].memory for name in ("data", "optimum", "reference") if name in p), build * spo),
               "runs": (p["runs"].memory, (p["runs"].work + (p["plane"].work if "plane" in p else 0)) * spo),
               "landscape": (p["landscape"].memory, p["landscape"].work * spo), "whole": (cost.memory, cost.seconds)}
        for part in ("build", "runs", "landscape", "whole"):
            (em, es), mm, ms = est[part], got[part][0], got_time[part]
            print(f"N={n:<6,d} C={c:<3d} G={G:<3d} H={h:<4d} {act:4s} {kind:6s} {centre:7s} {part:10s} {mib(em)} "
                  f"{mib(mm)} {em / mm:6.2f}  {es:7.2f} {ms:7.2f} {es / max(ms, 1e-9):6.2f}", flush=True)


def steps_timed(e: Experiment) -> dict[str, float]:
    out = steps(e, traced=False)
    out.pop("held"), out.pop("held_runs")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-large", action="store_true", help="skip the N = 10^6 cancellation timings")
    parser.add_argument("--gaps-only", action="store_true", help="only the N = 10^6 cancellation timings")
    parser.add_argument("--network", action="store_true", help="only the two-layer network's estimates")
    args = parser.parse_args()
    if args.network:
        print(f"calibration: {budget.calibrate() * 1e9:.2f} ns per counted operation now; "
              f"SECONDS_PER_OP = {budget.SECONDS_PER_OP * 1e9:.2f} ns\n")
        network()
        return
    if not args.gaps_only:
        print(f"calibration: {budget.calibrate() * 1e9:.2f} ns per counted operation now; "
              f"SECONDS_PER_OP = {budget.SECONDS_PER_OP * 1e9:.2f} ns\n")
        compare([(300, 3, 128, "svm", 200, "axes"), (20_000, 3, 256, "svm", 100, "random"),
                 (20_000, 3, 256, "softmax", 100, "axes"), (100_000, 10, 256, "squared_hinge", 50, "random"),
                 (100_000, 10, 256, "squared_hinge", 50, "axes"), (20_000, 30, 128, "structured_svm", 50, "axes"),
                 (200_000, 3, 512, "ova_svm", 20, "random"), (50_000, 10, 256, "softmax", 50, "pca")])
    if not args.skip_large:
        print()
        gaps(1_000_000, 3, 256)


if __name__ == "__main__":
    main()
