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
