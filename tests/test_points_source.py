"""Examples carried by the experiment (``source="points"``, ``Points``, ``with_points``, ``embed_data``)
and the start point in full parameter space (``Experiment.theta0``), in the engine and in session files."""
import json
import os
from dataclasses import replace

import numpy as np
import pytest

import losslab.engine as engine
from losslab.engine.budget import experiment_cost, problem_cost
from losslab.engine.datasets import Dataset, Points, load_bundled, make_dataset
from losslab.engine.experiment import (Experiment, PlaneSpec, ProblemSpec, RunSpec, build_problem, compute,
                                       compute_all, embed_data, run_all, validate, with_points)
from losslab.engine.planes import project
from losslab.io import session_file
from losslab.io.session_file import SessionError, dumps, load_session, loads, save_session, session_to_dict

RUNS = (RunSpec("random_search"), RunSpec("numerical_gd"), RunSpec("gd"), RunSpec("sgd", (("batch_size", 8),)))
SMALL = Experiment(problem=ProblemSpec(n=40, seed=3), plane=PlaneSpec(resolution=12), runs=RUNS, steps=6)


def blobs(n=40, seed=3):
    return make_dataset("blobs", n=n, classes=3, seed=seed)


def write_csv(path, dataset):
    """The dataset as CSV text, every float written with repr (so it reads back bit for bit)."""
    lines = [",".join(["f1", "f2", "label"])]
    lines += [",".join([*(repr(float(v)) for v in row), str(int(label))]) for row, label in zip(dataset.X, dataset.y)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def same_computation(a, b):
    """Bit-identical landscapes and trajectories."""
    assert np.array_equal(a.landscape.a_values, b.landscape.a_values)
    assert np.array_equal(a.landscape.b_values, b.landscape.b_values)
    assert np.array_equal(a.landscape.data, b.landscape.data)
    assert np.array_equal(a.landscape.reg, b.landscape.reg)
    assert len(a.runs) == len(b.runs) > 0
    for r, s in zip(a.runs, b.runs):
        assert np.array_equal(r.thetas, s.thetas)
        assert np.array_equal(r.ab, s.ab)
        assert np.array_equal(r.trajectory.losses, s.trajectory.losses)


# --- Points ------------------------------------------------------------------------------------

def test_points_copy_convert_and_freeze():
    X = [[1, 2], [3, 4], [5, 6]]
    y = np.array([0, 2, 1], dtype=np.int32)
    points = Points.of(X, y, ["a", "b", "c"], ["u", "v"])
    assert points.X.dtype == np.float64 and points.y.dtype == np.int64
    assert points.X.tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]] and points.y.tolist() == [0, 2, 1]
    assert (points.n_examples, points.n_features, points.n_classes) == (3, 2, 3)
    assert points.class_names == ("a", "b", "c") and points.feature_names == ("u", "v")
    assert not points.X.flags.writeable and not points.y.flags.writeable
    with pytest.raises(ValueError):
        points.X[0, 0] = 9.0
    y[0] = 1  # the caller's array is not shared
    assert points.y[0] == 0


def test_points_equal_and_hash_by_content():
    d = blobs()
    a = Points.of(d.X, d.y, d.class_names, d.feature_names)
    b = Points.of(d.X.copy(), d.y.astype(np.int8), list(d.class_names), list(d.feature_names))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    X = d.X.copy()
    X[7, 1] = np.nextafter(X[7, 1], np.inf)  # one ulp
    assert Points.of(X, d.y, d.class_names, d.feature_names) != a
    y = d.y.copy()
    y[0] = (y[0] + 1) % 3
    assert Points.of(d.X, y, d.class_names, d.feature_names) != a
    assert Points.of(d.X, d.y, ("x", "y", "z"), d.feature_names) != a
    assert Points.of(d.X, d.y, d.class_names) != a  # feature names count too
    # as a field of the frozen specs: equal problems hash alike, so the experiment's equality holds
    e1, e2 = with_points(SMALL, d.X, d.y, d.class_names), with_points(SMALL, d.X.copy(), d.y, d.class_names)
    assert e1 == e2 and hash(e1) == hash(e2)
    assert "N=40, D=2" in repr(a)  # not 80 numbers


