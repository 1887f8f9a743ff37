"""How live is the window? Prints each target and the measured value; asserts nothing.

- λ, β and margin: the main thread's work from one change to its new landscape drawn
  (target ≤ 16 ms a change: one frame), over a slice that stays put (the penalty part
  recomputes, in the background) and, for reference, its work until every view is drawn (the
  loss curves and the data view repaint in the loop's next turns) and the time until then;
- the worst event-loop stall (a 1 ms timer measures the gaps; target < 25 ms) during a
  scripted session: λ dragged, the loss switched, the dataset switched, eight runs, a
  512² landscape. Each phase prints its worst gap and the main-thread call that caused it
  (every event the application dispatches is timed, and the window's slots with it);
- the redraw rate: four panels with 500-step paths and eight with 1000-step paths over
  256² landscapes, frames advanced as the animation does and the event loop run until
  everything is painted, as fast as it goes (target ≥ 60 frames/s); also the cost of one
  full repaint of the landscapes, for reference;
- the time from launching ``losslab`` to a drawn window with its first landscape and
  paths (target < 1 s);
- the default animation exported as a GIF by ``losslab render`` (target < 15 s);
- the time from a superseding change to the old job's stop, while a build of N = 10⁶
  runs (target < 0.2 s), and the time a session takes to close with jobs running
  (target < 1 s).

Runs offscreen unless a display is set: .venv/bin/python benchmarks/bench_window.py
(``--only stalls,lambda,...`` runs some parts: lambda, stalls, redraw, launch, gif, jobs).

The tracing that names each stall's cause costs time of its own: every event Qt dispatches
goes through Python, and work that sends many events (making widgets) measures up to twice
its cost. ``--untraced`` measures with a plain QApplication: the stalls without their causes, and
the λ, β and margin steps as the main thread's CPU time from the change to the end of the
landscapes' repaint, in parts (only the commit and that repaint are wrapped to mark them).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")

import pyqtgraph as pg  # noqa: E402
from PyQt6.QtCore import QSettings, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from losslab.app.session import Session  # noqa: E402
from losslab.app.window import MainWindow  # noqa: E402
from losslab.engine.experiment import Experiment, PlaneSpec, RunSpec  # noqa: E402

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
    w.repaint()
    print("drawn", time.process_time(), flush=True)  # the CPU time of every thread so far
    app.quit()
w.session.committed.connect(drawn)
app.exec()
"""

EIGHT_RUNS = (RunSpec("random_search"), RunSpec("numerical_gd"), RunSpec("gd"), RunSpec("sgd"), RunSpec("momentum"),
              RunSpec("nesterov"), RunSpec("rmsprop"), RunSpec("adam"))


# --- where the main thread's time goes ------------------------------------------------------------

class TracedApp(QApplication):
    """A QApplication that times every event it dispatches, and the slots wrapped by :func:`trace_calls`.

    ``trace`` (while not None) collects the outermost calls as nodes ``[name, start, seconds,
    children, cpu]``; nested events and wrapped calls of 0.5 ms or more become their children.
    ``cpu`` is the main thread's own CPU time inside the call: the rest of ``seconds`` it waited
    (for the GIL held by a worker, or for a core).
    """

    def __init__(self, argv):
        super().__init__(argv)
        self.trace: list | None = None
        self._stack: list = []

    def enter(self, name: str):
        node = [name, time.perf_counter(), 0.0, [], time.thread_time()]
        self._stack.append(node)
        return node

    def leave(self, node) -> None:
        self._stack.pop()
        node[2] = time.perf_counter() - node[1]
        node[4] = time.thread_time() - node[4]
        if not self._stack:
            if self.trace is not None:
                self.trace.append(node)
        elif node[2] >= 0.0005:
            self._stack[-1][3].append(node)

    def notify(self, receiver, event):
        if self.trace is None:
            return super().notify(receiver, event)
        name = type(receiver).__name__
        if name == "QWidget" and receiver.parent() is not None:  # a view's viewport: name the view
            name = f"{type(receiver.parent()).__name__}.viewport"
        node = self.enter(f"{name}:{event.type().name}")
        try:
            return super().notify(receiver, event)
        finally:
            self.leave(node)


