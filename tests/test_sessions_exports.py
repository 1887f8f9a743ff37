"""Session files, presets, exports and headless rendering."""
import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import asdict, replace

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QSettings  # noqa: E402
from PyQt6.QtGui import QImage  # noqa: E402
from PyQt6.QtWidgets import QMessageBox  # noqa: E402

from losslab.app.export import ExportCancelled, export_animation, export_figure  # noqa: E402
from losslab.app.session import Session, ViewSettings, view_from_dict  # noqa: E402
from losslab.app.window import MainWindow  # noqa: E402
from losslab.engine.experiment import (Experiment, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec,  # noqa: E402
                                       build_problem, run_all)
from losslab.io.exports import trajectory_columns  # noqa: E402
from losslab.io.session_file import (SessionError, dumps, list_presets, load_session, loads,  # noqa: E402
                                     resolve_session, save_session)

SMALL = Experiment(plane=PlaneSpec(resolution=32), steps=40)


def idle(qtbot, window, timeout=30_000):
    qtbot.waitUntil(lambda: not window.session.jobs.busy and bool(window.results)
                    and window.session.landscape is not None and window.grid._surface is not None, timeout=timeout)


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(Session(SMALL), settings=settings)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    idle(qtbot, win)
    yield win
    win.close()


@pytest.fixture
def warnings(monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *rest: shown.append(text))
    return shown


# --- session files --------------------------------------------------------------------------

def test_save_open_save_gives_the_same_file_and_trajectories(tmp_path):
    experiment = replace(SMALL, objective=ObjectiveSpec(loss="softmax", reg="elastic_net", lam=0.03, beta=0.2),
                         runs=(RunSpec("adam", (("lr", 0.05), ("batch_size", 16)), seed=3), RunSpec("gd", enabled=False)),
                         start=(-1.25, 0.5))
    view = asdict(ViewSettings(layout="overlay", log_scale=True))
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    save_session(first, experiment, view, title="round trip")
    loaded, loaded_view, info = load_session(first)
    save_session(second, loaded, loaded_view, title=info["title"])
    assert first.read_text() == second.read_text()
    assert loaded == replace(experiment, runs=loaded.runs)
    assert view_from_dict(loaded_view) == ViewSettings(layout="overlay", log_scale=True)  # JSON lists come back
    problem = build_problem(loaded)
    _, again = run_all(loaded, problem)
    _, before = run_all(experiment, build_problem(experiment))
    for a, b in zip(again, before):
        np.testing.assert_array_equal(a.thetas, b.thetas)


def test_session_files_are_readable_json():
    data = json.loads(dumps(SMALL, {"layout": "side"}))
    assert data["format"] == "losslab-session" and data["version"] == 1
    assert data["experiment"]["runs"][0] == {"method": "random_search", "hyper": {}, "seed": 0, "enabled": True}
    assert data["experiment"]["start"] == [-2.0, 2.0]


GOOD = json.loads(dumps(SMALL, {}))


def edited(path, value):
    data = json.loads(json.dumps(GOOD))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(data)


@pytest.mark.parametrize("text, message", [
    (dumps(SMALL, {})[:200], "not valid JSON .*truncated or corrupt"),
    ("\x00\x01garbage", "not valid JSON"),
    ("[1, 2]", "the file must be an object"),
    (json.dumps({"format": "something-else", "version": 1}), "not a losslab session"),
    (edited(("version",), 99), "newer losslab .*version 99"),
    (edited(("version",), "1"), "version must be a whole number"),
    (edited(("experiment", "steps"), "ten"), "experiment.steps must be a whole number"),
    (edited(("experiment", "plane", "spna"), 2.0), "experiment.plane.spna is not a known field"),
    (edited(("experiment", "objective", "lam"), [1]), "experiment.objective.lam must be a number"),
    (edited(("experiment", "objective", "lam"), -1), "lam must be >= 0"),
    (edited(("experiment", "runs"), {"method": "gd"}), "experiment.runs must be a list"),
    (edited(("experiment", "runs"), [{"method": "gd", "hyper": {"lr": "fast"}}]), r"lr must be a number"),
    (edited(("experiment", "runs"), [{"method": "gd", "speed": 1}]), r"experiment.runs\[0\].speed is not a known field"),
    (edited(("experiment", "start"), [1]), "experiment.start must be a list of two numbers"),
    (edited(("experiment", "problem", "standardize"), "yes"), "experiment.problem.standardize must be true or false"),
    (edited(("mood",), "happy"), "mood is not a known field"),
])
def test_bad_session_files_are_named(text, message):
    with pytest.raises(SessionError, match=message):
        loads(text, "bad.json")


def test_bad_view_settings_are_named():
    with pytest.raises(SessionError, match="view.zoom is not a known field"):
        view_from_dict({"zoom": 2})
    with pytest.raises(SessionError, match="view.layout must be one of"):
        view_from_dict({"layout": "grid"})
    with pytest.raises(SessionError, match="view.log_scale must be true or false"):
        view_from_dict({"log_scale": 1})


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(SessionError, match="cannot read the file"):
        load_session(tmp_path / "missing.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x81")
    with pytest.raises(SessionError, match="not a text file"):
        load_session(binary)