@pytest.mark.parametrize("args, message", [
    (([1.0, 2.0], [0, 1], ["a", "b"]), "X must be a 2-D array"),
    (([[1.0, 2.0], [3.0]], [0, 1], ["a", "b"]), "every row of the same length"),
    ((np.zeros((0, 2)), [], ["a", "b"]), "at least one example (N ≥ 1)"),
    ((np.zeros((2, 0)), [0, 1], ["a", "b"]), "at least one feature (D ≥ 1)"),
    (([[1.0, np.nan], [0.0, 0.0]], [0, 1], ["a", "b"]), "X must be finite: row 0, column 1 is nan"),
    (([[1.0, 2.0], [0.0, np.inf]], [0, 1], ["a", "b"]), "row 1, column 1 is inf"),
    (([["1", "2"]], [0], ["a", "b"]), "X must hold numbers"),
    (([[1.0 + 1j, 2.0]], [0], ["a", "b"]), "complex"),
    (([[1.0, 2.0], [3.0, 4.0]], [0], ["a", "b"]), "y must have shape (N,) = (2,)"),
    (([[1.0, 2.0], [3.0, 4.0]], [0, 1.5], ["a", "b"]), "y must hold whole numbers (class indices), got 1.5 at index 1"),
    (([[1.0, 2.0], [3.0, 4.0]], ["a", "b"], ["a", "b"]), "y must hold integers"),
    (([[1.0, 2.0], [3.0, 4.0]], [0, 2], ["a", "b"]), "y must be class indices in 0..C-1 = 0..1, got 2 at index 1"),
    (([[1.0, 2.0], [3.0, 4.0]], [-1, 0], ["a", "b"]), "got -1 at index 0"),
    (([[1.0, 2.0]], [0], ["a"]), "at least 2 classes"),
    (([[1.0, 2.0]], [0], ["a", 7]), "class_names must be text"),
    (([[1.0, 2.0]], [0], ["a", "b"], ["only one"]), "feature_names must be empty or name all D = 2 features, got 1"),
    (([[1.0, 2.0]], [0], ["a", "b"], (), (2, 2)), "image_shape 2 × 2 must hold the D = 2 features"),
    (([[1.0, 2.0]], [0], ["a", "b"], (), (1, 2, 1)), "image_shape must be None or two positive whole numbers"),
])
def test_points_refuse_bad_input_by_name(args, message):
    with pytest.raises(ValueError) as err:
        Points.of(*args)
    assert message in str(err.value)


def test_points_and_dataset_convert_both_ways():
    digits = load_bundled("digits")
    points = Points.from_dataset(digits)
    assert points.image_shape == (8, 8) and points.n_features == 64 and points.n_classes == 10
    back = points.dataset("digits")
    assert isinstance(back, Dataset) and back.name == "digits" and back.image_shape == (8, 8)
    assert np.array_equal(back.X, digits.X) and np.array_equal(back.y, digits.y)
    assert back.class_names == digits.class_names and back.feature_names == digits.feature_names
    assert engine.Points is Points and engine.with_points is with_points and engine.embed_data is embed_data


# --- experiments on points ------------------------------------------------------------------------

def test_a_points_experiment_computes_the_same_as_its_csv(tmp_path):
    data = blobs()
    path = write_csv(tmp_path / "blobs.csv", data)
    from_csv = replace(SMALL, problem=ProblemSpec(source="csv", path=str(path)))
    from_points = with_points(from_csv, data.X, data.y, ("0", "1", "2"), ("f1", "f2"))
    p = from_points.problem
    assert (p.source, p.kind, p.path, p.standardize) == ("points", "blobs", str(path), False)
    assert replace(from_points, problem=from_csv.problem) == from_csv  # everything else kept
    a, b = compute_all(from_csv), compute_all(from_points)
    assert b.problem.dataset.name == "blobs" and b.notes == ()
    same_computation(a, b)
    # and the same as the recipe it came from: the points are those blobs
    same_computation(compute_all(SMALL), b)


