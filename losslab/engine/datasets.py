"""Datasets: seeded 2-D toy problems, CSV files and the bundled Iris and digits sets.

A :class:`Dataset` holds ``X: (N, D)`` float features, ``y: (N,)`` int labels in
``0..C-1`` and the C class names. Every generator is reproducible from its seed.
"""
from __future__ import annotations

import contextlib
import csv
import gzip
import io
import math
import os
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from .generators import drain
from .registry import Entry, Param, Registry

Array = np.ndarray


class _Sizes:
    """N, D and C of anything holding ``X (N, D)`` and its C ``class_names``."""

    @property
    def n_examples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True, eq=False)
class Dataset(_Sizes):
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
    Entry("blobs", "Gaussian blobs", _blobs, "x ~ N(μₖ, σ²I), centres on a circle", (_N, _CLASSES, _noise(0.5)),
          "Well separated clusters: a linear classifier does well."),
    Entry("spiral", "Spiral", _spiral, "r ∈ [0, 1], θ = 2πk/C + 4r + σ·ε", (_N, _CLASSES, _noise(0.2)),
          "CS231n's spiral arms: not linearly separable."),
    Entry("circles", "Concentric circles", _circles, "r = (k+1)/C + σ·ε", (_N, _CLASSES, _noise(0.05)),
          "Rings inside rings: a linear classifier cannot separate them."),
    Entry("xor", "XOR / checkerboard", _checkerboard, "class = (i + j) mod C on a grid of cells",
          (_N, _CLASSES, _noise(0.02)), "Two classes: XOR. More: a checkerboard."),
])


def _check_huge_integer(param: Param, value: object) -> None:
    """Refuse an int far outside ``param``'s range before it meets float(): 10**400 would overflow there."""
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) < 10**15:
        return  # the registry's own check handles everything of a sensible size
    low = -math.inf if param.low is None else param.low
    high = math.inf if param.high is None else param.high
    if not low <= value <= high:
        raise ValueError(f"{param.name} must be between {low:g} and {high:g}, "
                         f"got about {'-' if value < 0 else ''}1e{math.log10(abs(value)):.0f}")


def make_dataset(kind: str = "blobs", n: int = 300, classes: int = 3, noise: float | None = None,
                 seed: int = 0) -> Dataset:
    """A seeded 2-D toy dataset from ``DATASETS``: ``X (n, 2)``, ``y (n,)`` in ``0..classes-1``.

    ``noise=None`` uses the kind's default. The rows are shuffled; the same arguments
    always give the same data.
    """
    entry = DATASETS[kind]
    given = {"n": n, "classes": classes} | ({} if noise is None else {"noise": noise})
    for param in entry.params:
        _check_huge_integer(param, given.get(param.name))
    values = entry.validate(given)
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


# --- examples carried by an experiment ------------------------------------------------------

