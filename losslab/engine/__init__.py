"""losslab's engine: losses, regularizers, gradients, datasets, optimizers — pure NumPy, no Qt.

Conventions: ``X: (N, D)``, ``y: (N,)`` ints in ``0..C-1``, ``W: (D, C)``, ``b: (C,)``,
scores ``X @ W + b``, flat ``theta = concat(W.ravel(), b)``; data loss is the mean over
examples, total loss = data loss + ``lam * R(W)``, the bias is never regularized.
"""
from .datasets import BUNDLED, DATASETS, Dataset, load_bundled, load_csv, make_dataset, parse_csv, standardize
from .gradcheck import GRADCHECK_THRESHOLDS, GradCheck, grad_check, gradcheck_verdict, numerical_gradient, relative_error
from .losses import LOSSES, data_loss, kink_distance
from .objective import Objective
from .optimizers import OPTIMIZERS, Run, Step, Trajectory, optimize
from .registry import Entry, Param, Registry
from .regularizers import REGULARIZERS, penalty
from .schedules import SCHEDULES, learning_rate

__all__ = [
    "BUNDLED", "DATASETS", "Dataset", "load_bundled", "load_csv", "make_dataset", "parse_csv", "standardize",
    "GRADCHECK_THRESHOLDS", "GradCheck", "grad_check", "gradcheck_verdict", "numerical_gradient", "relative_error",
    "LOSSES", "data_loss", "kink_distance",
    "Objective",
    "OPTIMIZERS", "Run", "Step", "Trajectory", "optimize",
    "Entry", "Param", "Registry",
    "REGULARIZERS", "penalty",
    "SCHEDULES", "learning_rate",
]
