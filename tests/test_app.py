"""The window, driven through its real widgets with qtbot (headless)."""
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QPoint, QPointF, QSettings, Qt  # noqa: E402
from PyQt6.QtWidgets import QPushButton  # noqa: E402

from losslab.app.readout import STATUS  # noqa: E402
from losslab.app.window import MainWindow  # noqa: E402
from losslab.engine.experiment import Experiment, PlaneSpec  # noqa: E402
from losslab.app.session import Session  # noqa: E402


class FakeTime:
    """An injectable clock: tests move time by hand."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def idle(qtbot, window, timeout=20_000):
    """Wait until every background job is done and results are drawn."""
    qtbot.waitUntil(lambda: not window.session.jobs.busy and bool(window.results) and window.session.landscape is not None,
                    timeout=timeout)


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    experiment = Experiment(plane=PlaneSpec(resolution=64), steps=60)
    win = MainWindow(Session(experiment), settings=settings)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    idle(qtbot, win)
    yield win
    win.close()


def head(panel):
    pos = panel._heads[0].pos()
    return np.array([pos.x(), pos.y()])


def test_window_starts_with_four_live_panels(window):
    assert len(window.grid.panels) == 4
    image = window.grid.panels[0].surface.drawing.rgba
    assert image.shape == (64, 64, 4) and image.dtype == np.uint8 and (image[..., 3] == 255).all()
    np.testing.assert_array_equal(window.grid._surface[0].values, window.session.landscape.part("total"))
    assert [r.spec.method for r in window.results] == ["random_search", "numerical_gd", "gd", "sgd"]
    assert window.readout.rowCount() == 4
    assert window.transport.slider.maximum() == 60


def test_loss_combo_changes_the_landscape(qtbot, window):
    before = window.session.landscape.data.copy()
    box = window.objective_panel.loss
    box.setCurrentIndex(box.findData("softmax"))
    qtbot.waitUntil(lambda: window.session.experiment.objective.loss == "softmax")
    qtbot.waitUntil(lambda: window.session.landscape is not None and not np.allclose(window.session.landscape.data, before))
    idle(qtbot, window)
    assert window.session.problem.objective.loss_kind == "softmax"


def test_lambda_field_reshapes_only_the_penalty(qtbot, window):
    window.session.set_plane(centre="zero")
    idle(qtbot, window)
    data_before = window.session.landscape.data.copy()
    reg_before = window.session.landscape.reg.copy()
    field = window.objective_panel.lam.field
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, "1")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert window.session.target.objective.lam == 1.0
    qtbot.waitUntil(lambda: not np.allclose(window.session.landscape.reg, reg_before))
    np.testing.assert_array_equal(window.session.landscape.data, data_before)  # the data part was kept
    np.testing.assert_allclose(window.session.landscape.reg, 10 * reg_before)  # λ R(W): 0.1 -> 1


def test_invalid_entry_is_refused_with_a_message(qtbot, window):
    field = window.objective_panel.lam.field
    before = window.session.experiment
    for text in ("nan", "", "-3", "abc"):
        field.setFocus()
        field.selectAll()
        if text:
            qtbot.keyClicks(field, text)
        else:
            qtbot.keyClick(field, Qt.Key.Key_Delete)
        qtbot.keyClick(field, Qt.Key.Key_Return)
        assert window.session.experiment == before
        assert "lam" in window.message_label.text()
        assert field.text() == "0.1"  # the last good value is back


def test_dataset_and_plane_controls(qtbot, window):
    kind = window.problem_panel.kind
    kind.setCurrentIndex(kind.findData("spiral"))
    qtbot.waitUntil(lambda: window.session.problem.dataset.name == "spiral")
    idle(qtbot, window)
    plane = window.plane_panel.kind
    plane.setCurrentIndex(plane.findData("random"))
    qtbot.waitUntil(lambda: window.session.landscape is not None and window.session.landscape.plane.kind == "random")
    idle(qtbot, window)
    assert window.grid.panels[0].getAxis("bottom").labelText == "direction 1"


def test_hyperparameter_add_and_remove_runs(qtbot, window):
    form = window.optimizers_panel.editors[2].form  # gradient descent
    lr = form.editors["lr"].field
    lr.setFocus()
    lr.selectAll()
    qtbot.keyClicks(lr, "0.01")
    qtbot.keyClick(lr, Qt.Key.Key_Return)
    assert window.session.target.runs[2].hyper_dict["lr"] == 0.01
    idle(qtbot, window)
    assert window.results[2].trajectory.hyper["lr"] == 0.01
    window.optimizers_panel.method.setCurrentIndex(window.optimizers_panel.method.findData("adam"))
    qtbot.mouseClick(window.optimizers_panel.findChild(QPushButton, "button_add_run"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.results) == 5, timeout=20_000)
    assert len(window.grid.panels) == 5
    window.session.remove_run(4)
    qtbot.waitUntil(lambda: len(window.results) == 4, timeout=20_000)
    assert len(window.grid.panels) == 4


def test_overlay_layout_and_view_options(qtbot, window):
    box = window.view_panel.layout_box
    box.setCurrentIndex(box.findData("overlay"))
    assert len(window.grid.panels) == 1  # laid out at once, filled at the loop's next turn
    qtbot.waitUntil(lambda: len(window.grid.panels[0]._lines) == 4, timeout=5_000)
    part = window.view_panel.part
    part.setCurrentIndex(part.findData("reg"))
    qtbot.waitUntil(lambda: window.grid.colorbar.axis.labelText == "λ R(W)")
    np.testing.assert_array_equal(window.grid._surface[0].values, window.session.landscape.reg)
    window.view_panel.log_scale.setChecked(True)
    qtbot.waitUntil(lambda: window.grid.colorbar.axis.labelText.endswith("(log₁₀)"))


def test_click_on_a_contour_moves_the_start(qtbot, window):
    panel = window.grid.panels[1]
    target = QPointF(0.5, -1.25)
    scene = panel.vb.mapViewToScene(target)
    pos = window.grid.mapFromScene(scene)
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))
    qtbot.waitUntil(lambda: window.session.experiment.start != (-2.0, 2.0))
    a, b = window.session.experiment.start
    assert abs(a - 0.5) < 0.1 and abs(b + 1.25) < 0.1
    idle(qtbot, window)
    np.testing.assert_allclose(window.results[0].ab[0], [a, b])


def test_play_step_and_scrub_move_every_panel(qtbot, window):
    fake = FakeTime()
    window.clock._now = fake
    window.clock.set_speed(10.0)
    window.clock.seek(0)

    def at(frame):
        for panel, result in zip(window.grid.panels, window.results):
            np.testing.assert_allclose(head(panel), result.ab[min(frame, len(result.ab) - 1)])

    window.clock.play()
    fake.now += 2.05  # 10 frames/s for 2 s, whatever the tick rate
    window.clock.tick()
    assert window.clock.frame == 20
    at(20)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.clock.playing
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.clock.frame == 21
    qtbot.keyClick(window, Qt.Key.Key_Left)
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert window.clock.frame == 19
    at(19)
    window.transport.slider.setValue(45)
    assert window.clock.frame == 45
    at(45)
    assert window.transport.label.text() == "step 45 / 60"


def test_a_diverging_learning_rate_is_marked_not_raised(qtbot, window):
    window.session.set_hyper(2, "lr", 1e6)
    window.session.set_plane(centre="zero")
    qtbot.waitUntil(lambda: bool(window.results) and window.results[2].trajectory.status == "diverged", timeout=20_000)
    idle(qtbot, window)
    window.clock.seek(10_000)
    assert window.readout.item(2, STATUS).text() == "diverged"
    assert "diverged" in window.grid.panels[2].diverged_text.toPlainText()


def test_the_entry_point_starts_animates_exports_and_closes(tmp_path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    png = tmp_path / "figure.png"
    out = subprocess.run([sys.executable, "-m", "losslab", "--play-for", "1", "--export-png", str(png)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_last_session_comes_back(qtbot, tmp_path):
    from losslab.app.main import _last_session

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(Session(Experiment(plane=PlaneSpec(resolution=32), steps=20)), settings=settings)
    qtbot.addWidget(win)
    idle(qtbot, win)
    win.session.set_objective(lam=0.7)
    win.session.set_view(layout="overlay")
    win.close()
    restored = _last_session(settings)
    assert restored.experiment.objective.lam == 0.7 and restored.view.layout == "overlay"
    settings.setValue("session/last", "{ corrupt")
    assert _last_session(settings) is None  # a bad memory is dropped, not fatal


def test_each_optimizer_has_its_own_colour_and_steps(qtbot, window, monkeypatch):
    from PyQt6.QtGui import QColor
    from PyQt6.QtWidgets import QColorDialog, QToolButton

    monkeypatch.setattr(QColorDialog, "getColor", lambda *args, **kwargs: QColor("#123456"))
    editor = window.optimizers_panel.editors[2]
    qtbot.mouseClick(editor.findChild(QToolButton, "color_2"), Qt.MouseButton.LeftButton)
    assert window.session.target.runs[2].color == "#123456"
    steps = window.optimizers_panel.editors[2].form.editors["steps"]
    steps.setFocus()
    steps.selectAll()
    qtbot.keyClicks(steps, "15")
    qtbot.keyClick(steps, Qt.Key.Key_Return)
    idle(qtbot, window)
    gd = [r for r in window.results if r.index == 2][0]
    assert gd.trajectory.n_steps == 15 and window.results[0].trajectory.n_steps == 60
    assert window.grid.panels[2]._paths[0].color == "#123456"
