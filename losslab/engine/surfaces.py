"""Analytic 2-D test surfaces with exact gradients, for watching optimizers without data.

Each surface is an objective of ``theta = (x, y)`` with the same interface as
:class:`~losslab.engine.objective.Objective`: ``n_params = 2``, ``n_examples = None`` (no
minibatches: ``idx`` and ``rng`` are accepted and ignored), ``loss(theta)``,
``loss_grad(theta, idx=None, rng=None) -> (loss, grad (2,))``, ``grad``, ``parts`` (the
value and a zero penalty), plus ``loss_batch(thetas (K, 2)) -> (K,)`` for drawing, the
known minima (``minima``, empty when there is none), a default view ``window =
(x_min, x_max, y_min, y_max)`` and a suggested ``start``. The family is one registry,
``SURFACES``; :func:`make_surface` builds a member with validated parameters.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property

import numpy as np

from .planes import Plane
from .registry import Entry, Param, Registry

Array = np.ndarray

# f(x, y) -> (value, df/dx, df/dy), elementwise on arrays of any (equal) shape
SurfaceFn = Callable[[Array, Array], tuple[Array, Array, Array]]


class AnalyticSurface:
    """A 2-D objective ``f(x, y)`` given in closed form with its exact gradient."""

    n_params = 2
    n_examples = None

    def __init__(self, name: str, label: str, fn: SurfaceFn, window: tuple[float, float, float, float],
                 start: tuple[float, float], minima: tuple[tuple[float, float], ...] = (),
                 min_value: float | None = None, params: dict | None = None):
        self.name, self.label = name, label
        self._fn = fn
        self.window = tuple(float(w) for w in window)
        self.start = np.array(start, dtype=float)
        self.minima = tuple(np.array(m, dtype=float) for m in minima)
        self.min_value = min_value
        self.params = dict(params or {})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"AnalyticSurface({self.name!r}{', ' + args if args else ''})"

    def _check(self, theta: Array) -> Array:
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (2,):
            raise ValueError(f"theta of a 2-D test surface must have shape (2,), got {theta.shape}")
        return theta

    def loss(self, theta: Array) -> float:
        theta = self._check(theta)
        with np.errstate(over="ignore", invalid="ignore"):
            return float(self._fn(theta[0], theta[1])[0])

    def loss_grad(self, theta: Array, idx: Array | None = None,
                  rng: np.random.Generator | None = None) -> tuple[float, Array]:
        """``(f, [df/dx, df/dy])``; ``idx`` and ``rng`` are ignored (there are no examples)."""
        theta = self._check(theta)
        with np.errstate(over="ignore", invalid="ignore"):
            value, gx, gy = self._fn(theta[0], theta[1])
        return float(value), np.array([gx, gy], dtype=float)

    def grad(self, theta: Array) -> Array:
        return self.loss_grad(theta)[1]

    def parts(self, theta: Array) -> tuple[float, float]:
        """``(f, 0.0)``: all of a test surface is "data"; there is no penalty."""
        return self.loss(theta), 0.0

    def loss_batch(self, thetas: Array) -> Array:
        """``thetas: (K, 2) -> (K,)`` values, vectorized (how landscapes draw a surface)."""
        thetas = np.asarray(thetas, dtype=float)
        if thetas.ndim != 2 or thetas.shape[1] != 2:
            raise ValueError(f"thetas must have shape (K, 2), got {thetas.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(self._fn(thetas[:, 0], thetas[:, 1])[0], dtype=float)

    @cached_property
    def plane(self) -> Plane:
        """The identity slice ``theta = (a, b)`` with the surface's window as extent (one object)."""
        return Plane(np.zeros(2), [1.0, 0.0], [0.0, 1.0], "axes", ("x", "y"), self.window)


# --- the surfaces ----------------------------------------------------------------------

def _bowl(kappa: float, angle: float) -> SurfaceFn:
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))

    def fn(x, y):
        u, v = c * x + s * y, -s * x + c * y  # coordinates along the bowl's principal axes
        return 0.5 * (u * u + kappa * v * v), c * u - s * kappa * v, s * u + c * kappa * v
    return fn


def _rosenbrock(a: float, b: float) -> SurfaceFn:
    def fn(x, y):
        r = y - x * x
        return (a - x) ** 2 + b * r * r, -2.0 * (a - x) - 4.0 * b * x * r, 2.0 * b * r
    return fn


def _himmelblau(x, y):
    p, q = x * x + y - 11.0, x + y * y - 7.0
    return p * p + q * q, 4.0 * x * p + 2.0 * q, 2.0 * p + 4.0 * y * q


def _beale(x, y):
    value, gx, gy = 0.0, 0.0, 0.0
    for k, c in ((1, 1.5), (2, 2.25), (3, 2.625)):
        r = c - x + x * y**k
        value = value + r * r
        gx = gx + 2.0 * r * (y**k - 1.0)
        gy = gy + 2.0 * r * k * x * y ** (k - 1)
    return value, gx, gy


def _saddle(x, y):
    return x * x - y * y, 2.0 * x, -2.0 * y


