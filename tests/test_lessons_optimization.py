"""The optimization lessons (4 to 7) say what the engine computes.

Every number a step's text quotes is checked twice: it appears in the text as written, and it
is the computed value rounded as shown (``says``). What the texts claim in words is checked on
the computed runs too: which run diverges, which gets further, which leaves the plateau first.
Each distinct experiment is computed once (``computed``); steps without a session of their own
share the one before them.
"""
from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from losslab.engine import describe_check, grad_check
from losslab.engine.curvature_map import point_curvature
from losslab.engine.experiment import compute_all, find_optimum
from losslab.engine.gradcheck import GRADCHECK_THRESHOLDS
from losslab.engine.optimizers import DIVERGENCE_FACTOR
from losslab.io.lessons import PANELS, load_lesson

pytestmark = pytest.mark.timeout(300)

LESSONS = ("4-optimization", "5-minibatch-sgd", "6-learning-rate", "7-momentum-adam")

_lessons: dict = {}
_computed: dict = {}


def lesson(name: str):
    if name not in _lessons:
        _lessons[name] = load_lesson(name)
    return _lessons[name]


def step(name: str, number: int):
    """Step ``number`` (from 1) of lesson ``name``, its plain text, and its experiment computed (once)."""
    s = lesson(name).step(number)
    key = json.dumps(s.session["experiment"], sort_keys=True)
    if key not in _computed:
        _computed[key] = compute_all(s.experiment)
    return s, plain(s.text), _computed[key]


def plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)


def shown_as(shown: str, value: float) -> str:
    """``value`` written the way ``shown`` is: as many decimals, a percentage, or e-notation (``1.4e-10``)."""
    s = shown.replace("−", "-")
    if "e" in s:
        mantissa, _ = s.split("e")
        digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
        m, e = f"{value:.{digits}e}".split("e")
        return f"{m}e{int(e)}".replace("-", "−", 1 if m.startswith("-") else 0)
    percent = s.endswith("%")
    number = s.rstrip("%")
    digits = len(number.split(".")[1]) if "." in number else 0
    out = f"{value * 100 if percent else value:.{digits}f}" + ("%" if percent else "")
    return out.replace("-", "−")


def says(text: str, shown: str, value: float) -> None:
    """``shown`` is in ``text`` (a whole number, not part of a longer one) and is ``value`` to its precision."""
    assert re.search(rf"(?<![\d.]){re.escape(shown)}(?![\d])", text), f"{shown!r} is not in the text: {text}"
    assert shown_as(shown, value) == shown, f"the text says {shown}, the engine computes {value!r}"


def sentences(text: str) -> int:
    return sum(text.count(end) for end in (". ", "? ", "! ")) + 1


def first_below(values, level: float) -> int:
    return int(np.flatnonzero(np.asarray(values) < level)[0])


def rises(run) -> int:
    return int(np.sum(np.diff(np.asarray(run.trajectory.losses)) > 0))


# --- every lesson ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", LESSONS)
def test_each_lesson_reads_builds_and_points_at_what_exists(name):
    found = lesson(name)
    assert found.title.startswith(name.split("-")[0] + ". ")
    assert 3 <= len(found.steps) <= 6
    for number, s in enumerate(found.steps, start=1):
        _, text, c = step(name, number)
        assert s.title and s.text.startswith("<p>") and s.text.endswith("</p>")
        assert 2 <= sentences(text) <= 4, (number, text)
        assert not set(re.findall(r"</?(\w+)", s.text)) - {"p", "b", "i", "sub", "sup"}
        assert "<" not in text and ">" not in text
        if s.frame is not None:
            assert 0 <= s.frame <= c.n_frames - 1
        if s.point_at is not None:
            kind, target = s.point_at
            assert kind in ("run", "panel")
            if kind == "run":
                assert target < len(c.runs)
            else:
                assert target in PANELS


