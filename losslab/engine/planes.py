"""Slice planes through parameter space: ``theta(a, b) = origin + a*d1 + b*d2``.

A contour view draws the loss over such a plane. ``theta``, ``origin``, ``d1``, ``d2``
are all ``(P,)``: the model's parameters (``P = D*C + C`` for a linear classifier,
row-major W then b; see ``losslab.engine.models``) or ``P = 2`` for a test surface. The plane kinds live in one registry, ``PLANES``:

- ``axes``: two coordinates of theta move, the others stay at theta0 (an exact slice);
- ``random``: two seeded Gaussian directions, filter-normalized (Li et al. 2018);
- ``pca``: the top two principal directions of one or more trajectories;
- ``interpolation``: the plane through three points;
- ``hessian``: the two sharpest directions at a point, the top eigenvectors of the Hessian there.

:class:`PlaneObjective` restricts any objective to a plane (a 2-parameter objective an
optimizer can run in); :func:`project` maps full-space paths onto a plane.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .models import LinearModel, model_for_shape
from .registry import Entry, Param, Registry

Array = np.ndarray

# Directions whose smaller singular value is below this fraction of the larger do not span a
# plane: (a, b) coordinates would be ill-defined and projection meaningless.
_INDEPENDENCE = 1e-10


def _vector(value, name: str) -> Array:
    v = np.array(value, dtype=float)  # a private copy, frozen below
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"{name} must be a 1-D vector with at least 2 entries, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or infinity")
    v.setflags(write=False)
    return v


def coordinate_labels(n_features: int, n_classes: int) -> list[str]:
    """Names of the P coordinates of a linear classifier's theta: ``W[d,c]`` row-major, then ``b[c]``.

    Any model's names: ``model.labels``.
    """
    return list(LinearModel(n_features, n_classes).labels)


@dataclass(frozen=True, eq=False)
class Plane:
    """The plane ``theta(a, b) = origin + a*d1 + b*d2``; ``origin, d1, d2: (P,)``.

    ``d1`` and ``d2`` must be linearly independent (not necessarily orthogonal or unit).
    ``kind`` names its ``PLANES`` entry (``"custom"`` when built directly), ``labels`` name
    the a and b axes, ``extent = (a_min, a_max, b_min, b_max)`` is a suggested view window,
    ``explained_variance_ratio`` is set by :meth:`pca` and ``eigenvalues`` (the curvature
    along d1 and d2) by :meth:`hessian`. The arrays are read-only copies.
    """

    origin: Array
    d1: Array
    d2: Array
    kind: str = "custom"
    labels: tuple[str, str] = ("a", "b")
    extent: tuple[float, float, float, float] = (-1.0, 1.0, -1.0, 1.0)
    explained_variance_ratio: tuple[float, float] | None = None
    eigenvalues: tuple[float, float] | None = None

    def __post_init__(self):
        origin, d1, d2 = (_vector(getattr(self, n), n) for n in ("origin", "d1", "d2"))
        if not (origin.shape == d1.shape == d2.shape):
            raise ValueError(f"origin, d1 and d2 must have the same shape, got {origin.shape}, {d1.shape}, {d2.shape}")
        s = np.linalg.svd(np.column_stack([d1, d2]), compute_uv=False)
        if not s[0] > 0 or s[1] <= _INDEPENDENCE * s[0]:
            raise ValueError("d1 and d2 must be linearly independent (neither zero nor parallel) to span a plane")
        if len(self.labels) != 2:
            raise ValueError(f"labels must name the two axes, got {self.labels!r}")
        extent = tuple(float(e) for e in self.extent)
        if len(extent) != 4 or not all(np.isfinite(extent)) or not (extent[0] < extent[1] and extent[2] < extent[3]):
            raise ValueError(f"extent must be (a_min, a_max, b_min, b_max) with min < max, got {self.extent!r}")
        for name, value in (("origin", origin), ("d1", d1), ("d2", d2), ("extent", extent),
                            ("labels", tuple(str(s) for s in self.labels))):
            object.__setattr__(self, name, value)

    @property
    def n_params(self) -> int:
        """P, the length of theta."""
        return self.origin.size

    @cached_property
    def basis(self) -> Array:
        """``[d1 d2]``: (P, 2), so that ``theta = origin + basis @ [a, b]``."""
        return np.column_stack([self.d1, self.d2])

    def point(self, a: float, b: float) -> Array:
        """``theta(a, b) = origin + a*d1 + b*d2``: (P,)."""
        return self.origin + float(a) * self.d1 + float(b) * self.d2

    def points(self, ab: Array) -> Array:
        """``ab: (K, 2)`` plane coordinates -> ``thetas: (K, P)``."""
        ab = np.asarray(ab, dtype=float)
        if ab.ndim != 2 or ab.shape[1] != 2:
            raise ValueError(f"ab must have shape (K, 2), got {ab.shape}")
        return self.origin + ab[:, :1] * self.d1 + ab[:, 1:] * self.d2

    def grid(self, resolution: int = 128) -> tuple[Array, Array]:
        """``(a_values, b_values)``: ``resolution`` evenly spaced values over each side of ``extent``."""
        n = int(resolution)
        if n < 2:
            raise ValueError(f"resolution must be at least 2, got {resolution!r}")
        a0, a1, b0, b1 = self.extent
        return np.linspace(a0, a1, n), np.linspace(b0, b1, n)

    # --- the named constructors (one per PLANES entry) --------------------------------
    @classmethod
    def axes(cls, theta0: Array, i: int = 0, j: int = 1, shape=None) -> Plane:
        """Coordinates ``i`` and ``j`` of theta move; all others stay at ``theta0``.

        An exact slice: ``(a, b)`` *are* the values of ``theta[i]`` and ``theta[j]`` (the
        origin is theta0 with those two entries set to 0, and d1, d2 are unit vectors), so
        theta0 itself sits at ``(theta0[i], theta0[j])``. ``shape`` (a model, or ``(D, C)``
        of a linear classifier) names the axes by coordinate (``W[d,c]``, ``b1[h]``...);
        without it they are ``theta[i]``.
        """
        theta0 = _vector(theta0, "theta0")
        P = theta0.size
        i, j = _index(i, P, "i"), _index(j, P, "j")
        if i == j:
            raise ValueError(f"the two axes must be different coordinates, got i = j = {i}")
        names = model_for_shape(P, shape).labels if shape is not None else [f"theta[{k}]" for k in range(P)]
        origin = theta0.copy()
        origin[[i, j]] = 0.0
        d1, d2 = np.zeros(P), np.zeros(P)
        d1[i], d2[j] = 1.0, 1.0
        half = max(2.0, 2.0 * float(max(abs(theta0[i]), abs(theta0[j]))))
        extent = (theta0[i] - half, theta0[i] + half, theta0[j] - half, theta0[j] + half)
        return cls(origin, d1, d2, "axes", (names[i], names[j]), extent)

    @classmethod
    def random(cls, theta0: Array, shape, seed: int = 0, bias: str = "zero") -> Plane:
        """Two seeded Gaussian directions through ``theta0``, filter-normalized.

        ``shape``: the model (or ``(D, C)`` of a linear classifier), which names the filters.
        As Li et al. (2018) do, each filter of a direction — the weights into one unit: a
        class column ``W[:, c]`` of the linear model, ``W1[:, h]`` and ``W2[:, c]`` of the
        network — is rescaled to the norm of theta0's same filter, so a = 1 is a step as
        large as the weights themselves and the picture does not depend on their scale.
        ``bias="zero"`` (Li et al.'s default) leaves the biases out of the directions;
        ``bias="column"`` adds each unit's bias to its filter. A filter of theta0 that is
        exactly zero has no scale to lend: its direction gets the root-mean-square norm of
        theta0's nonzero filters, or norm 1 when all of them are zero (the usual all-zero
        start). The plane is centred at theta0.
        """
        theta0 = _vector(theta0, "theta0")
        filters = model_for_shape(theta0.size, shape).filters(BIAS.validate(bias))
        seed = SEED.validate(seed)
        target = _column_targets(np.concatenate([np.linalg.norm(theta0[f], axis=0) for f in filters]))
        rng = np.random.default_rng(seed)

        def direction() -> Array:
            d = np.zeros(theta0.size)
            used = 0
            for f in filters:  # one (rows, units) draw per weight matrix, each column a filter
                cols = rng.standard_normal(f.shape)
                d[f] = cols * (target[used:used + f.shape[1]] / np.linalg.norm(cols, axis=0))
                used += f.shape[1]
            return d

        d1, d2 = direction(), direction()
        # with one row per filter (D = 1) normalization leaves only signs: draw again until independent
        for _ in range(32):
            s = np.linalg.svd(np.column_stack([d1, d2]), compute_uv=False)
            if s[1] > _INDEPENDENCE * s[0]:
                break
            d2 = direction()
        else:
            raise ValueError("cannot draw two independent filter-normalized directions for this shape; "
                             "use bias='column' or an axes plane")
        return cls(theta0, d1, d2, "random", ("direction 1", "direction 2"))

    @classmethod
    def pca(cls, trajectories: Array | Sequence[Array], origin: Array | None = None) -> Plane:
        """The top two principal directions of the iterates of one or more trajectories.

        ``trajectories``: one ``(T, P)`` array of iterates or a sequence of them. As in Li
        et al. (2018) the plane is centred at the final point (of the first trajectory,
        unless ``origin`` is given) and its directions are the top two principal components
        (unit, orthogonal) of all the iterates pooled, taken about their mean as a PCA does;
        ``explained_variance_ratio`` holds the share of that variance each one explains. Each direction is signed so that the first
        trajectory's start lies at a negative coordinate. A path that moves along a line
        only gets a second direction orthogonal to it (deterministic, explained variance 0).
        """
        paths = [np.asarray(trajectories, dtype=float)] if isinstance(trajectories, np.ndarray) and \
            np.ndim(trajectories) == 2 else [np.asarray(t, dtype=float) for t in trajectories]
        if not paths or any(t.ndim != 2 or t.shape[0] == 0 for t in paths):
            raise ValueError("trajectories must be one or more non-empty (T, P) arrays of iterates")
        P = paths[0].shape[1]
        if any(t.shape[1] != P for t in paths):
            raise ValueError("all trajectories must have the same number of parameters, "
                             f"got {[t.shape[1] for t in paths]}")
        points = np.vstack(paths)
        if not np.all(np.isfinite(points)):
            raise ValueError("trajectories contain NaN or infinity (a diverged run?)")
        origin = paths[0][-1] if origin is None else _vector(origin, "origin")
        if origin.shape != (P,):
            raise ValueError(f"origin must have shape ({P},), got {origin.shape}")
        centred = points - points.mean(axis=0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        variance = s * s
        total = float(variance.sum())
        if not total > 0 or variance[0] <= 1e-24 * float(np.sum(points * points)):
            raise ValueError("the trajectories do not move: a PCA plane needs at least two distinct points")
        d1 = vt[0]
        if len(s) > 1 and variance[1] > 1e-20 * variance[0]:
            d2, ratio2 = vt[1], float(variance[1] / total)
        else:  # a straight path: any orthogonal direction will do; take the least-used axis
            e = np.zeros(P)
            e[np.argmin(np.abs(d1))] = 1.0
            d2 = e - (e @ d1) * d1
            d2 /= np.linalg.norm(d2)
            ratio2 = 0.0
        start = paths[0][0] - origin
        d1, d2 = (_orient(d, start) for d in (d1, d2))
        ratio = (float(variance[0] / total), ratio2)
        ab = (points - origin) @ np.column_stack([d1, d2])  # d1, d2 are orthonormal: projection is a product
        return cls(origin, d1, d2, "pca", (f"PC1 ({100 * ratio[0]:.1f}%)", f"PC2 ({100 * ratio[1]:.1f}%)"),
                   _padded_extent(ab), ratio)

    @classmethod
    def hessian(cls, objective, centre: Array) -> Plane:
        """The plane through ``centre`` spanned by the Hessian's top two eigenvectors there.

        ``objective``: any objective :func:`~losslab.engine.curvature` takes (an
        ``Objective``, a ``PlaneObjective``, a test surface); ``centre: (P,)``. ``d1``, ``d2``
        are the unit eigenvectors of the largest and the second largest eigenvalue
        (orthogonal; each signed so that its largest entry is positive), so the slice shows
        the sharpest curvature there: along a the loss bends by ``λ₁ a² / 2`` near the centre.
        ``eigenvalues = (λ₁, λ₂)``, also in the labels. (a, b) are offsets from the centre,
        as on a random plane (extent ±1: a step of norm 1 in θ).

        Where the top eigenvalue is repeated — a hinge loss's Hessian is the penalty's
        ``2 lam`` on every weight, a zero matrix without a penalty — any orthonormal pair of
        its eigenspace is as sharp: the plane shows the pair the eigensolver returns, valid
        but arbitrary (for the zero matrix two coordinate axes of θ). With ``λ₁ ≤ 0``
        (nowhere curving up) the plane still shows the two least downward directions.
        """
        from .hessians import curvature  # hessians builds on this module

        centre = _vector(centre, "centre")
        found = curvature(objective, centre)
        if found.eigenvectors.shape[1] < 2:
            raise ValueError("a hessian plane needs two eigenvectors; the objective has fewer than 2 parameters")
        values = (float(found.eigenvalues[-1]), float(found.eigenvalues[-2]))
        return cls(centre, found.eigenvectors[:, -1], found.eigenvectors[:, -2], "hessian",
                   (f"v₁ (λ₁ = {values[0]:.3g})", f"v₂ (λ₂ = {values[1]:.3g})"), eigenvalues=values)

    @classmethod
    def interpolation(cls, p0: Array, p1: Array, p2: Array) -> Plane:
        """The plane through three points: ``origin = p0``, ``d1 = p1 - p0``, ``d2 = p2 - p0``.

        So p0, p1, p2 sit at (0, 0), (1, 0), (0, 1), and ``a`` interpolates from p0 to p1
        (e.g. a start and the ends of two runs). The points must not be collinear.
        """
        p0, p1, p2 = (_vector(p, n) for p, n in ((p0, "p0"), (p1, "p1"), (p2, "p2")))
        if not (p0.shape == p1.shape == p2.shape):
            raise ValueError(f"p0, p1, p2 must have the same shape, got {p0.shape}, {p1.shape}, {p2.shape}")
        try:
            return cls(p0, p1 - p0, p2 - p0, "interpolation", ("toward p1", "toward p2"), (-0.25, 1.25, -0.25, 1.25))
        except ValueError:
            raise ValueError("p0, p1, p2 are collinear (or coincide): they do not define a plane") from None


def _index(k, P: int, name: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not -P <= k < P:
        raise ValueError(f"{name} must be a coordinate index in 0..{P - 1}, got {k!r}")
    return int(k) % P


def _column_targets(norms: Array) -> Array:
    """theta0's column norms, with zero columns given the RMS of the others (1 if all are zero)."""
    nonzero = norms > 0
    fill = float(np.sqrt(np.mean(norms[nonzero] ** 2))) if nonzero.any() else 1.0
    return np.where(nonzero, norms, fill)


