"""Marching-squares iso-lines: every segment lies on the level set, and closed curves close."""
import numpy as np
import pytest

from losslab.engine.contours import contour_segments


def circle_grid(n=60, uneven=False):
    a = np.linspace(-2, 2, n)
    b = np.linspace(-2, 2, n + 7)
    if uneven:
        a = np.sign(a) * a ** 2 / 2
    A, B = np.meshgrid(a, b)
    return A ** 2 + B ** 2, a, b


@pytest.mark.parametrize("uneven", [False, True])
def test_circle_iso_line_lies_on_the_circle(uneven):
    Z, a, b = circle_grid(uneven=uneven)
    seg = contour_segments(Z, a, b, 1.0)
    assert len(seg) > 40
    radius = np.hypot(seg[..., 0], seg[..., 1])
    np.testing.assert_allclose(radius, 1.0, atol=0.02)  # linear interpolation error only


def test_closed_curve_every_endpoint_is_shared():
    Z, a, b = circle_grid()
    seg = contour_segments(Z, a, b, 1.0)
    ends = np.round(seg.reshape(-1, 2), 9)
    _, counts = np.unique(ends, axis=0, return_counts=True)
    assert np.all(counts == 2)  # a closed polygon: each vertex joins exactly two segments


def test_planar_surface_gives_a_straight_line_exactly():
    a = np.linspace(0, 1, 11)
    b = np.linspace(0, 2, 5)
    Z = a[None, :] + 0.0 * b[:, None]  # Z = a
    seg = contour_segments(Z, a, b, 0.35)
    np.testing.assert_allclose(seg[..., 0], 0.35)
    assert len(seg) == 4  # one segment per row of cells


def test_saddle_cells_give_two_segments_and_levels_outside_give_none():
    Z = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert contour_segments(Z, [0, 1], [0, 1], 0.5).shape == (2, 2, 2)
    assert contour_segments(Z, [0, 1], [0, 1], 5.0).shape == (0, 2, 2)


def test_nan_cells_are_skipped_and_shape_is_checked():
    Z, a, b = circle_grid()
    Z[:, : Z.shape[1] // 2] = np.nan
    seg = contour_segments(Z, a, b, 1.0)
    assert np.all(seg[..., 0] > 0)
    with pytest.raises(ValueError, match="Z must have shape"):
        contour_segments(Z.T, a, b, 1.0)


def per_cell_segments(Z, a, b, level):
    """The naive twin: every cell on its own, the case table read cell by cell."""
    from losslab.engine.contours import _SADDLE_CENTRE_HIGH, _SADDLE_CENTRE_LOW, _SEGMENTS

    out = []
    for j in range(Z.shape[0] - 1):
        for i in range(Z.shape[1] - 1):
            z = [Z[j, i], Z[j, i + 1], Z[j + 1, i + 1], Z[j + 1, i]]
            if not np.all(np.isfinite(z)):
                continue
            case = sum(1 << k for k in range(4) if z[k] > level)

            def cross(lo, hi):
                t = (level - lo) / (hi - lo) if hi != lo else 0.5
                return min(max(t, 0.0), 1.0)

            edge = [(a[i] + cross(z[0], z[1]) * (a[i + 1] - a[i]), b[j]),
                    (a[i + 1], b[j] + cross(z[1], z[2]) * (b[j + 1] - b[j])),
                    (a[i] + cross(z[3], z[2]) * (a[i + 1] - a[i]), b[j + 1]),
                    (a[i], b[j] + cross(z[0], z[3]) * (b[j + 1] - b[j]))]
            high = sum(z) / 4 > level
            pairs = _SEGMENTS.get(case) or (_SADDLE_CENTRE_HIGH if high else _SADDLE_CENTRE_LOW).get(case, [])
            out += [(edge[p], edge[q]) for p, q in pairs]
    return sorted(tuple(np.round(np.ravel(s), 12)) for s in out)


@pytest.mark.parametrize("seed", range(4))
def test_the_vectorized_segments_are_the_cells_own_one_by_one(seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(17, 23))  # rough: many saddles
    Z[rng.random(Z.shape) < 0.05] = np.nan
    Z[3, 4:7] = 0.25  # corners exactly at the level
    a, b = np.cumsum(rng.uniform(0.1, 1.0, 23)), np.cumsum(rng.uniform(0.1, 1.0, 17))
    for level in (-0.5, 0.0, 0.25, 1.2):
        fast = sorted(tuple(np.round(s.ravel(), 12)) for s in contour_segments(Z, a, b, level))
        assert fast == per_cell_segments(Z, a, b, level)
