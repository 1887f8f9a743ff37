"""Lessons: the file format, the bundled lessons (each step builds and renders headless), the
numbers lessons 1–3 quote against the engine's, the command line, and the window's lesson bar.

The numbers of lessons 4–7 are checked in test_lessons_optimization.py.
"""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest

from losslab.engine.experiment import compute_all
from losslab.engine.losses import per_example_losses
from losslab.io.lessons import (PANELS, LessonError, lesson_from_dict, list_lessons, load_lesson, merged)

pytestmark = pytest.mark.timeout(300)

LESSON_NAMES = ("1-svm-loss", "2-regularization", "3-softmax-vs-svm", "4-optimization", "5-minibatch-sgd",
                "6-learning-rate", "7-momentum-adam")
_COMPUTED: dict = {}


def computed(lesson: str, number: int):
    """A step's experiment, computed once for the whole module."""
    key = (lesson, number)
    if key not in _COMPUTED:
        _COMPUTED[key] = compute_all(load_lesson(lesson).step(number).experiment)
    return _COMPUTED[key]


def plain(text: str) -> str:
    """A step's rich text as read: tags dropped, entities resolved."""
    return re.sub(r"<[^>]+>", "", text).replace("&nbsp;", " ")


def quotes(text: str, number: float, digits: int) -> bool:
    """Whether ``text`` quotes ``number`` rounded to ``digits`` decimals (as written, e.g. 0.026 or 695.45)."""
    written = f"{number:.{digits}f}"
    return re.search(rf"(?<![\d.]){re.escape(written)}(?![\d])", plain(text)) is not None


# --- the format -----------------------------------------------------------------------------------

SESSION = {"experiment": {"problem": {"n": 30}, "plane": {"resolution": 16}, "steps": 10}}


def lesson(*steps, **fields):
    return {"format": "losslab-lesson", "version": 1, "title": "T", "steps": list(steps), **fields}


def test_a_step_continues_from_the_one_before_and_changes_merge_object_by_object():
    data = lesson({"title": "one", "text": "a", "session": SESSION},
                  {"title": "two", "changes": {"experiment": {"objective": {"lam": 0.5}}, "view": {"colormap": "inferno"}},
                   "frame": 3, "point_at": {"run": 1}},
                  {"title": "three", "changes": {"experiment": {"runs": [{"method": "adam"}]}}})
    one, two, three = lesson_from_dict(data, "t").steps
    assert one.experiment.problem.n == 30 and two.experiment.problem.n == 30  # kept from step 1
    assert two.experiment.objective.lam == 0.5 and one.experiment.objective.lam != 0.5
    assert two.experiment.objective.loss == one.experiment.objective.loss  # the other objective fields stay
    assert two.view == {"colormap": "inferno"} and two.frame == 3 and two.point_at == ("run", 1)
    assert [r.method for r in three.experiment.runs] == ["adam"]  # a list is replaced whole
    assert three.experiment.objective.lam == 0.5  # and step 2's change carries on


def test_merged_leaves_its_inputs_alone():
    base = {"a": {"b": 1, "c": [1, 2]}}
    out = merged(base, {"a": {"c": [3]}, "d": 4})
    assert out == {"a": {"b": 1, "c": [3]}, "d": 4} and base == {"a": {"b": 1, "c": [1, 2]}}


def test_a_preset_named_as_a_step_session_is_that_preset():
    from losslab.io.session_file import load_session, resolve_session
    step = lesson_from_dict(lesson({"session": "15-why-this-learning-rate-diverges"}), "t").steps[0]
    assert step.experiment == load_session(resolve_session("15-why-this-learning-rate-diverges"))[0]


@pytest.mark.parametrize("data, named", [
    ([], "a JSON object"),
    ({"format": "losslab-session", "version": 1, "steps": []}, "not a losslab lesson"),
    (lesson({"session": SESSION}, version=2), "newer losslab"),
    (lesson({"session": SESSION}, chapters=3), "chapters is not a known field"),
    (lesson(), "at least one step"),
    (lesson({"text": "no session"}), "step 1: the first step needs a session"),
    (lesson({"session": SESSION}, {"sesion": SESSION}), "step 2: sesion is not a step field"),
    (lesson({"session": "no-such-preset"}), "step 1.session: no-such-preset: no such file"),
    (lesson({"session": SESSION, "point_at": {"panel": "toolbar"}}), "'toolbar' is not a panel"),
    (lesson({"session": SESSION, "point_at": {"run": -1}}), "a run is a position"),
    (lesson({"session": SESSION, "frame": 2.5}), "step 1.frame must be a step"),
    (lesson({"session": SESSION}, {"changes": {"experiment": {"objective": {"lam": -1}}}}), "step 2"),
    (lesson({"session": SESSION}, {"changes": {"experiment": {"objective": {"lam": -1}}}}), "lam"),
    (lesson({"session": SESSION, "changes": {"plot": {}}}), "changes must be an object"),
    (lesson({"session": SESSION, "text": 3}), "step 1.text must be text"),
])
def test_a_bad_lesson_is_refused_naming_the_step_and_the_field(data, named):
    with pytest.raises(LessonError, match=re.escape(named)):
        lesson_from_dict(data, "t")


