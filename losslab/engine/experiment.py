"""An experiment: everything that defines what losslab shows, as one frozen, validated value.

``Experiment`` names the problem (a dataset and an objective, or a test surface), the
slice plane, the start point, the number of steps and each optimizer run. The functions
below turn it into arrays: :func:`build_problem` (data, objective, plane), the runs
(:func:`run_blocks`) and the landscape (:func:`landscape_blocks`). They are pure and
Qt-free, so the window, the session files and headless rendering share them; the long
ones are generators that yield as they go (progress, cancellation points).

Plane coordinates: the contour is drawn over ``theta(a, b) = origin + a d1 + b d2``. In
``space="slice"`` every optimizer runs inside that plane (a 2-parameter problem), so its
path lies exactly on the contour; in ``space="full"`` it runs in all P parameters and its
path is projected onto the plane, each point with its off-plane distance.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .datasets import BUNDLED, DATASETS, Dataset, load_bundled, load_csv, make_dataset, standardize
from .landscape import loss_surface, loss_surface_blocks
from .losses import LOSSES, MARGIN
from .objective import Objective
from .optimizers import OPTIMIZERS, Run, Trajectory
from .planes import PLANES, Plane, PlaneObjective, coordinate_labels, project
from .registry import Param
from .regularizers import BETA, LAM, REGULARIZERS
from .surfaces import SURFACES, make_surface

Array = np.ndarray

SOURCES = ("generated", "bundled", "csv", "surface")
COORDINATE = re.compile(r"W\[\d+,\d+\]|b\[\d+\]")
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
SPACES = ("slice", "full")
CENTRES = ("zero", "optimum")

SPAN = Param("span", 3.0, "half-width", low=0.0, low_open=True, high=1e6, log=True,
             help="the contour shows a and b within ± this of the plane's centre")
RESOLUTION = Param("resolution", 128, "resolution", kind=int, low=8, high=1024,
                   help="grid points per side of the landscape")
STEPS = Param("steps", 200, "steps", kind=int, low=1, high=100_000, help="updates per optimizer")


@dataclass(frozen=True)
class ProblemSpec:
    """What is being fitted: a generated, bundled or CSV dataset, or an analytic test surface.

    ``kind`` is a ``DATASETS`` name (generated), a ``BUNDLED`` name (bundled) or a
    ``SURFACES`` name (surface); ``path`` is the CSV file; ``surface_params`` the surface's
    parameters as ``(name, value)`` pairs.
    """

    source: str = "generated"
    kind: str = "blobs"
    n: int = 300
    classes: int = 3
    noise: float | None = None
    seed: int = 0
    path: str = ""
    standardize: bool = False
    surface_params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ObjectiveSpec:
    """The loss and its regularizer: ``mean L_i + lam * R(W)``."""

    loss: str = "svm"
    margin: float = 1.0
    reg: str = "l2"
    lam: float = 0.1
    beta: float = 0.5


@dataclass(frozen=True)
class PlaneSpec:
    """The slice the contour shows.

    ``kind`` names a ``PLANES`` entry; ``axes`` names the two coordinates of an axes plane
    (``"W[d,c]"`` or ``"b[c]"``: names, not positions, so they keep their meaning when the
    number of classes changes), ``seed, bias`` are those of a random one. ``centre`` is the point the plane goes through
    (``"zero"``: W = 0, b = 0, where the regularizer's shape is centred; ``"optimum"``:
    the minimizer found by a long full-batch run). ``span`` is the half-width of the view
    around it and ``resolution`` the grid points per side. The pca and interpolation
    planes are built from full-space runs, so they imply ``space="full"``.
    """

    kind: str = "axes"
    axes: tuple[str, str] = ("W[0,0]", "W[0,1]")
    seed: int = 0
    bias: str = "zero"
    centre: str = "optimum"
    span: float = 3.0
    resolution: int = 128


@dataclass(frozen=True)
class RunSpec:
    """One optimizer: its ``OPTIMIZERS`` name, hyperparameters as sorted ``(name, value)`` pairs, seed.

    ``steps`` overrides the experiment's number of steps for this run (None: the shared one);
    ``color`` is how the window draws it (``"#rrggbb"``; empty: the palette's colour for its position).
    """

    method: str
    hyper: tuple[tuple[str, Any], ...] = ()
    seed: int = 0
    enabled: bool = True
    steps: int | None = None
    color: str = ""

    @property
    def hyper_dict(self) -> dict[str, Any]:
        return dict(self.hyper)

    def with_hyper(self, **values: Any) -> RunSpec:
        return replace(self, hyper=tuple(sorted((self.hyper_dict | values).items())))


DEFAULT_RUNS = (RunSpec("random_search"), RunSpec("numerical_gd"), RunSpec("gd"), RunSpec("sgd"))


@dataclass(frozen=True)
class Experiment:
    """Everything that defines the computation; views and file names live elsewhere."""

    problem: ProblemSpec = field(default_factory=ProblemSpec)
    objective: ObjectiveSpec = field(default_factory=ObjectiveSpec)
    plane: PlaneSpec = field(default_factory=PlaneSpec)
    runs: tuple[RunSpec, ...] = DEFAULT_RUNS
    start: tuple[float, float] = (-2.0, 2.0)
    steps: int = 200
    space: str = "slice"

    @property
    def slice_space(self) -> bool:
        """True when the optimizers run inside the plane (pca/interpolation planes need full space)."""
        return self.space == "slice" and self.plane.kind in ("axes", "random")


def _choice(value: Any, choices: tuple[str, ...] | Any, name: str) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def validate(experiment: Experiment) -> Experiment:
    """The experiment with every field checked (and numbers coerced); ``ValueError`` names a bad one.

    Checks what can be checked without loading data: a CSV file's contents, a coordinate
    index against P and a batch size against N are checked by :func:`build_problem` and
    the runs.
    """
    p = experiment.problem
    _choice(p.source, SOURCES, "problem.source")
    if p.source == "generated":
        values = DATASETS[p.kind].validate({"n": p.n, "classes": p.classes} |
                                           ({} if p.noise is None else {"noise": p.noise}))
        p = replace(p, n=values["n"], classes=values["classes"], noise=None if p.noise is None else values["noise"])
    elif p.source == "bundled":
        BUNDLED[p.kind]
    elif p.source == "surface":
        SURFACES[p.kind].validate(dict(p.surface_params))
    elif not p.path:
        raise ValueError("problem.path: choose a CSV file")
    if isinstance(p.seed, bool) or not isinstance(p.seed, (int, np.integer)) or p.seed < 0:
        raise ValueError(f"problem.seed must be a non-negative integer, got {p.seed!r}")

    o = experiment.objective
    LOSSES[o.loss], REGULARIZERS[o.reg]  # unknown names raise, listing the valid ones
    o = replace(o, margin=MARGIN.validate(o.margin), lam=LAM.validate(o.lam), beta=BETA.validate(o.beta))

    pl = experiment.plane
    PLANES[pl.kind]
    _choice(pl.centre, CENTRES, "plane.centre")
    random_params = PLANES["random"].validate({"seed": pl.seed, "bias": pl.bias})
    axes = tuple(pl.axes)
    if len(axes) != 2 or not all(isinstance(a, str) and COORDINATE.fullmatch(a) for a in axes):
        raise ValueError(f"plane.axes must be two coordinate names such as \"W[0,1]\" or \"b[2]\", got {pl.axes!r}")
    if axes[0] == axes[1]:
        raise ValueError(f"plane.axes must be two different coordinates, got {axes[0]} twice")
    pl = replace(pl, axes=axes, span=SPAN.validate(pl.span), resolution=RESOLUTION.validate(pl.resolution),
                 **random_params)

    runs = []
    for k, run in enumerate(experiment.runs):
        entry = OPTIMIZERS[run.method]
        try:
            hyper = entry.validate(run.hyper_dict)
        except ValueError as err:
            raise ValueError(f"{entry.label} (run {k + 1}): {err}") from None
        if run.color and not COLOR.fullmatch(str(run.color)):
            raise ValueError(f"{entry.label} (run {k + 1}): color must look like #1f77b4, got {run.color!r}")
        runs.append(replace(run, hyper=tuple(sorted((k_, hyper[k_]) for k_ in run.hyper_dict)),
                            seed=Param("seed", 0, kind=int, low=0).validate(run.seed), enabled=bool(run.enabled),
                            steps=None if run.steps is None else STEPS.validate(run.steps)))
    if pl.kind == "interpolation" and sum(r.enabled for r in runs) < 2:
        raise ValueError("an interpolation plane goes through the ends of two runs: enable at least two optimizers")
    start = tuple(float(v) for v in experiment.start)
    if len(start) != 2 or not all(math.isfinite(v) for v in start):
        raise ValueError(f"start must be two finite numbers (a, b), got {experiment.start!r}")
    _choice(experiment.space, SPACES, "space")
    return replace(experiment, problem=p, objective=o, plane=pl, runs=tuple(runs), start=start,
                   steps=STEPS.validate(experiment.steps))


# --- the problem ----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Problem:
    """The arrays an experiment stands for, before any optimizer runs.

    ``dataset`` is None for a test surface. ``plane`` is the slice for axes and random
    planes; pca and interpolation planes exist only after the runs (see :func:`run_blocks`).
    ``centre`` is the point the plane goes through, ``shape`` the (D, C) of W.
    """

    dataset: Dataset | None
    objective: Any
    plane: Plane | None
    centre: Array
    shape: tuple[int, int] | None
    axes: tuple[str, str] | None = None  # the axes actually drawn (the asked ones may not exist here)

    @property
    def is_surface(self) -> bool:
        return self.dataset is None


def build_dataset(spec: ProblemSpec) -> Dataset | None:
    if spec.source == "generated":
        return make_dataset(spec.kind, spec.n, spec.classes, spec.noise, spec.seed)
    if spec.source == "bundled":
        return load_bundled(spec.kind, spec.standardize)
    if spec.source == "csv":
        data = load_csv(spec.path)
        return standardize(data) if spec.standardize else data
    return None


def find_optimum(objective: Objective, steps: int = 500) -> Array:
    """A minimizer of the full objective, by Adam from θ = 0 (robust on hinge kinks and flat L1)."""
    run = Run(objective, "adam", np.zeros(objective.n_params), lr=0.05)
    traj = run.advance(steps)
    best = int(np.nanargmin(traj.losses))
    return np.array(traj.thetas[best])


def build_problem(experiment: Experiment) -> Problem:
    """Load the data, build the objective and (for axes and random planes) the slice plane."""
    spec = experiment.problem
    if spec.source == "surface":
        surface = make_surface(spec.kind, **dict(spec.surface_params))
        return Problem(None, surface, surface.plane, np.zeros(2), None)
    data = build_dataset(spec)
    o = experiment.objective
    objective = Objective(data.X, data.y, loss=o.loss, margin=o.margin, reg=o.reg, lam=o.lam, beta=o.beta,
                          n_classes=data.n_classes)
    shape = (objective.n_features, objective.n_classes)
    pl = experiment.plane
    centre = find_optimum(objective) if pl.centre == "optimum" else np.zeros(objective.n_params)
    plane = None
    axes = axes_for(pl.axes, shape)
    if pl.kind == "axes":
        i, j = (coordinate_labels(*shape).index(a) for a in axes)
        plane = _with_span(Plane.axes(centre, i, j, shape), (centre[i], centre[j]), pl.span)
    elif pl.kind == "random":
        plane = _with_span(Plane.random(centre, shape, pl.seed, pl.bias), (0.0, 0.0), pl.span)
    return Problem(data, objective, plane, centre, shape, axes)


def axes_for(asked: tuple[str, str], shape: tuple[int, int]) -> tuple[str, str]:
    """The asked axes where they exist for W of ``shape`` (D, C); a missing one becomes the first free coordinate."""
    labels = coordinate_labels(*shape)
    spare = (label for label in labels if label not in asked)
    return tuple(a if a in labels else next(spare) for a in asked)


def _with_span(plane: Plane, middle: tuple[float, float], span: float) -> Plane:
    a, b = middle
    return replace(plane, extent=(a - span, a + span, b - span, b + span))


# --- runs ----------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class RunResult:
    """One optimizer's run as the views need it.

    ``trajectory`` is in the space the run used (``(T+1, 2)`` plane coordinates in slice
    mode, ``(T+1, P)`` in full space); ``thetas`` are always full parameter vectors,
    ``ab (T+1, 2)`` plane coordinates and ``residual (T+1,)`` the off-plane distance
    (zeros in slice mode). ``index`` is the run's position in ``experiment.runs``.
    """

    spec: RunSpec
    trajectory: Trajectory
    thetas: Array
    ab: Array
    residual: Array
    index: int = 0


def run_blocks(experiment: Experiment, problem: Problem, work_per_yield: float = 50.0) -> Iterator[int]:
    """Run every enabled optimizer; yields the number of steps done so far (progress).

    Returns ``(plane, results)``: the plane (built from the runs for pca and
    interpolation planes) and one :class:`RunResult` per enabled run, in order.
    """
    objective = problem.objective
    runs = [(k, r) for k, r in enumerate(experiment.runs) if r.enabled]
    slice_space = experiment.slice_space and problem.plane is not None
    if slice_space:
        space_objective, theta0 = PlaneObjective(objective, problem.plane), np.array(experiment.start, dtype=float)
    else:
        origin_plane = problem.plane or _start_plane(experiment, problem)
        space_objective, theta0 = objective, origin_plane.point(*experiment.start)
    trajectories = []
    done = 0
    for _, spec in runs:
        run = Run(space_objective, spec.method, theta0, spec.seed, **spec.hyper_dict)
        # yield after about `work_per_yield` loss evaluations, so a superseded run stops soon:
        # a numerical gradient costs 2P of them per step
        per_step = 2 * space_objective.n_params if spec.method == "numerical_gd" else 1
        chunk = max(1, int(work_per_yield // per_step))
        steps = experiment.steps if spec.steps is None else spec.steps
        while not run.finished and run.n_steps < steps:
            step = min(chunk, steps - run.n_steps)
            run.advance(step)
            done += step
            yield done
        trajectories.append(run.trajectory())
    plane = problem.plane
    if plane is None:
        plane = _plane_from_runs(experiment, problem, theta0, [t.thetas for t in trajectories])
    results = []
    for (index, spec), traj in zip(runs, trajectories):
        if slice_space:
            ab = np.asarray(traj.thetas)
            thetas, residual = plane.points(ab), np.zeros(len(ab))
        else:
            thetas = np.asarray(traj.thetas)
            ab, residual = project(thetas, plane)
        results.append(RunResult(spec, traj, thetas, ab, residual, index))
    return plane, results


def _start_plane(experiment: Experiment, problem: Problem) -> Plane:
    """Before a pca/interpolation plane exists, the start is read on the axes plane of the settings."""
    i, j = (coordinate_labels(*problem.shape).index(a) for a in problem.axes)
    return Plane.axes(problem.centre, i, j, problem.shape)


def _plane_from_runs(experiment: Experiment, problem: Problem, theta0: Array, paths: list[Array]) -> Plane:
    kind = experiment.plane.kind
    if kind == "pca":
        return Plane.pca(paths)
    if len(paths) < 2:
        raise ValueError("an interpolation plane needs at least two enabled optimizers "
                         "(it goes through the start and the ends of the first two runs)")
    return Plane.interpolation(theta0, paths[0][-1], paths[1][-1])


# --- the landscape --------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Landscape:
    """The loss over the plane's grid: ``data[j, i]`` and ``reg[j, i]`` at ``(a_values[i], b_values[j])``."""

    plane: Plane
    a_values: Array
    b_values: Array
    data: Array
    reg: Array

    def part(self, name: str) -> Array:
        """``"total"``, ``"data"`` or ``"reg"``."""
        if name == "total":
            return self.data + self.reg
        return {"data": self.data, "reg": self.reg}[name]


def landscape_blocks(objective: Any, plane: Plane, resolution: int) -> Iterator[tuple[slice, Array, Array]]:
    """The landscape row block by row block: yields ``(rows, data[rows], reg[rows])``, returns the :class:`Landscape`.

    The penalty part comes first, in one go (it is cheap: O(G²)), so every block can be
    shown as any part at once. The data part does not depend on λ, so
    :func:`relandscape_penalty` redoes only the penalty.
    """
    a_values, b_values = plane.grid(resolution)
    reg = loss_surface(objective, plane, a_values, b_values, "reg")
    data = np.empty((b_values.size, a_values.size))
    for rows, block in loss_surface_blocks(objective, plane, a_values, b_values, "data"):
        data[rows] = block
        yield rows, block, reg[rows]
    return Landscape(plane, a_values, b_values, data, reg)


def relandscape_penalty(landscape: Landscape, objective: Any) -> Landscape:
    """The same landscape for an objective that differs only in λ, β or the regularizer."""
    reg = loss_surface(objective, landscape.plane, landscape.a_values, landscape.b_values, "reg")
    return replace(landscape, reg=reg)


def drain(generator: Iterator) -> Any:
    """Run one of the generator forms here to the end and return its result (no progress wanted)."""
    while True:
        try:
            next(generator)
        except StopIteration as stop:
            return stop.value


def run_all(experiment: Experiment, problem: Problem) -> tuple[Plane, list[RunResult]]:
    """:func:`run_blocks` to the end, without progress."""
    return drain(run_blocks(experiment, problem))


def compute_landscape(objective: Any, plane: Plane, resolution: int) -> Landscape:
    """:func:`landscape_blocks` to the end, without progress."""
    return drain(landscape_blocks(objective, plane, resolution))