def _orient(d: Array, start: Array) -> Array:
    dot = float(d @ start)
    if dot == 0.0:  # the start is on the axis: fall back to "largest component positive"
        dot = -float(d[np.argmax(np.abs(d))])
    return -d if dot > 0 else d


def _padded_extent(ab: Array) -> tuple[float, float, float, float]:
    """A window around the points ``ab (K, 2)``: their box, widened by 25%, never flat."""
    lo, hi = ab.min(axis=0), ab.max(axis=0)
    span = hi - lo
    half = 0.625 * np.maximum(span, 0.25 * max(float(span.max()), 1e-12))
    mid = (lo + hi) / 2
    return (mid[0] - half[0], mid[0] + half[0], mid[1] - half[1], mid[1] + half[1])


def project(thetas: Array, plane: Plane) -> tuple[Array, Array]:
    """Least-squares coordinates of points on ``plane`` and their off-plane distances.

    ``thetas: (K, P)`` (or one ``(P,)`` point) -> ``ab: (K, 2)`` (or ``(2,)``) minimising
    ``||theta - plane.point(a, b)||``, and ``residual: (K,)`` (or a float), that minimum:
    0 for a path that stays in the plane, and the distance a projected path hides.
    """
    thetas = np.asarray(thetas, dtype=float)
    single = thetas.ndim == 1
    pts = thetas[None, :] if single else thetas
    if pts.ndim != 2 or pts.shape[1] != plane.n_params:
        raise ValueError(f"thetas must have shape (K, {plane.n_params}) or ({plane.n_params},), got {thetas.shape}")
    offsets = pts - plane.origin
    ab, *_ = np.linalg.lstsq(plane.basis, offsets.T, rcond=None)
    ab = ab.T
    residual = np.linalg.norm(offsets - ab @ plane.basis.T, axis=1)
    return (ab[0], float(residual[0])) if single else (ab, residual)


