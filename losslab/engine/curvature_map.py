"""Curvature where the runs are: the Hessian at a run's iterate, the largest stable learning rate
of its method there, the Hessian's axes on the drawn plane, and λ_min/λ_max over the plane.

Which Hessian. A run moves in one space and its stability is decided by the curvature of
*that* space (see :func:`losslab.engine.arrows.in_slice_space`):

- a run **in the slice** (``space="slice"``) is an optimizer of the 2-parameter function
  ``L(a, b) = L(origin + a d1 + b d2)``: its Hessian is the 2 x 2 ``Bᵀ H B`` (``B = [d1 d2]``,
  :class:`~losslab.engine.PlaneObjective`), in (a, b) units. Its eigenvectors are the axes of
  the quadratic model's ellipses *on the drawn contour*.
- a run **in full space** (``space="full"``) moves in all P parameters: its Hessian is the
  (P, P) one of the objective. Its top eigenvectors are mapped onto the plane by the
  least-squares map :func:`~losslab.engine.project` applies to the paths, ``(BᵀB)⁻¹Bᵀ v``;
  ``in_plane`` says how much of each unit eigenvector lies in the plane (``‖B (BᵀB)⁻¹Bᵀ v‖``,
  1: all of it, 0: none: the sharpest direction may well point off the slice).

What the numbers say (the quadratic model ``L(θ + δ) ≈ L + gᵀδ + ½ δᵀHδ``):

- ``lr_max = 2/λ_max``: gradient descent ``θ ← θ − lr g`` multiplies the component along the
  top eigenvector by ``1 − lr λ_max`` each step; it grows once ``lr > 2/λ_max``.
  :func:`stable_lr` gives each method's bound (heavy-ball momentum ``2(1+μ)/λ_max``, Nesterov
  ``2(1+μ)/((1+2μ) λ_max)``, none for the per-coordinate methods or the searches).
- ``condition = λ_max/λ_min`` (``inf`` when ``λ_min ≤ 0``): a linear classifier almost always
  has flat directions (unpenalized biases; softmax is unchanged by adding one number to every
  class's score), so it is ``inf`` there. ``curved_condition`` is the condition number over the
  curved directions only: ``λ_max / λ₊``, ``λ₊`` the smallest eigenvalue above
  ``CURVED_RTOL · λ_max``; ``n_flat`` eigenvalues lie within that tolerance of 0 and
  ``n_down`` below it (curving downwards: a non-convex point).

Costs: one :func:`~losslab.engine.curvature` (P = 650, linear: ~0.1 s; more for networks),
remembered by :func:`point_curvature` for the latest ``Computed`` (the runs all start at one
point: one computation serves every run's start).
"""
from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .arrows import in_slice_space
from .generators import checkpoint, drain
from .hessians import Curvature, curvature
from .planes import Plane, PlaneObjective
from .schedules import learning_rate

Array = np.ndarray

CURVED_RTOL = 1e-9  # an eigenvalue above this times λ_max is a curved direction; within it of 0, a flat one
CACHE_POINTS = 256  # curvatures remembered, of one Computed (least recently used dropped)...
CACHE_BYTES = 64 << 20  # ...and at most this many bytes of eigenvectors (P = 650: about 19 points)
GD_METHODS = ("gd", "numerical_gd", "sgd")  # θ ← θ − lr·g: stable below 2/λ_max
MOMENTUM_METHODS = ("momentum", "nesterov")
SCALED_METHODS = ("adagrad", "rmsprop", "adam")  # per-coordinate steps: 2/λ_max does not bound lr


# --- the condition over the curved directions -------------------------------------------------

@dataclass(frozen=True)
class CurvedCondition:
    """The spectrum without its flat directions (see the module docstring).

    ``condition``: ``λ_max / λ₊`` (None when no direction curves up, or when the eigenvalues
    computed do not include λ₊: Lanczos finds only the ends of the spectrum); ``smallest``:
    λ₊ (None likewise); ``n_flat``, ``n_down``: eigenvalues within ``CURVED_RTOL · λ_max``
    of 0 and below it (None when only the ends are known); ``tolerance``: that threshold.
    """

    condition: float | None
    smallest: float | None
    n_flat: int | None
    n_down: int | None
    tolerance: float