def _readonly(array: Array) -> Array:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False, repr=False)
class Points(_Sizes):
    """Examples carried by the experiment itself (edited or embedded data): X (N, D) float64, y (N,) int, C classes.

    Unlike a :class:`Dataset`, which is loaded or generated from a recipe, points *are* the
    data: an experiment whose ``problem.source`` is ``"points"`` fits exactly these, and a
    session file stores them inline. Every ``Points`` is valid: the constructor (and
    :meth:`of`, its keyword-friendly alias) copies ``X`` to float64 and ``y`` to int64,
    makes both read-only and raises ``ValueError`` naming any problem. Two ``Points`` are
    equal (and hash alike) when their shapes, their values bit for bit and their names are.
    """

    X: Array   # read-only copies
    y: Array
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...] = ()
    image_shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        X, y = self.X, self.y
        try:
            X = np.asarray(X)
        except (TypeError, ValueError, OverflowError):  # ragged rows, ints too large for any dtype
            raise ValueError("X must be a 2-D array of numbers (N examples × D features), "
                             "every row of the same length") from None
        if np.iscomplexobj(X):
            raise ValueError("X must be real numbers, not complex ones")
        if X.dtype.kind not in "iuf":
            raise ValueError(f"X must hold numbers (N examples × D features), got an array of {X.dtype}")
        X = np.array(X, dtype=np.float64)  # always a copy
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array (N examples × D features), got shape {X.shape}")
        if X.shape[0] < 1:
            raise ValueError(f"X must hold at least one example (N ≥ 1), got shape {X.shape}")
        if X.shape[1] < 1:
            raise ValueError(f"X must have at least one feature (D ≥ 1), got shape {X.shape}")
        if not np.isfinite(X).all():
            row, column = np.argwhere(~np.isfinite(X))[0]
            raise ValueError(f"X must be finite: row {row}, column {column} is {X[row, column]}")
        n = X.shape[0]
        y = np.asarray(y)
        if y.shape != (n,):
            raise ValueError(f"y must have shape (N,) = ({n},), one label per row of X, got shape {y.shape}")
        if y.dtype.kind == "f":
            whole = np.isfinite(y) & (y == np.round(y))
            if not whole.all():
                k = int(np.argmin(whole))
                raise ValueError(f"y must hold whole numbers (class indices), got {y[k]} at index {k}")
        elif y.dtype.kind not in "iu":
            raise ValueError(f"y must hold integers (class indices), got an array of {y.dtype}")
        names = tuple(self.class_names) if not isinstance(self.class_names, str) else (self.class_names,)
        if not all(isinstance(name, str) for name in names):
            raise ValueError(f"class_names must be text, got {names!r}")
        if len(names) < 2:
            raise ValueError(f"class_names must name at least 2 classes (a classifier needs C ≥ 2), got {len(names)}")
        c = len(names)
        outside = (y < 0) | (y > c - 1)
        if outside.any():
            k = int(np.argmax(outside))
            raise ValueError(f"y must be class indices in 0..C-1 = 0..{c - 1}, got {y[k]:g} at index {k}"
                             if y.dtype.kind == "f" else
                             f"y must be class indices in 0..C-1 = 0..{c - 1}, got {y[k]} at index {k}")
        y = y.astype(np.int64)  # a copy
        features = tuple(self.feature_names) if not isinstance(self.feature_names, str) else (self.feature_names,)
        if not all(isinstance(name, str) for name in features):
            raise ValueError(f"feature_names must be text, got {features!r}")
        if features and len(features) != X.shape[1]:
            raise ValueError(f"feature_names must be empty or name all D = {X.shape[1]} features, "
                             f"got {len(features)}")
        shape = self.image_shape
        if shape is not None:
            values = tuple(shape) if isinstance(shape, (tuple, list)) else ()
            ok = len(values) == 2 and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
                                          for v in values)
            if not ok:
                raise ValueError(f"image_shape must be None or two positive whole numbers (height, width), "
                                 f"got {self.image_shape!r}")
            shape = (int(values[0]), int(values[1]))
            if shape[0] * shape[1] != X.shape[1]:
                raise ValueError(f"image_shape {shape[0]} × {shape[1]} must hold the D = {X.shape[1]} features, "
                                 f"one pixel each")
        for name, value in (("X", _readonly(X)), ("y", _readonly(y)), ("class_names", names),
                            ("feature_names", features), ("image_shape", shape)):
            object.__setattr__(self, name, value)

    @classmethod
    def of(cls, X, y, class_names, feature_names=(), image_shape=None) -> Points:
        """Validated read-only copies: ``X`` as float64 ``(N, D)``, ``y`` as int64 ``(N,)`` in ``0..C-1``.

        ``class_names`` names the C ≥ 2 classes; ``feature_names`` is empty or names all D
        features; ``image_shape`` is None or ``(height, width)`` with ``height * width = D``.
        """
        return cls(X, y, tuple(class_names), tuple(feature_names),
                   None if image_shape is None else tuple(image_shape))

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> Points:
        """The examples of ``dataset``, as they are (already standardized if it was)."""
        return cls.of(dataset.X, dataset.y, dataset.class_names, dataset.feature_names, dataset.image_shape)

    def dataset(self, name: str = "points") -> Dataset:
        """A :class:`Dataset` of these examples (sharing the read-only arrays), named ``name``."""
        return Dataset(self.X, self.y, self.class_names, name=name, feature_names=self.feature_names,
                       image_shape=self.image_shape,
                       source=f"{name}: {self.n_examples} × {self.n_features} points carried by the experiment")


    def _key(self) -> tuple:
        return (self.X.shape, self.class_names, self.feature_names, self.image_shape)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Points):
            return NotImplemented
        return (self._key() == other._key() and self.y.tobytes() == other.y.tobytes()
                and self.X.tobytes() == other.X.tobytes())

    def __hash__(self) -> int:
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self._key(), self.X.tobytes(), self.y.tobytes()))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __repr__(self) -> str:
        return (f"Points(N={self.n_examples}, D={self.n_features}, class_names={self.class_names!r}"
                + (f", image_shape={self.image_shape}" if self.image_shape else "") + ")")


# --- reading files ------------------------------------------------------------------------

# of CSV text, after decompression: parsing holds every cell as a Python string, ~20 bytes per
# byte of text (budget.csv_cost), so this keeps a CSV within the 2 GB memory budget
MAX_CSV_BYTES = 64 * 2**20
CSV_ROWS_PER_YIELD = 20_000  # parse_csv_blocks yields this often: a cancellation point every ~50 ms

_CHUNK = 2**20

_NOT_A_FILE = (  # what a path can be instead of a regular file
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:g} MB" if n_bytes >= 2**20 else f"{n_bytes} bytes"


def _refuse_unless_regular(path: Path, mode: int, what: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _NOT_A_FILE if test(mode)), "not a regular file")
    raise ValueError(f"{path} is {kind}, not a file; choose {what}")


