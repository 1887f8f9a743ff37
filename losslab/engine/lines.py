"""1-D cuts: the loss and the accuracy along a line ``theta(t) = theta0 + t * direction``.

Shapes: ``theta0, direction: (P,)``, ``t_values: (T,)`` in any order (repeats allowed) ->
``(T,)``. A line is a degenerate plane: the loss comes from the landscape's exact fast
paths (:func:`~losslab.engine.loss_surface` over one row, b = 0), so it equals evaluating
``objective.loss`` (or ``objective.parts``) point by point up to rounding (1e-9 relative),
for every model, loss and regularizer, and for test surfaces. The accuracy uses the same
fact the landscape rests on: the linear model's scores are affine in t
(``S(t) = S0 + t S1``), the network's hidden pre-activations too
(``Z(t) = Z0 + t Z1``), so the N x D products happen once, not once per t.
"""
from __future__ import annotations

import numpy as np

from .landscape import PARTS, loss_surface
from .models import MLPModel
from .planes import Plane

Array = np.ndarray

_PIECE_ELEMENTS = 1 << 20  # floats per temporary of the accuracy's score blocks (8 MiB)


def loss_line(objective, theta0: Array, direction: Array, t_values: Array, part: str = "total") -> Array:
    """The loss along ``theta0 + t * direction`` at each t: ``(T,)``.

    objective: an ``Objective``, a ``PlaneObjective`` or a test surface (anything
    :func:`~losslab.engine.loss_surface` takes); theta0, direction: ``(P,)``; t_values:
    ``(T,)`` finite; part: ``"total"``, ``"data"`` or ``"reg"`` (as ``PARTS``). A zero
    direction gives the value at theta0 for every t.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}; got {part!r}")
    theta0, direction, t = _line(objective, theta0, direction, t_values)
    if not np.any(direction):
        return np.full(t.size, _part_at(objective, theta0, part))
    plane = Plane(theta0, direction, _companion(direction), "line", ("t", "unused"))
    return loss_surface(objective, plane, t, np.zeros(1), part)[0]


def accuracy_line(objective, theta0: Array, direction: Array, t_values: Array) -> Array:
    """The fraction of the objective's examples classified correctly along the line: ``(T,)``.

    Predictions are ``argmax`` of the scores (the lowest class at a tie, as
    ``Objective.predict``), computed as ``S0 + t S1`` for the linear model and through
    ``Z0 + t Z1`` for the network: equal to ``objective.accuracy(theta0 + t direction)`` but
    where two classes' scores tie to within rounding. Other models are evaluated point by
    point. Objectives without examples (a test surface) have no accuracy: ``ValueError``.
    """
    if getattr(objective, "n_examples", None) is None or not callable(getattr(objective, "scores", None)):
        raise ValueError("accuracy needs a classifier objective with examples (a test surface has none)")
    theta0, direction, t = _line(objective, theta0, direction, t_values)
    model, X, y = objective.model, objective.X, objective.y
    N = X.shape[0]
    out = np.empty(t.size)
    with np.errstate(over="ignore", invalid="ignore"):
        if model.has("affine_scores"):
            S0, S1 = model.scores(theta0, X), model.scores(direction, X) - model.scores(np.zeros_like(direction), X)
            step = max(1, _PIECE_ELEMENTS // (N * objective.n_classes))
            for k0 in range(0, t.size, step):
                tk = t[k0:k0 + step, None, None]
                out[k0:k0 + step] = np.mean(np.argmax(S0 + tk * S1, axis=-1) == y, axis=-1)
        elif isinstance(model, MLPModel):
            W1, b1, W2, b2 = model.unflatten(theta0)
            V1, c1, V2, c2 = model.unflatten(direction)
            Z0, Z1 = X @ W1 + b1, X @ V1 + c1  # the hidden pre-activations are affine in t
            step = max(1, _PIECE_ELEMENTS // (N * (model.hidden + objective.n_classes)))
            for k0 in range(0, t.size, step):
                tk = t[k0:k0 + step]
                A = model.act(Z0 + tk[:, None, None] * Z1)  # (k, N, H)
                S = A @ (W2 + tk[:, None, None] * V2) + (b2 + tk[:, None] * c2)[:, None, :]
                out[k0:k0 + step] = np.mean(np.argmax(S, axis=-1) == y, axis=-1)
        else:
            out[:] = [objective.accuracy(theta0 + tk * direction) for tk in t]
    return out


def _line(objective, theta0: Array, direction: Array, t_values: Array) -> tuple[Array, Array, Array]:
    P = int(objective.n_params)
    out = []
    for name, value in (("theta0", theta0), ("direction", direction)):
        if np.iscomplexobj(value):
            raise ValueError(f"{name} must be real numbers, not complex ones")
        v = np.asarray(value, dtype=float)
        if v.shape != (P,):
            raise ValueError(f"{name} must have shape ({P},) to match the objective's n_params, got {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} contains NaN or infinity")
        out.append(v)
    t = np.asarray(t_values, dtype=float)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"t_values must be a non-empty 1-D array, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError("t_values contains NaN or infinity")
    return out[0], out[1], t


def _part_at(objective, theta: Array, part: str) -> float:
    if part == "total":
        return float(objective.loss(theta))
    data, reg = objective.parts(theta)
    return float(data if part == "data" else reg)


def _companion(direction: Array) -> Array:
    """A vector orthogonal to ``direction`` (non-zero) and as long, within its support where it has two entries.

    It only completes the plane (b = 0 everywhere): kept inside the coordinates the line
    moves, so that the landscape sees the same layers moving (a line through the output
    layer of a network stays on its fast path).
    """
    support = np.flatnonzero(direction)
    if support.size >= 2:
        k = support[np.argmin(np.abs(direction[support]))]
    else:
        k = support[0] + 1 if support[0] + 1 < direction.size else support[0] - 1
    e = np.zeros(direction.size)
    e[k] = 1.0
    u = direction / np.linalg.norm(direction)
    e -= (e @ u) * u
    return e * (np.linalg.norm(direction) / np.linalg.norm(e))  # as long: the two always count as independent
