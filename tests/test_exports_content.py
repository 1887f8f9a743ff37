"""What exported files show, not only that they exist: colours where the paths are, vector
files that look like the PNG, GIF palettes that keep every run's colour, sizes that scale."""
import errno
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PIL import Image, ImageSequence  # noqa: E402
from PyQt6.QtCore import QPoint, QPointF  # noqa: E402
from PyQt6.QtGui import QColor  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from losslab.app.dialogs import ExportAnimationDialog  # noqa: E402
from losslab.app.export import export_animation, export_figure, render_image  # noqa: E402
from losslab.app.figure import Figure  # noqa: E402
from losslab.app.main import render  # noqa: E402
from losslab.app.session import ViewSettings, render_snapshot  # noqa: E402
from losslab.app.views import class_color, run_color  # noqa: E402
from losslab.engine.experiment import Experiment, PlaneSpec  # noqa: E402

SIZE = (1200, 700)
# Mean |PNG − rasterized vector| per channel, 0–255. Measured: 3.5 (SVG, librsvg) and 2.5 (PDF,
# poppler); what is left is the renderers' own antialiasing and text hinting. The broken
# exports measured 32 (SVG: strokes scaled into blobs): 6 leaves room for another renderer
# version and still fails any misplaced or missing element of size.
VECTOR_TOLERANCE = 6.0
_snapshots = {}


def snapshot(steps=60):
    if steps not in _snapshots:
        _snapshots[steps] = render_snapshot(Experiment(plane=PlaneSpec(resolution=64), steps=steps), ViewSettings())
    return _snapshots[steps]


@pytest.fixture
def figure(qtbot):
    fig = Figure()
    qtbot.addWidget(fig)
    fig.resize(*SIZE)
    fig.show()
    fig.show_snapshot(snapshot())
    qtbot.waitUntil(lambda: not fig._turns, timeout=5_000)  # its panels filled and every view drawn
    fig.set_frame(fig.n_frames - 1)
    QApplication.processEvents()
    yield fig
    fig.close()


def rgb_of(image) -> np.ndarray:
    """(H, W, 3) uint8 from a QImage or a file."""
    if not isinstance(image, (str, os.PathLike)):
        image = image.convertToFormat(image.Format.Format_RGB888)
        w, h = image.width(), image.height()
        data = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), dtype=np.uint8)
        return data.reshape(h, image.bytesPerLine())[:, : w * 3].reshape(h, w, 3).copy()
    return np.asarray(Image.open(image).convert("RGB"))


def to_figure_pixels(fig, view, scene_point: QPointF) -> tuple[float, float]:
    """A scene point of ``view`` in the figure's (the splitter's) on-screen pixels."""
    local = view.mapFromScene(scene_point)
    at = view.mapTo(fig.splitter, QPoint(local.x(), local.y()))
    return at.x(), at.y()


def path_pixels(fig, scale=1.0):
    """Per landscape panel: (run colour, [(x, y) image pixels at the midpoints of the drawn path])."""
    out = []
    for panel, result in zip(fig.grid.panels, fig.results):
        ab = np.asarray(result.ab)
        mids = (ab[:-1] + ab[1:]) / 2
        # segments long enough on screen that their middle is the line, not the start or head marker
        points = []
        for (a, b), (a0, b0), (a1, b1) in zip(mids, ab[:-1], ab[1:]):
            x, y = to_figure_pixels(fig, fig.grid, panel.vb.mapViewToScene(QPointF(a, b)))
            x0, y0 = to_figure_pixels(fig, fig.grid, panel.vb.mapViewToScene(QPointF(a0, b0)))
            x1, y1 = to_figure_pixels(fig, fig.grid, panel.vb.mapViewToScene(QPointF(a1, b1)))
            if np.hypot(x1 - x0, y1 - y0) > 6:
                points.append((x * scale, y * scale))
        out.append((QColor(run_color(result.index, result.spec)).getRgb()[:3], points[:12]))
    return out


