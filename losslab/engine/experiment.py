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
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .datasets import BUNDLED, DATASETS, Dataset, Points, load_bundled, load_csv_blocks, make_dataset, standardize
from .budget import (MEMORY_BUDGET, OPTIMUM_STEPS, SECONDS_PER_OP, check_memory, check_time, experiment_cost,
                     steps_per_yield)
from .generators import drain
from .landscape import loss_surface, loss_surface_blocks
from .losses import LOSSES, MARGIN
from .models import MODELS, Model, model_for_shape
from .objective import Objective
from .optimizers import DIVERGENCE_FACTOR, OPTIMIZERS, Run, Trajectory
from .planes import PLANES, Plane, PlaneObjective, coordinate_labels, project
from .registry import Param
from .regularizers import BETA, LAM, REGULARIZERS
from .surfaces import SURFACES, make_surface

Array = np.ndarray

SOURCES = ("generated", "bundled", "csv", "surface", "points")
COORDINATE = re.compile(r"[A-Za-z]\w*\[\d+(,\d+)?\]")  # a model's coordinate name: W[0,1], b[2], W1[0,3], b1[3]
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
SPACES = ("slice", "full")
CENTRES = ("zero", "init", "optimum")

SPAN = Param("span", 3.0, "half-width", low=0.0, low_open=True, high=1e6, log=True,
             help="the contour shows a and b within ± this of the plane's centre")
RESOLUTION = Param("resolution", 128, "resolution", kind=int, low=8, high=1024,
                   help="grid points per side of the landscape")
STEPS = Param("steps", 200, "steps", kind=int, low=1, high=100_000, help="updates per optimizer")
INIT_SCALE = Param("init_scale", 0.01, "init scale", low=0.0, low_open=True, high=1e3, log=True,
                   help="the random start's weights are this times N(0, 1); biases start at 0")
INIT_SEED = Param("init_seed", 0, "init seed", kind=int, low=0, help="seed of the random start")


@dataclass(frozen=True)
class ProblemSpec:
    """What is being fitted: a generated, bundled or CSV dataset, examples carried along, or a test surface.

    ``kind`` is a ``DATASETS`` name (generated), a ``BUNDLED`` name (bundled) or a
    ``SURFACES`` name (surface); ``path`` is the CSV file; ``surface_params`` the surface's
    parameters as ``(name, value)`` pairs. ``source="points"`` fits ``points`` (a
    :class:`~losslab.engine.datasets.Points`: edited data, or a CSV or bundled set embedded
    by :func:`embed_data`) exactly as they are (standardized first only if ``standardize``);
    its ``kind`` is free text, the name of the data the points came from ("blobs", "iris"),
    so a window can say "blobs (edited)". Any other source ignores ``points``:
    :func:`validate` clears them to None, so switching away from edited data needs no
    second change and a saved session never carries stale points.
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
    points: Points | None = None


@dataclass(frozen=True)
class ObjectiveSpec:
    """The loss and its regularizer: ``mean L_i + lam * R(W)``."""

    loss: str = "svm"
    margin: float = 1.0
    reg: str = "l2"
    lam: float = 0.1
    beta: float = 0.5


@dataclass(frozen=True)
class ModelSpec:
    """The score function: ``kind`` a ``MODELS`` name (``"linear"`` or ``"mlp"``), the network's
    ``hidden`` width and ``activation``, and its seeded small random start (``init_scale``,
    ``init_seed``), the point a plane centred at ``"init"`` goes through."""

    kind: str = "linear"
    hidden: int = 16
    activation: str = "relu"
    init_scale: float = 0.01
    init_seed: int = 0

    @property
    def params(self) -> dict[str, Any]:
        """The model's own parameters, for ``make_model`` / ``Objective``."""
        return {p.name: getattr(self, p.name) for p in MODELS[self.kind].params}


