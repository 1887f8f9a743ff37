"""Loss landscapes: the loss over a grid of a slice plane, exact and fast; display helpers.

``Z[j, i]`` is the loss at ``plane.point(a_values[i], b_values[j])``: rows are b,
columns are a (an image with b going up the rows). ``part`` picks ``"total"``,
``"data"`` (the mean data loss) or ``"reg"`` (``lam * R(W)``), as in ``Objective.parts``.

Exact means: equal to evaluating ``objective.loss`` point by point up to floating-point
rounding (1e-9 relative, or about 1e-15 of the score scale where the loss is ~0). Fast
rests on one fact — the scores are affine in (a, b),

    S(a, b) = S0 + a*S1 + b*S2,   S0 = X W0 + b0,  S1 = X W1 + b1,  S2 = X W2 + b2,

so the N x D x C products happen once, never per grid point — and on a shortcut per loss:

- hinge losses (svm, ova_svm) and L1: along a row (b fixed) every term is a ramp in a with
  one kink; binning the kinks into the a-grid (one ``bincount`` per coefficient) and taking
  prefix sums gives the row in O(N*C + G) instead of O(N*C*G);
- squared hinge: the same with the coefficients of a quadratic;
- softmax: ``exp(m0 + a*m1 + b*m2) = exp(m0 + a*m1) * exp(b*m2)``, so the class sums of a
  group of k examples, multiplied together, are one small matrix product for the whole
  grid, leaving one logarithm per grid point per group; examples whose exponentials could
  overflow or underflow take a guarded path (per-point, max-shifted);
- L2 (and elastic net's L2 part): an exact quadratic in (a, b);
- structured SVM (a max over classes): along a row each example's term is the upper envelope of
  C lines in a; its pieces are binned into the a-grid like the hinges' kinks, O(N C^2 + G) per
  row (beyond 16 classes a vectorized direct evaluation, O(G^2 N C)).

That is the linear model (capability ``"affine_scores"``). For the two-layer network
(``"affine_hidden"``) the hidden pre-activations are affine in (a, b) instead,
``Z(a, b) = Z0 + a Z1 + b Z2``, so the N x D x H products happen once, and the rest is
evaluated for blocks of grid points at once (:class:`_NetworkData`): with ReLU, along a row
each (example, unit) term is a quadratic in a that switches on at one kink, binned into the
a-grid like the hinges (prefix sums from the left for rising units, from the right for
falling ones, so nothing is subtracted); with tanh, ``exp(2z)`` factors into an a-part and a
b-part, as softmax's exponentials do. A plane that leaves the first layer fixed makes the
network a linear classifier on its hidden features: the linear shortcuts apply.

Where the binned sums could lose digits to cancellation (near a hinge's zero set, where
a sum of large terms is tiny) the few affected grid points are recomputed directly.

The data surface does not depend on lam: :func:`surface_parts` returns data and penalty
separately, so a caller can keep the data part and recompute only ``part="reg"`` (O(G^2)
for L2) when the lam slider moves. :func:`loss_surface_blocks` yields row blocks as they
are done: progressive drawing, cancellation between blocks, bounded memory.

Bounded, in memory and in time between yields, whatever N and C: the per-loss tables are
built from pieces of at most ``_PIECE_TERMS`` terms (examples x classes), so no temporary
is N x C; a block's working set stays near ``_BLOCK_ELEMENTS`` and its work near
``_STEP_WORK``; and where a single row is more work than that (large N*C) the generator
yields empty blocks (zero rows) between pieces, during the set-up too, so that a consumer
can cancel within ``_STEP_WORK``. ``losslab.engine.budget`` models this memory and work.
The tables themselves are O(N C); beyond ``_STREAM_TERMS`` loss terms they are not kept but
rebuilt a piece of examples at a time for each (tall) block of rows (:class:`_StreamedData`),
so the memory is then constant in N (a few MiB; 10 MiB for softmax), for some 10% more work.
"""
from __future__ import annotations

import itertools
import math
import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

from .generators import drain
from .losses import LOSSES
from .planes import Plane, PlaneObjective

Array = np.ndarray

PARTS = ("total", "data", "reg")

_EPS = np.finfo(float).eps
_REFINE_RTOL = 1e-10  # recompute grid points whose binned sums may be off by more than this, relatively
_BLOCK_ELEMENTS = 1 << 18  # working-set target per block, in float64 elements (2 MiB)
_PIECE_TERMS = 1 << 17  # loss terms (examples x classes) per piece of the tables: bounds every N-sized temporary
# Work between two yields, in element passes (one elementwise NumPy operation on one float64,
# ~0.6 ns here: budget.SECONDS_PER_OP): 20-50 ms, so a superseded job stops well within 0.2 s
_STEP_WORK = 1 << 25
_MADD_WORK = 0.08  # one multiply-add inside a matrix product, in element passes (BLAS is ~12x faster)
_EXP_SAFE = 690.0  # |log| budget for products of exponentials: e^690 ~ 1e300, safely finite and normal
_EXP_DEAD = -740.0  # exp of anything below this is < 1e-321: nothing next to the 1 of the true class


# --- public API ----------------------------------------------------------------------------

def loss_surface(objective, plane: Plane, a_values: Array, b_values: Array, part: str = "total") -> Array:
    """The loss over the grid: ``Z: (len(b_values), len(a_values))``, ``Z[j, i]`` at ``(a_i, b_j)``.

    objective: an :class:`~losslab.engine.Objective` (fast exact path), a
    :class:`~losslab.engine.PlaneObjective` (its plane is composed with ``plane``), or any
    objective with ``n_examples = None`` such as a test surface (evaluated point by point,
    vectorized through ``loss_batch`` when it has one). plane: ``Plane`` with
    ``n_params == objective.n_params``. part: ``"total"``, ``"data"`` or ``"reg"``.
    """
    a, b = _grid(a_values, b_values)
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}; got {part!r}")
    surface = _Surface(objective, plane, a, b, (part,))
    drain(surface.build())
    Z = np.empty((b.size, a.size))
    for rows in surface.row_slices(None):
        Z[rows] = drain(surface.rows(rows))[part]
    return Z


def loss_surface_blocks(objective, plane: Plane, a_values: Array, b_values: Array, part: str = "total",
                        block_rows: int | None = None) -> Iterator[tuple[slice, Array]]:
    """The generator form of :func:`loss_surface`: yields ``(rows, Z[rows])`` block by block.

    ``rows`` is a ``slice`` of b indices, top to bottom; each block is ``(rows, len(a_values))``.
    Arguments are checked at once; the set-up (the three score matrices and the per-loss
    tables) waits for the first ``next()``, and closing or dropping the generator cancels
    the rest. ``block_rows`` fixes the block height (default: sized to keep the working
    set near 2 MiB and the work per block near ``_STEP_WORK``). A long set-up or row
    yields empty blocks ``(slice(j, j), (0, len(a_values)))`` on the way: cancellation
    points that fill nothing.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}; got {part!r}")
    a, b = _grid(a_values, b_values)
    if block_rows is not None and (isinstance(block_rows, bool) or not isinstance(block_rows, (int, np.integer))
                                   or block_rows < 1):
        raise ValueError(f"block_rows must be a positive integer, got {block_rows!r}")
    _check_dimensions(objective, plane)
    return _blocks(objective, plane, a, b, part, block_rows)


def _blocks(objective, plane: Plane, a: Array, b: Array, part: str, block_rows: int | None):
    surface = _Surface(objective, plane, a, b, (part,))
    pace = _Pace(a.size)
    yield from pace(surface.build(), 0)
    for rows in surface.row_slices(block_rows):
        block = yield from pace(surface.rows(rows), rows.start)
        pace.done = 0.0
        yield rows, block[part]


def surface_parts(objective, plane: Plane, a_values: Array, b_values: Array) -> tuple[Array, Array]:
    """``(Z_data, Z_reg)``, each ``(len(b_values), len(a_values))``; their sum is the total.

    The data part does not depend on lam; keep it and recompute ``part="reg"`` (cheap) for
    a new lam instead of the whole surface.
    """
    a, b = _grid(a_values, b_values)
    surface = _Surface(objective, plane, a, b, ("data", "reg"))
    drain(surface.build())
    data, reg = np.empty((b.size, a.size)), np.empty((b.size, a.size))
    for rows in surface.row_slices(None):
        block = drain(surface.rows(rows))
        data[rows], reg[rows] = block["data"], block["reg"]
    return data, reg


def _check_dimensions(objective, plane: Plane) -> None:
    if plane.n_params != objective.n_params:
        raise ValueError(f"the plane lives in {plane.n_params} parameters but the objective has {objective.n_params}")


def _grid(a_values: Array, b_values: Array) -> tuple[Array, Array]:
    out = []
    for name, v in (("a_values", a_values), ("b_values", b_values)):
        v = np.asarray(v, dtype=float)
        if v.ndim != 1 or v.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D array, got shape {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} contains NaN or infinity")
        out.append(v)
    return out[0], out[1]


# --- computations that report their work ---------------------------------------------------
# The set-up and each block are generators that yield the work done since their last yield
# (in element passes) and return their value: the pacing below turns that into cancellation
# points, and plain callers run them to the end (``drain``).

def _quietly(steps):
    """Forward a computation, with overflow and invalid-value warnings off while it runs (not around its yields).

    As in ``Objective``: overflow gives inf, not a warning. A ``np.errstate`` spanning a
    ``yield`` would leak into the consumer's code, so it is set around each resumption.
    """
    while True:
        with np.errstate(over="ignore", invalid="ignore"):
            try:
                work = next(steps)
            except StopIteration as stop:
                return stop.value
        yield work


class _Pace:
    """Turns work reports into yields: an empty block ``(slice(row, row), (0, G))`` per ``_STEP_WORK``."""

    def __init__(self, n_cols: int):
        self.n_cols, self.done = n_cols, 0.0

    def __call__(self, steps, row: int):
        while True:
            try:
                work = next(steps)
            except StopIteration as stop:
                return stop.value
            self.done += work
            if self.done >= _STEP_WORK:
                self.done = 0.0
                yield slice(row, row), np.empty((0, self.n_cols))


# --- assembling a surface from its terms ------------------------------------------------------

class _Surface:
    """The evaluators of the requested parts over one grid.

    ``build()`` makes the terms and ``rows(slice)`` computes one block, ``{part: block}``;
    both are computations that report their work (see above). Each term has ``row_cost``
    (working-set elements per block row), ``row_work`` (element passes per row) and
    ``min_rows`` (the fewest rows per block it runs efficiently with).
    """

    def __init__(self, objective, plane: Plane, a: Array, b: Array, parts: tuple[str, ...]):
        _check_dimensions(objective, plane)
        while isinstance(objective, PlaneObjective):  # a slice of a slice is a slice
            plane = _compose(objective.plane, plane)
            objective = objective.objective
        self.objective, self.plane, self.b, self.parts = objective, plane, b, parts
        # the kink binning wants a increasing; columns are put back in the caller's order at the end
        self.order = None if np.all(a[1:] >= a[:-1]) else np.argsort(a, kind="stable")
        self.a = a if self.order is None else a[self.order]
        self.n_cols = a.size
        self.terms: dict[str, list] = {}
        self.default_rows = b.size

    def build(self):
        a, parts = self.a, self.parts
        if _is_classifier(self.objective):
            need = {"data", "reg"} if "total" in parts else set(parts)
            terms = yield from _quietly(_classifier_terms(self.objective, self.plane, a, self.b, need))
        else:  # point by point: ask for each requested part directly (a total costs one call, not two)
            terms = {p: [_Pointwise(self.objective, self.plane, a, p)] for p in parts}
        self.terms = terms
        every = [t for ts in terms.values() for t in ts]
        # the blocks suit the term with the most work; a term whose rows take more memory (L1's
        # tables beside softmax at C = 10) computes a block in sub-blocks (_term_rows): sized by the
        # largest working set, softmax's blocks were 43 rows instead of 64, and about 10% slower
        heaviest = max(every, key=lambda t: t.row_work, default=None)
        self.default_rows = _block_rows(heaviest.row_cost if heaviest else 1, sum(t.row_work for t in every),
                                        max((t.min_rows for t in every), default=1), self.b.size)

    def row_slices(self, block_rows: int | None) -> Iterator[slice]:
        step = self.default_rows if block_rows is None else int(block_rows)
        for j0 in range(0, self.b.size, step):
            yield slice(j0, min(j0 + step, self.b.size))

    def rows(self, rows: slice):
        b = self.b[rows]
        computed = {}
        for part, terms in self.terms.items():
            block = np.zeros((b.size, self.n_cols))
            for term in terms:
                value = yield from _term_rows(term, b, self.n_cols)
                with np.errstate(over="ignore", invalid="ignore"):
                    block += value
            if self.order is not None:
                unsorted = np.empty_like(block)
                unsorted[:, self.order] = block
                block = unsorted
            computed[part] = block
        if "total" in self.parts and "total" not in computed:
            computed["total"] = computed["data"] + computed["reg"]
        return {p: computed[p] for p in self.parts}


def _term_rows(term, b: Array, n_cols: int):
    """``term.rows(b)``, in sub-blocks that keep the term's working set near ``_BLOCK_ELEMENTS``."""
    sub = _block_rows(term.row_cost, 0.0, term.min_rows, b.size)
    if sub >= b.size:
        return (yield from _quietly(term.rows(b)))
    value = np.empty((b.size, n_cols))
    for j0 in range(0, b.size, sub):
        value[j0:j0 + sub] = yield from _quietly(term.rows(b[j0:j0 + sub]))
    return value