class PlaneObjective:
    """``objective`` restricted to ``plane``: a 2-parameter objective of ``(a, b)``.

    ``loss(ab) = objective.loss(plane.point(a, b))`` and, by the chain rule,
    ``grad = [d1 . g, d2 . g]`` with ``g`` the full gradient. ``n_examples`` is forwarded,
    so minibatch optimizers work too, and an optimizer run here traces a path that lies
    exactly on the contour drawn for ``plane``.
    """

    n_params = 2

    def __init__(self, objective, plane: Plane):
        if plane.n_params != objective.n_params:
            raise ValueError(f"the plane lives in {plane.n_params} parameters "
                             f"but the objective has {objective.n_params}")
        self.objective = objective
        self.plane = plane
        self.n_examples = objective.n_examples

    def __repr__(self) -> str:
        return f"PlaneObjective({self.objective!r}, {self.plane.kind} plane)"

    @property
    def keep_prob(self):
        """The wrapped objective's dropout keep-probability (None when it has none)."""
        return getattr(self.objective, "keep_prob", None)

    def replace(self, **changes) -> PlaneObjective:
        """The same slice of the objective with some settings changed (e.g. ``keep_prob`` for dropout)."""
        if not callable(getattr(self.objective, "replace", None)):
            raise ValueError(f"{type(self.objective).__name__} has no settings to change")
        return PlaneObjective(self.objective.replace(**changes), self.plane)

    def theta(self, ab: Array) -> Array:
        """``ab (2,) -> theta (P,)``, the full parameter vector."""
        ab = np.asarray(ab, dtype=float)
        if ab.shape != (2,):
            raise ValueError(f"a point of the plane has shape (2,), got {ab.shape}")
        return self.plane.point(ab[0], ab[1])

    def loss(self, ab: Array) -> float:
        return self.objective.loss(self.theta(ab))

    def parts(self, ab: Array) -> tuple[float, float]:
        """``(data_loss, reg_loss)`` at ``theta(ab)`` (test surfaces: ``(f, 0)``)."""
        return self.objective.parts(self.theta(ab))

    def loss_grad(self, ab: Array, idx: Array | None = None,
                  rng: np.random.Generator | None = None) -> tuple[float, Array]:
        """Loss and ``(2,)`` gradient ``[d1 . g, d2 . g]``; ``idx``/``rng`` as the objective's."""
        value, g = self.objective.loss_grad(self.theta(ab), idx=idx, rng=rng)
        return value, self.plane.basis.T @ g

    def grad(self, ab: Array) -> Array:
        return self.loss_grad(ab)[1]


