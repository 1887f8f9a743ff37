"""Widgets that go away: nothing is freed under Qt's feet.

The screenshot script used to crash ("wrapped C/C++ object of type MutedLabel has been deleted",
then a segfault) when a later window switched the theme. The windows it closed were left
alive: Python owns a top-level window, and connected lambdas keep it in reference cycles, so
only a pass of the garbage collector frees it, and sip then deletes the C++ window with every
widget in it. A pass starts at whatever allocation crosses the threshold; the old window's
widgets were still receiving the new palette, and a pass that started inside one of its
MutedLabels' palette handlers deleted that label (and its window) while Qt was still inside it.

The subprocess tests force a pass inside each MutedLabel palette change (a harness, below), so
what used to be a matter of timing happens every time, and a widget deleted inside its own
handler ends the process with exit code 3 instead of the segfault returning into Qt would cause.
"""
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from PyQt6 import sip  # noqa: E402
from PyQt6.QtCore import QCoreApplication, QEvent  # noqa: E402
from PyQt6.QtGui import QColor, QPalette  # noqa: E402
from PyQt6.QtWidgets import QApplication, QToolButton, QWidget  # noqa: E402

from losslab.app import widgets  # noqa: E402
from losslab.app.controls import OptimizersPanel  # noqa: E402
from losslab.app.widgets import MutedLabel, muted_color  # noqa: E402
from losslab.engine.optimizers import OPTIMIZERS  # noqa: E402
from losslab.engine.experiment import Experiment, PlaneSpec, RunSpec  # noqa: E402
from sessions import started  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SMALL = dict(plane=PlaneSpec(resolution=32), steps=20)

HARNESS = r'''
import gc, os, sys, tempfile, time, weakref
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PyQt6 import sip
from PyQt6.QtCore import QCoreApplication, QEvent, QSettings
from PyQt6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])
from losslab.app import widgets
from losslab.app.session import Session, ViewSettings
from losslab.app.window import MainWindow
from losslab.engine.experiment import Experiment, PlaneSpec, RunSpec

mode = sys.argv[1]
folder = tempfile.mkdtemp()
force_gc_in = lambda label: False  # the labels whose palette changes start a pass
passes, freed = [], []


def changeEvent(self, event, original=widgets.MutedLabel.changeEvent):
    original(self, event)
    if event.type() in widgets.PALETTE_EVENTS and force_gc_in(self):
        before = len(QApplication.allWidgets())
        passes.append(gc.collect())  # a pass that happens to start here, as any allocation can make it
        freed.append(before - len(QApplication.allWidgets()))
        if sip.isdeleted(self):
            print("deleted inside its own palette change", flush=True)
            os._exit(3)  # returning into Qt now is the segfault


widgets.MutedLabel.changeEvent = changeEvent


def settle(window, seconds=60.0):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        s = window.session
        if s.pending is None and s.snapshot is not None and not s.jobs.busy:
            break
        time.sleep(0.01)
    for _ in range(5):
        app.processEvents()


def open_window(experiment, view=ViewSettings()):
    settings = QSettings(os.path.join(folder, f"{len(os.listdir(folder))}.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Session(experiment, view), settings=settings)
    window.show()
    settle(window)
    return window


small = dict(plane=PlaneSpec(resolution=32), steps=20)
if mode in ("closed", "deleted", "deleteLater"):  # the screenshot script: a window, closed, then a dark one
    old = open_window(Experiment(runs=(RunSpec("gd"), RunSpec("momentum"), RunSpec("adam")), **small))
    old.session.add_run("nesterov")  # its run editors are rebuilt
    settle(old)
    old.close()
    if mode != "closed":
        old.deleteLater()  # the wrapper is C++'s now: no pass of the collector deletes the window
        if mode == "deleted":
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        else:  # screenshots/take.py: outside an event loop, processEvents leaves this deleteLater pending
            app.processEvents()
    gone = weakref.ref(old)
    gc.disable()  # from here on, a pass starts only where one is forced
    del old  # closed but not deleted, it is garbage: the collector's next pass would delete it
    force_gc_in = lambda label: label.window() is gone()
    new = open_window(Experiment(**small), ViewSettings(theme="dark"))
    new.session.set_view(theme="light")
    settle(new)
    print("old window", "deleted" if gone() is None or sip.isdeleted(gone()) else "alive", flush=True)
else:  # the app: one window, its runs, surface and theme switched, a pass in every palette change
    window = open_window(Experiment(runs=(RunSpec("gd"), RunSpec("momentum"), RunSpec("adam")), **small))
    gc.collect()
    gc.disable()
    force_gc_in = lambda label: True
    s = window.session
    for k, theme in enumerate(("dark", "light")):
        s.add_run("rmsprop")
        s.set_view(theme=theme)
        settle(window)
        s.remove_run(0)
        s.set_problem(source="surface", kind=("rosenbrock", "himmelblau")[k], surface_params=())
        s.set_view(theme="light" if theme == "dark" else "dark")
        settle(window)
    print("passes", len(passes), "widgets freed by them", sum(freed), flush=True)
    window.close()
print("ok", flush=True)
'''


