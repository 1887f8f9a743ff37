"""The window walking through a lesson (Help ▸ Lessons, the lesson bar) and presentation mode."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QRect, Qt  # noqa: E402
from PyQt6.QtGui import QFontInfo  # noqa: E402
from PyQt6.QtWidgets import QAbstractButton, QApplication, QDockWidget, QLabel, QTabBar  # noqa: E402

from losslab.app.lessons import LessonBar, LessonBrowser  # noqa: E402
from losslab.app.session import view_from_dict  # noqa: E402
from losslab.io.lessons import load_lesson  # noqa: E402
from sessions import SMALL, settled, shown_window  # noqa: E402

pytestmark = pytest.mark.timeout(180)

@pytest.fixture
def window(small_window):
    return small_window


def arrive(qtbot, window, number: int) -> None:
    """Wait until the lesson's step ``number`` is on screen."""
    qtbot.waitUntil(lambda: window.guide.number == number and not window.guide._arriving
                    and settled(window.session), timeout=60_000)


def test_the_browser_lists_the_lessons_and_opens_the_chosen_one(qtbot, window):
    window.open_lessons_dialog()
    browser = window.lesson_browser
    assert isinstance(browser, LessonBrowser) and browser.list.count() == 7
    browser.list.setCurrentRow(2)
    assert "Softmax vs SVM" in browser.details.text() and "<li>" in browser.details.text()
    browser.list.setCurrentRow(0)
    browser.open_button.click()
    arrive(qtbot, window, 1)
    lesson = load_lesson("1-svm-loss")
    bar = window.lesson_bar
    assert bar.isVisible() and "step 1 of 5" in bar.heading.text() and "−96.8" in bar.text.text()
    assert window.session.experiment == lesson.step(1).experiment
    assert window.clock.frame == 0 and not window.clock.playing  # the step's frame: 0
    assert "Scores and the multiclass SVM loss" in window.windowTitle()


def test_next_back_and_showing_a_step_again(qtbot, window):
    assert window.open_lesson("1-svm-loss")
    arrive(qtbot, window, 1)
    bar = window.lesson_bar
    assert not bar.back_button.isEnabled() and bar.next_button.isEnabled() and not bar.again_button.isEnabled()
    # step 1 points at the cat's row: selected in the Examples table, outlined
    assert window.examples_dock.isVisible() and window.examples.selected_rows() == [0]
    assert window.pointer.isVisible() and window.pointer.target is window.examples_dock

    qtbot.mouseClick(bar.next_button, Qt.MouseButton.LeftButton)
    arrive(qtbot, window, 2)
    assert "The hinge loss, worked" in bar.heading.text() and "695.45" in bar.text.text()

    # play with the controls: the step can be shown again, and then it is the step again
    window.session.set_objective(margin=3.0)
    qtbot.waitUntil(lambda: settled(window.session) and window.session.experiment.objective.margin == 3.0)
    qtbot.waitUntil(bar.again_button.isEnabled)
    qtbot.mouseClick(bar.again_button, Qt.MouseButton.LeftButton)
    arrive(qtbot, window, 2)
    assert window.session.experiment == load_lesson("1-svm-loss").step(2).experiment
    assert not bar.again_button.isEnabled()

    # the theme is the user's: it stays dark from step to step, and changing it is not a change of the step
    window.session.set_view(theme="dark")
    assert not bar.again_button.isEnabled()
    window.guide.go(3)
    arrive(qtbot, window, 3)
    assert window.session.view.theme == "dark" and not bar.again_button.isEnabled()

    # step 4 stops where the loss reaches 0 (frame 51); Page Up goes back
    window.guide.go(4)
    arrive(qtbot, window, 4)
    assert window.clock.frame == 51 and window.figure.frame == 51
    assert window.pointer.target is window.figure.curves
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    arrive(qtbot, window, 3)
    assert window.examples.selected_rows() == [1]

    # step 5 changes the loss: the session follows
    window.guide.go(5)
    arrive(qtbot, window, 5)
    assert window.session.experiment.objective.loss == "squared_hinge" and not bar.next_button.isEnabled()
    qtbot.mouseClick(bar.close_button, Qt.MouseButton.LeftButton)
    assert not bar.isVisible() and window.guide.lesson is None
    assert window.session.experiment.objective.loss == "squared_hinge"  # the window keeps what it shows


