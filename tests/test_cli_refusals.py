"""``losslab render`` and ``losslab --open`` never draw something else than what was asked.

Every way a session can fail to build ends with a non-zero exit, one line naming the
cause, and no output file. The in-process cases call the same ``main()`` the command runs.
"""
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from losslab.__main__ import main
from losslab.engine.experiment import Experiment, PlaneSpec, ProblemSpec, RunSpec
from losslab.io.session_file import save_session

pytestmark = pytest.mark.timeout(120)

SMALL = Experiment(plane=PlaneSpec(resolution=24), steps=10)


def session_with(tmp_path, experiment, name="s.json"):
    path = tmp_path / name
    save_session(path, experiment, {})
    return path


def csv_session(tmp_path, csv_path):
    return session_with(tmp_path, replace(SMALL, problem=ProblemSpec(source="csv", path=str(csv_path), kind=""),
                                          plane=PlaneSpec(kind="random", resolution=24)))


def render_in_process(capsys, *args):
    code = main(["render", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refusal_cases(tmp_path):
    """(name, session file) for each way a session can fail to be built."""
    cases = [("missing CSV", csv_session(tmp_path, tmp_path / "gone.csv"))]
    unreadable = tmp_path / "locked.csv"
    unreadable.write_text("x1,x2,label\n1,2,a\n3,4,b\n")
    unreadable.chmod(0)
    if not os.access(unreadable, os.R_OK):  # root reads anything: the case does not exist there
        cases.append(("unreadable CSV", csv_session(tmp_path, unreadable)))
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.csv"
        os.mkfifo(fifo)
        cases.append(("a FIFO", csv_session(tmp_path, fifo)))
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    cases.append(("a directory", csv_session(tmp_path, folder)))
    if os.path.exists("/dev/zero"):
        cases.append(("/dev/zero", csv_session(tmp_path, "/dev/zero")))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("x1,x2,label\n1,2,a\n3,4\n")
    cases.append(("a ragged CSV", csv_session(tmp_path, ragged)))
    big_batch = replace(SMALL, runs=(RunSpec("sgd", (("batch_size", 5000),)),))
    cases.append(("a batch larger than the data", session_with(tmp_path, big_batch, "batch.json")))
    bad_field = tmp_path / "bad-field.json"
    bad_field.write_text(session_with(tmp_path, SMALL, "good.json").read_text().replace('"steps": 10', '"steps": -4'))
    cases.append(("a bad field", bad_field))
    return cases


@pytest.mark.parametrize("fmt", ["png", "csv", "json"])
def test_every_unbuildable_session_is_refused_in_one_line(tmp_path, capsys, fmt):
    for name, session in refusal_cases(tmp_path):
        out = tmp_path / f"out-{name.replace(' ', '-').replace('/', '')}.{fmt}"
        code, stdout, stderr = render_in_process(capsys, str(session), "-o", str(out))
        assert code != 0, f"{name}: exit {code}"
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("losslab render: error:"), f"{name}: {stderr!r}"
        assert "Traceback" not in stderr and stdout == ""
        assert not out.exists(), f"{name}: an output file was written"
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")], f"{name}: a partial file was left"


def test_the_missing_csv_is_named(tmp_path, capsys):
    """Defect 2: it used to render the default blobs/SVM and print "wrote"."""
    session = csv_session(tmp_path, tmp_path / "gone.csv")
    code, stdout, stderr = render_in_process(capsys, str(session), "-o", str(tmp_path / "f.png"))
    assert code == 2 and "gone.csv" in stderr and "wrote" not in stdout


def test_the_real_command_refuses_too(tmp_path):
    session = csv_session(tmp_path, tmp_path / "gone.csv")
    out = tmp_path / "f.png"
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "losslab", "render", str(session), "-o", str(out)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2 and "gone.csv" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_open_refuses_a_session_that_cannot_be_built(tmp_path):
    """``losslab --open`` exits non-zero naming the cause, instead of showing another session."""
    session = csv_session(tmp_path, tmp_path / "gone.csv")
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-m", "losslab", "--open", str(session), "--play-for", "1"],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2 and "gone.csv" in result.stderr and "played" not in result.stdout


def test_a_directory_as_output_is_named_once(tmp_path, capsys):
    code, _, stderr = render_in_process(capsys, "svm-slice", "-o", str(tmp_path))
    assert code != 0 and "is a directory" in stderr and "Errno" not in stderr


def test_a_job_estimated_to_run_for_minutes_is_refused_with_the_estimate(tmp_path, capsys):
    """Defect 6: N = 10⁶, 100 classes, 1024² is refused before it starts, saying what to lower."""
    huge = replace(SMALL, problem=ProblemSpec(n=10**6, classes=100), plane=PlaneSpec(resolution=1024))
    session = session_with(tmp_path, huge)
    out = tmp_path / "huge.png"
    code, _, stderr = render_in_process(capsys, str(session), "-o", str(out))
    assert code != 0 and "lower" in stderr and not out.exists()
    assert "memory" in stderr or "minute" in stderr or "hour" in stderr


def test_a_long_job_is_refused_past_the_time_limit_but_runs_when_allowed(tmp_path, capsys):
    slow = replace(SMALL, problem=ProblemSpec(n=20_000), plane=PlaneSpec(resolution=64), steps=300)
    session = session_with(tmp_path, slow)
    out = tmp_path / "slow.csv"
    code, _, stderr = render_in_process(capsys, str(session), "-o", str(out), "--max-minutes", "0.0001")
    assert code != 0 and "lower" in stderr and not out.exists()
    code, stdout, _ = render_in_process(capsys, str(session), "-o", str(out), "--max-minutes", "30")
    assert code == 0 and out.exists()


def test_a_file_that_appears_meanwhile_is_not_clobbered(tmp_path, capsys, monkeypatch):
    """Defect 10: without --force, a file created while the session computes is kept."""
    import losslab.engine.experiment as experiment_module

    out = tmp_path / "paths.csv"
    real = experiment_module.compute_all

    def compute_then_someone_writes(*args, **kwargs):
        result = real(*args, **kwargs)
        out.write_text("someone else's file")
        return result

    monkeypatch.setattr(experiment_module, "compute_all", compute_then_someone_writes)
    code, _, stderr = render_in_process(capsys, "svm-slice", "-o", str(out))
    assert code != 0 and "already exists" in stderr
    assert out.read_text() == "someone else's file"
    assert [p.name for p in tmp_path.iterdir()] == ["paths.csv"]


@pytest.mark.timeout(180)
@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="needs RLIMIT_AS")
def test_a_diverged_curve_renders_in_bounded_memory(tmp_path):
    """Defect 7: preset 05 with lr = 1000 on its last run and a linear loss axis; it grew past 23 GB."""
    from losslab.io.session_file import load_session, resolve_session

    experiment, view, info = load_session(resolve_session("05-learning-rate-too-high"))
    runs = experiment.runs[:-1] + (experiment.runs[-1].with_hyper(lr=1000.0),)
    session = tmp_path / "blown.json"
    save_session(session, replace(experiment, runs=runs), dict(view, log_loss=False))
    out = tmp_path / "blown.png"
    script = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30)); "
              "from losslab.__main__ import main; sys.exit(main(sys.argv[1:]))")
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-c", script, "render", str(session), "-o", str(out),
                             "--size", "1200x700"], capture_output=True, text=True, timeout=150, env=env)
    assert result.returncode == 0, result.stderr
    from PIL import Image

    image = Image.open(out)
    assert image.size == (1200, 700)
    colors = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(colors, axis=0)) > 200  # a real figure, not a blank page


def test_an_exception_in_a_slot_is_reported_and_the_window_goes_on(tmp_path):
    script = """
import sys
from PyQt6.QtCore import QTimer
import losslab.app.main as m
from losslab.app.window import MainWindow
original = MainWindow.__init__
def fail():
    raise RuntimeError("a slot failed")
def init(self, *args, **kwargs):
    original(self, *args, **kwargs)
    QTimer.singleShot(800, fail)
    QTimer.singleShot(1600, lambda: (print("alive:", self.message_label.text()), self.close()))
MainWindow.__init__ = init
sys.exit(m.run_window(["losslab"]))
"""
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert "alive: Internal error (RuntimeError: a slot failed)" in result.stdout
    assert "RuntimeError: a slot failed" in result.stderr
