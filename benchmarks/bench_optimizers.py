"""How fast are the optimizers? Prints figures and ratios; asserts nothing.

- steps per second of every method, and its cost per step in full-data passes, on the
  default 2-D problem (blobs, N=300, C=3, SVM + L2, P = 9) and on the digits
  (N=1797, D=64, C=10, softmax + L2, P = 650);
- numerical_gd against gd at equal steps: the work (2P passes against 1) and the time.

A step's time includes the full-loss evaluation recorded at every iterate (the curves
need it), so minibatch methods are not much faster per step than full-batch ones here,
while their cost per step is B/N.

Run: .venv/bin/python benchmarks/bench_optimizers.py
"""
from __future__ import annotations

import time

import numpy as np

from losslab.engine import OPTIMIZERS, Objective, Run, load_bundled, make_dataset


def problems():
    blobs = make_dataset("blobs", n=300, classes=3, seed=0)
    small = Objective(blobs.X, blobs.y, loss="svm", reg="l2", lam=0.1)
    digits = load_bundled("digits", standardize_features=True)
    large = Objective(digits.X, digits.y, loss="softmax", reg="l2", lam=1e-3)
    return [("blobs  N=300  P=9", small), ("digits N=1797 P=650", large)]


def rate(objective, method, min_time=0.4, min_steps=3):
    """(steps per second, cost per step) of ``method`` from a small random start."""
    theta0 = 0.01 * np.random.default_rng(0).standard_normal(objective.n_params)
    run = Run(objective, method, theta0, seed=0)
    run.step()  # warm up
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_time or done < min_steps:
        if run.step() is None:
            break
        done += 1
    trajectory = run.trajectory()
    return done / elapsed, trajectory.cost[-1] / trajectory.n_steps


def per_second(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def main() -> None:
    rows = {name: [rate(objective, method) for method in OPTIMIZERS] for name, objective in problems()}
    names = list(rows)
    print("steps per second (cost per step, in full-data passes), default hyperparameters")
    print(f"{'method':<22}" + "".join(f"{name:>30}" for name in names))
    for i, method in enumerate(OPTIMIZERS):
        cells = [f"{per_second(rows[name][i][0]):>14}/s  ({rows[name][i][1]:>7.4g})" for name in names]
        print(f"{method:<22}" + "".join(f"{cell:>30}" for cell in cells))

    print("\nnumerical_gd relative to gd at equal steps")
    print(f"{'problem':<22}{'cost ratio':>12}{'time ratio':>14}")
    methods = list(OPTIMIZERS)
    numerical, analytic = methods.index("numerical_gd"), methods.index("gd")
    for name in names:
        (num_rate, num_cost), (gd_rate, gd_cost) = rows[name][numerical], rows[name][analytic]
        print(f"{name:<22}{num_cost / gd_cost:>11.0f}×{gd_rate / num_rate:>13.0f}×")


if __name__ == "__main__":
    main()
