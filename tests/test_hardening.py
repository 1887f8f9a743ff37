"""Extreme inputs, fuzzed files, and a soak test of the animation."""
import json
import os
import random

import numpy as np
import pytest

from losslab.engine import LOSSES, Objective, load_csv, make_dataset, optimize, parse_csv
from losslab.engine.experiment import Experiment, PlaneSpec, ProblemSpec, build_problem, compute_landscape, run_all, validate
from losslab.engine.landscape import loss_surface
from losslab.engine.planes import Plane
from losslab.io.session_file import SessionError, dumps, loads


# --- extreme inputs --------------------------------------------------------------------------

@pytest.mark.parametrize("loss", list(LOSSES))
def test_scores_up_to_1e6_and_lambda_up_to_1e6(loss):
    data = make_dataset("blobs", n=50, classes=3, seed=0)
    obj = Objective(data.X * 1e5, data.y, loss=loss, reg="l2", lam=1e6)
    theta = np.full(obj.n_params, 3.0)  # scores around 1e6
    value, grad = obj.loss_grad(theta)
    assert np.isfinite(value) and value > 0 and np.all(np.isfinite(grad))
    plane = Plane(theta, np.eye(obj.n_params)[0], np.eye(obj.n_params)[4])
    Z = loss_surface(obj, plane, np.linspace(-1, 1, 7), np.linspace(-1, 1, 5))
    assert np.all(np.isfinite(Z))


@pytest.mark.parametrize("method", ["gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "numerical_gd"])
def test_learning_rate_1e6_diverges_cleanly(method):
    data = make_dataset("blobs", n=40, classes=3, seed=1)
    obj = Objective(data.X, data.y, loss="softmax", reg="l2", lam=0.1)
    traj = optimize(obj, method, np.zeros(obj.n_params), 50, lr=1e6)
    assert traj.status in ("diverged", "completed") and np.all(np.isfinite(traj.thetas))
    if method in ("gd", "sgd", "momentum", "nesterov", "numerical_gd"):
        assert traj.status == "diverged"


@pytest.mark.parametrize("N, D, C", [(1, 1, 2), (1, 3, 2), (5, 1, 2), (200, 2, 100), (3, 2, 100)])
def test_tiny_and_wide_problems(N, D, C):
    rng = np.random.default_rng(N + D + C)
    X = rng.standard_normal((N, D))
    y = rng.integers(0, C, N)
    for loss in LOSSES:
        obj = Objective(X, y, loss=loss, reg="elastic_net", lam=0.1, n_classes=C)
        traj = optimize(obj, "adam", np.zeros(obj.n_params), 20, lr=0.05)
        assert np.all(np.isfinite(traj.losses))
        plane = Plane.random(traj.theta, (D, C), seed=0)
        Z = loss_surface(obj, plane, np.linspace(-1, 1, 5), np.linspace(-1, 1, 4))
        expected = [[obj.loss(plane.point(a, b)) for a in np.linspace(-1, 1, 5)] for b in np.linspace(-1, 1, 4)]
        np.testing.assert_allclose(Z, expected, rtol=1e-9, atol=1e-12)


def test_duplicate_points_and_constant_features():
    X = np.array([[1.0, 5.0]] * 10 + [[2.0, 5.0]] * 10)  # duplicates; the second feature is constant
    y = np.array([0] * 10 + [1] * 10)
    for loss in LOSSES:
        obj = Objective(X, y, loss=loss, reg="l1", lam=0.01)
        traj = optimize(obj, "gd", np.zeros(obj.n_params), 100, lr=0.005)  # feature scale 5: a small step
        assert traj.status == "completed" and traj.losses[-1] <= traj.losses[0]


def test_a_10000_row_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = [f"{a:.6f},{b:.6f},{c:.6f},class_{k}" for (a, b, c), k in
            zip(rng.standard_normal((10_000, 3)), rng.integers(0, 4, 10_000))]
    path = tmp_path / "big.csv"
    path.write_text("x,y,z,label\n" + "\n".join(rows) + "\n")
    data = load_csv(path)
    assert data.X.shape == (10_000, 3) and data.n_classes == 4
    experiment = validate(Experiment(problem=ProblemSpec(source="csv", path=str(path), standardize=True),
                                     plane=PlaneSpec(kind="random", resolution=32), steps=20))
    problem = build_problem(experiment)
    _, results = run_all(experiment, problem)
    landscape = compute_landscape(problem.objective, problem.plane, 32)
    assert np.all(np.isfinite(landscape.part("total"))) and len(results) == 4


# --- fuzzed files ---------------------------------------------------------------------------

VALID_SESSION = dumps(Experiment(), {"layout": "side"})
VALID_CSV = "x1,x2,label\n" + "\n".join(f"{i * 0.5},{-i},{'ab'[i % 2]}" for i in range(20)) + "\n"


def test_every_truncation_of_a_session_file_is_named():
    cuts = sorted({len(VALID_SESSION) * k // 97 for k in range(97)})
    for cut in cuts:
        with pytest.raises(SessionError, match="^cut.json: "):
            loads(VALID_SESSION[:cut], "cut.json")


def test_random_bytes_as_a_session_file(tmp_path):
    from losslab.io.session_file import load_session

    rng = random.Random(0)
    for k in range(200):
        path = tmp_path / f"noise{k}.json"
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))))
        with pytest.raises(SessionError):
            load_session(path)