def test_points_may_be_standardized_like_a_csv(tmp_path):
    data = replace(blobs(), X=blobs().X * [3.0, 0.5] + [10.0, -2.0])
    path = write_csv(tmp_path / "scaled.csv", data)
    csv_exp = replace(SMALL, problem=ProblemSpec(source="csv", path=str(path), standardize=True))
    points_exp = with_points(SMALL, data.X, data.y, ("0", "1", "2"))
    points_exp = replace(points_exp, problem=replace(points_exp.problem, standardize=True))
    same_computation(compute_all(csv_exp), compute_all(points_exp))
    # points replacing points stay in their space; replacing standardized loaded data, they are taken as given
    assert with_points(points_exp, data.X[:9], data.y[:9], ("0", "1", "2")).problem.standardize
    assert not with_points(csv_exp, data.X, data.y, ("0", "1", "2")).problem.standardize


def test_validate_points_source():
    with pytest.raises(ValueError, match=r"problem\.points"):
        validate(replace(SMALL, problem=ProblemSpec(source="points")))
    with pytest.raises(ValueError, match=r"problem\.points must be a Points"):
        validate(replace(SMALL, problem=ProblemSpec(source="points", points=[[1.0, 2.0]])))
    d = blobs()
    edited = with_points(SMALL, d.X, d.y, d.class_names)
    # switching away from the points needs no second change: other sources drop them
    generated = validate(replace(edited, problem=replace(edited.problem, source="generated")))
    assert generated.problem.points is None and generated == validate(SMALL)
    assert validate(edited).problem.points == edited.problem.points


def test_with_points_names_the_data_it_replaces(tmp_path):
    d = blobs()
    assert with_points(SMALL, d.X, d.y, d.class_names).problem.kind == "blobs"
    bundled = replace(SMALL, problem=ProblemSpec(source="bundled", kind="iris", standardize=True))
    assert with_points(bundled, d.X, d.y, d.class_names).problem.kind == "iris"
    csv = replace(SMALL, problem=ProblemSpec(source="csv", path=str(tmp_path / "my data.csv")))
    assert with_points(csv, d.X, d.y, d.class_names).problem.kind == "my data"
    surface = replace(SMALL, problem=ProblemSpec(source="surface", kind="rosenbrock"))
    edited = with_points(surface, d.X, d.y, d.class_names)
    assert edited.problem.kind == "" and build_problem(edited).dataset.name == "points"
    again = with_points(with_points(SMALL, d.X, d.y, d.class_names), d.X[:9], d.y[:9], d.class_names)
    assert again.problem.kind == "blobs" and again.problem.points.n_examples == 9
    with pytest.raises(ValueError, match="y must have shape"):
        with_points(SMALL, d.X, d.y[:5], d.class_names)


def test_embed_data_keeps_recipes_and_carries_files(tmp_path):
    assert embed_data(SMALL, None) is SMALL  # generated: a recipe, reproducible from its seed
    surface = replace(SMALL, problem=ProblemSpec(source="surface", kind="rosenbrock"))
    assert embed_data(surface, None) is surface
    iris = replace(SMALL, problem=ProblemSpec(source="bundled", kind="iris", standardize=True),
                   plane=PlaneSpec(kind="random", resolution=12))
    done = compute_all(iris)
    embedded = embed_data(iris, done.problem.dataset)
    p = embedded.problem
    assert (p.source, p.kind, p.standardize) == ("points", "iris", False)
    assert p.points == Points.from_dataset(load_bundled("iris", standardize_features=True))
    assert embed_data(embedded, None) is embedded  # points stay points
    same_computation(done, compute_all(embedded))
    with pytest.raises(ValueError, match="needs the loaded dataset"):
        embed_data(iris, None)