SEED = Param("seed", 0, "seed", kind=int, low=0, help="seed of the random directions")
BIAS = Param("bias", "zero", "bias entries", kind=str, choices=("zero", "column"),
             help="zero: biases stay fixed (Li et al.); column: b[c] joins class c's column")

PLANES = Registry("plane", [
    Entry("axes", "Two coordinates", Plane.axes, "θ = θ₀ with θᵢ = a, θⱼ = b",
          (Param("i", 0, "a: coordinate", kind=int, low=0), Param("j", 1, "b: coordinate", kind=int, low=0)),
          "An exact slice: two coordinates of θ move, the rest stay at θ₀.",
          {"needs": ("theta0",), "from_runs": False}),
    Entry("random", "Random directions (filter-normalized)", Plane.random, "θ = θ₀ + a·δ₁ + b·δ₂",
          (SEED, BIAS),
          "Two seeded Gaussian directions, each class column scaled to θ₀'s (Li et al. 2018).",
          {"needs": ("theta0", "shape"), "from_runs": False}),
    Entry("pca", "Principal directions of the paths", Plane.pca, "θ = θ_end + a·u₁ + b·u₂", (),
          "The top two principal components of the optimizers' iterates, centred at the end of the first run.",
          {"needs": ("trajectories",), "from_runs": True}),
    Entry("interpolation", "Through three points", Plane.interpolation, "θ = p₀ + a·(p₁ − p₀) + b·(p₂ − p₀)", (),
          "The plane through the start and the ends of two runs.",
          {"needs": ("theta0", "two trajectories"), "from_runs": True}),
    Entry("hessian", "Sharpest directions (Hessian)", Plane.hessian,
          "θ = θ₀ + a·v₁ + b·v₂, H v = λ v, λ₁ ≥ λ₂", (),
          "The Hessian's top two eigenvectors at the centre: the directions in which the loss curves most.",
          {"needs": ("theta0", "objective"), "from_runs": False}),
])