def colour_near(rgb: np.ndarray, x: float, y: float, colour, reach=2, tolerance=40) -> bool:
    """Whether a pixel within ``reach`` of (x, y) has ``colour`` (sum of |channel differences| ≤ tolerance)."""
    x, y = int(round(x)), int(round(y))
    window = rgb[max(y - reach, 0): y + reach + 1, max(x - reach, 0): x + reach + 1].astype(int)
    return bool((np.abs(window - np.array(colour)).sum(axis=2) <= tolerance).any())


def assert_paths_drawn(rgb, fig, scale=1.0):
    for colour, points in path_pixels(fig, scale):
        assert len(points) >= 3, "the test path is too short on screen to probe"
        found = [colour_near(rgb, x, y, colour, reach=max(2, round(2 * scale))) for x, y in points]
        assert np.mean(found) >= 0.9, f"run colour {colour} missing along its path: {found}"


def assert_points_drawn(rgb, fig):
    """The data view's points: their class colour at their centres (not offset, not glyphs)."""
    view = fig.data_view
    X, y = view._X2, view._y
    hits = []
    for (px, py), k in zip(X, y):
        x, yy = to_figure_pixels(fig, view, view.plot_item.vb.mapViewToScene(QPointF(px, py)))
        hits.append(colour_near(rgb, x, yy, class_color(k).getRgb()[:3], reach=1, tolerance=60))
    assert np.mean(hits) >= 0.8, f"only {np.mean(hits):.0%} of the points show their class colour"


def tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install {'librsvg2-bin' if 'rsvg' in name else 'poppler-utils'};"
                    " .ci/run installs it)")
    return path


# --- figures ------------------------------------------------------------------------------------

def test_a_render_is_a_figure_not_a_blank(figure):
    rgb = rgb_of(render_image(figure))
    assert rgb.shape == (SIZE[1], SIZE[0], 3)
    assert rgb.std() > 30 and len(np.unique(rgb.reshape(-1, 3), axis=0)) > 500


def test_the_run_colours_are_on_their_paths_and_the_points_on_theirs(figure):
    rgb = rgb_of(render_image(figure))
    assert_paths_drawn(rgb, figure)
    assert_points_drawn(rgb, figure)


def test_an_svg_rasterized_by_librsvg_looks_like_the_png(figure, tmp_path):
    rsvg = tool("rsvg-convert")
    png = rgb_of(render_image(figure))
    export_figure(figure, tmp_path / "f.svg")
    subprocess.run([rsvg, "-b", "white", "-o", str(tmp_path / "svg.png"), str(tmp_path / "f.svg")], check=True)
    svg = rgb_of(tmp_path / "svg.png")
    assert svg.shape == png.shape  # the SVG says its size in CSS pixels
    difference = np.abs(svg.astype(int) - png).mean()
    assert difference < VECTOR_TOLERANCE, f"the SVG differs from the PNG by {difference:.1f} on average"
    assert_paths_drawn(svg, figure)
    assert_points_drawn(svg, figure)
    text = (tmp_path / "f.svg").read_text()
    assert "<image" in text  # the landscape and the regions are images, as in the PNG...
    assert text.count("<image") <= 6  # ...and nothing else is (no cached bitmaps, no point atlas, curves as lines)


def test_a_pdf_rasterized_by_poppler_looks_like_the_png(figure, tmp_path):
    pdftoppm = tool("pdftoppm")
    png = rgb_of(render_image(figure))
    export_figure(figure, tmp_path / "f.pdf")
    subprocess.run([pdftoppm, "-r", "96", "-png", "-singlefile", str(tmp_path / "f.pdf"), str(tmp_path / "pdf")],
                   check=True)
    pdf = rgb_of(tmp_path / "pdf.png")
    assert pdf.shape == png.shape  # CSS pixels: 96 to the inch
    difference = np.abs(pdf.astype(int) - png).mean()
    assert difference < VECTOR_TOLERANCE, f"the PDF differs from the PNG by {difference:.1f} on average"
    assert_paths_drawn(pdf, figure)
    assert_points_drawn(pdf, figure)


