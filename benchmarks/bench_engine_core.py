"""How fast is the engine core? Prints figures and ratios; asserts nothing.

- loss + gradient evaluations per second for each loss, at (N=500, D=2, C=3) and
  (N=500, D=64, C=10);
- the time of a numerical gradient against an analytic one at P = 9 and P = 650: the
  lecture's point that the numerical gradient is far too slow to train with.

Run: .venv/bin/python benchmarks/bench_engine_core.py
"""
from __future__ import annotations

import time

import numpy as np

from losslab.engine import LOSSES, Objective, numerical_gradient


def per_second(fn, min_time=0.3) -> float:
    fn()  # warm up
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_time:
        fn()
        count += 1
    return count / elapsed


def seconds(fn, repeat=5) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def problem(N, D, C, loss="svm"):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D))
    y = rng.integers(0, C, N)
    obj = Objective(X, y, loss=loss, reg="l2", lam=1e-3, n_classes=C)
    return obj, 0.01 * rng.standard_normal(obj.n_params)


def main() -> None:
    print("loss + gradient evaluations per second (full batch, L2)")
    print(f"{'loss':<16}{'N=500 D=2 C=3':>16}{'N=500 D=64 C=10':>18}")
    for loss in LOSSES:
        rates = []
        for N, D, C in [(500, 2, 3), (500, 64, 10)]:
            obj, theta = problem(N, D, C, loss)
            rates.append(per_second(lambda: obj.loss_grad(theta)))
        print(f"{loss:<16}{rates[0]:>14,.0f}/s{rates[1]:>16,.0f}/s")

    print("\nnumerical vs analytic gradient (svm, L2, N=500)")
    print(f"{'P':>5}{'analytic':>14}{'numerical':>14}{'ratio':>10}")
    for N, D, C in [(500, 2, 3), (500, 64, 10)]:
        obj, theta = problem(N, D, C)
        analytic = seconds(lambda: obj.loss_grad(theta))
        numeric = seconds(lambda: numerical_gradient(obj.loss, theta), repeat=2)
        print(f"{obj.n_params:>5}{analytic * 1e3:>12.3f}ms{numeric * 1e3:>12.1f}ms{numeric / analytic:>9.0f}×")


if __name__ == "__main__":
    main()
