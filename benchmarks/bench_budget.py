"""Benchmark: the cost model of ``losslab.engine.budget`` against what the engine really does.

    python benchmarks/bench_budget.py [--skip-large] [--gaps-only]

1. calibration: ``budget.calibrate()`` (seconds per counted operation, from a tiny real
   landscape) next to the constant ``SECONDS_PER_OP`` the estimates use;
2. memory: tracemalloc's peak (NumPy reports its allocations to it) for building the
   problem, the landscape and the runs of an experiment, one after the other, against
   ``experiment_cost``'s estimate, part by part;
3. time: the same steps timed against the estimate's seconds, part by part;
4. cancellation: at N = 10^6, D = 2, C = 3, 256², every loss: the time to the first yield
   of ``loss_surface_blocks`` (the set-up), the longest and median gap between two yields (a
   superseded job stops at the next one), and the block heights. ``--skip-large`` skips it.

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
from losslab.engine.experiment import (Experiment, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec,  # noqa: E402
                                       build_problem, drain, landscape_blocks, run_blocks, validate)

RUNS = (RunSpec("random_search"), RunSpec("numerical_gd"), RunSpec("gd"), RunSpec("sgd"))
LOSSES = ("svm", "squared_hinge", "ova_svm", "softmax", "structured_svm")


def experiment(n: int, classes: int, resolution: int, loss: str, steps: int = 200, kind: str = "axes") -> Experiment:
    return validate(Experiment(problem=ProblemSpec(n=n, classes=classes),
                               objective=ObjectiveSpec(loss=loss),
                               plane=PlaneSpec(kind=kind, resolution=resolution), runs=RUNS, steps=steps))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-large", action="store_true", help="skip the N = 10^6 cancellation timings")
    parser.add_argument("--gaps-only", action="store_true", help="only the N = 10^6 cancellation timings")
    args = parser.parse_args()
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