def mutations(data, rng):
    """Replace one value somewhere in the session with a wrong or extreme one."""
    paths = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + [key])
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, path + [index])
        paths.append(path)

    walk(data, [])
    for path in paths[:-1]:  # not the root
        for bad in (None, "text", -1, 1e308, -1e308, float("inf"), [], {}, True, 10**40, 0.5):
            clone = json.loads(json.dumps(data))
            node = clone
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = bad
            yield path, clone
    del rng


def test_wrong_types_and_huge_numbers_in_session_files():
    data = json.loads(VALID_SESSION)
    accepted = refused = 0
    for path, mutated in mutations(data, None):
        text = json.dumps(mutated)
        try:
            experiment, view, _ = loads(text, "fuzz.json")
        except SessionError as err:
            refused += 1
            assert str(err).startswith("fuzz.json: ") and len(str(err).splitlines()) == 1
            continue
        accepted += 1
        validate(experiment)  # whatever is accepted is a valid experiment
    assert refused > 100 and accepted > 0


def test_fuzzed_csv_files_give_value_errors():
    rng = random.Random(1)
    alphabet = list("0123456789.,-e \nabNaninf\"")
    for _ in range(500):
        text = list(VALID_CSV)
        for _ in range(rng.randrange(1, 6)):
            position = rng.randrange(len(text))
            action = rng.random()
            if action < 0.4:
                text[position] = rng.choice(alphabet)
            elif action < 0.7:
                del text[position]
            else:
                text.insert(position, rng.choice(alphabet))
        try:
            data = parse_csv("".join(text), "fuzz.csv")
        except ValueError as err:
            assert str(err).startswith("fuzz.csv")
            continue
        assert np.all(np.isfinite(data.X)) and data.n_classes >= 2 and len(data.y) == len(data.X)
    for cut in range(0, len(VALID_CSV), 7):
        try:
            parse_csv(VALID_CSV[:cut], "cut.csv")
        except ValueError as err:
            assert str(err).startswith("cut.csv")


# --- soak ----------------------------------------------------------------------------------

def rss_megabytes() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc to measure memory")
def test_soak_animation_with_recomputation_keeps_memory_flat(qtbot, tmp_path):
    from PyQt6.QtCore import QSettings

    from losslab.app.session import Session
    from losslab.app.window import MainWindow

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Session(Experiment(plane=PlaneSpec(resolution=96), steps=150)), settings=settings)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()

    def settle():
        qtbot.waitUntil(lambda: not window.session.jobs.busy and bool(window.results)
                        and window.session.landscape is not None, timeout=30_000)

    settle()
    samples = []
    frames = 0
    for cycle in range(24):
        for frame in range(150):  # a whole animation, frame by frame, painted
            window.clock.seek(frame)
            qtbot.wait(0) if frame % 10 else window.grid.viewport().repaint()
            frames += 1
        window.session.set_objective(lam=[0.05, 0.2, 0.5][cycle % 3], loss=["svm", "softmax"][cycle % 2])
        window.session.set_start(-2.0 + 0.1 * (cycle % 5), 2.0)
        settle()
        samples.append(rss_megabytes())
    print(f"\nsoak: {frames} frames, {len(samples)} recomputations; RSS MB per cycle: "
          + " ".join(f"{m:.0f}" for m in samples))
    warm = np.array(samples[len(samples) // 3:])  # after caches and pools have filled
    slope = np.polyfit(np.arange(len(warm)), warm, 1)[0]  # MB per cycle
    # a leak of even 0.5 MB per recomputation shows as a steady climb; a flat run measures ~0.1
    assert slope < 0.4, f"resident memory climbs {slope:.2f} MB per cycle while animating and recomputing"
    window.close()
