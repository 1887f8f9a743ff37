"""Session files: the whole experiment and its view settings as versioned, readable JSON.

    {"format": "losslab-session", "version": 1, "title": "...", "description": "...",
     "experiment": {"problem": {...}, "objective": {...}, "plane": {...}, "model": {...},
                    "runs": [{"method": "gd", "hyper": {"lr": 0.1}, "seed": 0, "enabled": true}, ...],
                    "start": [a, b], "steps": 200, "space": "slice", "theta0": [...]},
     "view": {"layout": "side", ...}}

``theta0`` (all P parameters where the runs start) is written only when set. A problem of
``source="points"`` carries its examples inline, one row of X a line:

    "points": {"X": [[x11, x12], ...], "y": [0, 2, ...], "class_names": ["a", "b", "c"],
               "feature_names": ["x1", "x2"], "image_shape": [8, 8] or null}

Numbers are written with Python's shortest round-trip ``repr``, so the examples read back
bit for bit.

Reading is strict: a truncated or corrupt file, a field of the wrong type, an unknown field
or a file from a newer version raises ``SessionError`` naming the field, and the caller's
current session stays as it was. Missing fields take their defaults, so older files and
hand-written presets may be short. The view settings are a plain mapping here (the window
validates them), which keeps this module free of Qt.
"""
from __future__ import annotations

import json
import math
import os
import uuid
from dataclasses import MISSING, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_type_hints

import numpy as np

from ..engine.datasets import Points, read_file_bytes
from ..engine.experiment import Experiment, ModelSpec, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec, validate
from .files import atomic_write_text

FORMAT = "losslab-session"
VERSION = 1
# a session is a few kB of JSON, a few MB with data embedded (the bundled digits: ~2.5 MB);
# anything this big is not one
MAX_SESSION_BYTES = 64 * 2**20


class SessionError(ValueError):
    """A session file that cannot be read; the message names the file and the field."""


# --- writing --------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot save a non-finite number ({value})")
    return value


def session_to_dict(experiment: Experiment, view: dict[str, Any] | None = None, title: str = "",
                    description: str = "") -> dict[str, Any]:
    """The JSON-ready form of a (validated) session; hyperparameters and surface parameters as objects."""
    experiment = validate(experiment)
    exp = _plain(replace(experiment, problem=replace(experiment.problem, points=None)))
    exp["problem"]["surface_params"] = dict(experiment.problem.surface_params)
    del exp["problem"]["points"]
    if experiment.problem.points is not None:
        exp["problem"]["points"] = points_to_dict(experiment.problem.points)
    if exp.pop("theta0") is not None:
        exp["theta0"] = list(experiment.theta0)
    exp["runs"] = [{"method": r.method, "hyper": dict(r.hyper), "seed": r.seed, "enabled": r.enabled}
                   | ({"steps": r.steps} if r.steps is not None else {}) | ({"color": r.color} if r.color else {})
                   for r in experiment.runs]
    out: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if title:
        out["title"] = title
    if description:
        out["description"] = description
    out["experiment"] = exp
    out["view"] = dict(view or {})
    return out


def points_to_dict(points: Points) -> dict[str, Any]:
    """The JSON-ready form of embedded examples: X as a list of rows, y, the names, image_shape (or None)."""
    return {"X": points.X.tolist(), "y": points.y.tolist(), "class_names": list(points.class_names),
            "feature_names": list(points.feature_names),
            "image_shape": None if points.image_shape is None else list(points.image_shape)}


def dumps(experiment: Experiment, view: dict[str, Any] | None = None, title: str = "", description: str = "") -> str:
    data = session_to_dict(experiment, view, title, description)
    # long number lists are written compactly (json's indent would give every number a line of its
    # own): theta0 on one line, embedded examples one row of X a line. Each is swapped for a unique
    # marker first, then written in its place at the marker's indentation.
    exp, problem = data["experiment"], data["experiment"]["problem"]
    compact = {}
    for owner, key, write in ((exp, "theta0", lambda value, indent: json.dumps(value, allow_nan=False)),
                              (problem, "points", _points_json)):
        if key in owner:
            marker = f"{key}-{uuid.uuid4().hex}"
            compact[json.dumps(marker)] = (owner[key], write)
            owner[key] = marker
    text = json.dumps(data, indent=2, ensure_ascii=False)
    for marker, (value, write) in compact.items():
        line = text[text.rfind("\n", 0, text.index(marker)) + 1:]
        text = text.replace(marker, write(value, len(line) - len(line.lstrip(" "))), 1)
    return text + "\n"