def test_an_embedded_csv_session_travels_without_its_file(tmp_path):
    data = replace(blobs(), X=blobs().X * [2.0, 0.25] + [1.0, 5.0])
    path = write_csv(tmp_path / "points.csv", data)
    original = replace(SMALL, problem=ProblemSpec(source="csv", path=str(path), standardize=True), start=(-1.0, 0.5))
    done = compute_all(original)
    embedded = embed_data(original, done.problem.dataset)
    (tmp_path / "elsewhere").mkdir()  # the session moves away from the data's folder
    session = save_session(tmp_path / "elsewhere" / "with-data.json", embedded, {"layout": "side"}, title="carried")
    os.remove(path)
    loaded, view, info = load_session(session)
    assert loaded == validate(embedded) and view == {"layout": "side"} and info["title"] == "carried"
    assert loaded.problem.points.X.tobytes() == done.problem.dataset.X.tobytes()  # bit for bit
    assert loaded.problem.path == str(path)  # left as it was: a points problem does not read it
    same_computation(done, compute_all(loaded))
    # the file holds the points as plain JSON: one row of X a line
    text = session.read_text(encoding="utf-8")
    assert json.loads(text)["experiment"]["problem"]["points"]["y"] == data.y.tolist()
    first_row = json.dumps(done.problem.dataset.X[0].tolist())
    assert any(line.strip() == first_row + "," for line in text.splitlines())


def test_the_bundled_digits_embed_within_the_session_limit():
    digits = load_bundled("digits", standardize_features=True)
    experiment = embed_data(replace(SMALL, problem=ProblemSpec(source="bundled", kind="digits", standardize=True),
                                    plane=PlaneSpec(kind="random", resolution=12)), digits)
    text = dumps(experiment)
    assert 1_000_000 < len(text.encode("utf-8")) < session_file.MAX_SESSION_BYTES
    loaded, _, _ = loads(text)
    assert loaded.problem.points == experiment.problem.points and loaded.problem.points.image_shape == (8, 8)
    assert text.count("\n") < 1797 + 200  # compact: a line per row, not per number


def test_a_points_problem_is_priced_from_its_real_sizes():
    digits = load_bundled("digits")
    points_exp = with_points(replace(SMALL, plane=PlaneSpec(kind="random", resolution=12)), digits.X, digits.y,
                             digits.class_names)
    csv_exp = replace(points_exp, problem=ProblemSpec(source="csv", path="digits.csv"))
    cost = experiment_cost(points_exp)
    assert cost == experiment_cost(csv_exp, 1797, 64, 10)
    runs = [("random_search", 6, None), ("numerical_gd", 6, None), ("gd", 6, None), ("sgd", 6, 8)]
    assert cost == problem_cost(1797, 64, 10, 12, runs, "svm", plane="random")
    assert cost != experiment_cost(replace(points_exp, problem=replace(points_exp.problem, source="generated")))
    # refused from the points' sizes, before the data stage begins
    job = compute(points_exp, memory_budget=cost.memory - 1)
    with pytest.raises(ValueError, match="memory"):
        next(job)


# --- session files: bad points -----------------------------------------------------------------

def points_session():
    d = blobs(n=4)
    return session_to_dict(with_points(SMALL, d.X, d.y, d.class_names, d.feature_names))