@pytest.mark.parametrize("name", LESSONS)
def test_each_steps_view_is_valid(name):
    pytest.importorskip("pyqtgraph")
    from losslab.app.session import view_from_dict
    for s in lesson(name).steps:
        view_from_dict(s.view)


# --- 4. Optimization --------------------------------------------------------------------------------

def test_random_search_barely_beats_chance():
    s, text, c = step("4-optimization", 1)
    o = c.problem.objective
    search, local, gd = c.runs
    assert [r.spec.method for r in c.runs] == ["random_search", "random_local_search", "gd"]
    says(text, "650", o.n_params)
    says(text, "1797", o.n_examples)
    assert o.n_classes == 10 and "9 wrong classes" in text and "(10%)" in text  # chance is 1/C
    assert all(r.trajectory.losses[0] == 9.0 for r in c.runs) and "<b>9</b>" in s.text  # W = 0: 9 margins of 1
    assert search.spec.hyper_dict["scale"] == 0.01 and "N(0, 0.01²)" in text
    losses = np.asarray(search.trajectory.losses)
    says(text, "8.63", losses[-1])
    improvements = np.flatnonzero(np.diff(losses) < 0) + 1
    assert improvements[-1] == 10 and "guess 10" in text and "other 290" in text
    says(text, "19.3%", o.accuracy(search.thetas[-1]))
    assert 0.1 < o.accuracy(search.thetas[-1]) < 0.2  # barely above chance
    assert all(r.trajectory.n_steps == 300 and r.trajectory.cost[-1] == 300 for r in c.runs)  # the same budget
    assert s.frame == 300 and s.point_at == ("run", 0)


def test_random_local_search_keeps_fewer_than_half_of_its_tries():
    s, text, c = step("4-optimization", 2)
    o = c.problem.objective
    local = c.runs[1]
    assert local.spec.hyper_dict["step_size"] == 0.01 and "0.01·N(0, I)" in text
    losses = np.asarray(local.trajectory.losses)
    kept = int(np.sum(np.diff(losses) < 0))
    says(text, "114", kept)
    assert kept < local.trajectory.n_steps / 2 and "fewer than half" in text
    says(text, "1.92", losses[-1])
    says(text, "66.5%", o.accuracy(local.thetas[-1]))
    assert losses[-1] < c.runs[0].trajectory.losses[-1]  # better than random search
    assert s.point_at == ("run", 1)


def test_following_the_gradient_wins_at_the_same_budget():
    s, text, c = step("4-optimization", 3)
    o = c.problem.objective
    search, local, gd = c.runs
    assert gd.spec.hyper_dict["lr"] == 0.5 and "lr = 0.5" in text
    assert s.view["x_axis"] == "cost"
    assert np.array_equal(np.diff(gd.trajectory.cost), np.ones(300))  # one full-data pass per step
    losses = np.asarray(gd.trajectory.losses)
    says(text, "0.923", losses[1])
    assert losses[1] < local.trajectory.losses[-1]  # one step beats 300 of random local search
    says(text, "0.045", losses[-1])
    says(text, "99.8%", o.accuracy(gd.thetas[-1]))
    assert losses[-1] < local.trajectory.losses[-1] < search.trajectory.losses[-1]
    assert s.point_at == ("run", 2)


def test_numerical_and_analytic_descent_take_one_path_at_2p_times_the_cost():
    s, text, c = step("4-optimization", 4)
    o = c.problem.objective
    numerical, analytic = c.runs
    assert (numerical.spec.method, analytic.spec.method) == ("numerical_gd", "gd")
    assert c.experiment.space == "full" and s.view["x_axis"] == "cost"
    assert numerical.trajectory.hyper["h"] == 1e-5 and "h = 10<sup>−5</sup>" in s.text
    assert o.n_examples == 300 and "300 points" in text
    says(text, "9", o.n_params)
    says(text, "18", 2 * o.n_params)
    assert np.array_equal(np.diff(numerical.trajectory.cost), np.full(40, 2.0 * o.n_params))
    assert np.array_equal(np.diff(analytic.trajectory.cost), np.ones(40))
    assert np.abs(numerical.thetas - analytic.thetas).max() < 1e-9 and "1e-9" in text
    says(text, "7.62", analytic.trajectory.losses[0])
    for run in c.runs:
        says(text, "0.387", run.trajectory.losses[-1])
        assert run.trajectory.n_steps == 40
    says(text, "720", numerical.trajectory.cost[-1])
    says(text, "40", analytic.trajectory.cost[-1])
    assert s.frame == 40


