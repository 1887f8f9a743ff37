"""Lessons: a title and an ordered list of steps, each a session to show with a text about it.

    {"format": "losslab-lesson", "version": 1, "title": "...", "description": "...",
     "steps": [{"title": "...", "text": "rich text",
                "session": "PRESET" or {a session: "experiment", "view"},
                "changes": {"experiment": {...}, "view": {...}},
                "frame": 40, "point_at": {"run": 1} | {"panel": "examples"} | {"row": 0}}, ...]}

A step's session is its ``session`` (a bundled preset's name, or a session object as in a
session file) with its ``changes`` merged in; a step without ``session`` starts from the
step before it, so the first step must have one. Changes merge object by object (a key
inside ``"objective"`` replaces only that key); a list, such as ``"runs"``, is replaced
whole. ``frame`` is the step to stop the animation at (none: play from the start);
``point_at`` names what the text talks about: a run (its position among the runs), a panel
of the window (``PANELS``) or a row of the examples table.

Reading is as strict as for sessions: every step is built and validated on loading, and a
bad field raises ``LessonError`` naming the lesson, the step and the field. Qt-free.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.datasets import read_file_bytes
from ..engine.experiment import Experiment
from .session_file import (MAX_SESSION_BYTES, SessionError, find_named, resolve_session, resource_folder,
                           session_from_dict, titled_files)

FORMAT = "losslab-lesson"
VERSION = 1
# what a step may point at in the window: the left panels, the bottom tabs, the figure's parts
PANELS = ("data", "loss", "slice", "optimizers", "view", "readout", "examples", "parameters", "cuts",
          "curvature", "notes", "landscape", "curves", "data view")
POINT_AT = ("run", "panel", "row")
_STEP_FIELDS = ("title", "text", "session", "changes", "frame", "point_at")


class LessonError(SessionError):
    """A lesson that cannot be read, or a step that does not exist; the message names the lesson and step."""


@dataclass(frozen=True)
class LessonStep:
    """One step: what to show (``experiment`` and the ``view`` mapping), where to stop, and what to say."""

    title: str
    text: str
    experiment: Experiment
    view: dict[str, Any]
    frame: int | None = None
    point_at: tuple[str, Any] | None = None  # ("run", 1), ("panel", "examples") or ("row", 0)
    session: dict[str, Any] | None = None  # the step's whole session as JSON (what "changes" merge into)


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    description: str
    steps: tuple[LessonStep, ...]

    def step(self, number: int) -> LessonStep:
        """Step ``number``, counted from 1 as the lesson bar and the command line count; LessonError past the end."""
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(self.steps):
            raise LessonError(f"lesson {self.name} has {len(self.steps)} steps (1 to {len(self.steps)}); "
                              f"there is no step {number}")
        return self.steps[number - 1]


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in, object by object (lists and plain values replace); inputs unchanged."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def _preset_session(name: str) -> dict[str, Any]:
    path = resolve_session(name)
    data = json.loads(path.read_text(encoding="utf-8"))
    return {key: data[key] for key in ("experiment", "view") if key in data}


def _step_session(item: dict[str, Any], previous: dict[str, Any] | None, where: str) -> dict[str, Any]:
    session = item.get("session")
    if isinstance(session, str):
        try:
            base = _preset_session(session)
        except SessionError as err:
            raise LessonError(f"{where}.session: {err}") from None
    elif isinstance(session, dict):
        unknown = sorted(set(session) - {"format", "version", "experiment", "view"})
        if unknown:
            raise LessonError(f"{where}.session: {unknown[0]} is not a session field (experiment, view)")
        base = {key: session[key] for key in ("experiment", "view") if key in session}
    elif session is None:
        if previous is None:
            raise LessonError(f"{where}: the first step needs a session (a preset's name or a session object)")
        base = previous
    else:
        raise LessonError(f"{where}.session must be a preset's name or a session object")
    changes = item.get("changes", {})
    if not isinstance(changes, dict) or set(changes) - {"experiment", "view"}:
        raise LessonError(f"{where}.changes must be an object with \"experiment\" and/or \"view\"")
    return merged(base, changes)


def _point_at(value: Any, where: str) -> tuple[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in POINT_AT:
        raise LessonError(f"{where}.point_at must be one of {{\"run\": K}}, {{\"panel\": NAME}}, {{\"row\": K}}")
    kind, target = next(iter(value.items()))
    if kind == "panel":
        if target not in PANELS:
            raise LessonError(f"{where}.point_at: {target!r} is not a panel (panels: {', '.join(PANELS)})")
    elif isinstance(target, bool) or not isinstance(target, int) or target < 0:
        raise LessonError(f"{where}.point_at: a {kind} is a position, 0 or more; got {target!r}")
    return kind, target


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise LessonError(f"{where} must be text")
    return value


def lesson_from_dict(data: Any, name: str) -> Lesson:
    """A lesson from parsed JSON; every step's session is built and validated (``LessonError`` if any is bad)."""
    if not isinstance(data, dict):
        raise LessonError(f"{name}: a lesson is a JSON object")
    if data.get("format") != FORMAT:
        raise LessonError(f"{name}: not a losslab lesson (\"format\" must be \"{FORMAT}\")")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version:
        raise LessonError(f"{name}: version must be a whole number, 1 or more")
    if version > VERSION:
        raise LessonError(f"{name}: written by a newer losslab (lesson version {version}; this one reads "
                          f"up to {VERSION})")
    unknown = sorted(set(data) - {"format", "version", "title", "description", "steps"})
    if unknown:
        raise LessonError(f"{name}: {unknown[0]} is not a known field (title, description, steps)")
    title = _text(data.get("title", name), f"{name}: title")
    description = _text(data.get("description", ""), f"{name}: description")
    items = data.get("steps")
    if not isinstance(items, list) or not items:
        raise LessonError(f"{name}: steps must be a list of at least one step")
    steps, previous = [], None
    for k, item in enumerate(items, start=1):
        where = f"{name}: step {k}"
        if not isinstance(item, dict):
            raise LessonError(f"{where} must be an object")
        unknown = sorted(set(item) - set(_STEP_FIELDS))
        if unknown:
            raise LessonError(f"{where}: {unknown[0]} is not a step field ({', '.join(_STEP_FIELDS)})")
        session = _step_session(item, previous, where)
        try:
            experiment, view, _ = session_from_dict({"format": "losslab-session", "version": 1, **session}, where)
        except SessionError as err:
            raise LessonError(str(err)) from None
        frame = item.get("frame")
        if frame is not None and (isinstance(frame, bool) or not isinstance(frame, int) or frame < 0):
            raise LessonError(f"{where}.frame must be a step of the animation, 0 or more; got {frame!r}")
        steps.append(LessonStep(_text(item.get("title", f"Step {k}"), f"{where}.title"),
                                _text(item.get("text", ""), f"{where}.text"), experiment, view, frame,
                                _point_at(item.get("point_at"), where), session))
        previous = session
    return Lesson(name, title, description, tuple(steps))


