"""A linear classifier drawn in its 2-D data space, as the CS231n demo draws it.

For ``W: (2, C)`` and ``b: (C,)`` each class c has a score ``s_c(x) = W[:, c] · x + b[c]``:
a plane over the data whose zero set is a line, with the weight vector ``W[:, c]`` normal
to it and pointing to where the score grows. Two classes i, j tie on the line
``(W[:, i] − W[:, j]) · x + (b[i] − b[j]) = 0``, their pairwise decision boundary.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Line:
    """The line ``{x : normal · x + offset = 0}`` in the plane; ``normal: (2,)`` (may be 0: no line)."""

    normal: Array
    offset: float

    def segment(self, box: tuple[float, float, float, float]) -> Array | None:
        """The part of the line inside ``box = (x_min, x_max, y_min, y_max)``: ``(2, 2)`` end points, or None.

        None when the line misses the box or is no line at all (a zero normal: the score is
        constant, zero everywhere or nowhere).
        """
        x0, x1, y0, y1 = box
        (a, c), d = np.asarray(self.normal, dtype=float), float(self.offset)
        if a == 0.0 and c == 0.0:
            return None
        points = []
        if c != 0.0:  # where the line crosses the box's left and right sides
            points += [(x, -(a * x + d) / c) for x in (x0, x1)]
        if a != 0.0:  # and its bottom and top
            points += [(-(c * y + d) / a, y) for y in (y0, y1)]
        span = max(x1 - x0, y1 - y0)
        inside = [p for p in points if x0 - 1e-12 * span <= p[0] <= x1 + 1e-12 * span
                  and y0 - 1e-12 * span <= p[1] <= y1 + 1e-12 * span]
        if not inside:
            return None
        inside = np.array(inside)
        # the two crossings farthest apart (a corner can be found twice, from two sides)
        gaps = np.linalg.norm(inside[:, None] - inside[None], axis=-1)
        i, j = np.unravel_index(np.argmax(gaps), gaps.shape)
        return inside[[i, j]]


def _check(W: Array, b: Array) -> tuple[Array, Array]:
    W, b = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
    if W.ndim != 2 or W.shape[0] != 2 or b.shape != (W.shape[1],):
        raise ValueError(f"a linear classifier in data space needs W (2, C) and b (C,), got {W.shape} and {b.shape}")
    return W, b


def score_zero_lines(W: Array, b: Array) -> list[Line]:
    """Each class's line where its score is 0, ``W[:, c] · x + b[c] = 0``: C lines."""
    W, b = _check(W, b)
    return [Line(W[:, c].copy(), float(b[c])) for c in range(W.shape[1])]


def decision_boundaries(W: Array, b: Array) -> dict[tuple[int, int], Line]:
    """Each pair's tie line, ``{(i, j): Line}`` for i < j: where ``s_i(x) = s_j(x)``."""
    W, b = _check(W, b)
    C = W.shape[1]
    return {(i, j): Line(W[:, i] - W[:, j], float(b[i] - b[j])) for i in range(C) for j in range(i + 1, C)}


def weight_vectors(W: Array) -> Array:
    """``(C, 2)``: class c's weight vector ``W[:, c]``, normal to its score-zero line, pointing up its score."""
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != 2:
        raise ValueError(f"weight vectors in data space need W (2, C), got {W.shape}")
    return W.T.copy()


def clip_segments(starts: Array, ends: Array, lo: Array, hi: Array) -> tuple[Array, Array, Array]:
    """Segments ``starts[i] → ends[i]`` (S, 2) cut to the box [lo, hi]: ``(visible (S,), first (S, 2), last (S, 2))``.

    Liang–Barsky: each segment is measured from its end nearer the box, so one running to 1e30 still knows where it starts
    and keeps its direction. A segment with a non-finite end is not visible.
    """
    centre = (lo + hi) / 2
    flip = (np.abs(ends - centre).max(axis=1) < np.abs(starts - centre).max(axis=1))[:, None]
    origin, step = np.where(flip, ends, starts), np.where(flip, starts - ends, ends - starts)
    with np.errstate(all="ignore"):  # far points give ±inf crossing times, NaN points NaN: both compare right
        t_lo, t_hi = (lo - origin) / step, (hi - origin) / step
        inside = (lo <= origin) & (origin <= hi)
        parallel = step == 0  # no crossing on that axis: inside for the whole step, or never
        t_in = np.where(parallel, np.where(inside, -np.inf, np.inf), np.minimum(t_lo, t_hi))
        t_out = np.where(parallel, np.where(inside, np.inf, -np.inf), np.maximum(t_lo, t_hi))
        t0 = np.maximum(t_in.max(axis=1, keepdims=True), 0.0)
        t1 = np.minimum(t_out.min(axis=1, keepdims=True), 1.0)
        visible = (t0 < t1)[:, 0]
        entry, exit_ = origin + t0 * step, origin + t1 * step
    return visible, np.where(flip, exit_, entry), np.where(flip, entry, exit_)