def curved_condition(eigenvalues: Array, complete: bool = True) -> CurvedCondition:
    """``eigenvalues (K,)`` ascending -> :class:`CurvedCondition`; ``complete``: all P of them (dense)."""
    values = np.asarray(eigenvalues, dtype=float)
    lam_max = float(values[-1]) if values.size else 0.0
    if not lam_max > 0:  # nothing curves up: no scale to be flat against
        tol = 0.0
        n_flat = int(np.sum(values == 0.0)) if complete else None
        n_down = int(np.sum(values < 0.0)) if complete else None
        return CurvedCondition(None, None, n_flat, n_down, tol)
    tol = CURVED_RTOL * lam_max
    curved = values[values > tol]
    n_flat = int(np.sum(np.abs(values) <= tol)) if complete else None
    n_down = int(np.sum(values < -tol)) if complete else None
    if not complete and not values[0] > tol:  # the lowest known is flat or downward: λ₊ lies in the unknown middle
        return CurvedCondition(None, None, None, None, tol)
    smallest = float(curved[0])
    return CurvedCondition(lam_max / smallest, smallest, n_flat, n_down, tol)


# --- at one iterate of one run ----------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class PointCurvature:
    """The Hessian at iterate ``frame`` of a run, in the space the run moves in.

    ``curvature``: :class:`~losslab.engine.Curvature` of that space (2 x 2 in (a, b) for
    ``space == "slice"``, P x P for ``"full"``); ``curved``: its :class:`CurvedCondition`;
    ``point_ab (2,)``: the iterate on the drawn plane; ``axes_ab (2, 2)``: rows ``v₁, v₂``,
    the eigenvectors of the two largest eigenvalues in plane coordinates (unit in the slice;
    projected by ``project``'s least-squares map in full space), ``axes_lambdas = (λ₁, λ₂)``,
    ``in_plane (2,)``: the share of each unit eigenvector lying in the plane (1 in the slice).
    ``n_params``: the dimension of the space (2 or P).
    """

    frame: int
    space: str
    curvature: Curvature
    curved: CurvedCondition
    point_ab: Array
    axes_ab: Array
    axes_lambdas: tuple[float, float]
    in_plane: Array
    n_params: int

    @property
    def lambda_max(self) -> float:
        return self.curvature.lambda_max

    @property
    def lambda_min(self) -> float:
        return self.curvature.lambda_min

    @property
    def condition(self) -> float:
        return self.curvature.condition

    @property
    def lr_max(self) -> float:
        """``2 / λ_max``: gradient descent's largest stable constant learning rate here."""
        return self.curvature.lr_max


