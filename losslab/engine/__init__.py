"""losslab's engine: losses, regularizers, gradients, datasets, optimizers — pure NumPy, no Qt.

Conventions: ``X: (N, D)``, ``y: (N,)`` ints in ``0..C-1``; the model (``MODELS``) says what
the flat theta is: ``W: (D, C)``, ``b: (C,)``, scores ``X @ W + b``, ``theta = concat(W.ravel(), b)``
for the linear classifier; ``theta = concat(W1.ravel(), b1, W2.ravel(), b2)`` for the two-layer
network. Data loss is the mean over examples, total loss = data loss + ``lam * R(weights)``,
biases are never regularized.
"""
from .arrows import StepArrows, step_arrows
from .datasets import BUNDLED, DATASETS, Dataset, Points, load_bundled, load_csv, make_dataset, parse_csv, standardize
from .experiment import embed_data, with_points
from .gradcheck import (GRADCHECK_THRESHOLDS, GradCheck, describe_check, grad_check, grad_check_steps, gradcheck_verdict,
                        numerical_gradient, relative_error)
from .hessians import Curvature, curvature, hessian, hessian_vector_product
from .landscape import PARTS, iso_levels, log_scale, loss_surface, loss_surface_blocks, robust_range, surface_parts
from .lines import accuracy_line, loss_line
from .losses import LOSSES, data_loss, kink_distance, per_example_losses
from .models import MODELS, LinearModel, MLPModel, Model, make_model
from .objective import Objective
from .planes import PLANES, Plane, PlaneObjective, coordinate_labels, make_plane, project
from .optimizers import OPTIMIZERS, Run, Step, Trajectory, optimize
from .registry import Entry, Param, Registry
from .regularizers import REGULARIZERS, penalty
from .surfaces import SURFACES, AnalyticSurface, make_surface
from .schedules import SCHEDULES, learning_rate

__all__ = [
    "StepArrows", "step_arrows",
    "BUNDLED", "DATASETS", "Dataset", "Points", "load_bundled", "load_csv", "make_dataset", "parse_csv", "standardize",
    "embed_data", "with_points",
    "GRADCHECK_THRESHOLDS", "GradCheck", "describe_check", "grad_check", "grad_check_steps", "gradcheck_verdict",
    "numerical_gradient", "relative_error",
    "Curvature", "curvature", "hessian", "hessian_vector_product",
    "PARTS", "iso_levels", "log_scale", "loss_surface", "loss_surface_blocks", "robust_range", "surface_parts",
    "accuracy_line", "loss_line",
    "LOSSES", "data_loss", "kink_distance", "per_example_losses",
    "MODELS", "LinearModel", "MLPModel", "Model", "make_model",
    "Objective",
    "PLANES", "Plane", "PlaneObjective", "coordinate_labels", "make_plane", "project",
    "OPTIMIZERS", "Run", "Step", "Trajectory", "optimize",
    "Entry", "Param", "Registry",
    "REGULARIZERS", "penalty",
    "SURFACES", "AnalyticSurface", "make_surface",
    "SCHEDULES", "learning_rate",
]