@pytest.mark.parametrize("text", [dumps(SMALL, {})[:150], edited(("version",), 2), edited(("experiment", "steps"), "x"),
                                  edited(("view", "layout"), "grid")])
def test_a_bad_file_leaves_the_window_as_it_was(qtbot, window, warnings, tmp_path, text):
    before = window.session.experiment, window.session.view, window.results
    path = tmp_path / "bad.json"
    path.write_text(text)
    assert not window.open_session(path)
    assert len(warnings) == 1 and "bad.json" in warnings[0]
    assert (window.session.experiment, window.session.view, window.results) == before


def test_a_session_that_cannot_be_built_goes_back(qtbot, window, warnings, tmp_path):
    path = tmp_path / "missing-data.json"
    save_session(path, replace(SMALL, problem=ProblemSpec(source="csv", path=str(tmp_path / "gone.csv"))), {"layout": "overlay"})
    before = window.session.experiment, window.session.view
    with qtbot.waitSignal(window.session.failed, timeout=20_000) as blocker:
        window.open_session(path)
    assert "gone.csv" in blocker.args[0] and "cannot read the file" in blocker.args[0]
    assert (window.session.experiment, window.session.view) == before


def test_presets_all_load_and_resolve_by_name():
    presets = list_presets()
    assert len(presets) >= 6
    for name, title, path in presets:
        experiment, view, info = load_session(path)
        view_from_dict(view)
        assert title == info["title"] and info["description"]
        assert resolve_session(name) == path == resolve_session(name.split("-", 1)[1])
    with pytest.raises(SessionError, match="no preset of that name"):
        resolve_session("no-such-preset")


def test_window_opens_a_preset_and_remembers_recent_files(qtbot, window, tmp_path):
    name, title, path = [p for p in list_presets() if "rosenbrock" in p[0]][0]
    assert window.open_session(path)
    idle(qtbot, window)
    assert window.session.problem.is_surface and len(window.grid.panels) == 5
    saved = tmp_path / "mine.json"
    window.save_session(saved)
    window.files.remember_recent(str(saved))
    assert window.settings.value("files/recent", [], type=list)[0] == str(saved)
    assert load_session(saved)[0] == window.session.experiment


# --- exports --------------------------------------------------------------------------------

def test_png_export_has_the_asked_size(window, tmp_path):
    export_figure(window.figure, tmp_path / "f.png", size=(900, 500))
    image = QImage(str(tmp_path / "f.png"))
    assert (image.width(), image.height()) == (900, 500)
    export_figure(window.figure, tmp_path / "p.png", part="panel:2", size=(400, 300))
    assert QImage(str(tmp_path / "p.png")).size().width() == 400


def test_svg_and_pdf_exports(window, tmp_path):
    export_figure(window.figure, tmp_path / "f.svg")
    root = ET.parse(tmp_path / "f.svg").getroot()
    assert root.tag.endswith("svg")
    export_figure(window.figure, tmp_path / "f.pdf", part="curves")
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")


