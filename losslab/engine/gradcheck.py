"""Numerical gradients and the gradient check of CS231n.

The numerical gradient is the centered difference ``(f(θ + h e_k) − f(θ − h e_k)) / 2h``
in float64: error O(h²), but 2P evaluations of f, which is why the analytic gradient is
what one trains with and the numerical one is what one checks it against.
"""
from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

from .generators import checkpoint

from .losses import kink_distance

Array = np.ndarray

TINY = 1e-300  # keeps the relative error defined when both gradients are exactly 0

# (upper bound on the relative error, verdict, what the course says it means)
GRADCHECK_THRESHOLDS = (
    (1e-7, "good", "relative error ≤ 1e-7: the gradient is right"),
    (1e-4, "acceptable", "≤ 1e-4: fine for objectives with kinks (hinge, L1), too high for smooth ones"),
    (1e-2, "suspect", "≤ 1e-2: uncomfortable; usually a bug unless kinks are crossed"),
    (np.inf, "wrong", "> 1e-2: the gradient is probably wrong"),
)


def gradcheck_verdict(rel_error: float) -> str:
    """The CS231n verdict for a relative error: good, acceptable, suspect or wrong."""
    for bound, verdict, _ in GRADCHECK_THRESHOLDS:
        if rel_error <= bound:
            return verdict
    return "wrong"  # NaN


def numerical_gradient(f: Callable[[Array], float], theta: Array, h: float = 1e-5,
                       coordinates: Array | None = None) -> Array:
    """Centered-difference gradient of the scalar function ``f`` at ``theta (P,)``, float64.

    ``theta`` is never mutated: each coordinate is perturbed in a private copy. With
    ``coordinates`` (indices), only those partial derivatives are taken: ``(len(coordinates),)``.
    """
    _check_step(h)
    x = _as_vector(theta)
    which = np.arange(x.size) if coordinates is None else _check_coordinates(coordinates, x.size)
    partials = np.empty(len(which))
    for n, k in enumerate(which):
        checkpoint()  # 2 evaluations each: a cancelled computation stops here
        partials[n] = _partial_derivative(f, x, k, h)
    return partials


def _partial_derivative(f: Callable[[Array], float], x: Array, k: int, h: float) -> float:
    """``(f(x + h e_k) − f(x − h e_k)) / 2h``; ``x`` is perturbed in place and restored, ``f`` sees copies."""
    old = x[k]
    x[k] = old + h
    f_plus = f(x.copy())
    x[k] = old - h
    f_minus = f(x.copy())
    x[k] = old
    return (f_plus - f_minus) / (2.0 * h)


def _check_step(h: float) -> None:
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"step h must be a positive finite number, got {h!r}")


def _as_vector(theta: Array) -> Array:
    """A private float64 copy of ``theta (P,)``."""
    if np.iscomplexobj(theta):
        raise ValueError("theta must be real numbers, not complex ones")
    x = np.array(theta, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"theta must be a 1-D vector, got shape {x.shape}")
    return x


def _check_coordinates(coordinates: Array, n_params: int) -> Array:
    """``coordinates`` as indices ``(K,)`` into a vector of length P = ``n_params``, or ``ValueError`` naming the bad one."""
    which = np.asarray(coordinates)
    if which.ndim != 1:
        raise ValueError(f"coordinates must be a list of indices, got shape {which.shape}")
    if which.size == 0:
        raise ValueError("coordinates must name at least one coordinate")
    if which.dtype.kind not in "iu" and not (which.dtype.kind == "f" and np.all(which == np.round(which))):
        raise ValueError(f"coordinates must be whole numbers, got {coordinates!r}")
    outside = which[(which < 0) | (which >= n_params)]
    if outside.size:
        k = outside[0].item()
        shown = f"{k:g}" if isinstance(k, float) else str(k)
        raise ValueError(f"coordinate {shown} is out of range 0..{n_params - 1} for P = {n_params}")
    return which.astype(np.intp)


def relative_error(analytic: Array, numerical: Array) -> Array:
    """Elementwise ``|a − n| / max(|a|, |n|, tiny)``."""
    a = np.asarray(analytic, dtype=float)
    n = np.asarray(numerical, dtype=float)
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), TINY)


@dataclass(frozen=True)
class GradCheck:
    """The result of :func:`grad_check`.

    ``rel_error (P,)`` per coordinate and ``max_rel_error`` its maximum over the coordinates
    that rise above ``floor``, the rounding noise of the difference quotient
    (``≈ 100 ε |f| / h``): where both gradients are below it (a bias gradient that is 0 by
    symmetry, say) their ratio is noise and says nothing, so those ``at_rounding_level``
    coordinates are left out of the maximum. ``verdict`` is the course's reading of the
    maximum. ``near_kink`` counts the examples whose margins sit within one step's reach of
    a kink (there the two gradients may rightly disagree).

    ``fd_error (P,)`` estimates the numerical gradient's own error from a second centred
    difference at step 2h (its truncation error grows as h², so the error at h is about
    ``|n_2h − n_h| / 3``), plus the rounding floor. ``within_fd_error`` is True when every
    disagreement is within three times that estimate: near a minimum, where the gradient
    entries are tiny, a "suspect" relative error can be the reference's fault, not the
    analytic gradient's.
    """

    analytic: Array
    numerical: Array
    rel_error: Array
    max_rel_error: float
    verdict: str
    near_kink: int
    h: float
    floor: float
    at_rounding_level: int
    fd_error: Array
    within_fd_error: bool
    coordinates: Array | None = None