TRACED = {  # the main thread's slots and drawing calls worth naming when they stall the loop
    "losslab.app.session": ["Session._commit", "Session._refined", "Session._new_display", "Session.set_objective",
                            "Session.set_problem", "Session.set_plane", "Session.apply"],
    "losslab.app.window": ["MainWindow.on_committed", "MainWindow.show_tables", "MainWindow.show_curvature",
                           "MainWindow.on_frame", "MainWindow.on_progress", "MainWindow.on_pending"],
    "losslab.app.figure": ["Figure.show_snapshot", "Figure.set_frame", "Figure._draw_paths", "Figure._draw_curves",
                           "Figure._update_data_view"],
    "losslab.app.views": ["LandscapeGrid.set_surface", "LandscapeGrid.set_layout", "LandscapeGrid.set_paths",
                          "LandscapePanel.set_surface", "LandscapePanel.set_frame", "DataView.set_decision",
                          "DataView.set_data", "LossCurves.set_runs"],
    "losslab.app.readout": ["Readout.show_snapshot", "Readout.show_frame"],
    "losslab.app.controls": ["OptimizersPanel.show_start_curvature"],
    "pyqtgraph.graphicsItems.ImageItem": ["ImageItem.paint", "ImageItem.render"],
}


def trace_calls(app: TracedApp) -> None:
    import functools
    import importlib

    for module_name, names in TRACED.items():
        module = importlib.import_module(module_name)
        for dotted in names:
            cls_name, name = dotted.split(".")
            cls = getattr(module, cls_name, None)
            if cls is None or name not in cls.__dict__:
                continue
            original = cls.__dict__[name]

            def wrapper(*args, __original=original, __name=dotted, **kwargs):
                node = app.enter(__name)
                try:
                    return __original(*args, **kwargs)
                finally:
                    app.leave(node)

            setattr(cls, name, functools.wraps(original)(wrapper))


def heaviest_chain(node, depth: int = 5) -> str:
    parts = []
    while node is not None and depth:
        parts.append(f"{node[0]} {node[2] * 1e3:.1f}")
        node = max(node[3], key=lambda n: n[2]) if node[3] else None
        depth -= 1
    return " > ".join(parts)


def blame(trace: list, start: float, end: float) -> str:
    """What the main thread did in the gap ``start..end`` (perf_counter seconds): its busy time and heaviest calls."""
    inside = sorted((n for n in trace if n[1] < end and n[1] + n[2] > start), key=lambda n: -n[2])
    busy = sum(min(n[1] + n[2], end) - max(n[1], start) for n in inside)
    if not inside:
        return "no main-thread call: waiting (the GIL held by a worker, or the display)"
    heaviest = "; ".join(heaviest_chain(n) + " ms" for n in inside[:2])
    return f"main thread busy {busy * 1e3:.0f} ms of it in {len(inside)} calls; heaviest: {heaviest}"