def make_plane(kind: str, theta0: Array | None = None, shape: tuple[int, int] | None = None,
               trajectories: Sequence[Array] = (), objective=None, **params) -> Plane:
    """The ``PLANES`` entry ``kind`` built from what a session knows, ``params`` validated.

    theta0: (P,) the start point (the centre of a hessian plane); shape: the model or (D, C)
    of W (axes labels, random planes); trajectories: (T, P) runs — pca uses them all,
    interpolation goes through theta0 and the final points of the first two; objective: the
    objective whose Hessian at theta0 spans a hessian plane.
    """
    entry = PLANES[kind]
    values = entry.validate(params)
    if kind == "pca":
        return Plane.pca(list(trajectories))
    if theta0 is None:
        raise ValueError(f"a {entry.label.lower()} plane needs the start point theta0")
    if kind == "hessian":
        if objective is None:
            raise ValueError("a hessian plane needs the objective, whose Hessian at theta0 it is made from")
        return Plane.hessian(objective, theta0)
    if kind == "axes":
        return Plane.axes(theta0, values["i"], values["j"], shape)
    if kind == "random":
        if shape is None:
            raise ValueError("a random plane needs the model (or the shape (D, C) of W) to normalize its directions")
        return Plane.random(theta0, shape, **values)
    if len(trajectories) < 2:
        raise ValueError("an interpolation plane needs two trajectories (it goes through theta0 and their ends)")
    return Plane.interpolation(theta0, np.asarray(trajectories[0])[-1], np.asarray(trajectories[1])[-1])
