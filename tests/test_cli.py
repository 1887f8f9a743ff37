"""The installed ``losslab`` command, run as a user would."""
import subprocess
import sys

from losslab import __version__


def run(*args):
    return subprocess.run([sys.executable, "-m", "losslab", *args], capture_output=True, text=True, timeout=120)


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"losslab {__version__}"


def test_help_names_the_program():
    out = run("--help")
    assert out.returncode == 0 and "usage: losslab" in out.stdout


def test_summary_describes_the_default_problem():
    out = run("--summary")
    assert out.returncode == 0
    assert "N=300, D=2, C=3" in out.stdout and "P = 9" in out.stdout
    assert "(good)" in out.stdout  # the gradient check of the default point passes


def test_no_display_gives_a_hint_not_an_abort(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-m", "losslab"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 1
    assert "needs a display" in out.stderr and "xvfb-run" in out.stderr and "Traceback" not in out.stderr


def test_missing_x11_libraries_are_named(monkeypatch):
    import ctypes

    from losslab.app import main

    def fail(name, *args, **kwargs):
        raise OSError("libxcb-icccm.so.4: cannot open shared object file: No such file or directory")

    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(ctypes, "CDLL", fail)
    hint = main.display_problem()
    assert "libxcb-icccm.so.4" in hint and "apt-get install" in hint and "libxcb-icccm4" in hint