def run_harness(tmp_path, mode: str) -> subprocess.CompletedProcess:
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(script), mode], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)


def test_a_closed_window_left_to_the_collector_is_freed_inside_its_own_palette_change(tmp_path):
    """The crash, made certain: the harness sees it (so the tests below would see it too)."""
    result = run_harness(tmp_path, "closed")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "deleted inside its own palette change" in result.stdout


def test_a_closed_window_that_is_deleted_gets_no_palette_change(tmp_path):
    """Close, deleteLater and the deferred deletion done: the window is gone before the next theme."""
    result = run_harness(tmp_path, "deleted")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "old window deleted" in result.stdout and "ok" in result.stdout


def test_a_closed_window_handed_to_qt_is_not_freed_by_the_collector(tmp_path):
    """screenshots/take.py's close: deleteLater then processEvents. Outside an event loop Qt may keep the
    deletion pending (it does with Qt 6.11), so the window can still get the next theme; but deleteLater
    made C++ its owner, so no pass of the garbage collector frees it inside a handler."""
    result = run_harness(tmp_path, "deleteLater")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout


def test_one_window_has_no_widget_the_collector_could_free(tmp_path):
    """The app: runs added and removed, surfaces switched, themes switched, a pass in every palette change.

    Every widget of a live window, the run editors and surface forms waiting for deletion included,
    is deleted by Qt, never by a pass of the garbage collector.
    """
    result = run_harness(tmp_path, "one")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "widgets freed by them 0" in result.stdout and "ok" in result.stdout
    assert "passes 0 " not in result.stdout  # the passes did happen


def test_old_run_editors_leave_the_layout_at_once(qtbot):
    """An added run keeps the editors before it; editors replaced by a change of runs are out of the
    layout and hidden at once, Qt's to delete."""
    session = started(qtbot, Experiment(runs=(RunSpec("gd"), RunSpec("momentum")), **SMALL))
    panel = OptimizersPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    first = list(panel.editors)
    assert session.add_run("adam")
    assert [e.objectName() for e in panel.editors] == ["run_0", "run_1", "run_2"]
    assert panel.editors[:2] == first  # the same places hold the same methods: kept, not rebuilt
    old = list(panel.editors)
    assert session.remove_run(0)  # every place now holds another method: every editor is new
    assert [e.objectName() for e in panel.editors] == ["run_0", "run_1"]
    assert not set(panel.editors) & set(old)
    assert panel.list.count() == 2  # not 3 old + 2 new: a deleteLater made outside an event loop can wait long
    for editor in old:
        assert not sip.isdeleted(editor) and panel.list.indexOf(editor) == -1 and not editor.isVisibleTo(panel)
        assert not sip.ispyowned(editor)  # Qt deletes it, not a pass of the garbage collector
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    assert all(sip.isdeleted(e) for e in old)
    assert [e.title() for e in panel.editors] == [OPTIMIZERS["momentum"].label, OPTIMIZERS["adam"].label]