def test_a_larger_png_is_the_same_figure_scaled(figure):
    small = rgb_of(render_image(figure, (1500, 875)))
    large = rgb_of(render_image(figure, (3000, 1750)))
    assert_paths_drawn(large, figure, scale=2.5)  # on-screen 1200 → 3000

    def legend_rows(rgb, scale):
        """Rows inside the legend's frame (its text and line samples) that hold anything but the background."""
        rect = figure.curves.legend.sceneBoundingRect().adjusted(3, 3, -3, -3)  # inside any frame it has
        x0, y0 = to_figure_pixels(figure, figure.curves, rect.topLeft())
        x1, y1 = to_figure_pixels(figure, figure.curves, rect.bottomRight())
        crop = rgb[round(y0 * scale): round(y1 * scale), round(x0 * scale): round(x1 * scale)].astype(int)
        background = np.median(crop.reshape(-1, 3), axis=0)
        ink = np.abs(crop - background).sum(axis=2) > 150  # text and lines, not the faint grid behind
        return int(ink.any(axis=1).sum())

    rows_small, rows_large = legend_rows(small, 1500 / SIZE[0]), legend_rows(large, 3000 / SIZE[0])
    assert rows_small > 10
    assert 1.8 <= rows_large / rows_small <= 2.2, f"legend rows {rows_small} at 1500 px, {rows_large} at 3000 px"

    def run_ink(rgb, scale):
        """Pixels of the first run's colour around its head marker: the marker and the line's end."""
        result = figure.results[0]
        colour = np.array(QColor(run_color(result.index, result.spec)).getRgb()[:3])
        x, y = to_figure_pixels(figure, figure.grid, figure.grid.panels[0].vb.mapViewToScene(QPointF(*result.ab[-1])))
        r = 14 * scale
        crop = rgb[int(y * scale - r): int(y * scale + r), int(x * scale - r): int(x * scale + r)].astype(int)
        return int((np.abs(crop - colour).sum(axis=2) <= 40).sum())

    # twice as wide and tall: markers and line widths too, four times the area (at screen size: 1–2×)
    ratio = run_ink(large, 3000 / SIZE[0]) / run_ink(small, 1500 / SIZE[0])
    assert 3.2 <= ratio <= 4.8, f"the head marker and line cover {ratio:.1f}× the pixels at twice the size"


def test_a_wide_render_is_the_narrow_one_sharper(tmp_path):
    render("svm-slice", str(tmp_path / "narrow.png"), size=(1500, 850))
    render("svm-slice", str(tmp_path / "wide.png"), size=(3000, 1700))
    narrow = rgb_of(tmp_path / "narrow.png").astype(int)
    wide = Image.open(tmp_path / "wide.png").convert("RGB")
    assert wide.size == (3000, 1700)
    halved = np.asarray(wide.resize((1500, 850), Image.Resampling.BOX)).astype(int)
    # the same layout (a 3000 px layout would put every tick and letter elsewhere): only the
    # antialiasing differs; measured 2–3
    difference = np.abs(halved - narrow).mean()
    assert difference < 6, f"the halved 3000 px render differs from the 1500 px one by {difference:.1f}"


# --- animations ---------------------------------------------------------------------------------

def test_every_gif_frame_has_every_run_colour_exactly(figure, tmp_path):
    export_animation(figure, tmp_path / "a.gif", stride=3, size=(600, 350))
    colours = [QColor(run_color(r.index, r.spec)).getRgb()[:3] for r in figure.results]
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == len(range(0, figure.n_frames, 3))
        for k, frame in enumerate(ImageSequence.Iterator(gif)):
            pixels = np.asarray(frame.convert("RGB")).reshape(-1, 3)
            present = {tuple(c) for c in np.unique(pixels, axis=0)}
            missing = [c for c in colours if c not in present]
            assert not missing, f"frame {k} lacks the run colours {missing}"


