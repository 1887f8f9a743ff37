"""What moves a run at one frame, as 2-D arrows on the landscape's plane, and the slopes there.

A contour shows the loss over the plane ``theta(a, b) = origin + a d1 + b d2`` (``d1, d2:
(P,)``, ``B = [d1 d2]: (P, 2)``). At frame t of a run (iterate ``theta_t (P,)``, full-batch
gradient ``g = ∇L(theta_t) (P,)``) :func:`step_arrows` gives, as (a, b) components:

- ``gradient``: the negative full-batch gradient, the way down. In the slice space (the run
  lives in (a, b)) it is the run's own gradient ``−Bᵀg = −(d1·g, d2·g)``; in the full space it
  is ``−g`` mapped onto the plane by the least-squares map ``project`` applies to the paths,
  ``−(BᵀB)⁻¹Bᵀg`` (the two agree on an axes plane, where B is orthonormal). Either way a
  full-batch gradient-descent step is exactly ``lr × gradient``.
- ``step``: the step actually taken, ``ab[t+1] − ab[t]`` (minibatch noise, momentum,
  per-coordinate scaling and, in the full space, what the projection hides all show as its
  difference from ``lr × gradient``).
- ``velocity`` (momentum, Nesterov, Adam): ``−v_t``, the state the run carried into this
  frame (``Trajectory.states``), mapped to the plane like the gradient: it points the way it
  pushes. Momentum's full-batch step is then ``lr · (μ · velocity + gradient)``, Nesterov's
  ``lr · (μ² · velocity + (1 + μ) · gradient)``. Adam's is its first moment ``−m_t`` (not
  bias-corrected).
- ``scale`` (AdaGrad, RMSProp, Adam): the per-coordinate step factor ``D = lr / (√G + ε)``
  the step from this frame used (G the accumulated squares after that step's update: G_{t+1},
  or Adam's bias-corrected second moment), as the effective learning rate along each plane
  axis: per a and b in the slice space; in the full space the diagonal preconditioner's
  Rayleigh quotient along each axis, ``Σ_i D_i d_ki² / Σ_i d_ki²`` (exactly D of that
  coordinate on an axes plane, a d_k²-weighted mean of D elsewhere). Pictured by
  ``scale_axes = scale · ‖gradient‖``, the semi-axes of the ellipse ``{D v : ‖v‖ = ‖gradient‖}``
  of steps the scale makes of slopes as steep as this one: a full-batch AdaGrad or RMSProp
  step ends on it (exactly in the slice space and on an axes plane), where plain gradient
  descent's would end on a circle.
- ``scaled_gradient`` (the same methods): ``−D ⊙ g`` in the run's space, mapped to the plane:
  the negative gradient with the per-coordinate scale applied. A full-batch AdaGrad or
  RMSProp step equals it; Adam's step uses its first moment where this uses g.

and the slopes, directional derivatives of L at theta_t: ``slope_a = d1·g`` and
``slope_b = d2·g`` per unit of a and of b, ``slope_step = g·u`` along the unit step
direction ``u = Δθ / ‖Δθ‖`` in θ (the slope in any direction is its dot product with g).

Values are what they are, not capped: a diverged iterate gives inf or NaN entries.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .schedules import learning_rate

Array = np.ndarray

MOMENTUM_STATES = {"momentum": "v", "nesterov": "v", "adam": "m"}  # the state drawn as the velocity
SCALED_METHODS = ("adagrad", "rmsprop", "adam")  # those with a per-coordinate scale


@dataclass(frozen=True, eq=False)
class StepArrows:
    """One run at one frame as arrows (all ``(2,)`` in plane units) and slopes; see the module docstring.

    ``origin``: ``ab`` at the frame, where the arrows start. ``step``, ``scale``,
    ``scaled_gradient`` and ``slope_step`` are None at a run's last frame (no step from
    there; ``slope_step`` also when the step is zero); ``velocity`` is None unless the method
    has one (momentum, nesterov, adam), ``scale`` and ``scaled_gradient`` unless it scales
    per coordinate (adagrad, rmsprop, adam). ``lr`` is the learning rate of the step from
    this frame (None for the search methods), ``labels`` the plane's axis names, ``space``
    ``"slice"`` (the run moved in the plane) or ``"full"`` (its vectors are projected onto it).
    """

    method: str
    frame: int
    labels: tuple[str, str]
    space: str
    origin: Array
    gradient: Array
    step: Array | None
    velocity: Array | None
    scale: Array | None
    scaled_gradient: Array | None
    slope_a: float
    slope_b: float
    slope_step: float | None
    lr: float | None

    @property
    def scale_axes(self) -> Array | None:
        """``(2,)``: ``scale · ‖gradient‖``, the semi-axes along a and b of the ellipse of the scaled
        steps (see the module docstring); None without a scale."""
        if self.scale is None:
            return None
        return self.scale * float(np.hypot(*self.gradient))


def in_slice_space(computed: Any) -> bool:
    """True when ``computed``'s runs ran inside its plane (their trajectories are (a, b) points)."""
    return bool(computed.experiment.slice_space and computed.problem.plane is not None)


