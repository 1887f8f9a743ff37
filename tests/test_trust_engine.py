"""Trust in the engine's answers: divergence at 1000×, bounded file reads, named CSV errors,
clear errors at the edges, a cancellable gradient check and its verdict, no-clobber writes."""
import errno
import gzip
import os
import socket
import subprocess
import sys
import zlib

import numpy as np
import pytest

from losslab.engine import LOSSES, Objective, grad_check, load_csv, make_dataset, make_surface, optimize, parse_csv
from losslab.engine import datasets, gradcheck
from losslab.engine.experiment import Experiment, RunSpec, build_problem, run_all, validate
from losslab.engine.gradcheck import GradCheck
from losslab.engine.optimizers import DIVERGENCE_FACTOR
from losslab.io import files, session_file
from losslab.io.session_file import SessionError, load_session, presets_folder


@pytest.fixture(scope="module")
def default_objective():
    """The problem the window opens with: 300 blobs in 3 classes, SVM, L2 with λ = 0.1."""
    data = make_dataset("blobs", 300, 3, seed=0)
    return Objective(data.X, data.y, loss="svm", reg="l2", lam=0.1)


# --- 1. divergence: 1000 × max(1, |L(θ0)|) ---------------------------------------------------

class Bowl:
    """``f(θ) = θ²`` in one parameter; gradient descent with lr = 2 maps θ to −3θ: the loss grows ×9."""

    n_params, n_examples = 1, None

    def loss(self, theta):
        return float(theta[0] ** 2)

    def loss_grad(self, theta, idx=None):
        return self.loss(theta), 2 * theta


def test_the_divergence_factor_is_a_thousand():
    assert DIVERGENCE_FACTOR == 1000
    trajectory = optimize(Bowl(), "gd", [1.0], 20, lr=2.0)
    # 1, 9, 81, 729 stay legal; 6561 > 1000 · max(1, 1) is the blow-up, recorded and last
    np.testing.assert_array_equal(trajectory.losses, [1, 9, 81, 729, 6561])
    assert trajectory.status == "diverged"
    assert "exceeds 1000 × max(1, |L(θ0)|)" in trajectory.message


def test_gd_with_learning_rate_1000_on_the_default_problem_diverges(default_objective):
    theta0 = 0.01 * np.random.default_rng(0).standard_normal(default_objective.n_params)
    trajectory = optimize(default_objective, "gd", theta0, 1, lr=1000.0)  # 2 → 1.2e6 in one step
    assert trajectory.status == "diverged"
    assert trajectory.n_steps == 1 and np.all(np.isfinite(trajectory.thetas))  # the blow-up stays visible
    assert trajectory.losses[1] > 1000 * max(1.0, trajectory.losses[0])


def test_full_space_gd_that_climbs_a_thousandfold_is_diverged():
    experiment = validate(Experiment(runs=(RunSpec("gd", (("lr", 95.0),)),), space="full", steps=1))
    _, (result,) = run_all(experiment, build_problem(experiment))
    trajectory = result.trajectory
    assert trajectory.losses[1] > 1000 * trajectory.losses[0] > 1000  # 6.0 → 7.2e3
    assert trajectory.status == "diverged"


def test_nesterov_on_rosenbrock_rises_and_recovers_without_diverging():
    experiment, _, _ = load_session(presets_folder() / "06-momentum-rosenbrock.json")
    (spec,) = [run for run in experiment.runs if run.method == "nesterov"]
    trajectory = optimize(make_surface("rosenbrock"), "nesterov", experiment.start, experiment.steps,
                          **spec.hyper_dict)
    assert trajectory.losses.max() > 20 * trajectory.losses[0]  # a transient spike ...
    assert trajectory.loss < 1e-3 * trajectory.losses[0]         # ... that recovers
    assert trajectory.status == "completed"


# --- 2. bounded, non-blocking reads ------------------------------------------------------------

@pytest.mark.timeout(10)
def test_a_fifo_is_refused_at_once(tmp_path):
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    with pytest.raises(ValueError, match="pipe.csv is a FIFO"):
        load_csv(pipe)
    with pytest.raises(SessionError, match="pipe.csv is a FIFO"):
        load_session(pipe)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path} is a directory"):
        load_csv(tmp_path)
    with pytest.raises(SessionError, match="is a directory"):
        load_session(tmp_path)


@pytest.mark.timeout(10)
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_dev_zero_is_refused():
    with pytest.raises(ValueError, match="/dev/zero is a character device"):
        datasets.read_file_bytes("/dev/zero", 1000, "a CSV file")