def test_the_default_animations_are_small(qtbot, tmp_path):
    # the command's default
    render("svm-slice", str(tmp_path / "cli.gif"))
    assert os.path.getsize(tmp_path / "cli.gif") < 8e6
    with Image.open(tmp_path / "cli.gif") as gif:
        assert gif.size == (1200, 675) and gif.n_frames > 100
    # the window's default: its dialog's choice for a figure as large as a big window shows it
    fig = Figure()
    qtbot.addWidget(fig)
    fig.resize(1800, 1000)
    fig.show()
    fig.show_snapshot(snapshot(150))
    QApplication.processEvents()
    dialog = ExportAnimationDialog(fig)
    choice = dialog.choice()
    dialog.deleteLater()
    export_animation(fig, tmp_path / "window.gif", fps=choice["fps"], stride=choice["stride"], size=choice["size"],
                     part=choice["part"])
    assert os.path.getsize(tmp_path / "window.gif") < 8e6
    fig.close()


# --- refusals -----------------------------------------------------------------------------------

def test_a_read_only_folder_names_the_users_file(figure, tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, *args, **kwargs):  # a read-only file system refuses every new file
        if str(path).endswith(".part"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    for name in ("landscape.npz", "figure.png", "figure.svg"):
        target = tmp_path / name
        with pytest.raises(OSError) as caught:
            export_figure(figure, target, fmt="png" if name.endswith("npz") else None)
        message = str(caught.value)
        assert message == f"cannot write {target}: the folder is on a read-only file system"
        assert caught.value.errno == errno.EROFS and ".part" not in message and "Errno" not in message
    assert not any(p.name.endswith(".part") for p in tmp_path.iterdir())


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_folder_without_write_permission_names_the_users_file(figure, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match=r"^cannot write .*locked/f\.png: the folder is read-only"):
            export_figure(figure, folder / "f.png")
    finally:
        folder.chmod(0o755)


def test_a_negative_frame_is_refused(tmp_path):
    result = subprocess.run([sys.executable, "-m", "losslab", "render", "svm-slice", "-o", str(tmp_path / "f.png"),
                             "--frame", "-5"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and not (tmp_path / "f.png").exists()
    assert len(result.stderr.strip().splitlines()) == 1 and "frame must be 0 or more" in result.stderr
    with pytest.raises(ValueError, match="frame must be 0 or more"):
        render("svm-slice", str(tmp_path / "f.png"), frame=-5)


def test_a_path_leaving_its_panel_stays_inside_it_in_an_svg(qtbot, tmp_path):
    """Qt's SVG has no clipping: a diverged path is cut at its panel's edge, not drawn across the others."""
    rsvg = tool("rsvg-convert")
    from losslab.io.session_file import load_session, resolve_session
    from losslab.app.session import view_from_dict

    experiment, view, _ = load_session(resolve_session("learning-rate-too-high"))
    fig = Figure()
    qtbot.addWidget(fig)
    fig.resize(*SIZE)
    fig.show()
    fig.show_snapshot(render_snapshot(experiment, view_from_dict(view)))
    QApplication.processEvents()
    fig.set_frame(fig.n_frames - 1)
    QApplication.processEvents()
    png = rgb_of(render_image(fig))
    export_figure(fig, tmp_path / "f.svg")
    subprocess.run([rsvg, "-b", "white", "-o", str(tmp_path / "svg.png"), str(tmp_path / "f.svg")], check=True)
    svg = rgb_of(tmp_path / "svg.png")
    # outside the landscape panels' plot areas (the axes, the colour bar, the gaps) the two agree
    outside = np.ones(png.shape[:2], dtype=bool)
    for panel in fig.grid.panels:
        top_left = to_figure_pixels(fig, fig.grid, panel.vb.sceneBoundingRect().topLeft())
        bottom_right = to_figure_pixels(fig, fig.grid, panel.vb.sceneBoundingRect().bottomRight())
        outside[int(top_left[1]):int(bottom_right[1]) + 1, int(top_left[0]):int(bottom_right[0]) + 1] = False
    grid_rows = int(to_figure_pixels(fig, fig.grid, fig.grid.sceneRect().bottomLeft())[1])
    outside[grid_rows:] = False  # only the landscapes' part of the figure
    diverged = fig.results[3]
    assert diverged.trajectory.status == "diverged"
    pink = np.array(QColor(run_color(diverged.index, diverged.spec)).getRgb()[:3])
    def pinkish(rgb):
        return np.abs(rgb.astype(int) - pink).max(axis=2) < 40

    stray = pinkish(svg) & ~pinkish(png) & outside  # the title's dot is pink in both: only the path counts
    assert pinkish(png)[~outside].sum() > 30  # the path is there, inside its panel
    assert stray.sum() < 30, f"{stray.sum()} pixels of the diverged path outside its panel in the SVG"
    assert np.abs(svg.astype(int) - png)[outside].mean() < VECTOR_TOLERANCE


def test_the_data_views_regions_wait_for_its_turn_and_an_export_draws_them_first(qtbot, figure, tmp_path):
    """A new snapshot's decision regions are drawn at the data view's turn to repaint (after the
    landscapes); an export made before that turn draws them first."""
    view = figure.data_view
    first = snapshot()
    experiment = first.computed.experiment
    other = render_snapshot(replace(experiment, objective=replace(experiment.objective, lam=3.0)), ViewSettings())
    before = view.regions.image.copy()
    figure.show_snapshot(other)  # no event loop yet: the landscapes repaint first
    assert view._due is not None and np.array_equal(view.regions.image, before)
    export_figure(figure, tmp_path / "now.png")
    assert view._due is None
    model, result = other.computed.problem.model, figure.data_result()
    theta = result.thetas[min(figure.frame, len(result.thetas) - 1)]
    expected = np.argmax(model.scores(theta, view.grid_points), axis=1).reshape(view.GRID, view.GRID)
    assert np.array_equal(view._predicted, expected) and not np.array_equal(view.regions.image, before)
    figure.show_snapshot(first)  # and at its turn, without any export
    assert view._due is not None
    qtbot.waitUntil(lambda: view._due is None, timeout=5_000)
    np.testing.assert_array_equal(view.regions.image, before)


def test_the_loss_curves_wait_for_their_turn_and_an_export_draws_them_first_in_place(qtbot, figure):
    """A new snapshot's loss curves and legend are made at the curves' turn to repaint; an export made
    before that turn draws them first, laid out: the same picture as once every turn has passed."""
    from losslab.engine.experiment import RunSpec

    experiment = snapshot().computed.experiment
    two = render_snapshot(replace(experiment, runs=(RunSpec("gd"), RunSpec("adam"))), ViewSettings())
    curves = figure.curves
    figure.show_snapshot(two)  # no event loop yet: new panels are laid out, filled and repainted in later turns
    assert figure._unfilled and len(curves._curves) == len(experiment.runs)
    early = rgb_of(render_image(figure))
    assert curves._due is None and not figure._unfilled
    assert [label.text for _, label in curves.legend.items] == ["Gradient descent", "Adam"]
    figure.show_snapshot(snapshot())
    figure.show_snapshot(two)
    qtbot.waitUntil(lambda: curves._due is None and not figure._turns, timeout=5_000)
    qtbot.wait(50)
    np.testing.assert_array_equal(early, rgb_of(render_image(figure)))


def test_the_loss_curves_keep_the_items_of_runs_that_keep_their_place(qtbot):
    """Runs added after the others keep the others' curves, dots and legend entries (8 new ones cost 5-8 ms)."""
    from losslab.app.views import LossCurves

    curves = LossCurves()
    qtbot.addWidget(curves)
    x = np.arange(5.0)
    runs = [(f"run {k}", run_color(k, None), x, np.linspace(2, 1, 5) + k, "completed") for k in range(4)]
    curves.set_runs(runs[:2], "step", False)
    kept = list(curves._curves)
    curves.set_runs(runs, "step", False)
    assert curves._curves[:2] == kept and len(curves._curves) == len(curves._dots) == 4
    assert [label.text for _, label in curves.legend.items] == [f"run {k}" for k in range(4)]
    renamed = runs[:1] + [("other", run_color(5, None), x, x, "completed")] + runs[2:3]
    curves.set_runs(renamed, "step", False)
    assert curves._curves[0] is kept[0] and curves._curves[1] is not kept[1]
    assert [label.text for _, label in curves.legend.items] == ["run 0", "other", "run 2"]
    assert len([i for i in curves.plot_item.items if i in curves._curves]) == 3  # the others are gone from the plot
    assert len(curves.plot_item.items) == len(set(curves.plot_item.items))


def test_a_new_snapshots_views_repaint_one_per_turn_of_the_loop_landscapes_first(qtbot, figure):
    """The commit's block and each view's repaint are apart: one view's updates are released per turn
    of the loop, landscapes first; a snapshot arriving meanwhile does not start a second round. The
    landscapes repaint right after a commit (a queued call, delivered with it), unless the commit laid
    panels out: then the panels are filled at the loop's next turn, and the views repaint one per turn
    after it, by a timer."""
    from losslab.engine.experiment import RunSpec
    from PyQt6.QtWidgets import QGraphicsView

    held = QGraphicsView.ViewportUpdateMode.NoViewportUpdate
    views = [figure.grid, figure.curves, figure.data_view]
    released = []
    figure._turn.timeout.connect(lambda: released.append([v.viewportUpdateMode() != held for v in views]))
    figure.show_snapshot(snapshot())
    figure.show_snapshot(snapshot())
    assert [v.viewportUpdateMode() == held for v in views] == [True, True, True]
    QApplication.sendPostedEvents()  # the commit's block goes on: the landscapes repaint in it
    assert [v.viewportUpdateMode() != held for v in views] == [True, False, False] and not released
    qtbot.wait(100)
    assert released == [[True, True, False], [True, True, True]]
    assert all(v.viewportUpdateMode() == QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate for v in views)

    experiment = snapshot().computed.experiment
    figure.show_snapshot(render_snapshot(replace(experiment, runs=experiment.runs[:2] + (RunSpec("adam"),)),
                                         ViewSettings()))  # new panels laid out
    QApplication.sendPostedEvents()
    assert [v.viewportUpdateMode() == held for v in views] == [True, True, True]  # not in the commit's block
    released.clear()
    qtbot.wait(100)
    assert released == [[False, False, False], [True, False, False], [True, True, False], [True, True, True]]


def test_a_failing_flush_leaves_no_view_held(qtbot, figure, monkeypatch):
    """Whatever the data view's regions raise at its turn, every view gets its repaints back."""
    from PyQt6.QtWidgets import QGraphicsView

    calls = []

    def broken():
        calls.append(1)
        raise RuntimeError("a decision function that fails")

    monkeypatch.setattr(figure.data_view, "flush", broken)
    figure.show_snapshot(snapshot())
    with qtbot.capture_exceptions() as raised:
        qtbot.wait(100)
    assert calls and all(isinstance(e[1], RuntimeError) for e in raised)
    monkeypatch.undo()
    figure.show_snapshot(snapshot())
    qtbot.wait(100)
    minimal = QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate
    assert [v.viewportUpdateMode() for v in (figure.grid, figure.curves, figure.data_view)] == [minimal] * 3