@pytest.mark.parametrize("change, message", [
    (lambda p: p.update(X=[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0]]),
     "experiment.problem.points.X: row 3 has 1 value, expected 2"),
    (lambda p: p["X"][1].__setitem__(0, "1.5"), 'experiment.problem.points.X[1][0] must be a number, not "1.5"'),
    (lambda p: p["X"][2].__setitem__(1, True), "experiment.problem.points.X[2][1] must be a number, not true"),
    (lambda p: p["X"][0].__setitem__(1, 10**400), "experiment.problem.points.X[0][1] must be a finite number"),
    (lambda p: p["X"].__setitem__(2, 7), "experiment.problem.points.X[2] must be a list of numbers"),
    (lambda p: p.update(X=[]), "experiment.problem.points.X must be a list of rows"),
    (lambda p: p.update(X=[[], [], [], []]), "experiment.problem.points.X[0] is empty"),
    (lambda p: p.pop("X"), "experiment.problem.points.X is missing"),
    (lambda p: p.pop("class_names"), "experiment.problem.points.class_names is missing"),
    (lambda p: p.update(y=[0, 1, 2]), "experiment.problem.points.y has 3 labels, expected 4 (one per row of X)"),
    (lambda p: p.update(y=[0, 1, 3, 0]), "experiment.problem.points.y[2] must be a class index 0..2"),
    (lambda p: p.update(y=[0, 1, 0.5, 0]), "experiment.problem.points.y[2] must be a whole number"),
    (lambda p: p.update(y="0120"), "experiment.problem.points.y must be a list of class indices"),
    (lambda p: p.update(class_names=["only"]), "experiment.problem.points.class_names must name at least 2 classes"),
    (lambda p: p.update(class_names=["a", 2, "c"]), "experiment.problem.points.class_names[1] must be text"),
    (lambda p: p.update(feature_names=["x"]), "experiment.problem.points.feature_names has 1 names, expected 2"),
    (lambda p: p.update(image_shape=[2, 2]), "experiment.problem.points.image_shape must be [height, width] with"),
    (lambda p: p.update(image_shape=[2]), "experiment.problem.points.image_shape must be null or [height, width]"),
    (lambda p: p.update(colour="red"), "experiment.problem.points.colour is not a known field"),
])
def test_bad_points_in_a_session_file_are_named(change, message):
    data = points_session()
    change(data["experiment"]["problem"]["points"])
    with pytest.raises(SessionError) as err:
        loads(json.dumps(data), "s.json")
    assert message in str(err.value) and str(err.value).startswith("s.json: ")


def test_a_session_without_its_points_is_named():
    data = points_session()
    data["experiment"]["problem"]["points"] = [[1, 2]]
    with pytest.raises(SessionError, match=r"experiment\.problem\.points must be an object"):
        loads(json.dumps(data))
    del data["experiment"]["problem"]["points"]
    with pytest.raises(SessionError, match=r"experiment: problem\.points"):
        loads(json.dumps(data))


def test_nan_in_points_written_by_hand_is_refused():
    text = dumps(with_points(SMALL, [[0.0, 1.0], [2.0, 3.0]], [0, 1], ["a", "b"]))
    text = text.replace("[2.0, 3.0]", "[2.0, NaN]")  # Python's json reads NaN
    with pytest.raises(SessionError, match=r"points\.X\[1\]\[1\] must be a finite number, not NaN"):
        loads(text)


def test_sessions_without_points_or_theta0_keep_their_form():
    data = session_to_dict(SMALL)
    assert "points" not in data["experiment"]["problem"] and "theta0" not in data["experiment"]
    assert dumps(SMALL) == json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --- theta0 --------------------------------------------------------------------------------------

THETA0 = (0.5, -1.0, 0.25, 1.5, -0.75, 0.125, 0.2, -0.3, 0.1)  # P = 2·3 + 3


def test_full_space_runs_start_exactly_at_theta0():
    done = compute_all(replace(SMALL, space="full", theta0=THETA0))
    assert done.notes == ()
    for result in done.runs:
        assert np.array_equal(result.thetas[0], np.array(THETA0))
        assert np.array_equal(result.trajectory.thetas[0], np.array(THETA0))
        assert np.allclose(result.ab[0], project(np.array(THETA0), done.plane)[0])


def test_slice_runs_start_at_the_projection_of_theta0():
    experiment = replace(SMALL, plane=PlaneSpec(kind="random", centre="zero", seed=2, resolution=12), theta0=THETA0)
    done = compute_all(experiment)
    ab, residual = project(np.array(THETA0), done.problem.plane)
    assert residual > 0.1 and not np.allclose(ab, SMALL.start)  # a real projection, not the plane start
    for result in done.runs:
        assert np.array_equal(result.ab[0], ab)
        assert np.allclose(result.thetas[0], done.problem.plane.point(*ab))
    assert done.notes == ()
    # the same start as a plane point gives the same runs
    same_computation(done, compute_all(replace(experiment, theta0=None, start=tuple(ab))))