def test_a_step_pointing_at_a_run_outlines_its_landscape_panel(qtbot, window):
    assert window.open_lesson("4-optimization")
    arrive(qtbot, window, 1)
    lesson = window.guide.lesson
    number = next(k for k, step in enumerate(lesson.steps, start=1) if step.point_at and step.point_at[0] == "run")
    window.guide.go(number)
    arrive(qtbot, window, number)
    run = lesson.step(number).point_at[1]
    panel = window.grid.panels[run]
    expected = window.grid.mapFromScene(panel.sceneBoundingRect()).boundingRect()
    pointer = window.pointer
    assert pointer.isVisible() and pointer.target is window.grid.viewport()
    top_left = window.grid.viewport().mapTo(window, expected.topLeft())
    assert pointer.geometry().contains(QRect(top_left, expected.size()))


def test_a_lesson_that_cannot_be_opened_is_named_and_changes_nothing(qtbot, window):
    before = window.session.experiment
    assert not window.open_lesson("no-such-lesson")
    assert "no lesson of that name" in window.message_label.text()
    assert window.session.experiment == before and not window.lesson_bar.isVisible()


# --- presentation mode -----------------------------------------------------------------------------

def clipped(window) -> list[str]:
    """Visible widgets cut off by the window's edge, or too small for their own text."""
    bounds = window.rect()
    out = []
    for widget in window.findChildren(QLabel) + window.findChildren(QAbstractButton):
        if not widget.isVisible() or widget.width() == 0:
            continue
        rect = QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())
        if not bounds.contains(rect):
            out.append(f"{widget.objectName() or widget.text()[:30]} outside the window: {rect}")
        elif isinstance(widget, QLabel) and widget.wordWrap():
            if widget.heightForWidth(widget.width()) > widget.height() + 1:
                out.append(f"{widget.objectName()}: its text needs {widget.heightForWidth(widget.width())} px "
                           f"of height, has {widget.height()}")
        elif isinstance(widget, QAbstractButton) and widget.width() < widget.minimumSizeHint().width():
            out.append(f"{widget.objectName() or widget.text()}: narrower than its text")
    return out


def test_presentation_mode_at_1280x720_hides_the_controls_and_reads_from_afar(qtbot, window):
    assert window.open_lesson("1-svm-loss", 2)
    arrive(qtbot, window, 2)
    qtbot.keyClick(window, Qt.Key.Key_F11)
    assert window.presenting and window.presentation_action.isChecked()
    window.showNormal()  # the test's screen is not 1280×720: a window of that size stands in for it
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: window.size().width() == 1280 and window.size().height() == 720)
    QApplication.processEvents()
    # the controls are hidden; the step's table (it points at a row) stays
    assert not window.menuBar().isVisible() and not window.statusBar().isVisible()
    assert not window.transport.isVisible()
    assert not any(dock.isVisible() for dock in window.control_docks.values())
    # the step was shown before presenting: its table is hidden too until a step points at it
    window.guide.go(2)
    arrive(qtbot, window, 2)
    QApplication.processEvents()
    assert window.examples_dock.isVisible()
    assert [dock for dock in window.findChildren(QDockWidget) if dock.isVisible()] == [window.examples_dock]
    hidden = {dock.windowTitle() for dock in window.findChildren(QDockWidget) if not dock.isVisible()}
    stale = [bar.tabText(k) for bar in window.findChildren(QTabBar) if bar.parent() is window and bar.isVisible()
             for k in range(bar.count()) if bar.tabText(k) in hidden]
    assert stale == []  # no tab of a hidden panel is left over the figure
    assert clipped(window) == []
    # the outline is around the table where the layout put it (not where the dock was before)
    qtbot.waitUntil(lambda: window.pointer.geometry().contains(window.examples_dock.geometry()))
    assert window.pointer.geometry().height() <= window.examples_dock.height() + 2 * window.pointer.MARGIN
    # text at least the stated size: the lesson's text 24 px, the tables 18 px, the plots' tick labels 15 px
    bar = window.lesson_bar
    assert QFontInfo(bar.text.font()).pixelSize() >= LessonBar.PRESENTATION_TEXT_PIXELS == 24
    assert QFontInfo(window.examples.view.font()).pixelSize() >= 18
    axis = window.grid.panels[0].getAxis("bottom")
    tick_font = axis.style.get("tickFont") or axis.font()
    assert QFontInfo(tick_font).pixelSize() * window.grid.transform().m11() >= 15
    assert window.grid.transform().m11() == window.PRESENTATION_ZOOM
    for view in (window.figure.curves, window.figure.data_view):
        assert view.transform().m11() == window.PRESENTATION_ZOOM
    # the landscape fills its area at that zoom: the layout is made for the smaller size and scaled up
    cells = window.grid._cells
    assert cells is not None and cells[0] * window.PRESENTATION_ZOOM <= window.grid.width()
    # the window is still usable: Next by Page Down
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    arrive(qtbot, window, 3)

    # Esc leaves; everything is back as it was
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.presenting and window.menuBar().isVisible() and window.statusBar().isVisible()
    assert window.transport.isVisible() and window.control_docks["data"].isVisible()
    assert window.grid.transform().m11() == 1.0 and QFontInfo(bar.text.font()).pixelSize() == LessonBar.TEXT_PIXELS