def test_a_step_that_does_not_exist_is_named():
    bundled = load_lesson("svm-loss")
    with pytest.raises(LessonError, match=r"lesson 1-svm-loss has 5 steps \(1 to 5\); there is no step 6"):
        bundled.step(6)
    with pytest.raises(LessonError, match="no step 0"):
        bundled.step(0)


def test_an_unknown_lesson_names_the_lessons_there_are():
    with pytest.raises(LessonError, match="no lesson of that name.*1-svm-loss"):
        load_lesson("no-such-lesson")


# --- the bundled lessons ------------------------------------------------------------------------

def test_the_seven_lessons_follow_the_notes_in_order():
    assert [name for name, _, _ in list_lessons()] == list(LESSON_NAMES)
    for k, (name, title, _) in enumerate(list_lessons(), start=1):
        assert title.startswith(f"{k}. ") and load_lesson(name).title == title


@pytest.mark.parametrize("name", LESSON_NAMES)
def test_every_step_builds_reads_briefly_and_stops_at_a_frame_that_exists(name):
    from losslab.app.session import view_from_dict
    bundled = load_lesson(name)
    assert bundled.description and 3 <= len(bundled.steps) <= 8
    for number, step in enumerate(bundled.steps, start=1):
        view_from_dict(step.view)  # the window accepts its view settings
        words = len(plain(step.text).split())
        assert step.title and 20 <= words <= 120, (number, words)  # a few sentences: read aloud in a minute
        if step.frame is not None:
            assert step.frame <= computed(name, number).n_frames - 1, number
        if step.point_at is not None:
            kind, target = step.point_at
            if kind == "panel":
                assert target in PANELS
            elif kind == "run":
                assert target < len(computed(name, number).runs)
            else:
                assert target < computed(name, number).problem.objective.X.shape[0]


@pytest.mark.parametrize("name", LESSON_NAMES)
def test_every_step_renders_headless_with_its_landscape(name, tmp_path):
    import pyqtgraph as pg
    from PIL import Image

    from losslab.app.main import render
    from losslab.app.session import view_from_dict
    for number, step in enumerate(load_lesson(name).steps, start=1):
        out = tmp_path / f"step{number}.png"
        summary = render(name, str(out), size=(800, 450), step=number)
        assert f"step {number}: {step.title}" in summary
        pixels = np.asarray(Image.open(out).convert("RGB"))[: 450 * 6 // 10].reshape(-1, 3).astype(int)
        lut = pg.colormap.get(view_from_dict(step.view).colormap).getLookupTable(nPts=64)[:, :3].astype(int)
        sample = pixels[:: 7]
        on_map = (np.min(((sample[:, None, :] - lut[None]) ** 2).sum(axis=2), axis=1) < 12 ** 2).mean()
        assert on_map > 0.15, (number, on_map)  # the landscape is drawn, in the step's colour map


# --- lesson 1: the multiclass SVM loss, the lecture's 695.45 ---------------------------------------------

def test_lesson_1_quotes_the_hinge_losses_the_engine_computes():
    steps = load_lesson("svm-loss").steps
    c = computed("svm-loss", 1)
    o, run = c.problem.objective, c.runs[0]
    scores = o.scores(run.thetas[0])
    np.testing.assert_allclose(scores, [[-96.8, 437.9, 61.95], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]], atol=1e-12)
    assert list(o.y) == [0, 1, 2] and c.problem.dataset.class_names == ("cat", "car", "frog")
    for written in ("−96.8", "437.9", "61.95"):
        assert written in steps[0].text
    losses, terms = per_example_losses(scores, o.y, "svm", 1.0)
    assert quotes(steps[1].text, terms[0, 1], 1) and math.isclose(terms[0, 1], 535.7, abs_tol=1e-9)
    assert quotes(steps[1].text, terms[0, 2], 2) and math.isclose(terms[0, 2], 159.75, abs_tol=1e-9)
    assert quotes(steps[1].text, losses[0], 2) and math.isclose(losses[0], 695.45, abs_tol=1e-9)
    assert losses[1] == 0 and "L<sub>i</sub> = 0" in steps[2].text
    assert quotes(steps[2].text, losses[2], 1) and math.isclose(losses[2], 12.9, abs_tol=1e-9)
    assert quotes(steps[2].text, terms[2, 0], 1) and quotes(steps[2].text, terms[2, 1], 1)
    assert quotes(steps[2].text, o.parts(run.thetas[0])[0], 2)  # the mean, 236.12


