"""Undo and redo walk the committed experiments: every kind of change, one step each."""
from dataclasses import replace

import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QSettings  # noqa: E402
from PyQt6.QtGui import QKeySequence  # noqa: E402

from losslab.app.session import Session  # noqa: E402
from losslab.app.window import MainWindow  # noqa: E402
from losslab.engine.experiment import Experiment, PlaneSpec  # noqa: E402
from sessions import settled, started  # noqa: E402

pytestmark = pytest.mark.timeout(120)

SMALL = Experiment(plane=PlaneSpec(resolution=24), steps=20)


@pytest.fixture
def session(qtbot):
    s = started(qtbot, SMALL)
    yield s
    s.shutdown()


def change(qtbot, session, setter, *args, **kwargs):
    assert setter(*args, **kwargs)
    qtbot.waitUntil(lambda: settled(session), timeout=30_000)
    return session.experiment


def test_undo_and_redo_every_kind_of_change(qtbot, session):
    e0 = session.experiment
    assert not session.can_undo and not session.can_redo
    e1 = change(qtbot, session, session.set_objective, lam=0.5)
    e2 = change(qtbot, session, session.set_plane, kind="random")
    e3 = change(qtbot, session, session.add_run, "momentum")
    e4 = change(qtbot, session, session.set_start, 1.0, -1.0)
    assert len({e0, e1, e2, e3, e4}) == 5
    for expected in (e3, e2, e1, e0):
        assert session.can_undo
        change(qtbot, session, session.undo)
        assert session.experiment == expected
    assert not session.can_undo and not session.undo()
    for expected in (e1, e2, e3, e4):
        assert session.can_redo
        change(qtbot, session, session.redo)
        assert session.experiment == expected
    assert not session.can_redo and not session.redo()


def test_a_new_change_after_undo_drops_the_redo_branch(qtbot, session):
    e0 = session.experiment
    change(qtbot, session, session.set_objective, lam=0.5)
    change(qtbot, session, session.undo)
    assert session.experiment == e0 and session.can_redo
    e2 = change(qtbot, session, session.set_objective, loss="softmax")
    assert not session.can_redo
    change(qtbot, session, session.undo)
    assert session.experiment == e0
    change(qtbot, session, session.redo)
    assert session.experiment == e2


def test_one_gesture_is_one_step(qtbot, session):
    """A drag commits many times on the way; undo goes back to before the drag in one step."""
    e0 = session.experiment
    drag = object()
    for lam in (0.2, 0.3, 0.4):
        change(qtbot, session, session.apply, with_lam(session, lam), gesture=drag)
    assert session.experiment.objective.lam == 0.4
    change(qtbot, session, session.undo)
    assert session.experiment == e0
    # another gesture is another step
    change(qtbot, session, session.redo)
    change(qtbot, session, session.apply, with_lam(session, 0.6), gesture=object())
    change(qtbot, session, session.undo)
    assert session.experiment.objective.lam == 0.4


def test_changes_superseded_before_commit_are_not_steps(qtbot, session):
    e0 = session.experiment
    for lam in (0.2, 0.3, 0.4, 0.5):  # quick edits: only the last is computed
        session.set_objective(lam=lam)
    qtbot.waitUntil(lambda: settled(session), timeout=30_000)
    assert session.experiment.objective.lam == 0.5
    change(qtbot, session, session.undo)
    assert session.experiment == e0


def test_undo_while_a_change_computes_drops_it(qtbot, session):
    e0 = session.experiment
    session.set_objective(lam=0.7)
    assert session.pending is not None and session.can_undo
    session.undo()
    qtbot.waitUntil(lambda: settled(session), timeout=30_000)
    assert session.experiment == e0 and session.pending is None


def test_refused_changes_and_view_changes_are_not_steps(qtbot, session):
    e0 = session.experiment
    assert not session.set_objective(lam=-1.0)
    assert session.set_view(colormap="inferno")
    assert not session.can_undo
    assert session.experiment == e0


