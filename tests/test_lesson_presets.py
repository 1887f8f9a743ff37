"""The lecture's three worked points as presets: each description's claims, checked on the computed runs.

12-many-zero-loss-w: if W has zero hinge loss so does 2W, and the penalty picks the smaller.
13-spread-weights:   x = [1,1,1,1], w₁ = [1,0,0,0] vs w₂ = [¼,¼,¼,¼]: same scores, L2 1 vs 0.25, L1 1 vs 1.
14-softmax-overflow: scores [123, 456, 789] overflow a naive softmax; shifted by the max, Lᵢ = 666.

The last test opens each one in the real window, as File ▸ Presets does.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from losslab.engine.experiment import compute_all, readout_at
from losslab.engine.losses import per_example_losses
from losslab.io.session_file import list_presets, load_session, resolve_session

pytestmark = pytest.mark.timeout(120)

LESSONS = ("12-many-zero-loss-w", "13-spread-weights", "14-softmax-overflow")


def computed(name: str):
    experiment, view, info = load_session(resolve_session(name))
    return compute_all(experiment), view, info


def sentences(text: str) -> int:
    return sum(text.count(end) for end in (". ", "? ", "! ")) + 1


def test_the_lessons_are_presets_with_short_plain_explanations():
    presets = {name: title for name, title, _ in list_presets()}
    for name in LESSONS:
        assert name in presets
        _, view, info = load_session(resolve_session(name))
        text = info["description"]
        assert info["title"] == presets[name] and 2 <= sentences(text) <= 4
        assert not any(c in text for c in "<>&")  # the same text as plain text and as rich text


# --- (a) many W give zero loss ------------------------------------------------------------------

def test_w_and_2w_both_have_zero_loss_and_the_penalty_picks_the_smaller():
    c, view, info = computed("many-zero-loss-w")
    e, o, plane, landscape = c.experiment, c.problem.objective, c.plane, c.landscape
    text = info["description"]
    assert (e.objective.loss, e.objective.reg, e.objective.lam) == ("svm", "l2", 0.05) and "λ = 0.05" in text
    assert view["part"] == "data" and view["log_scale"]

    # the slice moves W[0,0] and W[1,0]; class B's weights and both biases stay 0
    labels = list(o.model.labels)
    assert plane.labels == ("W[0,0]", "W[1,0]") and not plane.origin.any()
    assert np.flatnonzero(plane.d1).tolist() == [labels.index("W[0,0]")] and plane.d1.sum() == 1
    assert np.flatnonzero(plane.d2).tolist() == [labels.index("W[1,0]")] and plane.d2.sum() == 1

    # the darkest region is exactly 0, and scaling any of its points up keeps it there
    zero = landscape.data == 0
    assert landscape.data.min() == 0 and 0.1 < zero.mean() < 0.9
    A, B = np.meshgrid(landscape.a_values, landscape.b_values)
    for a, b in zip(A[zero][::53], B[zero][::53]):
        theta = plane.point(a, b)
        assert o.parts(2 * theta)[0] == 0 and o.parts(3 * theta)[0] == 0
    theta = plane.point(0.7, 0.4)
    assert np.array_equal(o.scores(2 * theta), 2 * o.scores(theta))  # doubling W doubles every score and margin

    # W* = (½, ½): zero loss, and the smallest such W (the example (1, 1) alone needs a + b ≥ 1)
    w_star = plane.point(0.5, 0.5)
    assert o.parts(w_star)[0] == 0 and o.parts(2 * w_star)[0] == 0
    assert any(np.array_equal(x, [1.0, 1.0]) and label == 0 for x, label in zip(o.X, o.y))
    assert np.hypot(A, B)[zero].min() >= math.sqrt(0.5) - 1e-12
    assert o.parts(plane.point(0.5 - 1e-6, 0.5 - 1e-6))[0] > 0

    # gradient descent from 2W* slides straight down the ray, pulled by the penalty alone, data loss 0
    run = c.runs[0]
    ab = np.asarray(run.ab)
    assert run.spec.method == "gd" and np.array_equal(ab[0], [1.0, 1.0])
    assert np.array_equal(ab[:, 0], ab[:, 1])  # on the ray a = b at every step
    data = np.array([o.parts(t)[0] for t in run.thetas])
    arrived = int(np.argmax(ab.sum(axis=1) < 1.0))  # the first step past the edge a + b = 1
    assert 10 < arrived < len(ab) - 20
    assert not data[:arrived].any()
    shrink = 1 - 2 * e.objective.lam * run.spec.hyper_dict["lr"]
    assert np.allclose(ab[1:arrived], shrink * ab[:arrived - 1], rtol=1e-12, atol=0)  # only λ‖W‖²'s gradient
    # there it stays, bouncing on the kink: within a hair of W*, data loss next to nothing
    assert np.abs(ab[arrived:] - 0.5).max() < 0.02 and data[arrived:].max() < 0.002 and data[arrived:].any()
    # λ‖W‖² falls from 0.1 to 0.025
    assert o.parts(run.thetas[0])[1] == pytest.approx(0.1, abs=1e-12)
    assert o.parts(run.thetas[-1])[1] == pytest.approx(0.025, abs=0.001)
    assert readout_at(c.problem, run, 0).reg_loss == pytest.approx(0.1)

    # the decision boundary does not move (the same class everywhere), and every score halves
    grid = np.stack(np.meshgrid(np.linspace(-3, 3, 61), np.linspace(-3, 3, 61)), -1).reshape(-1, 2)
    grid = grid[np.abs(grid.sum(axis=1)) > 1e-9]  # off the boundary x₁ + x₂ = 0 itself, where the scores tie
    first = o.predict(run.thetas[0], grid)
    assert all(np.array_equal(o.predict(t, grid), first) for t in run.thetas[::10])
    assert np.allclose(o.scores(run.thetas[-1]), o.scores(run.thetas[0]) / 2, rtol=0.03, atol=0)
    assert np.allclose(o.scores(run.thetas[arrived - 1]), o.scores(run.thetas[0]) * ab[arrived - 1, 0], rtol=1e-12)
    assert o.scores(run.thetas[0])[0, 0] == 2  # the example (1, 1): score 2 at 2W*, 1 at W*

    # the total has its single minimum at W*
    total = landscape.part("total")
    j, i = np.unravel_index(np.argmin(total), total.shape)
    step = landscape.a_values[1] - landscape.a_values[0]
    assert abs(landscape.a_values[i] - 0.5) <= step and abs(landscape.b_values[j] - 0.5) <= step


# --- (b) regularization prefers spread weights ----------------------------------------------------

W1 = np.array([1.0, 0.0, 0.0, 0.0])
W2 = np.array([0.25, 0.25, 0.25, 0.25])


def columns(w: np.ndarray) -> np.ndarray:
    """θ for class x's weights w and class −x's −w, biases 0."""
    return np.concatenate([np.column_stack([w, -w]).ravel(), [0.0, 0.0]])


def test_the_lecture_numbers():
    x = np.ones(4)
    assert W1 @ x == W2 @ x == 1.0
    assert (W1 @ W1, W2 @ W2) == (1.0, 0.25)
    assert np.abs(W1).sum() == np.abs(W2).sum() == 1.0


def test_the_penalty_moves_concentrated_weights_to_spread_ones_with_the_same_scores():
    c, view, info = computed("spread-weights")
    e, o, problem = c.experiment, c.problem.objective, c.problem
    text = info["description"]
    assert np.array_equal(o.X, [[1, 1, 1, 1], [-1, -1, -1, -1]]) and o.y.tolist() == [0, 1]
    assert problem.dataset.class_names == ("x", "−x") and problem.dataset.image_shape == (2, 2)  # templates
    assert (e.objective.loss, e.objective.reg, e.objective.lam) == ("ova_svm", "l2", 0.5)
    assert view["part"] == "data"

    # the start: w₁ and −w₁, scores [1, −1], every margin just met, data loss 0, λ‖W‖² = ½(1 + 1) = 1
    run = c.runs[0]
    start = run.thetas[0]
    assert np.array_equal(start, columns(W1)) and np.array_equal(np.asarray(e.theta0), columns(W1))
    assert np.array_equal(o.scores(start), [[1, -1], [-1, 1]])
    sign = np.where(np.arange(2) == o.y[:, None], 1.0, -1.0)
    assert not (1.0 - sign * o.scores(start)).any()  # every one-vs-all hinge term sits exactly at its kink
    assert o.parts(start) == (0.0, 1.0)
    assert readout_at(problem, run, 0).data_loss == 0 and readout_at(problem, run, 0).reg_loss == 1.0

    # gradient descent rides the edge of zero data loss, the scores near [1, −1]
    data = np.array([o.parts(t)[0] for t in run.thetas])
    scores = np.array([o.scores(t) for t in run.thetas])
    assert data.max() <= 0.02 + 1e-12 and np.abs(scores - [[1, -1], [-1, 1]]).max() < 0.05
    assert run.residual.max() < 1e-9  # the path lies in the slice shown
    shown = c.landscape.data
    assert shown.min() == 0 and shown.max() > 0.1  # the flat zero region and its edge are both in view
    on_plane = [o.parts(c.plane.point(a, b))[0] for a, b in run.ab[::50]]
    assert max(on_plane) <= 0.02 + 1e-9

    # ... to w₂: the same scores at a quarter of the penalty
    end = run.thetas[-1]
    W = o.unflatten(end)[0]
    assert np.allclose(W[:, 0], W2, atol=0.01) and np.allclose(W[:, 1], -W2, atol=0.01)
    assert np.allclose(o.scores(end), [[1, -1], [-1, 1]], atol=0.01)
    data_loss, reg_loss = o.parts(end)
    assert data_loss == 0 and reg_loss == pytest.approx(0.25, abs=0.005)
    assert o.parts(columns(W2)) == (0.0, 0.25)

    # the templates (the class columns of W) spread from one weight to all four
    before, after = (problem.model.input_weights(t)[:, 0] for t in (start, end))
    assert np.count_nonzero(before) == 1 and after.min() / after.max() > 0.95

    # L1 cannot tell them apart: λ‖W‖₁ = 1 for both
    l1 = o.replace(reg="l1")
    assert l1.parts(columns(W1)) == (0.0, 1.0) and l1.parts(columns(W2)) == (0.0, 1.0)
    assert "λ‖W‖₁ = 1" in text and "(0.25)" in text and "½(1 + 1) = 1" in text


# --- (c) the softmax overflow ---------------------------------------------------------------------

def test_the_shifted_softmax_gives_666_where_the_naive_one_overflows():
    c, view, info = computed("softmax-overflow")
    e, o, problem = c.experiment, c.problem.objective, c.problem
    assert (e.objective.loss, e.objective.reg) == ("softmax", "none")
    assert problem.dataset.class_names == ("cat", "car", "frog") and o.y.tolist() == [0, 1, 2]
    run = c.runs[0]
    start = run.thetas[0]
    assert np.array_equal(start, np.asarray(e.theta0))
    f = o.scores(start)
    assert np.array_equal(o.X[0], [1, 0]) and np.array_equal(f[0], [123, 456, 789])  # the cat

    # as written: exp(789) is inf in float64, p = [0, 0, nan], no loss and no gradient
    with np.errstate(all="ignore"):
        assert np.exp(789.0) == np.inf
        naive = np.exp(f[0]) / np.exp(f[0]).sum()
        assert naive[0] == 0 and naive[1] == 0 and np.isnan(naive[2])
        assert -np.log(naive[0]) == np.inf and np.isnan(naive - [1, 0, 0]).any()

    # shifted first: [−666, −333, 0], p = [5.8e−290, 2.4e−145, 1], Lᵢ = 666 for every example
    shifted = f - f.max(axis=1, keepdims=True)
    assert np.array_equal(shifted[0], [-666, -333, 0])
    losses, p = per_example_losses(f, o.y, "softmax")
    assert p[0, 0] == pytest.approx(5.8e-290, rel=0.01) and p[0, 1] == pytest.approx(2.4e-145, rel=0.01)
    assert p[0, 2] == 1.0
    assert np.allclose(losses, 666.0, rtol=0, atol=1e-9) and np.all(np.isfinite(p))
    for row, label in zip(shifted, o.y):  # the car and the frog: the same three numbers, the true class at −666
        assert sorted(row) == [-666, -333, 0] and row[label] == -666
    assert readout_at(problem, run, 0).data_loss == pytest.approx(666.0, abs=1e-9)

    # gradient descent starts from that finite loss and walks it down to nearly 0
    losses = np.asarray(run.trajectory.losses)
    assert losses[0] == pytest.approx(666.0) and np.all(np.isfinite(losses)) and losses[-1] < 0.01
    assert np.all(np.isfinite(c.landscape.data))
    text = info["description"]
    assert all(s in text for s in ("[123, 456, 789]", "[0, 0, nan]", "[−666, −333, 0]", "5.8e−290", "2.4e−145",
                                   "666"))


# --- the window -----------------------------------------------------------------------------------

def test_each_lesson_opens_in_the_window_with_its_explanation(qtbot, tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QMessageBox

    from losslab.app.session import Session
    from losslab.app.window import MainWindow
    from losslab.engine.experiment import Experiment, PlaneSpec

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *rest: warnings.append(text))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(Session(Experiment(plane=PlaneSpec(resolution=32), steps=10)), settings=settings)
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    try:
        def idle():
            return (win.session.pending is None and win.session.snapshot is not None
                    and not win.session.jobs.busy and bool(win.results))

        qtbot.waitUntil(idle, timeout=30_000)
        for name in LESSONS:
            _, _, path = next(p for p in list_presets() if p[0] == name)
            _, _, info = load_session(path)
            with qtbot.waitSignal(win.session.committed, timeout=60_000):
                assert win.open_session(path)
            qtbot.waitUntil(idle, timeout=30_000)
            qtbot.waitUntil(lambda: win.files.path == str(path), timeout=10_000)
            assert not warnings and not win._message_is_error, win.message_label.text()
            assert win.message_label.text() == info["description"]
            assert info["title"] in win.notes.text()
            win.clock.seek(0)
            qtbot.wait(50)
            win.examples_dock.raise_()
            win.examples_dock.show()
            win.show_tables()
            table = win.examples.model
            assert table.rowCount() == len(win.session.problem.dataset.y) and table.columnCount() > 0
            if name == "14-softmax-overflow":
                headers = table.headers
                assert [h for h in headers if h.startswith("p")] == ["p0", "p1", "p2"]
                row = dict(zip(headers, table.values[0]))
                assert row["s0"] == 123 and row["s2"] == 789 and row["Lᵢ"] == pytest.approx(666)
                assert row["p2"] == 1.0 and 0 < row["p0"] < 1e-289
                assert win.readout.item(0, 2).text() == "666"
            if name == "13-spread-weights":
                assert win.figure.right.currentWidget() is win.figure.templates  # the class weights as 2 × 2 images
                assert win.readout.item(0, 3).text() == "1"  # λR at the start
            if name == "12-many-zero-loss-w":
                assert win.readout.item(0, 2).text() == "0" and win.readout.item(0, 3).text() == "0.1"
    finally:
        win.close()