def test_new_run_editors_are_shown_one_per_turn_of_the_loop(qtbot):
    """Each new editor's first showing costs 10-15 ms: three at once were one long stall. Changes
    made while editors wait join the one chain of turns: never two editors shown in one turn."""
    session = started(qtbot, Experiment(runs=(RunSpec("gd"),), **SMALL))
    panel = OptimizersPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.editors[0].isVisible(), timeout=5_000)  # the first, made with the panel
    shown = []
    panel._next_editor.timeout.connect(lambda: shown.append([not e.isHidden() for e in panel.editors]))
    session.apply(replace(session.target, runs=(RunSpec("gd"), RunSpec("momentum"), RunSpec("nesterov"),
                                                RunSpec("adam"))))
    assert len(panel.editors) == 4 and [e.isHidden() for e in panel.editors] == [False, True, True, True]
    qtbot.waitUntil(lambda: all(e.isVisible() for e in panel.editors), timeout=5_000)
    assert shown == [[True, True, False, False], [True, True, True, False], [True, True, True, True]]

    shown.clear()
    session.add_run("sgd")
    session.add_run("adam")  # a second change before the first one's editor is shown
    qtbot.waitUntil(lambda: all(e.isVisible() for e in panel.editors), timeout=5_000)
    assert shown == [[True] * 5 + [False], [True] * 6]


def test_a_run_given_a_tolerance_gets_an_editor_with_its_field(qtbot):
    """An editor is kept only while its run shows the same fields: the tolerance field comes and goes."""
    session = started(qtbot, Experiment(runs=(RunSpec("gd"), RunSpec("adam")), **SMALL))
    panel = OptimizersPanel(session)
    qtbot.addWidget(panel)
    first = list(panel.editors)
    runs = session.target.runs
    with_tol = replace(runs[1], hyper=runs[1].hyper + (("tol", 1e-6),))
    session.apply(replace(session.target, runs=(runs[0], with_tol)))
    assert panel.editors[0] is first[0] and panel.editors[1] is not first[1]
    assert "tol" in panel.editors[1].form.editors


def test_a_run_removed_by_its_own_button(qtbot):
    """The ✕ of a run: its editor is the one whose signal is being handled, so it is not deleted then."""
    session = started(qtbot, Experiment(runs=(RunSpec("gd"), RunSpec("momentum"), RunSpec("adam")), **SMALL))
    panel = OptimizersPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    clicked = panel.editors[1]
    remove = [b for b in clicked.findChildren(QToolButton) if b.text() == "✕"][0]
    remove.click()
    assert [r.method for r in session.target.runs] == ["gd", "adam"]
    assert panel.list.count() == 2 and not clicked.isVisibleTo(panel) and not sip.isdeleted(clicked)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    assert sip.isdeleted(clicked)


def test_a_muted_label_answers_a_palette_change_once(qtbot, monkeypatch):
    """Its own setPalette sends it another PaletteChange: that one is not answered with a second pass."""
    parent = QWidget()
    qtbot.addWidget(parent)
    label = MutedLabel("v ← μv + g", parent)
    calls = []
    recolour = MutedLabel._recolour
    monkeypatch.setattr(MutedLabel, "_recolour", lambda self: (calls.append(self), recolour(self)))
    dark = QPalette(QApplication.palette())
    dark.setColor(QPalette.ColorRole.Window, QColor("#2b2b2b"))
    parent.setPalette(dark)
    assert len(calls) == 1
    text = QApplication.palette().color(QPalette.ColorRole.WindowText)
    assert label.palette().color(QPalette.ColorRole.WindowText) == muted_color(text, QColor("#2b2b2b"))
    calls.clear()
    parent.setPalette(dark)  # the same palette again: nothing to do
    assert len(calls) <= 1
    assert label.palette().color(QPalette.ColorRole.WindowText) == muted_color(text, QColor("#2b2b2b"))


def test_the_muted_colour_is_remembered():
    text, background = QColor("#000000"), QColor("#ffffff")
    widgets._muted_cached.cache_clear()
    first = widgets._muted_on(text, background)
    second = widgets._muted_on(text, background)
    assert first == second == muted_color(text, background)
    assert widgets._muted_cached.cache_info().hits == 1
    first.setRed(255)  # a copy: the remembered colour is not changed through it
    assert widgets._muted_on(text, background) == muted_color(text, background)
