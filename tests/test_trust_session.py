"""The state model: a change is committed whole or not at all; nothing typed is lost; nothing stale is shown.

Each defect of the "trust" issue is reproduced here through the real session and widgets.
"""
import os
import threading

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QSettings  # noqa: E402
from PyQt6.QtWidgets import QPushButton  # noqa: E402

from losslab.app.jobs import JobRunner  # noqa: E402
from losslab.app.session import Session  # noqa: E402
from losslab.app.readout import STATUS  # noqa: E402
from losslab.app.window import MainWindow  # noqa: E402
from losslab.engine.experiment import Experiment, PlaneSpec, ProblemSpec  # noqa: E402
from sessions import settled, wait_settled  # noqa: E402

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(Session(Experiment(plane=PlaneSpec(resolution=48), steps=40)), settings=settings)
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    wait_settled(qtbot, win.session)
    yield win
    win.close()


def broken_csv(tmp_path):
    path = tmp_path / "broken.csv"
    lines = ["x1,x2,x3,label"] + [f"{i},{i + 1},{i + 2},{'ab'[i % 2]}" for i in range(9)] + ["1,2,3"]
    path.write_text("\n".join(lines) + "\n")
    return path


def lr_field(editor):
    return editor.form.editors["lr"]


def test_a_failed_change_keeps_every_edit(qtbot, window, tmp_path):
    """Defect 1: add Momentum, set GD's lr to 2, open a broken CSV: all of it stays, and the next edit keeps it."""
    panel = window.optimizers_panel
    panel.method.setCurrentIndex(panel.method.findData("momentum"))
    panel.findChild(QPushButton, "button_add_run").click()
    wait_settled(qtbot, window.session)
    assert window.session.set_hyper(2, "lr", 2.0)
    wait_settled(qtbot, window.session)
    before = window.session.experiment
    assert [r.method for r in before.runs][-1] == "momentum" and before.runs[2].hyper_dict["lr"] == 2.0

    path = broken_csv(tmp_path)
    window.problem_panel.ask_path = lambda *args, **kwargs: str(path)
    failures = []
    window.session.failed.connect(failures.append)
    window.problem_panel.open_csv()  # File ▸ Open CSV dataset…
    qtbot.waitUntil(lambda: bool(failures) and settled(window.session), timeout=20_000)
    assert "line 11" in failures[-1] and "broken.csv" in failures[-1]
    # the experiment, every control and every plot are as they were
    assert window.session.experiment == before
    assert len(panel.editors) == 5 and lr_field(panel.editors[2]).value() == 2.0
    assert window.problem_panel.source.currentData() == "generated"
    assert len(window.grid.panels) == 5 and len(window.figure.results) == 5
    # and the next edit, of any kind, builds on it
    window.session.set_objective(lam=0.3)
    wait_settled(qtbot, window.session)
    after = window.session.experiment
    assert after.objective.lam == 0.3 and after.runs == before.runs


def test_quick_edits_add_up_while_computing(qtbot, window):
    """A second edit made while the first computes is built on top of it, not on the old state."""
    window.session.set_objective(loss="softmax")
    window.session.set_hyper(2, "lr", 0.5)
    window.session.set_steps(30)
    wait_settled(qtbot, window.session)
    e = window.session.experiment
    assert e.objective.loss == "softmax" and e.runs[2].hyper_dict["lr"] == 0.5 and e.steps == 30
    assert window.session.problem.objective.loss_kind == "softmax"
    assert window.figure.n_frames == 31


def test_nothing_changes_on_screen_until_a_change_is_computed(qtbot, window):
    shown = window.session.snapshot
    started = threading.Event()
    release = threading.Event()
    import losslab.app.session as session_module
    real = session_module.compute

    def slow_compute(*args, **kwargs):
        started.set()
        release.wait(20)
        return (yield from real(*args, **kwargs))

    session_module.compute = slow_compute
    try:
        window.session.set_objective(loss="softmax")
        assert started.wait(10)
        qtbot.wait(50)
        # the committed state, the plots and the readout still show the SVM
        assert window.session.snapshot is shown and window.session.experiment.objective.loss == "svm"
        assert window.figure.snapshot is shown
        assert window.session.target.objective.loss == "softmax"
        release.set()
        wait_settled(qtbot, window.session)
    finally:
        session_module.compute = real
        release.set()
    assert window.figure.snapshot is window.session.snapshot
    assert window.session.problem.objective.loss_kind == "softmax"


