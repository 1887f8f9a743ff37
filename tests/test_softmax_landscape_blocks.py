"""Softmax landscapes on grids large enough for the fast path's blocks, chunks and shared logs.

The factorized path (``landscape._SoftmaxPiece``) multiplies the class sums of r groups
together before one log, in chunks of ``_CHUNK_GROUPS`` matrix products, over blocks of
rows, with its a-side factors made a few groups at a time. These tests take grids and N
large enough that every one of those boundaries is crossed (r smaller and larger than a
chunk, a product spanning two chunks, a last block shorter than the others) and compare
with per-point evaluation of ``Objective.parts``.
"""
import threading

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
    monkeypatch.setattr(landscape, "_SOFTMAX_CELLS", 16 * a.size)  # blocks of 16 rows: the factors are kept
    assert stored_factors(objective, plane, a, b) == [True]
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


# --- two threads: each takes whole products of r groups ------------------------------------------

def stored_factors(objective, plane, a, b) -> list[bool]:
    """For each group of examples of the landscape's softmax term: whether its a-side factors are kept."""
    surface = landscape._Surface(objective, plane, a, b, ("data",))
    landscape.drain(surface.build())
    return [group["E"] is not None for term in surface.terms["data"] for piece in term.pieces for group in piece.groups]


def threaded_case(n=600, classes=3, seed=13):
    data = make_dataset("blobs", n=n, classes=classes, seed=seed)
    objective = Objective(data.X, data.y, loss="softmax")
    plane = Plane.random(2.0 * np.random.default_rng(seed).standard_normal(objective.n_params), (2, classes), seed=seed)
    return objective, plane, np.linspace(-1.0, 1.0, 96), np.linspace(-1.0, 1.0, 70)


@pytest.mark.parametrize("classes", [3, 10])
@pytest.mark.parametrize("stored", [True, False])
def test_the_threads_shares_add_up_to_the_one_thread_surface(monkeypatch, classes, stored):
    objective, plane, a, b = threaded_case(classes=classes)
    if stored:
        monkeypatch.setattr(landscape, "_SOFTMAX_CELLS", 16 * a.size)  # blocks of 16 rows: the factors serve several
    assert stored_factors(objective, plane, a, b) == [stored]
    monkeypatch.setattr(landscape, "_SOFTMAX_THREADS", 1)
    alone = loss_surface(objective, plane, a, b, "data")
    monkeypatch.setattr(landscape, "_SOFTMAX_THREADS", 2)
    monkeypatch.setattr(landscape, "_SHARE_WORK", 1)  # shares however small the grid
    assert landscape._softmax_shares(64, 8, 1) == [(0, 32), (32, 64)]  # whole products of r = 8 groups
    assert landscape._softmax_shares(48, 8, 1) == [(0, 24), (24, 48)]  # 3 + 3 products
    assert landscape._softmax_shares(40, 8, 1) == [(0, 24), (24, 40)]  # 3 + 2: the caller's is the larger
    assert landscape._softmax_shares(8, 8, 1) == [(0, 8)]  # one product: one thread
    helpers, helping = [], threading.Event()
    real_drain, real_sums = landscape._drain_quietly, landscape._SoftmaxPiece._group_sums

    def drain(steps):
        helpers.append(threading.current_thread().name)
        helping.set()
        return real_drain(steps)

    def group_sums(self, *args):  # the caller's share waits for the helper to take the other (else it may take both)
        if threading.current_thread() is threading.main_thread():
            assert helping.wait(10), "the helper took no share"
        return (yield from real_sums(self, *args))
    monkeypatch.setattr(landscape, "_drain_quietly", drain)
    monkeypatch.setattr(landscape._SoftmaxPiece, "_group_sums", group_sums)
    threaded = loss_surface(objective, plane, a, b, "data")
    assert helping.is_set() and all(name.startswith("losslab-softmax") for name in helpers)
    np.testing.assert_allclose(threaded, alone, rtol=1e-14, atol=0)
    sample_check(objective, plane, a, b, threaded, n=20, seed=2)


@pytest.mark.timeout(60)
def test_a_share_the_busy_helper_has_not_started_runs_on_the_callers_thread(monkeypatch):
    objective, plane, a, b = threaded_case()
    monkeypatch.setattr(landscape, "_SOFTMAX_THREADS", 2)
    monkeypatch.setattr(landscape, "_SHARE_WORK", 1)
    expected = loss_surface(objective, plane, a, b, "data")  # the helper's pool exists from here on
    started, release = threading.Event(), threading.Event()
    busy = landscape._softmax_pool.submit(lambda: started.set() or release.wait(60))  # another landscape's share
    started.wait(30)
    try:
        np.testing.assert_allclose(loss_surface(objective, plane, a, b, "data"), expected, rtol=1e-14, atol=0)
        assert not busy.done()  # computed while the helper was still busy
    finally:
        release.set()
    busy.result(30)