def _points_json(points: dict[str, Any], indent: int) -> str:
    """``points`` as JSON at ``indent`` spaces: each row of X on a line, the other fields on one line each."""
    inner = " " * (indent + 2)
    rows = f",\n{inner}  ".join(json.dumps(row, allow_nan=False) for row in points["X"])
    others = [f"{inner}{json.dumps(key)}: {json.dumps(points[key], ensure_ascii=False, allow_nan=False)}"
              for key in points if key != "X"]
    return "{\n" + ",\n".join([f"{inner}\"X\": [\n{inner}  {rows}\n{inner}]", *others]) + "\n" + " " * indent + "}"


def save_session(path: str | os.PathLike, experiment: Experiment, view: dict[str, Any] | None = None,
                 title: str = "", description: str = "", overwrite: bool = True) -> Path:
    """Write the session atomically (a temporary file renamed into place).

    A CSV dataset is recorded relative to the session's folder, so the two can move together;
    examples carried by the experiment (``source="points"``) are written inside the file.
    """
    problem = experiment.problem
    if problem.source == "csv" and problem.path and os.path.isabs(problem.path):
        folder = Path(path).resolve().parent
        try:
            relative = os.path.relpath(problem.path, folder)
        except ValueError:  # another drive (Windows): keep it absolute
            relative = problem.path
        experiment = replace(experiment, problem=replace(problem, path=relative))
    return atomic_write_text(path, dumps(experiment, view, title, description), overwrite)


# --- reading ----------------------------------------------------------------------------------