def read_file_bytes(path: str | os.PathLike, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them; a ``.gz`` file comes decompressed.

    Only regular files are read: a FIFO, directory, device or socket is refused at once
    (the file is opened non-blocking, so a FIFO without a writer cannot hang the caller).
    A file larger than ``limit`` bytes, or a ``.gz`` one that inflates past it, is refused
    without reading or inflating more than ``limit + 1`` bytes. ``what`` names the kind of
    file wanted, for the messages ("a CSV file"). Every problem is a ``ValueError``
    naming the path.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as err:
        with contextlib.suppress(OSError):  # a socket cannot be opened at all: say what it is
            _refuse_unless_regular(path, os.stat(path).st_mode, what)
        raise ValueError(f"{path}: cannot read the file ({err.strerror or err})") from None
    too_large = f"{path} is larger than {_size(limit)}; {what} may be at most that size"
    try:
        info = os.fstat(fd)
        _refuse_unless_regular(path, info.st_mode, what)
        if info.st_size > limit:
            raise ValueError(too_large)
        chunks, total = [], 0
        while total <= limit:  # the size may have changed since fstat: count what is read
            chunk = os.read(fd, min(16 * _CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as err:
        raise ValueError(f"{path}: cannot read the file ({err.strerror or err})") from None
    finally:
        os.close(fd)
    if total > limit:
        raise ValueError(too_large)
    raw = b"".join(chunks)
    return _gunzip(raw, limit, path, what) if path.suffix == ".gz" else raw


def _gunzip(packed: bytes, limit: int, path: Path, what: str) -> bytes:
    """Inflate gzip data member by member, a chunk at a time, refusing more than ``limit`` bytes of output."""
    pieces, total = [], 0
    rest = packed
    try:
        while rest:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # 16 +: expect a gzip header and trailer
            while not inflater.eof:
                # max_length bounds every piece, so a bomb is stopped after limit + 1 bytes
                piece = inflater.decompress(rest, min(_CHUNK, limit + 1 - total))
                pieces.append(piece)
                total += len(piece)
                if total > limit:
                    raise ValueError(f"{path} decompresses to more than {_size(limit)}; "
                                     f"{what} may be at most that size")
                rest = inflater.unconsumed_tail
                if not rest and not piece and not inflater.eof:
                    raise zlib.error("the compressed data ends early")
            rest = inflater.unused_data.lstrip(b"\0")  # another member follows, or zero padding (as gzip allows)
    except zlib.error as err:
        raise ValueError(f"{path}: not a readable gzip file ({err})") from None
    return b"".join(pieces)


# --- CSV ----------------------------------------------------------------------------------

def _shown(cell: str) -> str:
    """A cell for an error message, shortened: messages stay one readable line."""
    text = cell.strip()
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _as_float(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _csv_rows(text: str, source: str) -> list[tuple[int, list[str]]]:
    """The non-blank rows of CSV text, each with the line it ends on (quoted fields may span lines)."""
    # newline="": the csv module splits the lines itself, at LF, CRLF and a lone CR alike
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((reader.line_num, row))
    except csv.Error as err:  # a field past csv.field_size_limit(), a NUL character
        raise ValueError(f"{source}, line {reader.line_num}: not valid CSV ({err})") from None
    return rows


def parse_csv(text: str, source: str = "<csv>") -> Dataset:
    """A dataset from CSV text: numeric feature columns, then one label column (last).

    The header row is optional (detected when a feature cell of the first row is not a
    number). Labels are integers or strings; classes are numbered in sorted order for
    integers and in order of first appearance for strings. Lines may end in LF, CRLF or a
    lone CR. Problems raise ``ValueError`` naming the line.
    """
    return drain(parse_csv_blocks(text, source))


def parse_csv_blocks(text: str, source: str = "<csv>") -> Iterator[int]:
    """:func:`parse_csv` as a generator: yields the rows parsed so far, returns the :class:`Dataset`."""
    rows = _csv_rows(text, source)
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
        if r % CSV_ROWS_PER_YIELD == 0:
            yield r
        if len(row) != width:
            raise ValueError(f"{source}, line {line}: expected {width} columns, found {len(row)}")
        for c, cell in enumerate(row[:-1]):
            value = _as_float(cell)
            if value is None:
                raise ValueError(f"{source}, line {line}, column {c + 1}: {_shown(cell)} is not a number")
            if not math.isfinite(value):
                raise ValueError(f"{source}, line {line}, column {c + 1}: {_shown(cell)} is not a finite number")
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
    """Read a dataset from a CSV file (``.csv`` or gzipped ``.csv.gz``); see :func:`parse_csv`.

    At most ``MAX_CSV_BYTES`` of text are read (see :func:`read_file_bytes`).
    """
    return drain(load_csv_blocks(path))


def load_csv_blocks(path: str | Path) -> Iterator[int]:
    """:func:`load_csv` as a generator (yields the rows parsed so far: cancellation points)."""
    path = Path(path)
    raw = read_file_bytes(path, MAX_CSV_BYTES, "a CSV file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a readable UTF-8 text file ({err})") from None
    return (yield from parse_csv_blocks(text, str(path)))



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
