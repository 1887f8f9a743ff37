"""The ``losslab`` command: opens the window; ``--summary`` prints the default problem instead."""
from __future__ import annotations

import argparse
import sys

import numpy as np

from . import __version__


def default_summary() -> str:
    from .engine import LOSSES, REGULARIZERS, Objective, grad_check, make_dataset

    data = make_dataset("blobs", n=300, classes=3, seed=0)
    objective = Objective(data.X, data.y, loss="svm", margin=1.0, reg="l2", lam=0.1)
    theta0 = 0.01 * np.random.default_rng(0).standard_normal(objective.n_params)
    data_part, reg_part = objective.parts(theta0)
    check = grad_check(objective, theta0)
    lines = [
        f"losslab {__version__}: the default problem",
        f"  data        {data.source}: N={data.n_examples}, D={data.n_features}, C={data.n_classes}",
        f"  loss        {LOSSES[objective.loss_kind].label}: {LOSSES[objective.loss_kind].formula}",
        f"  regularizer {REGULARIZERS[objective.reg].label}, λ={objective.lam:g}: {REGULARIZERS[objective.reg].formula}",
        f"  parameters  θ = concat(W.ravel(), b), P = {objective.n_params}",
        f"  at θ0 ~ N(0, 0.01²): data loss {data_part:.4f} (≈ C − 1 = {data.n_classes - 1}), "
        f"reg loss {reg_part:.2e}, accuracy {objective.accuracy(theta0):.1%}",
        f"  gradient check: max relative error {check.max_rel_error:.1e} ({check.verdict})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="losslab", description="Loss landscapes of linear classifiers "
                                     "and the optimizers that cross them (CS231n lecture 3).")
    parser.add_argument("--version", action="version", version=f"losslab {__version__}")
    parser.add_argument("--summary", action="store_true",
                        help="print the default problem (data, objective, a gradient check) and exit")
    parser.add_argument("--play-for", type=float, metavar="SECONDS",
                        help="play the animation for SECONDS, then close the window (for smoke tests)")
    parser.add_argument("--export-png", metavar="PATH",
                        help="with --play-for: export the figure to PATH (as File ▸ Export does) before closing")
    args = parser.parse_args(argv)
    if args.summary:
        print(default_summary())
        return 0
    if args.export_png and args.play_for is None:
        parser.error("--export-png needs --play-for")
    from .app.main import run_window
    return run_window(sys.argv[:1], play_for=args.play_for, export_png=args.export_png)


if __name__ == "__main__":
    sys.exit(main())