@dataclass(frozen=True)
class PlaneSpec:
    """The slice the contour shows.

    ``kind`` names a ``PLANES`` entry; ``axes`` names the two coordinates of an axes plane
    (the model's names such as ``"W[d,c]"``, ``"b[c]"``, ``"W1[d,h]"``: names, not positions, so
    they keep their meaning when the number of classes changes), ``seed, bias`` are those
    of a random one. ``centre`` is the point the plane goes through (``"zero"``: every
    parameter 0, where the regularizer's shape is centred and a network is stuck by
    symmetry; ``"init"``: the model's seeded small random start; ``"optimum"``: the
    minimizer found by a long full-batch run). ``span`` is the half-width of the view
    around it and ``resolution`` the grid points per side. The pca and interpolation
    planes are built from full-space runs, so they imply ``space="full"``; the hessian
    plane is spanned by the top two eigenvectors of the Hessian at the centre ((a, b) are
    offsets from it along those unit vectors, as on a random plane).
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
    """Everything that defines the computation; views and file names live elsewhere.

    ``start`` is where the runs start, as plane coordinates ``(a, b)``. ``theta0`` is where
    the runs start, all P parameters; None: the plane point ``start``. Full-space runs start
    exactly at ``theta0``, runs inside the plane at its projection onto the plane. P is
    known only once the data is loaded: a ``theta0`` of another length (the data or the
    model changed) is ignored, and :func:`compute` notes that the plane point is used.
    """

    problem: ProblemSpec = field(default_factory=ProblemSpec)
    objective: ObjectiveSpec = field(default_factory=ObjectiveSpec)
    plane: PlaneSpec = field(default_factory=PlaneSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    runs: tuple[RunSpec, ...] = DEFAULT_RUNS
    start: tuple[float, float] = (-2.0, 2.0)
    steps: int = 200
    space: str = "slice"
    theta0: tuple[float, ...] | None = None

    @property
    def slice_space(self) -> bool:
        """True when the optimizers run inside the plane (pca/interpolation planes need full space)."""
        return self.space == "slice" and not PLANES[self.plane.kind].extra["from_runs"]


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
    elif p.source == "points":
        if p.points is None:
            raise ValueError("problem.points: a \"points\" problem needs its examples (X, y and the class names)")
        if not isinstance(p.points, Points):
            raise ValueError(f"problem.points must be a Points (losslab.engine.datasets), "
                             f"got {type(p.points).__name__}")
        if not isinstance(p.kind, str):
            raise ValueError(f"problem.kind must be text (the name of the data the points came from), got {p.kind!r}")
    elif not p.path:
        raise ValueError("problem.path: choose a CSV file")
    if p.source != "points" and p.points is not None:
        p = replace(p, points=None)  # only a "points" problem carries examples (see ProblemSpec)
    if isinstance(p.seed, bool) or not isinstance(p.seed, (int, np.integer)) or p.seed < 0:
        raise ValueError(f"problem.seed must be a non-negative integer, got {p.seed!r}")

    o = experiment.objective
    LOSSES[o.loss], REGULARIZERS[o.reg]  # unknown names raise, listing the valid ones
    o = replace(o, margin=MARGIN.validate(o.margin), lam=LAM.validate(o.lam), beta=BETA.validate(o.beta))

    m = experiment.model
    model_entry = MODELS[m.kind]
    model_params = model_entry.validate({p.name: getattr(m, p.name) for p in model_entry.params})
    m = replace(m, **model_params, init_scale=INIT_SCALE.validate(m.init_scale), init_seed=INIT_SEED.validate(m.init_seed))

    pl = experiment.plane
    PLANES[pl.kind]
    _choice(pl.centre, CENTRES, "plane.centre")
    random_params = PLANES["random"].validate({"seed": pl.seed, "bias": pl.bias})
    axes = tuple(pl.axes)
    if len(axes) != 2 or not all(isinstance(a, str) and COORDINATE.fullmatch(a) for a in axes):
        raise ValueError(f"plane.axes must be two coordinate names such as \"W[0,1]\", \"b[2]\" or \"W1[0,3]\", "
                         f"got {pl.axes!r}")
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
    if pl.kind == "pca" and not any(r.enabled for r in runs):
        raise ValueError("a pca plane is made from the runs' paths: enable at least one optimizer")
    if pl.kind == "interpolation" and sum(r.enabled for r in runs) < 2:
        raise ValueError("an interpolation plane goes through the ends of two runs: enable at least two optimizers")
    start = tuple(float(v) for v in experiment.start)
    if len(start) != 2 or not all(math.isfinite(v) for v in start):
        raise ValueError(f"start must be two finite numbers (a, b), got {experiment.start!r}")
    _choice(experiment.space, SPACES, "space")
    return replace(experiment, problem=p, objective=o, plane=pl, model=m, runs=tuple(runs), start=start,
                   steps=STEPS.validate(experiment.steps), theta0=_valid_theta0(experiment.theta0))


def _valid_theta0(value: Any) -> tuple[float, ...] | None:
    """``theta0`` as a tuple of floats: None, or one or more finite numbers (P is checked once the data loads)."""
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    if not isinstance(value, (tuple, list)) or not value:
        shown = repr(value)
        raise ValueError(f"theta0 must be None or a list of at least one number (all P parameters), "
                         f"got {shown if len(shown) <= 60 else shown[:57] + '...'}")
    out = []
    for k, v in enumerate(value):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"theta0[{k}] must be a number, got {v!r}")
        try:
            number = float(v)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ValueError(f"theta0[{k}] must be a finite number, got {v!r}")
        out.append(number)
    return tuple(out)


# --- the problem ----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Problem:
    """The arrays an experiment stands for, before any optimizer runs.

    ``dataset`` is None for a test surface. ``plane`` is the slice for axes, random and hessian
    planes; pca and interpolation planes exist only after the runs (see :func:`run_blocks`).
    ``centre`` is the point the plane goes through, ``shape`` the (D, C) of the data
    (features, classes); ``model`` (the objective's) says what theta is.
    """

    dataset: Dataset | None
    objective: Any
    plane: Plane | None
    centre: Array
    shape: tuple[int, int] | None
    axes: tuple[str, str] | None = None  # the axes actually drawn (the asked ones may not exist here)
    reference: LinearReference | None = None  # for a non-linear model: the linear classifier on the same data

    @property
    def is_surface(self) -> bool:
        return self.dataset is None

    @property
    def model(self) -> Model | None:
        """The objective's model (None for a test surface)."""
        return getattr(self.objective, "model", None)


@dataclass(frozen=True, eq=False)
class LinearReference:
    """The linear classifier's best fit to the same data, loss and penalty: what a network is compared with.

    ``theta`` its optimum (``find_optimum``), ``parts`` its ``(data_loss, reg_loss)`` there and
    ``accuracy`` its training accuracy (CS231n's spiral: about 50%, where the network reaches 98%).
    """

    objective: Objective
    theta: Array
    parts: tuple[float, float]
    accuracy: float


def linear_reference_blocks(objective: Objective) -> Iterator[int]:
    """The :class:`LinearReference` for ``objective``'s data, loss and penalty (a generator, as the optimum)."""
    linear = Objective(objective.X, objective.y, loss=objective.loss_kind, margin=objective.margin,
                       reg=objective.reg, lam=objective.lam, beta=objective.beta, n_classes=objective.n_classes)
    theta = yield from optimum_blocks(linear)
    return LinearReference(linear, theta, linear.parts(theta), linear.accuracy(theta))


def build_dataset(spec: ProblemSpec) -> Dataset | None:
    return drain(dataset_blocks(spec))


def dataset_blocks(spec: ProblemSpec) -> Iterator[int]:
    """:func:`build_dataset` as a generator (a CSV file yields as it is parsed)."""
    if spec.source == "generated":
        return make_dataset(spec.kind, spec.n, spec.classes, spec.noise, spec.seed)
    if spec.source == "bundled":
        return load_bundled(spec.kind, spec.standardize)
    if spec.source == "csv":
        data = yield from load_csv_blocks(spec.path)
        return standardize(data) if spec.standardize else data
    if spec.source == "points":
        data = spec.points.dataset(spec.kind or "points")
        return standardize(data) if spec.standardize else data
    return None


def with_points(experiment: Experiment, X: Any, y: Any, class_names: Any, feature_names: Any = (),
                image_shape: tuple[int, int] | None = None) -> Experiment:
    """The experiment with its data replaced by these examples (``problem.source="points"``); everything else kept.

    ``X (N, D)``, ``y (N,)`` in ``0..C-1`` and the C class names are copied into a
    :class:`~losslab.engine.datasets.Points` (``ValueError`` names a bad one) and fitted as
    they are: ``standardize`` becomes False (the data replaced may have been standardized
    as it loaded; these examples are taken as shown), except when points replace points,
    which are in the same space as before. ``problem.kind`` becomes the name of the data
    they replace: the generated or bundled kind, a CSV file's name, the points' own name
    (empty for a test surface), so a window can say "blobs (edited)".
    """
    points = Points.of(X, y, class_names, feature_names, image_shape)
    p = experiment.problem
    return replace(experiment, problem=replace(p, source="points", kind=_data_name(p), points=points,
                                               standardize=p.standardize and p.source == "points"))


def embed_data(experiment: Experiment, dataset: Dataset | None) -> Experiment:
    """The experiment carrying its data, so that it travels without its files (a session saved "with data").

    ``dataset`` is the experiment's loaded data (``Computed.problem.dataset``). CSV and
    bundled data become ``source="points"`` built from it: already standardized if asked,
    so ``standardize`` becomes False and the same examples are fitted. Generated data and
    test surfaces stay recipes (they are reproducible from their seed) and points stay
    points: those experiments are returned unchanged.
    """
    p = experiment.problem
    if p.source not in ("csv", "bundled"):
        return experiment
    if dataset is None:
        raise ValueError(f"embedding {p.source} data needs the loaded dataset")
    return replace(experiment, problem=replace(p, source="points", kind=dataset.name or _data_name(p),
                                               points=Points.from_dataset(dataset), standardize=False))


def _data_name(p: ProblemSpec) -> str:
    """The name of the data ``p`` stands for: its kind, a CSV file's name; empty for a test surface."""
    if p.source == "csv":
        return Path(p.path).stem if p.path else "csv"
    return "" if p.source == "surface" else p.kind


def find_optimum(objective: Objective, steps: int = OPTIMUM_STEPS, start: Array | None = None) -> Array:
    """A minimizer of the full objective, by Adam from ``start`` (default θ = 0; robust on hinge kinks and flat L1).

    A network needs a start that breaks its symmetry (at θ = 0 every hidden unit gets the
    same gradient, 0 for ReLU): pass its random init.
    """
    return drain(optimum_blocks(objective, steps, start))


def optimum_blocks(objective: Objective, steps: int = OPTIMUM_STEPS, start: Array | None = None) -> Iterator[int]:
    """:func:`find_optimum` step by step: yields the steps done (a cancellation point every ~10⁵ scores)."""
    run = Run(objective, "adam", np.zeros(objective.n_params) if start is None else start, lr=0.05,
              record_states=False)  # only the best point is kept: Adam's moments need no record
    chunk = max(1, 100_000 // max(1, objective.n_examples * objective.n_classes))
    while not run.finished and run.n_steps < steps:
        run.advance(min(chunk, steps - run.n_steps))
        yield run.n_steps
    traj = run.trajectory()
    best = int(np.nanargmin(traj.losses))
    return np.array(traj.thetas[best])


def build_problem(experiment: Experiment) -> Problem:
    """Load the data, build the objective and (for axes, random and hessian planes) the slice plane."""
    return drain(problem_blocks(experiment))


def problem_blocks(experiment: Experiment, previous: Problem | None = None,
                   previous_experiment: Experiment | None = None) -> Iterator[Progress]:
    """:func:`build_problem` as a generator (yields :class:`Progress`); returns the :class:`Problem`.

    What ``previous`` (built from ``previous_experiment``) already has is reused: the data
    when the problem spec is the same, the centre when the whole objective is too.
    """
    spec = experiment.problem
    if spec.source == "surface":
        surface = make_surface(spec.kind, **dict(spec.surface_params))
        return Problem(None, surface, surface.plane, np.zeros(2), None)
    old = previous_experiment
    same_data = previous is not None and old is not None and old.problem == spec and previous.dataset is not None
    data = previous.dataset if same_data else (yield from _tagged("data", dataset_blocks(spec), spec.n))
    o, m = experiment.objective, experiment.model
    objective = Objective(data.X, data.y, loss=o.loss, margin=o.margin, reg=o.reg, lam=o.lam, beta=o.beta,
                          n_classes=data.n_classes, model=m.kind, **m.params)
    model = objective.model
    shape = (objective.n_features, objective.n_classes)
    pl = experiment.plane
    if pl.centre == "zero":
        centre = np.zeros(objective.n_params)
    elif pl.centre == "init":
        centre = model.init(m.init_seed, m.init_scale)
    elif same_data and old.objective == o and old.model == m and old.plane.centre == "optimum":
        centre = previous.centre
    else:  # a convex objective has one bowl: search it from 0; a network from its symmetry-breaking start
        start = None if model.has("convex") else model.init(m.init_seed, m.init_scale)
        centre = yield from _tagged("optimum", optimum_blocks(objective, start=start), OPTIMUM_STEPS)
    axes = axes_for(pl.axes, model)
    reference = None
    if model.kind != "linear":
        if same_data and old.objective == o and previous.reference is not None:
            reference = previous.reference
        else:
            reference = yield from _tagged("optimum", linear_reference_blocks(objective), OPTIMUM_STEPS)
    return Problem(data, objective, slice_plane(pl, centre, model, axes, objective), centre, shape, axes, reference)


def slice_plane(pl: PlaneSpec, centre: Array, model, axes: tuple[str, str], objective: Any = None) -> Plane | None:
    """The axes, random or hessian plane through ``centre``, over ± span; None for planes made from the runs.

    ``model``: the objective's model (or ``(D, C)`` of a linear classifier); ``objective``:
    the objective, whose Hessian at the centre spans a hessian plane (needed for that kind only).
    """
    model = model_for_shape(centre.size, model)
    if pl.kind == "axes":
        i, j = (model.labels.index(a) for a in axes)
        return _with_span(Plane.axes(centre, i, j, model), (centre[i], centre[j]), pl.span)
    if pl.kind == "random":
        return _with_span(Plane.random(centre, model, pl.seed, pl.bias), (0.0, 0.0), pl.span)
    if pl.kind == "hessian":
        if objective is None:
            raise ValueError("a hessian plane needs the objective, whose Hessian at the centre spans it")
        return _with_span(Plane.hessian(objective, centre), (0.0, 0.0), pl.span)
    return None


def axes_for(asked: tuple[str, str], model) -> tuple[str, str]:
    """The asked axes where they exist for ``model`` (or a linear one of shape (D, C)); a missing one
    becomes the first free coordinate."""
    labels = model.labels if isinstance(model, Model) else coordinate_labels(*model)
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


def run_key(experiment: Experiment, spec: RunSpec) -> tuple:
    """What a run's trajectory depends on besides the problem: its method, settings, seed and steps."""
    steps = experiment.steps if spec.steps is None else spec.steps
    return spec.method, spec.hyper, spec.seed, steps, experiment.start, experiment.slice_space, experiment.theta0


def start_theta(experiment: Experiment, problem: Problem) -> Array | None:
    """``experiment.theta0`` as an array when it has the objective's P values, else None (the plane point is used)."""
    theta0 = experiment.theta0
    if theta0 is None or len(theta0) != problem.objective.n_params:
        return None
    return np.array(theta0, dtype=float)


def check_batches(experiment: Experiment, n_examples: int | None) -> None:
    """A minibatch cannot hold more examples than there are (``ValueError`` names the run)."""
    if n_examples is None:
        return
    for k, run in enumerate(experiment.runs):
        batch = run.hyper_dict.get("batch_size")
        if run.enabled and batch is not None and batch > n_examples:
            raise ValueError(f"{OPTIMIZERS[run.method].label} (run {k + 1}): batch_size must be at most "
                             f"N = {n_examples} (the number of examples), got {batch}")


def run_blocks(experiment: Experiment, problem: Problem, reuse: dict[tuple, Trajectory] | None = None
               ) -> Iterator[int]:
    """Run every enabled optimizer; yields the number of steps done so far (progress).

    Returns ``(plane, results)``: the plane (built from the runs for pca and
    interpolation planes) and one :class:`RunResult` per enabled run, in order. The runs
    start at ``experiment.theta0`` when it has the objective's P values (in the slice: at
    its projection onto the plane), else at the plane point ``experiment.start``.
    ``reuse`` maps :func:`run_key` to trajectories already run on this same problem.
    """
    objective = problem.objective
    check_batches(experiment, getattr(objective, "n_examples", None))
    runs = [(k, r) for k, r in enumerate(experiment.runs) if r.enabled]
    slice_space = experiment.slice_space and problem.plane is not None
    full_start = start_theta(experiment, problem)  # None: the plane point experiment.start
    if slice_space:
        space_objective = PlaneObjective(objective, problem.plane)
        theta0 = np.array(experiment.start, dtype=float) if full_start is None else \
            np.array(project(full_start, problem.plane)[0], dtype=float)
    elif full_start is not None:
        space_objective, theta0 = objective, full_start
    else:
        origin_plane = problem.plane or _start_plane(experiment, problem)
        space_objective, theta0 = objective, origin_plane.point(*experiment.start)
    # the data's sizes, for how often a run yields (a test surface: one "example", two "classes")
    n, d, c = (objective.n_examples, objective.n_features, objective.n_classes) if problem.dataset else (1, 1, 2)
    trajectories = []
    done = 0
    for _, spec in runs:
        steps = experiment.steps if spec.steps is None else spec.steps
        known = (reuse or {}).get(run_key(experiment, spec))
        if known is not None:
            trajectories.append(known)
            done += steps
            yield done
            continue
        run = Run(space_objective, spec.method, theta0, spec.seed, **spec.hyper_dict)
        # ~30 ms of work between yields, so a superseded run stops soon
        chunk = steps_per_yield(n, d, c, spec.method, getattr(objective, "loss_kind", "svm"),
                                space_objective.n_params, spec.hyper_dict.get("batch_size"),
                                hidden=getattr(problem.model, "hidden", None))  # a network's width, None if linear
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
    """Before a pca/interpolation plane exists, the start is read on another plane through the centre.

    The linear model's is the axes plane of the settings ((a, b) are two weights). A
    network's is the random plane of the settings, so that (a, b) are offsets from the
    centre and (0, 0) is the centre itself (its random start, say): on an axes plane two
    of its weights would be set to a and b, and a start of (0, 0) would zero them.
    """
    model, pl = problem.model, experiment.plane
    if not model.has("convex"):
        return Plane.random(problem.centre, model, pl.seed, pl.bias)
    i, j = (model.labels.index(a) for a in problem.axes)
    return Plane.axes(problem.centre, i, j, model)


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


def run_all(experiment: Experiment, problem: Problem) -> tuple[Plane, list[RunResult]]:
    """:func:`run_blocks` to the end, without progress."""
    return drain(run_blocks(experiment, problem))


def compute_landscape(objective: Any, plane: Plane, resolution: int) -> Landscape:
    """:func:`landscape_blocks` to the end, without progress."""
    return drain(landscape_blocks(objective, plane, resolution))



# --- the whole computation --------------------------------------------------------------------

class Progress(NamedTuple):
    """How far a computation is: ``stage`` ("data", "optimum", "runs", "landscape"), ``done`` of ``total``."""

    stage: str
    done: int
    total: int


class TooLong(ValueError):
    """The experiment would compute for longer than allowed; ``cost`` holds the estimate."""

    def __init__(self, message: str, cost: Any = None):
        super().__init__(message)
        self.cost = cost


@dataclass(frozen=True, eq=False)
class Computed:
    """Everything an experiment stands for, computed: what the window shows and ``render`` draws.

    ``experiment`` is the one computed (its plane axes may differ from those asked where
    those do not exist for the data: ``notes`` says so); ``plane`` is the slice drawn
    (for pca and interpolation planes, made from the runs); ``runs`` one
    :class:`RunResult` per enabled run.
    """

    experiment: Experiment
    problem: Problem
    plane: Plane
    landscape: Landscape
    runs: tuple[RunResult, ...]
    notes: tuple[str, ...] = ()

    @property
    def is_preview(self) -> bool:
        """True when the landscape is a coarse grid computed first (``compute(..., preview_seconds=...)``)."""
        return self.landscape.a_values.size != self.experiment.plane.resolution

    @property
    def n_frames(self) -> int:
        """Frames of the animation: the longest run's iterates (1 with no run)."""
        return max((len(r.ab) for r in self.runs), default=1)


def compute(experiment: Experiment, previous: Computed | None = None, max_seconds: float | None = None,
            memory_budget: float | None = None, preview_seconds: float | None = None) -> Iterator[Progress]:
    """Compute an experiment: problem, runs and landscape; yields :class:`Progress`, returns :class:`Computed`.

    Reuses what ``previous`` (an earlier result) already has where the settings it
    depends on are unchanged: the data, the optimum, the trajectories of unchanged runs,
    the data part of the landscape when only λ, β or the regularizer moved and the slice
    stayed (through θ = 0; a slice through the optimum moves with λ, so there it is all
    recomputed). Checks the memory the problem needs against ``memory_budget`` (bytes,
    default ``budget.MEMORY_BUDGET``) before allocating it, and the estimated time of what
    it will really compute (reused parts cost nothing) against ``max_seconds``
    (``TooLong``; None: no limit). With ``preview_seconds``, a landscape that must be computed
    anew and is estimated to take longer is computed on a coarse ``PREVIEW_RESOLUTION`` grid
    instead (``Computed.is_preview``); computing again with that preview as ``previous``
    reuses everything but the landscape. Cancel by closing the generator.
    """

    experiment = validate(experiment)
    grid = experiment.plane.resolution
    budget = MEMORY_BUDGET if memory_budget is None else memory_budget
    old = previous.experiment if previous is not None else None
    spec = experiment.problem

    same_problem = (old is not None and old.problem == spec and old.objective == experiment.objective
                    and old.model == experiment.model
                    and replace(old.plane, resolution=0) == replace(experiment.plane, resolution=0))

    def check(n: int, d: int, c: int) -> None:
        check_memory(experiment_cost(experiment, n, d, c), budget)  # all of it may be held at once
        if max_seconds is None:
            return
        # the time of what will really be computed: reused data, optimum, runs and landscape cost nothing
        skip, runs = set(), experiment.runs
        if same_problem:
            skip = {"data", "optimum", "reference"} | ({"landscape"} if previous.landscape.a_values.size == grid
                                                       else set())
            if not PLANES[experiment.plane.kind].extra["from_runs"]:
                skip.add("plane")  # a plane of the problem (the hessian's) is reused with it
            known = {run_key(old, r.spec) for r in previous.runs}
            runs = tuple(r for r in runs if run_key(experiment, r) not in known)
        cost = experiment_cost(replace(experiment, runs=runs), n, d, c)
        parts = {name: part for name, part in cost.parts.items() if name not in skip}
        work = sum(part.work for part in parts.values())
        if not parts:
            return
        cost = replace(cost, parts=parts, work=work, seconds=work * SECONDS_PER_OP)
        try:
            check_time(cost, max_seconds)
        except ValueError as err:
            raise TooLong(str(err), cost) from None

    if spec.source in ("generated", "surface"):
        check(spec.n, 2, spec.classes)  # before the data exists
    elif spec.source == "points":
        check(spec.points.n_examples, spec.points.n_features, spec.points.n_classes)  # carried along: known now
    yield Progress("data", 0, 1)
    if same_problem:
        problem = previous.problem
    else:
        reusable = previous.problem if previous is not None else None
        problem = yield from problem_blocks(experiment, reusable, old)
    if problem.dataset is not None:
        check(*problem.dataset.X.shape, problem.dataset.n_classes)
    notes = []
    if problem.axes is not None and tuple(problem.axes) != tuple(experiment.plane.axes):
        if experiment.plane.kind == "axes":  # other planes do not show the axes: nothing to say
                notes.append(f"The slice's axes {', '.join(experiment.plane.axes)} do not exist here; "
                             f"showing {', '.join(problem.axes)}")
        experiment = replace(experiment, plane=replace(experiment.plane, axes=problem.axes))
    if experiment.theta0 is not None and start_theta(experiment, problem) is None:
        a, b = experiment.start
        k = len(experiment.theta0)
        notes.append(f"The start in full space ({k} value{'s' * (k != 1)}) no longer fits the model's "
                     f"P = {problem.objective.n_params} parameters; the runs start at the plane point ({a:g}, {b:g})")

    reuse = None
    if previous is not None and problem is previous.problem:
        reuse = {run_key(old, r.spec): r.trajectory for r in previous.runs}
    total_steps = sum(experiment.steps if r.steps is None else r.steps for r in experiment.runs if r.enabled)
    plane, runs = yield from _tagged("runs", run_blocks(experiment, problem, reuse), total_steps)
    start = tuple(runs[0].ab[0]) if runs else experiment.start
    plane = replace(plane, extent=extent_in_sight(plane.extent, start, runs))

    landscape = None
    if previous is not None and _same_plane(previous.plane, plane):
        plane = previous.plane  # the same slice: one object, so that ``landscape.plane is plane``
    if previous is not None and plane is previous.plane and previous.landscape.a_values.size == grid:
        o, p = old.objective, experiment.objective
        if problem is previous.problem or (old.problem == spec and old.model == experiment.model
                                           and (o.loss, o.margin) == (p.loss, p.margin)):
            landscape = previous.landscape
            if (o.reg, o.lam, o.beta) != (p.reg, p.lam, p.beta) and not problem.is_surface:
                landscape = relandscape_penalty(landscape, problem.objective)
    if landscape is None and preview_seconds is not None and grid > PREVIEW_RESOLUTION:
        dims = (1, 1, 2) if problem.dataset is None else (*problem.dataset.X.shape, problem.dataset.n_classes)
        if experiment_cost(experiment, *dims).parts["landscape"].work * SECONDS_PER_OP > preview_seconds:
            grid = PREVIEW_RESOLUTION
    if landscape is None:
        landscape = yield from _tagged("landscape", landscape_blocks(problem.objective, plane, grid),
                                       grid, lambda item: item[0].stop)
    return Computed(experiment, problem, plane, landscape, tuple(runs), tuple(notes))


PREVIEW_RESOLUTION = 32  # grid points a side of a coarse landscape shown first


FRAME_MARGIN = 0.05  # around a start or path beyond the slice's window, of the framed size
MAX_WIDENING = 3.0  # the window grows to at most this many times its size a side


def extent_in_sight(extent: tuple[float, float, float, float], start: tuple[float, float],
                    runs: list[RunResult] | tuple[RunResult, ...]) -> tuple[float, float, float, float]:
    """The slice's window ``(a0, a1, b0, b1)`` widened to show the start and every path.

    The landscape is computed over this window and the view frames it, so the start, the
    centre (the window's middle) and the paths are always in sight over a drawn landscape.
    A diverged run is left out (its path is drawn leaving the view, and says so): following
    it would shrink every other path to a dot. Iterates past the divergence limit of a run
    still going (``DIVERGENCE_FACTOR · max(1, |L(θ0)|)``) are left out likewise, and the
    window grows to at most ``MAX_WIDENING`` times its size a side. Where nothing leaves the
    window it is returned as it is.
    """
    a0, a1, b0, b1 = extent
    lo, hi = np.array([a0, b0], dtype=float), np.array([a1, b1], dtype=float)
    points = [np.asarray(start, dtype=float)[None, :]]
    for result in runs:
        if result.trajectory.status == "diverged":
            continue
        ab, losses = np.asarray(result.ab, dtype=float), np.asarray(result.trajectory.losses, dtype=float)
        n = min(len(ab), len(losses))
        limit = DIVERGENCE_FACTOR * max(1.0, abs(losses[0])) if n else 0.0
        with np.errstate(invalid="ignore"):
            keep = np.isfinite(ab[:n]).all(axis=1) & (np.abs(losses[:n]) <= limit)
        points.append(ab[:n][keep])
    points = np.concatenate(points)
    points = points[np.isfinite(points).all(axis=1)]
    if not len(points) or ((points >= lo).all() and (points <= hi).all()):
        return extent
    size = hi - lo
    low, high = np.minimum(lo, points.min(axis=0)), np.maximum(hi, points.max(axis=0))
    margin = FRAME_MARGIN * (high - low)
    low = np.where(points.min(axis=0) < lo, low - margin, lo)
    high = np.where(points.max(axis=0) > hi, high + margin, hi)
    low, high = np.maximum(low, lo - MAX_WIDENING * size), np.minimum(high, hi + MAX_WIDENING * size)
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


def _tagged(stage: str, generator: Iterator, total: int, done=lambda item: item) -> Iterator[Progress]:
    """Re-yield a stage's progress as :class:`Progress`; return its result."""
    while True:
        try:
            item = next(generator)
        except StopIteration as stop:
            return stop.value
        yield Progress(stage, int(done(item)), total)


def _same_plane(p: Plane, q: Plane) -> bool:
    return p is q or (p.extent == q.extent and p.labels == q.labels and np.array_equal(p.origin, q.origin)
                      and np.array_equal(p.d1, q.d1) and np.array_equal(p.d2, q.d2))


def compute_all(experiment: Experiment, max_seconds: float | None = None) -> Computed:
    """:func:`compute` to the end, without progress (scripts and ``losslab render``)."""
    return drain(compute(experiment, max_seconds=max_seconds))


@dataclass(frozen=True)
class RunReadout:
    """One run at one frame, as the readout table shows it."""

    step: int
    data_loss: float
    reg_loss: float
    total: float
    accuracy: float | None  # None for a test surface
    grad_norm: float
    off_plane: float  # 0 inside the slice
    status: str  # the run's status at its last frame, "running" before it
    slopes: tuple[float, float, float | None] | None = None  # d1·g, d2·g and ĝ along the step (see readout_at)


def readout_at(problem: Problem, result: RunResult, frame: int, plane: Plane | None = None) -> RunReadout:
    """The losses, accuracy, gradient norm and status of ``result`` at ``frame`` (clamped to its end).

    With the ``plane`` drawn, also the slopes there: the directional derivatives ``d1·g`` and
    ``d2·g`` per unit of a and of b, and ``g·u`` along the unit step ``u = Δθ/‖Δθ‖`` taken
    from this frame (None at the last frame or for a zero step): the slope in any direction
    is its dot product with the gradient.
    """
    step = min(frame, len(result.thetas) - 1)
    theta = result.thetas[step]
    objective = problem.objective
    with np.errstate(all="ignore"):  # a diverged iterate reads as inf or nan, and says so
        data_loss, reg_loss = objective.parts(theta)
        grad = objective.loss_grad(theta)[1]
        accuracy = objective.accuracy(theta) if problem.dataset is not None else None
        grad_norm = float(np.linalg.norm(grad))
    status = result.trajectory.status if step == len(result.thetas) - 1 else "running"
    slopes = None
    if plane is not None:
        with np.errstate(all="ignore"):
            along_step = None
            if step < len(result.thetas) - 1:
                delta = np.asarray(result.thetas[step + 1], dtype=float) - theta
                length = float(np.linalg.norm(delta))
                along_step = float(grad @ delta / length) if length > 0 and np.isfinite(length) else None
            slopes = (float(plane.d1 @ grad), float(plane.d2 @ grad), along_step)
    return RunReadout(step, float(data_loss), float(reg_loss), float(data_loss + reg_loss), accuracy, grad_norm,
                      float(result.residual[step]), status, slopes)