class _PointCache:
    """The curvatures of one ``Computed`` (the latest asked about; a new one replaces it), least
    recently used dropped past ``CACHE_POINTS`` points or ``CACHE_BYTES`` of arrays. Thread-safe:
    jobs compute on worker threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.owner: weakref.ref | None = None
        self.points: OrderedDict = OrderedDict()
        self.nbytes = 0

    def get(self, computed: Any, key: tuple) -> PointCurvature | None:
        with self.lock:
            if self.owner is None or self.owner() is not computed or key not in self.points:
                return None
            self.points.move_to_end(key)
            return self.points[key]

    def put(self, computed: Any, key: tuple, found: PointCurvature) -> None:
        size = found.curvature.eigenvectors.nbytes + found.curvature.eigenvalues.nbytes
        with self.lock:
            if self.owner is None or self.owner() is not computed:
                self.owner, self.points, self.nbytes = weakref.ref(computed), OrderedDict(), 0
            if key in self.points:
                return
            self.points[key] = found
            self.nbytes += size
            while len(self.points) > 1 and (len(self.points) > CACHE_POINTS or self.nbytes > CACHE_BYTES):
                _, old = self.points.popitem(last=False)
                self.nbytes -= old.curvature.eigenvectors.nbytes + old.curvature.eigenvalues.nbytes


_cache = _PointCache()


def point_curvature(computed: Any, result: Any, frame: int) -> PointCurvature:
    """The curvature at iterate ``frame`` (clamped to the run's last) of ``result``, a run of ``computed``.

    Remembered by the point itself, for the latest ``computed`` asked about (every run's frame
    0 is the same start: computed once). ``ValueError`` when the iterate is not finite (a
    diverged run's last).
    """
    t = max(0, min(int(frame), len(result.ab) - 1))
    slice_space = in_slice_space(computed)
    point = np.asarray(result.ab[t] if slice_space else result.thetas[t], dtype=float)
    if not np.all(np.isfinite(point)):
        raise ValueError(f"the run's iterate at step {t} is not finite (it diverged): there is no curvature there")
    key = ("slice" if slice_space else "full", point.tobytes())
    found = _cache.get(computed, key)
    if found is None:
        found = _point_curvature(computed, point, np.asarray(result.ab[t], dtype=float), slice_space, t)
        _cache.put(computed, key, found)
    return found if found.frame == t else _at_frame(found, t)


def start_curvature(computed: Any) -> PointCurvature | None:
    """The curvature where the runs start (all of them start at one point); None with no run."""
    return point_curvature(computed, computed.runs[0], 0) if computed.runs else None


def _at_frame(found: PointCurvature, t: int) -> PointCurvature:
    """The same point met at another frame (a run at rest, or another run's start)."""
    return PointCurvature(t, found.space, found.curvature, found.curved, found.point_ab, found.axes_ab,
                          found.axes_lambdas, found.in_plane, found.n_params)


def _point_curvature(computed: Any, point: Array, ab: Array, slice_space: bool, t: int) -> PointCurvature:
    plane: Plane = computed.plane
    objective = computed.problem.objective
    if slice_space:
        found = curvature(PlaneObjective(objective, plane), point)
        axes = np.array([found.eigenvectors[:, -1], found.eigenvectors[:, -2]])
        in_plane = np.ones(2)
    else:
        found = curvature(objective, point)
        top = found.eigenvectors[:, [-1, -2]] if found.eigenvectors.shape[1] >= 2 else \
            np.column_stack([found.eigenvectors[:, -1]] * 2)
        axes = np.linalg.lstsq(plane.basis, top, rcond=None)[0].T  # (2, 2): rows v₁, v₂ in (a, b)
        in_plane = np.linalg.norm(plane.basis @ axes.T, axis=0)  # ‖B (BᵀB)⁻¹Bᵀ v‖ of unit v
    values = found.eigenvalues
    lambdas = (float(values[-1]), float(values[-2] if values.size >= 2 else values[-1]))
    axes.setflags(write=False)
    in_plane.setflags(write=False)
    ab = np.array(ab, dtype=float)
    ab.setflags(write=False)
    return PointCurvature(t, "slice" if slice_space else "full", found,
                          curved_condition(values, complete=found.method == "dense"), ab, axes, lambdas,
                          in_plane, int(point.size))


# --- the learning rate ------------------------------------------------------------------------

@dataclass(frozen=True)
class StableLR:
    """A method's largest stable constant learning rate on the quadratic model, and its formula.

    ``bound`` is None where none applies (the per-coordinate methods, the searches):
    ``formula`` then says why; ``lr_max`` is 2/λ_max all the same (gradient descent's).
    """

    bound: float | None
    formula: str
    lr_max: float


def stable_lr(method: str, hyper: dict, lambda_max: float) -> StableLR:
    """The bound on ``lr`` under which ``method`` is stable where the top curvature is ``lambda_max``.

    On ``½ λ x²`` (the top eigen-direction): gradient descent multiplies x by ``1 − lr λ``:
    stable for ``lr < 2/λ``. Heavy ball (``v ← μv + g; θ ← θ − lr v``) has the characteristic
    polynomial ``z² − (1 + μ − lr λ) z + μ``: stable for ``lr < 2(1+μ)/λ``. Nesterov (torch's,
    ``θ ← θ − lr (g + μ v)``): ``z² − (1 + μ − lr λ (1+μ)) z + μ(1 − lr λ)``, stable for
    ``lr < 2(1+μ)/((1+2μ) λ)``. SGD: the full-batch bound (its noise only makes things worse).
    With ``lambda_max ≤ 0`` every bound is ``inf``.
    """
    lam = float(lambda_max)
    lr_max = 2.0 / lam if lam > 0 else math.inf

    def over(numerator: float) -> float:
        return numerator / lam if lam > 0 else math.inf

    if method in GD_METHODS:
        return StableLR(lr_max, "2/λ_max", lr_max)
    if method == "momentum":
        mu = float(hyper.get("momentum", 0.9))
        return StableLR(over(2.0 * (1.0 + mu)), "2(1+μ)/λ_max", lr_max)
    if method == "nesterov":
        mu = float(hyper.get("momentum", 0.9))
        return StableLR(over(2.0 * (1.0 + mu) / (1.0 + 2.0 * mu)), "2(1+μ)/((1+2μ)λ_max)", lr_max)
    if method in SCALED_METHODS:
        return StableLR(None, "per-coordinate steps: 2/λ_max does not bound its lr", lr_max)
    return StableLR(None, "no learning rate: it searches", lr_max)


def lr_at(trajectory_hyper: dict, t: int) -> float | None:
    """The learning rate of update ``t`` (its schedule applied); None for the search methods."""
    h = trajectory_hyper
    if "lr" not in h:
        return None
    return float(learning_rate(h.get("schedule", "constant"), h["lr"], int(t), h.get("decay_rate", 0.5),
                               h.get("decay_every", 100)))


@dataclass(frozen=True)
class LearningRateCheck:
    """A run's learning rate against its method's bound at one iterate.

    ``lr``: the rate of the step from that iterate (None: a search method); ``stable``:
    :class:`StableLR`; ``unstable``: ``lr > stable.bound`` (False where no bound applies).
    """

    lr: float | None
    stable: StableLR
    unstable: bool


def lr_check(computed: Any, result: Any, frame: int) -> LearningRateCheck:
    """``result``'s learning rate at ``frame`` against its method's bound there (:func:`point_curvature`)."""
    found = point_curvature(computed, result, frame)
    traj = result.trajectory
    lr = lr_at(traj.hyper, found.frame)
    bound = stable_lr(traj.method, traj.hyper, found.lambda_max)
    return LearningRateCheck(lr, bound, lr is not None and bound.bound is not None and lr > bound.bound)


# --- λ_min / λ_max over the plane (Li et al. 2018) --------------------------------------------

@dataclass(frozen=True, eq=False)
class CurvatureMap:
    """The Hessian's extreme eigenvalues over a coarse grid of the plane: ``[j, i]`` at ``(a_values[i], b_values[j])``.

    ``space``: ``"full"`` (the P x P Hessian at ``plane.point(a, b)``) or ``"slice"`` (the 2 x 2
    ``Bᵀ H B`` there); ``ratio = λ_min / λ_max`` (NaN where ``λ_max ≤ 0``): negative where the
    loss curves down in some direction (non-convex), 0 where some direction is flat, up to 1
    where it curves alike in every direction. (Li et al. map ``|λ_min / λ_max|``.)
    """

    a_values: Array
    b_values: Array
    lambda_min: Array
    lambda_max: Array
    space: str

    @property
    def ratio(self) -> Array:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.lambda_max > 0, self.lambda_min / np.where(self.lambda_max > 0, self.lambda_max, 1.0),
                            np.nan)


def curvature_map_blocks(objective: Any, plane: Plane, resolution: int = 16,
                         space: str = "full") -> Iterator[int]:
    """:func:`curvature_map` row by row: yields the rows done, returns the :class:`CurvatureMap`."""
    if space not in ("full", "slice"):
        raise ValueError(f"space must be \"full\" or \"slice\", got {space!r}")
    a_values, b_values = plane.grid(resolution)
    target = PlaneObjective(objective, plane) if space == "slice" else objective
    low = np.empty((b_values.size, a_values.size))
    high = np.empty_like(low)
    for j, b in enumerate(b_values):
        for i, a in enumerate(a_values):
            checkpoint()
            point = np.array([a, b]) if space == "slice" else plane.point(a, b)
            values = curvature(target, point).eigenvalues
            low[j, i], high[j, i] = values[0], values[-1]
        yield j + 1
    return CurvatureMap(a_values, b_values, low, high, space)


def curvature_map(objective: Any, plane: Plane, resolution: int = 16, space: str = "full") -> CurvatureMap:
    """λ_min and λ_max of the Hessian over a ``resolution`` x ``resolution`` grid of ``plane.extent``.

    ``resolution²`` eigendecompositions: 16² at P = 9 takes milliseconds, at P = 650 about
    25 s (run it as a job: :func:`curvature_map_blocks`). With Lanczos (P > ``DENSE_LIMIT``)
    λ_min and λ_max are the ends Lanczos finds.
    """
    return drain(curvature_map_blocks(objective, plane, resolution, space))
