"""Benchmark: how loss_surface's time grows with the grid, N, D and C, and its memory with N.

    python benchmarks/bench_scale.py [--repeats 5] [--losses svm softmax] [--quick] [--seed 0]

From a base case (N=1000, D=2, C=3, a 128 x 128 grid) one size at a time is swept — the
grid side G (G² points), the examples N, the features D, the classes C — and
``loss_surface`` is timed (best of ``--repeats``) on the setting of bench_landscape.py:
a model after 100 gradient-descent steps, seen in a filter-normalized random plane over
[-1, 1]². Each sweep gets a fitted exponent: the least-squares slope of log(time) against
log(size), so time ~ size^exponent over the range swept. (The D sweep uses D >= 4: its
data are Gaussian classes, as bench_landscape's for D > 2; D = 2 uses blobs.)

Then the streaming check: N = 10⁴, 10⁵, 10⁶ (D=2, C=3, 64 x 64 grid), timed once each with
tracemalloc's peak. Beyond ``landscape._STREAM_TERMS`` loss terms (N x C) the per-loss
tables are not kept but rebuilt a piece of examples at a time, so the peak stays flat in N.

Last, a Markdown table of the exponents and base times, ready for the README. BLAS runs on
one thread unless OPENBLAS_NUM_THREADS is set; softmax shares its examples between two threads
of its own on two cores or more.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from losslab.engine import Objective, Plane, loss_surface, make_dataset  # noqa: E402
from losslab.engine import landscape  # noqa: E402
from bench_landscape import best_time, dataset, partly_trained  # noqa: E402  (this folder: run as benchmarks/NAME.py)

BASE = {"G": 128, "N": 1000, "D": 2, "C": 3}
SWEEPS = {"G": [64, 128, 256, 512], "N": [500, 1000, 2000, 4000, 8000], "D": [4, 16, 64, 256], "C": [3, 5, 10, 20]}
QUICK = {"G": [64, 128, 256], "N": [500, 1000, 2000, 4000], "D": [4, 16, 64], "C": [3, 5, 10]}
STREAM_N = [10**4, 10**5, 10**6]
STREAM_G = 64
LABELS = {"G": "grid side G (G² points)", "N": "examples N", "D": "features D", "C": "classes C"}


def fitted_exponent(sizes, times) -> float:
    """The least-squares slope of log(time) on log(size)."""
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def surface_time(loss: str, G: int, N: int, D: int, C: int, seed: int, repeats: int) -> float:
    X, y = dataset(N, D, C, seed)
    objective = Objective(X, y, loss=loss, reg="l2", lam=1e-3)
    plane = Plane.random(partly_trained(objective), (D, C), seed=seed)
    a = np.linspace(-1.0, 1.0, G)
    return best_time(lambda: loss_surface(objective, plane, a, a), repeats)[0]


def streamed(loss: str, N: int, seed: int) -> tuple[float, int]:
    """``(seconds, tracemalloc peak in bytes)`` of one surface at N examples (D=2, C=3)."""
    data = make_dataset("blobs", n=N, classes=3, seed=seed)
    objective = Objective(data.X, data.y, loss=loss, reg="l2", lam=1e-3)
    plane = Plane.random(0.3 * np.random.default_rng(seed).standard_normal(objective.n_params), (2, 3), seed=seed)
    a = np.linspace(-1.0, 1.0, STREAM_G)
    gc.collect()
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        loss_surface(objective, plane, a, a)
        return time.perf_counter() - t0, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timings per point (best is kept)")
    parser.add_argument("--losses", nargs="+", default=["svm", "softmax"])
    parser.add_argument("--quick", action="store_true", help="shorter sweeps, no N = 10⁶ streaming run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sweeps = QUICK if args.quick else SWEEPS

    print(f"losslab scaling benchmark — Python {platform.python_version()}, NumPy {np.__version__}, "
          f"{os.cpu_count()} CPUs ({platform.machine()}), BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"base case N={BASE['N']}, D={BASE['D']}, C={BASE['C']}, {BASE['G']}² grid; best of {args.repeats}; "
          "exponent = least-squares slope of log(time) on log(size)\n")
    exponents: dict[tuple[str, str], float] = {}
    base_ms: dict[str, float] = {}
    for loss in args.losses:
        surface_time(loss, **BASE, seed=args.seed, repeats=1)  # warm-up: imports, first allocations
        base = [surface_time(loss, **BASE, seed=args.seed, repeats=args.repeats)]
        print(f"{loss}:")
        for name, sizes in sweeps.items():
            times = []
            for size in sizes:
                case = dict(BASE, **{name: size})
                times.append(surface_time(loss, **case, seed=args.seed, repeats=args.repeats))
                if case == BASE:
                    base.append(times[-1])
            exponents[loss, name] = fitted_exponent(sizes, times)
            cells = "  ".join(f"{name}={s}: {1e3 * t:.1f} ms" for s, t in zip(sizes, times))
            print(f"  {LABELS[name]:<24} {cells}   exponent {exponents[loss, name]:.2f}")
        base_ms[loss] = 1e3 * min(base)  # the base case is timed again in each sweep that passes through it
        print(f"  base case: {base_ms[loss]:.1f} ms (best of its {len(base)} timings)\n")

    print(f"streaming: D=2, C=3, {STREAM_G}² grid, one run each under tracemalloc "
          f"(tables streamed beyond {landscape._STREAM_TERMS:,} loss terms N x C)")
    stream_n = STREAM_N[:-1] if args.quick else STREAM_N
    for loss in args.losses:
        for N in stream_n:
            seconds, peak = streamed(loss, N, args.seed)
            mode = "streamed" if N * 3 > landscape._STREAM_TERMS else "tables kept"
            print(f"  {loss:<8} N={N:>9,}: {seconds:7.2f} s, peak {peak / 2**20:6.1f} MiB ({mode})")
    print()

    print("Markdown (README):\n")
    print("| loss | base case (N=1000, D=2, C=3, 128²) | time ~ G^x (grid side) | ~ N^x | ~ D^x | ~ C^x |")
    print("|---|---|---|---|---|---|")
    for loss in args.losses:
        row = " | ".join(f"{exponents[loss, name]:.2f}" for name in ("G", "N", "D", "C"))
        print(f"| {loss} | {base_ms[loss]:.1f} ms | {row} |")
    ranges = "; ".join(f"{name} {sizes[0]}–{sizes[-1]}" for name, sizes in sweeps.items())
    print(f"\nExponents fitted by least squares on log-log over {ranges}; one BLAS thread (softmax: its own "
          f"two threads on two cores), best of {args.repeats}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
