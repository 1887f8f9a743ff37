"""Session files: the whole experiment and its view settings as versioned, readable JSON.

    {"format": "losslab-session", "version": 1, "title": "...", "description": "...",
     "experiment": {"problem": {...}, "objective": {...}, "plane": {...}, "model": {...},
                    "runs": [{"method": "gd", "hyper": {"lr": 0.1}, "seed": 0, "enabled": true}, ...],
                    "start": [a, b], "steps": 200, "space": "slice"},
     "view": {"layout": "side", ...}}

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
from dataclasses import MISSING, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_type_hints

from ..engine.datasets import read_file_bytes
from ..engine.experiment import Experiment, ModelSpec, ObjectiveSpec, PlaneSpec, ProblemSpec, RunSpec, validate
from .files import atomic_write_text

FORMAT = "losslab-session"
VERSION = 1
MAX_SESSION_BYTES = 16 * 2**20  # a session is a few kB of JSON; anything this big is not one


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
    exp = _plain(experiment)
    exp["problem"]["surface_params"] = dict(experiment.problem.surface_params)
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


def dumps(experiment: Experiment, view: dict[str, Any] | None = None, title: str = "", description: str = "") -> str:
    return json.dumps(session_to_dict(experiment, view, title, description), indent=2, ensure_ascii=False) + "\n"


def save_session(path: str | os.PathLike, experiment: Experiment, view: dict[str, Any] | None = None,
                 title: str = "", description: str = "", overwrite: bool = True) -> Path:
    """Write the session atomically (a temporary file renamed into place).

    A CSV dataset is recorded relative to the session's folder, so the two can move together.
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
        if isinstance(value, bool) or not isinstance(value, _NUMBER):
            raise SessionError(f"{where} must be a number, not {_show(value)}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise SessionError(f"{where} must be a finite number, not {_show(value)}")
        return number
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
            "problem": lambda v, w: spec_from_dict(ProblemSpec, v, w, {"surface_params": _params}),
            "objective": lambda v, w: spec_from_dict(ObjectiveSpec, v, w),
            "plane": lambda v, w: spec_from_dict(PlaneSpec, v, w, {"axes": _names}),
            "model": lambda v, w: spec_from_dict(ModelSpec, v, w),
            "runs": _runs,
            "start": _pair,
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


def presets_folder() -> Path:
    from importlib import resources
    return Path(str(resources.files("losslab.resources").joinpath("presets")))


def list_presets() -> list[tuple[str, str, Path]]:
    """``(name, title, path)`` of every bundled preset, sorted by file name."""
    out = []
    for path in sorted(presets_folder().glob("*.json")):
        try:
            title = json.loads(path.read_text(encoding="utf-8")).get("title", path.stem)
        except (OSError, ValueError):
            title = path.stem
        out.append((path.stem, title, path))
    return out


def resolve_session(name_or_path: str) -> Path:
    """A session file path, or the path of the bundled preset of that name."""
    path = Path(name_or_path)
    if path.exists():
        return path
    for name, _, preset in list_presets():  # "06-momentum-rosenbrock" or just "momentum-rosenbrock"
        if name_or_path in (name, name.split("-", 1)[-1]):
            return preset
    names = ", ".join(name for name, _, _ in list_presets())
    raise SessionError(f"{name_or_path}: no such file, and no preset of that name (presets: {names})")
