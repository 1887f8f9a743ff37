"""What an experiment will cost, from its sizes alone: peak memory, work and a rough time.

Checked *before* anything is allocated — for generated data N, D = 2 and C are in the
spec, for points carried by the experiment their shape; bundled and CSV data are checked
once loaded — so that no input (a control, a CSV
file, a session file) can take the app past :data:`MEMORY_BUDGET`, and so that a job that
would run for many minutes is refused (``losslab render``) or confirmed (the window) first.

Sizes: N examples, D features, C classes, ``P = D*C + C`` parameters (2 in the slice
space), a G x G landscape grid, runs of T steps. Float64 and intp are 8 bytes each.

The two-layer network (``models.MLPModel``, ``hidden=H``) has ``P = D*H + H + H*C + C``,
and every size-dependent part scales with H: a loss is ~D*H + H*C multiply-adds and a few
passes over the (N, H) hidden layer per example; its landscape (``landscape._NetworkData``)
keeps three (N, H) pre-activation arrays and evaluates every grid point over N x H
activations (N x 2 on an axes plane; see :func:`_network_landscape_part`). ``hidden=None``
is the linear model, priced exactly as before.

The memory model, read off the code (``benchmarks/bench_budget.py`` and
``tests/test_budget.py`` compare it with tracemalloc's peaks):

- data: the dataset's X (N, D) and y (N,), and the Objective's private copies; building
  the Objective checks the labels against an (N, C) array (a transient N x C);
- one full evaluation of the loss (or its gradient): the scores and the loss's
  temporaries, about 4 + 5.5 C floats per example (every optimizer step evaluates the
  full loss once, whatever its batch); the network adds ~5 H (its hidden layer and the
  backward pass's (N, H) arrays), and 2 H per row of a minibatch for dropout's mask;
- the landscape: its per-loss tables, linear in N x C (hinge losses: 5 floats per term;
  structured SVM: 3 per term and 5 per line of its envelopes; softmax: 4 C^k / k per example, k examples per group), a set-up
  piece and one block of bounded size (``landscape._PIECE_TERMS``, ``_BLOCK_ELEMENTS``),
  and the G x G grids; the network's: three (N, H') pre-activation arrays of the H' hidden
  units the plane moves (all H, or 2 on an axes plane), three (N, C) output shares, and
  bounded pieces and steps;
- the runs: per step, the iterate (P_space floats, twice: list and stacked), the full
  theta (P floats) and ~200 bytes of Python objects; the optimum search (plane centred at
  the optimum) is 500 Adam steps; a PCA plane takes an SVD of the pooled (K, P) iterates,
  quadratic in min(K, P); a hessian plane the P x P Hessian at the centre and its
  eigendecomposition (P² memory, N P² work for softmax, P³ for the eigenvectors), or
  Lanczos past ``hessians.DENSE_LIMIT``.

Phases: the problem is built first (data + optimum search; a network's problem also fits
the linear classifier on the same data as its reference: 500 more Adam steps, the
"reference" part; a hessian plane is made at the centre, its own phase), then the runs,
then the landscape (one job: the landscape's window follows the runs). Counting the landscape and the runs as if they were held at the same
time keeps the estimate on the safe side. The peak is the largest phase.

Work is counted in *operations*: one elementwise NumPy pass over one float64 (about
:data:`SECONDS_PER_OP`); a multiply-add inside a BLAS matrix product counts
``landscape._MADD_WORK`` of one. ``seconds = work * SECONDS_PER_OP`` is a rough estimate
(within a factor of ~2 here, see the benchmark), summing the jobs as if they ran one
after the other.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import hessians as _hessians
from . import landscape as _landscape
from .datasets import load_bundled
from .optimizers import OPTIMIZERS
from .planes import PLANES

MEMORY_BUDGET = 2 * 2**30  # bytes: no experiment may need more (2 GB)
TIME_LIMIT = 300.0  # seconds: ``losslab render`` refuses a longer job
CONFIRM_SECONDS = 15.0  # seconds: the window asks before starting a longer job

# Seconds per operation, measured here with calibrate() (a 20,000-example svm landscape,
# 128 x 128, timed and divided by its counted work): 0.63-0.66 ns on the 2-core VM losslab
# is developed on when it is quiet (NumPy 2.4, OpenBLAS 0.3.31), 0.8-1.0 ns while other
# jobs share it. A plain elementwise add runs at 0.35-0.9 ns a float there.
SECONDS_PER_OP = 0.63e-9

_F = 8  # bytes per float64 (and per intp)
_ITERATE_BYTES = 200  # Python objects per recorded step: the iterate's ndarray, list slots, the loss float
_CALL_OPS = 55_000  # fixed cost of one loss or gradient call (Python and NumPy dispatch: ~35 us at N = 300)
_STEP_OPS = 25_000  # fixed cost of one optimizer step besides its calls (the update, the record)
# one full loss, per example: a + b*C + m*D*C operations (fitted to the five losses at
# N = 5,000..10^6, C = 3..100, D = 2..784, rounded up); softmax's exponentials add to b
_LOSS_OPS = (60, 15, 0.13)
_GRAD_OPS = (80, 17, 0.27)  # one full loss and its gradient, per example
_SOFTMAX_OPS = 8  # softmax's extra operations per example and class
_EVAL_FLOATS = (4, 5.5)  # one evaluation's working set, floats per example: a + b*C (tracemalloc: <= 3 + 5.2 C)
OPTIMUM_STEPS = 500  # experiment.find_optimum: Adam from zero, this many steps
_SURFACE_POINT_OPS = 40  # one point of an analytic test surface, vectorized
# the landscape's set-up: one piece's temporaries, bytes per (example, class) (tracemalloc, C = 3..100)
_ENVELOPE_SETUP_BYTES = 150  # the structured SVM's envelope tables: sorting each example's lines (measured)
_SETUP_BYTES = {"svm": 64, "squared_hinge": 64, "ova_svm": 80, "structured_svm": 56, "softmax": 220}
_OBJECTS_BYTES = 2**20  # the engine's small Python objects (runs, planes, specs, caches): a fixed allowance
_SVD_OPS = 4  # operations per K x P x min(K, P) of an SVD (LAPACK gesdd, a rough count)
_CSV_BYTES_PER_BYTE = 20.0  # peak bytes per byte of CSV text while parsing (rows of Python str cells)
_CSV_OPS_PER_BYTE = 800.0  # parsing, per byte of text (pure Python: 200-750 ns a byte)

# The two-layer network (H hidden units), measured by benchmarks/bench_budget.py --network at
# N = 2,000..50,000, D = 2..784, H = 16..1024, C = 3..100 (relu and tanh; min of repeats):
# one full loss, per example, on top of the loss's own a + b*C above: k + e*H + m*(D*H + H*C)
# (e: X W1's output, + b1, the activation, the (N, H) allocations; m: the two products'
# multiply-adds, BLAS-fast only for wide operands)
_MLP_LOSS_OPS = (0, 12, 0.10)
_MLP_GRAD_OPS = (300, 25, 0.18)  # one full loss and its gradient (the backward pass: 3 products, the slope)
# per parameter of a loss / gradient call: theta's copies, the penalized weights, the gradient's concatenation
_MLP_CALL_PARAM_OPS = (8, 10)
_MLP_STEP_PARAM_OPS = 20  # per parameter the run moves, per step: the update (Adam's moments) and the record
# one evaluation's hidden layer, floats per example and unit: a gradient (tracemalloc: 3.2-4.8 H); a
# minibatch with dropout adds its mask and the masked activations, 2 H per row of the batch
_MLP_EVAL_FLOATS = (5, 2)
# the network's landscape per grid point and example: per hidden unit (its pre-activation, the
# activation, the block buffers: ~6 passes), per class (the per-example loss), besides the output
# layer's 2 H C multiply-adds (the a-slope of W2 too); its set-up per example and unit: the three
# (N, H) pre-activation arrays and their moving columns (allocation bound), besides 3 D H multiply-adds
_NET_UNIT_OPS = 6
_NET_CLASS_OPS = 20
_NET_SETUP_OPS = 60
# one step of the landscape's ReLU path (bins, weights, indices, scores) or dense path (activations, the
# output layer, scores and the loss's temporaries): bounded by landscape._KINK_BLOCK, _NETWORK_BLOCK (<= 13 MiB)
_NET_STEP_BYTES = 16 * 2**20
# The hessian plane (``hessians.curvature`` at the centre, then its top two eigenvectors), measured by
# benchmarks/bench_curvature.py on the digits (P = 650 linear, 1210 dense and 4810 Lanczos network).
# Dense up to hessians.DENSE_LIMIT: eigh holds the Hessian, LAPACK's copy and workspace (2 P², dsyevd)
# and the eigenvectors (tracemalloc sees only NumPy's arrays, not LAPACK's buffers); its work per P³
# (one BLAS thread: 0.23 at P = 650 and 1210):
_EIGH_FLOATS = 5
_EIGH_OPS = 0.3
# one Hessian-vector product of the network, per example: k*(H + C) passes over its (K, N, H) and
# (K, N, C) blocks and m*(D*H + H*C) multiply-adds in small batched products (BLAS well below its best)
_HVP_PASS_OPS = 12
_HVP_MADD_OPS = 0.5


@dataclass(frozen=True)
class Part:
    """One part of a cost: its memory (bytes) and work (operations), what it is and what to lower.

    ``memory_what``/``work_what`` say where the number comes from with the sizes filled in
    ("the landscape's tables: N × (C − 1) = 1,000,000 × 99 loss terms"); ``memory_lower``
    and ``work_lower`` name the settings that shrink it, most effective first.
    """

    memory: int
    work: float
    memory_what: str
    work_what: str
    memory_lower: tuple[str, ...]
    work_lower: tuple[str, ...]


@dataclass(frozen=True)
class Cost:
    """The estimated cost of an experiment.

    memory: peak bytes (the largest phase, see the module docstring); work: operations
    (elementwise float64 passes); seconds: ``work * SECONDS_PER_OP``; parts: ``{name:
    Part}`` for "data", "optimum", "reference" (a network's), "runs", "plane" (a pca or
    hessian plane's making), "landscape" (those that apply), so a message can say what dominates and what to lower.
    """

    memory: int
    work: float
    seconds: float
    parts: dict[str, Part] = field(default_factory=dict)

    def largest(self, by: str) -> tuple[str, Part]:
        """The part with the most ``"memory"`` or ``"work"``: ``(name, part)``."""
        return max(self.parts.items(), key=lambda item: getattr(item[1], by))


# --- the model ------------------------------------------------------------------------------

def problem_cost(n: int, d: int, c: int, resolution: int, runs: Sequence[tuple[str, int, int | None]],
                 loss: str, *, space: str = "slice", plane: str = "axes", centre: str = "optimum",
                 hidden: int | None = None) -> Cost:
    """The cost of a classifier experiment from its sizes: N = n, D = d, C = c, G = resolution.

    runs: one ``(method, steps, batch_size)`` per enabled optimizer (``OPTIMIZERS`` names;
    batch_size None: the method's default, 0: the full batch). loss: a ``LOSSES`` name.
    space: ``"slice"`` (the optimizers run in the plane, 2 parameters) or ``"full"``;
    plane: a ``PLANES`` kind (pca and interpolation planes are made from the runs, in the
    full space); centre: ``"optimum"`` (500 Adam steps first), ``"zero"`` or ``"init"``
    (the model's random start: no search either). hidden: the two-layer network's H
    (``P = D*H + H + H*C + C``); None: the linear classifier (``P = D*C + C``).
    """
    n, d, c, G = (_count(v, name) for v, name in ((n, "n"), (d, "d"), (c, "c"), (resolution, "resolution")))
    if c < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got c = {c}")
    if loss not in _landscape._TABLE_WORK:
        raise ValueError(f"loss must be one of {', '.join(_landscape._TABLE_WORK)}; got {loss!r}")
    PLANES[plane]  # an unknown kind raises, listing the valid ones
    for value, name, choices in ((space, "space", ("slice", "full")), (centre, "centre", ("optimum", "zero", "init"))):
        if value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    h = None if hidden is None else _count(hidden, "hidden")
    P = d * c + c if h is None else d * h + h + h * c + c
    full_space = space == "full" or PLANES[plane].extra["from_runs"]
    P_space = P if full_space else 2
    runs = [_run_spec(r, n) for r in runs]

    data = 2 * n * d * _F + 2 * n * _F + _OBJECTS_BYTES
    # while building: the generator's temporaries (~40 B an example), the label check's
    # (N, C) zeros and their finiteness mask, X's finiteness mask
    build = n * (40 + c * (_F + 1) + d)
    evaluation = int(n * (_EVAL_FLOATS[0] + _EVAL_FLOATS[1] * c) * _F)
    if h is not None:  # the hidden layer, and dropout's on the largest minibatch
        evaluation += (n * _MLP_EVAL_FLOATS[0] + max((b for _, _, b in runs), default=0) * _MLP_EVAL_FLOATS[1]) * h * _F
    parts = {"data": Part(data + build, n * (100 * d + 2 * c), f"the data: N × D = {n:,} × {d} values, kept twice",
                          f"the data: N × D = {n:,} × {d}", ("N",), ("N",))}

    optimum = 0
    if centre == "optimum" and h is None:
        optimum = evaluation + (OPTIMUM_STEPS + 1) * (2 * P * _F + _ITERATE_BYTES)
        parts["optimum"] = Part(
            optimum, OPTIMUM_STEPS * (_grad_ops(n, d, c, loss) + _STEP_OPS),
            f"the search for the optimum: N × C = {n:,} × {c} scores per step",
            f"the search for the optimum: {OPTIMUM_STEPS} steps × N × C = {OPTIMUM_STEPS} × {n:,} × {c}",
            ("N", "the number of classes"), ("N", "the number of classes", "(or centre the plane at zero)"))
    elif centre == "optimum":  # the network: Adam from its random start, every iterate kept
        iterates = (OPTIMUM_STEPS + 1) * (2 * P * _F + _ITERATE_BYTES)
        optimum = evaluation + iterates
        if iterates > evaluation:
            memory_what = f"the search for the optimum: {OPTIMUM_STEPS + 1} iterates × P = {P:,} parameters"
            memory_lower = ("the hidden units", "the number of features", "(or centre the plane at the start)")
        else:
            memory_what = f"the search for the optimum: N × H = {n:,} × {h:,} hidden activations per step"
            memory_lower = ("N", "the hidden units", "(or centre the plane at the start)")
        parts["optimum"] = Part(
            optimum, OPTIMUM_STEPS * (_grad_ops(n, d, c, loss, h, P) + _STEP_OPS + _MLP_STEP_PARAM_OPS * P),
            memory_what,
            f"the search for the optimum: {OPTIMUM_STEPS} steps × N × H = {OPTIMUM_STEPS} × {n:,} × {h:,}",
            memory_lower, ("N", "the hidden units", "(or centre the plane at the start)"))

    reference = reference_held = 0
    if h is not None:  # a network's problem also fits the linear classifier on the same data (its reference)
        linear_P = d * c + c
        reference_held = n * d * _F + n * _F  # the linear Objective's private copies of X and y
        reference = int(n * (_EVAL_FLOATS[0] + _EVAL_FLOATS[1] * c) * _F) + \
            (OPTIMUM_STEPS + 1) * (2 * linear_P * _F + _ITERATE_BYTES)
        parts["reference"] = Part(
            reference_held + reference, OPTIMUM_STEPS * (_grad_ops(n, d, c, loss) + _STEP_OPS),
            f"the linear classifier's reference fit: N × C = {n:,} × {c} scores per step",
            f"the linear classifier's reference fit: {OPTIMUM_STEPS} steps × N × C = {OPTIMUM_STEPS} × {n:,} × {c}",
            ("N", "the number of classes"), ("N", "the number of classes"))

    runs_part = _runs_part(runs, n, d, c, P, P_space, evaluation, loss, h)
    parts["runs"] = runs_part
    trajectories = _trajectory_bytes(runs, P, P_space)
    if plane == "pca" and runs:
        K = sum(steps + 1 for _, steps, _ in runs)
        m = min(K, P)
        parts["plane"] = Part((2 * K * P + K * m + m * P + 4 * m * m) * _F, _SVD_OPS * K * P * m,
                              f"the PCA plane: an SVD of the K × P = {K:,} × {P:,} iterates",
                              f"the PCA plane: an SVD of the K × P = {K:,} × {P:,} iterates",
                              ("the steps", "the number of features or classes" if h is None
                               else "the hidden units"), ("the steps",))

    parts["landscape"] = _landscape_part(n, d, c, G, loss) if h is None else \
        _network_landscape_part(n, d, c, h, G, loss, plane)
    hessian = 0
    if plane == "hessian":  # made while the problem is built, at the centre: its memory is gone by the runs
        parts["plane"] = _hessian_part(n, d, c, loss, h)
        hessian = parts["plane"].memory

    # the phases (module docstring): build, then landscape and runs together (or one after the other)
    landscape = parts["landscape"].memory
    if PLANES[plane].extra["from_runs"]:  # the runs first, then the plane made from them, then its landscape
        plane_memory = parts["plane"].memory if "plane" in parts else 0
        later = max(runs_part.memory, trajectories + plane_memory, trajectories + landscape)
    else:
        later = runs_part.memory + landscape
    memory = data + reference_held + max(build, optimum, reference, hessian, later)  # = the largest phase
    work = sum(part.work for part in parts.values())
    return Cost(int(memory), float(work), work * SECONDS_PER_OP, parts)


def experiment_cost(experiment: Any, n: int | None = None, d: int | None = None, c: int | None = None) -> Cost:
    """:func:`problem_cost` for an :class:`~losslab.engine.experiment.Experiment` (validated or not).

    n, d, c: the data's sizes; for generated data they default to the spec's (D = 2), for
    bundled data to the shipped file's, for points (``problem.points``) to theirs; CSV data
    must pass them (known once loaded). A
    test surface (``problem.source == "surface"``) ignores them: its P is 2. The model is
    ``experiment.model`` (kind ``"mlp"``: the two-layer network of ``model.hidden`` units);
    an experiment without one is a linear classifier.
    """
    problem = experiment.problem
    resolution = experiment.plane.resolution
    enabled = [r for r in experiment.runs if r.enabled]
    steps = [experiment.steps if r.steps is None else r.steps for r in enabled]
    if problem.source == "surface":
        return _surface_cost(resolution, [(r.method, t) for r, t in zip(enabled, steps)])
    if problem.source == "generated":
        n, d, c = (problem.n if n is None else n), (2 if d is None else d), (problem.classes if c is None else c)
    elif problem.source == "bundled" and None in (n, d, c):
        data = load_bundled(problem.kind)  # shipped and small: its shape is the cheapest way to know it
        n, d, c = data.n_examples, data.n_features, data.n_classes
    elif problem.source == "points" and None in (n, d, c):
        points = problem.points  # carried by the experiment: its sizes are known
        if points is None:
            raise ValueError("problem.points: a \"points\" problem needs its examples")
        n, d, c = points.n_examples, points.n_features, points.n_classes
    elif None in (n, d, c):
        raise ValueError("the cost of CSV data is known once it is loaded: pass n, d and c")
    runs = []
    for r, t in zip(enabled, steps):
        hyper = r.hyper_dict
        batch = hyper.get("batch_size")
        if OPTIMIZERS[r.method].extra["gradient"] == "either" and not batch and hyper.get("keep_prob", 1.0) < 1.0:
            batch = n  # dropout on every row: a minibatch of all N
        runs.append((r.method, t, batch))
    space = "slice" if experiment.slice_space else "full"
    model = getattr(experiment, "model", None)
    hidden = model.params.get("hidden") if model is not None else None  # a network's width; None if linear
    return problem_cost(n, d, c, resolution, runs, experiment.objective.loss, space=space,
                        plane=experiment.plane.kind, centre=experiment.plane.centre, hidden=hidden)


def steps_per_yield(n: int, d: int, c: int, method: str, loss: str, params: int = 2, batch_size: int | None = None,
                    seconds: float = 0.03, *, hidden: int | None = None) -> int:
    """How many steps of one run take about ``seconds`` (at least 1): where a run job should yield.

    n, d, c: the data's sizes (a surface: n = 1, c = 2); params: the parameters the run
    moves (2 in the slice, P in the full space: numerical gradients cost 2 * params losses);
    hidden: the two-layer network's H (None: the linear classifier).
    """
    method, _, batch = _run_spec((method, 1, batch_size), _count(n, "n"))
    d, c, params = _count(d, "d"), _count(c, "c"), _count(params, "params")
    if hidden is None:
        P = params
    else:
        h = _count(hidden, "hidden")
        P = d * h + h + h * c + c  # every call costs the network's whole theta, whatever the run moves
    per_step = _runs_part([(method, 1, batch)], n, d, c, P, params, 0, loss, hidden).work
    return max(1, int(seconds / (per_step * SECONDS_PER_OP)))


def csv_cost(n_bytes: int) -> Cost:
    """The memory of parsing a CSV text of ``n_bytes`` (decompressed), before its size is known.

    ``parse_csv`` holds every cell as a Python string in a list per row: 12-19 bytes per
    byte of text at its peak (measured with tracemalloc on 20,000 rows of 2 and of 64
    features), and ~200-750 ns per byte. Check it before parsing a file past a few MB.
    """
    n_bytes = _count(n_bytes, "n_bytes", low=0)
    memory = int(_CSV_BYTES_PER_BYTE * n_bytes)
    text = f"reading the CSV file: {format_bytes(n_bytes)} of text"
    part = Part(memory, _CSV_OPS_PER_BYTE * n_bytes, f"{text} as Python strings", text, ("the size of the file",),
                ("the size of the file",))
    return Cost(memory, part.work, part.work * SECONDS_PER_OP, {"data": part})


def _count(value: Any, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer of at least {low}, got {value!r}")
    return int(value)


def _run_spec(run: tuple, n: int) -> tuple[str, int, int]:
    """``(method, steps, batch)`` with the batch resolved: 0 for full-batch gradients, else the rows per step."""
    method, steps, batch = run
    entry = OPTIMIZERS[method]
    steps = _count(steps, "steps", low=0)
    source = entry.extra["gradient"]
    if source in ("minibatch", "either"):
        batch = entry.param("batch_size").default if batch is None else int(batch)
        batch = min(batch, n)  # as Run: a batch never exceeds N (0 = the full batch)
    else:
        batch = 0
    return entry.name, steps, batch


def _loss_ops(rows: int, d: int, c: int, loss: str, hidden: int | None = None, P: int = 0) -> float:
    """One loss over ``rows`` examples; ``hidden``: the network's (P its parameters), else the linear model's."""
    a, b, m = _LOSS_OPS
    if hidden is None:
        return _CALL_OPS + rows * (a + (b + _SOFTMAX_OPS * (loss == "softmax")) * c + m * d * c)
    k, e, m = _MLP_LOSS_OPS
    return (_CALL_OPS + _MLP_CALL_PARAM_OPS[0] * P
            + rows * (a + (b + _SOFTMAX_OPS * (loss == "softmax")) * c + k + e * hidden + m * (d + c) * hidden))


def _grad_ops(rows: int, d: int, c: int, loss: str, hidden: int | None = None, P: int = 0) -> float:
    """One loss and its gradient over ``rows`` examples (as :func:`_loss_ops`)."""
    a, b, m = _GRAD_OPS
    if hidden is None:
        return _CALL_OPS + rows * (a + (b + _SOFTMAX_OPS * (loss == "softmax")) * c + m * d * c)
    k, e, m = _MLP_GRAD_OPS
    return (_CALL_OPS + _MLP_CALL_PARAM_OPS[1] * P
            + rows * (a + (b + _SOFTMAX_OPS * (loss == "softmax")) * c + k + e * hidden + m * (d + c) * hidden))


STATE_ARRAYS = {"momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2}  # Trajectory.states per method


def _trajectory_bytes(runs: list[tuple[str, int, int]], P: int, P_space: int) -> int:
    """Every run's record: iterates in the run's space (a list, then stacked), full thetas, (a, b), residuals,
    and the optimizer's state after each step (a list, then stacked, like the iterates)."""
    return sum((steps + 1) * ((2 + 2 * STATE_ARRAYS.get(method, 0)) * P_space * _F + _ITERATE_BYTES + (P + 3) * _F)
               for method, steps, _ in runs)


def _runs_part(runs: list[tuple[str, int, int]], n: int, d: int, c: int, P: int, P_space: int,
               evaluation: int, loss: str, hidden: int | None = None) -> Part:
    """The optimizers, one after the other: per-step work by method, trajectories kept.

    hidden: the network's H (its calls cost P = the whole theta each, and its updates
    P_space per step); None: the linear classifier.
    """
    work = 0.0
    numerical_steps = 0
    h = hidden
    step_ops = _STEP_OPS + (0 if h is None else _MLP_STEP_PARAM_OPS * P_space)
    for method, steps, batch in runs:
        source = OPTIMIZERS[method].extra["gradient"]
        if source == "none":  # the candidate's loss
            per_step = _loss_ops(n, d, c, loss, h, P)
        elif source == "numerical":  # 2P losses for the gradient, one for the new iterate
            per_step = (2 * P_space + 1) * _loss_ops(n, d, c, loss, h, P)
            numerical_steps += steps
        elif batch == 0:  # the full gradient, evaluated with the new iterate's loss
            per_step = _grad_ops(n, d, c, loss, h, P)
        else:  # a minibatch gradient, then the full loss of the new iterate (for the plots)
            per_step = _grad_ops(batch, d, c, loss, h, P) + _loss_ops(n, d, c, loss, h, P)
        work += steps * (per_step + step_ops)
    total_steps = sum(steps for _, steps, _ in runs)
    trajectories = _trajectory_bytes(runs, P, P_space)
    longest = max((steps for _, steps, _ in runs), default=0)
    projection = 2 * (longest + 1) * P * _F if P_space == P else 0  # project(): offsets and their fit
    rows = 2 * n * _F  # Run's row indices and a minibatch permutation
    memory = (evaluation + rows if runs else 0) + trajectories + projection
    # what the size-dependent work is over: N x C scores (linear), N x H activations (network)
    size, sizes, lower = ("N × C", f"{n:,} × {c}", "the number of classes") if h is None else \
        ("N × H", f"{n:,} × {h:,}", "the hidden units")
    if trajectories + projection > evaluation:
        memory_what = f"the runs' trajectories: {total_steps:,} steps × P = {P:,} parameters"
        memory_lower = ("the steps", "the number of optimizers")
    else:
        memory_what = f"the runs: {size} = {sizes} {'scores' if h is None else 'hidden activations'} per step"
        memory_lower = ("N", lower)
    if numerical_steps and 2 * P_space > 8:
        work_what = (f"the runs: steps × {size} = {total_steps:,} × {sizes}, numerical gradients "
                     f"2P = {2 * P_space:,} losses a step")
        work_lower = ("the numerical gradient's steps", "N", "(or run it in the slice)")
    else:
        work_what = f"the runs: steps × {size} = {total_steps:,} × {sizes}"
        work_lower = ("the steps", "N", lower)
    return Part(int(memory), work, memory_what, work_what, memory_lower, work_lower)


def _landscape_part(n: int, d: int, c: int, G: int, loss: str) -> Part:
    """The data landscape of a linear classifier, as ``landscape.py`` computes it."""
    L = _landscape
    K = c - 1  # wrong classes
    piece = max(1, L._PIECE_TERMS // c)  # examples per piece of the tables
    n_piece = min(n, piece)
    fixed, per_class = L._TABLE_WORK[loss]
    setup_work = n * (fixed + per_class * c + 3 * c * d * L._MADD_WORK)
    setup_bytes = n_piece * c * _SETUP_BYTES[loss]
    if loss in ("svm", "squared_hinge", "ova_svm"):
        power = 2 if loss == "squared_hinge" else 1
        terms = n * (c if loss == "ova_svm" else K)
        piece_terms = min(terms, L._PIECE_TERMS)
        tables = 5 * terms * _F  # per sloped term: c0, slope, c2, 1/slope, value at the anchor
        row_work = L._RAMP_WORK[power] * terms + 16 * (power + 1) * G
        rows = L._block_rows(4 * max(piece_terms, G), row_work, 1, G)
        # per row: the terms' values, kink indices, weights, bin offsets and tiled slopes (kept
        # for the next block); the bins, prefix sums and the row's values
        block = rows * ((8 if power == 1 else 11) * piece_terms + (20 if power == 1 else 28) * G) * _F
        what, work_what = f"N × {'C' if loss == 'ova_svm' else '(C − 1)'} = {n:,} × {terms // n} loss terms", \
            f"N × C × rows = {n:,} × {c} × {G}"
    elif loss == "structured_svm" and c <= L._ENVELOPE_LINES:
        # the envelope path: per example its C lines sorted by slope (5 float tables and 2 masks
        # of C each, beside the 3 coefficient tables); per block of rows ~14 (C, rows, examples)
        # arrays of one piece, and the rows' bins
        lines = c
        setup_bytes = n_piece * c * _ENVELOPE_SETUP_BYTES
        tables = (3 * K + 5 * lines) * n * _F + 2 * lines * n
        row_work = n * (L._ENVELOPE_WORK * lines * (lines - 1) / 2 + 30 * lines) + 16 * G
        rows = L._block_rows(4 * G, row_work, 1, G)
        rows_per = max(1, L._BLOCK_ELEMENTS // (8 * lines * n_piece))
        block = (14 * lines * min(rows_per, rows) * n_piece + 8 * rows * (G + 1)) * _F
        what, work_what = f"N × C = {n:,} × {c} lines of the loss's envelopes", \
            f"N × C² × rows = {n:,} × {c}² × {G}"
    elif loss == "structured_svm":  # many classes: evaluated directly, block by block
        tables = 3 * n * K * _F
        row_work = n * G * (L._MAX_WORK * K + 1)
        rows = L._block_rows(2 * G, row_work, 1, G)
        step = max(1, L._BLOCK_ELEMENTS // (2 * G))
        block = (3.5 * min(n_piece, step) * G + 2 * rows * G) * _F
        what, work_what = f"N × (C − 1) = {n:,} × {K} loss terms", \
            f"N × C × grid points = {n:,} × {c} × {G}²"
    else:  # softmax: groups of k examples, C^k columns each
        k = L._group_size(c)
        width = c ** k
        groups = -(-n // k)
        E = groups * width * G
        pref = L._softmax_rows(G)
        stored = G > pref and E <= L._E_STORED  # kept when they serve several blocks of rows
        tables = (4 * groups * width + (E if stored else 0)) * _F
        row_work = groups * (width * (G * L._MADD_WORK + 2 + (0 if stored else L._EXP_WORK * G / pref))
                             + L._REDUCE_WORK * G)
        rows = L._block_rows(L._BLOCK_ELEMENTS // pref, row_work, 1 if stored else pref, G)
        c_groups = min(L._CHUNK_GROUPS, groups)
        span = min(groups, max(c_groups, L._BLOCK_ELEMENTS // (width * max(rows, G)) // c_groups * c_groups))
        block = L._SOFTMAX_THREADS * (3 * span * width * G + (c_groups + 6) * rows * G) * _F  # buffers per thread
        what, work_what = f"N × C^{k} / {k} = {n:,} × {width} / {k} softmax factors", \
            f"N × C × grid points = {n:,} × {c} × {G}²"
    grids = 4 * G * G * _F  # data and penalty parts, their total and the picture's values (a safe margin)
    reg_work = G * (2 * d * c * 12 + 40 * G)  # the penalty surface: O(G^2) (L2), or ramps over W (L1)
    memory = tables + max(setup_bytes, block) + grids
    if grids > tables:
        memory_what, memory_lower = f"the landscape's grids: {G} × {G} points", ("the resolution",)
    else:
        memory_what, memory_lower = f"the landscape's tables: {what}", ("N", "the number of classes")
    return Part(int(memory), setup_work + G * row_work + reg_work, memory_what, f"the landscape: {work_what}",
                memory_lower, ("N", "the number of classes", "the resolution"))


def _network_landscape_part(n: int, d: int, c: int, h: int, G: int, loss: str, plane: str) -> Part:
    """The data landscape of the two-layer network (``landscape._NetworkData``), from its sizes.

    The three (N, H) pre-activation arrays ``Z0, Z1, Z2`` are made once (``3 N D H``
    multiply-adds); per grid point remain the moving units' activations, the output
    layer's multiply-adds and the loss's N x C. An axes plane moves at most 2 hidden units
    (one coordinate of W1 or b1 each): the others' share of the scores is made once (3 N H C
    multiply-adds); any other plane moves them all. The work is the dense path's, for every
    activation: the ReLU path bins kinks only where that is cheaper, so this bounds it.
    The memory: the moving units' three (H', N) pre-activation arrays, made a piece of
    examples at a time (``landscape._PIECE_TERMS`` / H of them), and the steps' working sets
    (tracemalloc: 3.7-4.8 N H floats on a random plane, less than 1 N H on an axes plane).

    An axes plane on the output layer only (W2 or b2) takes the linear tables over the H
    hidden features instead: cheaper work, so the work here over-estimates it (on the safe
    side); its memory (the (N, H) features and those tables) is counted when it is larger.
    """
    L = _landscape
    softmax = loss == "softmax"
    P = d * h + h + h * c + c
    units = min(2, h) if plane == "axes" else h  # hidden units the plane moves
    # one step of either path, bounded whatever the sizes (landscape._KINK_BLOCK, _NETWORK_BLOCK)
    block = _NET_STEP_BYTES
    # kept: Z0..Z2 (H', N), F0..F2 (C, N), the plane's and the penalty's copies of theta, the examples'
    # order; per step the rows' pre-activations (r, H', n) and the like: 2 more H' per example. The set-up
    # piece: the three (n, H) products, the fixed units' activation and their transposed copies
    hidden_bytes = 5 * units * n * _F + 5 * min(n * h, L._PIECE_TERMS + h) * _F
    held = hidden_bytes + (3 * n * c + n * d + n) * _F + 6 * P * _F
    rows = 2 * n * c * _F + block  # a step's output share and its temporaries
    grids = 4 * G * G * _F
    memory = held + rows + grids
    # the plane moving only the output layer: the hidden features and the linear tables over them
    memory = max(memory, 2 * n * h * _F + _landscape_part(n, h, c, G, loss).memory)
    setup_work = n * h * (_NET_SETUP_OPS + 3 * d * L._MADD_WORK + (3 * c * L._MADD_WORK if units < h else 0))
    point_work = n * (_NET_UNIT_OPS * units + 2 * units * c * L._MADD_WORK
                      + (_NET_CLASS_OPS + _SOFTMAX_OPS * softmax) * c)
    row_work = 3 * n * units + G * point_work  # the row's pre-activations at a = 0, then its G points
    reg_work = G * (2 * (d + c) * h * 12 + 40 * G)  # the penalty surface: O(G^2) (L2), or ramps over W1, W2 (L1)
    if grids > hidden_bytes:
        memory_what, memory_lower = f"the landscape's grids: {G} × {G} points", ("the resolution",)
    else:
        memory_what = f"the landscape's hidden layer: N × H = {n:,} × {h:,} pre-activations, several times"
        memory_lower = ("N", "the hidden units")
    return Part(int(memory), setup_work + G * row_work + reg_work, memory_what,
                f"the landscape: N × {'H' if units == h else 'C'} × grid points = "
                f"{n:,} × {units if units == h else c:,} × {G}²",
                memory_lower, ("N", "the hidden units" if units == h else "the number of classes", "the resolution"))


def _hessian_part(n: int, d: int, c: int, loss: str, hidden: int | None) -> Part:
    """The hessian plane: the Hessian at the centre and its eigenpairs (``losslab.engine.hessians``).

    Dense up to ``hessians.DENSE_LIMIT`` parameters: the Hessian's assembly (the linear
    model's ``UᵀU`` for softmax, N P² multiply-adds, its ``X̃ᵀ diag X̃`` products for
    squared hinge, nothing for the hinge losses; the network's Kronecker sums over
    examples, N D² H² multiply-adds), its pieces of examples bounded by
    ``hessians._PIECE_ELEMENTS``, then ``numpy.linalg.eigh`` (``_EIGH_FLOATS`` P² floats,
    ``_EIGH_OPS`` P³ work). Beyond the limit, Lanczos: at most ``LANCZOS_MAX_STEPS``
    Hessian-vector products, a basis of that many P-vectors and their products.
    """
    madd = _landscape._MADD_WORK
    piece = _hessians._PIECE_ELEMENTS
    dp = d + 1
    if hidden is None:
        P = dp * c
        hvp_work = n * (6 * c + 2 * d * c * madd)  # one product: the scores' direction, A_i, and back
        hvp_floats = 6 * n * c
        held = 2 * n * c  # the scores and the loss's curvature in them
    else:
        h = hidden
        P = dp * h + (h + 1) * c
        hvp_work = n * (_HVP_PASS_OPS * (h + c) + _HVP_MADD_OPS * (d * h + h * c))
        hvp_floats = 8 * n * (h + c)
        held = 5 * n * h + 3 * n * c  # the hidden layer, its slopes and the scores' gradient
    if P <= _hessians.DENSE_LIMIT:
        if hidden is not None:  # the two layers' blocks, their products per piece, and their transposed copies
            first, second = dp * hidden, (hidden + 1) * c
            per_row = dp * dp + hidden * hidden + dp * (hidden + 1) + 2 * hidden * c + (hidden + 1) ** 2 + 2 * c * c
            build_floats = P * P + 2 * first * first + 2 * first * second + 2 * second * second + 2 * min(
                n * per_row, piece)
            build = n * (dp * dp * hidden * hidden + dp * (hidden + 1) * hidden * c
                         + (hidden + 1) ** 2 * c * c) * madd + 3 * n * per_row
        elif loss == "softmax":  # H, UᵀU, and a piece of U and of x̃ ⊗ p
            rows = min(n, max(1, piece // (P + c * dp)))
            build_floats = 2 * P * P + rows * (P + c * dp + 2 * dp)
            build = n * (P * P + c * dp * dp) * madd + 4 * n * P
        elif loss == "squared_hinge":
            rows = min(n, max(1, piece // (c * dp)))
            build_floats = 2 * P * P + rows * (2 * c * dp + 2 * dp)
            build = n * c * dp * dp * madd + 4 * n * P + c ** 3 * dp * dp
        else:  # the hinge losses: the penalty's diagonal only
            build_floats, build = 2 * P * P, 2 * P * P
        memory = max(build_floats, _EIGH_FLOATS * P * P) + held
        work = build + _EIGH_OPS * P ** 3 + 10 * P * P
        what = f"the hessian plane: the P × P = {P:,} × {P:,} Hessian and its eigenvectors"
        work_what = (f"the hessian plane: N × P² = {n:,} × {P:,}² for the Hessian, P³ for its eigenvectors"
                     if hidden is not None or loss == "softmax" else
                     f"the hessian plane: P³ = {P:,}³ for the eigenvectors")
    else:
        steps = _hessians.LANCZOS_MAX_STEPS
        pairs = _hessians.LANCZOS_PAIRS
        memory = 2 * steps * P + steps * steps + pairs * hvp_floats + 2 * pairs * P + held
        work = steps * (hvp_work + 6 * steps * P)
        what = f"the hessian plane: Lanczos, {steps} × P = {steps} × {P:,} basis vectors and their products"
        work_what = f"the hessian plane: up to {steps} Hessian-vector products over N = {n:,} examples"
    lower = ("the number of features or classes" if hidden is None else "the hidden units", "(or another plane)")
    return Part(int(memory * _F), float(work), what, work_what, lower, lower)


def _surface_cost(resolution: int, runs: list[tuple[str, int]]) -> Cost:
    """An analytic test surface: P = 2, no data; every evaluation is a small fixed cost."""
    G = _count(resolution, "resolution")
    steps = [(_run_spec((m, t, None), 1)[0], _count(t, "steps", low=0)) for m, t in runs]
    work = sum(t * ((5 if OPTIMIZERS[m].extra["gradient"] == "numerical" else 1) * _CALL_OPS + _STEP_OPS)
               for m, t in steps)
    trajectories = sum((t + 1) * (4 * 2 * _F + _ITERATE_BYTES) for _, t in steps) + _OBJECTS_BYTES
    total = sum(t for _, t in steps)
    grids = 4 * G * G * _F + _landscape._BLOCK_ELEMENTS * 4 * _F
    parts = {"runs": Part(trajectories, work, f"the runs' trajectories: {total:,} steps",
                          f"the runs: {total:,} steps", ("the steps",), ("the steps",)),
             "landscape": Part(grids, G * G * _SURFACE_POINT_OPS, f"the landscape's grids: {G} × {G} points",
                               f"the landscape: {G} × {G} points", ("the resolution",), ("the resolution",))}
    memory = trajectories + grids
    work_total = work + G * G * _SURFACE_POINT_OPS
    return Cost(memory, work_total, work_total * SECONDS_PER_OP, parts)


# --- refusals -----------------------------------------------------------------------------------

def check_memory(cost: Cost, budget: int = MEMORY_BUDGET) -> None:
    """Raise ``ValueError`` if ``cost.memory`` exceeds ``budget``, naming the largest part and what to lower."""
    if cost.memory <= budget:
        return
    _, part = cost.largest("memory")
    raise ValueError(f"this needs about {format_bytes(cost.memory)} of memory ({part.memory_what}), "
                     f"over the {format_bytes(budget)} budget: lower {_either(part.memory_lower)}")


def check_time(cost: Cost, limit_seconds: float = TIME_LIMIT) -> None:
    """Raise ``ValueError`` if ``cost.seconds`` exceeds ``limit_seconds``, with the estimate and what to lower."""
    if cost.seconds <= limit_seconds:
        return
    _, part = cost.largest("work")
    raise ValueError(f"this would run for {format_seconds(cost.seconds)} ({part.work_what}), "
                     f"over the {format_seconds(limit_seconds, about=False)} limit: lower {_either(part.work_lower)}")


def _either(names: tuple[str, ...]) -> str:
    """"N, the number of classes or the resolution"; a trailing "(or ...)" aside is kept as is."""
    plain = [x for x in names if not x.startswith("(")]
    aside = [x for x in names if x.startswith("(")]
    text = plain[0] if len(plain) == 1 else ", ".join(plain[:-1]) + " or " + plain[-1]
    return " ".join([text, *aside])


def format_bytes(n_bytes: float) -> str:
    """Binary sizes as people read them: "850 MB", "3.6 GB" (1 GB = 2**30 bytes, so the budget reads "2 GB")."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n_bytes >= size:
            value = n_bytes / size
            return f"{value:.1f} {unit}" if value < 10 and value != int(value) else f"{value:.0f} {unit}"
    return f"{int(n_bytes)} bytes"


def format_seconds(seconds: float, about: bool = True) -> str:
    """"about 40 seconds", "about 9 minutes", "about 2 hours" (``about=False``: "5-minute")."""
    for unit, size in (("hour", 3600.0), ("minute", 60.0), ("second", 1.0)):
        if seconds >= size or unit == "second":
            value = max(1, round(seconds / size))
            if not about:
                return f"{value}-{unit}"
            return f"about {value} {unit}{'s' if value != 1 else ''}"
    raise AssertionError("unreachable")


# --- calibration ---------------------------------------------------------------------------------

def calibrate(repeats: int = 3) -> float:
    """Seconds per operation on this machine, from a tiny real job: best of ``repeats``, ~0.1 s each.

    The job: the svm landscape of 20,000 generated examples in 3 classes on a random plane,
    128 x 128, divided by the work this model counts for it. How :data:`SECONDS_PER_OP`
    was measured; benchmarks/bench_budget.py prints it next to the timings of each part.
    """
    from .datasets import make_dataset
    from .objective import Objective
    from .planes import Plane

    n, c, G = 20_000, 3, 128
    data = make_dataset("blobs", n=n, classes=c, seed=0)
    objective = Objective(data.X, data.y, loss="svm", reg="none")
    plane = Plane.random(np.full(objective.n_params, 0.3), (2, c), seed=1)
    a = np.linspace(-2.0, 2.0, G)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        _landscape.loss_surface(objective, plane, a, a, "data")
        best = min(best, time.perf_counter() - start)
    return best / _landscape_part(n, 2, c, G, "svm").work