def test_the_gradient_check_the_readout_shows():
    s, text, c = step("4-optimization", 5)
    o = c.problem.objective
    assert s.frame == 0 and s.point_at == ("panel", "readout")
    assert o.n_params <= 40  # the readout checks every coordinate (no sample)
    for run in c.runs:  # what the readout's grad check column shows for each run at this frame
        shown, verdict = describe_check(grad_check(o, run.thetas[s.frame]), o.n_params)
        number, word = shown.split()
        assert verdict == word == "good" and "<i>good</i>" in s.text
        says(text, "1.4e-10", float(number))
    bounds = {verdict: bound for bound, verdict, _ in GRADCHECK_THRESHOLDS}
    assert bounds["good"] == 1e-7 and bounds["suspect"] == 1e-2 and "up to 1e-7 good" in text
    assert "above 1e-2" in text
    says(text, "18", 2 * o.n_params)


# --- 5. Minibatch SGD ------------------------------------------------------------------------------

def test_an_equal_budget_of_passes_buys_more_minibatch_steps():
    s, text, c = step("5-minibatch-sgd", 1)
    o = c.problem.objective
    gd, b15, b5 = c.runs
    assert s.view["x_axis"] == "cost" and c.experiment.space == "full"
    says(text, "150", o.n_examples)
    assert o.n_features == 4 and o.n_classes == 3 and "P = 15" in text and o.n_params == 15
    assert [r.spec.method for r in c.runs] == ["gd", "sgd", "sgd"]
    assert (b15.spec.hyper_dict["batch_size"], b5.spec.hyper_dict["batch_size"]) == (15, 5)
    assert all(r.spec.hyper_dict["lr"] == 0.3 for r in c.runs) and "lr = 0.3" in text
    assert [r.trajectory.n_steps for r in c.runs] == [10, 100, 300]
    assert "takes 10 steps" in text and "takes 100" in text and "takes 300" in text
    for run in c.runs:
        says(text, "10", run.trajectory.cost[-1])  # the same budget: 10 full-data passes each
        assert run.trajectory.cost[-1] == pytest.approx(10.0, abs=1e-12)
    assert np.allclose(np.diff(b5.trajectory.cost), 5 / 150)  # a minibatch of B costs B/N
    says(text, "1.0986", gd.trajectory.losses[0])
    assert gd.trajectory.losses[0] == pytest.approx(math.log(3)) and not gd.thetas[0].any()
    says(text, "0.477", gd.trajectory.losses[-1])
    says(text, "0.328", b15.trajectory.losses[-1])
    says(text, "0.322", b5.trajectory.losses[-1])
    assert gd.trajectory.losses[-1] > b15.trajectory.losses[-1] > b5.trajectory.losses[-1]  # smaller batches further


def test_minibatch_steps_are_noisy():
    s, text, c = step("5-minibatch-sgd", 2)
    gd, b15, b5 = c.runs
    assert rises(gd) == 0 and "falls at each of its 10 steps" in text
    says(text, "16", rises(b15))
    says(text, "126", rises(b5))
    assert "of 100 steps" in text and "of 300" in text
    assert s.point_at == ("run", 2)