def test_cancel_puts_the_controls_back(qtbot, window):
    """Defect 3: a huge N shows progress and a Cancel button after ~0.5 s; Cancel restores everything."""
    window.session.confirm_seconds = None  # no question first: straight into the long build
    before = window.session.experiment
    window.problem_panel.n.setText("1000000")
    window.problem_panel.n.editingFinished.emit()
    assert window.session.pending is not None and window.session.pending.problem.n == 1_000_000
    qtbot.waitUntil(lambda: window.cancel_button.isEnabled(), timeout=5_000)
    assert window.progress.maximum() >= 0
    window.cancel_button.click()
    assert window.session.pending is None and window.session.experiment == before
    assert window.problem_panel.n.value() == before.problem.n
    qtbot.waitUntil(lambda: not window.cancel_button.isEnabled(), timeout=2_000)


def test_the_progress_bar_shows_a_new_stage_at_once_and_counts_ten_times_a_second(qtbot, window):
    """Every repaint of the bar costs the GUI thread 1–2 ms: a stream of counts must not repaint it each time."""
    from losslab.engine.experiment import Progress
    window.cancel_button.setEnabled(True)  # as after PROGRESS_DELAY_MS of a long computation
    window.on_progress(Progress("runs", 1, 40))
    assert window.progress.value() == 1 and window.progress.format().startswith("running the optimizers")
    for done in range(2, 30):  # a burst, well within 100 ms
        window.on_progress(Progress("runs", done, 40))
    assert window.progress.value() == 1
    window.on_progress(Progress("landscape", 3, 10))  # a new stage shows at once
    assert window.progress.value() == 3 and window.progress.format().startswith("computing the landscape")
    qtbot.wait(120)
    window.on_progress(Progress("landscape", 7, 10))  # and the count moves again after 100 ms
    assert window.progress.value() == 7


def test_a_newer_change_supersedes_a_long_build(qtbot):
    """Defect 3: setting N back to 300 does not wait for the build of N = 1,000,000."""
    session = Session(Experiment(plane=PlaneSpec(resolution=32), steps=10))
    session.start()
    wait_settled(qtbot, session)
    session.set_problem(n=1_000_000)
    qtbot.wait(300)  # well inside the long build
    old_jobs = [job for job in session.jobs._running.values()]
    session.set_problem(n=200)
    for job in old_jobs:
        job.join(5)  # it stops at its next cancellation point
        assert not job.is_alive(), "the superseded build kept running"
    wait_settled(qtbot, session)
    assert session.experiment.problem.n == 200 and session.problem.dataset.n_examples == 200
    session.shutdown()


def test_closing_with_jobs_in_flight_never_blocks(qtbot):
    """Defect 4: tear down sessions mid-computation, 50 times: each returns at once, no warning."""
    for k in range(50):
        session = Session(Experiment(problem=ProblemSpec(n=20_000 + k), plane=PlaneSpec(resolution=64), steps=50))
        session.start()
        qtbot.wait(k % 5)  # caught at different points of the build
        session.shutdown()
        session.deleteLater()
    qtbot.wait(20)