def test_a_theta0_that_no_longer_fits_is_ignored_with_a_note():
    done = compute_all(replace(SMALL, theta0=THETA0[:4]))
    assert any("4 values" in note and "P = 9" in note and "plane point (-2, 2)" in note for note in done.notes)
    plain = compute_all(SMALL)
    same_computation(plain, done)
    full = compute_all(replace(SMALL, space="full", theta0=(1.0,) * 12))
    assert np.array_equal(full.runs[0].ab[0], SMALL.start) and len(full.notes) == 1


def test_a_changed_theta0_is_run_again_not_reused():
    first = compute_all(replace(SMALL, space="full", theta0=THETA0))
    moved = tuple(v + 0.5 for v in THETA0)
    second = compute(replace(first.experiment, theta0=moved), previous=first)
    try:
        while True:
            next(second)
    except StopIteration as stop:
        again = stop.value
    assert np.array_equal(again.runs[0].thetas[0], np.array(moved))


def test_theta0_on_a_test_surface_is_the_start():
    surface = replace(SMALL, problem=ProblemSpec(source="surface", kind="rosenbrock"), theta0=(-0.5, 1.5),
                      runs=(RunSpec("gd", (("lr", 0.001),)),))
    for space in ("slice", "full"):
        problem = build_problem(validate(replace(surface, space=space)))
        _, results = run_all(validate(replace(surface, space=space)), problem)
        assert np.allclose(results[0].thetas[0], [-0.5, 1.5]) and np.allclose(results[0].ab[0], [-0.5, 1.5])


@pytest.mark.parametrize("theta0, message", [
    ((), "theta0 must be None or a list of at least one number"),
    ((1.0, float("nan")), r"theta0\[1\] must be a finite number"),
    ((1.0, 10**400), r"theta0\[1\] must be a finite number"),
    ((1.0, "2"), r"theta0\[1\] must be a number"),
    ((True,), r"theta0\[0\] must be a number"),
    (3.0, "theta0 must be None or a list"),
])
def test_theta0_is_validated(theta0, message):
    with pytest.raises(ValueError, match=message):
        validate(replace(SMALL, theta0=theta0))


def test_theta0_is_coerced_to_floats():
    assert validate(replace(SMALL, theta0=np.arange(3))).theta0 == (0.0, 1.0, 2.0)
    assert validate(replace(SMALL, theta0=[1, 2.5])).theta0 == (1.0, 2.5)


def test_theta0_round_trips_through_a_session_file(tmp_path):
    theta0 = (0.1, 1 / 3, -2e-17, 123456.789, 5.0, -0.0, 7e300, 2.0, 3.0)
    experiment = replace(SMALL, space="full", theta0=theta0)
    path = save_session(tmp_path / "t.json", experiment)
    loaded, _, _ = load_session(path)
    assert loaded.theta0 == theta0 and loaded == validate(experiment)
    assert json.loads(path.read_text(encoding="utf-8"))["experiment"]["theta0"] == list(theta0)
    assert f'"theta0": {json.dumps(list(theta0))}' in path.read_text(encoding="utf-8")  # on one line
    data = session_to_dict(experiment)
    for bad, message in (([], "experiment.theta0 must be a list of numbers"),
                         ([1.0, "x"], 'experiment.theta0[1] must be a number, not "x"'),
                         ({"a": 1}, "experiment.theta0 must be a list")):
        data["experiment"]["theta0"] = bad
        with pytest.raises(SessionError) as err:
            loads(json.dumps(data))
        assert message in str(err.value)
    data["experiment"]["theta0"] = None
    assert loads(json.dumps(data))[0].theta0 is None