def test_the_minibatch_path_wanders_but_gets_further():
    s, text, c = step("5-minibatch-sgd", 3)
    gd, _, b5 = c.runs

    def length(run):
        return float(np.linalg.norm(np.diff(run.thetas, axis=0), axis=1).sum())

    def reach(run):
        return float(np.linalg.norm(run.thetas[-1] - run.thetas[0]))

    says(text, "1.26", length(gd))
    says(text, "1.25", reach(gd))
    says(text, "24.1", length(b5))
    says(text, "3.60", reach(b5))
    says(text, "6.7", length(b5) / reach(b5))
    assert reach(b5) > reach(gd) and b5.trajectory.n_steps == 30 * gd.trajectory.n_steps and "30 times" in text
    assert s.point_at == ("panel", "landscape")


def test_fifty_passes_and_the_noise_floor():
    s, text, c = step("5-minibatch-sgd", 4)
    o = c.problem.objective
    gd, b15, b5 = c.runs
    assert [r.trajectory.n_steps for r in c.runs] == [50, 500, 1500] and "50, 500 and 1500 steps" in text
    assert all(r.trajectory.cost[-1] == pytest.approx(50.0) for r in c.runs)
    minimum = o.loss(find_optimum(o))
    says(text, "0.356", gd.trajectory.losses[-1])
    says(text, "0.3124", b15.trajectory.losses[-1])
    says(text, "0.3123", minimum)
    assert gd.trajectory.losses[-1] > minimum + 0.04  # still on its way

    def cost_to(run, level):
        return run.trajectory.cost[first_below(run.trajectory.losses, level)]

    assert cost_to(b5, minimum + 1e-3) < cost_to(b15, minimum + 1e-3)  # B = 5 got there first
    tail = np.asarray(b5.trajectory.losses[-300:])
    says(text, "0.3263", tail.max())
    assert tail.max() > b15.trajectory.losses[-1]  # cannot settle
    assert s.frame == 1500 == c.n_frames - 1