def step_arrows(computed: Any, result: Any, frame: int) -> StepArrows:
    """The arrows and slopes of run ``result`` (a ``RunResult`` of ``computed``) at ``frame``.

    ``frame`` is clamped to the run's last iterate, as the views do for a run that ended
    early. Costs one full-batch gradient evaluation.
    """
    plane, objective = computed.plane, computed.problem.objective
    traj = result.trajectory
    last = len(result.ab) - 1
    t = max(0, min(int(frame), last))
    theta = np.asarray(result.thetas[t], dtype=float)
    basis = plane.basis  # (P, 2)
    slice_space = in_slice_space(computed)

    with np.errstate(all="ignore"):  # a diverged iterate reads as inf or nan
        g = np.asarray(objective.loss_grad(theta)[1], dtype=float)  # (P,), full batch
        slopes = basis.T @ g  # (d1·g, d2·g)
        if slice_space:
            def to_plane(vector: Array) -> Array:  # the run's space is the plane's (a, b)
                return np.array(vector, dtype=float)
            g_run = slopes
        else:
            def to_plane(vector: Array) -> Array:  # the least-squares map of project(), without the origin
                return np.linalg.lstsq(basis, np.asarray(vector, dtype=float), rcond=None)[0]
            g_run = g

        gradient = to_plane(-g_run)
        step = slope_step = None
        if t < last:
            step = np.asarray(result.ab[t + 1], dtype=float) - np.asarray(result.ab[t], dtype=float)
            dtheta = np.asarray(result.thetas[t + 1], dtype=float) - theta
            norm = float(np.linalg.norm(dtheta))
            if norm > 0:
                slope_step = float(g @ (dtheta / norm))

        hyper = traj.hyper
        lr = None
        if "lr" in hyper:
            lr = learning_rate(hyper["schedule"], hyper["lr"], t, hyper["decay_rate"], hyper["decay_every"])

        velocity = None
        name = MOMENTUM_STATES.get(traj.method)
        if name in traj.states:
            velocity = to_plane(-np.asarray(traj.states[name][t], dtype=float))

        scale = scaled_gradient = None
        if traj.method in SCALED_METHODS and t < last and traj.states:
            D = _preconditioner(traj, t, lr)  # (n,) in the run's space
            scaled_gradient = to_plane(-D * g_run)
            if slice_space:
                scale = D
            else:
                squares = basis * basis  # (P, 2): d_ki²
                scale = (D @ squares) / squares.sum(axis=0)

    space = "slice" if slice_space else "full"
    return StepArrows(traj.method, t, tuple(plane.labels), space, np.array(result.ab[t], dtype=float), gradient,
                      step, velocity, scale, scaled_gradient, float(slopes[0]), float(slopes[1]), slope_step, lr)


def _preconditioner(traj: Any, t: int, lr: float) -> Array:
    """``D (n,)``: the per-coordinate factor of the step from iterate t, ``lr / (√G + ε)``, G after that update."""
    hyper, states = traj.hyper, traj.states
    if traj.method == "adagrad":
        squares = states["G"][t + 1]
    elif traj.method == "rmsprop":
        squares = states["s"][t + 1]
    else:  # adam: the bias-corrected second moment of update t + 1
        squares = states["v"][t + 1] / (1.0 - hyper["beta2"] ** (t + 1))
    return lr / (np.sqrt(np.asarray(squares, dtype=float)) + hyper["eps"])
