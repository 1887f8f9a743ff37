"""Datasets: generated problems, CSV parsing with named errors, bundled Iris and digits."""
import gzip

import numpy as np
import pytest

from losslab.engine import BUNDLED, DATASETS, load_bundled, load_csv, make_dataset, parse_csv, standardize


@pytest.mark.parametrize("kind", list(DATASETS))
@pytest.mark.parametrize("n, classes", [(2, 2), (300, 3), (101, 5), (1000, 10)])
def test_generated_shapes_and_labels(kind, n, classes):
    data = make_dataset(kind, n=n, classes=classes, seed=4)
    assert data.X.shape == (n, 2) and data.y.shape == (n,)
    assert data.X.dtype == np.float64 and np.all(np.isfinite(data.X))
    assert set(np.unique(data.y)) <= set(range(classes)) and data.n_classes == classes
    if kind != "xor":  # class sizes as even as n allows
        counts = np.bincount(data.y, minlength=classes)
        assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("kind", list(DATASETS))
def test_generated_data_is_reproducible(kind):
    a, b, c = (make_dataset(kind, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


def test_xor_with_two_classes_is_xor():
    data = make_dataset("xor", n=400, classes=2, noise=0.0, seed=0)
    expected = (data.X[:, 0] > 0) != (data.X[:, 1] > 0)
    np.testing.assert_array_equal(data.y, expected.astype(int))


def test_circles_class_is_the_ring():
    data = make_dataset("circles", n=300, classes=3, noise=0.0, seed=0)
    np.testing.assert_allclose(np.hypot(*data.X.T), (data.y + 1) / 3)


def test_blobs_are_linearly_separable_enough():
    data = make_dataset("blobs", n=300, classes=3, seed=0)
    centres = np.array([data.X[data.y == k].mean(axis=0) for k in range(3)])
    nearest = np.argmin(((data.X[:, None, :] - centres) ** 2).sum(axis=2), axis=1)
    assert np.mean(nearest == data.y) > 0.95


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="moons"), "unknown dataset 'moons'; choose one of: blobs, spiral, circles, xor"),
    (dict(kind="blobs", n=2, classes=3), "n must be at least the number of classes"),
    (dict(kind="blobs", classes=1), "classes must be >= 2"),
    (dict(kind="blobs", n=10.5), "n must be a whole number"),
    (dict(kind="blobs", noise=-1.0), "noise must be >= 0"),
    (dict(kind="blobs", noise=float("nan")), "noise must be a finite number"),
    (dict(kind="blobs", seed=-1), "seed must be a non-negative integer"),
])
def test_bad_generator_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_dataset(**kwargs)


# --- CSV ------------------------------------------------------------------------------------

def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_header_and_string_labels(tmp_path):
    data = load_csv(write(tmp_path, "width,height,animal\n1,2,cat\n3,4.5,dog\n\n5,6,cat\n"))
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4.5], [5, 6]])
    np.testing.assert_array_equal(data.y, [0, 1, 0])
    assert data.class_names == ("cat", "dog") and data.feature_names == ("width", "height")
    assert data.name == "data"


def test_csv_without_header_and_integer_labels(tmp_path):
    data = load_csv(write(tmp_path, "0.5,-1,7\n1e3,2,3\n4,4,7\n"))
    np.testing.assert_array_equal(data.y, [1, 0, 1])  # sorted: 3 -> class 0, 7 -> class 1
    assert data.class_names == ("3", "7") and data.feature_names == ("x1", "x2")


def test_gzipped_csv(tmp_path):
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,x\n2,y\n"))
    assert load_csv(path).X.shape == (2, 1)


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("\n\n", "the file is empty"),
    ("a,b,label\n", "header but no data rows"),
    ("1,2,0\n3,4\n", "line 2: expected 3 columns, found 2"),
    ("1,2,0\n3,4,1,9\n", "line 2: expected 3 columns, found 4"),
    ("x,y,c\n1,2,0\n3,abc,1\n", "line 3, column 2: 'abc' is not a number"),
    ("1,2,0\n3,nan,1\n", "line 2, column 2: 'nan' is not a finite number"),
    ("1,2,0\n3,inf,1\n", "line 2, column 2: 'inf' is not a finite number"),
    ("1,2,0\n3,4,\n", "line 2: the label .* is empty"),
    ("1,2,a\n3,4,a\n", "only one class \\('a'\\)"),
    ("1\n2\n", "need at least one feature column and a label column"),
])
def test_bad_csv_is_named_with_its_line(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        load_csv(write(tmp_path, text))


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="cannot read the file"):
        load_csv(tmp_path / "missing.csv")
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ValueError, match="not a readable UTF-8 text file"):
        load_csv(path)


def test_parse_csv_names_its_source():
    with pytest.raises(ValueError, match="^pasted, line 2"):
        parse_csv("1,2,0\n3\n", "pasted")


# --- bundled -----------------------------------------------------------------------------

def test_bundled_iris():
    iris = load_bundled("iris")
    assert iris.X.shape == (150, 4) and iris.class_names == ("setosa", "versicolor", "virginica")
    np.testing.assert_array_equal(np.bincount(iris.y), [50, 50, 50])
    np.testing.assert_allclose(iris.X[0], [5.1, 3.5, 1.4, 0.2])
    np.testing.assert_allclose(iris.X.mean(axis=0), [5.843, 3.057, 3.758, 1.199], atol=1e-3)  # Fisher's means


def test_bundled_digits():
    digits = load_bundled("digits")
    assert digits.X.shape == (1797, 64) and digits.n_classes == 10 and digits.image_shape == (8, 8)
    assert digits.class_names == tuple(str(k) for k in range(10))
    assert digits.X.min() == 0 and digits.X.max() == 16


def test_standardization():
    iris = load_bundled("iris", standardize_features=True)
    np.testing.assert_allclose(iris.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(iris.X.std(axis=0), 1)
    digits = standardize(load_bundled("digits"))  # constant pixels (always 0) stay finite
    assert np.all(np.isfinite(digits.X))


def test_bundled_registry_and_bad_name():
    assert list(BUNDLED) == ["iris", "digits"]
    with pytest.raises(ValueError, match="unknown bundled dataset 'mnist'"):
        load_bundled("mnist")
