"""Landscapes over many examples stream over pieces of examples: memory constant in N, values exact.

Beyond ``landscape._STREAM_TERMS`` loss terms (N x C) the per-loss tables are rebuilt a
piece of examples at a time for each block of rows instead of being kept, so nothing
N-sized is allocated besides the data itself. Memory is measured with tracemalloc (NumPy
reports its allocations to it); the values are checked against per-point evaluation of
``Objective.parts`` (an independent path: the scores of all N examples at one theta).
"""
import numpy as np
import pytest

import losslab.engine.landscape as landscape
from losslab.engine import Objective, Plane, loss_surface, loss_surface_blocks, make_dataset
from test_budget import traced_peak  # the budget's tests measure memory the same way

N, C = 200_000, 6  # 1.2 M loss terms: beyond _STREAM_TERMS, so streamed
MiB = 2 ** 20


@pytest.fixture(scope="module")
def data():
    return make_dataset("blobs", n=N, classes=C, seed=3)


def plane_for(objective):
    theta0 = 0.3 * np.random.default_rng(5).standard_normal(objective.n_params)
    return Plane.random(theta0, (2, C), seed=5)


@pytest.mark.parametrize("loss", ["svm", "squared_hinge", "softmax", "ova_svm", "structured_svm"])
def test_many_examples_stream_in_bounded_memory_and_stay_exact(data, loss):
    assert N * C > landscape._STREAM_TERMS
    objective = Objective(data.X, data.y, loss=loss, reg="l2", lam=0.01)
    plane = plane_for(objective)
    a, b = np.linspace(-1.5, 1.5, 12), np.linspace(-1.0, 2.0, 7)
    Z, peak = traced_peak(lambda: loss_surface(objective, plane, a, b))
    # streamed, one piece's tables (_STREAM_PIECE loss terms; for softmax also its a-side factors,
    # at most _STREAM_FACTORS) and one block's working set are all there is, whatever N: measured
    # 3.3-6.4 MiB here for the hinge losses, 9.9 MiB for softmax (with the tables kept whole the
    # same surfaces peak at 46-89 MiB, and 120 MiB for softmax)
    assert peak < (16 if loss == "softmax" else 8) * MiB, f"peak {peak / MiB:.1f} MiB"
    for i, j in [(0, 0), (11, 6), (5, 3), (7, 1), (2, 5)]:
        data_part, reg_part = objective.parts(plane.point(a[i], b[j]))
        expected = data_part + reg_part
        assert abs(Z[j, i] - expected) <= 1e-9 * abs(expected) + 1e-12, (i, j, Z[j, i], expected)


def test_peak_memory_does_not_grow_with_n():
    # twice the examples, the same peak (within the noise of one piece's rounding)
    peaks = []
    for n in (N, 2 * N):
        d = make_dataset("blobs", n=n, classes=C, seed=4)
        objective = Objective(d.X, d.y, loss="softmax")
        plane = plane_for(objective)
        a = np.linspace(-1.0, 1.0, 10)
        peaks.append(traced_peak(lambda: loss_surface(objective, plane, a, a))[1])
    assert peaks[1] <= 1.1 * peaks[0] + MiB, [p / MiB for p in peaks]


def test_streamed_blocks_equal_kept_tables(monkeypatch):
    # the same surface, tables kept (the default at this N) or streamed in tiny pieces, block by block
    d = make_dataset("blobs", n=2_000, classes=4, seed=6)
    a, b = np.linspace(-1.0, 1.0, 70), np.linspace(-2.0, 1.0, 19)
    for loss in ("svm", "squared_hinge", "softmax", "ova_svm", "structured_svm"):
        objective = Objective(d.X, d.y, loss=loss, reg="l1", lam=0.1)
        plane = Plane.random(np.random.default_rng(2).standard_normal(objective.n_params), (2, 4), seed=2)
        kept = loss_surface(objective, plane, a, b)
        with monkeypatch.context() as m:
            m.setattr(landscape, "_STREAM_TERMS", 100)
            m.setattr(landscape, "_STREAM_PIECE", 700)
            m.setattr(landscape, "_STREAM_FACTORS", 20_000)
            streamed = np.vstack([block for _, block in loss_surface_blocks(objective, plane, a, b, block_rows=5)])
        assert np.allclose(streamed, kept, rtol=1e-12, atol=0), loss
