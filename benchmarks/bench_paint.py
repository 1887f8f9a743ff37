"""What the heaviest repaints cost the GUI thread: its CPU time, so a busy machine does not blur it.

- the loss curves, eight runs of 1000 steps in a 1500×300 view: the repaint after new losses
  (λ moved) and the repaint of an animation frame (the dots move over the curves);
- the landscape grid, eight panels over one 512² surface with 1000-step paths in 1200×800:
  the repaint after a new surface and paths, and the repaint of an animation frame.

Each is measured twice in one run: with wide lines drawn as thin ones (``app/raster.py``, what
the window does) and with Qt's own wide pens, and the ratio printed. Asserts nothing.

    .venv/bin/python benchmarks/bench_paint.py
"""
from __future__ import annotations

import os
import statistics
import time
from types import SimpleNamespace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from losslab.app import raster  # noqa: E402
from losslab.app.views import LandscapeGrid, LossCurves, PathData  # noqa: E402
from losslab.engine.contours import contour_segments  # noqa: E402

RUNS = 8


def cpu_ms(paint) -> float:
    start = time.thread_time()
    paint()
    return (time.thread_time() - start) * 1e3


def loss_curves(app: QApplication) -> tuple[float, float]:
    """(ms for a repaint after new losses, ms for a repaint of an animation frame)."""
    view = LossCurves()
    view.resize(1500, 300)
    view.show()
    app.processEvents()
    x = np.arange(1001.0)
    rng = np.random.default_rng(0)

    def runs(scale: float):
        return [(f"run {k}", pg.intColor(k).name(), x,
                 scale * np.exp(-x / (100 + 40 * k)) + 0.1 + 0.01 * (k % 2) * rng.random(x.size), "completed")
                for k in range(RUNS)]

    change, frame = [], []
    for k in range(12):
        view.set_runs(runs(1 + 0.1 * k), "step", False)
        view.set_frame(500)
        app.processEvents()  # the axes follow the new losses
        view.set_runs(runs(1.05 + 0.1 * k), "step", False)
        change.append(cpu_ms(lambda: view.viewport().repaint()))
        for f in range(5):
            view.set_frame(500 + 3 * f)
            frame.append(cpu_ms(lambda: view.viewport().repaint()))
    view.close()
    return statistics.median(change), statistics.median(frame)


def landscape_grid(app: QApplication) -> tuple[float, float]:
    """(ms for a repaint after a new surface and paths, ms for a repaint of an animation frame)."""
    n = 512
    a = b = np.linspace(-3, 3, n)
    A, B = np.meshgrid(a, b)
    values = np.log1p(A ** 2 + 3 * B ** 2 + np.sin(3 * A))
    lut = pg.colormap.get("viridis").getLookupTable(nPts=256, alpha=True)
    rgba = lut[((values - values.min()) / np.ptp(values) * 255).astype(int)]
    levels = np.linspace(values.min(), values.max(), 22)[1:-1]
    isolines = np.concatenate([contour_segments(values, a, b, level) for level in levels])

    def display(shift: int):
        return SimpleNamespace(rgba=np.roll(rgba, shift, axis=0), a_values=a, b_values=b, isolines=isolines,
                               levels=(float(values.min()), float(values.max())), label="loss", values=values)

    t = np.linspace(0, 1, 1001)[:, None]

    def paths(s: float):
        return [[PathData(f"r{k}", f"r{k}", pg.intColor(k).name(),
                          np.hstack([2.5 * np.cos(6 * t + k + s) * (1 - t), 2.5 * np.sin(5 * t + k) * (1 - t)]))]
                for k in range(RUNS)]

    grid = LandscapeGrid()
    grid.resize(1200, 800)
    grid.show()
    grid.set_layout([f"run {k}" for k in range(RUNS)], ("a", "b"))
    grid.set_surface(display(0), "viridis", reset_view=True)
    app.processEvents()
    change, frame = [], []
    for k in range(8):
        grid.set_surface(display(k + 1), "viridis", reset_view=False)
        grid.set_paths(paths(0.1 * k), (0.0, 0.0))
        grid.set_frame(1000)
        change.append(cpu_ms(lambda: grid.viewport().repaint()))
        for f in range(5):
            grid.set_frame(600 + f)
            frame.append(cpu_ms(lambda: grid.viewport().repaint()))
    grid.close()
    return statistics.median(change), statistics.median(frame)


def main() -> None:
    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    app = QApplication([])
    print(f"platform: {app.platformName()}; GUI-thread CPU ms per repaint, median")
    thin = raster.THIN
    for name, measure in (("loss curves, 8 × 1000 steps", loss_curves),
                          ("landscapes, 8 panels × 512², 1000-step paths", landscape_grid)):
        raster.THIN = float("inf")  # every pen as Qt strokes it
        qt_change, qt_frame = measure(app)
        raster.THIN = thin
        change, frame = measure(app)
        print(f"{name:46s} new results {change:6.1f} ms (Qt's wide pens {qt_change:6.1f}: ×{qt_change / change:.1f})"
              f"   a frame {frame:6.1f} ms (Qt's wide pens {qt_frame:6.1f}: ×{qt_frame / frame:.1f})")


if __name__ == "__main__":
    main()
