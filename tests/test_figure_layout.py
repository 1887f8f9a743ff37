"""Figures that read right: equal panels that fit, paths in sight, honest axes, readable in both themes.

Every check reads the drawn figure back (item geometry mapped to the widget, colours of the
plot items, rendered pixels), at the window sizes the issue was seen at.
"""
from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QPointF, QRect, QRectF
from PyQt6.QtGui import QColor, QImage, QPainter

from losslab.app.figure import BACKGROUNDS, Figure
from losslab.app.session import ViewSettings, render_snapshot
from losslab.app.views import contrast_ratio, grid_columns, loss_ticks, power_of_ten
from losslab.engine.experiment import Experiment, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec
from losslab.engine.optimizers import DIVERGENCE_FACTOR

METHODS = ("gd", "sgd", "momentum", "nesterov", "rmsprop", "adam", "numerical_gd", "random_search")
POWER_OF_TEN = re.compile(r"^10[⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+$")


@lru_cache(maxsize=None)
def snapshot_of(experiment: Experiment, view: ViewSettings = ViewSettings()):
    return render_snapshot(experiment, view)


def runs(n: int) -> tuple[RunSpec, ...]:
    return tuple(RunSpec(method) for method in METHODS[:n])


def small(**fields) -> Experiment:
    return Experiment(**{"plane": PlaneSpec(resolution=32), "steps": 20} | fields)


ROSENBROCK = Experiment(problem=ProblemSpec(source="surface", kind="rosenbrock"), plane=PlaneSpec(resolution=48),
                        runs=(RunSpec("gd", hyper=(("lr", 0.001),)), RunSpec("adam", hyper=(("lr", 0.05),))),
                        start=(-1.5, 2.5), steps=60)


def figure_for(qtbot, snapshot, size=(1280, 800)) -> Figure:
    figure = Figure()
    qtbot.addWidget(figure)
    figure.resize(*size)
    figure.show()
    figure.show_snapshot(snapshot)
    settle(qtbot, figure)
    return figure


def settle(qtbot, figure: Figure) -> None:
    """Every view's turn to repaint has come (see ``Figure._repaint_in_turns``), and the loop has run after it."""
    qtbot.waitUntil(lambda: not figure._turns, timeout=5000)
    qtbot.wait(50)


def in_figure(figure: Figure, view, item) -> QRectF:
    """``item``'s rect as drawn, in the figure's pixels."""
    rect = view.viewportTransform().mapRect(item.sceneBoundingRect())
    return rect.translated(QPointF(view.viewport().mapTo(figure, QPoint(0, 0))))


def contains(outer: QRectF, inner: QRectF) -> bool:
    return outer.adjusted(-0.5, -0.5, 0.5, 0.5).contains(inner)


# --- equal panels, all of them in the figure -------------------------------------------------------