_NUMBER = (int, float)


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    """``value`` converted to the field's type, or ``SessionError`` naming ``where``."""
    text = str(annotation)
    if annotation is bool or text == "bool":
        if not isinstance(value, bool):
            raise SessionError(f"{where} must be true or false, not {json.dumps(value)}")
        return value
    if text == "int | None" and value is None:
        return None
    if annotation is int or text in ("int", "int | None"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                return int(value)
            raise SessionError(f"{where} must be a whole number, not {_show(value)}")
        return value
    if annotation is float or text in ("float", "float | None"):
        if value is None and "None" in text:
            return None
        return _number(value, where)
    if annotation is str or text == "str":
        if not isinstance(value, str):
            raise SessionError(f"{where} must be text, not {json.dumps(value)}")
        return value
    return value


def _show(value: Any) -> str:
    """A value as JSON, shortened: error messages stay one readable line."""
    try:
        text = json.dumps(value)
    except (ValueError, OverflowError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _object(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SessionError(f"{where} must be an object {{...}}, not {_show(data)}")
    return data


def spec_from_dict(cls: type, data: Any, where: str, special: dict[str, Any] | None = None) -> Any:
    """A frozen spec from a JSON object: unknown keys and wrong types are named."""
    data = _object(data, where)
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise SessionError(f"{where}.{unknown[0]} is not a known field (known: {', '.join(sorted(names))})")
    values = {}
    for f in fields(cls):
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise SessionError(f"{where}.{f.name} is missing")
            continue
        key = f"{where}.{f.name}"
        if special and f.name in special:
            values[f.name] = special[f.name](data[f.name], key)
        else:
            values[f.name] = _check_type(data[f.name], hints[f.name], key)
    return cls(**values)


def _params(value: Any, where: str) -> tuple[tuple[str, Any], ...]:
    value = _object(value, where)
    for name, v in value.items():
        if isinstance(v, (dict, list)) or v is None:
            raise SessionError(f"{where}.{name} must be a number, true/false or text")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            try:
                finite = math.isfinite(v)
            except OverflowError:
                finite = False
            if not finite:
                raise SessionError(f"{where}.{name} must be a finite number, not {_show(v)}")
    return tuple(sorted(value.items()))


def _pair(value: Any, where: str) -> tuple:
    if not isinstance(value, list) or len(value) != 2:
        raise SessionError(f"{where} must be a list of two numbers [a, b]")
    return tuple(_check_type(v, float, f"{where}[{k}]") for k, v in enumerate(value))


def _names(value: Any, where: str) -> tuple:
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, str) for v in value):
        raise SessionError(f"{where} must be a list of two coordinate names, e.g. [\"W[0,0]\", \"W[1,0]\"]")
    return tuple(value)


def _number(value: Any, where: str) -> float:
    """A finite number (JSON int or float), or ``SessionError`` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        raise SessionError(f"{where} must be a number, not {_show(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise SessionError(f"{where} must be a finite number, not {_show(value)}")
    return number


def _theta0(value: Any, where: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise SessionError(f"{where} must be a list of numbers (all P parameters where the runs start), "
                           f"not {_show(value)}")
    return tuple(_number(v, f"{where}[{k}]") for k, v in enumerate(value))


def _text_list(value: Any, where: str, what: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise SessionError(f"{where} must be a list of {what}, not {_show(value)}")
    for k, v in enumerate(value):
        if not isinstance(v, str):
            raise SessionError(f"{where}[{k}] must be text, not {_show(v)}")
    return tuple(value)


_POINTS_FIELDS = ("X", "y", "class_names", "feature_names", "image_shape")


def _points(value: Any, where: str) -> Points | None:
    """Embedded examples (see the module docstring), each field checked and named."""
    if value is None:
        return None
    data = _object(value, where)
    unknown = sorted(set(data) - set(_POINTS_FIELDS))
    if unknown:
        raise SessionError(f"{where}.{unknown[0]} is not a known field (known: {', '.join(sorted(_POINTS_FIELDS))})")
    for name in ("X", "y", "class_names"):
        if name not in data:
            raise SessionError(f"{where}.{name} is missing")
    X = _points_X(data["X"], f"{where}.X")
    n, d = X.shape
    y, labels = [], data["y"]
    if not isinstance(labels, list):
        raise SessionError(f"{where}.y must be a list of class indices (one per row of X), not {_show(labels)}")
    if len(labels) != n:
        raise SessionError(f"{where}.y has {len(labels)} label{'s' * (len(labels) != 1)}, "
                           f"expected {n} (one per row of X)")
    class_names = _text_list(data["class_names"], f"{where}.class_names", "class names")
    if len(class_names) < 2:
        raise SessionError(f"{where}.class_names must name at least 2 classes, got {len(class_names)}")
    c = len(class_names)
    for k, label in enumerate(labels):
        label = _check_type(label, int, f"{where}.y[{k}]")
        if not 0 <= label < c:
            raise SessionError(f"{where}.y[{k}] must be a class index 0..{c - 1} (C = {c} class names), not {label}")
        y.append(label)
    feature_names = _text_list(data.get("feature_names", []), f"{where}.feature_names", "feature names")
    if feature_names and len(feature_names) != d:
        raise SessionError(f"{where}.feature_names has {len(feature_names)} names, expected {d} "
                           f"(one per column of X) or none")
    shape = data.get("image_shape")
    if shape is not None:
        if not isinstance(shape, list) or len(shape) != 2:
            raise SessionError(f"{where}.image_shape must be null or [height, width], not {_show(shape)}")
        shape = tuple(_check_type(v, int, f"{where}.image_shape[{k}]") for k, v in enumerate(shape))
        if min(shape) < 1 or shape[0] * shape[1] != d:
            raise SessionError(f"{where}.image_shape must be [height, width] with height × width = {d} "
                               f"(the number of features), not {_show(data['image_shape'])}")
    try:
        return Points.of(X, np.array(y, dtype=np.int64), class_names, feature_names, shape)
    except ValueError as err:  # everything is checked above; this names whatever is left
        raise SessionError(f"{where}: {err}") from None


def _points_X(value: Any, where: str) -> np.ndarray:
    """X as a float64 (N, D) array from a list of N rows of D numbers each."""
    if not isinstance(value, list) or not value:
        raise SessionError(f"{where} must be a list of rows [[x1, x2, ...], ...], at least one, not {_show(value)}")
    width = None
    for k, row in enumerate(value):
        if not isinstance(row, list):
            raise SessionError(f"{where}[{k}] must be a list of numbers (one row of X), not {_show(row)}")
        if width is None:
            width = len(row)
            if not width:
                raise SessionError(f"{where}[0] is empty: every row needs at least one feature value")
        elif len(row) != width:
            raise SessionError(f"{where}: row {k} has {len(row)} value{'s' * (len(row) != 1)}, "
                               f"expected {width} (as row 0)")
        for j, v in enumerate(row):
            if type(v) is not float and (isinstance(v, bool) or not isinstance(v, int)):
                raise SessionError(f"{where}[{k}][{j}] must be a number, not {_show(v)}")
    try:
        X = np.array(value, dtype=np.float64)
    except OverflowError:  # a whole number past float64's range
        X = None
    if X is None or not np.isfinite(X).all():
        for k, row in enumerate(value):
            for j, v in enumerate(row):
                _number(v, f"{where}[{k}][{j}]")
    return X


def _runs(value: Any, where: str) -> tuple[RunSpec, ...]:
    if not isinstance(value, list):
        raise SessionError(f"{where} must be a list of optimizers")
    return tuple(spec_from_dict(RunSpec, item, f"{where}[{k}]", {"hyper": _params}) for k, item in enumerate(value))


def session_from_dict(data: Any, source: str = "session") -> tuple[Experiment, dict[str, Any], dict[str, str]]:
    """``(experiment, view, info)`` from parsed JSON; ``info`` holds the title and description.

    Raises ``SessionError`` naming the field for anything that is not a valid session.
    """
    try:
        data = _object(data, "the file")
        if data.get("format") != FORMAT:
            raise SessionError(f"not a losslab session (\"format\" must be \"{FORMAT}\")")
        version = data.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise SessionError("version must be a whole number")
        if version > VERSION:
            raise SessionError(f"written by a newer losslab (file version {version}; this one reads up to {VERSION})")
        if version < 1:
            raise SessionError(f"version {version} is not a session version")
        known = {"format", "version", "title", "description", "experiment", "view"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SessionError(f"{unknown[0]} is not a known field (known: {', '.join(sorted(known))})")
        exp = _object(data.get("experiment", {}), "experiment")
        experiment = spec_from_dict(Experiment, exp, "experiment", {
            "problem": lambda v, w: spec_from_dict(ProblemSpec, v, w, {"surface_params": _params, "points": _points}),
            "objective": lambda v, w: spec_from_dict(ObjectiveSpec, v, w),
            "plane": lambda v, w: spec_from_dict(PlaneSpec, v, w, {"axes": _names}),
            "model": lambda v, w: spec_from_dict(ModelSpec, v, w),
            "runs": _runs,
            "start": _pair,
            "theta0": _theta0,
        })
        try:
            experiment = validate(experiment)
        except (ValueError, ArithmeticError) as err:
            raise SessionError(f"experiment: {err}") from None
        view = _object(data.get("view", {}), "view")
        info = {key: data.get(key, "") for key in ("title", "description")}
        for key, text in info.items():
            if not isinstance(text, str):
                raise SessionError(f"{key} must be text")
    except SessionError as err:
        raise SessionError(f"{source}: {err}") from None
    return experiment, dict(view), info


def loads(text: str, source: str = "session") -> tuple[Experiment, dict[str, Any], dict[str, str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SessionError(f"{source}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
                           "the file may be truncated or corrupt") from None
    except (RecursionError, ValueError) as err:  # absurd nesting, numbers of thousands of digits
        raise SessionError(f"{source}: not a session file ({type(err).__name__}: {str(err)[:60]})") from None
    return session_from_dict(data, source)


def load_session(path: str | os.PathLike) -> tuple[Experiment, dict[str, Any], dict[str, str]]:
    """Read a session file. A CSV path inside it is taken relative to the file's folder.

    Only a regular file of at most ``MAX_SESSION_BYTES`` is read (see ``read_file_bytes``):
    a FIFO, a directory or a device is refused at once.
    """
    path = Path(path)
    try:
        raw = read_file_bytes(path, MAX_SESSION_BYTES, "a session file")
    except ValueError as err:
        raise SessionError(str(err)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SessionError(f"{path}: not a text file (not UTF-8); it may be corrupt") from None
    experiment, view, info = loads(text, str(path))
    problem = experiment.problem
    if problem.source == "csv" and problem.path and not os.path.isabs(problem.path):
        experiment = replace(experiment, problem=replace(problem, path=str((path.parent / problem.path).resolve())))
    return experiment, view, info


def resource_folder(name: str) -> Path:
    """A folder of the bundled resources (``presets``, ``lessons``), inside the installed package."""
    from importlib import resources
    return Path(str(resources.files("losslab.resources").joinpath(name)))


def presets_folder() -> Path:
    return resource_folder("presets")


def titled_files(folder: Path) -> list[tuple[str, str, Path]]:
    """``(name, title, path)`` of every JSON file in ``folder``, sorted by file name (the title: the file's own)."""
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            title = json.loads(path.read_text(encoding="utf-8")).get("title", path.stem)
        except (OSError, ValueError):
            title = path.stem
        out.append((path.stem, title, path))
    return out


def list_presets() -> list[tuple[str, str, Path]]:
    """``(name, title, path)`` of every bundled preset, sorted by file name."""
    return titled_files(presets_folder())


def find_named(name: str, entries: list[tuple[str, str, Path]]) -> Path | None:
    """The path of the entry called ``name``: "06-momentum-rosenbrock", or just "momentum-rosenbrock"."""
    for entry, _, path in entries:
        if name in (entry, entry.split("-", 1)[-1]):
            return path
    return None


def resolve_session(name_or_path: str) -> Path:
    """A session file path, or the path of the bundled preset of that name."""
    path = Path(name_or_path)
    if path.exists():
        return path
    preset = find_named(name_or_path, list_presets())
    if preset is not None:
        return preset
    names = ", ".join(name for name, _, _ in list_presets())
    raise SessionError(f"{name_or_path}: no such file, and no preset of that name (presets: {names})")