class Beat:
    """A 1 ms timer; records every gap between its ticks."""

    def __init__(self):
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._beat)
        self.gaps: list[tuple[float, float]] = []
        self.last = None

    def _beat(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.gaps.append((self.last, now))
        self.last = now

    def start(self) -> None:
        self.gaps, self.last = [], None
        self.timer.start()

    def stop(self) -> list[tuple[float, float]]:
        self.timer.stop()
        return self.gaps


def settle(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.0005)


def wait_idle(app: QApplication, window: MainWindow, timeout: float = 120.0) -> None:
    """Until the session has committed everything asked (its full landscape too), and Qt painted it."""
    end = time.perf_counter() + timeout
    session = window.session
    while time.perf_counter() < end:
        app.processEvents()
        if (session.pending is None and session.snapshot is not None and not session.jobs.is_running("refine")
                and not session.jobs.is_running("picture")):
            settle(app, 0.03)  # the paint the commit asked for
            return
        time.sleep(0.0005)
    raise RuntimeError("the window did not settle")


# --- the measurements ------------------------------------------------------------------------------

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


def contains(node, name: str) -> bool:
    return node[0] == name or any(contains(child, name) for child in node[3])


def main_thread_per_change(app: TracedApp, window: MainWindow, changes: list[dict]) -> list[dict]:
    """Per change, in ms: the main thread's busy time and its CPU time from the change until the new
    landscape is drawn (``landscape``, ``landscape_cpu``: the target's measure) and until every view
    is (``busy``, ``cpu``), the wall time until then (``elapsed``), and the heaviest call (``heaviest``).

    The views repaint one per turn of the event loop, landscapes first (``Figure._repaint_in_turns``):
    the landscape is drawn by the first paint of the landscape grid after the commit.
    """
    out = []
    for change in changes:
        app.trace = []
        start = time.perf_counter()
        node = app.enter("set_objective")
        window.session.set_objective(**change)
        app.leave(node)
        wait_idle(app, window)
        elapsed = time.perf_counter() - start
        trace, app.trace = app.trace, None
        committed = next(k for k, n in enumerate(trace) if contains(n, "Session._commit"))
        drawn = next((k for k, n in enumerate(trace[committed:], committed)
                      if contains(n, "LandscapeGrid.viewport:Paint")), len(trace) - 1)
        worst = max(trace, key=lambda n: n[2])
        out.append({"landscape": sum(n[2] for n in trace[:drawn + 1]) * 1e3,
                    "landscape_cpu": sum(n[4] for n in trace[:drawn + 1]) * 1e3,
                    "busy": sum(n[2] for n in trace) * 1e3, "cpu": sum(n[4] for n in trace) * 1e3,
                    "elapsed": elapsed * 1e3, "heaviest": heaviest_chain(worst)})
    return out


class Marks:
    """Untraced timing of a change: the main thread's CPU time (``time.thread_time``) at the change,
    at the commit's start and end, and at each landscape paint's start and end, by wrapping those
    two methods on their classes (no event goes through Python). Each change runs an event loop
    until the landscape grid's first paint after the commit has ended."""

    def __init__(self):
        from PyQt6.QtCore import QEventLoop

        from losslab.app.session import Session as SessionClass
        from losslab.app.views import LandscapeGrid
        self.loop = QEventLoop()
        self.marks: list[tuple[str, float, float]] | None = None  # (what, wall, main-thread CPU)
        self._wrap(SessionClass, "_commit", "commit")
        self._wrap(LandscapeGrid, "paintEvent", "paint")

    def _wrap(self, cls, name: str, what: str) -> None:
        original = getattr(cls, name)

        def wrapper(*args, **kwargs):
            if self.marks is None:
                return original(*args, **kwargs)
            self.marks.append((what + " start", time.perf_counter(), time.thread_time()))
            try:
                return original(*args, **kwargs)
            finally:
                self.marks.append((what + " end", time.perf_counter(), time.thread_time()))
                if what == "paint" and any(m[0] == "commit end" for m in self.marks):
                    QTimer.singleShot(0, self.loop.quit)
        setattr(cls, name, wrapper)

    def measure(self, app: QApplication, window: MainWindow, change: dict) -> dict:
        """One change's main-thread CPU in ms: ``change`` (the call), ``waiting`` (events handled while
        the worker computes), ``commit``, ``between`` (events before the landscapes' repaint), ``paint``
        (the landscape grid's), ``landscape`` (their sum: the target's measure) and ``elapsed`` (wall)."""
        wait_idle(app, window)
        settle(app, 0.1)  # the previous change's secondary views are drawn
        self.marks = [("change start", time.perf_counter(), time.thread_time())]
        window.session.set_objective(**change)
        self.marks.append(("change end", time.perf_counter(), time.thread_time()))
        guard = QTimer()
        guard.setSingleShot(True)
        guard.timeout.connect(self.loop.quit)
        guard.start(60_000)
        self.loop.exec()
        guard.stop()
        marks, self.marks = self.marks, None
        at = {}
        for what, wall, cpu in marks:  # the first of each, from the commit's end on for the paint
            if what.startswith("paint") and "commit end" not in at:
                continue
            at.setdefault(what, (wall, cpu))
        if "paint end" not in at:
            raise RuntimeError("the landscape was not drawn after the commit")
        cpu = {what: c * 1e3 for what, (_, c) in at.items()}
        return {"change": cpu["change end"] - cpu["change start"],
                "waiting": cpu["commit start"] - cpu["change end"],
                "commit": cpu["commit end"] - cpu["commit start"],
                "between": cpu["paint start"] - cpu["commit end"],
                "paint": cpu["paint end"] - cpu["paint start"],
                "landscape": cpu["paint end"] - cpu["change start"],
                "elapsed": (at["paint end"][0] - at["change start"][0]) * 1e3}


def stall_phase(app: QApplication, window: MainWindow, beat: Beat, act) -> tuple[float, str]:
    """The longest gap between 1 ms ticks while ``act()`` runs and the session recomputes, and its cause
    (a :class:`TracedApp` only)."""
    app.trace = []
    beat.start()
    settle(app, 0.02)
    act()
    wait_idle(app, window)
    gaps = beat.stop()[2:]
    trace, app.trace = app.trace, None
    if not gaps:
        return float("nan"), ""
    start, end = max(gaps, key=lambda g: g[1] - g[0])
    if not isinstance(app, TracedApp):
        return (end - start) * 1e3, "untraced"
    return (end - start) * 1e3, blame(trace, start, end)


def scripted_session(app: TracedApp, window: MainWindow) -> list[tuple[str, float, str]]:
    """λ drags, a loss switch, a dataset switch, eight runs, a 512² landscape: each phase's worst stall."""
    s = window.session
    beat = Beat()

    def drag(values):
        def act():
            for lam in values:  # a slider dragged: a change every frame or so
                s.set_objective(lam=lam)
                settle(app, 0.016)
        return act

    lams = [round(0.1 + 0.05 * k, 3) for k in range(12)]
    phases = [
        ("λ drag (slice through 0)", lambda: (s.set_plane(centre="zero"), None)[1], True),
        ("λ drag (slice through 0)", drag(lams), False),
        ("λ drag (slice through the optimum)", lambda: s.set_plane(centre="optimum"), True),
        ("λ drag (slice through the optimum)", drag(lams[::-1]), False),
        ("loss switch", lambda: s.set_objective(loss="softmax"), False),
        ("loss switch", lambda: s.set_objective(loss="svm"), False),
        ("dataset switch", lambda: s.set_problem(kind="spiral"), False),
        ("dataset switch", lambda: s.set_problem(kind="blobs"), False),
        ("8 runs", lambda: s.apply(replace(s.target, runs=EIGHT_RUNS)), False),
        ("512² landscape", lambda: s.set_plane(resolution=512), False),
        ("λ drag at 512², 8 runs", drag(lams[:6]), False),
    ]
    worst: dict[str, tuple[float, str]] = {}
    for name, act, untimed in phases:
        if untimed:
            act()
            wait_idle(app, window)
            continue
        stall, cause = stall_phase(app, window, beat, act)
        if name not in worst or stall > worst[name][0]:
            worst[name] = (stall, cause)
    return [(name, *worst[name]) for name in worst]


def launch_time() -> tuple[float, float]:
    """(Seconds from starting Python to the window drawn with its first results, as an installed app
    starts; the CPU seconds the process spent until then, all its threads: what a busy machine blurs least).

    An installed package has its modules compiled to bytecode (pip does it at install time). With
    PYTHONDONTWRITEBYTECODE set (as on some shared machines) every launch would compile the
    sources again, 0.3–0.5 s of it: the variable is dropped, and ``main`` launches once untimed.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["XDG_CONFIG_HOME"] = tempfile.mkdtemp()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH_PROBE], stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.wait(30)
    word, _, cpu = line.strip().partition(" ")
    return (elapsed, float(cpu)) if word == "drawn" else (float("nan"), float("nan"))


def gif_time() -> float:
    """Seconds for ``losslab render`` to write the default session's animation as a GIF."""
    from losslab.io.session_file import save_session

    folder = tempfile.mkdtemp()
    session = os.path.join(folder, "default.json")
    save_session(session, Experiment())
    out = os.path.join(folder, "x.gif")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "losslab", "render", session, "-o", out], capture_output=True,
                          text=True, env=dict(os.environ, XDG_CONFIG_HOME=folder))
    elapsed = time.perf_counter() - start
    return elapsed if done.returncode == 0 and os.path.exists(out) else float("nan")


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
        job.join(30)
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


