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