def test_closing_the_window_while_it_computes(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    for n in (100_000, 300):
        win = MainWindow(Session(Experiment(problem=ProblemSpec(n=n), plane=PlaneSpec(resolution=128))),
                         settings=settings)
        qtbot.addWidget(win)
        win.show()
        qtbot.wait(30)
        win.close()
        assert win.session.jobs._closed


def test_job_runner_shutdown_returns_even_if_a_job_ignores_cancellation(qtbot):
    runner = JobRunner()
    release = threading.Event()

    def stubborn():
        release.wait(30)  # one long step with no cancellation point
        return 1
        yield

    runner.submit("compute", stubborn)
    runner.shutdown(msecs=100)  # returns although the job is still inside its step
    assert runner.busy
    release.set()


def test_a_session_that_cannot_be_computed_is_not_replaced_when_named(qtbot, tmp_path):
    session = Session(Experiment(problem=ProblemSpec(source="csv", path=str(tmp_path / "gone.csv"))),
                      fall_back=False)
    failures = []
    session.failed.connect(failures.append)
    session.start()
    qtbot.waitUntil(lambda: bool(failures), timeout=10_000)
    assert session.snapshot is None and "gone.csv" in failures[0]
    session.shutdown()


def test_a_remembered_session_whose_data_is_gone_falls_back_and_says_so(qtbot, tmp_path):
    session = Session(Experiment(problem=ProblemSpec(source="csv", path=str(tmp_path / "gone.csv"))))
    notices = []
    session.notice.connect(notices.append)
    session.start()
    wait_settled(qtbot, session)
    assert session.experiment == Experiment() and "gone.csv" in notices[0]
    session.shutdown()


def test_a_failed_penalty_change_keeps_the_old_lambda(qtbot, window, monkeypatch):
    """Smaller defect: a failed penalty-only recompute must not keep the new λ."""
    import losslab.app.session as session_module
    real = session_module.compute

    def failing(experiment, *args, **kwargs):
        if experiment.objective.lam == 5.0:
            raise MemoryError("no room for the penalty")
        return (yield from real(experiment, *args, **kwargs))

    monkeypatch.setattr(session_module, "compute", failing)
    before = window.session.snapshot
    window.session.set_objective(lam=5.0)
    qtbot.waitUntil(lambda: settled(window.session), timeout=10_000)
    assert window.session.snapshot is before and window.session.experiment.objective.lam == 0.1
    assert window.objective_panel.lam.value() == pytest.approx(0.1)


def test_plane_kind_races_report_nothing_stale(qtbot, window):
    """Smaller defect: switching pca / axes / random while data changes never reports a stale job's failure."""
    failures = []
    window.session.failed.connect(failures.append)
    for kind, classes in (("pca", 4), ("axes", 3), ("pca", 3), ("random", 4), ("pca", 2), ("axes", 3)):
        window.session.set_plane(kind=kind)
        window.session.set_problem(classes=classes)
        qtbot.wait(5)
    wait_settled(qtbot, window.session)
    assert failures == []
    computed = window.session.computed
    assert computed.plane.n_params == computed.problem.objective.n_params == 3 * 2 + 3


def test_a_pca_plane_without_runs_is_refused_by_name(qtbot, window):
    failures = []
    window.session.failed.connect(failures.append)
    for k in range(4):
        window.session.set_run(k, enabled=False)
    assert not window.session.set_plane(kind="pca")
    assert "enable at least one optimizer" in failures[-1]


def test_a_long_computation_asks_first(qtbot, window):
    """Defect 6: past the time estimate, the window asks before starting; declining changes nothing."""
    window.session.confirm_seconds = 1e-9
    asked = []
    window.session.confirmNeeded.disconnect()
    window.session.confirmNeeded.connect(asked.append)
    before = window.session.experiment
    window.session.set_problem(n=5000)
    qtbot.waitUntil(lambda: bool(asked), timeout=10_000)
    assert "lower" in asked[0]
    window.session.decline()
    assert window.session.experiment == before and window.session.pending is None
    assert window.problem_panel.n.value() == before.problem.n
    window.session.set_problem(n=5000)
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=10_000)
    window.session.confirm()
    wait_settled(qtbot, window.session)
    assert window.session.experiment.problem.n == 5000


def test_past_the_memory_budget_is_refused_with_what_to_lower(qtbot, window):
    failures = []
    window.session.failed.connect(failures.append)
    before = window.session.experiment
    window.session.set_problem(n=10**6, classes=100)
    window.session.set_plane(resolution=1024)
    qtbot.waitUntil(lambda: bool(failures) and settled(window.session), timeout=10_000)
    assert "memory" in failures[-1] and "lower" in failures[-1]
    assert window.session.experiment == before


def test_a_diverged_run_says_so(qtbot, window):
    """Defect 5: GD with lr = 1000 blows up and ends "diverged", not "completed"."""
    window.session.set_hyper(2, "lr", 1000.0)
    wait_settled(qtbot, window.session)
    result = window.session.results[2]
    assert result.trajectory.status == "diverged"
    window.clock.seek(window.clock.n_frames - 1)
    statuses = [window.readout.item(row, STATUS).text() for row in range(window.readout.rowCount())]
    assert statuses[2] == "diverged"


def test_corrupt_stored_settings_are_ignored_and_replaced(qtbot, tmp_path):
    """Defect 8: geometry=garbage in losslab.conf must not stop the start."""
    path = tmp_path / "losslab.conf"
    path.write_text("[window]\ngeometry=garbage\nstate=@ByteArray(nonsense)\n[session]\nlast=@Invalid()\n")
    settings = QSettings(str(path), QSettings.Format.IniFormat)
    win = MainWindow(Session(Experiment(plane=PlaneSpec(resolution=32), steps=10)), settings=settings)
    qtbot.addWidget(win)
    win.show()
    wait_settled(qtbot, win.session)
    win.close()
    settings.sync()
    reread = QSettings(str(path), QSettings.Format.IniFormat)
    assert win.restoreGeometry(reread.value("window/geometry"))  # a good one was written back