def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s.csv"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
    except OSError:
        pytest.skip("cannot make a Unix socket here")
    try:
        with pytest.raises(ValueError, match="s.csv is a socket"):
            load_csv(path)
    finally:
        server.close()


def test_a_gzip_bomb_is_refused(tmp_path):
    # 300 MiB of zeros in a 0.3 MB file, compressed a chunk at a time
    path = tmp_path / "bomb.csv.gz"
    deflate, zeros = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS), bytes(2 ** 20)
    with open(path, "wb") as f:
        for _ in range(300):
            f.write(deflate.compress(zeros))
        f.write(deflate.flush())
    assert path.stat().st_size < 2 * 2 ** 20
    with pytest.raises(ValueError, match="bomb.csv.gz decompresses to more than 64 MB"):
        load_csv(path)


def test_oversized_files_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_text("x,label\n" + "1,a\n2,b\n" * 100)
    monkeypatch.setattr(datasets, "MAX_CSV_BYTES", 100)
    with pytest.raises(ValueError, match="big.csv is larger than 100 bytes"):
        load_csv(path)
    session = tmp_path / "big.json"
    session.write_text(" " * 200)
    monkeypatch.setattr(session_file, "MAX_SESSION_BYTES", 100)
    with pytest.raises(SessionError, match="big.json is larger than 100 bytes"):
        load_session(session)


def test_read_file_bytes_reads_plain_and_gzipped_files_up_to_the_limit(tmp_path):
    plain, packed = tmp_path / "a.csv", tmp_path / "a.csv.gz"
    plain.write_bytes(b"x" * 64)
    packed.write_bytes(gzip.compress(b"y" * 32) + gzip.compress(b"z" * 32))  # two gzip members
    assert datasets.read_file_bytes(plain, 64, "a CSV file") == b"x" * 64
    assert datasets.read_file_bytes(packed, 64, "a CSV file") == b"y" * 32 + b"z" * 32
    with pytest.raises(ValueError, match="a.csv is larger than 63 bytes"):
        datasets.read_file_bytes(plain, 63, "a CSV file")
    with pytest.raises(ValueError, match="a.csv.gz decompresses to more than 63 bytes"):
        datasets.read_file_bytes(packed, 63, "a CSV file")
    packed.write_bytes(gzip.compress(b"y" * 32)[:-6])
    with pytest.raises(ValueError, match="a.csv.gz: not a readable gzip file"):
        datasets.read_file_bytes(packed, 64, "a CSV file")
    with pytest.raises(ValueError, match="cannot read the file"):
        datasets.read_file_bytes(tmp_path / "missing.csv", 64, "a CSV file")


# --- 3. CSV parser errors ----------------------------------------------------------------------

def test_cr_only_line_endings_are_line_endings(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"a,b,label\r1,2,x\r3,4,y\r5,6,x\r")
    data = load_csv(path)
    assert data.X.tolist() == [[1, 2], [3, 4], [5, 6]] and data.class_names == ("x", "y")
    with pytest.raises(ValueError, match="^pasted, line 3: expected 3 columns, found 2"):
        parse_csv("1,2,0\r3,4,1\r5,6\r", "pasted")


@pytest.mark.parametrize("length, message", [
    (128 * 1024, r"wide.csv, line 3, column 2: '4{37}\.\.\.' is not a finite number$"),  # shown shortened
    (128 * 1024 + 1, r"wide.csv, line 3: not valid CSV \(field larger than field limit \(131072\)\)$"),
])
def test_a_128_kb_field_is_named_with_its_file_and_line(tmp_path, length, message):
    path = tmp_path / "wide.csv"
    path.write_text("a,b,label\n1,2,x\n3," + "4" * length + ",y\n")
    with pytest.raises(ValueError, match=message):
        load_csv(path)


def test_line_numbers_count_lines_inside_quoted_fields():
    with pytest.raises(ValueError, match="line 4: expected 3 columns"):
        parse_csv('x,y,label\n1,2,"two\nlines"\n3,4\n', "quoted")


# --- 4. edge cases that must be clear ValueErrors ----------------------------------------------

