"""Iso-lines of a sampled surface by marching squares, vectorized over the whole grid.

The window draws each level as line segments; computing them here, in NumPy and off the
GUI thread, keeps redraws cheap (pyqtgraph's own isocurve walks the grid in Python).
"""
from __future__ import annotations

import numpy as np

Array = np.ndarray

# Cell corners: v0 = (i, j), v1 = (i+1, j), v2 = (i+1, j+1), v3 = (i, j+1); bit k of the
# case is set when corner k lies above the level. Edges: e0 = v0–v1, e1 = v1–v2,
# e2 = v3–v2, e3 = v0–v3. Each case crosses the cell with one or two segments (edge, edge).
# The two saddle cases (5, 10) are split by the value at the cell centre.
_SEGMENTS = {
    1: [(3, 0)], 2: [(0, 1)], 3: [(3, 1)], 4: [(1, 2)], 6: [(0, 2)], 7: [(3, 2)],
    8: [(2, 3)], 9: [(0, 2)], 11: [(1, 2)], 12: [(1, 3)], 13: [(0, 1)], 14: [(3, 0)],
}
_SADDLE_CENTRE_LOW = {5: [(3, 0), (1, 2)], 10: [(0, 1), (2, 3)]}
_SADDLE_CENTRE_HIGH = {5: [(3, 2), (0, 1)], 10: [(0, 3), (2, 1)]}


def _pair_table() -> np.ndarray:
    """``(32, 2, 2)``: the (edge, edge) of a cell's first and second segment, by case + 16 when its centre is
    above the level; -1 where there is none. One lookup instead of a pass over the cells per case."""
    table = np.full((32, 2, 2), -1, dtype=np.intp)
    for case, pairs in _SEGMENTS.items():
        table[case, : len(pairs)] = table[case + 16, : len(pairs)] = pairs
    for offset, saddles in ((0, _SADDLE_CENTRE_LOW), (16, _SADDLE_CENTRE_HIGH)):
        for case, pairs in saddles.items():
            table[case + offset] = pairs
    return table


_PAIRS = _pair_table()


def _crossings(lo: Array, hi: Array, level: float) -> Array:
    """Fraction of the way from ``lo`` to ``hi`` where the value equals ``level``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (level - lo) / (hi - lo)
    return np.clip(np.nan_to_num(t, nan=0.5), 0.0, 1.0)


def contour_segments(Z: Array, a_values: Array, b_values: Array, level: float) -> Array:
    """Segments of the iso-line ``Z = level``: ``(M, 2, 2)`` as ``[[a0, b0], [a1, b1]]`` pairs.

    ``Z[j, i]`` is the value at ``(a_values[i], b_values[j])``; the grid may be uneven.
    Cells touching a NaN are skipped.
    """
    Z = np.asarray(Z, dtype=float)
    a = np.asarray(a_values, dtype=float)
    b = np.asarray(b_values, dtype=float)
    if Z.shape != (b.size, a.size) or Z.ndim != 2 or min(Z.shape) < 2:
        raise ValueError(f"Z must have shape (len(b_values), len(a_values)) with both ≥ 2, got {Z.shape}")
    above = Z > level
    case = above[:-1, :-1] * 1 + above[:-1, 1:] * 2 + above[1:, 1:] * 4 + above[1:, :-1] * 8
    finite = np.isfinite(Z)
    finite_cell = finite[:-1, :-1] & finite[:-1, 1:] & finite[1:, 1:] & finite[1:, :-1]
    j, i = np.nonzero((case > 0) & (case < 15) & finite_cell)  # only cells the line crosses
    case = case[j, i]
    z0, z1, z2, z3 = Z[j, i], Z[j, i + 1], Z[j + 1, i + 1], Z[j + 1, i]
    a0, a1, b0, b1 = a[i], a[i + 1], b[j], b[j + 1]
    edges = np.stack([  # the crossing point on each edge e0..e3 of every active cell: (4, M, 2)
        np.column_stack([a0 + _crossings(z0, z1, level) * (a1 - a0), b0]),
        np.column_stack([a1, b0 + _crossings(z1, z2, level) * (b1 - b0)]),
        np.column_stack([a0 + _crossings(z3, z2, level) * (a1 - a0), b1]),
        np.column_stack([a0, b0 + _crossings(z0, z3, level) * (b1 - b0)]),
    ])
    centre_high = (z0 + z1 + z2 + z3) / 4 > level
    pairs = _PAIRS[case + 16 * centre_high]  # (M, 2, 2): each cell's one or two segments
    cells = np.arange(case.size)
    first = np.stack([edges[pairs[:, 0, 0], cells], edges[pairs[:, 0, 1], cells]], axis=1)
    two = np.flatnonzero(pairs[:, 1, 0] >= 0)  # the saddles' second segment
    second = np.stack([edges[pairs[two, 1, 0], two], edges[pairs[two, 1, 1], two]], axis=1)
    return np.concatenate([first, second]).reshape(-1, 2, 2)