def test_undo_of_a_failed_change_leaves_history_alone(qtbot, session, tmp_path):
    e0 = session.experiment
    e1 = change(qtbot, session, session.set_objective, lam=0.5)
    failures = []
    session.failed.connect(failures.append)
    session.set_problem(source="csv", path=str(tmp_path / "missing.csv"))
    qtbot.waitUntil(lambda: bool(failures) and settled(session), timeout=30_000)
    assert session.experiment == e1
    change(qtbot, session, session.undo)
    assert session.experiment == e0


def test_edit_menu_shortcuts_drive_the_session(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Session(SMALL, preview_seconds=None), settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: settled(window.session), timeout=30_000)
    assert not window.undo_action.isEnabled() and not window.redo_action.isEnabled()
    assert QKeySequence("Ctrl+Shift+Z") in window.redo_action.shortcuts()
    assert window.undo_action.shortcut().matches(QKeySequence("Ctrl+Z")) == QKeySequence.SequenceMatch.ExactMatch
    e0 = window.session.experiment
    window.session.set_objective(lam=0.9)
    qtbot.waitUntil(lambda: settled(window.session), timeout=30_000)
    assert window.undo_action.isEnabled()
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: settled(window.session) and window.session.experiment == e0, timeout=30_000)
    assert window.objective_panel.lam.value() == pytest.approx(e0.objective.lam)  # the controls follow
    assert window.redo_action.isEnabled() and not window.undo_action.isEnabled()
    window.redo_action.trigger()
    qtbot.waitUntil(lambda: settled(window.session) and window.session.experiment.objective.lam == 0.9,
                    timeout=30_000)
    window.close()


def with_lam(session, lam):
    return replace(session.target, objective=replace(session.target.objective, lam=lam))


def test_quick_changes_of_one_setting_are_one_step(qtbot, session):
    """A slider dragged commits λ many times: within a second of each other they are one step."""
    clock = [100.0]
    session.now = lambda: clock[0]
    e0 = session.experiment
    for lam in (0.2, 0.3, 0.4):
        change(qtbot, session, session.set_objective, lam=lam)
        clock[0] += 0.3
    e1 = change(qtbot, session, session.set_objective, loss="softmax")  # another setting: another step
    clock[0] += 5.0
    change(qtbot, session, session.set_objective, loss="svm")
    clock[0] += 5.0  # the same setting much later: another step
    change(qtbot, session, session.set_objective, loss="softmax")
    change(qtbot, session, session.undo)
    change(qtbot, session, session.undo)
    assert session.experiment == e1
    change(qtbot, session, session.undo)
    assert session.experiment.objective.lam == 0.4
    change(qtbot, session, session.undo)
    assert session.experiment == e0


def test_changed_fields_names_the_settings():
    from losslab.app.session import changed_fields
    from losslab.engine.experiment import RunSpec
    a = SMALL
    b = replace(a, objective=replace(a.objective, lam=0.3), start=(1.0, 1.0),
                runs=a.runs[:2] + (replace(a.runs[2], seed=4),) + a.runs[3:])
    assert changed_fields(a, b) == {"objective.lam", "start", "runs.2.seed"}
    assert changed_fields(a, replace(a, runs=a.runs + (RunSpec("adam"),))) == {"runs"}
    assert changed_fields(a, a) == frozenset()


def test_quick_structural_changes_stay_separate_steps(qtbot, session):
    """Adding two runs in a row, or two quick point edits, are two steps: only sliding numbers merge."""
    clock = [50.0]
    session.now = lambda: clock[0]
    n = len(session.experiment.runs)
    change(qtbot, session, session.add_run, "momentum")
    change(qtbot, session, session.add_run, "adam")
    change(qtbot, session, session.undo)
    assert len(session.experiment.runs) == n + 1
    before = session.experiment
    change(qtbot, session, session.set_hyper, 2, "lr", 0.2)  # gradient descent's lr: a sliding number
    change(qtbot, session, session.set_hyper, 2, "lr", 0.3)
    change(qtbot, session, session.undo)
    assert session.experiment == before