def test_stored_lists_and_folders_of_the_wrong_kind_are_dropped(tmp_path):
    from losslab.app.settings import stored_list, stored_text

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue("files/recent", [1, 2])
    settings.setValue("files/folder", 7)
    assert stored_list(settings, "files/recent") == [] and settings.value("files/recent") is None
    assert stored_text(settings, "files/folder", "home") == "home" and settings.value("files/folder") is None
    settings.setValue("files/recent", "one.json")  # QSettings' form of a one-item list
    assert stored_list(settings, "files/recent") == ["one.json"]


def test_the_last_session_setting_is_validated(qtbot, tmp_path):
    from losslab.app.main import _last_session

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    for value in ("{not json", 12, ["a", "b"]):
        settings.setValue("session/last", value)
        assert _last_session(settings) is None
        assert settings.value("session/last") is None


def test_a_fifo_as_the_csv_never_blocks(qtbot, window, tmp_path):
    """Defect 9: a FIFO picked as the CSV is refused by name; later changes still complete."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    failures = []
    window.session.failed.connect(failures.append)
    for _ in range(2):
        window.session.set_problem(source="csv", path=str(fifo), kind="")
        qtbot.waitUntil(lambda: bool(failures) and settled(window.session), timeout=10_000)
    assert "data.csv" in failures[-1]
    window.session.set_objective(lam=0.2)
    wait_settled(qtbot, window.session)
    assert window.session.experiment.objective.lam == 0.2


def test_a_fifo_as_the_session_file_is_refused(qtbot, window, tmp_path, monkeypatch):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "session.json"
    os.mkfifo(fifo)
    warnings = []
    from PyQt6.QtWidgets import QMessageBox
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    assert not window.open_session(str(fifo))
    assert "session.json" in warnings[0]


def test_view_changes_during_a_computation_are_kept(qtbot, window):
    window.session.set_objective(loss="softmax")
    window.session.set_view(colormap="inferno", part="data")
    wait_settled(qtbot, window.session)
    qtbot.waitUntil(lambda: not window.session.jobs.is_running("picture"), timeout=10_000)
    snapshot = window.session.snapshot
    assert snapshot.view.colormap == "inferno" and snapshot.display.label.startswith("data loss")
    np.testing.assert_array_equal(snapshot.display.values, snapshot.computed.landscape.part("data"))


def test_a_large_problem_reads_out_in_the_background(qtbot, window, monkeypatch):
    """The readout of a large problem is computed off the GUI thread and lands for the frame asked."""
    import losslab.app.readout as readout_module

    monkeypatch.setattr(readout_module, "INLINE_SCORES", 0)
    window.clock.seek(7)
    qtbot.waitUntil(lambda: window.readout.item(0, 1) is not None and window.readout.item(0, 1).text() == "7",
                    timeout=10_000)
    result = window.session.results[2]
    expected = window.session.problem.objective.parts(result.thetas[7])
    assert float(window.readout.item(2, 2).text()) == pytest.approx(expected[0], rel=1e-4)


def test_a_test_surface_shows_one_set_of_its_parameters(qtbot, window):
    from losslab.app.widgets import ParamForm

    window.session.set_problem(source="surface", kind="rosenbrock", surface_params=())
    wait_settled(qtbot, window.session)
    window.session.set_problem(surface_params=(("a", 1.0), ("b", 50.0)))
    wait_settled(qtbot, window.session)
    box = window.problem_panel.surface_box
    forms = [f for f in box.findChildren(ParamForm) if f.isVisibleTo(box)]
    assert len(forms) == 1 and forms[0].editors["b"].value() == 50.0
    window.session.set_problem(kind="himmelblau", surface_params=())
    wait_settled(qtbot, window.session)
    forms = [f for f in box.findChildren(ParamForm) if f.isVisibleTo(box)]
    assert len(forms) == 1 and "b" not in forms[0].editors


def test_an_edit_while_a_file_computes_keeps_the_files_view_and_marks_it_modified(qtbot, window):
    from losslab.io.session_file import load_session, resolve_session
    from losslab.app.session import view_from_dict

    path = resolve_session("momentum-rosenbrock")
    file_view = view_from_dict(load_session(path)[1])
    assert window.open_session(path)
    window.session.set_steps(41)  # while the file is still being computed
    wait_settled(qtbot, window.session)
    assert window.session.experiment.steps == 41 and window.session.view == file_view
    assert window.windowTitle().endswith("(modified)")


def test_declining_a_long_remembered_session_shows_the_default(qtbot):
    session = Session(Experiment(problem=ProblemSpec(n=4000), plane=PlaneSpec(resolution=32), steps=10),
                      confirm_seconds=1e-9)
    asked, notices = [], []
    session.confirmNeeded.connect(asked.append)
    session.notice.connect(notices.append)
    session.start()
    qtbot.waitUntil(lambda: bool(asked), timeout=10_000)
    session.confirm_seconds = None
    session.decline()
    wait_settled(qtbot, session)
    assert session.experiment == Experiment() and "too long" in notices[0]
    session.shutdown()


def test_a_change_committed_during_an_export_waits_for_it(qtbot, window, tmp_path, monkeypatch):
    """An animation export runs the event loop: a commit meanwhile is drawn after the file, not inside it."""
    import losslab.app.actions as actions_module

    shown = window.figure.snapshot
    seen_during = []

    def export_while_a_change_lands(figure, *args, **kwargs):
        window.session.set_objective(loss="softmax")
        qtbot.waitUntil(lambda: settled(window.session), timeout=20_000)
        seen_during.append(figure.snapshot)
        return None

    monkeypatch.setattr(actions_module, "export_animation", export_while_a_change_lands)
    monkeypatch.setattr(window.files, "_export_choice", lambda dialog: (
        {"fmt": "gif", "fps": 10.0, "stride": 5, "size": (320, 200), "part": "figure"}, str(tmp_path / "a.gif")))
    window.export_animation_dialog()
    assert seen_during == [shown]  # the figure kept the experiment it was exporting
    assert window.figure.snapshot is window.session.snapshot  # and shows the new one afterwards
    assert window.session.experiment.objective.loss == "softmax"


def test_a_change_that_recomputes_little_does_not_ask(qtbot):
    """The time estimate prices what will be computed: a colour change after a long run asks nothing."""
    from dataclasses import replace

    from losslab.engine.experiment import TooLong, compute, compute_all, drain

    e = Experiment(plane=PlaneSpec(resolution=32), steps=50)
    done = compute_all(e)
    recolour = replace(e, runs=(replace(e.runs[0], color="#123456"),) + e.runs[1:])
    assert drain(compute(recolour, done, max_seconds=1e-6)).runs[0].trajectory is done.runs[0].trajectory
    with pytest.raises(TooLong):
        drain(compute(replace(e, steps=5000), done, max_seconds=1e-6))


def test_values_a_file_brings_show_in_the_round_number_combos(qtbot, window):
    """A preset with 16 iso-lines, or a session with 200² points, shows 16 and 200, not the first item."""
    window.session.set_view(isolines=16)
    window.session.set_plane(resolution=200)
    wait_settled(qtbot, window.session)
    assert window.view_panel.isolines.currentData() == "16"
    assert window.plane_panel.resolution.currentData() == "200"
    items = [window.view_panel.isolines.itemData(k) for k in range(window.view_panel.isolines.count())]
    assert items == sorted(items, key=int)  # in order
    window.view_panel.isolines.setCurrentIndex(window.view_panel.isolines.findData("6"))
    assert window.session.view.isolines == 6


def test_a_number_field_shows_the_sessions_value_and_clears_a_refusal_only_then(qtbot):
    """A commit syncs every field: an unchanged value leaves the field as it is (each new text or style sheet
    lays the form out again), a refused entry stays marked until the session's value is shown."""
    from losslab.app.widgets import ERROR_STYLE, NumberField
    from losslab.engine.experiment import STEPS
    field = NumberField(STEPS, 200)
    qtbot.addWidget(field)
    refusals = []
    field.rejected.connect(refusals.append)
    field.setText("-3")
    field.editingFinished.emit()
    assert refusals and "steps" in refusals[0] and field.styleSheet() == ERROR_STYLE and field.text() == "200"
    field.setCursorPosition(1)
    field.set_value(200)  # the same value: the refusal is answered, the text and cursor stay
    assert field.styleSheet() == "" and field.text() == "200" and field.cursorPosition() == 1
    field.set_value(350)
    assert field.text() == "350" and field.value() == 350