def test_lesson_1_descent_reaches_exactly_zero_at_the_step_it_says():
    step = load_lesson("svm-loss").step(4)
    run = computed("svm-loss", 4).runs[0]
    losses = np.asarray(run.trajectory.losses)
    first_zero = int(np.argmax(losses == 0))
    assert losses[first_zero] == 0 and (losses[:first_zero] > 0).all() and run.trajectory.status == "converged"
    assert f"exactly 0 in {first_zero} steps" in step.text and step.frame == first_zero
    assert dict(run.spec.hyper)["lr"] == 10.0 and "lr = 10" in step.text


def test_lesson_1_squared_hinge_numbers():
    step = load_lesson("svm-loss").step(5)
    c = computed("svm-loss", 5)
    assert c.experiment.objective.loss == "squared_hinge"
    losses, _ = per_example_losses(c.problem.objective.scores(c.runs[0].thetas[0]), c.problem.objective.y,
                                   "squared_hinge", 1.0)
    assert quotes(step.text, losses[0], 2) and quotes(step.text, losses[2], 2) and losses[1] == 0


# --- lesson 2: regularization ----------------------------------------------------------------------------

def test_lesson_2_penalties_at_the_start_and_where_the_runs_end():
    steps = load_lesson("regularization").steps
    c = computed("regularization", 1)  # W and 2W
    o, run = c.problem.objective, c.runs[0]
    (d0, r0), (d1, r1) = o.parts(run.thetas[0]), o.parts(run.thetas[-1])
    assert d0 == 0 and d1 == 0 and quotes(steps[0].text, r0, 1) and quotes(steps[0].text, r1, 3)
    assert np.allclose(run.ab[-1], [0.51, 0.51], atol=0.005) and run.ab[-1][0] == run.ab[-1][1]

    c = computed("regularization", 2)  # spread weights
    o, run = c.problem.objective, c.runs[0]
    assert o.parts(run.thetas[0]) == (0.0, 1.0)
    assert math.isclose(o.parts(run.thetas[-1])[1], 0.25, abs_tol=0.01)  # "0.25": where it is heading
    w1, w2 = np.array([1.0, 0, 0, 0]), np.full(4, 0.25)
    assert np.abs(w1).sum() == np.abs(w2).sum() == 1 and (w1 ** 2).sum() == 4 * (w2 ** 2).sum()

    ends = {}
    for number, reg, start in ((3, "l2", 1.845), (4, "l1", 1.35), (5, "elastic_net", 2.2725)):
        c = computed("regularization", number)
        o, run = c.problem.objective, c.runs[0]
        assert c.experiment.objective.reg == reg and math.isclose(o.parts(run.thetas[0])[1], start, rel_tol=1e-12)
        assert quotes(steps[number - 1].text, start, len(str(start).split(".")[1]))
        a, b = run.ab[-1]
        assert f"({a:.2f}, {b:.2f})" in plain(steps[number - 1].text).replace("−", "-")
        ends[reg] = abs(a)
    assert ends["l1"] < 0.05 < ends["l2"] and ends["elastic_net"] < 0.05  # L1 makes the weight nearly zero


def test_lesson_2_the_bias_is_not_penalized():
    step = load_lesson("regularization").step(6)
    c = computed("regularization", 6)
    assert c.plane.labels == ("W[0,0]", "b[0]") and c.experiment.objective.reg == "l2"
    assert np.ptp(c.landscape.reg, axis=0).max() == 0  # constant along b: level lines parallel to the b axis
    assert np.ptp(c.landscape.reg, axis=1).max() > 1
    o, run = c.problem.objective, c.runs[0]
    assert run.ab[0].tolist() == [1.5, 1.2] and o.parts(run.thetas[0])[1] == 0.5 * 1.5 ** 2
    assert quotes(step.text, 1.125, 3)


# --- lesson 3: softmax vs SVM ----------------------------------------------------------------------------