def test_a_decaying_learning_rate_calms_the_noise():
    s, text, c = step("5-minibatch-sgd", 5)
    _, _, before = step("5-minibatch-sgd", 4)
    o = c.problem.objective
    b5 = c.runs[2]
    h = b5.spec.hyper_dict
    assert (h["schedule"], h["lr"], h["decay_rate"], h["decay_every"]) == ("step", 0.3, 0.5, 300)
    assert "0.3 · 0.5" in text and "⌊t/300⌋" in text
    last_lr = h["lr"] * h["decay_rate"] ** ((b5.trajectory.n_steps - 1) // h["decay_every"])
    assert last_lr == 0.3 / 16 and "0.3/16" in text
    says(text, "0.019", last_lr)
    tail = np.asarray(b5.trajectory.losses[-300:])
    says(text, "0.3124", tail.max())
    assert tail.max() < np.max(before.runs[2].trajectory.losses[-300:])  # calmer than at a constant rate
    says(text, "0.3123", b5.trajectory.losses[-1])
    says(text, "0.3123", o.loss(find_optimum(o)))
    assert b5.trajectory.cost[-1] == pytest.approx(50.0) and "same 50 passes" in text


# --- 6. The learning rate -------------------------------------------------------------------------

def test_too_small_a_learning_rate_crawls():
    s, text, c = step("6-learning-rate", 1)
    o = c.problem.objective
    assert [r.spec.hyper_dict["lr"] for r in c.runs] == [0.05, 1.0, 6.0, 20.0]
    assert all(r.spec.method == "gd" for r in c.runs) and "lr = 0.05" in text
    slow = c.runs[0]
    says(text, "2.47", slow.trajectory.losses[0])
    says(text, "0.505", slow.trajectory.losses[-1])
    minimum = o.loss(c.problem.centre)  # the slice goes through the optimum
    says(text, "0.387", minimum)
    assert slow.trajectory.n_steps == 100 and slow.trajectory.losses[-1] > minimum + 0.1
    assert rises(slow) == 0


def test_a_good_learning_rate_gets_there_in_ten_steps():
    s, text, c = step("6-learning-rate", 2)
    o = c.problem.objective
    losses = np.asarray(c.runs[1].trajectory.losses)
    minimum = o.loss(c.problem.centre)
    for k, shown in ((0, "2.47"), (1, "1.49"), (2, "0.979"), (3, "0.698"), (10, "0.388")):
        says(text, shown, losses[k])
    assert np.all(losses[10:] - minimum < 1e-3) and "within 0.001" in text
    assert losses[9] - minimum > 1e-3  # step 10 is the first
    assert s.frame == 10


def test_too_high_a_learning_rate_bounces_past_2_over_lambda_max():
    s, text, c = step("6-learning-rate", 3)
    bouncing = c.runs[2]
    losses = np.asarray(bouncing.trajectory.losses)
    for k, shown in ((1, "2.19"), (2, "3.67"), (3, "3.17")):
        says(text, shown, losses[k])
    says(text, "49", rises(bouncing))
    # it ends in a two-step cycle between two points of the slice (a = W[0,0])
    assert c.plane.labels[0] == "W[0,0]" and c.plane.d1[0] == 1 and c.plane.origin[0] == 0
    ab = np.asarray(bouncing.ab)
    assert np.allclose(ab[-1], ab[-3]) and np.allclose(ab[-2], ab[-4]) and not np.allclose(ab[-1], ab[-2])
    says(text, "4.36", max(ab[-1, 0], ab[-2, 0]))
    says(text, "−4.28", min(ab[-1, 0], ab[-2, 0]))
    ends = sorted(losses[-2:])
    says(text, "3.79", ends[0])
    says(text, "3.86", ends[1])
    assert ends[0] > losses[0]  # worse than where it started
    at_minimum = point_curvature(c, c.runs[1], 100).curvature  # the lr = 1 run rests at the minimum
    says(text, "0.424", at_minimum.lambda_max)
    says(text, "4.72", at_minimum.lr_max)
    at_start = point_curvature(c, bouncing, 0).curvature  # what the learning-rate field compares with
    says(text, "4.58", at_start.lr_max)
    assert at_start.lr_max < 6.0 and at_minimum.lr_max < 6.0 and 1.0 < min(at_start.lr_max, at_minimum.lr_max)
    assert bouncing.trajectory.status == "completed"


def test_far_too_high_a_learning_rate_diverges():
    s, text, c = step("6-learning-rate", 4)
    e = c.experiment
    wild = c.runs[3]
    assert wild.trajectory.status == "diverged" and wild.trajectory.n_steps == 3 and "at step 3" in text
    assert [r.trajectory.status for r in c.runs[:3]] == ["completed"] * 3  # only this one
    losses = np.asarray(wild.trajectory.losses)
    for k, shown in ((1, "45.5"), (2, "534"), (3, "5119")):
        says(text, shown, losses[k])
    assert losses[3] > DIVERGENCE_FACTOR * losses[0] > losses[2]
    assert (e.objective.reg, e.objective.lam) == ("l2", 0.1) and "λ = 0.1" in text
    says(text, "−3", 1 - 2 * e.objective.lam * wild.spec.hyper_dict["lr"])
    a = np.asarray(wild.ab)[:, 0]
    for k, shown in enumerate(("−3", "16.5", "−61.3", "196")):
        says(text, shown, a[k])
    ratios = a[1:] / a[:-1]
    assert np.all(ratios <= -3)  # flips sign, grows at least threefold
    assert s.frame == 3


def test_on_a_bowl_the_steep_direction_is_multiplied_by_one_minus_lr_lambda_max():
    s, text, c = step("6-learning-rate", 5)
    curvature = point_curvature(c, c.runs[0], 0).curvature
    says(text, "10", curvature.lambda_max)
    steep = curvature.eigenvectors[:, -1]
    for run, factor in zip(c.runs[:2], (0.0, -0.9)):
        along = run.thetas[:3] @ steep  # the minimum is at 0
        assert along[1] == pytest.approx(factor * along[0], abs=1e-9)
        assert 1 - run.spec.hyper_dict["lr"] * curvature.lambda_max == pytest.approx(factor, abs=1e-9)
    assert "is 0" in text and "is −0.9" in text
    says(text, "33.5", c.runs[0].trajectory.losses[0])
    says(text, "0.811", c.runs[0].trajectory.losses[1])
    says(text, "27.0", c.runs[1].trajectory.losses[1])
    assert c.runs[0].trajectory.losses[-1] < 1e-12 and c.runs[1].trajectory.losses[-1] < 1e-12
    assert s.point_at == ("run", 1)


def test_five_percent_past_2_over_lambda_max_diverges():
    s, text, c = step("6-learning-rate", 6)
    curvature = point_curvature(c, c.runs[0], 0).curvature
    says(text, "0.2", curvature.lr_max)
    wild = c.runs[2]
    lr = wild.spec.hyper_dict["lr"]
    assert lr == 0.21 and lr / curvature.lr_max == pytest.approx(1.05) and "5%" in text
    assert 1 - lr * curvature.lambda_max == pytest.approx(-1.1) and "−1.1" in text
    losses = np.asarray(wild.trajectory.losses)
    assert np.all(np.diff(losses) > 0)  # climbs at every step
    for k, shown in ((0, "33.5"), (1, "39.9"), (2, "48.0"), (3, "57.8")):
        says(text, shown, losses[k])
    assert wild.trajectory.status == "diverged"
    says(text, "37", wild.trajectory.n_steps)
    assert losses[-1] > DIVERGENCE_FACTOR * losses[0] > losses[-2]
    assert s.frame == wild.trajectory.n_steps


# --- 7. Momentum and Adam --------------------------------------------------------------------------

def test_gradient_descent_crawls_along_a_narrow_valley():
    s, text, c = step("7-momentum-adam", 1)
    curvature = point_curvature(c, c.runs[0], 0).curvature
    assert curvature.lambda_min == pytest.approx(1.0) and curvature.lambda_max == pytest.approx(100.0)
    assert "λ<sub>max</sub> = 100" in s.text and "λ<sub>min</sub> = 1" in s.text
    says(text, "100", curvature.condition)
    says(text, "0.02", curvature.lr_max)
    gd = c.runs[0]
    lr = gd.spec.hyper_dict["lr"]
    assert lr == 0.019 < curvature.lr_max
    says(text, "0.981", 1 - lr * curvature.lambda_min)
    says(text, "325.88", gd.trajectory.losses[0])
    says(text, "0.0032", gd.trajectory.losses[-1])
    assert gd.trajectory.losses[-1] > 1e-3 and gd.trajectory.n_steps == 150  # still on its way


def test_momentum_builds_up_speed_along_the_valley():
    s, text, c = step("7-momentum-adam", 2)
    gd, momentum, nesterov = c.runs
    h = momentum.spec.hyper_dict
    assert (h["lr"], h["momentum"]) == (0.02, 0.8) and "lr = 0.02 and μ = 0.8" in text
    says(text, "0.1", h["lr"] / (1 - h["momentum"]))
    assert h["lr"] / (1 - h["momentum"]) > 5 * gd.spec.hyper_dict["lr"]  # "more than five times"
    says(text, "92", first_below(momentum.trajectory.losses, 1e-8))
    assert nesterov.spec.hyper_dict["lr"] == 0.01
    says(text, "143", first_below(nesterov.trajectory.losses, 1e-8))
    assert momentum.trajectory.losses[-1] < 1e-8 and nesterov.trajectory.losses[-1] < 1e-8
    assert min(gd.trajectory.losses) > 1e-3


def test_on_rosenbrock_momentum_and_nesterov_follow_the_curved_valley():
    s, text, c = step("7-momentum-adam", 3)
    gd, momentum, nesterov, rmsprop, adam = c.runs
    assert [r.spec.method for r in c.runs] == ["gd", "momentum", "nesterov", "rmsprop", "adam"]
    assert np.array_equal(gd.thetas[0], [-1.5, 2.5]) and c.problem.objective.loss(np.array([1.0, 1.0])) == 0
    says(text, "12.5", gd.trajectory.losses[0])
    says(text, "4.88", gd.trajectory.losses[-1])
    assert momentum.trajectory.hyper["momentum"] == 0.9 and "μ = 0.9" in text
    says(text, "0.0062", momentum.trajectory.losses[-1])
    losses = np.asarray(nesterov.trajectory.losses)
    says(text, "434", losses.max())
    assert int(losses.argmax()) == 4 and "at step 4" in text
    assert round(losses.max() / losses[0]) == 35 and "35 times" in text
    says(text, "6.8e-5", losses[-1])
    assert losses[-1] == min(r.trajectory.losses[-1] for r in c.runs)  # closest of all
    distances = [np.linalg.norm(r.thetas[-1] - 1.0) for r in c.runs]
    assert int(np.argmin(distances)) == 2


def test_adam_steps_each_coordinate_by_the_learning_rate():
    s, text, c = step("7-momentum-adam", 4)
    o = c.problem.objective
    gd, momentum, _, rmsprop, adam = c.runs
    start = gd.thetas[0]
    _, g = o.loss_grad(start)
    assert np.array_equal(g, [145.0, 50.0]) and "145 along x and 50 along y" in text
    assert np.allclose(gd.thetas[1] - start, [-0.145, -0.05]) and "(−0.145, −0.05)" in text
    assert adam.spec.hyper_dict["lr"] == 0.05
    assert np.allclose(adam.thetas[1] - start, [-0.05, -0.05], atol=1e-8) and "(−0.05, −0.05)" in text
    says(text, "0.150", adam.trajectory.losses[-1])
    says(text, "2.80", rmsprop.trajectory.losses[-1])
    assert min(adam.trajectory.losses[-1], rmsprop.trajectory.losses[-1]) > momentum.trajectory.losses[-1]


def test_on_a_network_adam_and_momentum_leave_the_saddle_first():
    s, text, c = step("7-momentum-adam", 5)
    o = c.problem.objective
    gd, momentum, adam = c.runs
    assert o.model.kind == "mlp" and o.model.hidden == 16 and o.model.activation == "relu" and "16 ReLU" in text
    says(text, "99", o.n_params)
    start = gd.thetas[0]
    assert np.abs(start).max() < 0.1 and start.any()  # small random weights, next to θ = 0
    says(text, "1.0987", gd.trajectory.losses[0])
    assert abs(gd.trajectory.losses[0] - math.log(3)) < 1e-4 and "ln 3 ≈ 1.0986" in text
    adam_step, gd_step = np.abs(adam.thetas[1] - start), np.abs(gd.thetas[1] - start)
    assert adam.spec.hyper_dict["lr"] == 0.01 and np.allclose(adam_step, 0.01, rtol=2e-3)
    says(text, "0.0013", gd_step.max())
    says(text, "18", first_below(adam.trajectory.losses, 1.05))
    says(text, "22", first_below(momentum.trajectory.losses, 1.05))
    says(text, "70", first_below(gd.trajectory.losses, 1.05))
    assert s.frame == 70


def test_on_a_network_every_optimizer_beats_the_linear_classifier():
    s, text, c = step("7-momentum-adam", 6)
    o = c.problem.objective
    gd, momentum, adam = c.runs
    for run, loss, accuracy in ((gd, "0.639", "62.3%"), (adam, "0.470", "83.7%"), (momentum, "0.431", "86.7%")):
        says(text, loss, run.trajectory.losses[-1])
        says(text, accuracy, o.accuracy(run.thetas[-1]))
        assert o.accuracy(run.thetas[-1]) > c.problem.reference.accuracy
    says(text, "54.7%", c.problem.reference.accuracy)
    assert gd.trajectory.losses[-1] > adam.trajectory.losses[-1] > momentum.trajectory.losses[-1]
    assert s.frame == 500 == c.n_frames - 1