def _block_rows(row_cost: float, row_work: float, min_rows: int, n_rows: int) -> int:
    """Rows per block: a working set near ``_BLOCK_ELEMENTS``, work near ``_STEP_WORK``, at least ``min_rows``.

    ``row_cost`` in elements and ``row_work`` in element passes per row; the blocks come
    out of (nearly) equal height.
    """
    by_memory = _BLOCK_ELEMENTS // max(int(row_cost), 1)
    by_work = int(_STEP_WORK // max(row_work, 1.0))
    most = min(n_rows, max(1, min(by_memory, by_work), min_rows))
    return -(-n_rows // -(-n_rows // most))


def _compose(inner: Plane, outer: Plane) -> Plane:
    """The plane ``outer`` (in the (a, b) coordinates of ``inner``) as a plane of the full space."""
    B = inner.basis
    return Plane(inner.origin + B @ outer.origin, B @ outer.d1, B @ outer.d2, outer.kind, outer.labels, outer.extent)


def _is_classifier(objective) -> bool:
    """An objective over data whose model declares its layout (an ``Objective``), not a test surface."""
    return getattr(objective, "n_examples", None) is not None and getattr(objective, "model", None) is not None


# element passes to build the data tables, per example: (a, b) for a + b*C, besides the 3C x D
# multiply-adds of its scores (measured here at C = 3..100 by benchmarks/bench_budget.py)
_LOSS_EXAMPLES = {name: entry.extra["per_example"] for name, entry in LOSSES.items() if "per_example" in entry.extra}

_TABLE_WORK = {"svm": (120, 24), "squared_hinge": (120, 24), "ova_svm": (48, 22), "structured_svm": (110, 13),
               "softmax": (400, 60)}


def _classifier_terms(objective, plane: Plane, a: Array, b: Array, need: set[str]):
    """The fast evaluators of an Objective's data and penalty surfaces on ``plane``: ``{part: [terms]}``.

    The model's declared capabilities choose the data path: scores affine in theta (the
    linear model) take the per-loss shortcuts; a network whose plane leaves the hidden
    layer fixed is a linear classifier on its hidden features, and takes them too; any
    other network slice evaluates many grid points at once (:class:`_NetworkData`). The
    penalty is a sum over the model's penalized entries, whatever the model.
    """
    model = objective.model
    origin, d1, d2 = plane.origin, plane.d1, plane.d2
    terms: dict[str, list] = {}
    if "data" in need:
        if model.has("affine_scores"):
            Ws, bs = zip(*(model.unflatten(v) for v in (origin, d1, d2)))
            terms["data"] = yield from _affine_data_terms(objective, plane, a, b, objective.X, Ws, bs)
        elif model.has("affine_hidden") and objective.loss_kind in _LOSS_EXAMPLES:
            layers = [model.unflatten(v) for v in (origin, d1, d2)]
            if not any(np.any(layers[k][0]) or np.any(layers[k][1]) for k in (1, 2)):
                # the plane moves only the output layer: scores are affine in (a, b) over fixed features
                features = model.hidden_layer(origin, objective.X)[1]
                terms["data"] = yield from _affine_data_terms(objective, plane, a, b, features,
                                                              [L[2] for L in layers], [L[3] for L in layers])
            else:
                term = _NetworkData(objective, layers, a)
                yield term.setup_work
                terms["data"] = [term]
        else:
            terms["data"] = [_Pointwise(objective, plane, a, "data")]
    if "reg" in need:
        lam, kind = objective.lam, objective.reg
        W0, W1, W2 = (np.ravel(model.penalized(v)) for v in (origin, d1, d2))
        if lam == 0.0 or kind == "none":
            terms["reg"] = []
        elif kind in ("l2", "l1", "elastic_net"):
            l2_weight = {"l2": lam, "l1": 0.0, "elastic_net": lam * objective.beta}[kind]
            terms["reg"] = []
            if l2_weight > 0:
                terms["reg"].append(_SumOfSquares(W0, W1, W2, a, l2_weight))
            if kind != "l2":  # |w| = max(0, w) + max(0, -w)
                terms["reg"].append(_RampSum(a, 1, lam).add(np.concatenate([W0, -W0]), np.concatenate([W1, -W1]),
                                                            np.concatenate([W2, -W2])))
        else:
            terms["reg"] = [_Pointwise(objective, plane, a, "reg")]
    return terms


def _affine_data_terms(objective, plane: Plane, a: Array, b: Array, X: Array, Ws, bs):
    """The data surface when ``S(a, b) = X (W0 + a W1 + b W2) + (b0 + a b1 + b b2)``, by the loss's shortcut.

    A computation reporting its work: the tables are built a piece of examples at a time
    (``_PIECE_TERMS // C`` rows of X), so the N x C score matrices never exist whole. Beyond
    ``_STREAM_TERMS`` loss terms (N x C) the tables are not kept at all: a
    :class:`_StreamedData` rebuilds them piece by piece for each block of rows, so memory
    stays constant in N.
    """
    if objective.loss_kind not in _DATA_SURFACES:  # a loss with no shortcut yet: slow but exact
        return [_Pointwise(objective, plane, a, "data")]
    W, bias = np.hstack(Ws), np.concatenate(bs)
    tables = _LinearTables(objective, X, W, bias, a)
    if X.shape[0] * tables.C > _STREAM_TERMS:
        return [_StreamedData(tables, b)]
    term = tables.empty_sum(b)
    for i0 in range(0, X.shape[0], tables.piece):
        yield from tables.add_piece(term, i0, i0 + tables.piece)
    return [term]


_STREAM_TERMS = 1 << 20  # loss terms (N x C) beyond which the tables are streamed, not kept (kept: 40-100 MiB here)
_STREAM_PIECE = 1 << 15  # loss terms per piece while streaming: one piece's tables stay near 2 MiB
_STREAM_FACTORS = 1 << 20  # softmax's a-side factors per piece while streaming, in float64 elements (8 MiB)
_STREAM_REBUILD = 0.1  # streamed blocks are tall enough that rebuilding the tables costs at most this share


class _LinearTables:
    """How a linear classifier's data term is built: the loss's empty sum, filled a piece of examples at a time.

    ``X: (N, D)`` (or the hidden features), ``W: (D, 3C)`` and ``bias: (3C,)`` hold the
    plane's origin and its two directions side by side, so one product gives a piece's
    three score matrices ``S0, S1, S2: (n, C)``.
    """

    def __init__(self, objective, X: Array, W: Array, bias: Array, a: Array):
        self.kind, self.y, self.margin = objective.loss_kind, objective.y, objective.margin
        self.X, self.W, self.bias, self.a = X, W, bias, a
        self.N, D = X.shape
        self.C = W.shape[1] // 3
        self.piece = max(1, _PIECE_TERMS // self.C)
        fixed, per_class = _TABLE_WORK[self.kind]
        self.work_per_example = fixed + per_class * self.C + 3 * self.C * D * _MADD_WORK

    def empty_sum(self, b: Array):
        if self.kind == "structured_svm" and self.C > _ENVELOPE_LINES:  # O(C^2) envelopes: direct is cheaper
            return _MaxHingeSum(self.a, 1.0 / self.N)
        return _DATA_SURFACES[self.kind][1](self.a, b, 1.0 / self.N)

    def add_piece(self, term, i0: int, i1: int):
        """Add examples i0..i1 to ``term``; a computation reporting its work."""
        C = self.C
        S = self.X[i0:i1] @ self.W + self.bias  # (n, 3C): the only N x D x C products, a piece at a time
        term.add(*_DATA_SURFACES[self.kind][0](S[:, :C], S[:, C:2 * C], S[:, 2 * C:], self.y[i0:i1], self.margin))
        yield S.shape[0] * self.work_per_example

    def stream_step(self) -> int:
        """Examples per piece while streaming: ``_STREAM_PIECE`` loss terms, and for softmax
        few enough that the piece's a-side factors (C^k / k per example and column) stay within
        ``_STREAM_FACTORS``."""
        step = _STREAM_PIECE // self.C
        if self.kind == "softmax":
            k = _group_size(self.C)
            step = min(step, _STREAM_FACTORS * k // (self.C ** k * self.a.size))
        return max(1, step)


class _StreamedData:
    """A linear classifier's data term over many examples, with memory constant in N.

    For each block of rows, the examples go by in pieces of ``_STREAM_PIECE`` loss terms:
    a piece's tables are built (as :func:`_affine_data_terms` would), its share of the rows
    is computed (in sub-blocks sized by that piece's own working set) and added up, and the
    tables are dropped. Nothing N-sized is ever allocated besides X itself. The price is
    building the tables once per block instead of once: blocks are made tall enough
    (``min_rows``) that this costs at most ``_STREAM_REBUILD`` of the work.
    """

    def __init__(self, tables: _LinearTables, b: Array):
        self.tables = tables
        self.step = tables.stream_step()
        probe = tables.empty_sum(b)  # one piece's term: its per-row cost, scaled to N
        drain(tables.add_piece(probe, 0, self.step))
        n = min(self.step, tables.N)
        self.row_work = probe.row_work * tables.N / n
        self.row_cost = 2 * tables.a.size  # the block's sum; a piece's working set is bounded by its sub-blocks
        build = tables.work_per_example * tables.N
        self.min_rows = min(b.size, max(probe.min_rows, math.ceil(build / (_STREAM_REBUILD * self.row_work))))

    def rows(self, b: Array):
        tables = self.tables
        total = np.zeros((b.size, tables.a.size))
        for i0 in range(0, tables.N, self.step):
            term = tables.empty_sum(b)
            yield from tables.add_piece(term, i0, i0 + self.step)
            sub = _block_rows(term.row_cost, term.row_work, term.min_rows, b.size)
            for j0 in range(0, b.size, sub):
                total[j0:j0 + sub] += yield from term.rows(b[j0:j0 + sub])
        return total


def _wrong_class_terms(S0: Array, S1: Array, S2: Array, y: Array) -> tuple[Array, Array, Array]:
    """``s_j - s_{y_i}`` for the wrong classes j, as three (N, C-1) coefficient arrays."""
    N, C = S0.shape
    rows = np.arange(N)
    wrong = np.ones((N, C), dtype=bool)
    wrong[rows, y] = False
    return tuple(S[wrong].reshape(N, C - 1) - S[rows, y][:, None] for S in (S0, S1, S2))


def _hinge_coefficients(S0, S1, S2, y, margin):
    """``s_j - s_{y_i} + margin`` for j != y_i, flat: the terms of svm and squared hinge."""
    p, q, r = _wrong_class_terms(S0, S1, S2, y)
    return (p + margin).ravel(), q.ravel(), r.ravel()


def _ova_coefficients(S0, S1, S2, y, margin):
    # margin - sign * s with sign = +1 for the true class, -1 for the others
    sign = -np.ones_like(S0)
    sign[np.arange(len(y)), y] = 1.0
    return (margin - sign * S0).ravel(), (-sign * S1).ravel(), (-sign * S2).ravel()


def _structured_coefficients(S0, S1, S2, y, margin):
    p, q, r = _wrong_class_terms(S0, S1, S2, y)
    return p + margin, q, r


def _softmax_coefficients(S0, S1, S2, y, margin):
    return _wrong_class_terms(S0, S1, S2, y)


# loss name -> (coefficients of a piece of examples, empty sum(a, b, scale) to add them to);
# a loss missing here is drawn point by point
_DATA_SURFACES = {
    "svm": (_hinge_coefficients, lambda a, b, scale: _RampSum(a, 1, scale)),
    "squared_hinge": (_hinge_coefficients, lambda a, b, scale: _RampSum(a, 2, scale)),
    "softmax": (_softmax_coefficients, lambda a, b, scale: _SoftmaxSum(a, b, scale)),
    "ova_svm": (_ova_coefficients, lambda a, b, scale: _RampSum(a, 1, scale)),
    "structured_svm": (_structured_coefficients, lambda a, b, scale: _EnvelopeSum(a, scale)),
}


# --- sums of ramps: kink binning --------------------------------------------------------------

def _uniform_step(a: Array) -> float | None:
    """The spacing of ``a`` if it is evenly spaced up to rounding (as linspace makes it), else None."""
    if a.size < 2 or not a[-1] > a[0]:
        return None
    step = (a[-1] - a[0]) / (a.size - 1)
    deviation = np.max(np.abs(a - (a[0] + step * np.arange(a.size))))
    # a kink binned against the ideal grid is off only when it lies within `deviation` of a
    # grid point, where the misplaced term is worth |slope| * deviation: rounding level
    return step if deviation <= 16 * _EPS * max(abs(a[0]), abs(a[-1])) else None


_RAMP_WORK = {1: 12, 2: 16}  # element passes per sloped term per row (binning, bincounts; measured)


class _RampSum:
    """``scale * sum_m max(0, c0_m + a*c1_m + b*c2_m)**power`` over the grid (power 1 or 2).

    Along the row ``b = b_j`` term m is a ramp in a of slope ``c1_m`` with one kink. Terms
    with ``c1 > 0`` are active right of their kink, those with ``c1 < 0`` left of it. Each
    term's first active column (resp. first inactive one) is binned — by arithmetic on a
    uniform a-grid, by ``searchsorted`` otherwise — with weights the coefficients of its
    polynomial in ``delta = a - a_mid`` (``alpha, c1`` for power 1; ``alpha^2, alpha*c1, c1^2``
    for power 2, ``alpha`` = its value at the middle column). Prefix sums from the left (and
    suffix sums from the right) then hold, at every column, the coefficients summed over
    exactly the active terms: O(M + G) per row. A grid point whose value is small next to
    the magnitude of the summed coefficients (near the loss's zero set) could have lost
    digits to cancellation: those points are flagged by a rounding-error estimate and
    recomputed term by term.

    The terms come in pieces (:meth:`add`, at most ``_PIECE_TERMS`` each): every
    temporary of a block is piece-sized, and the bins of a block add up over the pieces.
    """

    def __init__(self, a: Array, power: int, scale: float):
        self.a, self.power, self.scale = a, power, scale
        self.mid = a.size // 2  # polynomials are anchored mid-grid: |delta| <= half the window
        self.delta = a - a[self.mid]
        self.step = _uniform_step(a)
        self.pieces: list[_Ramps] = []
        self.n_sloped = self.n_flat = 0
        self.min_rows = 1

    def add(self, c0: Array, c1: Array, c2: Array) -> _RampSum:
        """Add the terms with coefficients ``c0, c1, c2: (M,)``; returns self."""
        for m0 in range(0, c0.size, _PIECE_TERMS):
            piece = _Ramps(*(c[m0:m0 + _PIECE_TERMS] for c in (c0, c1, c2)), self.a, self.mid, self.step)
            self.pieces.append(piece)
            self.n_sloped += piece.slope.size
            self.n_flat += piece.flat_c0.size
        return self

    @property
    def row_cost(self) -> int:
        return 4 * max(max((p.slope.size for p in self.pieces), default=0), self.a.size)

    @property
    def row_work(self) -> float:
        return _RAMP_WORK[self.power] * self.n_sloped + 3 * self.n_flat + 16 * (self.power + 1) * self.a.size

    def rows(self, b: Array):
        value = (yield from self._binned(b)) if self.n_sloped else np.zeros((b.size, self.a.size))
        flat_sum = np.zeros(b.size)
        for piece in self.pieces:
            if piece.flat_c0.size:
                flat = np.maximum(piece.flat_c0[None, :] + b[:, None] * piece.flat_c2[None, :], 0.0)
                flat_sum += np.sum(flat if self.power == 1 else flat * flat, axis=1)
        if self.n_flat:
            value += flat_sum[:, None]
        return self.scale * value

    def _binned(self, b: Array):
        B, G = b.size, self.a.size
        width = G + 1
        n_bins = 2 * B * width  # row r's forward bins, then all rows' backward bins
        bins = np.zeros((self.power + 1, n_bins))
        keep = len(self.pieces) == 1  # a single piece keeps its bin offsets and tiled slopes for the next block
        for piece in self.pieces:
            if not piece.slope.size:
                continue
            alpha = np.multiply.outer(b, piece.c2)
            alpha += piece.base  # (B, M'): each term's value at the anchor column
            if self.step is not None:
                t = alpha * piece.neg_inv  # kink position, in grid steps from the anchor (inf is fine: clipped)
                t += self.mid + 1.0
                np.clip(t, 0.0, G, out=t)
                idx = t.astype(np.intp)  # = clip(floor(kink) + 1, 0, G): first column right of the kink
            else:
                with np.errstate(divide="ignore", over="ignore"):
                    kink = self.a[self.mid] - alpha / piece.slope
                idx = np.searchsorted(self.a, kink.ravel(), side="right").reshape(B, -1)
            idx += piece.offsets(B, width, keep)
            idx = idx.ravel()
            flat_alpha = alpha.ravel()
            slopes = piece.slope_weights(B, self.power, keep)
            if self.power == 1:
                weights = (flat_alpha, slopes[0])
            else:
                weights = (flat_alpha * flat_alpha, flat_alpha * slopes[0], slopes[1])
            for k, w in enumerate(weights):
                bins[k] += np.bincount(idx, w, n_bins)
            yield _RAMP_WORK[self.power] * B * piece.slope.size
        sums = []
        for k in range(self.power + 1):
            per_row = bins[k].reshape(2, B, width)
            forward = np.cumsum(per_row[0], axis=1)[:, :G]  # terms switched on at or left of column i
            backward = np.cumsum(per_row[1][:, ::-1], axis=1)[:, ::-1][:, 1:]  # switched off right of i
            sums.append((forward, backward))
        delta = self.delta[None, :]
        if self.power == 1:
            (fa, ba), (fv, bv) = sums
            value = (fa + ba) + delta * (fv + bv)
            # |alpha| <= value_m + |delta c1_m| per active term, so both sums are bounded by this
            scale = np.abs(value) + 2.0 * np.abs(delta) * (fv - bv)
        else:
            (faa, baa), (fav, bav), (fvv, bvv) = sums
            svv = fvv + bvv
            value = (faa + baa) + 2.0 * delta * (fav + bav) + delta * delta * svv
            scale = 2.0 * np.abs(value) + 8.0 * delta * delta * svv
        # rounding in the bincount and prefix sums grows like sqrt(terms summed) (measured:
        # errors stay below 8 eps * scale); flag with that estimate and 10x headroom under 1e-9
        bound = (math.sqrt(G + self.n_sloped) + 16.0) * _EPS * scale
        suspect = bound > _REFINE_RTOL * value
        if suspect.any():
            rr, ii = np.nonzero(suspect)
            value[rr, ii] = yield from self._direct(self.a[ii], b[rr])
        return value

    def _direct(self, a: Array, b: Array):
        """Sums over the sloped terms at the points ``(a_k, b_k)``, term by term: (K,).

        Each term is ``c0 + a*c1 + b*c2`` from the coefficients as given (anchored at the
        plane's origin, as a per-point evaluation of theta would be), not re-anchored.
        """
        out = np.zeros(a.size)
        for piece in self.pieces:
            c0, c1, c2 = piece.c0, piece.slope, piece.c2
            if not c0.size:
                continue
            chunk = max(1, _BLOCK_ELEMENTS // c0.size)
            for k0 in range(0, a.size, chunk):
                k1 = min(k0 + chunk, a.size)
                t = c0[None, :] + a[k0:k1, None] * c1[None, :] + b[k0:k1, None] * c2[None, :]
                np.maximum(t, 0.0, out=t)
                out[k0:k1] += np.sum(t if self.power == 1 else t * t, axis=1)
                yield 8 * t.size
        return out


class _Ramps:
    """One piece of a :class:`_RampSum`: its sloped terms, forward ones first, and its flat ones."""

    def __init__(self, c0: Array, c1: Array, c2: Array, a: Array, mid: int, step: float | None):
        with np.errstate(divide="ignore", over="ignore"):
            neg_inv = -1.0 / (c1 * step) if step is not None else np.zeros_like(c1)
        flat = (c1 == 0) | ~np.isfinite(neg_inv)  # no slope worth the name: constant along the row
        fwd, bwd = np.flatnonzero(~flat & (c1 > 0)), np.flatnonzero(~flat & (c1 < 0))
        order = np.concatenate([fwd, bwd])
        self.n_fwd = fwd.size
        self.c0, self.slope, self.c2, self.neg_inv = c0[order], c1[order], c2[order], neg_inv[order]
        self.base = self.c0 + a[mid] * self.slope
        self.flat_c0 = c0[flat] + a[mid] * c1[flat]  # a denormal slope is dropped: worth < 1e-300
        self.flat_c2 = c2[flat]
        self._offsets: dict[int, Array] = {}
        self._tiled: dict[int, tuple[Array, ...]] = {}

    def offsets(self, B: int, width: int, keep: bool) -> Array:
        """Flat bin offsets (B, M'): row r's forward bins, then all rows' backward bins."""
        off = self._offsets.get(B)
        if off is None:
            is_bwd = np.arange(self.slope.size) >= self.n_fwd
            off = (np.arange(B)[:, None] * width + is_bwd[None, :] * (B * width)).astype(np.intp)
            if keep:  # a grid has at most two block heights: the blocks and the tail
                self._offsets[B] = off
        return off

    def slope_weights(self, B: int, power: int, keep: bool) -> tuple[Array, ...]:
        """``c1`` (and ``c1**2`` for power 2) repeated for B rows, flat: bincount weights."""
        w = self._tiled.get(B)
        if w is None:
            w = tuple(v if B == 1 else np.tile(v, B)
                      for v in ((self.slope,) if power == 1 else (self.slope, self.slope * self.slope)))
            if keep:
                self._tiled[B] = w
        return w


# --- structured SVM: a max over classes, evaluated directly ----------------------------------

_MAX_WORK = 2.0  # element passes per (example, wrong class, column) and row (measured: 1.9-2.3)


class _MaxHingeSum:
    """``scale * sum_i max(0, max_j (p_ij + a*q_ij + b*r_ij))``, (N, C-1) coefficients.

    The Crammer–Singer loss is a max of C piecewise-linear pieces per example; its kinks
    move with the rival class, so it is evaluated directly at every grid point (vectorized,
    O(G^2 N C), still without any N x D x C product). The coefficients come in pieces of
    examples (:meth:`add`).
    """

    def __init__(self, a: Array, scale: float):
        self.a, self.scale = a, scale
        self.pieces: list[tuple[Array, Array, Array]] = []
        self.n_examples, self.n_wrong = 0, 1
        self.row_cost = 2 * a.size
        self.min_rows = 1

    def add(self, p: Array, q: Array, r: Array) -> _MaxHingeSum:
        self.pieces.append((p, q, r))
        self.n_examples += p.shape[0]
        self.n_wrong = p.shape[1]
        return self

    @property
    def row_work(self) -> float:
        return self.n_examples * self.a.size * (_MAX_WORK * self.n_wrong + 1)

    def rows(self, b: Array):
        out = np.zeros((b.size, self.a.size))
        step = max(1, _BLOCK_ELEMENTS // (2 * self.a.size))
        for j, bj in enumerate(b):
            for piece in self.pieces:
                N, K = piece[0].shape
                for i0 in range(0, N, step):
                    p, q, r = (v[i0:i0 + step] for v in piece)
                    best = np.multiply.outer(q[:, 0], self.a)
                    best += (p[:, 0] + bj * r[:, 0])[:, None]
                    for c in range(1, K):
                        line = np.multiply.outer(q[:, c], self.a)
                        line += (p[:, c] + bj * r[:, c])[:, None]
                        np.maximum(best, line, out=best)
                    np.maximum(best, 0.0, out=best)
                    out[j] += best.sum(axis=0)
                    yield best.size * (_MAX_WORK * K + 1)
        return self.scale * out


# --- structured SVM: upper envelopes of lines, binned ------------------------------------------

_ENVELOPE_LINES = 16  # classes up to which the structured SVM takes the envelope path (O(C^2) per example and row)
_ENVELOPE_WORK = 6.0  # element passes per (example, line pair) and row, besides the bins (measured)


class _EnvelopeSum:
    """``scale * sum_i max(0, max_j (p_ij + a*q_ij + b*r_ij))``, exact, by binning the envelopes' pieces.

    Along a row (b fixed) example i's term is the upper envelope of L = C lines in a (its
    C - 1 wrong classes and the zero line of the true class): convex and piecewise linear.
    With the lines sorted by slope, the envelope's active line index is nondecreasing in a,
    and it reaches index m or more exactly where ``a >= tau_m = min_{j>=m} max_{i<m} c_ij``
    (c_ij: where lines i < j cross) — monotone in m by its min/max form alone, so the pieces
    tile the row with no gap and no overlap whatever the rounding. Each visible piece adds
    its difference from its neighbour towards the zero line: pieces right of the zero line
    (steeper) from their first column on (prefix sums from the left), pieces left of it from
    their last column back (suffix sums from the right). So at every column the sums
    telescope to exactly the active line, and where every example sits on its zero line
    the row is exactly 0: nothing is added at all. O(N C^2 + G) per row instead of O(N C G).

    Where the sums of larger terms could lose digits (a rounding estimate over the terms'
    magnitudes, as in :class:`_RampSum`) the grid point is recomputed directly from the
    coefficients anchored at the plane's origin.
    """

    def __init__(self, a: Array, scale: float):
        self.a, self.scale = a, scale
        self.mid = a.size // 2
        self.delta = a - a[self.mid]
        self.step = _uniform_step(a)
        self.pieces: list[dict] = []
        self.n_examples, self.n_lines = 0, 1
        self.min_rows = 1

    def add(self, p: Array, q: Array, r: Array) -> _EnvelopeSum:
        n, K = p.shape
        L = K + 1
        zero = np.zeros((n, 1))
        Q = np.hstack([zero, q])  # line 0: the true class's zero
        order = np.argsort(Q, axis=1, kind="stable")  # by slope; ties keep the zero line first

        def sorted_lines(v: Array) -> Array:  # (L, n), line-major: every operation below is on whole rows
            return np.ascontiguousarray(np.take_along_axis(np.hstack([zero, v]), order, axis=1).T)

        qs = np.ascontiguousarray(np.take_along_axis(Q, order, axis=1).T)
        pivot = np.argmax(order == 0, axis=1)
        self.pieces.append({
            "p": p, "q": q, "r": r, "qs": qs, "rs": sorted_lines(r),
            "base": sorted_lines(p + self.a[self.mid] * q),  # each line's value at the anchor column, b = 0
            "mag": sorted_lines(np.abs(p) + abs(self.a[self.mid]) * np.abs(q)),  # bounds its parts' size
            "absr": sorted_lines(np.abs(r)),
            "right": np.arange(L)[:, None] > pivot,  # (L, n): lines steeper than the zero line
            "left": np.arange(L)[:, None] < pivot})
        self.n_examples += n
        self.n_lines = L
        return self

    @property
    def row_cost(self) -> int:
        return 4 * self.a.size

    @property
    def row_work(self) -> float:
        L = self.n_lines
        return self.n_examples * (_ENVELOPE_WORK * L * (L - 1) / 2 + 30 * L) + 16 * self.a.size

    def rows(self, b: Array):
        B, G = b.size, self.a.size
        width = G + 1
        n_bins = 2 * B * width  # row j's forward bins, then all rows' backward bins
        bins = np.zeros((4, n_bins))  # value: alpha, slope; rounding scale: magnitudes of both
        L = self.n_lines
        for piece in self.pieces:
            n = piece["qs"].shape[1]
            rows_per = max(1, _BLOCK_ELEMENTS // (8 * L * n))
            qs, right, left = piece["qs"], piece["right"], piece["left"]
            for j0 in range(0, B, rows_per):
                bj = b[j0:j0 + rows_per]
                r = bj.size
                alpha = np.multiply.outer(piece["rs"], bj).transpose(0, 2, 1)  # (L, r, n), sorted by slope
                alpha += piece["base"][:, None, :]
                # tau_m = min_{j >= m} max_{i < m} c_ij, with c_ij = (alpha_i - alpha_j) / (q_j - q_i)
                # where lines i < j cross (in delta = a - a_mid); parallel lines: j wins where alpha_j >= alpha_i
                running = [None] * L  # running[j] = max_{i < m} c_ij
                tau = np.empty((L + 1, r, n))
                tau[0], tau[L] = -np.inf, np.inf
                for m in range(1, L):
                    i = m - 1
                    for j in range(m, L):
                        diff = alpha[i] - alpha[j]
                        dq = qs[j] - qs[i]
                        with np.errstate(divide="ignore", invalid="ignore"):
                            c = np.divide(diff, dq, out=diff)
                        parallel = dq == 0
                        if parallel.any():
                            np.copyto(c, np.where(alpha[j] >= alpha[i], -np.inf, np.inf), where=parallel)
                        running[j] = c if running[j] is None else np.maximum(running[j], c, out=running[j])
                    np.minimum.reduce(running[m:], axis=0, out=tau[m]) if L - m > 1 else np.copyto(tau[m], running[m])
                # each line's first column: the first at or right of its tau
                if self.step is not None:
                    t = tau[1:L] / self.step
                    t += self.mid
                    np.ceil(t, out=t)
                    np.fmax(t, 0.0, out=t)
                    np.fmin(t, G, out=t)
                    first = t.astype(np.intp)
                else:
                    first = np.searchsorted(self.delta, tau[1:L].ravel(), side="left").reshape(L - 1, r, n)
                start = np.concatenate([np.zeros((1, r, n), np.intp), first])  # (L, r, n)
                end = np.concatenate([first, np.full((1, r, n), G, np.intp)])
                visible = start < end
                mag = np.multiply.outer(piece["absr"], np.abs(bj)).transpose(0, 2, 1)
                mag += piece["mag"][:, None, :]
                # chain each visible line to its visible neighbour towards the zero line (which is 0)
                weights = np.zeros((4, L, r, n))  # alpha, slope, their rounding scales
                index = np.empty((L, r, n), np.intp)
                for side, lines in ((right, range(L)), (left, range(L - 1, -1, -1))):
                    last_a = np.zeros((r, n))
                    last_q = np.zeros((1, n))
                    last_m = np.zeros((r, n))
                    last_s = np.zeros((1, n))
                    for m in lines:
                        on = visible[m] & side[m]
                        np.subtract(alpha[m], last_a, out=weights[0, m], where=on)
                        np.subtract(qs[m], last_q, out=weights[1, m], where=on)
                        np.add(mag[m], last_m, out=weights[2, m], where=on)
                        np.add(abs(qs[m]), last_s, out=weights[3, m], where=on)
                        last_a = np.where(on, alpha[m], last_a)
                        last_q = np.where(on, qs[m], last_q)
                        last_m = np.where(on, mag[m], last_m)
                        last_s = np.where(on, abs(qs[m]), last_s)
                # forward lines go in their first column's bin, backward ones in their end column's
                np.copyto(index, start)
                np.copyto(index, end + B * width, where=left[:, None, :])
                index += ((j0 + np.arange(r)) * width)[None, :, None]
                index = index.ravel()
                for k in range(4):
                    bins[k] += np.bincount(index, weights[k].ravel(), n_bins)
                yield r * n * (_ENVELOPE_WORK * L * (L - 1) / 2 + 30 * L)
        sums = []
        for k in range(4):
            per_row = bins[k].reshape(2, B, width)
            fwd = np.cumsum(per_row[0], axis=1)[:, :G]  # pieces begun at or left of column i
            bwd = np.cumsum(per_row[1][:, ::-1], axis=1)[:, ::-1][:, 1:]  # pieces ending right of i
            sums.append(fwd + bwd)
        delta = self.delta[None, :]
        value = sums[0] + delta * sums[1]
        scale = sums[2] + np.abs(delta) * sums[3]
        bound = (math.sqrt(G + self.n_examples * L) + 16.0) * _EPS * scale
        suspect = bound > _REFINE_RTOL * value
        if suspect.any():
            rr, ii = np.nonzero(suspect)
            value[rr, ii] = yield from self._direct(self.a[ii], b[rr])
        return self.scale * value

    def _direct(self, a: Array, b: Array):
        """The sums at the points ``(a_k, b_k)``, example by example, from the origin's coefficients: (K,)."""
        out = np.zeros(a.size)
        for piece in self.pieces:
            p, q, r = piece["p"], piece["q"], piece["r"]
            n, K = p.shape
            chunk = max(1, _BLOCK_ELEMENTS // (n * K))
            for k0 in range(0, a.size, chunk):
                ak, bk = a[k0:k0 + chunk, None, None], b[k0:k0 + chunk, None, None]
                t = p[None] + ak * q[None] + bk * r[None]  # (k, n, K)
                best = np.maximum(t.max(axis=2), 0.0)
                out[k0:k0 + chunk] += best.sum(axis=1)
                yield 4 * t.size
        return out


# --- softmax: factorised exponentials, grouped products, one log per product -----------------

_GROUP_WIDTH = 9  # C**k columns per group: measured best here (k = 2 for 3 classes, 1 for 10)
_CHUNK_GROUPS = 8  # groups per matrix-product call (a power of 2; the products of r groups align)
_SOFTMAX_CELLS = 1 << 15  # grid points per block: rows x G, at most 128 rows (measured best here at 256²: 128 rows)
_FACTOR_CHUNK = 1 << 16  # factors made per step, in float64 elements (512 KiB: their temporaries stay in L2)
_E_STORED = 1 << 23  # a-side factors kept for the whole grid up to 64 MiB, recomputed per block beyond
_EXP_WORK = 4.0  # element passes per a-side factor made (a product of exps made per run, and copies)
_REDUCE_WORK = 0.5  # element passes per group and grid point to multiply class sums and take logs (in cache)


def _group_size(C: int) -> int:
    """Examples per group: the largest k with C**k <= _GROUP_WIDTH (at least 1)."""
    k = 1
    while C ** (k + 1) <= _GROUP_WIDTH:
        k += 1
    return k


def _softmax_rows(G: int) -> int:
    """Rows per softmax block: ``_SOFTMAX_CELLS`` grid points, between 8 and 128 rows."""
    return min(128, max(8, _SOFTMAX_CELLS // G))


_EXP_RUN = 16  # grid points per run in _exp_affine: one exp per run and per example-class, products in between


def _exp_affine(const: Array, slope: Array, v: Array, out: Array | None = None) -> Array:
    """``exp(const[..., None] + slope[..., None] * v)``: shape ``const.shape + (len(v),)``, into ``out`` if given.

    On an even grid ``v_j = v_0 + j*h`` (:func:`_uniform_step`) the value at ``j = m*L + t`` is
    ``exp(const + slope*v_mL) * exp(slope*t*h)``: one exp per run of L points and L per
    example-class, then one multiplication per value instead of an affine map and an exp.
    Accurate to about |x| eps relatively, as the exp per value is (both round an argument of size
    |x|; measured at |x| = 500: 6.5e-14 against 4.3e-14). Each product is a value at a grid point
    and each step factor stays within e^+-345 (else the exp per value), so nothing overflows.
    Other grids take the exp per value. ``out`` (contiguous) spares a new array: large new
    arrays come with page faults, a millisecond or more per block.
    """
    n, L = v.size, _EXP_RUN
    out = np.empty(const.shape + (n,)) if out is None else out
    h = _uniform_step(v) if n > L else None
    if h is None or np.abs(slope).max(initial=0.0) * h * (L - 1) > _EXP_SAFE / 2:
        np.multiply.outer(slope, v, out=out)
        out += const[..., None]
        return np.exp(out, out=out)
    c, s_, flat = const.reshape(-1), slope.reshape(-1), out.reshape(-1, n)  # views: out is contiguous
    coarse = np.multiply.outer(s_, v[::L])  # at the start of each run
    coarse += c[:, None]
    np.exp(coarse, out=coarse)
    fine = np.exp(np.multiply.outer(s_, h * np.arange(L)))  # the steps within a run
    full = n // L  # whole runs; a shorter one may follow
    np.multiply(coarse[:, :full, None], fine[:, None, :], out=flat[:, :full * L].reshape(-1, full, L))
    if full * L < n:
        np.multiply(coarse[:, full, None], fine[:, :n - full * L], out=flat[:, full * L:])
    return out


def _kron_exp(const: Array, slope: Array, v: Array, k: int, g0: int, g1: int, out: Array | None = None) -> Array:
    """Groups g0..g1 of k examples: row-wise Kronecker products of ``exp(const + slope * v)``: (g1-g0, C**k, len(v)).

    ``const, slope: (n_groups * k, C)``, per example. The exponential of the Kronecker sums of
    the exponents (each within e^+-690: the groups' bounds), made by :func:`_exp_affine`.
    """
    def kron_sum(x: Array) -> Array:
        x = x[g0 * k:g1 * k].reshape(g1 - g0, k, -1)
        out = x[:, 0]
        for s in range(1, k):
            out = (out[:, :, None] + x[:, s][:, None, :]).reshape(g1 - g0, -1)
        return out

    return _exp_affine(kron_sum(const), kron_sum(slope), v, out)


def _cores() -> int:
    """The cores this process may run on (its affinity, where the platform tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# Threads for softmax's products: the caller's, and one helper where two cores are ours (1: the
# caller's only). Each takes whole products of r groups, a share of the examples, in calls of
# the same size as on one thread: 40-65 us of BLAS and elementwise work between two returns to
# Python, so the two rarely wait for the GIL. On an idle two-core machine: 256², N=1000, C=3
# 42 -> 27 ms; N=2000, C=10, 128² 54 -> 36 ms. With the other core busy, much the same as one
# thread (40 -> 42 ms and 60 -> 55 ms). The helper is a pool's thread: at exit Python waits for
# the share under way, if any (one share of one block).
_SOFTMAX_THREADS = 2 if _cores() >= 2 else 1
_SHARE_WORK = 1 << 21  # least work in a share, in element passes: about a millisecond
_softmax_pool: ThreadPoolExecutor | None = None
_softmax_pool_lock = threading.Lock()


def _softmax_shares(n_groups: int, r: int, group_work: float) -> list[tuple[int, int]]:
    """Ranges of groups ``(first, last)`` for the threads to take: whole products of r groups, nearly even.

    ``group_work``: the work of one group, in element passes. One share per thread (more and
    smaller ones measured slower: each has buffers of its own), one in all when the work is too
    small to split. The first share (the caller's) is the larger: the caller waits for the
    helper's without a cancellation point, so the helper's should end first.
    """
    products = n_groups // r
    count = max(1, min(_SOFTMAX_THREADS, products, int(n_groups * group_work // _SHARE_WORK)))
    cuts = [r * -(-products * t // count) for t in range(count + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def _shared(shares: list):
    """Run the generators ``shares`` to their ends and return their values in order.

    The caller's thread takes them from the front (forwarding their yields), the one helper
    thread from the back, one at a time, until none is left. If the helper is busy with another
    landscape's shares, the caller takes them all. Closing this generator leaves no share for
    the helper to take; the one under way finishes on its own.
    """
    global _softmax_pool
    if len(shares) == 1:
        return [(yield from shares[0])]
    with _softmax_pool_lock:
        if _softmax_pool is None:
            _softmax_pool = ThreadPoolExecutor(1, thread_name_prefix="losslab-softmax")
    values = [None] * len(shares)
    todo = deque(range(len(shares)))
    lock = threading.Lock()

    def take(front: bool) -> int | None:
        with lock:
            return None if not todo else todo.popleft() if front else todo.pop()

    def helper() -> None:
        while (k := take(front=False)) is not None:
            values[k] = _drain_quietly(shares[k])

    helping = _softmax_pool.submit(helper)
    try:
        while (k := take(front=True)) is not None:
            values[k] = yield from shares[k]
        if not helping.cancel():
            helping.result()
    finally:
        with lock:
            todo.clear()
        helping.cancel()
    return values


def _drain_quietly(steps):
    """``drain`` with the warnings of :func:`_quietly` off: a thread does not inherit the caller's ``np.errstate``."""
    with np.errstate(over="ignore", invalid="ignore"):
        return drain(steps)


class _SoftmaxSum:
    """``scale * sum_i log(1 + sum_{j != y_i} exp(p_ij + a*q_ij + b*r_ij))`` over pieces of examples.

    Each piece (:meth:`add`, (n, C-1) coefficients) is a :class:`_SoftmaxPiece`; the a-side
    factors are kept for the whole grid while all pieces' together stay within ``_E_STORED``.
    """

    def __init__(self, a: Array, b: Array, scale: float):
        self.a, self.b, self.scale = a, b, scale
        self.pieces: list[_SoftmaxPiece] = []
        self.stored = 0  # a-side factor elements kept so far, over all pieces
        self.row_cost = _BLOCK_ELEMENTS // _softmax_rows(a.size)

    def add(self, p: Array, q: Array, r: Array) -> _SoftmaxSum:
        self.pieces.append(_SoftmaxPiece(p, q, r, self.a, self.b, self))
        return self

    @property
    def row_work(self) -> float:
        return sum(piece.row_work for piece in self.pieces)

    @property
    def min_rows(self) -> int:
        # factors recomputed per block cost as much as ~30 rows of products: blocks stay tall
        recomputed = any(g["E"] is None for piece in self.pieces for g in piece.groups)
        return _softmax_rows(self.a.size) if recomputed else 1

    def rows(self, b: Array):
        total = np.zeros((b.size, self.a.size))
        for piece in self.pieces:
            total += yield from piece.rows(b)
        return self.scale * total


class _SoftmaxPiece:
    """``sum_i log(1 + sum_{j != y_i} exp(p_ij + a*q_ij + b*r_ij))``: (n, C-1) coefficients.

    Each exponential factorises as ``e_ij(a) * f_ij(b)`` with ``e = exp(p + a*q - sigma)``,
    ``f = exp(b*r + sigma)`` (sigma balances the two so that neither overflows). With
    ``E_i(a) = [1, e_ij(a)...]`` and ``F_i(b) = [1, f_ij(b)...]`` the class sum is
    ``T_i = E_i . F_i``, and the product of a group's T's is the inner product of the
    row-wise Kronecker products of its E's and F's — for every grid point at once, one
    (rows x C^k) @ (C^k x G) matrix product per group of k examples. The products of r
    groups' T's then share one log. Every term is positive: no digits cancel.

    Guarded: the exponents' ranges over the grid are known exactly (they are affine), so
    k and r are chosen to keep every factor and product within ``e^±690``; examples too
    wild for groups of k take k = 1, and those that could overflow even alone are evaluated
    point by point with the max-shift (as ``softmax_loss`` does). Classes whose exponent
    stays below ``_EXP_DEAD`` everywhere contribute nothing (also in ``softmax_loss``).
    """

    def __init__(self, p: Array, q: Array, r: Array, a: Array, b: Array, owner: _SoftmaxSum):
        N, K = p.shape  # K = C - 1 wrong classes
        C = K + 1
        self.a, self.b = a, b
        a_lo, a_hi = np.minimum(a[0] * q, a[-1] * q), np.maximum(a[0] * q, a[-1] * q)
        b_lo = np.minimum(b.min() * r, b.max() * r)
        b_hi = np.maximum(b.min() * r, b.max() * r)
        lo_a, hi_a = p + a_lo, p + a_hi  # range over the grid of the a-part of each exponent
        top = hi_a + b_hi  # the exponent's maximum over the grid (exact: it is affine)
        dead = top < _EXP_DEAD
        # split the exponent's centre between the factors so both stay as small as possible
        centre_a, half_a = (lo_a + hi_a) / 2, (hi_a - lo_a) / 2
        centre_b, half_b = (b_lo + b_hi) / 2, (b_hi - b_lo) / 2
        centre = centre_a + centre_b
        x = np.clip((centre + half_b - half_a) / 2, np.minimum(centre, 0.0), np.maximum(centre, 0.0))
        sigma = np.where(dead, 0.0, centre_a - x)
        reach = np.where(dead, 0.0, np.maximum(np.abs(x) + half_a, np.abs(centre - x) + half_b))
        factor_bound = reach.max(axis=1)  # |log| of any factor of example i
        sum_bound = math.log(C) + np.maximum(np.where(dead, -np.inf, top).max(axis=1), 0.0)  # >= log T_i
        # per example, the exponents of E_i (a-side) and F_i (b-side), class 0 being the true one
        zero = np.zeros((N, 1))
        exponents = {"e_const": np.hstack([zero, np.where(dead, -np.inf, p - sigma)]),  # exp(-inf) = 0: dead drop out
                     "e_slope": np.hstack([zero, np.where(dead, 0.0, q)]),
                     "f_slope": np.hstack([zero, np.where(dead, 0.0, r)]),
                     "f_const": np.hstack([zero, sigma])}

        k = _group_size(C)
        alone = (factor_bound > _EXP_SAFE / 2) | (sum_bound > _EXP_SAFE / 2)
        calm = ~alone & (k * factor_bound <= _EXP_SAFE) & (2 * k * sum_bound <= _EXP_SAFE)
        wild = ~alone & ~calm
        self.groups = []
        if calm.any():
            self.groups.append(self._grouped(exponents, np.flatnonzero(calm), k, float(sum_bound[calm].max()), owner))
        if wild.any():
            self.groups.append(self._grouped(exponents, np.flatnonzero(wild), 1, _EXP_SAFE, owner))
        self.alone = np.flatnonzero(alone)
        self.p = np.where(dead, -np.inf, p)[self.alone]
        self.q, self.r = exponents["e_slope"][self.alone, 1:], exponents["f_slope"][self.alone, 1:]
        rows = _softmax_rows(a.size)
        self.row_work = sum(g["F_slope"].shape[0] // g["k"] * (g["width"] * (a.size * _MADD_WORK + 2 + (
                                0 if g["E"] is not None else _EXP_WORK * a.size / rows)) + _REDUCE_WORK * a.size)
                            for g in self.groups) \
            + self.alone.size * K * a.size * 8

    def _grouped(self, exponents: dict, examples: Array, k: int, sum_bound: float, owner: _SoftmaxSum) -> dict:
        """Groups of k examples: the a-side Kronecker factors E (groups, C^k, G), b-side exponents."""
        # r groups' class sums share a log: the largest power of 2 keeping their product < e^690
        r = 1
        while r < 64 and 2 * r * k * sum_bound <= _EXP_SAFE:
            r *= 2
        n_groups = -(-examples.size // k)
        n_groups = -(-n_groups // r) * r  # whole products of r groups (r and the chunk size are powers of 2)
        pad = n_groups * k - examples.size  # padding examples: E = [1, 0, ...], F = [1, 1, ...], T = 1

        def padded(v: Array, row: Array) -> Array:
            return np.vstack([v[examples], np.tile(row, (pad, 1))])

        width = exponents["e_const"].shape[1]
        no_class = np.full(width, -np.inf)
        no_class[0] = 0.0
        zeros = np.zeros(width)
        group = {"r": r, "E": None,
                 # the exponents per example: their Kronecker sums are exponentiated per span (_kron_exp)
                 "k": k, "width": width ** k,
                 "E_const": padded(exponents["e_const"], no_class), "E_slope": padded(exponents["e_slope"], zeros),
                 "F_slope": padded(exponents["f_slope"], zeros), "F_const": padded(exponents["f_const"], zeros)}
        size = n_groups * group["width"] * self.a.size
        # kept when they serve several blocks of rows and fit, else made per block, in each thread's share
        if self.b.size > _softmax_rows(self.a.size) and owner.stored + size <= _E_STORED:
            shares = _softmax_shares(n_groups, 1, group["width"] * self.a.size * _EXP_WORK)
            group["E"] = np.empty((n_groups, group["width"], self.a.size))
            drain(_shared([self._a_factors(group, s0, s1, group["E"][s0:s1]) for s0, s1 in shares]))
            owner.stored += size
        return group

    def _a_factors(self, group: dict, g0: int, g1: int, E: Array | None = None):
        """``E[g, w, i] = exp(E_const[g, w] + E_slope[g, w] * a_i)`` (Kronecker sums), groups g0..g1: (g1-g0, C^k, G), into E.

        Made a few groups at a time (``_FACTOR_CHUNK`` elements), so each step's temporaries stay in
        cache; a generator reporting each step's work, so that :func:`_shared` can run it in shares.
        """
        G, width = self.a.size, group["width"]
        E = np.empty((g1 - g0, width, G)) if E is None else E
        step = max(1, _FACTOR_CHUNK // (width * G))
        for s0 in range(g0, g1, step):
            s1 = min(s0 + step, g1)
            _kron_exp(group["E_const"], group["E_slope"], self.a, group["k"], s0, s1, out=E[s0 - g0:s1 - g0])
            yield (s1 - s0) * width * G * _EXP_WORK
        return E

    def rows(self, b: Array):
        B, G = b.size, self.a.size
        total = np.zeros((B, G))
        for group in self.groups:
            total += yield from self._grouped_rows(group, b)
        if self.alone.size:
            total += yield from self._alone_rows(b)
        return total

    def _grouped_rows(self, group: dict, b: Array):
        """The group's logs summed over the rows ``b``: its groups of examples split between threads.

        Each thread takes whole products of r groups (a share of the examples), with buffers of
        its own; their sums are added. Its calls keep their size, unlike halving the rows.
        """
        n_groups, r = group["F_slope"].shape[0] // group["k"], group["r"]
        shares = _softmax_shares(n_groups, r, group["width"] * b.size * self.a.size * _MADD_WORK)
        return sum((yield from _shared([self._group_sums(group, b, *share) for share in shares])))

    def _group_sums(self, group: dict, b: Array, first: int, last: int):
        """Groups first..last (whole products of r): the sum of their logs over the rows ``b``, (B, G)."""
        r = group["r"]
        width = group["width"]
        B, G = b.size, self.a.size
        c = min(_CHUNK_GROUPS, last - first)
        span = max(c, _BLOCK_ELEMENTS // (width * max(B, G)) // c * c)  # groups whose factors are in memory
        T = np.empty((c, B, G))
        product = np.empty((B, G))
        total = np.zeros((B, G))
        span = min(span, last - first)
        F_span = np.empty((span, width, B))  # the factors of a span of groups: made anew in the same memory
        E_span = np.empty((span, width, G)) if group["E"] is None else None
        pending = 0  # groups multiplied into `product` since its last log
        for s0 in range(first, last, span):
            s1 = min(s0 + span, last)
            F = _kron_exp(group["F_const"], group["F_slope"], b, group["k"], s0, s1, out=F_span[:s1 - s0])  # b-side
            Ft = F.transpose(0, 2, 1)  # handed to BLAS as a transposed operand, no copy
            E = group["E"][s0:s1] if E_span is None else drain(self._a_factors(group, s0, s1, E_span[:s1 - s0]))
            for g0 in range(0, s1 - s0, c):
                n = min(c, s1 - s0 - g0)
                np.matmul(Ft[g0:g0 + n], E[g0:g0 + n], out=T[:n])  # products of k class sums, all (a, b)
                t = 0
                while t < n:  # multiply r groups' products together in place, then one log for them
                    m = min(n - t, r - pending)
                    if pending == 0:
                        np.multiply.reduce(T[t:t + m], axis=0, out=product)
                    else:
                        for u in range(t, t + m):
                            np.multiply(product, T[u], out=product)
                    pending, t = pending + m, t + m
                    if pending == r:
                        np.log(product, out=product)
                        total += product
                        pending = 0
            yield (s1 - s0) * (width * (B * G * _MADD_WORK + 2 * B + (0 if group["E"] is not None else _EXP_WORK * G))
                               + _REDUCE_WORK * B * G)
        return total

    def _alone_rows(self, b: Array):
        out = np.zeros((b.size, self.a.size))
        n, K = self.p.shape
        step = max(1, _BLOCK_ELEMENTS // (4 * K * self.a.size))
        for j, bj in enumerate(b):
            for i0 in range(0, n, step):
                p, q, r = (v[i0:i0 + step] for v in (self.p, self.q, self.r))
                m = (p + bj * r)[:, :, None] + q[:, :, None] * self.a[None, None, :]  # (n, C-1, G)
                shift = np.maximum(m.max(axis=1), 0.0)  # the max-shift, the true class scoring 0
                m -= shift[:, None, :]
                out[j] += np.sum(shift + np.log(np.exp(-shift) + np.exp(m).sum(axis=1)), axis=0)
                yield 8 * m.size
        return out


# --- L2: an exact quadratic ------------------------------------------------------------------

class _SumOfSquares:
    """``scale * sum_k (w0_k + a*w1_k + b*w2_k)**2`` over the entries of W.

    Written in an orthonormal basis Q of span(w1, w2): the part of w0 off that span adds a
    constant, the rest is ``|Q^T w0 + a Q^T w1 + b Q^T w2|^2`` with at most two components.
    Unlike expanding the square into six coefficients, nothing cancels where W(a, b) ~ 0.
    """

    def __init__(self, w0: Array, w1: Array, w2: Array, a: Array, scale: float):
        U, s, _ = np.linalg.svd(np.column_stack([w1, w2]), full_matrices=False)
        rank = int(np.sum(s > 1e-14 * s[0])) if s[0] > 0 else 0
        Q = U[:, :rank]
        self.p, self.m1, self.m2 = Q.T @ w0, Q.T @ w1, Q.T @ w2
        off = w0 - Q @ self.p
        self.const = float(off @ off)
        self.a, self.scale = a, scale
        self.row_cost = 4 * a.size
        self.row_work = (4 * rank + 2) * a.size
        self.min_rows = 1

    def rows(self, b: Array):
        value = np.full((b.size, self.a.size), self.const)
        for p, m1, m2 in zip(self.p, self.m1, self.m2):
            v = np.add.outer(p + b * m2, self.a * m1)
            value += v * v
        return self.scale * value
        yield  # a computation with nothing to report: O(G) per row


# --- the two-layer network: many grid points at once ------------------------------------------

_NETWORK_BLOCK = 1 << 17  # activations (units x grid points x examples) per step of the dense path: 1 MiB, in cache
_DENSE_EXAMPLES = 128  # examples per step of the dense path, at least (the inner axis of its operations)
_KINK_BLOCK = 1 << 20  # bins, weights and scores per step of the ReLU path, in float64 elements (8 MiB; measured)
_DENSE_UNIT_WORK = 3.5  # element passes per activation of the dense path, besides its products (measured)
_TANH_SAFE = 600.0  # |2z| parts below this keep e^{-2q}, e^{2ap} exact through the clipping at +-700 (see _dense_step)
# Threads for the dense path's steps (1: the caller's thread only). Its steps are independent and
# spend nearly all their time inside a few large NumPy loops, which release the GIL, so a second
# thread can use an idle core; but on the shared two-core machine this was tuned on, the other
# core was never idle, and two threads measured 5-35% slower (at a load average of 5). Off until
# measured on an idle machine (benchmarks/bench_mlp_landscape.py --threads 2). The binned path
# always runs on the caller's thread: its many small calls (the prefix sums) convoy on the GIL,
# 1.5-2x slower with two threads on a busy machine.
_THREADS = 1


def _label_pieces(y: Array, size: int) -> list[slice]:
    """Slices of at most ``size`` examples of sorted labels ``y``, none straddling two labels.

    A per-example loss handed one label's examples works on whole contiguous arrays (its
    true class is one row of the scores), and nearly equal pieces waste no step on a sliver.
    """
    cuts = np.flatnonzero(y[1:] != y[:-1]) + 1
    pieces = []
    for s, e in zip(np.r_[0, cuts], np.r_[cuts, y.size]):
        k = -(-(e - s) // size)
        bounds = s + ((e - s) * np.arange(k + 1)) // k
        pieces += [slice(int(i0), int(i1)) for i0, i1 in zip(bounds[:-1], bounds[1:])]
    return pieces


def _threaded(steps: list, threads: int):
    """Run the callables ``steps`` on ``threads`` threads; yield their results in order.

    At most one step per thread is under way at a time, so memory stays that of a step per
    thread; closing the generator (cancellation) waits only for the steps already running.
    A step must set its own ``np.errstate``: a thread does not inherit the caller's.
    """
    if threads < 2 or len(steps) < 2:
        for step in steps:
            yield step()
        return
    todo = iter(steps)
    with ThreadPoolExecutor(threads) as pool:
        running = deque(pool.submit(step) for step in itertools.islice(todo, threads))
        try:
            while running:
                result = running.popleft().result()
                step = next(todo, None)
                if step is not None:
                    running.append(pool.submit(step))
                yield result
        finally:
            for future in running:
                future.cancel()


class _NetworkData:
    """The network's mean data loss over the grid, exact, for many grid points at once.

    The hidden pre-activations are affine in the plane coordinates, ``Z(a, b) = Z0 + a Z1 +
    b Z2`` with ``Zk = X W1_k + b1_k`` (k = origin, d1, d2), and so are the output weights,
    ``W2(a, b) = V0 + a V1 + b V2``: the N x D x H products happen once. Units whose
    incoming weights the plane leaves fixed keep their activation: their share of the
    scores, with the output biases, is affine in (a, b) and computed once (``F``). What
    remains per grid point is ``sum_h act(z_h) W2_h`` over the moving units, by the
    activation's shortcut:

    - ReLU (:meth:`_relu_step`): along a row (b fixed) each (example, unit) term
      ``relu(q + a p) (u + a v)`` is a quadratic in a switched on at one kink; binning the
      kinks into the a-grid gives the row in O(N H C + N G C) instead of O(N H G);
    - tanh (:meth:`_dense_step`): ``tanh z = 1 - 2 / (1 + e^{2z})`` and ``e^{2(q + a p)} =
      e^{2q} e^{2ap}``, whose a-side factor serves every row of a step: an add and a divide
      per activation instead of a tanh (5x dearer). Equal to np.tanh within a few eps
      absolute (|tanh| <= 1), so the scores are within a few eps of ``sum_h |W2_h|``;
    - any other activation: ``act(z)`` directly (:meth:`_dense_step`).

    The examples are sorted by label and taken in pieces of one label each: a per-example
    loss then works on whole arrays, the true class being one row of the scores. The steps
    (a piece of examples x some grid rows) are independent; the dense path's can run on
    ``_THREADS`` threads (:func:`_threaded`). The set-up (the three N x D x H products) waits
    for the first block and reports its work piece by piece, so that a long one can be
    cancelled too.
    """

    def __init__(self, objective, layers, a: Array):
        model = objective.model
        self.objective, self.layers, self.act = objective, layers, model.act
        self.order = np.argsort(objective.y, kind="stable")
        self.y = objective.y[self.order]
        (W1s, b1s, W2s, _) = zip(*layers)
        self.moving = np.zeros(model.hidden, dtype=bool)
        for k in (1, 2):
            self.moving |= np.any(W1s[k] != 0, axis=0) | (b1s[k] != 0)
        self.V = [np.ascontiguousarray(W[self.moving].T) for W in W2s]  # (C, H'): the moving units' output weights
        self.moves_output = bool(np.any(self.V[1]))  # W2 changes along a: scores are quadratic in a
        self.per_example = _LOSS_EXAMPLES[objective.loss_kind]
        self.margin, self.scale = objective.margin, 1.0 / objective.n_examples
        self.a, self.n_classes = a, model.n_classes
        self.Z: list[Array] = []  # made by _setup: (H', N) each, a unit's examples side by side
        self.F: list[Array] = []  # (C, N) each
        self.setup_work = 0  # reported by rows(), piece by piece, when the first block asks
        self._scratch = threading.local()
        self.row_cost = 2 * a.size
        self.tanh = model.activation == "tanh"
        units, N, G, C = int(self.moving.sum()), objective.n_examples, a.size, model.n_classes
        K = self.n_coef = 3 if self.moves_output else 2
        outputs = 2 * C if self.moves_output else C
        # element passes per (example, grid point), measured here (N = 300..2000, H' = 1..1024,
        # C = 3..10, G = 32..256): binning (ReLU only) ~7 per bin of the point (K C of them),
        # ~10 per term dropped into the bins (H' K C per grid row); the dense path ~3.5 per
        # activation besides its products, ~7 per class for the rest. ReLU takes the cheaper: at
        # C = 3, G = 128 the dense path wins below H' ~ 13; at C = 10, G = 32..64, always
        binned_work = 7 * K * C + 10 * units * K * C / G
        dense_work = units * (_DENSE_UNIT_WORK + outputs * _MADD_WORK) + 7 * C
        self.binned = model.activation == "relu" and binned_work < dense_work
        if self.binned:
            # a step of n examples x r rows holds (G + 1) x 2 x K x C bins, K x C x H' weights and
            # indices and C x G scores per (example, row): ``cells`` (example, row) pairs per step
            self.cells = max(1, _KINK_BLOCK // (2 * K * C * (G + 1) + 2 * K * C * units + 6 * C * G))
            self.pieces = _label_pieces(self.y, self.cells)
            self.min_rows = 1
        else:
            # a step: H' x g x n activations within _NETWORK_BLOCK, with n (the contiguous inner
            # axis of every operation) long enough that NumPy's per-loop overhead stays small, and
            # g (columns) at least 8: a step's per-row work, O(H' n), is then small next to its
            # activations, O(H' g n), even if that takes more than _NETWORK_BLOCK (very wide layers)
            size = max(_DENSE_EXAMPLES // 4, min(_DENSE_EXAMPLES, _NETWORK_BLOCK // (max(units, 1) * 8)))
            self.pieces = _label_pieces(self.y, size)
            longest = max(s.stop - s.start for s in self.pieces)
            self.points = min(G, max(8, _NETWORK_BLOCK // (longest * max(units, 1))))  # grid columns per step
            # rows per step: their output-layer products within 2 x _NETWORK_BLOCK, their activations
            # within 16 x (a step stays a few ms); each step makes the a-side factors once for all
            cells = self.points * longest
            self.min_rows = max(1, min(2 * _NETWORK_BLOCK // (outputs * cells),
                                       16 * _NETWORK_BLOCK // (max(units, 1) * cells)))
        self.point_work = binned_work if self.binned else dense_work
        self.row_work = G * N * self.point_work

    def rows(self, b: Array):
        if not self.Z:
            yield from self._setup()
        steps, targets = [], []  # the steps' callables and the rows of the block each one fills
        for rows in self.pieces:
            if self.binned:  # a piece of examples x as many grid rows as fill a step, all columns
                r = max(1, self.cells // (rows.stop - rows.start))
                for j0 in range(0, b.size, r):
                    steps.append(partial(self._relu_step, rows, b[j0:j0 + r]))
                    targets.append(slice(j0, j0 + r))
            else:  # a piece of examples x some columns x min_rows grid rows
                for g0, j0 in itertools.product(range(0, self.a.size, self.points), range(0, b.size, self.min_rows)):
                    steps.append(partial(self._dense_step, rows, g0, b[j0:j0 + self.min_rows]))
                    targets.append(slice(j0, j0 + self.min_rows))
        out = np.zeros((b.size, self.a.size))
        for target, (columns, values, work) in zip(targets, _threaded(steps, 1 if self.binned else _THREADS)):
            out[target, columns] += values
            yield work
        return out * self.scale

    def _buffer(self, name: str, size: int, dtype=float) -> Array:
        """A scratch array of ``size`` elements, this thread's own, reused from step to step.

        A fresh 1 MiB temporary costs more in page faults than the arithmetic done in it.
        """
        held = getattr(self._scratch, name, None)
        if held is None or held.size < size:
            held = np.empty(size, dtype)
            setattr(self._scratch, name, held)
        return held[:size]

    def _setup(self):
        """Z0..Z2 (the moving units' pre-activations) and F0..F2 (the fixed share), a piece of examples at a time."""
        model, X = self.objective.model, self.objective.X
        (W1s, b1s, W2s, b2s) = zip(*self.layers)
        N, D = X.shape
        units, C = int(self.moving.sum()), self.n_classes
        Zs, Fs = [np.empty((units, N)) for _ in range(3)], [np.empty((C, N)) for _ in range(3)]
        step = max(1, _PIECE_TERMS // model.hidden)
        for i0 in range(0, N, step):
            rows = self.order[i0:i0 + step]
            with np.errstate(over="ignore", invalid="ignore"):
                Z = [X[rows] @ W1s[k] + b1s[k] for k in range(3)]  # (n, H) each
                fixed_act = self.act(Z[0][:, ~self.moving])  # units that do not move: a constant activation
                for k in range(3):
                    Zs[k][:, i0:i0 + step] = Z[k][:, self.moving].T
                    # the fixed units' share of the scores, with the output biases: F0 + a F1 + b F2
                    Fs[k][:, i0:i0 + step] = (fixed_act @ W2s[k][~self.moving] + b2s[k]).T
            yield rows.size * model.hidden * (3 * D * _MADD_WORK + 3 * C * _MADD_WORK + 12)
        self.Z, self.F = Zs, Fs  # only once whole: a set-up cancelled midway is started again

    # --- ReLU: kink binning ---------------------------------------------------------------------
    # Row b, anchored mid-grid (a = a_mid + delta): unit h of example i has pre-activation
    # q + delta p (q = Z0 + a_mid Z1 + b Z2, p = Z1) and output weights u + delta v (u = V0 +
    # a_mid V1 + b V2, v = V1), so while active it adds to class c's score the quadratic
    #     q u_c + delta (p u_c + q v_c) + delta^2 p v_c.
    # Units with p > 0 are active right of their kink -q/p, those with p < 0 left of it, those
    # with p = 0 everywhere or nowhere. One bincount drops each term's K = 3 (2 when v = 0) x C
    # coefficients into the bin of its first active column (p > 0, "forward") or, counted from
    # the right, of its first inactive one (p < 0, "backward"); prefix sums over the columns then
    # give, at every column, the coefficients summed over exactly the active terms — forward
    # ones from the left, backward ones from the right: nothing is ever subtracted, so nothing
    # cancels. Rounding: a few eps of the terms' size over the window. A kink put one column off
    # by rounding lies within rounding of that column, where its term is ~0.

    def _kink_bins(self, q: Array, p: Array, back: Array) -> Array:
        """Each term's bin, 0..G: its first active column (forward) or G - its first inactive one (backward).

        q: (r, H', n) the pre-activations at a_mid; p: (H', n) their a-slopes; back: p < 0.
        """
        a, G = self.a, self.a.size
        mid = G // 2
        step = _uniform_step(a)
        flat = p == 0  # active everywhere (q > 0) or nowhere
        if step is not None:  # arithmetic: t = q * nu + shift, floored
            with np.errstate(divide="ignore", over="ignore"):
                nu = -1.0 / (p * step)
            flat |= ~np.isfinite(nu)  # a slope too small to move the kink onto the grid: flat
            # forward: the first active column floor(mid - q / (p step)) + 1; backward, counted from
            # the right: G - that = floor(G - mid + q / (p step)) (off exact kinks, where the term is 0)
            nu = np.where(back, -nu, nu)
            nu[flat] = -np.inf  # q > 0: -inf, bin 0 (active everywhere); q < 0: +inf, bin G (nowhere), either part
            shift = np.where(back, G - mid, mid + 1.0)
            shift[flat] = 0.0
            t = q * nu
            t += shift
            # clipped to 0..G: infinities go to the ends, NaN (q = 0 on a flat unit, a term worth 0) to 0
            np.fmax(t, 0.0, out=t)
            np.fmin(t, G, out=t)
            return t.astype(np.intp)
        with np.errstate(divide="ignore", invalid="ignore"):
            kink = a[mid] - q / p
        col = np.searchsorted(a, kink.ravel(), side="right").reshape(q.shape)
        np.subtract(G, col, out=col, where=np.broadcast_to(back, q.shape))
        flat = np.broadcast_to(flat, q.shape)
        col[flat] = np.where(q[flat] > 0, 0, G)  # bin 0: active everywhere, G: nowhere (either part)
        return col

    def _relu_step(self, rows: slice, b: Array):
        """The loss sums of examples ``rows`` at the rows ``b`` of the grid: ``(slice(None), (r, G) sums, work)``."""
        with np.errstate(over="ignore", invalid="ignore"):
            a, G, C, K = self.a, self.a.size, self.n_classes, self.n_coef
            a_mid = a[G // 2]
            delta = (a - a_mid)[:, None]  # (G, 1): anchored mid-grid, |delta| <= half the window
            Z0, Z1, Z2 = (z[:, rows] for z in self.Z)
            V0, V1, V2 = self.V
            F0, F1, F2 = (f[:, rows] for f in self.F)
            units, n = Z1.shape
            r = b.size
            p = Z1
            q = np.multiply.outer(b, Z2)  # (r, H', n) pre-activations at (a_mid, b)
            q += Z0 + a_mid * p
            u = ((V0 + a_mid * V1)[:, None, :] + b[:, None] * V2[:, None, :])[..., None]  # (C, r, H', 1)
            v = V1[:, None, :, None]
            back = p < 0
            width = r * 2 * K * C * n  # bins per column: rows x (forward, backward) x K x C x n
            first = self._kink_bins(q, p, back)
            first *= width
            first += back * (K * C * n)
            first += (2 * K * C * n) * np.arange(r)[:, None, None] + np.arange(n)
            # (K, C, r, H', n) bin indices and weights, in this thread's scratch arrays (fresh ones
            # of MiBs cost more in page faults than the arithmetic)
            index = self._buffer("index", K * C * r * units * n, np.intp).reshape(K, C, r, units, n)
            np.add(first, (n * np.arange(K * C)).reshape(K, C, 1, 1, 1), out=index)
            weights = self._buffer("weights", K * C * r * units * n).reshape(K, C, r, units, n)
            np.multiply(u, q, out=weights[0])
            np.multiply(u, p, out=weights[1])
            if K == 3:  # v = 0 otherwise
                weights[1] += np.multiply(v, q, out=weights[2])
                np.multiply(v, p, out=weights[2])
            bins = np.bincount(index.ravel(), weights.ravel(), (G + 1) * width).reshape(G + 1, r, 2, K, C, n)
            # the fixed share, active everywhere: F(a_mid, b) + delta F1
            bins[0, :, 0, 0] += np.multiply.outer(b, F2) + (F0 + a_mid * F1)
            bins[0, :, 0, 1] += F1
            # prefix sums over the columns, one contiguous row of bins at a time (np.cumsum along
            # either axis is ~6x slower here: short or strided inner loops)
            sums = bins.reshape(G + 1, width)
            for i in range(1, G):
                np.add(sums[i - 1], sums[i], out=sums[i])
            # (K, C, r, G, n) coefficient sums; the backward ones read from the right
            forward = bins[:G, :, 0].transpose(2, 3, 1, 0, 4)
            backward = bins[G - 1::-1, :, 1].transpose(2, 3, 1, 0, 4)
            scores = self._buffer("scores", C * r * G * n).reshape(C, r, G, n)  # class-major, for the loss
            slope = self._buffer("slope", C * r * G * n).reshape(C, r, G, n)
            np.add(forward[0], backward[0], out=scores)  # K0 + delta (K1 + delta K2)
            np.add(forward[K - 1], backward[K - 1], out=slope)
            if K == 3:
                slope *= delta
                slope += forward[1]
                slope += backward[1]
            slope *= delta
            scores += slope
            values = self.per_example(scores, self.y[rows], self.margin).sum(axis=-1)
        return slice(None), values, r * n * G * self.point_work

    # --- dense: every activation ------------------------------------------------------------------

    def _dense_step(self, rows: slice, g0: int, b: Array):
        """The loss sums of examples ``rows`` at grid columns g0.. and rows ``b``: ``(columns, (r, g) sums, work)``."""
        with np.errstate(over="ignore", invalid="ignore"):
            C = self.n_classes
            Z0, Z1, Z2 = (z[:, rows] for z in self.Z)
            V0, V1, V2 = self.V
            F0, F1, F2 = (f[:, rows] for f in self.F)
            ag = self.a[g0:g0 + self.points]
            units, n = Z1.shape
            r, g = b.size, ag.size
            p = Z1
            q = np.multiply.outer(b, Z2)  # (r, H', n) pre-activations at a = 0
            q += Z0
            # per row: the output weights as one (outputs, H') operand; the constant and a-slope
            # shares of the scores, (r, C, n), added to every row's scores at once
            U = V0 + b[:, None, None] * V2  # (r, C, H')
            weights = np.concatenate([U, np.broadcast_to(V1, U.shape)], axis=1) if self.moves_output else U
            const = F0 + b[:, None, None] * F2
            slope = np.broadcast_to(F1, const.shape)
            if self.tanh:  # sum_h tanh_h w_h = sum_h w_h - 2 sum_h w_h / (1 + e^{2 z_h})
                const = const + U.sum(axis=2)[:, :, None]
                slope = slope + V1.sum(axis=1)[:, None]
                weights = -2.0 * weights
                # 1 / (1 + e^{2q} e^{2ap}) = s / (f + s) with f = e^{2ap}, made once for all the
                # step's rows, and s = e^{-2q}: two passes per activation. Exponents clipped at +-700
                # (finite and normal) leave it exact unless both |2q| and |2ap| pass _TANH_SAFE
                # (those units are done directly)
                e = np.clip(-2.0 * q, -700.0, 700.0)
                far = (np.abs(e) > _TANH_SAFE) & (2.0 * np.abs(p) * np.max(np.abs(ag)) > _TANH_SAFE)
                sq = np.exp(e, out=e)[:, :, None, :]  # (r, H', 1, n)
            outputs = weights.shape[1]
            m = self._buffer("m", r * outputs * g * n).reshape(r, outputs, g * n)
            part = self._buffer("part", outputs * g * n).reshape(outputs, g * n)
            # the units a few at a time, so that a wide layer's activations stay in cache across the rows
            width = max(1, _NETWORK_BLOCK // (g * n))
            for u0 in range(0, units, width):
                hs = slice(u0, u0 + width)
                k = min(width, units - u0)
                ap = self._buffer("ap", k * g * n).reshape(k, g, n)  # the a-side: p a, or e^{2ap} (tanh)
                t = self._buffer("t", k * g * n).reshape(k, g, n)
                np.multiply(p[hs, None, :], ag[None, :, None], out=ap)
                if self.tanh:
                    ap *= 2.0
                    np.clip(ap, -700.0, 700.0, out=ap)
                    np.exp(ap, out=ap)
                for j in range(r):
                    if self.tanh:
                        np.add(ap, sq[j, hs], out=t)
                        np.divide(sq[j, hs], t, out=t)  # 1 / (1 + e^{2z})
                        if far[j, hs].any():
                            hh, ii = np.nonzero(far[j, hs])
                            z = q[j, u0 + hh, ii][:, None] + ag[None, :] * p[u0 + hh, ii][:, None]
                            t[hh, :, ii] = 0.5 - 0.5 * np.tanh(z)
                    else:
                        np.add(ap, q[j, hs, None, :], out=t)
                        self.act(t, out=t)
                    if u0 == 0:
                        np.matmul(weights[j][:, hs], t.reshape(k, g * n), out=m[j])
                    else:
                        m[j] += np.matmul(weights[j][:, hs], t.reshape(k, g * n), out=part)
            m = m.reshape(r, outputs, g, n)
            scores = m[:, :C]  # (r, C, g, n): the hidden share, then the rest, for all rows at once
            scores += const[:, :, None, :]
            s1 = m[:, C:] if self.moves_output else np.zeros_like(scores)
            s1 += slope[:, :, None, :]
            s1 *= ag[:, None]
            scores += s1
            values = self.per_example(scores.transpose(1, 0, 2, 3), self.y[rows], self.margin).sum(axis=-1)
        return slice(g0, g0 + g), values, r * g * n * self.point_work


# --- anything else: point by point ---------------------------------------------------------------

class _Pointwise:
    """Any objective on a plane, point by point (vectorized when it offers ``loss_batch``)."""

    def __init__(self, objective, plane: Plane, a: Array, part: str):
        self.objective, self.plane, self.a, self.part = objective, plane, a, part
        self.row_cost = 4 * a.size * plane.n_params
        n = getattr(objective, "n_examples", None)
        self.row_work = a.size * plane.n_params * (16 if n is None else 4 * n)  # a loss: ~ N x P passes
        self.min_rows = 1

    def rows(self, b: Array):
        ab = np.column_stack([np.tile(self.a, b.size), np.repeat(b, self.a.size)])
        thetas = self.plane.points(ab)
        obj = self.objective
        if hasattr(obj, "loss_batch") and obj.n_examples is None:  # test surfaces: no penalty
            values = obj.loss_batch(thetas) if self.part != "reg" else np.zeros(len(ab))
        elif self.part == "total" or not hasattr(obj, "parts"):
            values = np.array([obj.loss(t) for t in thetas]) if self.part != "reg" else np.zeros(len(ab))
        else:
            values = np.array([obj.parts(t)[0 if self.part == "data" else 1] for t in thetas])
        return values.reshape(b.size, self.a.size)
        yield  # one vectorized call per block: nothing to report midway


# --- display helpers ---------------------------------------------------------------------------

def robust_range(Z: Array, lower: float = 1.0, upper: float = 99.0) -> tuple[float, float]:
    """``(lo, hi)``: the ``lower``-th and ``upper``-th percentiles of the finite values of Z.

    A colour scale from the extreme values is ruined by one far corner of the window; the
    percentiles are not. Never empty: a flat surface gets a small interval around its value,
    a surface with no finite value (0, 1).
    """
    if not 0.0 <= lower < upper <= 100.0:
        raise ValueError(f"need 0 <= lower < upper <= 100, got {lower!r}, {upper!r}")
    values = np.asarray(Z, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(values, [lower, upper]))
    if hi <= lo:
        pad = 0.5 * max(abs(lo), 1e-12)
        lo, hi = lo - pad, hi + pad
    return lo, hi


def log_scale(Z: Array, floor: float | None = None) -> Array:
    """``log10(max(Z - z0, floor))`` for display, with ``z0 = min(0, min Z)``.

    A loss is >= 0, so z0 = 0 and this is plain log10 — except that hinge losses reach
    exactly 0, where log10 is -inf: values below ``floor`` (default 1e-6 of the largest
    finite value) are clipped to it. Surfaces that go negative (the saddle) are shifted up
    by their minimum first. NaN stays NaN.
    """
    Z = np.asarray(Z, dtype=float)
    finite = Z[np.isfinite(Z)]
    z0 = min(0.0, float(finite.min())) if finite.size else 0.0
    shifted = Z - z0
    if floor is None:
        top = float(finite.max()) - z0 if finite.size else 0.0
        floor = 1e-6 * top if top > 0 else 1.0
    elif not (np.isfinite(floor) and floor > 0):
        raise ValueError(f"floor must be a positive number, got {floor!r}")
    return np.log10(np.maximum(shifted, floor))


def iso_levels(Z: Array, n: int = 12, spacing: str = "linear", lower: float = 1.0,
               upper: float = 99.0) -> Array:
    """Up to ``n`` increasing contour levels strictly inside Z's robust range.

    ``spacing="linear"``: evenly spaced; ``"quantile"``: at evenly spaced percentiles of the
    values, so each band covers about the same area (levels crowd where the surface is
    flat, as near a minimum). For levels evenly spaced in ratio, pass ``log_scale(Z)``.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n!r}")
    if spacing == "linear":
        lo, hi = robust_range(Z, lower, upper)
        return np.linspace(lo, hi, n + 2)[1:-1]
    if spacing == "quantile":
        values = np.asarray(Z, dtype=float)
        values = values[np.isfinite(values)]
        if values.size == 0:
            return np.linspace(0.0, 1.0, n + 2)[1:-1]
        levels = np.unique(np.percentile(values, np.linspace(lower, upper, n + 2)[1:-1]))
        return levels
    raise ValueError(f"spacing must be 'linear' or 'quantile', got {spacing!r}")
