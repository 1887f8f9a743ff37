"""Random valid and invalid changes, some while jobs run, some cancelled, exports among them.

After every settled change, the controls, the experiment, the drawn runs and the
landscape must agree with each other; over 2,000 actions resident memory stays flat.
"""
import math
import os
import random

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from losslab.app import raster  # noqa: E402
from losslab.app.export import export_figure  # noqa: E402
from losslab.app.session import PREVIEW_SECONDS  # noqa: E402
from losslab.engine.experiment import Experiment, PlaneSpec, ProblemSpec  # noqa: E402
from losslab.engine.optimizers import OPTIMIZERS  # noqa: E402
from sessions import settled, shown_window  # noqa: E402


def rss_megabytes() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_window(qtbot, tmp_path):
    experiment = Experiment(problem=ProblemSpec(n=120), plane=PlaneSpec(resolution=32), steps=20)
    return shown_window(qtbot, tmp_path, experiment, size=(1200, 800), confirm_seconds=None,
                        preview_seconds=PREVIEW_SECONDS)


def broken_csv(tmp_path):
    path = tmp_path / "broken.csv"
    if not path.exists():
        path.write_text("x1,x2,label\n1,2,a\n3,4,b\n5,6\n")
    return str(path)


def random_action(rng: random.Random, window, tmp_path) -> str:
    """One random change through the session or a widget; about a third of them invalid."""
    s = window.session
    e = s.target
    n_runs = len(e.runs)
    choice = rng.randrange(20)
    if choice == 0:
        s.set_objective(lam=rng.choice([0.01, 0.1, 0.7, float("nan"), -1.0]))
    elif choice == 1:
        s.set_objective(loss=rng.choice(["svm", "softmax", "squared_hinge", "ova_svm", "bogus"]))
    elif choice == 2:
        s.set_objective(reg=rng.choice(["l2", "l1", "elastic_net", "none"]))
    elif choice == 3:
        s.set_run(rng.randrange(n_runs), enabled=rng.random() < 0.6)
    elif choice == 4:
        s.set_hyper(rng.randrange(n_runs), "lr", rng.choice([0.01, 0.1, 0.5, -1.0, 0.0]))
    elif choice == 5 and n_runs < 6:
        s.add_run(rng.choice(sorted(OPTIMIZERS)))
    elif choice == 6 and n_runs > 1:
        s.remove_run(rng.randrange(n_runs))
    elif choice == 7:
        s.set_problem(n=rng.choice([60, 120, 200, 1, 10**9]))
    elif choice == 8:
        s.set_problem(classes=rng.choice([2, 3, 4]), kind=rng.choice(["blobs", "spiral", "circles"]))
    elif choice == 9:
        s.set_plane(kind=rng.choice(["axes", "random", "pca", "interpolation"]))
    elif choice == 10:
        s.set_plane(centre=rng.choice(["zero", "optimum"]), span=rng.choice([1.0, 3.0, 8.0, -2.0]))
    elif choice == 11:
        s.set_plane(resolution=rng.choice([24, 32, 48]))
    elif choice == 12:
        s.set_start(rng.uniform(-3, 3), rng.choice([rng.uniform(-3, 3), float("inf")]))
    elif choice == 13:
        s.set_steps(rng.choice([10, 20, 30, 0]))
    elif choice == 14:
        s.set_problem(source="csv", path=broken_csv(tmp_path), kind="")
    elif choice == 15:
        s.cancel()
    elif choice == 16:
        s.set_view(layout=rng.choice(["side", "overlay"]), part=rng.choice(["total", "data", "reg"]),
                   log_scale=rng.random() < 0.3, theme=rng.choice(["light", "dark"]))
    elif choice == 17:
        window.clock.seek(rng.randrange(max(1, window.clock.n_frames)))
    elif choice == 18:
        if settled(s):
            export_figure(window.figure, tmp_path / "figure.png", size=(320, 200))
            if s.computed.runs:
                window.export_trajectories(str(tmp_path / "paths.csv"))
            else:
                with pytest.raises(ValueError, match="no optimizer is enabled"):
                    window.export_trajectories(str(tmp_path / "paths.csv"))
    else:
        s.set_problem(source="generated", kind="blobs", surface_params=())
    return str(choice)


