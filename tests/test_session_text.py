"""Sessions that travel as text (the clipboard) and as files dropped on the window."""
import json

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PyQt6.QtGui import QDropEvent  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from losslab.app.window import dropped_file  # noqa: E402
from losslab.io.session_file import loads  # noqa: E402
from sessions import settled  # noqa: E402

pytestmark = pytest.mark.timeout(120)

@pytest.fixture
def window(small_window):
    return small_window


def wait(qtbot, window):
    qtbot.waitUntil(lambda: settled(window.session), timeout=30_000)


def test_copy_then_paste_round_trips_the_session(qtbot, window):
    window.session.set_view(colormap="inferno")
    window.files.copy_session()
    text = QApplication.clipboard().text()
    experiment, view, _ = loads(text)
    assert experiment == window.session.experiment and view["colormap"] == "inferno"
    # someone edits the text (λ) and pastes it back: that experiment is what is shown
    data = json.loads(text)
    data["experiment"]["objective"]["lam"] = 0.7
    QApplication.clipboard().setText(json.dumps(data))
    assert window.files.paste_session()
    wait(qtbot, window)
    assert window.session.experiment.objective.lam == 0.7 and window.session.view.colormap == "inferno"


def test_pasting_something_else_is_named_and_changes_nothing(qtbot, window):
    before = window.session.experiment
    QApplication.clipboard().setText("a shopping list")
    assert not window.files.paste_session()
    assert "Cannot paste a session" in window.message_label.text() and "clipboard" in window.message_label.text()
    assert window.session.experiment == before and window.session.pending is None


def test_edited_points_travel_through_the_clipboard(qtbot, window):
    assert window.session.move_point(0, (4.0, -4.0))
    wait(qtbot, window)
    window.files.copy_session()
    edited = window.session.experiment
    window.session.undo()
    wait(qtbot, window)
    assert window.files.paste_session()
    wait(qtbot, window)
    assert window.session.experiment == edited
    assert np.array_equal(window.session.problem.dataset.X[0], [4.0, -4.0])


def drop(window, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    return mime


def test_a_dropped_session_opens_and_a_dropped_csv_becomes_the_data(qtbot, window, tmp_path):
    path = tmp_path / "dropped.json"
    window.session.set_objective(loss="softmax")
    wait(qtbot, window)
    window.save_session(str(path))
    window.session.undo()
    wait(qtbot, window)
    assert window.session.experiment.objective.loss == "svm"
    drop(window, path)
    wait(qtbot, window)
    assert window.session.experiment.objective.loss == "softmax"
    csv = tmp_path / "two.csv"
    csv.write_text("x1,x2,label\n" + "".join(f"{i},{i % 3},{'ab'[i % 2]}\n" for i in range(20)))
    drop(window, csv)
    wait(qtbot, window)
    assert window.session.experiment.problem.source == "csv" and window.session.problem.dataset.n_examples == 20


def test_only_one_session_or_csv_file_is_accepted():
    def mime(*names):
        m = QMimeData()
        m.setUrls([QUrl.fromLocalFile(n) for n in names])
        return m
    assert dropped_file(mime("/tmp/a.json")) == "/tmp/a.json"
    assert dropped_file(mime("/tmp/a.CSV")) == "/tmp/a.CSV"
    assert dropped_file(mime("/tmp/a.png")) is None
    assert dropped_file(mime("/tmp/a.json", "/tmp/b.json")) is None
    text = QMimeData()
    text.setText("hello")
    assert dropped_file(text) is None