def load_lesson(name_or_path: str | os.PathLike) -> Lesson:
    """A bundled lesson by name (``1-svm-loss`` or ``svm-loss``) or a lesson file."""
    path = resolve_lesson(str(name_or_path))
    try:
        raw = read_file_bytes(path, MAX_SESSION_BYTES, "a lesson file")
    except ValueError as err:
        raise LessonError(str(err)) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise LessonError(f"{path}: not a lesson file ({str(err)[:80]})") from None
    return lesson_from_dict(data, path.stem)


def lessons_folder() -> Path:
    return resource_folder("lessons")


def list_lessons() -> list[tuple[str, str, Path]]:
    """``(name, title, path)`` of every bundled lesson, in the order of the course (their file names)."""
    return titled_files(lessons_folder())


def find_lesson(name_or_path: str) -> Path | None:
    """The lesson file ``name_or_path`` names (a bundled lesson's name, with or without its number), or None."""
    bundled = find_named(name_or_path, list_lessons())
    if bundled is not None:
        return bundled
    path = Path(name_or_path)
    if path.suffix.lower() == ".json" and path.is_file() and is_lesson_file(path):
        return path
    return None


def resolve_lesson(name_or_path: str) -> Path:
    path = find_lesson(name_or_path)
    if path is None:
        names = ", ".join(name for name, _, _ in list_lessons())
        raise LessonError(f"{name_or_path}: no lesson of that name (lessons: {names})")
    return path


def is_lesson_file(path: Path) -> bool:
    """Whether a JSON file says it is a lesson (its first kilobytes name the format).

    Only a regular file is opened: a FIFO or a device would block or never end.
    """
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    return f'"{FORMAT}"' in head
