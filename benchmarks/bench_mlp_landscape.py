"""Benchmark: the two-layer network's exact landscape against per-point evaluation on the same grid.

    python benchmarks/bench_mlp_landscape.py [--repeats 5] [--sample 300] [--seed 0] [--threads N]

The issue's case — N = 300, D = 2, H = 32, C = 3, a 128² grid — for softmax and svm ×
relu and tanh, in two planes: a filter-normalized random plane (every unit moves) and an
axes plane on two W1 coordinates (two units move, the others are a fixed share). For each
it times ``loss_surface`` (best of ``--repeats``) and the per-point evaluation
``objective.loss(plane.point(a, b))``, which is timed on ``--sample`` grid points drawn at
random (in ``--repeats`` batches, the fastest batch kept) and extrapolated to the grid;
those points also check that the surface is exact. Target: under 0.3 s and at least 5×
faster than per point, in the same run.

The setting: a network trained by 100 gradient-descent steps (lr 0.5, lam 1e-3) from its
seeded random start (scale 0.5) on the blobs data set; a, b in [-1, 1] for the random
plane, the plane's own window for the axes. ReLU with many moving units bins its kinks (on
the caller's thread); tanh, and ReLU with few moving units, take the dense path, whose steps
run on ``landscape._THREADS`` threads (``--threads`` to override). BLAS runs on one thread
(both sides) unless OPENBLAS_NUM_THREADS is set. On a shared machine the times are noisy:
the load average is printed, and the best of the repeats is what counts.
"""
from __future__ import annotations

import os

# One BLAS thread for both sides unless the environment says otherwise (see bench_landscape.py)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from losslab.engine import Objective, Plane, loss_surface, make_dataset  # noqa: E402
from losslab.engine import landscape  # noqa: E402
from bench_landscape import best_time  # noqa: E402  (this folder: scripts run as benchmarks/NAME.py)

N, D, H, C, G = 300, 2, 32, 3, 128
LOSSES = ("softmax", "svm")
ACTIVATIONS = ("relu", "tanh")
PLANES = ("random", "axes W1")
TARGET_SECONDS = 0.3
TARGET_RATIO = 5.0


def trained(objective: Objective, seed: int, steps: int = 100, lr: float = 0.5) -> np.ndarray:
    theta = objective.model.init(seed, 0.5)
    for _ in range(steps):
        theta -= lr * objective.grad(theta)
    return theta


def plane_and_grid(kind: str, objective: Objective, theta: np.ndarray, seed: int):
    model = objective.model
    if kind == "random":
        return Plane.random(theta, model, seed=seed), np.linspace(-1.0, 1.0, G), np.linspace(-1.0, 1.0, G)
    W1 = model.group_slice("W1").start
    plane = Plane.axes(theta, W1 + 0 * H + 0, W1 + 1 * H + 1, model)  # W1[0, 0] and W1[1, 1]
    a0, a1, b0, b1 = plane.extent
    return plane, np.linspace(a0, a1, G), np.linspace(b0, b1, G)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="loss_surface timings per case (best is kept)")
    parser.add_argument("--sample", type=int, default=300, help="grid points timed per point per case")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="the landscape's threads (default: the engine's)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        landscape._THREADS = max(1, args.threads)

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"losslab network landscape benchmark — Python {platform.python_version()}, NumPy {np.__version__}, "
          f"{os.cpu_count()} CPUs ({platform.machine()}), load average {load}")
    print(f"dense-path threads: {landscape._THREADS}, BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']}; "
          f"N={N}, D={D}, H={H}, C={C}, {G}² grid")
    print(f"per-point time: measured on {args.sample} random grid points per case ({args.repeats} batches, fastest "
          f"kept) and extrapolated to the grid; loss_surface: best of {args.repeats} full runs")
    print(f"target: under {TARGET_SECONDS:g} s and at least {TARGET_RATIO:g}x faster than per point\n")
    header = (f"{'loss':<9}{'act':<6}{'plane':<9}{'path':<7}{'surface':>10} {'per point':>10} {'ratio':>7}  "
              f"{'max rel err':>11}  verdict")
    print(header)
    print("-" * len(header))
    data = make_dataset("blobs", n=N, classes=C, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    misses = []
    for loss in LOSSES:
        for activation in ACTIVATIONS:
            objective = Objective(data.X, data.y, loss=loss, reg="l2", lam=1e-3, model="mlp", hidden=H,
                                  activation=activation)
            theta = trained(objective, args.seed)
            for kind in PLANES:
                plane, a, b = plane_and_grid(kind, objective, theta, args.seed)
                t_surface, Z = best_time(lambda: loss_surface(objective, plane, a, b), args.repeats)
                ii, jj = rng.integers(0, G, args.sample), rng.integers(0, G, args.sample)
                reference, per_point = np.empty(args.sample), np.inf
                for batch in np.array_split(np.arange(args.sample), args.repeats):  # best batch, as above
                    t0 = time.perf_counter()
                    reference[batch] = [objective.loss(plane.point(a[ii[k]], b[jj[k]])) for k in batch]
                    per_point = min(per_point, (time.perf_counter() - t0) / batch.size)
                t_point = per_point * G * G
                error = float(np.max(np.abs(Z[jj, ii] - reference) / np.abs(reference)))
                ratio = t_point / t_surface
                notes = []
                if t_surface >= TARGET_SECONDS:
                    notes.append(f"{t_surface:.3f} s >= {TARGET_SECONDS:g} s")
                if ratio < TARGET_RATIO:
                    notes.append(f"ratio {ratio:.1f}x < {TARGET_RATIO:g}x")
                verdict = "MISS" if notes else "ok"
                if notes:
                    misses.append(f"{loss}/{activation}/{kind}: " + ", ".join(notes))
                layers = [objective.model.unflatten(v) for v in (plane.origin, plane.d1, plane.d2)]
                path = "binned" if landscape._NetworkData(objective, layers, a).binned else "dense"
                print(f"{loss:<9}{activation:<6}{kind:<9}{path:<7}{t_surface:>9.3f}s {t_point:>9.3f}s {ratio:>6.1f}x  "
                      f"{error:>11.1e}  {verdict}" + (f" ({', '.join(notes)})" if notes else ""))
    print()
    if misses:
        print(f"{len(misses)} case(s) missed the target:")
        for m in misses:
            print("  " + m)
    else:
        print("all cases met the target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