@pytest.mark.parametrize("coordinates, message", [
    ([100], "coordinate 100 is out of range 0..8 for P = 9"),
    ([0, -1], "coordinate -1 is out of range 0..8 for P = 9"),
    ([1.5], "coordinates must be whole numbers"),
    ([], "coordinates must name at least one coordinate"),
    ([[0, 1]], "coordinates must be a list of indices"),
])
def test_grad_check_names_bad_coordinates(default_objective, coordinates, message):
    with pytest.raises(ValueError, match=message):
        grad_check(default_objective, np.zeros(9), coordinates=coordinates)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 10 ** 400}, r"n must be between 2 and 1e\+06, got about 1e400"),
    ({"classes": -10 ** 400}, "classes must be between 2 and 100, got about -1e400"),
    ({"noise": 10 ** 400}, "noise must be between 0 and 10, got about 1e400"),
])
def test_make_dataset_names_astronomical_integers(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_dataset("blobs", **kwargs)


def test_complex_numbers_are_refused(default_objective):
    data = make_dataset("blobs", 30, 3, seed=0)
    with pytest.raises(ValueError, match="X must be real numbers"):
        Objective(data.X + 1j, data.y)
    with pytest.raises(ValueError, match="labels y must be whole numbers"):
        Objective(data.X, data.y + 0j)
    theta = np.zeros(9, dtype=complex)
    for call in (default_objective.loss, default_objective.loss_grad, default_objective.scores):
        with pytest.raises(ValueError, match="theta must be real numbers"):
            call(theta)
    with pytest.raises(ValueError, match="theta0 must be real numbers"):
        optimize(default_objective, "gd", theta, 5)
    with pytest.raises(ValueError, match="theta must be real numbers"):
        grad_check(default_objective, theta)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("theta", [np.full(9, 1e308), np.tile([1e308, -1e308, 1e308], 3)])
def test_overflowing_scores_never_give_a_finite_loss(default_objective, loss, theta):
    objective = default_objective.replace(loss=loss, reg="none")
    assert not np.isfinite(objective.loss(theta))
    assert not np.isfinite(objective.loss_grad(theta)[0])
    assert not np.isfinite(objective.parts(theta)[0])


# --- 5. the gradient check, step by step, and its verdict --------------------------------------

class Counting:
    """An objective that counts its loss evaluations."""

    def __init__(self, objective):
        self.objective, self.calls = objective, 0

    def loss(self, theta):
        self.calls += 1
        return self.objective.loss(theta)

    def loss_grad(self, theta, idx=None):
        return self.objective.loss_grad(theta)


def test_grad_check_steps_reports_progress_and_returns_the_check(default_objective):
    theta = 0.5 * np.random.default_rng(1).standard_normal(9)
    steps = gradcheck.grad_check_steps(default_objective, theta)
    progress = []
    while True:
        try:
            progress.append(next(steps))
        except StopIteration as stop:
            check = stop.value
            break
    assert progress == [(k, 9) for k in range(1, 10)]
    expected = grad_check(default_objective, theta)
    assert isinstance(check, GradCheck) and check.verdict == expected.verdict
    for name in ("analytic", "numerical", "rel_error", "fd_error"):
        np.testing.assert_array_equal(getattr(check, name), getattr(expected, name))


def test_grad_check_steps_over_some_coordinates_can_be_cancelled(default_objective):
    counting = Counting(default_objective)
    steps = gradcheck.grad_check_steps(counting, np.zeros(9), coordinates=[0, 4, 8])
    assert next(steps) == (1, 3)
    steps.close()  # cancelled between coordinates: no more evaluations
    assert counting.calls == 4  # one coordinate: L(θ ± h), L(θ ± 2h)


def test_grad_check_steps_validates_before_it_starts(default_objective):
    with pytest.raises(ValueError, match="coordinate 9 is out of range"):
        gradcheck.grad_check_steps(default_objective, np.zeros(9), coordinates=[9])  # no next() needed


def made_check(error, verdict, near_kink=0, within=False, coordinates=None):
    zeros = np.zeros(9 if coordinates is None else len(coordinates))
    return GradCheck(zeros, zeros, zeros, error, verdict, near_kink, 1e-5, 1e-9, 0, zeros, within,
                     None if coordinates is None else np.array(coordinates))


@pytest.mark.parametrize("check, text, verdict", [
    (made_check(1e-9, "good"), "1.0e-09 good", "good"),
    (made_check(1e-9, "good", coordinates=[0, 1, 2]), "1.0e-09 good (3 of 9 coordinates)", "good"),
    (made_check(0.65, "wrong", near_kink=2),
     "6.5e-01 kink (2 examples at a kink: the difference quotient straddles it)", "kink"),
    (made_check(5e-3, "suspect", near_kink=1, within=True, coordinates=[4]),
     "5.0e-03 kink (1 example at a kink: the difference quotient straddles it; 1 of 9 coordinates)", "kink"),
    (made_check(5e-3, "suspect", within=True), "5.0e-03 suspect (within the finite-difference error)", "acceptable"),
    (made_check(5e-3, "suspect", within=True, coordinates=[1, 2]),
     "5.0e-03 suspect (2 of 9 coordinates; within the finite-difference error)", "acceptable"),
    (made_check(0.5, "wrong"), "5.0e-01 wrong", "wrong"),
    (made_check(2e-3, "suspect"), "2.0e-03 suspect", "suspect"),
    (made_check(1e-6, "acceptable", near_kink=3), "1.0e-06 acceptable (3 examples at a kink)", "acceptable"),
    (made_check(1e-8, "good", near_kink=1), "1.0e-08 good (1 example at a kink)", "good"),
])
def test_describe_check(check, text, verdict):
    assert gradcheck.describe_check(check, 9) == (text, verdict)


def test_a_check_at_a_hinge_kink_is_not_called_wrong():
    # example 0 sits exactly on the hinge: the difference quotient straddles the kink
    obj = Objective(np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([0, 1]), loss="svm")
    theta = obj.flatten(np.zeros((2, 2)), np.array([1.0, 0.0]))
    check = grad_check(obj, theta)
    assert check.verdict in ("suspect", "wrong") and check.near_kink == 1
    text, verdict = gradcheck.describe_check(check, obj.n_params)
    assert verdict == "kink" and "at a kink" in text and check.verdict not in text


# --- 6. no-clobber writes and stale temporary files --------------------------------------------

def part_files(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize("links", [True, False])
def test_no_clobber_checks_at_the_moment_of_writing(tmp_path, monkeypatch, links):
    if not links:  # a file system without hard links: the O_EXCL placeholder stands in
        def no_link(src, dst):
            raise OSError(errno.EPERM, "Operation not permitted")
        monkeypatch.setattr(os, "link", no_link)
    path = tmp_path / "out.txt"

    def write(tmp):
        path.write_text("theirs")  # another program creates the file meanwhile
        with open(tmp, "w") as f:
            f.write("ours")

    with pytest.raises(FileExistsError, match="out.txt already exists \\(use --force to overwrite\\)"):
        files.atomic_write(path, write, overwrite=False)
    assert path.read_text() == "theirs" and part_files(tmp_path) == []
    path.unlink()
    files.atomic_write_text(path, "ours", overwrite=False)
    assert path.read_text() == "ours" and part_files(tmp_path) == []


def test_a_directory_is_refused_before_any_work(tmp_path):
    calls = []
    for overwrite in (True, False):
        with pytest.raises(IsADirectoryError, match=f"^{tmp_path} is a directory$"):
            files.atomic_write(tmp_path, calls.append, overwrite=overwrite)
    assert calls == []


@pytest.mark.skipif(os.name != "posix", reason="process ids are checked with os.kill(pid, 0)")
def test_stale_part_files_of_dead_writers_are_removed(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead, alive = child.pid, os.getpid()
    stale = tmp_path / f".out.txt.{dead}.1a2b3c.part"
    live = tmp_path / f".out.txt.{alive}.4d5e6f.part"
    other = tmp_path / f".other.txt.{dead}.1a2b3c.part"
    for p in (stale, live, other):
        p.write_text("half")
    files.atomic_write_text(tmp_path / "out.txt", "whole")
    assert (tmp_path / "out.txt").read_text() == "whole"
    assert part_files(tmp_path) == sorted([live.name, other.name])


def test_temporary_files_are_named_after_the_writer(tmp_path):
    seen = []
    files.atomic_write(tmp_path / "out.txt", lambda tmp: seen.append(os.path.basename(tmp)))
    name, = seen
    assert name.startswith(f".out.txt.{os.getpid()}.") and name.endswith(".part")


def test_a_full_disk_says_so(tmp_path):
    path = tmp_path / "figure.png"
    path.write_bytes(b"old")

    def write(tmp):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="disk is full") as caught:
        files.atomic_write(path, write)
    assert caught.value.errno == errno.ENOSPC and str(path) in str(caught.value)
    assert path.read_bytes() == b"old" and part_files(tmp_path) == []


def test_atomic_write_bytes(tmp_path):
    path = tmp_path / "figure.png"
    assert files.atomic_write_bytes(path, b"\x89PNG") == path
    assert path.read_bytes() == b"\x89PNG"
    with pytest.raises(FileExistsError):
        files.atomic_write_bytes(path, b"other", overwrite=False)
    files.atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
