import gc
import os

import pytest

# GUI tests run headless: without a display, Qt draws offscreen.
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Python's cyclic garbage collector runs in whichever thread happens to allocate: in a background
# job's thread it may destroy Qt objects left over from an earlier test while the GUI thread paints,
# and Qt crashes (pyqtgraph's GarbageCollector exists for this). The window does the same (app/main.py):
# automatic collection is off, and it happens here, in the main thread, between tests.
gc.disable()
_THRESHOLDS = gc.get_threshold()


@pytest.fixture(autouse=True)
def collect_garbage_in_the_main_thread():
    yield
    young, middle, old = gc.get_count()
    if young > _THRESHOLDS[0]:
        generation = 2 if old > _THRESHOLDS[2] else 1 if middle > _THRESHOLDS[1] else 0
        gc.collect(generation)


@pytest.fixture
def small_window(qtbot, tmp_path):
    """A real main window on ``sessions.SMALL``, shown and computed; closed afterwards."""
    from sessions import SMALL, shown_window
    window = shown_window(qtbot, tmp_path, SMALL)
    yield window
    window.close()
