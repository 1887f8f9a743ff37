"""Softmax landscapes on grids large enough for the fast path's blocks, chunks and shared logs.

The factorized path (``landscape._SoftmaxPiece``) multiplies the class sums of r groups
together before one log, in chunks of ``_CHUNK_GROUPS`` matrix products, over blocks of
rows, with its a-side factors made a few groups at a time. These tests take grids and N
large enough that every one of those boundaries is crossed (r smaller and larger than a
chunk, a product spanning two chunks, a last block shorter than the others) and compare
with per-point evaluation of ``Objective.parts``.
"""
import numpy as np
import pytest

import losslab.engine.landscape as landscape
from losslab.engine import Objective, Plane, loss_surface, loss_surface_blocks, make_dataset

RTOL = 1e-12


def sample_check(objective, plane, a, b, Z, n=40, seed=0):
    rng = np.random.default_rng(seed)
    for j, i in zip(rng.integers(0, b.size, n), rng.integers(0, a.size, n)):
        expected = objective.parts(plane.point(a[i], b[j]))[0]
        assert abs(Z[j, i] - expected) <= RTOL * abs(expected), (i, j, Z[j, i], expected)


@pytest.mark.parametrize("scale", [0.3, 3.0, 12.0])  # r = 32 (across chunks); r = 4 or 2; wild and lone examples
@pytest.mark.parametrize("classes", [3, 10])
def test_softmax_on_a_large_grid_equals_per_point(scale, classes):
    data = make_dataset("blobs", n=700, classes=classes, seed=11)
    objective = Objective(data.X, data.y, loss="softmax")
    plane = Plane.random(scale * np.random.default_rng(11).standard_normal(objective.n_params), (2, classes), seed=11)
    a, b = np.linspace(-1.5, 1.5, 300), np.linspace(-1.0, 2.0, 137)  # 137 rows: a short last block
    Z = loss_surface(objective, plane, a, b, "data")
    sample_check(objective, plane, a, b, Z)


def test_products_and_logs_do_not_depend_on_the_blocking(monkeypatch):
    # the same surface with the rows cut into blocks of 7 and the a-side factors recomputed per block
    data = make_dataset("blobs", n=900, classes=3, seed=12)
    objective = Objective(data.X, data.y, loss="softmax")
    plane = Plane.random(2.0 * np.random.default_rng(12).standard_normal(objective.n_params), (2, 3), seed=12)
    a, b = np.linspace(-1.0, 1.0, 129), np.linspace(-1.0, 1.0, 61)
    whole = loss_surface(objective, plane, a, b, "data")
    monkeypatch.setattr(landscape, "_E_STORED", 0)
    monkeypatch.setattr(landscape, "_FACTOR_CHUNK", 1000)
    blocks = np.vstack([z for _, z in loss_surface_blocks(objective, plane, a, b, "data", block_rows=7)])
    assert np.allclose(blocks, whole, rtol=1e-14, atol=0)
    sample_check(objective, plane, a, b, whole, n=20, seed=1)


def test_the_blocks_suit_the_heaviest_term_and_a_wider_one_goes_by_sub_blocks():
    """L1's tables beside softmax at C = 10 take more memory a row: they no longer shrink softmax's
    blocks (43 rows instead of 64 was 10% slower), they are computed in sub-blocks of their own."""
    rng = np.random.default_rng(5)
    y = np.arange(400) % 10
    X = rng.standard_normal((400, 64)) + rng.standard_normal((10, 64))[y]
    objective = Objective(X, y, loss="softmax", reg="l1", lam=0.05)
    plane = Plane.random(0.1 * rng.standard_normal(objective.n_params), (64, 10), seed=5)
    a = np.linspace(-1, 1, 128)
    total = landscape._Surface(objective, plane, a, a, ("total",))
    data = landscape._Surface(objective, plane, a, a, ("data",))
    for surface in (total, data):
        landscape.drain(surface.build())
    (reg,) = total.terms["reg"]
    assert reg.row_cost > total.terms["data"][0].row_cost  # the wider term is not the heavier one
    assert total.default_rows == data.default_rows
    assert landscape._block_rows(reg.row_cost, 0.0, reg.min_rows, total.default_rows) < total.default_rows
    Z = loss_surface(objective, plane, a, a)
    small = np.empty_like(Z)
    for rows, block in loss_surface_blocks(objective, plane, a, a, block_rows=5):
        small[rows] = block
    np.testing.assert_allclose(Z, small, rtol=1e-13)
    for j, i in zip(rng.integers(0, a.size, 30), rng.integers(0, a.size, 30)):
        expected = objective.loss(plane.point(a[i], a[j]))
        assert abs(Z[j, i] - expected) <= RTOL * abs(expected)