@pytest.mark.parametrize("size", [(1280, 800), (1600, 1000)])
@pytest.mark.parametrize("n", range(1, 9))
def test_panels_are_equal_and_inside_the_figure(qtbot, n, size):
    figure = figure_for(qtbot, snapshot_of(small(runs=runs(n))), size)
    grid = figure.grid
    inside = QRectF(QRect(grid.viewport().mapTo(figure, QPoint(0, 0)), grid.viewport().size())).intersected(
        QRectF(figure.rect()))
    areas = [in_figure(figure, grid, panel.vb) for panel in grid.panels]
    assert len(areas) == n
    for area in areas:
        assert contains(inside, area), f"a plot area {area} is cut off (the landscape shows {inside})"
        assert area.width() > 100 and area.height() > 60
    widths, heights = [a.width() for a in areas], [a.height() for a in areas]
    assert max(widths) - min(widths) <= 2 and max(heights) - min(heights) <= 2, (widths, heights)
    columns = grid_columns(n, 4)
    assert len({round(a.top()) for a in areas}) == -(-n // columns)  # rows of at most four
    bar = in_figure(figure, grid, grid.colorbar)
    assert grid.colorbar.isVisible() and contains(inside, bar), f"the colour bar {bar} is cut off"
    assert all(not bar.intersects(area) for area in areas)


def test_fewer_panels_fill_the_width_again(qtbot):
    """From five panels to two, without a resize: no column of the old grid is left behind."""
    figure = figure_for(qtbot, snapshot_of(small(runs=runs(5))), (1280, 800))
    figure.show_snapshot(snapshot_of(small(runs=runs(2))))
    qtbot.wait(50)
    areas = [in_figure(figure, figure.grid, panel.vb) for panel in figure.grid.panels]
    bar = in_figure(figure, figure.grid, figure.grid.colorbar)
    assert sum(a.width() for a in areas) > 0.7 * figure.width()
    assert bar.right() <= figure.width() and bar.right() > 0.9 * figure.width()


def test_panels_stay_in_the_scene_across_layouts_and_set_aside_ones_are_hidden_and_unlinked(qtbot):
    """More runs, then fewer: the panels kept are the same items, never taken out of the scene (that
    cost every panel its drawings), and laid out at once; those set aside are hidden and follow no view."""
    figure = figure_for(qtbot, snapshot_of(small(runs=runs(4))), (1280, 800))
    grid = figure.grid
    first = list(grid.panels)
    removed = []
    real = grid.scene().removeItem
    grid.scene().removeItem = lambda item: (removed.append(item), real(item))[1]
    figure.show_snapshot(snapshot_of(small(runs=runs(8))))  # no event loop: laid out already
    assert grid.panels[:4] == first and not removed
    areas = [in_figure(figure, grid, panel.vb) for panel in grid.panels]
    assert len({round(a.top()) for a in areas}) == 2 and len({round(a.height()) for a in areas}) == 1
    left = first[0].getAxis("left")
    assert left.geometry().width() > 20 and left.geometry().height() > 100  # the panels' insides too
    eight = list(grid.panels)
    figure.show_snapshot(snapshot_of(small(runs=runs(3))))
    assert grid.panels == eight[:3] and not removed
    for panel in eight[3:]:
        assert not panel.isVisible() and panel.vb.linkedView(0) is None and panel.vb.linkedView(1) is None
    assert all(panel.isVisible() for panel in grid.panels)
    assert all(panel.vb.linkedView(0) is grid.panels[0].vb for panel in grid.panels[1:])
    figure.show_snapshot(snapshot_of(small(runs=runs(5))))
    assert grid.panels == eight[:5] and all(panel.isVisible() for panel in grid.panels)
    assert all(panel.vb.linkedView(1) is grid.panels[0].vb for panel in grid.panels[1:])
    grid.panels[3].vb.setXRange(-0.3, 0.2, padding=0)  # a zoom in a panel that was set aside moves them all
    assert all(np.allclose(panel.vb.viewRange()[0], (-0.3, 0.2)) for panel in grid.panels)


def test_new_panels_are_filled_a_turn_after_their_layout_and_never_painted_empty(qtbot):
    """Laying eight panels out and drawing into them made one 30 ms block: the two are turns of their own, and
    the landscapes, held meanwhile, first repaint with every panel's surface and path in it."""
    from PyQt6.QtCore import QEvent, QObject

    figure = figure_for(qtbot, snapshot_of(small(runs=runs(4))))
    grid = figure.grid
    painted = []  # at each paint of the landscapes: how many panels had their surface and their path

    class Paints(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                painted.append(sum(p.surface.drawing is not None and len(p._lines) == 1 for p in grid.panels))
            return False

    paints = Paints()
    grid.viewport().installEventFilter(paints)
    eight = snapshot_of(small(runs=runs(8)))
    figure.show_snapshot(eight)
    assert len(grid.panels) == 8 and figure._unfilled  # laid out now, filled at the next turn
    assert sum(len(p._lines) == 1 for p in grid.panels[4:]) == 0
    settle(qtbot, figure)
    assert not figure._unfilled and painted and set(painted) == {8}
    assert [p._paths[0].label for p in grid.panels] == [t[0] for t in figure._titles()]
    painted.clear()
    figure.show_snapshot(snapshot_of(small(runs=runs(3))))  # superseded before its turn: the newer one is filled
    figure.show_snapshot(snapshot_of(small(runs=runs(5))))
    settle(qtbot, figure)
    assert len(grid.panels) == 5 and painted and set(painted) == {5}
    assert [p._paths[0].label for p in grid.panels] == [t[0] for t in figure._titles()]
    painted.clear()
    five = snapshot_of(small(runs=runs(5), objective=ObjectiveSpec(lam=0.3)))
    figure.show_snapshot(five)  # the same layout: drawn at once, its landscapes repainted by a queued call
    figure.show_snapshot(snapshot_of(small(runs=runs(2))))  # laid out before that call runs: filled first
    settle(qtbot, figure)
    assert len(grid.panels) == 2 and painted and set(painted) == {2}
    grid.viewport().removeEventFilter(paints)


def test_a_layout_then_the_same_layout_again_before_the_loop_runs_leaves_no_view_held(qtbot):
    """A snapshot laying panels out, then one with the same panels (a new view setting re-showing it) before
    the loop runs: every view repaints in its turn, and the work waiting for the turns runs."""
    from PyQt6.QtWidgets import QGraphicsView

    figure = figure_for(qtbot, snapshot_of(small(runs=runs(4))))
    eight = snapshot_of(small(runs=runs(8)))
    figure.show_snapshot(eight)
    figure.show_snapshot(eight)
    done = []
    figure.after_turns(lambda: done.append(True))
    settle(qtbot, figure)
    assert done and not figure._unfilled and all(len(p._lines) == 1 for p in figure.grid.panels)
    held = QGraphicsView.ViewportUpdateMode.NoViewportUpdate
    assert all(view.viewportUpdateMode() != held for view in (figure.grid, figure.curves, figure.data_view))


def test_snapshots_in_a_row_still_release_one_view_per_turn(qtbot):
    """Same panels, new panels, same panels again before the loop runs: the views still repaint one per
    turn of the loop (two queued turns would release two at once), the new panels filled before any."""
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QGraphicsView

    figure = figure_for(qtbot, snapshot_of(small(runs=runs(4))))
    views = [figure.grid, figure.curves, figure.data_view]
    held = QGraphicsView.ViewportUpdateMode.NoViewportUpdate
    seen = []  # at each pass of the loop: how many views are released
    ticker = QTimer()
    ticker.setInterval(0)
    ticker.timeout.connect(lambda: seen.append((sum(v.viewportUpdateMode() != held for v in views),
                                                figure._unfilled)))
    figure.show_snapshot(snapshot_of(small(runs=runs(4), objective=ObjectiveSpec(lam=0.3))))
    figure.show_snapshot(snapshot_of(small(runs=runs(6))))
    figure.show_snapshot(snapshot_of(small(runs=runs(6), objective=ObjectiveSpec(lam=0.3))))
    ticker.start()
    settle(qtbot, figure)
    ticker.stop()
    counts = [n for n, _ in seen]
    assert counts[0] <= 1 and counts[-1] == 3 and counts == sorted(counts)
    assert all(b - a <= 1 for a, b in zip(counts, counts[1:]))
    assert not any(unfilled for n, unfilled in seen if n) and all(len(p._lines) == 1 for p in figure.grid.panels)


def test_work_after_the_turns_waits_for_every_view_to_repaint_and_each_view_paints_once(qtbot):
    """What other widgets show of a snapshot (the learning rates' bounds) waits until the views have
    repainted, in a turn of its own; a view whose range moved paints once, not again for its moved items."""
    from PyQt6.QtCore import QEvent, QObject

    figure = figure_for(qtbot, snapshot_of(small(runs=runs(4))))
    events = []

    class Paints(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                events.append(watched)
            return False

    paints = Paints()
    views = {figure.grid.viewport(): "landscapes", figure.curves.viewport(): "curves"}
    for viewport in views:
        viewport.installEventFilter(paints)
    figure.after_turns(lambda: events.append("now"))  # nothing waits: at once
    assert events == ["now"]
    moved = small(runs=runs(4), objective=ObjectiveSpec(lam=0.3), plane=PlaneSpec(resolution=32, centre="optimum"))
    figure.show_snapshot(snapshot_of(moved))
    figure.after_turns(lambda: events.append("after"))
    assert events == ["now"]  # the views hold their repaints until their turns
    settle(qtbot, figure)
    order = [views.get(e, e) for e in events]
    assert order[-1] == "after" and order.count("landscapes") == 1 and order.count("curves") == 1
    assert order.index("landscapes") < order.index("curves") < order.index("after")
    for viewport in views:
        viewport.removeEventFilter(paints)


def test_long_titles_are_elided_not_widening_their_panel(qtbot):
    long = RunSpec("nesterov", hyper=(("lr", 0.0123456), ("momentum", 0.87654321)))
    figure = figure_for(qtbot, snapshot_of(small(runs=(long, RunSpec("adam"), RunSpec("gd"), RunSpec("sgd")))),
                        (900, 700))
    panels = figure.grid.panels
    widths = [in_figure(figure, figure.grid, p.vb).width() for p in panels]
    assert max(widths) - min(widths) <= 2
    title = panels[0].titleLabel
    assert "…" in title.text
    assert in_figure(figure, figure.grid, title).width() <= in_figure(figure, figure.grid, panels[0]).width()


def test_the_same_snapshot_gives_the_same_pixels(qtbot):
    snapshot = snapshot_of(replace(ROSENBROCK, runs=runs(5)), ViewSettings(log_scale=True, log_loss=True))
    images = []
    for _ in range(3):
        figure = figure_for(qtbot, snapshot, (1200, 700))
        images.append(figure.grab().toImage().convertToFormat(QImage.Format.Format_RGB32))
        figure.close()
    assert images[0] == images[1] == images[2]


# --- the paths in sight ------------------------------------------------------------------------------

FRAMED = [
    small(problem=ProblemSpec(kind="spiral"), objective=ObjectiveSpec(loss="softmax"), steps=40),
    small(plane=PlaneSpec(resolution=32, span=1.0), start=(-2.5, 2.5)),  # blobs + svm, centre at the optimum
    small(plane=PlaneSpec(kind="random", seed=3, resolution=32), runs=runs(3)),
    small(runs=(RunSpec("gd", hyper=(("lr", 50.0),)), RunSpec("gd"))),  # one run diverges
]


def test_start_optimum_and_paths_stay_in_view_across_changes(qtbot):
    figure = figure_for(qtbot, snapshot_of(small()))
    for experiment in FRAMED:  # new data, new loss, a new plane: one figure follows them all
        snapshot = snapshot_of(experiment)
        figure.show_snapshot(snapshot)
        figure.set_frame(0)
        qtbot.wait(10)
        (x0, x1), (y0, y1) = figure.grid.panels[0].vb.viewRange()

        def seen(point) -> bool:
            return x0 <= point[0] <= x1 and y0 <= point[1] <= y1

        a, b = snapshot.display.a_values, snapshot.display.b_values
        assert x0 <= a[0] and a[-1] <= x1 and y0 <= b[0] and b[-1] <= y1, "the landscape is not all in view"
        for panel, result in zip(figure.grid.panels, figure.results):
            start = panel.start.pos()
            assert panel.start.isVisible() and seen((start.x(), start.y())), "the start marker is out of view"
            if result.trajectory.status == "diverged":
                continue  # drawn leaving the view, and said so: following it would shrink every other path
            losses = np.asarray(result.trajectory.losses)
            limit = DIVERGENCE_FACTOR * max(1.0, abs(losses[0]))
            kept = [p for p, loss in zip(result.ab, losses) if np.isfinite(p).all() and abs(loss) <= limit]
            assert seen(result.ab[0]) and seen(kept[-1]), f"{experiment.problem.kind}: a path leaves the view"
            assert all(seen(p) for p in kept)


def test_the_users_zoom_is_kept_while_nothing_moves(qtbot):
    snapshot = snapshot_of(small())
    figure = figure_for(qtbot, snapshot)
    figure.grid.panels[0].setRange(xRange=(-0.5, 0.5), yRange=(-0.5, 0.5), padding=0)
    figure.show_snapshot(snapshot)  # a theme or speed change re-shows the same results
    np.testing.assert_allclose(figure.grid.panels[0].vb.viewRange(), [[-0.5, 0.5], [-0.5, 0.5]])


# --- axes that read as the numbers they are ----------------------------------------------------------

def test_a_short_loss_axis_still_gets_a_round_tick():
    """A colour bar squeezed to two ticks over [0.1, 0.4]: no multiple of 0.5 lies there, so a finer step."""
    ticks = loss_ticks(0.1, 0.4, False, 2)
    assert ticks and all(0.1 <= v <= 0.4 for v, _ in ticks)
    assert [label for _, label in ticks] == ["0.2", "0.4"]


def test_loss_ticks_are_plain_numbers_and_powers_of_ten():
    assert [label for _, label in loss_ticks(0.76, 0.94, False, 7)] == ["0.80", "0.85", "0.90"]
    log = loss_ticks(-3.2, 2.4, True, 8)
    assert [label for _, label in log] == [power_of_ten(k) for k in range(-3, 3)] == \
        ["10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹", "10²"]
    assert [v for v, _ in loss_ticks(-10, 30, True, 6)] == [-10, 0, 10, 20, 30]  # every tenth decade when crowded
    short = loss_ticks(np.log10(0.15), np.log10(7), True, 7)  # under two decades: 0.2, 0.5, 1, 2, 5
    assert [label for _, label in short] == ["0.2", "0.5", "1", "2", "5"]


def text_rects(axis) -> list[QRectF]:
    image = QImage(10, 10, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    specs = axis.generateDrawSpecs(painter)
    painter.end()
    return [rect for rect, _, _ in specs[2]]


def assert_apart(rects: list[QRectF]) -> None:
    for k, first in enumerate(rects):
        for second in rects[k + 1:]:
            assert not first.intersects(second), "tick labels overlap"


@pytest.mark.parametrize("log", [False, True])
def test_colour_bar_and_loss_axis_read_right(qtbot, log):
    view = ViewSettings(log_scale=log, log_loss=log)
    figure = figure_for(qtbot, snapshot_of(ROSENBROCK, view), (1600, 1000))
    bar = figure.grid.colorbar.axis
    curves = figure.curves.plot_item.getAxis("left")
    for axis in (bar, curves):
        assert not axis.autoSIPrefix and "(x" not in axis.labelString(), axis.labelString()
        assert_apart(text_rects(axis))
    labels = [label for _, label in bar._tickLevels[0]]
    assert len(labels) >= 3
    if log:
        assert all(POWER_OF_TEN.match(label) for label in labels), labels
        figure.curves.plot_item.setYRange(-3.2, 2.4, padding=0)  # losses from 6e-4 to 250
        values = curves.tickValues(*curves.range, curves.height())[0][1]
        strings = curves.tickStrings(values, 1.0, 1.0)
        assert len(strings) >= 3 and all(POWER_OF_TEN.match(s) for s in strings), strings
    else:
        assert all(re.fullmatch(r"-?\d+(\.\d+)?", label) for label in labels), labels
    for panel in figure.grid.panels:
        assert_apart(text_rects(panel.getAxis("left")))
        assert_apart(text_rects(panel.getAxis("bottom")))


# --- readable in both themes -------------------------------------------------------------------------

def plot_colors(figure: Figure) -> dict[str, QColor]:
    """Every text and line colour of the plots, read back from the items."""
    colors = {}
    items = {f"panel {k}": p for k, p in enumerate(figure.grid.panels)}
    items |= {"curves": figure.curves.plot_item, "data": figure.data_view.plot_item}
    for name, item in items.items():
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            colors[f"{name} {side} axis"] = axis.pen().color()
            colors[f"{name} {side} ticks"] = axis.textPen().color()
            colors[f"{name} {side} label"] = QColor(axis.labelStyle["color"])
        if item.titleLabel.text:  # the loss curves have none
            colors[f"{name} title"] = drawn_color(item.titleLabel)
    bar = figure.grid.colorbar.axis
    colors["colour bar axis"] = bar.pen().color()
    colors["colour bar ticks"] = bar.textPen().color()
    colors["colour bar label"] = QColor(bar.labelStyle["color"])
    colors["boundaries"] = figure.data_view.boundaries.opts["pen"].color()
    colors["cursor"] = figure.curves.cursor.pen.color()
    return colors


def drawn_color(label) -> QColor:
    """The colour a LabelItem's text is drawn in (its HTML), not just the colour it was told."""
    found = re.findall(r"color:\s*(#[0-9a-fA-F]{6})", label.item.toHtml())
    assert found, label.item.toHtml()
    return QColor(found[-1])


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_plot_text_and_lines_have_contrast(qtbot, theme):
    other = "dark" if theme == "light" else "light"
    figure = figure_for(qtbot, snapshot_of(small(runs=runs(3)), ViewSettings(theme=other)))
    figure.show_snapshot(snapshot_of(small(runs=runs(3)), ViewSettings(theme=theme)))  # a theme switch
    qtbot.wait(20)
    background = QColor(BACKGROUNDS[theme])
    low = {name: round(contrast_ratio(color, background), 2) for name, color in plot_colors(figure).items()
           if contrast_ratio(color, background) < 4.5}
    assert not low, f"below 4.5:1 on {theme}: {low}"
    legend = figure.curves.legend
    backdrop = legend.opts["brush"].color()
    assert backdrop.alpha() == 255, "the legend has no backdrop"
    for _, label in legend.items:
        assert contrast_ratio(drawn_color(label), backdrop) >= 4.5
    assert contrast_ratio(figure.grid.panels[0].diverged_text.color, QColor("white")) >= 4.5


def test_contrast_ratio_matches_wcag():
    assert contrast_ratio(QColor("black"), QColor("white")) == pytest.approx(21.0)
    assert contrast_ratio(QColor("#777777"), QColor("white")) == pytest.approx(4.48, abs=0.01)


# --- the legend and the data view --------------------------------------------------------------------

def test_legend_does_not_cover_the_curves(qtbot):
    figure = figure_for(qtbot, snapshot_of(replace(ROSENBROCK, runs=runs(6)), ViewSettings(log_loss=True)))
    curves = figure.curves
    legend = in_figure(figure, curves, curves.legend)
    plot = in_figure(figure, curves, curves.plot_item.vb)
    assert legend.width() > 0 and legend.left() >= plot.right() - 0.5, "the legend covers the plot area"
    assert contains(QRectF(QRect(curves.mapTo(figure, QPoint(0, 0)), curves.size())), legend), "the legend is cut off"


def test_data_view_fills_its_box_and_names_the_projection(qtbot):
    figure = figure_for(qtbot, snapshot_of(small()))
    data = figure.data_view
    assert not data.plot_item.vb.state["aspectLocked"]
    (x0, x1), (y0, y1) = data.plot_item.vb.viewRange()
    lo, hi = data._box
    np.testing.assert_allclose([x0, x1, y0, y1], [lo[0], hi[0], lo[1], hi[1]], rtol=1e-6)
    assert "PCA" not in data.title
    figure = figure_for(qtbot, snapshot_of(small(problem=ProblemSpec(source="bundled", kind="iris"))))
    assert "(PCA of the 4 features)" in figure.data_view.title


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_curve_has_an_edge_that_reads_on_the_background(qtbot, theme):
    """Run colours are data colours (Okabe–Ito, some faint on white): each curve gets an edge in the theme's
    text colour, whose blend over the background keeps 4.5:1."""
    figure = figure_for(qtbot, snapshot_of(small(runs=runs(3)), ViewSettings(theme=theme)))
    background = QColor(BACKGROUNDS[theme])
    for curve in figure.curves._curves:
        edge = curve.opts["shadowPen"].color()
        alpha = edge.alphaF()
        blended = QColor(*(round(alpha * getattr(edge, c)() + (1 - alpha) * getattr(background, c)())
                           for c in ("red", "green", "blue")))
        assert contrast_ratio(blended, background) >= 4.5


def test_a_new_region_redraws_each_panels_paths_once(qtbot, monkeypatch):
    """Linked views move each other several times for one new region: within ``held_frames`` each
    panel redraws its paths once, at the end, for the view it ends with."""
    figure = figure_for(qtbot, snapshot_of(small(runs=runs(4))))
    grid = figure.grid
    calls = []
    for panel in grid.panels:
        monkeypatch.setattr(panel, "set_frame", lambda frame, real=panel.set_frame, panel=panel:
                            calls.append(panel) or real(frame))
    with grid.held_frames():
        grid.show_region((-1.0, 1.0), (-0.5, 0.5))
        assert calls == []  # the views moved; their paths wait
    assert sorted(map(id, calls)) == sorted(map(id, grid.panels))
    for panel in grid.panels:
        drawn = [(line.xData.copy(), line.yData.copy()) for line in panel._lines]
        panel.set_frame(panel._frame)  # drawn again for the same view: the same lines
        for (x, y), line in zip(drawn, panel._lines):
            np.testing.assert_array_equal(x, line.xData)
            np.testing.assert_array_equal(y, line.yData)
    calls.clear()
    grid.show_region((-2.0, 2.0), (-1.0, 1.0))  # a user's zoom or pan: each move redraws at once
    assert len(calls) >= len(grid.panels)


def test_held_frames_nest_and_an_exception_redraws_nothing(qtbot, monkeypatch):
    figure = figure_for(qtbot, snapshot_of(small(runs=runs(2))))
    grid = figure.grid
    calls = []
    for panel in grid.panels:
        monkeypatch.setattr(panel, "set_frame", lambda frame, real=panel.set_frame: calls.append(frame) or real(frame))
    with grid.held_frames():
        with grid.held_frames():
            grid.show_region((-1.0, 1.0), (-0.5, 0.5))
        assert calls == [] and all(panel.frames_held for panel in grid.panels)  # the inner block ends with the outer
    assert len(calls) == len(grid.panels)
    calls.clear()
    with pytest.raises(RuntimeError):
        with grid.held_frames():
            grid.show_region((-2.0, 2.0), (-1.0, 1.0))
            raise RuntimeError("a snapshot that fails half-way")
    assert calls == [] and not any(panel.frames_held for panel in grid.panels)
    grid.show_region((-1.5, 1.5), (-1.0, 1.0))  # held no more: moves redraw at once
    assert calls
