"""Editing the data and the start through the session: each edit is computed, committed, undoable."""
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from sessions import SMALL, settled, started  # noqa: E402

pytestmark = pytest.mark.timeout(120)



@pytest.fixture
def session(qtbot):
    s = started(qtbot, SMALL)
    yield s
    s.shutdown()


def done(qtbot, session, ok=True):
    assert ok
    qtbot.waitUntil(lambda: settled(session), timeout=30_000)
    return session.computed


def data(session):
    dataset = session.problem.dataset
    return dataset.X, dataset.y


def test_move_add_delete_relabel(qtbot, session):
    e0, names = session.experiment, session.problem.dataset.class_names
    X0, y0 = (a.copy() for a in data(session))
    landscape0 = session.landscape.part("total").copy()

    done(qtbot, session, session.move_point(3, (5.0, -4.0)))
    X, y = data(session)
    assert session.experiment.problem.source == "points"
    assert np.array_equal(X[3], [5.0, -4.0]) and np.array_equal(np.delete(X, 3, 0), np.delete(X0, 3, 0))
    assert np.array_equal(y, y0)
    assert not np.array_equal(session.landscape.part("total"), landscape0)  # the landscape follows the data

    done(qtbot, session, session.add_point((0.5, 0.5), 2))
    X, y = data(session)
    assert len(y) == 61 and y[-1] == 2 and np.array_equal(X[-1], [0.5, 0.5])

    done(qtbot, session, session.relabel_point(0, (y0[0] + 1) % 3))
    assert data(session)[1][0] == (y0[0] + 1) % 3

    done(qtbot, session, session.delete_point(1))
    X, y = data(session)
    assert len(y) == 60 and np.array_equal(X[1], X0[2])
    # the class names stay, and every run sees the new data
    assert session.problem.dataset.class_names == names
    assert session.problem.objective.n_examples == 60

    for _ in range(4):
        done(qtbot, session, session.undo())
    X, y = data(session)
    assert np.array_equal(X, X0) and np.array_equal(y, y0)
    assert session.experiment == e0
    assert np.array_equal(session.landscape.part("total"), landscape0)


def test_bad_edits_are_refused_and_change_nothing(qtbot, session):
    before = session.experiment
    failures = []
    session.failed.connect(failures.append)
    assert not session.delete_point(999)
    assert "no example 999" in failures[-1]
    assert not session.relabel_point(0, 7)
    assert "0..2" in failures[-1]
    assert not session.move_point(0, (np.nan, 0.0))
    assert "finite" in failures[-1]
    assert session.experiment == before and session.pending is None


def test_a_drag_is_one_undo_step(qtbot, session):
    X0 = data(session)[0].copy()
    drag = object()
    for x in np.linspace(0, 3, 4):
        done(qtbot, session, session.move_point(0, (x, x), gesture=drag))
    assert np.array_equal(data(session)[0][0], [3.0, 3.0])
    done(qtbot, session, session.undo())
    assert np.array_equal(data(session)[0], X0)


def test_quick_edits_add_up(qtbot, session):
    """Edits made while an earlier one computes build on it, not on the committed data."""
    session.move_point(0, (4.0, 4.0))
    session.move_point(1, (-4.0, -4.0))
    session.delete_point(2)
    done(qtbot, session)
    X, y = data(session)
    assert len(y) == 59 and np.array_equal(X[0], [4, 4]) and np.array_equal(X[1], [-4, -4])


def test_a_start_in_full_space(qtbot, session):
    theta = session.results[0].thetas[0].copy()
    theta[8] += 0.5  # b[2]: not an axis of the plane
    notices = []
    session.notice.connect(notices.append)
    done(qtbot, session, session.set_theta0(theta))
    assert session.experiment.space == "full"
    assert any("full space" in n for n in notices)
    for result in session.results:
        assert np.allclose(result.thetas[0], theta)
    # a click on the contour starts from a plane point again
    done(qtbot, session, session.set_start(1.0, 1.0))
    assert session.experiment.theta0 is None
    done(qtbot, session, session.undo())
    assert session.experiment.theta0 == tuple(theta)
