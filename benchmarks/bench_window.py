"""How live is the window? Prints figures against the targets; asserts nothing.

- redraw rate: four side-by-side panels with 500-step paths over 256² landscapes, frames
  advanced as the animation does and the event loop run until everything is painted,
  as fast as it goes (target ≥ 60 frames/s); also the cost of one full repaint of the
  landscapes, for reference;
- the worst event-loop stall while the background recomputes (a 1 ms timer measures the
  gaps; target < 50 ms): when λ moves (the penalty part and the runs) and when the loss
  changes (a whole new 256² landscape and four runs);
- the time from launching ``losslab`` to a drawn window with its first landscape and
  paths (target < 2 s);
- the time from a superseding change to the old job's stop, while a build of N = 10⁶
  runs (target < 0.2 s), and the time a session takes to close with jobs running
  (target < 1 s).

Runs offscreen unless a display is set: .venv/bin/python benchmarks/bench_window.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")

import pyqtgraph as pg  # noqa: E402
from PyQt6.QtCore import QElapsedTimer, QSettings, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from losslab.app.session import Session  # noqa: E402
from losslab.app.window import MainWindow  # noqa: E402
from losslab.engine.experiment import Experiment, PlaneSpec  # noqa: E402

LAUNCH_PROBE = r"""
import sys, time
from losslab.app import main as m
import pyqtgraph as pg
from PyQt6.QtWidgets import QApplication
from losslab.app.window import MainWindow
pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
app = QApplication(sys.argv[:1])
w = MainWindow()
w.show()
def drawn(_snapshot):
    w.grid.repaint()
    print("drawn", flush=True)
    app.quit()
w.session.committed.connect(drawn)
app.exec()
"""


def wait_idle(app: QApplication, window: MainWindow, timeout: float = 60.0) -> None:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        app.processEvents()
        if window.session.pending is None and window.session.snapshot is not None:
            return
        time.sleep(0.002)
    raise RuntimeError("the window did not settle")


def redraw_rate(app: QApplication, window: MainWindow, frames: int = 300) -> tuple[float, float]:
    """(frames per second animating, milliseconds for one forced full repaint of the landscapes)."""
    clock = window.clock
    clock.seek(0)
    app.processEvents()
    real_time, now = clock._now, [0.0]
    clock._now = lambda: now[0]  # time advances one frame per iteration: as fast as frames can be drawn
    clock.set_speed(1.0)
    clock.play()
    start = time.perf_counter()
    for _ in range(frames):
        now[0] += 1.0
        clock.tick()  # what the animation timer does: every view moves to the next frame
        app.processEvents()  # ...and Qt paints what changed
    fps = frames / (time.perf_counter() - start)
    clock.pause()
    clock._now = real_time
    start = time.perf_counter()
    for _ in range(20):
        window.grid.viewport().repaint()
    return fps, (time.perf_counter() - start) / 20 * 1e3


def worst_stall(app: QApplication, window: MainWindow, changes: list[dict]) -> float:
    """The longest gap between 1 ms timer ticks while the session recomputes after ``changes``."""
    gaps = []
    timer = QTimer()
    timer.setInterval(1)
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def beat():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer.timeout.connect(beat)
    timer.start()
    for change in changes:
        window.session.set_objective(**change)
        wait_idle(app, window)
    timer.stop()
    return max(gaps[2:]) if len(gaps) > 2 else float("nan")


def launch_time() -> float:
    env = dict(os.environ, XDG_CONFIG_HOME=tempfile.mkdtemp())
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH_PROBE], stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.wait(30)
    return elapsed if line.strip() == "drawn" else float("nan")


def supersede_and_teardown(app: QApplication) -> tuple[float, float, float]:
    """(seconds from a superseding change to the old build's stop at N = 10⁶,
    seconds for that session to close with a job running, worst of 5 closes mid-build)."""
    session = Session(Experiment(plane=PlaneSpec(resolution=128), steps=100), confirm_seconds=None)
    session.start()
    end = time.perf_counter() + 60
    while session.snapshot is None and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)
    session.set_problem(n=1_000_000)
    time.sleep(1.0)  # well inside the long build (data, optimum, runs)
    old = list(session.jobs._running.values())
    start = time.perf_counter()
    session.set_problem(n=300)
    for job in old:
        job.thread.join(30)
    superseded = time.perf_counter() - start
    session.set_problem(n=500_000)
    time.sleep(0.5)
    start = time.perf_counter()
    session.shutdown()
    closed = time.perf_counter() - start
    worst = 0.0
    for k in range(5):
        s = Session(Experiment(plane=PlaneSpec(resolution=256), steps=400), confirm_seconds=None)
        s.start()
        time.sleep(0.05 * k)
        start = time.perf_counter()
        s.shutdown()
        worst = max(worst, time.perf_counter() - start)
    return superseded, closed, worst


def main() -> None:
    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    app = QApplication(sys.argv[:1])
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Session(Experiment(plane=PlaneSpec(resolution=256), steps=500)), settings=settings)
    window.resize(1600, 1000)
    window.show()
    wait_idle(app, window)
    print(f"platform: {app.platformName()}; 4 panels, 256² landscapes, 500-step paths")
    fps, full = redraw_rate(app, window)
    print(f"redraw rate        {fps:8.1f} frames/s   (target ≥ 60)")
    print(f"full repaint       {full:8.1f} ms         (all four landscapes at once, for reference)")
    window.session.set_plane(centre="zero")  # the plane stays put when λ moves
    wait_idle(app, window)
    stall = worst_stall(app, window, [dict(lam=0.05), dict(lam=0.2), dict(lam=0.5)])
    print(f"worst stall        {stall:8.1f} ms         (target < 50) while λ moves: penalty and runs recompute")
    stall = worst_stall(app, window, [dict(loss="softmax"), dict(loss="svm")])
    print(f"worst stall        {stall:8.1f} ms         (target < 50) for a new loss: a whole new landscape and runs")
    window.close()
    seconds = launch_time()
    print(f"launch to drawn    {seconds:8.2f} s          (target < 2)")
    superseded, closed, worst = supersede_and_teardown(app)
    print(f"superseded build   {superseded:8.3f} s          (target < 0.2) from a newer change to the N = 10⁶ "
          "build's stop")
    print(f"close while busy   {closed:8.3f} s          (target < 1) with the N = 5·10⁵ build running; "
          f"worst of 5 closes mid-build {worst:.3f} s")


if __name__ == "__main__":
    main()
