"""The per-example table follows the data view's run and the clock, and its numbers are the engine's."""
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QSettings, Qt  # noqa: E402

from losslab.app.session import Session, ViewSettings  # noqa: E402
from losslab.app.window import MainWindow  # noqa: E402
from losslab.engine import per_example_losses  # noqa: E402
from losslab.engine.experiment import Experiment, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec  # noqa: E402

pytestmark = pytest.mark.timeout(120)

EXPERIMENT = Experiment(problem=ProblemSpec(kind="blobs", n=60, classes=3), objective=ObjectiveSpec(loss="svm", lam=0.1),
                        plane=PlaneSpec(resolution=24), steps=30, runs=(RunSpec("gd"), RunSpec("sgd")))


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(Session(EXPERIMENT, ViewSettings(data_run=0)), settings=settings)
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    qtbot.waitUntil(lambda: win.session.snapshot is not None and win.session.pending is None, timeout=30_000)
    win.examples_dock.raise_()
    qtbot.waitUntil(lambda: win.examples.isVisible(), timeout=5_000)
    yield win
    win.close()


def column(table, name):
    return table.model.headers.index(name)


def test_rows_are_the_engines_per_example_losses_at_the_frame(qtbot, window):
    table = window.examples
    for frame in (0, 12, 30):
        window.clock.seek(frame)
        qtbot.waitUntil(lambda: window.figure.frame == frame, timeout=5_000)
        window.show_tables()
        computed = window.session.computed
        o, run = computed.problem.objective, computed.runs[0]
        losses, terms = per_example_losses(o.scores(run.thetas[frame]), o.y, "svm", o.margin)
        assert table.model.rowCount() == 60
        np.testing.assert_allclose(table.model.values[:, column(table, "Lᵢ")], losses)
        np.testing.assert_allclose(table.model.values[:, column(table, "term 1")], terms[:, 1])
        data_loss, reg = o.parts(run.thetas[frame])
        assert f"{data_loss:.5g}" in table.summary.text() and f"{reg:.5g}" in table.summary.text()
    # a violated margin is coloured; a satisfied one is not
    first_term = column(table, "term 0")
    active = table.model.active[:, first_term:first_term + 3]
    assert active.any() == bool((terms > 0).any())


def test_sorting_by_the_loss_puts_the_worst_example_first(qtbot, window):
    table = window.examples
    window.clock.seek(0)
    window.show_tables()
    L = column(table, "Lᵢ")
    table.view.sortByColumn(L, Qt.SortOrder.DescendingOrder)
    top = table.proxy.index(0, L).data(Qt.ItemDataRole.UserRole + 1)
    assert top == pytest.approx(table.model.values[:, L].max())
    worst = int(table.proxy.index(0, 0).data())
    assert table.model.values[worst, L] == top


def test_digits_show_principal_components_and_probabilities(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    digits = Experiment(problem=ProblemSpec(source="bundled", kind="digits", standardize=True),
                        objective=ObjectiveSpec(loss="softmax", lam=0.01), plane=PlaneSpec(kind="random", resolution=12),
                        steps=5, runs=(RunSpec("gd"),))
    win = MainWindow(Session(digits, ViewSettings(data_run=0)), settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.session.snapshot is not None and win.session.pending is None, timeout=60_000)
    win.examples_dock.raise_()
    qtbot.waitUntil(lambda: win.examples.isVisible(), timeout=5_000)
    win.show_tables()
    table = win.examples
    assert table.model.headers[:4] == ["#", "PC1", "PC2", "y"] and "p9" in table.model.headers
    p = table.model.values[:, column(table, "p0"):column(table, "p9") + 1]
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert table.model.active is None  # probabilities are not margins: nothing to colour
    win.close()


def test_selected_rows_are_ringed_in_the_data_view(qtbot, window):
    table, view = window.examples, window.figure.data_view
    window.show_tables()
    L = column(table, "Lᵢ")
    table.view.sortByColumn(L, Qt.SortOrder.DescendingOrder)
    table.view.selectRow(0)  # the worst example
    worst = int(table.proxy.index(0, 0).data())
    xs, ys = view.highlighted.getData()
    assert len(xs) == 1
    np.testing.assert_allclose((xs[0], ys[0]), window.session.problem.dataset.X[worst])
    table.view.clearSelection()
    assert len(view.highlighted.getData()[0]) == 0