def test_lesson_3_softmax_losses_of_the_three_images():
    steps = load_lesson("softmax-vs-svm").steps
    c = computed("softmax-vs-svm", 1)
    o = c.problem.objective
    assert c.experiment.objective.loss == "softmax"
    losses, p = per_example_losses(o.scores(c.runs[0].thetas[0]), o.y, "softmax", 1.0)
    assert quotes(steps[0].text, losses[0], 1) and quotes(steps[0].text, losses[2], 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert quotes(steps[1].text, p[1, 1], 3) and quotes(steps[1].text, losses[1], 4)
    hinge, _ = per_example_losses(o.scores(c.runs[0].thetas[0]), o.y, "svm", 1.0)
    assert hinge[1] == 0 < losses[1]  # the SVM is satisfied, softmax is not


def test_lesson_3_the_overflow_and_the_shift():
    step = load_lesson("softmax-vs-svm").step(3)
    c = computed("softmax-vs-svm", 3)
    o = c.problem.objective
    f = o.scores(c.runs[0].thetas[0])[0]
    assert f.tolist() == [123.0, 456.0, 789.0]
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(f) / np.exp(f).sum()
    assert naive[0] == 0 and naive[1] == 0 and np.isnan(naive[2])
    losses, _ = per_example_losses(o.scores(c.runs[0].thetas[0]), o.y, "softmax", 1.0)
    assert losses[0] == 666.0 and "= 666" in plain(step.text)


def test_lesson_3_svm_and_softmax_on_the_same_slice():
    steps = load_lesson("softmax-vs-svm").steps
    for number, total in ((4, 0.031), (5, 0.114)):
        c = computed("softmax-vs-svm", number)
        o = c.problem.objective
        for run in c.runs:
            assert math.isclose(sum(o.parts(run.thetas[-1])), total, abs_tol=0.0006)
            assert f"{o.accuracy(run.thetas[-1]):.1%}" in steps[number - 1].text
        assert quotes(steps[number - 1].text, total, 3)
    c = computed("softmax-vs-svm", 5)
    assert c.landscape.data.min() > 0 and quotes(steps[4].text, c.landscape.data.min(), 3)


# --- the command line -------------------------------------------------------------------------------------

def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "losslab", *args], capture_output=True, text=True, timeout=timeout)


def test_losslab_lessons_lists_one_a_line():
    out = cli("lessons")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(LESSON_NAMES)
    assert lines[0].split(None, 1)[1] == load_lesson("1-svm-loss").title


def test_render_of_a_step_that_does_not_exist_is_one_line(tmp_path):
    out = cli("render", "svm-loss", "--step", "9", "-o", str(tmp_path / "x.png"))
    assert out.returncode == 2 and not (tmp_path / "x.png").exists()
    assert out.stderr.strip().count("\n") == 0 and "there is no step 9" in out.stderr
    out = cli("render", "01-svm-slice", "--step", "2", "-o", str(tmp_path / "x.png"))
    assert out.returncode == 2 and "--step is for lessons" in out.stderr
    out = cli("--lesson", "no-such-lesson")
    assert out.returncode == 2 and "no lesson of that name" in out.stderr and out.stderr.count("\n") == 1
    out = cli("--step", "2")
    assert out.returncode == 2 and "--step needs --lesson" in out.stderr


def test_render_of_a_step_shows_that_steps_session_at_its_frame(tmp_path):
    """Step 4 of lesson 1 stops at the frame where the loss reaches 0; its JSON export is that step's session."""
    from losslab.app.main import render
    from losslab.io.session_file import load_session
    render("1-svm-loss", str(tmp_path / "s5.json"), step=5)
    experiment, _, info = load_session(tmp_path / "s5.json")
    assert experiment == load_lesson("1-svm-loss").step(5).experiment and "step 5" in info["title"]
    assert json.loads((tmp_path / "s5.json").read_text())["experiment"]["objective"]["loss"] == "squared_hinge"


def test_the_window_opens_a_lesson_at_a_step_from_the_command_line(tmp_path):
    """``losslab --lesson svm-loss --step 4``: that step's session (its run reaches 0 at step 51, and stops)."""
    import os
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    out = subprocess.run([sys.executable, "-m", "losslab", "--lesson", "svm-loss", "--step", "4", "--play-for", "0.3",
                          "--export-png", str(tmp_path / "step4.png")], capture_output=True, text=True, timeout=120,
                         env=env)
    assert out.returncode == 0, out.stderr
    assert re.search(r"^played to step \d+ of 51$", out.stdout, re.M) and (tmp_path / "step4.png").stat().st_size > 10_000


def test_only_a_regular_file_is_looked_into_for_a_lesson(tmp_path):
    import os
    from pathlib import Path

    from losslab.io.lessons import find_lesson, is_lesson_file
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "lesson.json"
        os.mkfifo(fifo)
        assert not is_lesson_file(fifo) and find_lesson(str(fifo)) is None  # at once: a FIFO is never opened
    assert not is_lesson_file(tmp_path) and not is_lesson_file(Path("/dev/null"))
    lesson_path = tmp_path / "mine.json"
    lesson_path.write_text('{"format": "losslab-lesson", "version": 1, "steps": []}')
    assert is_lesson_file(lesson_path) and find_lesson(str(lesson_path)) == lesson_path