def grad_check_steps(objective, theta: Array, h: float = 1e-5,
                     coordinates: Array | None = None) -> Generator[tuple[int, int], None, GradCheck]:
    """:func:`grad_check` one coordinate at a time: yields ``(coordinates done, total)``, returns the :class:`GradCheck`.

    Each coordinate costs four loss evaluations (steps h and 2h); closing the generator
    between them cancels the check. The arguments are validated at the call, before
    anything is evaluated.
    """
    _check_step(h)
    theta = _as_vector(theta)
    which = np.arange(theta.size) if coordinates is None else _check_coordinates(coordinates, theta.size)
    return _grad_check_steps(objective, theta, float(h), which, coordinates is not None)


def _grad_check_steps(objective, theta: Array, h: float, which: Array,
                      sparse: bool) -> Generator[tuple[int, int], None, GradCheck]:
    value, analytic = objective.loss_grad(theta)
    analytic = np.asarray(analytic, dtype=float)[which]
    x = theta.copy()
    numerical, coarse = np.empty(which.size), np.empty(which.size)
    for out, k in enumerate(which):
        numerical[out] = _partial_derivative(objective.loss, x, k, h)
        coarse[out] = _partial_derivative(objective.loss, x, k, 2 * h)
        yield out + 1, which.size
    rel = relative_error(analytic, numerical)
    floor = 100 * np.finfo(float).eps * max(1.0, abs(value)) / h
    resolved = np.maximum(np.abs(analytic), np.abs(numerical)) > floor
    worst = float(np.max(rel[resolved])) if resolved.any() else 0.0
    near = 0
    model = getattr(objective, "model", None)
    if model is not None and hasattr(objective, "loss_kind"):
        # a kink of the loss within a step's reach of the scores, or one inside the model (ReLU at 0)
        reach = model.score_reach(theta, objective.X, h)
        distance = kink_distance(objective.scores(theta), objective.y, objective.loss_kind, objective.margin)
        near = int(np.sum((distance < reach) | (model.kink_distance(theta, objective.X, h) < 1.0)))
    fd_error = np.abs(coarse - numerical) / 3 + floor
    within = bool(np.all(np.abs(analytic - numerical) <= 3 * fd_error))
    return GradCheck(analytic, numerical, rel, worst, gradcheck_verdict(worst), near, h, float(floor),
                     int(np.sum(~resolved)), fd_error, within, which if sparse else None)


def grad_check(objective, theta: Array, h: float = 1e-5, coordinates: Array | None = None) -> GradCheck:
    """Compare ``objective.loss_grad``'s analytic gradient with the numerical one at ``theta (P,)``.

    ``coordinates`` (indices) checks only those entries, as CS231n's sparse check does for
    large P: every array of the result then runs over them, in that order.

    A step of h in one coordinate of W changes a score by at most ``h * max|x_id|`` (by h
    for a bias), so an example counts as near a kink when its nearest hinge term is closer
    than ``h * max(1, max_d |x_id|)`` (the model's ``score_reach``; a network's also counts
    a ReLU whose input is within a step of 0). Objectives without examples report 0.
    """
    steps = grad_check_steps(objective, theta, h, coordinates)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def describe_check(check: GradCheck, n_params: int) -> tuple[str, str]:
    """A gradient check in words and the verdict to show it with: ``(text, verdict)``.

    The course's verdict is softened where a disagreement has an innocent cause. Examples
    at a kink (the difference quotient straddles it, so the two gradients may rightly
    differ) make the verdict "kink", said in place of the course's word; "wrong" is kept
    for a mismatch nothing explains. A gap within the numerical gradient's own error is
    "acceptable", keeping the course's word and saying why. ``n_params`` is P, for
    "K of P coordinates" in a sparse check.
    """
    verdict = label = check.verdict
    kinks = f"{check.near_kink} example{'s' if check.near_kink > 1 else ''}"
    notes = [] if check.coordinates is None else [f"{len(check.coordinates)} of {n_params} coordinates"]
    if check.verdict in ("suspect", "wrong") and check.near_kink:
        verdict = label = "kink"
        notes.insert(0, f"{kinks} at a kink: the difference quotient straddles it")
    elif check.verdict in ("suspect", "wrong") and check.within_fd_error:
        verdict = "acceptable"
        notes.append("within the finite-difference error")
    elif check.near_kink:
        notes.append(f"{kinks} at a kink")
    note = f" ({'; '.join(notes)})" if notes else ""
    return f"{check.max_rel_error:.1e} {label}{note}", verdict
