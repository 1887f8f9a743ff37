"""Datasets: seeded 2-D toy problems, CSV files and the bundled Iris and digits sets.

A :class:`Dataset` holds ``X: (N, D)`` float features, ``y: (N,)`` int labels in
``0..C-1`` and the C class names. Every generator is reproducible from its seed.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from .registry import Entry, Param, Registry

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features ``X (N, D)``, labels ``y (N,)`` in ``0..C-1`` and their names.

    ``image_shape`` is set when each row is an image (the digits: (8, 8)), so the learned
    class weights can be shown as templates.
    """

    X: Array
    y: Array
    class_names: tuple[str, ...]
    name: str = ""
    feature_names: tuple[str, ...] = ()
    image_shape: tuple[int, int] | None = None
    source: str = ""

    @property
    def n_examples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def standardize(dataset: Dataset) -> Dataset:
    """Each feature shifted to mean 0 and scaled to standard deviation 1 (constant features: scale 1)."""
    X = dataset.X
    std = X.std(axis=0)
    std[std == 0] = 1.0
    return replace(dataset, X=(X - X.mean(axis=0)) / std)


# --- generated 2-D problems -------------------------------------------------------------

def _class_sizes(n: int, classes: int) -> Array:
    """n examples split as evenly as possible over the classes."""
    return np.full(classes, n // classes) + (np.arange(classes) < n % classes)


def _blobs(n: int, classes: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    # centres evenly spaced on a circle of radius 2, isotropic Gaussian spread `noise`
    y = np.repeat(np.arange(classes), _class_sizes(n, classes))
    angle = 2 * np.pi * np.arange(classes) / classes + np.pi / 2
    centres = 2.0 * np.column_stack([np.cos(angle), np.sin(angle)])
    return centres[y] + noise * rng.standard_normal((n, 2)), y


def _spiral(n: int, classes: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    # CS231n's spiral: radius grows 0 -> 1 along each arm while the angle sweeps 4 radians,
    # with Gaussian noise on the angle; arms start evenly spaced around the circle
    parts_X, parts_y = [], []
    for k, size in enumerate(_class_sizes(n, classes)):
        r = np.linspace(0.0, 1.0, size)
        t = np.linspace(0.0, 4.0, size) + 2 * np.pi * k / classes + noise * rng.standard_normal(size)
        parts_X.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        parts_y.append(np.full(size, k))
    return np.vstack(parts_X), np.concatenate(parts_y)


def _circles(n: int, classes: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    # class k lies on the ring of radius (k + 1) / classes, with Gaussian radial noise
    y = np.repeat(np.arange(classes), _class_sizes(n, classes))
    t = rng.uniform(0, 2 * np.pi, n)
    r = (y + 1) / classes + noise * rng.standard_normal(n)
    return np.column_stack([r * np.cos(t), r * np.sin(t)]), y


def _checkerboard(n: int, classes: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    # uniform points on [-1, 1]^2 cut into a max(2, C) x max(2, C) board; cell (i, j) has
    # class (i + j) mod C (C = 2 is XOR); then Gaussian jitter of size `noise`
    cells = max(2, classes)
    X = rng.uniform(-1.0, 1.0, (n, 2))
    ij = np.minimum(((X + 1.0) / 2.0 * cells).astype(int), cells - 1)
    y = (ij[:, 0] + ij[:, 1]) % classes
    return X + noise * rng.standard_normal((n, 2)), y


def _noise(default: float) -> Param:
    return Param("noise", default, "noise", low=0.0, high=10.0, help="spread of the Gaussian noise")


_N = Param("n", 300, "examples N", kind=int, low=2, high=1_000_000)
_CLASSES = Param("classes", 3, "classes C", kind=int, low=2, high=100)

DATASETS = Registry("dataset", [
    Entry("blobs", "Gaussian blobs", _blobs, "x ~ N(μ_k, σ² I), centres on a circle", (_N, _CLASSES, _noise(0.5)),
          "Well separated clusters: a linear classifier does well."),
    Entry("spiral", "Spiral", _spiral, "r ∈ [0, 1], θ = 2πk/C + 4r + σ·ε", (_N, _CLASSES, _noise(0.2)),
          "CS231n's spiral arms: not linearly separable."),
    Entry("circles", "Concentric circles", _circles, "r = (k+1)/C + σ·ε", (_N, _CLASSES, _noise(0.05)),
          "Rings inside rings: a linear classifier cannot separate them."),
    Entry("xor", "XOR / checkerboard", _checkerboard, "class = (i + j) mod C on a grid of cells",
          (_N, _CLASSES, _noise(0.02)), "Two classes: XOR. More: a checkerboard."),
])


def make_dataset(kind: str = "blobs", n: int = 300, classes: int = 3, noise: float | None = None,
                 seed: int = 0) -> Dataset:
    """A seeded 2-D toy dataset from ``DATASETS``: ``X (n, 2)``, ``y (n,)`` in ``0..classes-1``.

    ``noise=None`` uses the kind's default. The rows are shuffled; the same arguments
    always give the same data.
    """
    entry = DATASETS[kind]
    values = entry.validate({"n": n, "classes": classes} | ({} if noise is None else {"noise": noise}))
    n, classes = values["n"], values["classes"]
    if n < classes:
        raise ValueError(f"n must be at least the number of classes ({classes}), got {n}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(seed)
    X, y = entry.impl(n, classes, values["noise"], rng)
    order = rng.permutation(n)
    return Dataset(X[order], y[order].astype(np.intp), tuple(f"class {k}" for k in range(classes)),
                   name=kind, feature_names=("x₁", "x₂"),
                   source=f"make_dataset({kind!r}, n={n}, classes={classes}, noise={values['noise']:g}, seed={seed})")


# --- CSV ----------------------------------------------------------------------------------

def _as_float(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def parse_csv(text: str, source: str = "<csv>") -> Dataset:
    """A dataset from CSV text: numeric feature columns, then one label column (last).

    The header row is optional (detected when a feature cell of the first row is not a
    number). Labels are integers or strings; classes are numbered in sorted order for
    integers and in order of first appearance for strings. Problems raise ``ValueError``
    naming the line.
    """
    rows = [(i, row) for i, row in enumerate(csv.reader(io.StringIO(text)), start=1)
            if any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"{source}: the file is empty")
    header: list[str] | None = None
    first_line, first = rows[0]
    if len(first) < 2:
        raise ValueError(f"{source}, line {first_line}: need at least one feature column and a label column, "
                         f"found {len(first)} column")
    if any(_as_float(cell) is None for cell in first[:-1]):
        header = [cell.strip() for cell in first]
        rows = rows[1:]
        if not rows:
            raise ValueError(f"{source}: the file has a header but no data rows")
    width = len(first)
    features = np.empty((len(rows), width - 1))
    labels: list[str] = []
    for r, (line, row) in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"{source}, line {line}: expected {width} columns, found {len(row)}")
        for c, cell in enumerate(row[:-1]):
            value = _as_float(cell)
            if value is None:
                raise ValueError(f"{source}, line {line}, column {c + 1}: {cell.strip()!r} is not a number")
            if not math.isfinite(value):
                raise ValueError(f"{source}, line {line}, column {c + 1}: {cell.strip()!r} is not a finite number")
            features[r, c] = value
        label = row[-1].strip()
        if not label:
            raise ValueError(f"{source}, line {line}: the label (last column) is empty")
        labels.append(label)
    as_numbers = [_as_float(label) for label in labels]
    if all(v is not None and math.isfinite(v) and v == int(v) for v in as_numbers):
        values = [int(v) for v in as_numbers]
        names = sorted(set(values))
        index = {v: k for k, v in enumerate(names)}
        y = np.array([index[v] for v in values], dtype=np.intp)
        class_names = tuple(str(v) for v in names)
    else:
        class_names = tuple(dict.fromkeys(labels))
        index = {v: k for k, v in enumerate(class_names)}
        y = np.array([index[v] for v in labels], dtype=np.intp)
    if len(class_names) < 2:
        raise ValueError(f"{source}: only one class ({class_names[0]!r}) found; a classifier needs at least 2")
    feature_names = tuple(header[:-1]) if header else tuple(f"x{k + 1}" for k in range(width - 1))
    return Dataset(features, y, class_names, name=Path(source).stem, feature_names=feature_names, source=source)


def load_csv(path: str | Path) -> Dataset:
    """Read a dataset from a CSV file (``.csv`` or gzipped ``.csv.gz``); see :func:`parse_csv`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ValueError(f"{path}: cannot read the file ({err.strerror or err})") from None
    try:
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8-sig")
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable UTF-8 text file ({err})") from None
    return parse_csv(text, str(path))


# --- bundled real data --------------------------------------------------------------------

def _resource(name: str):
    return resources.files("losslab.resources").joinpath("datasets", name)


BUNDLED = Registry("bundled dataset", [
    Entry("iris", "Iris (150 × 4, 3 species)", lambda: _resource("iris.csv"),
          description="Fisher's iris flowers: sepal and petal length and width in cm."),
    Entry("digits", "Digits (1797 × 64, 10 classes)", lambda: _resource("digits.csv.gz"),
          description="8×8 images of handwritten digits, pixel counts 0..16 (UCI).",
          extra={"image_shape": (8, 8)}),
])


def load_bundled(name: str, standardize_features: bool = False) -> Dataset:
    """A dataset shipped with losslab: ``"iris"`` or ``"digits"`` (see ``BUNDLED``).

    ``standardize_features=True`` rescales each feature to mean 0 and standard deviation 1.
    """
    entry = BUNDLED[name]
    file = entry.impl()
    raw = file.read_bytes()
    if file.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    dataset = replace(parse_csv(raw.decode("utf-8"), f"{name} (bundled)"), name=name,
                      image_shape=entry.extra.get("image_shape"))
    return standardize(dataset) if standardize_features else dataset