def test_presentation_without_a_lesson_and_closing_while_presenting_keeps_the_layout(qtbot, tmp_path):
    win = shown_window(qtbot, tmp_path, SMALL)
    size = win.size()
    win.set_presentation(True)
    win.set_presentation(False)
    assert win.size() == size  # the window comes back at its size
    win.set_presentation(True)
    assert win.presenting and not win.lesson_bar.isVisible() and not win.statusBar().isVisible()
    win.close()  # the layout saved is the normal one, not the presentation's
    state = win.settings.value("window/state")
    from losslab.app.session import Session
    from losslab.app.window import MainWindow
    again = MainWindow(Session(SMALL, preview_seconds=None), settings=win.settings)
    qtbot.addWidget(again)
    again.show()
    assert state is not None and again.control_docks["data"].isVisible() and again.menuBar().isVisible()
    again.close()


def test_open_at_a_step_from_the_command_line_arguments(qtbot, tmp_path):
    """What ``losslab --lesson NAME --step K --presentation`` does, in process."""
    from PyQt6.QtCore import QSettings

    from losslab.app.session import Session
    from losslab.app.window import MainWindow
    lesson = load_lesson("3-softmax-vs-svm")
    step = lesson.step(2)
    win = MainWindow(Session(step.experiment, view_from_dict(step.view), preview_seconds=None),
                     settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    assert win.open_lesson(lesson, 2)
    arrive(qtbot, win, 2)
    assert win.clock.frame == 0 and win.examples.selected_rows() == [1]
    win.close()


def test_a_lesson_file_opened_or_dropped_as_a_session_opens_as_a_lesson(qtbot, window, tmp_path):
    import json
    path = tmp_path / "my-lesson.json"
    path.write_text(json.dumps({"format": "losslab-lesson", "version": 1, "title": "My lesson", "steps": [
        {"title": "Softer", "text": "<p>Softmax on the same data.</p>",
         "session": {"experiment": {"problem": {"n": 60}, "objective": {"loss": "softmax"},
                                    "plane": {"resolution": 24}, "steps": 20}}, "frame": 5}]}))
    assert window.open_session(str(path))
    arrive(qtbot, window, 1)
    assert window.guide.lesson.title == "My lesson" and "step 1 of 1" in window.lesson_bar.heading.text()
    assert window.session.experiment.objective.loss == "softmax" and window.clock.frame == 5


def test_a_change_made_while_a_step_computes_is_kept(qtbot, window):
    assert window.open_lesson("1-svm-loss")
    arrive(qtbot, window, 1)
    assert window.guide.go(5)  # the squared hinge: computed anew
    assert window.session.set_objective(margin=2.0)  # asked for before step 5 is on screen
    qtbot.waitUntil(lambda: settled(window.session) and not window.guide._arriving, timeout=60_000)
    objective = window.session.experiment.objective
    assert (objective.loss, objective.margin) == ("squared_hinge", 2.0)  # built on the step, not lost
    assert window.lesson_bar.again_button.isEnabled()  # and the step can be shown again