def _rastrigin(A: float) -> SurfaceFn:
    two_pi = 2.0 * math.pi

    def fn(x, y):
        value = 2.0 * A + x * x - A * np.cos(two_pi * x) + y * y - A * np.cos(two_pi * y)
        return value, 2.0 * x + two_pi * A * np.sin(two_pi * x), 2.0 * y + two_pi * A * np.sin(two_pi * y)
    return fn


# the three minima of Himmelblau besides (3, 2), refined by Newton's method to full precision
_HIMMELBLAU_MINIMA = ((3.0, 2.0), (-2.805118086952745, 3.131312518250573),
                      (-3.779310253377747, -3.2831859912861696), (3.5844283403304917, -1.8481265269644034))


def _make_bowl(kappa: float = 10.0, angle: float = 0.0) -> AnalyticSurface:
    return AnalyticSurface("bowl", "Quadratic bowl", _bowl(kappa, angle), (-3, 3, -3, 3), (-2.5, 1.5),
                           ((0.0, 0.0),), 0.0, {"kappa": kappa, "angle": angle})


def _make_rosenbrock(a: float = 1.0, b: float = 100.0) -> AnalyticSurface:
    # the classic window (-2, 2) x (-1, 3), widened when a moves the minimum (a, a²) out of it
    window = (min(-2.0, a - 1.0), max(2.0, a + 1.0), -1.0, max(3.0, a * a + 1.0))
    return AnalyticSurface("rosenbrock", "Rosenbrock", _rosenbrock(a, b), window, (-1.5, 2.0),
                           ((a, a * a),), 0.0, {"a": a, "b": b})


def _make_himmelblau() -> AnalyticSurface:
    return AnalyticSurface("himmelblau", "Himmelblau", _himmelblau, (-5, 5, -5, 5), (0.0, 0.0),
                           _HIMMELBLAU_MINIMA, 0.0)


def _make_beale() -> AnalyticSurface:
    return AnalyticSurface("beale", "Beale", _beale, (-4.5, 4.5, -4.5, 4.5), (1.0, 1.5), ((3.0, 0.5),), 0.0)


def _make_saddle() -> AnalyticSurface:
    # unbounded below: no minimum; (0, 0) is a stationary point optimizers should escape
    return AnalyticSurface("saddle", "Saddle", _saddle, (-2, 2, -2, 2), (-1.5, 1e-3))


def _make_rastrigin(A: float = 10.0) -> AnalyticSurface:
    return AnalyticSurface("rastrigin", "Rastrigin", _rastrigin(A), (-5.12, 5.12, -5.12, 5.12), (3.3, -2.7),
                           ((0.0, 0.0),), 0.0, {"A": A})


# extra["lr"]: a learning rate at which plain gradient steps are stable on the default surface
# (curvature varies from ~1 to ~1000 between them); the window gives it to the non-adaptive methods
SURFACES = Registry("test surface", [
    Entry("bowl", "Quadratic bowl", _make_bowl, "f = ½(u² + κ v²), (u, v) = (x, y) rotated by φ",
          (Param("kappa", 10.0, "condition number κ", low=1.0, high=1e6, log=True,
                 help="ratio of the largest to the smallest curvature"),
           Param("angle", 0.0, "rotation φ (degrees)", low=-180.0, high=180.0,
                 help="angle of the bowl's long axis with the x axis")),
          "Ill-conditioned when κ ≫ 1: plain gradient descent zig-zags across the valley.", {"lr": 0.05}),
    Entry("rosenbrock", "Rosenbrock", _make_rosenbrock, "f = (a − x)² + b (y − x²)²",
          (Param("a", 1.0, "a", low=-10.0, high=10.0), Param("b", 100.0, "b", low=0.0, high=1e4, log=True)),
          "A curved, flat-bottomed valley; the minimum (a, a²) is easy to find and slow to reach.", {"lr": 1e-3}),
    Entry("himmelblau", "Himmelblau", _make_himmelblau, "f = (x² + y − 11)² + (x + y² − 7)²", (),
          "Four minima of value 0: where a run ends depends on where it starts.", {"lr": 5e-3}),
    Entry("beale", "Beale", _make_beale, "f = Σₖ (cₖ − x + x·yᵏ)², c = (1.5, 2.25, 2.625)", (),
          "Flat plateaus and sharp ridges around the minimum (3, 0.5).", {"lr": 1e-3}),
    Entry("saddle", "Saddle", _make_saddle, "f = x² − y²", (),
          "No minimum: a stationary point at the origin that a good optimizer escapes.", {"lr": 0.05}),
    Entry("rastrigin", "Rastrigin", _make_rastrigin, "f = 2A + Σᵢ (xᵢ² − A cos 2πxᵢ)",
          (Param("A", 10.0, "A (ripple height)", low=0.0, high=100.0),),
          "A bowl covered in local minima; the global one is at the origin.", {"lr": 1e-3}),
])


def make_surface(name: str, **params) -> AnalyticSurface:
    """The ``SURFACES`` entry ``name`` with its parameters validated (defaults for the rest)."""
    entry = SURFACES[name]
    return entry.impl(**entry.validate(params))
