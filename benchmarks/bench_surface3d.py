"""How fast is the 3-D view? Prints figures against the targets; asserts nothing.

- frames per second while animating four paths over a 128² surface (issue target ≥ 30
  frames/s in software OpenGL, Mesa llvmpipe, on 2 cores): each frame is ``set_frame(k)``
  then a real repaint, and the next frame starts when OpenGL has swapped the last one, so
  every counted frame was drawn. At two view sizes: a panel (960×640) and a large window's
  landscape area (1400×900);
- what one frame costs on the CPU alone (the paths are lifted once per landscape: a frame slices them);
- a new landscape (``set_surface``: heights, shading, iso-lines) and a 1600×900 PNG export.

Needs OpenGL, so a display: with none set it starts itself again under ``xvfb-run``:
    .venv/bin/python benchmarks/bench_surface3d.py
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    if shutil.which("xvfb-run") is None:
        sys.exit("the 3-D view needs a display: set $DISPLAY or install xvfb-run (apt install xvfb)")
    sys.exit(subprocess.call(["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24", sys.executable, *sys.argv],
                             env={**os.environ, "QT_QPA_PLATFORM": "xcb"}))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PyQt6.QtCore import QElapsedTimer  # noqa: E402
from PyQt6.QtTest import QTest  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from losslab.app.session import ViewSettings, render_snapshot  # noqa: E402
from losslab.app.surface3d import SurfaceView3D, available  # noqa: E402
from losslab.app.views import PathData, run_color, run_label  # noqa: E402
from losslab.engine.experiment import Experiment, PlaneSpec  # noqa: E402

SECONDS = 4.0


def animate(app, view: SurfaceView3D, n_frames: int, seconds: float) -> float:
    """Frames per second, each frame drawn and swapped before the next one starts."""
    gl = view._scene.view
    state = {"k": 0, "frames": 0}

    def next_frame():
        state["k"] = (state["k"] + 1) % n_frames
        state["frames"] += 1
        view.set_frame(state["k"])

    gl.frameSwapped.connect(next_frame)
    timer = QElapsedTimer()
    timer.start()
    view.set_frame(0)
    while timer.elapsed() < seconds * 1000:
        app.processEvents()
    gl.frameSwapped.disconnect(next_frame)
    return state["frames"] / (timer.elapsed() / 1000)


def main() -> None:
    app = QApplication(sys.argv[:1])
    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    ok, reason = available()
    print(f"OpenGL: {reason}" if ok else f"no OpenGL here: {reason}")
    if not ok:
        return
    print(f"cores: {os.cpu_count()}")
    experiment = Experiment(plane=PlaneSpec(resolution=128), steps=200)
    snapshot = render_snapshot(experiment, ViewSettings())
    display = snapshot.display
    runs = snapshot.computed.runs
    paths = [PathData(r.spec.method, run_label(r.spec), run_color(r.index, r.spec), np.asarray(r.ab),
                      r.trajectory.status) for r in runs]
    n_frames = snapshot.computed.n_frames
    print(f"landscape {display.values.shape[1]}×{display.values.shape[0]}, {len(paths)} paths of {n_frames} frames")

    view = SurfaceView3D()
    view.set_layout([], snapshot.computed.plane.labels)
    view.set_surface(display, "viridis", reset_view=True)
    view.set_paths([[p] for p in paths], tuple(runs[0].ab[0]))
    for width, height in ((960, 640), (1400, 900)):
        view.resize(width, height)
        view.show()
        QTest.qWaitForWindowExposed(view)
        for _ in range(5):
            app.processEvents()
        fps = animate(app, view, n_frames, SECONDS)
        print(f"animation at {width}×{height}: {fps:.1f} frames/s (target ≥ 30)")

    # the CPU part of a frame: lifting the paths and handing them to OpenGL
    t = time.perf_counter()
    for k in range(n_frames):
        view.set_frame(k)
    per_frame = (time.perf_counter() - t) / n_frames
    print(f"set_frame (four pre-lifted paths sliced and handed to OpenGL, no drawing): {per_frame * 1000:.2f} ms")

    t = time.perf_counter()
    repeats = 5
    for _ in range(repeats):
        view.set_surface(display, "viridis", reset_view=False)
        app.processEvents()
    per_surface = (time.perf_counter() - t) / repeats
    print(f"set_surface (heights, shading, iso-lines) and a repaint: {per_surface * 1000:.1f} ms")

    t = time.perf_counter()
    image = view.render_image((1600, 900))
    print(f"render_image 1600×900: {(time.perf_counter() - t) * 1000:.0f} ms ({image.width()}×{image.height()})")
    view.close()


if __name__ == "__main__":
    main()