def new_window(experiment: Experiment) -> MainWindow:
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Session(experiment), settings=settings)
    window.resize(1600, 1000)
    window.show()
    return window


PARTS = ("lambda", "stalls", "redraw", "launch", "gif", "jobs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    parser.add_argument("--repeat", type=int, default=3, help="launch and GIF runs (best of)")
    parser.add_argument("--untraced", action="store_true",
                        help="a plain QApplication: the stalls without the tracing's own cost (each event "
                             "dispatched through Python: widget-making work measures up to 2x), and without "
                             "their causes; the lambda part times only the commit and the landscapes' paint, "
                             "and gives the main thread's CPU time between them")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    marks = None
    if args.untraced:
        app = QApplication(sys.argv[:1])
        marks = Marks() if "lambda" in parts else None
    else:
        app = TracedApp(sys.argv[:1])
        trace_calls(app)
    print(f"platform: {app.platformName()}" + (", untraced" if args.untraced else ""))
    if parts & {"lambda", "stalls", "redraw"}:
        window = new_window(Experiment(plane=PlaneSpec(resolution=256), steps=500))
        wait_idle(app, window)
        if "redraw" in parts:
            fps, full = redraw_rate(app, window)
            print(f"redraw rate        {fps:8.1f} frames/s   (target ≥ 60) 4 panels, 500-step paths, 256²")
            print(f"full repaint       {full:8.1f} ms         (all four landscapes at once, for reference)")
        if "lambda" in parts:
            window.session.set_plane(centre="zero")  # the plane stays put when λ moves
            wait_idle(app, window)
            for field, values in (("lam", (0.05, 0.2, 0.5, 0.3, 0.15)), ("beta", (0.2, 0.8, 0.4)),
                                  ("margin", (0.5, 2.0, 1.0))):
                if field == "beta":
                    window.session.set_objective(reg="elastic")
                    wait_idle(app, window)
                if marks is not None:
                    found = [marks.measure(app, window, {field: v}) for v in values * 2]
                else:
                    found = main_thread_per_change(app, window, [{field: v} for v in values])

                def median(key):
                    return statistics.median(f[key] for f in found)

                worst = max(f["landscape"] for f in found)
                if marks is not None:
                    print(f"{field:6} main thread {median('landscape'):6.1f} ms of CPU a change until its landscape "
                          f"is drawn (worst {worst:.1f}; target ≤ 16): the change {median('change'):.1f}, while "
                          f"computing {median('waiting'):.1f}, the commit {median('commit'):.1f}, then "
                          f"{median('between'):.1f}, the landscapes' repaint {median('paint'):.1f}; on screen "
                          f"after {median('elapsed'):.0f} ms")
                    continue
                print(f"{field:6} main thread {median('landscape'):6.1f} ms a change until its landscape is drawn "
                      f"(worst {worst:.1f}; target ≤ 16), of it computing {median('landscape_cpu'):.1f} "
                      f"ms; {median('busy'):.1f} ms until every view is (computing {median('cpu'):.1f}), on screen "
                      f"after {median('elapsed'):.0f} ms; heaviest: {max(found, key=lambda f: f['busy'])['heaviest']} ms")
            window.session.set_objective(reg="l2", lam=0.1, beta=0.5, margin=1.0)
            wait_idle(app, window)
        if "stalls" in parts:
            for name, stall, cause in scripted_session(app, window):
                print(f"worst stall        {stall:8.1f} ms         (target < 25) {name}: {cause}")
        window.close()
        if "redraw" in parts:
            window = new_window(Experiment(plane=PlaneSpec(resolution=256), steps=1000, runs=EIGHT_RUNS))
            wait_idle(app, window)
            fps, full = redraw_rate(app, window)
            print(f"redraw rate        {fps:8.1f} frames/s   (target ≥ 60) 8 panels, 1000-step paths, 256²")
            print(f"full repaint       {full:8.1f} ms         (all eight landscapes at once, for reference)")
            window.close()
    if "launch" in parts:
        launch_time()  # compiles what is not compiled yet
        times = [launch_time() for _ in range(args_repeat())]
        print(f"launch to drawn    {min(t for t, _ in times):8.2f} s          (target < 1) best of {len(times)}: "
              + ", ".join(f"{t:.2f}" for t, _ in times) + f"; CPU until drawn {min(c for _, c in times):.2f} s")
    if "gif" in parts:
        times = [gif_time() for _ in range(max(1, args_repeat() - 1))]
        print(f"default GIF        {min(times):8.2f} s          (target < 15) losslab render default.json -o x.gif: "
              + ", ".join(f"{t:.1f}" for t in times))
    if "jobs" in parts:
        superseded, closed, worst = supersede_and_teardown(app)
        print(f"superseded build   {superseded:8.3f} s          (target < 0.2) from a newer change to the N = 10⁶ "
              "build's stop")
        print(f"close while busy   {closed:8.3f} s          (target < 1) with the N = 5·10⁵ build running; "
              f"worst of 5 closes mid-build {worst:.3f} s")


def args_repeat() -> int:
    return max(1, int(sys.argv[sys.argv.index("--repeat") + 1])) if "--repeat" in sys.argv else 3


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # no teardown: the traced application's notify() must not run while Python dismantles Qt