@pytest.mark.timeout(60)
def test_closing_a_threaded_landscape_does_not_wait_for_the_helper(monkeypatch):
    objective, plane, a, b = threaded_case(n=3000)
    monkeypatch.setattr(landscape, "_SOFTMAX_THREADS", 2)
    monkeypatch.setattr(landscape, "_SHARE_WORK", 1)
    monkeypatch.setattr(landscape, "_STEP_WORK", 1)  # a cancellation point at every report of work
    loss_surface(objective, plane, a, b, "data")  # the helper's pool exists from here on
    entered, closed, waits = threading.Event(), threading.Event(), []
    real, real_sums = landscape._drain_quietly, landscape._SoftmaxPiece._group_sums
    monkeypatch.setattr(landscape, "_drain_quietly",
                        lambda steps: (entered.set(), waits.append(closed.wait(30)), real(steps))[2])

    def group_sums(self, *args):  # the caller's share waits for the helper to take the other (else it may take both)
        if threading.current_thread() is threading.main_thread():
            assert entered.wait(10), "the helper took no share"
        return (yield from real_sums(self, *args))
    monkeypatch.setattr(landscape._SoftmaxPiece, "_group_sums", group_sums)
    blocks = loss_surface_blocks(objective, plane, a, b, "data", block_rows=b.size)
    while not entered.is_set():  # until the helper holds its share (it waits for the generator to close)
        rows, _ = next(blocks)
        assert rows.stop == rows.start  # still in the block: a cancellation point
    blocks.close()  # had it waited for the helper's share, that share would have waited 30 s in vain
    closed.set()
    assert blocks.gi_frame is None
    landscape._softmax_pool.submit(lambda: None).result(30)  # the helper's share, released, finishes on its own
    assert waits == [True]


# --- the factors' exponentials as products on an even grid ---------------------------------------

@pytest.mark.parametrize("n", [256, 250, 17, 5])  # whole runs of 16, a short last run, one point past a run, no run
def test_exponentials_made_as_products_on_an_even_grid_match_np_exp(n):
    rng = np.random.default_rng(n)
    const = np.concatenate([rng.uniform(-300, 300, 60), [-np.inf, 0.0]])
    slope = np.concatenate([rng.uniform(-200, 200, 60), [3.0, 0.0]])
    v = np.linspace(-1.0, 1.0, n)
    out = np.full((const.size, n), np.nan)
    got = landscape._exp_affine(const, slope, v, out=out)
    assert got is out
    with np.errstate(over="ignore"):
        expected = np.exp(const[:, None] + slope[:, None] * v)
    np.testing.assert_allclose(got, expected, rtol=2e-13, atol=0)  # |x| up to 500: the rounded argument's error
    assert np.all(got[-2] == 0.0) and np.all(got[-1] == 1.0)  # a dead class stays 0, a zero exponent 1


def test_uneven_grids_and_steep_slopes_take_an_exp_per_value(monkeypatch):
    calls, caller = [], threading.get_ident()
    real = np.exp  # np.exp itself is replaced, for every thread: only this one's calls count

    def exp(x, *args, **kw):
        if threading.get_ident() == caller:
            calls.append(np.shape(x))
        return real(x, *args, **kw)
    monkeypatch.setattr(landscape.np, "exp", exp)
    const, slope = np.array([0.5, -2.0]), np.array([1.0, -3.0])
    uneven = np.array([-1.0, -0.5, 0.0, 0.1, 0.7, 1.0] * 4)
    np.testing.assert_allclose(landscape._exp_affine(const, slope, uneven), real(const[:, None] + slope[:, None] * uneven),
                               rtol=1e-15)
    assert calls == [(2, uneven.size)]
    calls.clear()
    steep = np.array([0.0, 1000.0])  # across a run of 16 points the exponent moves by 350 (> 345): no runs
    v = np.linspace(0.0, 19 * 0.35 / 15, 20)
    np.testing.assert_allclose(landscape._exp_affine(np.zeros(2), steep, v), real(steep[:, None] * v), rtol=1e-15)
    assert calls == [(2, 20)]
    calls.clear()
    landscape._exp_affine(np.zeros(2), np.array([0.0, 900.0]), v)  # 315: runs, one exp per run and per step
    assert calls == [(2, 2), (2, 16)]