def check_consistent(window) -> None:
    """The controls, the experiment, the drawn runs and the landscape agree."""
    s = window.session
    assert settled(s)
    e, computed, view = s.experiment, s.computed, s.view
    assert computed.experiment == e and window.figure.snapshot is s.snapshot
    # every control shows the committed experiment
    assert window.objective_panel.loss.currentData() == e.objective.loss
    assert math.isclose(window.objective_panel.lam.value(), e.objective.lam, rel_tol=1e-9)
    assert window.problem_panel.source.currentData() == e.problem.source
    if e.problem.source == "generated":
        assert window.problem_panel.n.value() == e.problem.n
    assert window.plane_panel.kind.currentData() == e.plane.kind
    assert window.optimizers_panel.steps.value() == e.steps
    editors = window.optimizers_panel.editors
    assert len(editors) == len(e.runs)
    for editor, run in zip(editors, e.runs):
        assert editor.isChecked() == run.enabled
        lr = editor.form.editors.get("lr")
        if lr is not None:
            assert math.isclose(lr.value(), run.hyper_dict.get("lr", OPTIMIZERS[run.method].defaults["lr"]))
    # the drawn runs are the enabled ones of the experiment, computed on its problem
    enabled = [k for k, run in enumerate(e.runs) if run.enabled]
    assert [r.index for r in computed.runs] == enabled
    assert [r.spec for r in computed.runs] == [e.runs[k] for k in enabled]
    panels = 1 if view.layout == "overlay" else max(1, len(enabled))
    assert len(window.grid.panels) == panels and window.readout.rowCount() == len(enabled)
    objective = computed.problem.objective
    for result in computed.runs:
        assert result.trajectory.losses[0] == pytest.approx(objective.loss(result.thetas[0]), rel=1e-9, abs=1e-12)
    # the landscape is the loss over the drawn plane, for this objective
    landscape = computed.landscape
    assert landscape.plane is computed.plane and landscape.a_values.size == e.plane.resolution
    j, i = landscape.b_values.size // 3, landscape.a_values.size // 2
    data, reg = objective.parts(computed.plane.point(landscape.a_values[i], landscape.b_values[j]))
    assert landscape.data[j, i] == pytest.approx(data, rel=1e-8, abs=1e-12)
    assert landscape.reg[j, i] == pytest.approx(reg, rel=1e-8, abs=1e-12)
    if s.display is not None:
        assert s.display.values is landscape.data or np.array_equal(s.display.values, landscape.part(view.part))


@pytest.mark.timeout(600)
def test_random_changes_keep_controls_experiment_and_plots_in_agreement(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    rng = random.Random(2026)
    for step in range(300):
        random_action(rng, window, tmp_path)
        if rng.random() < 0.4:  # the rest pile up on computations still in flight
            qtbot.waitUntil(lambda: settled(window.session), timeout=30_000)
            qtbot.waitUntil(lambda: not window.session.jobs.is_running("picture"), timeout=30_000)
            check_consistent(window)
    qtbot.waitUntil(lambda: settled(window.session), timeout=30_000)
    qtbot.waitUntil(lambda: not window.session.jobs.is_running("picture"), timeout=30_000)
    check_consistent(window)
    window.close()


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc to measure memory")
def test_two_thousand_random_actions_with_exports_keep_memory_flat(qtbot, tmp_path, monkeypatch):
    # the on-screen images are kept up to a bound (raster.CACHE_BYTES, 48 MB; its own test checks it),
    # which this small window would take most of the run to fill: bounded at 4 MB it is full before
    # the samples that count, and what still climbs is a leak
    monkeypatch.setattr(raster.IMAGES, "limit", 4 * 2**20)
    window = make_window(qtbot, tmp_path)
    rng = random.Random(7)
    samples = []
    for step in range(1, 2001):
        random_action(rng, window, tmp_path)
        if rng.random() < 0.3:
            qtbot.waitUntil(lambda: settled(window.session), timeout=30_000)
        if step % 100 == 0:
            qtbot.waitUntil(lambda: settled(window.session), timeout=30_000)
            export_figure(window.figure, tmp_path / "every-100.png", size=(480, 300))
            qtbot.wait(10)
            samples.append(rss_megabytes())
    print("\nRSS MB every 100 actions: " + " ".join(f"{m:.0f}" for m in samples))
    warm = np.array(samples[len(samples) // 3:])  # after caches and pools have filled
    slope = np.polyfit(np.arange(len(warm)), warm, 1)[0]  # MB per 100 actions
    assert slope < 1.0, f"resident memory climbs {slope:.2f} MB per 100 actions: " + " ".join(f"{m:.0f}" for m in samples)
    window.close()