def test_gif_export_frames_and_size(window, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    export_animation(window.figure, tmp_path / "a.gif", stride=10, size=(320, 200))
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.size == (320, 200) and gif.n_frames == 5  # steps 0, 10, 20, 30, 40


def test_mp4_export_decodes(window, tmp_path):
    av = pytest.importorskip("av")
    export_animation(window.figure, tmp_path / "a.mp4", stride=8, size=(321, 201))
    with av.open(str(tmp_path / "a.mp4")) as video:
        frames = list(video.decode(video=0))
    assert len(frames) == 6 and (frames[0].width, frames[0].height) == (320, 200)


def test_a_cancelled_animation_writes_nothing_and_keeps_the_old_file(window, tmp_path):
    target = tmp_path / "a.gif"
    target.write_bytes(b"old")
    with pytest.raises(ExportCancelled):
        export_animation(window.figure, target, stride=5, size=(160, 100), progress=lambda done, total: done < 3)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.gif"]  # no temporary file left
    assert window.clock.frame == 0


def test_trajectory_csv_matches_the_runs(window, tmp_path):
    path = tmp_path / "t.csv"
    window.export_trajectories(str(path))
    with open(path) as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header[:8] == ["run", "method", "step", "cost", "loss", "a", "b", "residual"]
    assert header[8:] == ["W[0,0]", "W[0,1]", "W[0,2]", "W[1,0]", "W[1,1]", "W[1,2]", "b[0]", "b[1]", "b[2]"]
    assert len(body) == sum(len(r.thetas) for r in window.results)
    gd = [row for row in body if row[1] == "gd"]
    result = window.results[2]
    np.testing.assert_array_equal([float(r[4]) for r in gd], result.trajectory.losses)
    np.testing.assert_array_equal([[float(v) for v in r[8:]] for r in gd], result.thetas)


def test_trajectory_and_landscape_npz(window, tmp_path):
    window.export_trajectories(str(tmp_path / "t.npz"))
    with np.load(tmp_path / "t.npz") as data:
        np.testing.assert_array_equal(data["run3_thetas"], window.results[2].thetas)
        assert str(data["run3_method"]) == "gd"
    window.export_landscape(str(tmp_path / "l.npz"))
    with np.load(tmp_path / "l.npz") as data:
        np.testing.assert_array_equal(data["total"], window.session.landscape.part("total"))
    window.export_landscape(str(tmp_path / "l.csv"))
    columns = trajectory_columns(window.results, window.session.problem.shape)
    assert len(columns["step"]) == sum(len(r.thetas) for r in window.results)
    with open(tmp_path / "l.csv") as f:
        assert sum(1 for _ in f) == 1 + 32 * 32


def test_export_to_a_missing_folder_is_named(window, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_figure(window.figure, tmp_path / "nowhere" / "f.png")


# --- the command line -------------------------------------------------------------------------

def losslab(*args, env_dir):
    env = dict(os.environ, XDG_CONFIG_HOME=str(env_dir))
    return subprocess.run([sys.executable, "-m", "losslab", *args], capture_output=True, text=True, timeout=300,
                          env=env)


@pytest.mark.parametrize("preset", [name for name, _, _ in list_presets()])
def test_cli_renders_every_preset(tmp_path, preset):
    out = tmp_path / f"{preset}.png"
    result = losslab("render", preset, "-o", str(out), "--size", "800x500", env_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (800, 500)


def test_cli_formats_and_overwrite(tmp_path):
    out = tmp_path / "r.csv"
    assert losslab("render", "svm-slice", "-o", str(out), env_dir=tmp_path).returncode == 0
    again = losslab("render", "svm-slice", "-o", str(out), env_dir=tmp_path)
    assert again.returncode != 0 and "already exists (use --force" in again.stderr
    assert losslab("render", "svm-slice", "-o", str(out), "--force", "--frame", "3", env_dir=tmp_path).returncode == 0
    config = tmp_path / "c.json"
    assert losslab("render", "svm-slice", "-o", str(config), env_dir=tmp_path).returncode == 0
    assert load_session(config)[0] == load_session(resolve_session("svm-slice"))[0]


@pytest.mark.parametrize("args, message", [
    (["render", "no-such", "-o", "x.png"], "no preset of that name"),
    (["render", "svm-slice", "-o", "x.bmp"], "unknown format 'bmp'"),
    (["render", "svm-slice", "-o", "x.png", "--size", "big"], "size must look like"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    result = losslab(*args, env_dir=tmp_path)
    assert result.returncode != 0 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_export_menus_write_the_chosen_files_and_remember_the_folder(window, tmp_path, monkeypatch):
    from PyQt6.QtWidgets import QDialog, QFileDialog

    from losslab.app.dialogs import ExportAnimationDialog, ExportFigureDialog

    chosen = {}
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(chosen["path"]), ""))

    def accept_with(fmt, width):
        def exec_(dialog):
            dialog.format.setCurrentIndex(dialog.format.findData(fmt))
            dialog.width.setValue(width)  # the height follows, keeping the proportions
            return QDialog.DialogCode.Accepted
        return exec_

    chosen["path"] = tmp_path / "menu.svg"
    monkeypatch.setattr(ExportFigureDialog, "exec", accept_with("svg", 640))
    window.export_figure_dialog()
    assert ET.parse(chosen["path"]).getroot().attrib["width"] == "640px"  # the layout scaled to 640 px
    assert window.settings.value("files/folder") == str(tmp_path)

    Image = pytest.importorskip("PIL.Image")
    chosen["path"] = tmp_path / "menu.gif"
    monkeypatch.setattr(ExportAnimationDialog, "exec", accept_with("gif", 300))
    window.export_animation_dialog()
    with Image.open(chosen["path"]) as gif:
        assert gif.size[0] == 300 and gif.n_frames == 41  # 40 steps: every frame
    assert "Saved" in window.message_label.text()


def test_render_size_is_the_figure_size_and_formats_are_honoured(tmp_path):
    out = tmp_path / "fig.png"
    assert losslab("render", "svm-slice", "-o", str(out), "--size", "900x500", env_dir=tmp_path).returncode == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (900, 500)
    npz_named_csv = tmp_path / "t.npz"
    assert losslab("render", "svm-slice", "-o", str(npz_named_csv), "--format", "csv", env_dir=tmp_path).returncode == 0
    assert npz_named_csv.read_text().startswith("run,method,step,")


def test_saved_sessions_keep_csv_paths_relative_and_files_readable(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "data.csv").write_text("x,y,label\n" + "\n".join(f"{i},{-i},{i % 2}" for i in range(20)) + "\n")
    experiment = replace(SMALL, problem=ProblemSpec(source="csv", path=str(folder / "data.csv")))
    save_session(folder / "s.json", experiment, {})
    assert json.loads((folder / "s.json").read_text())["experiment"]["problem"]["path"] == "data.csv"
    moved = tmp_path / "moved"
    folder.rename(moved)
    loaded, _, _ = load_session(moved / "s.json")
    assert loaded.problem.path == str((moved / "data.csv").resolve())
    assert (moved / "s.json").stat().st_mode & 0o044  # readable by others, as any new file under the umask
