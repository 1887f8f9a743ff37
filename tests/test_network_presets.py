"""The network presets say what they show: each description's claims, checked on the computed runs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from losslab.engine.experiment import compute_all
from losslab.io.session_file import load_session, resolve_session

pytestmark = pytest.mark.timeout(120)


def computed(name: str):
    experiment, _, info = load_session(resolve_session(name))
    return compute_all(experiment), info


def dead_units(objective, theta) -> int:
    """Hidden units whose ReLU input is ≤ 0 on every example: they output 0 and pass no gradient."""
    Z1, _ = objective.model.hidden_layer(theta, objective.X)
    return int(np.sum(np.all(Z1 <= 0, axis=0)))


def test_spiral_network_beats_the_linear_classifier():
    c, info = computed("spiral-linear-vs-network")
    o = c.problem.objective
    assert o.model.kind == "mlp" and o.model.hidden == 32
    assert c.problem.reference.accuracy < 0.6  # "stays near 55%"
    assert "55%" in info["description"] and "90%" in info["description"]
    assert max(o.accuracy(r.thetas[-1]) for r in c.runs) > 0.9


def test_optimizers_part_ways_on_the_network():
    c, _ = computed("network-optimizers")
    gd, momentum, adam = c.runs
    loss = {r.spec.method: np.asarray(r.trajectory.losses) for r in c.runs}
    assert loss["gd"][60] > 1.05 > 0.8 > loss["momentum"][60]  # plain descent still on the plateau near the saddle
    assert loss["gd"][-1] > loss["adam"][-1] and loss["gd"][-1] > loss["momentum"][-1]
    assert not np.allclose(gd.ab[-1], momentum.ab[-1], atol=0.5)


def test_a_large_learning_rate_kills_every_relu():
    c, info = computed("dead-relus")
    o = c.problem.objective
    small, large = c.runs
    assert dead_units(o, large.thetas[-1]) == o.model.hidden
    assert dead_units(o, small.thetas[-1]) < o.model.hidden // 2
    assert o.accuracy(large.thetas[-1]) == pytest.approx(1 / 3, abs=0.01)  # "falls to chance (33%)"
    assert o.accuracy(small.thetas[-1]) > 0.8


def test_a_network_started_at_zero_never_moves():
    c, info = computed("zero-init-symmetry")
    o = c.problem.objective
    run = c.runs[0]
    W1, _, W2, _ = o.unflatten(run.thetas[-1])
    assert not np.any(W1) and not np.any(W2)
    assert np.allclose(run.trajectory.losses, math.log(3), atol=1e-9)  # "stays at log 3 ≈ 1.0986"
    assert o.accuracy(run.thetas[-1]) == pytest.approx(1 / 3, abs=0.01)
