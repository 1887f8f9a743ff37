"""The one source of truth of the window: the experiment on screen, the change being computed, the view.

A change goes through one path. A setter builds the new experiment from the *target*
(the change in flight if there is one, so quick edits add up), validates it (a bad value
is refused at once with a message naming it: nothing changes), and starts computing it in
the background (:func:`~losslab.engine.experiment.compute`, a generator that yields
often, so a newer change supersedes it at once). Only when everything it needs is
computed is it *committed*: the experiment, its results and the picture of its landscape
replace the old ones together, in one signal. Until then the old state stays on screen;
if the computation fails or is cancelled the controls go back to the committed
experiment and nothing else moves, because nothing was replaced.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QObject, pyqtSignal

from ..engine.budget import CONFIRM_SECONDS
from ..engine.datasets import Points
from ..engine.experiment import (Computed, Experiment, Progress, RunSpec, TooLong, check_batches, compute, drain,
                                 validate, with_points)
from ..engine.models import MODELS, make_model
from ..engine.optimizers import OPTIMIZERS
from ..engine.surfaces import SURFACES, make_surface
from ..io.session_file import SessionError, spec_from_dict
from .display import SurfaceDisplay, surface_display
from .jobs import JobRunner, single

LAYOUTS = ("side", "overlay")
PARTS = ("total", "data", "reg")
X_AXES = ("step", "cost")
THEMES = ("light", "dark")
COLORMAPS = ("viridis", "inferno", "cividis", "turbo")
SURFACE_VIEWS = ("2d", "3d")
PROGRESS_DELAY = 0.5  # s: a computation shows its progress (and a Cancel button) once it takes this long
ARROWS = ("gradient", "step", "velocity")  # −∇L projected, the step taken, the momentum or adaptive scale


@dataclass(frozen=True)
class ViewSettings:
    """How the results are shown (saved with a session, but never recomputes anything)."""

    layout: str = "side"
    part: str = "total"
    log_scale: bool = False
    x_axis: str = "step"
    log_loss: bool = False
    colormap: str = "viridis"
    isolines: int = 12
    theme: str = "light"
    speed: float = 40.0
    loop: bool = False
    data_run: int = 2  # which run's parameters the data view shows (index among enabled runs)
    weights: bool = True  # the linear classifier's weight vectors and zero-score lines over 2-D data
    arrows: tuple[str, ...] = ()  # what the landscape draws at each run's current point (ARROWS)
    surface: str = "2d"  # the landscape as contour panels ("2d") or one shaded surface ("3d")
    eigen_axes: bool = False  # the Hessian's two sharpest directions at each run's current point
    curvature_map: bool = False  # where the loss curves down (λ_min < 0) over the plane, on a coarse grid


def validate_view(view: ViewSettings) -> ViewSettings:
    for name, choices in (("layout", LAYOUTS), ("part", PARTS), ("x_axis", X_AXES), ("theme", THEMES),
                          ("colormap", COLORMAPS), ("surface", SURFACE_VIEWS)):
        if getattr(view, name) not in choices:
            raise ValueError(f"view.{name} must be one of {', '.join(choices)}; got {getattr(view, name)!r}")
    if not (isinstance(view.isolines, int) and 0 <= view.isolines <= 60):
        raise ValueError(f"view.isolines must be a whole number in 0..60, got {view.isolines!r}")
    if isinstance(view.data_run, bool) or not isinstance(view.data_run, int) or not 0 <= view.data_run < 100:
        raise ValueError(f"view.data_run must be a run's position, 0..99, got {view.data_run!r}")
    for name in ("weights", "eigen_axes", "curvature_map"):
        if not isinstance(getattr(view, name), bool):
            raise ValueError(f"view.{name} must be true or false, got {getattr(view, name)!r}")
    arrows = tuple(view.arrows) if isinstance(view.arrows, (tuple, list)) else None
    if arrows is None or any(a not in ARROWS for a in arrows):
        raise ValueError(f"view.arrows must list some of {', '.join(ARROWS)}; got {view.arrows!r}")
    view = replace(view, arrows=tuple(a for a in ARROWS if a in arrows))
    if not (isinstance(view.speed, (int, float)) and 0.5 <= view.speed <= 2000):
        raise ValueError(f"view.speed must be between 0.5 and 2000 frames per second, got {view.speed!r}")
    return view


def view_from_dict(data: dict[str, Any]) -> ViewSettings:
    """View settings from a session file: unknown fields and wrong types are named (``SessionError``)."""
    view = spec_from_dict(ViewSettings, data, "view")
    try:
        return validate_view(view)
    except ValueError as err:
        raise SessionError(str(err)) from None


def colormap_lut(name: str) -> np.ndarray:
    """The colour map as a ``(256, 3|4)`` uint8 lookup table (made on the GUI thread, used anywhere)."""
    return pg.colormap.get(name).getLookupTable(nPts=256)


def display_for(computed: Computed, view: ViewSettings) -> SurfaceDisplay | None:
    """The picture of the landscape the view asks for (pure: runs in a worker or headless)."""
    return surface_display(computed.landscape, view.part, view.log_scale, view.isolines, colormap_lut(view.colormap))


def display_key(view: ViewSettings) -> tuple:
    """The view settings the landscape's picture depends on."""
    return view.part, view.log_scale, view.isolines, view.colormap


@dataclass(frozen=True, eq=False)
class Snapshot:
    """What is on screen: the computed experiment, how it is shown, and the landscape's picture."""

    computed: Computed
    view: ViewSettings
    display: SurfaceDisplay | None


PREVIEW_SECONDS = 0.2  # a new landscape estimated to take longer is first shown on a coarse grid


class ProgressGate:
    """Which of a job's :class:`Progress` items reach the GUI thread: none in its first ``quiet``
    seconds (the window shows nothing for a computation shorter than that), then a new stage at
    once and counts at most every ``interval`` seconds (the window shows them ten times a second
    at most).

    A λ step's job yielded 13 items, each an event the GUI thread handled after waiting for the
    job's GIL (1.5–2 ms of its CPU in a λ step, before the gate held back the quiet ones). Called
    on the job's thread.
    """

    def __init__(self, interval: float = 0.05, quiet: float = 0.0, since: float | None = None):
        """``since``: when the quiet time began (``time.monotonic``; None: now), the moment the session
        became pending: the window's delay starts then, and a job replacing another does not restart it."""
        self.interval, self.quiet = interval, quiet
        self._start = time.monotonic() if since is None else since
        self._stage: str | None = None
        self._sent = -math.inf

    def __call__(self, item: Progress) -> bool:
        now = time.monotonic()
        if now - self._start < self.quiet:
            return False
        if item.stage == self._stage and now - self._sent < self.interval:
            return False
        self._stage, self._sent = item.stage, now
        return True


def snapshot_blocks(experiment: Experiment, view: ViewSettings, previous: Computed | None,
                    max_seconds: float | None, preview_seconds: float | None = None):
    """Compute an experiment and the picture of its landscape (a generator of Progress; returns a Snapshot).

    ``preview_seconds``: see ``compute`` (a slow new landscape comes back coarse first).
    """
    computed = yield from compute(experiment, previous, max_seconds=max_seconds, preview_seconds=preview_seconds)
    yield Progress("picture", 0, 1)
    return Snapshot(computed, view, display_for(computed, view))


def render_snapshot(experiment: Experiment, view: ViewSettings, max_seconds: float | None = None) -> Snapshot:
    """Everything to draw an experiment, computed here and now (headless rendering)."""
    return drain(snapshot_blocks(validate(experiment), validate_view(view), None, max_seconds))


class Session(QObject):
    """The experiment on screen, the change being computed, and how things are shown.

    Signals:
        committed(Snapshot): a change was computed and is now what is shown (experiment,
            results and the landscape's picture together). A landscape slower than
            ``preview_seconds`` comes first on a coarse grid (``computed.is_preview``) and is
            committed again, the same experiment, once its full grid is done.
        displayChanged(Snapshot): the same results with a new picture of the landscape (new view settings).
        experimentChanged(Experiment): the experiment the controls should show: the
            target after a change, the committed one again after a refusal or failure.
        viewChanged(ViewSettings): how things are shown changed.
        pendingChanged(bool): a change started or stopped being computed.
        progress(Progress): how far the change being computed is.
        failed(str): a change was refused or could not be computed (nothing changed).
        notice(str): news about a committed change (not an error).
        confirmNeeded(str): a change would compute for long; :meth:`confirm` starts it anyway.
        historyChanged(): what :meth:`undo` and :meth:`redo` can do changed.

    Undo and redo walk the committed experiments: every change that was committed (a
    control, a point edit, a file opened) is one step back, and a change superseded before
    it was computed never is. Changes that carry the same ``gesture`` (one drag of a point
    or of a weight arrow) are one step however many times they were committed on the way.
    How things are shown (the view settings) is not undone: it never changes the experiment.
    """

    committed = pyqtSignal(object)
    displayChanged = pyqtSignal(object)
    experimentChanged = pyqtSignal(object)
    viewChanged = pyqtSignal(object)
    pendingChanged = pyqtSignal(bool)
    progress = pyqtSignal(object)
    failed = pyqtSignal(str)
    notice = pyqtSignal(str)
    confirmNeeded = pyqtSignal(str)
    busyChanged = pyqtSignal(bool)
    historyChanged = pyqtSignal()

    HISTORY = 100  # experiments kept for undo
    MERGE_SECONDS = 1.0  # changes of the same setting this close together are one undo step (a slider drag)

    def __init__(self, experiment: Experiment | None = None, view: ViewSettings | None = None,
                 parent: QObject | None = None, confirm_seconds: float | None = CONFIRM_SECONDS,
                 fall_back: bool = True, preview_seconds: float | None = PREVIEW_SECONDS):
        super().__init__(parent)
        self.fall_back = fall_back  # if the first experiment cannot be computed, show the default instead
        self._initial = validate(experiment or Experiment())
        self.view = validate_view(view or ViewSettings())
        self.snapshot: Snapshot | None = None
        self.pending: Experiment | None = None
        self._pending_view: ViewSettings | None = None  # a file being opened brings its own view
        self._unconfirmed: Experiment | None = None
        self._pending_since: float | None = None  # when the change in flight began (time.monotonic)
        self.confirm_seconds = confirm_seconds
        self.preview_seconds = preview_seconds
        self.jobs = JobRunner(self)
        self.jobs.busyChanged.connect(self.busyChanged)
        self._history: list[Experiment] = []  # the committed experiments, oldest first
        self._cursor = -1  # the one on screen
        self._move: int | None = None  # the history entry an undo or redo in flight goes back to
        self._gesture: Any = None  # the gesture of the pending change
        self._last_gesture: Any = None  # the gesture that made the newest history entry
        self._last_fields: tuple[frozenset, float] | None = None  # what the newest entry changed, and when
        self.now = time.monotonic  # the clock that groups quick changes of one setting (tests set it)
        self._prepared = False  # the initial experiment is computing, not yet announced (see prepare)

    # --- what is shown -------------------------------------------------------------------------
    @property
    def experiment(self) -> Experiment:
        """The committed experiment: the one whose results are on screen."""
        return self.snapshot.computed.experiment if self.snapshot is not None else self._initial

    @property
    def target(self) -> Experiment:
        """What the next change builds on: the change in flight, else the committed experiment."""
        return self.pending if self.pending is not None else self.experiment

    @property
    def computed(self) -> Computed | None:
        return self.snapshot.computed if self.snapshot is not None else None

    @property
    def problem(self):
        return self.snapshot.computed.problem if self.snapshot is not None else None

    @property
    def landscape(self):
        return self.snapshot.computed.landscape if self.snapshot is not None else None

    @property
    def results(self) -> list:
        return list(self.snapshot.computed.runs) if self.snapshot is not None else []

    @property
    def display(self) -> SurfaceDisplay | None:
        return self.snapshot.display if self.snapshot is not None else None

    # --- setters ---------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Begin computing the initial experiment before anyone listens (a window does, while it builds
        itself); :meth:`start` then announces it as usual, without computing it again."""
        if self.snapshot is None and self.pending is None and not self._prepared:
            self._prepared = True
            self._launch(self._initial, self.view, confirmed=False)

    def start(self) -> None:
        """Compute the initial experiment."""
        if self.snapshot is None and self.pending is None:
            launched, self._prepared = self._prepared and self.jobs.is_running("compute"), False
            self._submit(self._initial, launched=launched)

    def set_problem(self, **changes: Any) -> bool:
        target = self.target
        try:
            problem = replace(target.problem, **changes)
        except TypeError as err:
            return self._refuse(str(err))
        experiment = replace(target, problem=problem)
        was_surface, is_surface = target.problem.source == "surface", problem.source == "surface"
        if is_surface and (problem.kind != target.problem.kind or not was_surface) and problem.kind in SURFACES:
            # a new surface starts where it is interesting, with steps its curvature can take
            try:
                surface = make_surface(problem.kind, **dict(problem.surface_params))
                experiment = replace(experiment, start=tuple(surface.start),
                                     runs=_with_plain_lr(experiment.runs, SURFACES[problem.kind].extra.get("lr")))
            except ValueError:
                pass  # validate() names the problem
        elif was_surface and not is_surface:
            experiment = replace(experiment, start=Experiment().start, runs=_with_plain_lr(experiment.runs, None))
        if not is_surface and problem.source != target.problem.source:
            # real data has more than two features: a random plane shows all of them (an axes
            # plane through the digits' blank corner pixel is flat); generated 2-D data gets W's own axes
            kind = "axes" if problem.source == "generated" else "random"
            experiment = replace(experiment, plane=replace(experiment.plane, kind=kind))
        return self.apply(experiment)

    def set_objective(self, **changes: Any) -> bool:
        return self._change("objective", changes)

    def set_plane(self, **changes: Any) -> bool:
        return self._change("plane", changes)

    def set_model(self, **changes: Any) -> bool:
        """Change the score function (``kind``, ``hidden``, ``activation``, ``init_scale``, ``init_seed``).

        A network centred at θ = 0 sits on its symmetric point, where every hidden unit gets
        the same gradient (0 for ReLU) and nothing learns: switching to one from a plane
        through zero moves the plane to the random start instead (choose "zero" again to see
        why), and an axes plane becomes a random one (two weights of a network often belong
        to units that do nothing there).
        """
        target = self.target
        try:
            model = replace(target.model, **changes)
        except TypeError as err:
            return self._refuse(str(err))
        plane = target.plane
        if model.kind != target.model.kind and model.kind in MODELS:
            # the axes are named by the model: W[0,0] has no meaning in a network; start from its first weights
            try:
                plane = replace(plane, axes=tuple(make_model(model.kind, 2, 2, **model.params).labels[:2]))
            except ValueError as err:
                return self._refuse(str(err))
            if model.kind != "linear":
                # two weights of a network often belong to units that do nothing there (dead, or
                # unused): Li et al.'s filter-normalized random plane moves every unit at once
                plane = replace(plane, kind="random" if plane.kind == "axes" else plane.kind,
                                centre="init" if plane.centre == "zero" else plane.centre)
            elif target.problem.source == "generated" and plane.kind == "random":
                plane = replace(plane, kind="axes")  # back to W's own axes, as generated data starts
        return self.apply(replace(target, model=model, plane=plane))

    def set_run(self, index: int, **changes: Any) -> bool:
        runs = list(self.target.runs)
        if not 0 <= index < len(runs):
            return self._refuse(f"there is no optimizer {index + 1}")
        try:
            runs[index] = replace(runs[index], **changes)
        except TypeError as err:
            return self._refuse(str(err))
        return self.apply(replace(self.target, runs=tuple(runs)))

    def set_hyper(self, index: int, name: str, value: Any) -> bool:
        runs = list(self.target.runs)
        if not 0 <= index < len(runs):
            return self._refuse(f"there is no optimizer {index + 1}")
        runs[index] = runs[index].with_hyper(**{name: value})
        return self.apply(replace(self.target, runs=tuple(runs)))

    def add_run(self, method: str) -> bool:
        if method not in OPTIMIZERS:
            return self._refuse(f"unknown optimizer {method!r}")
        target = self.target
        runs = target.runs + (RunSpec(method),)
        if target.problem.source == "surface":
            runs = runs[:-1] + _with_plain_lr(runs[-1:], SURFACES[target.problem.kind].extra.get("lr"))
        return self.apply(replace(target, runs=runs))

    def remove_run(self, index: int) -> bool:
        runs = list(self.target.runs)
        if not 0 <= index < len(runs):
            return self._refuse(f"there is no optimizer {index + 1}")
        del runs[index]
        return self.apply(replace(self.target, runs=tuple(runs)))

    def set_start(self, a: float, b: float) -> bool:
        """Start the runs at the plane point (a, b) (a start in full space set before is dropped)."""
        return self.apply(replace(self.target, start=(a, b), theta0=None))

    # --- direct edits of the data and of the start ------------------------------------------------
    def move_point(self, index: int, x: tuple[float, ...], gesture: Any = None) -> bool:
        """Move example ``index`` to ``x`` (one drag: pass the same ``gesture`` for every move)."""
        def edit(X, y):
            X[_example(index, len(y))] = x
            return X, y
        return self.edit_points(edit, gesture)

    def add_point(self, x: tuple[float, ...], label: int) -> bool:
        return self.edit_points(lambda X, y: (np.vstack([X, np.asarray(x, dtype=float)[None]]), np.append(y, label)))

    def delete_point(self, index: int) -> bool:
        def edit(X, y):
            keep = np.arange(len(y)) != _example(index, len(y))
            return X[keep], y[keep]
        return self.edit_points(edit)

    def relabel_point(self, index: int, label: int) -> bool:
        def edit(X, y):
            y[_example(index, len(y))] = label
            return X, y
        return self.edit_points(edit)

    def edit_points(self, edit, gesture: Any = None) -> bool:
        """Apply ``edit(X, y) -> (X, y)`` (it may change its copies in place) to the examples.

        The data becomes points carried by the experiment itself (saved inside the session
        file), built on the target's data: quick edits add up. Refused while the data the
        edit builds on is not loaded yet.
        """
        try:
            points = self._target_points()
            X, y = edit(np.array(points.X), np.array(points.y))
            experiment = with_points(self.target, X, y, points.class_names, points.feature_names, points.image_shape)
        except (ValueError, IndexError) as err:
            return self._refuse(str(err))
        return self.apply(experiment, gesture=gesture)

    def _target_points(self) -> Points:
        target, committed = self.target, self.computed
        if target.problem.source == "points":
            return target.problem.points
        if committed is None or committed.experiment.problem != target.problem or committed.problem.dataset is None:
            raise ValueError("the data is still loading: edit the points once they are shown")
        return Points.from_dataset(committed.problem.dataset)

    def set_theta0(self, theta, gesture: Any = None) -> bool:
        """Start the runs at ``theta`` (all P parameters: a weight arrow dragged, a parameter nudged).

        Runs inside the plane would only see the start's projection, so they move to full
        space, where every parameter is free; the plane keeps showing the slice, with the
        paths projected onto it.
        """
        try:
            theta0 = tuple(float(v) for v in np.asarray(theta, dtype=float).ravel())
        except (TypeError, ValueError):
            return self._refuse("the start must be numbers, one per parameter")
        target = self.target
        if not self.apply(replace(target, theta0=theta0, space="full"), gesture=gesture):
            return False
        if target.space != "full":
            self.notice.emit("The start is now a point in full space: the runs move in all parameters, "
                             "their paths projected onto the plane")
        return True

    def set_steps(self, steps: int) -> bool:
        return self.apply(replace(self.target, steps=steps))

    def set_space(self, space: str) -> bool:
        return self.apply(replace(self.target, space=space))

    def set_experiment(self, experiment: Experiment, view: ViewSettings | None = None) -> bool:
        """Replace everything (opening a session file): experiment and view are committed together or not at all."""
        try:
            experiment = validate(experiment)
            view = validate_view(view) if view is not None else self.view
        except ValueError as err:
            return self._refuse(str(err))
        if experiment == self.target and self.pending is None:
            self._set_view(view)
            return True
        return self.apply(experiment, view)

    def set_view(self, **changes: Any) -> bool:
        try:
            view = validate_view(replace(self.view, **changes))
        except (ValueError, TypeError) as err:
            self.failed.emit(str(err))
            self.viewChanged.emit(self.view)  # controls that showed the refused value re-sync
            return False
        self._set_view(view)
        return True

    def cancel(self) -> None:
        """Drop the change being computed: the committed experiment stays, the controls go back to it."""
        if self.pending is None:
            return
        self.jobs.cancel("compute")
        self._drop_pending("Cancelled: the change was not applied")

    def confirm(self) -> None:
        """Start the long computation :attr:`confirmNeeded` asked about."""
        experiment, self._unconfirmed = self._unconfirmed, None
        if experiment is not None:
            self._submit(experiment, self._pending_view, confirmed=True)

    def decline(self) -> None:
        """Do not start the long computation: back to the committed experiment (the default if none is shown)."""
        if self._unconfirmed is not None:
            self._unconfirmed = None
            if self.snapshot is None and self.fall_back and self._initial != Experiment():
                self._fall_back_to_default("it would take too long")
                return
            self._drop_pending("Not applied: the computation would take too long")

    # --- the one path of a change ---------------------------------------------------------------
    def _change(self, part: str, changes: dict[str, Any]) -> bool:
        try:
            value = replace(getattr(self.target, part), **changes)
        except TypeError as err:
            return self._refuse(str(err))
        return self.apply(replace(self.target, **{part: value}))

    def apply(self, experiment: Experiment, view: ViewSettings | None = None, gesture: Any = None) -> bool:
        """Validate ``experiment`` and compute it in the background; it is committed when done.

        ``gesture``: changes with the same one (not None) are a single step for undo.
        """
        return self._apply(experiment, view, gesture, None)

    def _apply(self, experiment: Experiment, view: ViewSettings | None, gesture: Any, move: int | None) -> bool:
        try:
            experiment = validate(experiment)
            committed = self.computed
            if committed is not None and experiment.problem == committed.experiment.problem:
                check_batches(experiment, getattr(committed.problem.objective, "n_examples", None))
        except (ValueError, TypeError) as err:
            return self._refuse(str(err))
        if view is None:
            if experiment == self.target:
                return True
            if experiment == self.experiment and self.snapshot is not None and self._pending_view is None:
                # back to what is on screen: nothing to compute (but a preview still gets its full grid)
                self.jobs.cancel("compute")
                self._drop_pending(None)
                if move is not None:
                    self._cursor = move
                    self.historyChanged.emit()
                return True
            view = self._pending_view  # a file's view rides along with the edits made while it computes
        self._gesture, self._move = gesture, move
        self._submit(experiment, view)
        return True

    # --- undo and redo ----------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return self.pending is not None and self._move is None or self._base() > 0

    @property
    def can_redo(self) -> bool:
        return self._base() < len(self._history) - 1

    def _base(self) -> int:
        """Where in the history an undo or redo starts from: the entry being gone back to, else the one shown."""
        return self._move if self.pending is not None and self._move is not None else self._cursor

    def undo(self) -> bool:
        """Back to the experiment before the last committed change (a change still computing is just dropped)."""
        if self.pending is not None and self._move is None:
            self.cancel()
            return True
        base = self._base()
        if base <= 0:
            return False
        return self._apply(self._history[base - 1], None, None, base - 1)

    def redo(self) -> bool:
        """Forward again to the experiment an undo went back from."""
        base = self._base()
        if base >= len(self._history) - 1:
            return False
        return self._apply(self._history[base + 1], None, None, base + 1)

    def _record(self, experiment: Experiment) -> None:
        """A committed experiment joins the history (or moves its cursor, for an undo or redo)."""
        move, gesture = self._move, self._gesture
        self._move = self._gesture = None
        if self._history and experiment == self._history[self._cursor]:
            return  # the same experiment again (a refined preview, a file with only a new view)
        if move is not None and self._history[move] == experiment:
            self._cursor = move
        elif self._cursor == len(self._history) - 1 and self._same_step(experiment, gesture):
            self._history[self._cursor] = experiment  # one drag is one step
        else:
            if self._history:
                self._last_fields = (changed_fields(self._history[self._cursor], experiment), self.now())
            del self._history[self._cursor + 1:]
            self._history.append(experiment)
            self._last_gesture = gesture
            if len(self._history) > self.HISTORY:
                del self._history[0]
            self._cursor = len(self._history) - 1
        self.historyChanged.emit()

    def _same_step(self, experiment: Experiment, gesture: Any) -> bool:
        """Whether this commit continues the newest step: the same gesture, or the same setting
        changed again within ``MERGE_SECONDS`` (a slider dragged, a field stepped with its arrows)."""
        if gesture is not None or self._last_gesture is not None:
            return gesture is not None and gesture == self._last_gesture
        if self._last_fields is None or len(self._history) < 2:
            return False
        fields, when = self._last_fields
        if (self.now() - when > self.MERGE_SECONDS or changed_fields(self._history[-2], experiment) != fields
                or not all(f in SLIDING or SLIDING_HYPER.fullmatch(f) for f in fields)):
            return False
        self._last_fields = (fields, self.now())
        return True

    def _submit(self, experiment: Experiment, view: ViewSettings | None = None, confirmed: bool = False,
                launched: bool = False) -> None:
        """Make ``experiment`` the change in flight and compute it (``launched``: :meth:`prepare` already does)."""
        was_pending = self.pending is not None
        if not was_pending:
            self._pending_since = time.monotonic()  # see ProgressGate
        self._prepared = False
        self.pending, self._pending_view, self._unconfirmed = experiment, view, None
        self.experimentChanged.emit(experiment)
        if not launched:
            self._launch(experiment, view or self.view, confirmed)
        if not was_pending:
            self.pendingChanged.emit(True)

    def _launch(self, experiment: Experiment, shown_view: ViewSettings, confirmed: bool) -> None:
        previous = self.computed
        max_seconds = None if confirmed else self.confirm_seconds
        preview_seconds = self.preview_seconds  # the job's thread must hold no reference to the session
        self.jobs.cancel("refine")  # the landscape being refined is about to be replaced
        self.jobs.submit("compute", lambda: snapshot_blocks(experiment, shown_view, previous, max_seconds,
                                                            preview_seconds),
                         on_result=self._commit, on_error=self._failed, on_progress=self.progress.emit,
                         progress_filter=ProgressGate(quiet=PROGRESS_DELAY, since=self._pending_since))

    def _commit(self, snapshot: Snapshot) -> None:
        view = self._pending_view
        self.pending, self._pending_view = None, None
        if view is not None or snapshot.view != self.view:
            # the view moved while this was computed: the picture follows it
            self.view = view or self.view
            if display_key(snapshot.view) != display_key(self.view):
                snapshot = replace(snapshot, display=display_for(snapshot.computed, self.view))
            snapshot = replace(snapshot, view=self.view)
            self.viewChanged.emit(self.view)
        self.snapshot = snapshot
        self._record(snapshot.computed.experiment)
        self.experimentChanged.emit(snapshot.computed.experiment)
        self.committed.emit(snapshot)
        self.pendingChanged.emit(False)
        for note in snapshot.computed.notes:
            self.notice.emit(note)
        if snapshot.computed.is_preview:
            self._refine(snapshot.computed)

    def _resume_refining(self) -> None:
        """A change that replaced nothing leaves a preview on screen: its full grid is computed after all."""
        if self.computed is not None and self.computed.is_preview and not self.jobs.is_running("refine"):
            self._refine(self.computed)

    def _refine(self, preview: Computed) -> None:
        """Compute the full landscape of a committed preview; the same experiment, committed again when done."""
        view = self.view
        self.jobs.submit("refine", lambda: snapshot_blocks(preview.experiment, view, preview, None),
                         on_result=lambda snapshot: self._refined(preview, snapshot),
                         on_error=lambda error: self.failed.emit(f"The full landscape failed: {_describe(error)}"))

    def _refined(self, preview: Computed, snapshot: Snapshot) -> None:
        if self.snapshot is None or self.snapshot.computed is not preview:
            return  # something else was committed meanwhile
        if display_key(snapshot.view) != display_key(self.view):
            snapshot = replace(snapshot, display=display_for(snapshot.computed, self.view))
        self.snapshot = replace(snapshot, view=self.view)
        self.committed.emit(self.snapshot)

    def _failed(self, error: Exception) -> None:
        if isinstance(error, TooLong):
            self._unconfirmed = self.pending
            self.confirmNeeded.emit(str(error))
            return
        text = _describe(error)
        if (self.fall_back and self.snapshot is None and self._initial != Experiment()
                and self.pending == self._initial):
            self._fall_back_to_default(text)
            return
        self._drop_pending(f"Not applied: {text}")

    def _fall_back_to_default(self, reason: str) -> None:
        """Nothing was ever shown (a remembered session whose data is gone, say): start from the defaults."""
        self.pending, self._pending_view = None, None
        self.notice.emit(f"Could not open the last session ({reason}); showing the default instead")
        self._initial = Experiment()
        self._submit(self._initial)

    def _drop_pending(self, message: str | None) -> None:
        was_pending = self.pending is not None or self._unconfirmed is not None
        self.pending, self._pending_view, self._unconfirmed = None, None, None
        if self._move is not None:
            self._move = None
            self.historyChanged.emit()  # the undo or redo did not happen
        self._gesture = None
        if message:
            self.failed.emit(message)
        self.experimentChanged.emit(self.experiment)  # the controls go back to what is shown
        if was_pending:
            self.pendingChanged.emit(False)
        self._resume_refining()

    def _refuse(self, message: str) -> bool:
        self.failed.emit(message)
        self.experimentChanged.emit(self.target)  # controls that showed the refused value re-sync
        return False

    def _set_view(self, view: ViewSettings) -> None:
        if view == self.view:
            return
        old, self.view = self.view, view
        if self.snapshot is not None:
            self.snapshot = replace(self.snapshot, view=view)
        self.viewChanged.emit(view)
        if self.snapshot is not None and display_key(old) != display_key(view):
            computed = self.snapshot.computed
            self.jobs.submit("picture", lambda: single(_display_result, computed, view), on_result=self._new_display)

    def _new_display(self, result) -> None:
        computed, view, display = result
        if self.snapshot is not None and computed is self.snapshot.computed and view == self.view:
            self.snapshot = replace(self.snapshot, display=display)
            self.displayChanged.emit(self.snapshot)

    # --- lifecycle ------------------------------------------------------------------------------
    def wait(self, msecs: int = 30_000) -> bool:
        return self.jobs.wait(msecs)

    def shutdown(self) -> None:
        """Stop every job and return within a second, whatever is running."""
        self.jobs.shutdown()


def _display_result(computed: Computed, view: ViewSettings):
    return computed, view, display_for(computed, view)


# the settings a slider or a spin box's arrows move in many small steps: quick changes of one are one undo step
SLIDING = frozenset({"objective.lam", "objective.beta", "objective.margin", "plane.span", "problem.noise",
                     "model.init_scale", "steps"})
SLIDING_HYPER = re.compile(r"runs\.\d+\.hyper")  # a run's learning rate, momentum, …


def changed_fields(a: Experiment, b: Experiment) -> frozenset:
    """The settings that differ between two experiments, as ``"objective.lam"``, ``"runs.2.hyper"``, ``"start"``."""
    out = set()
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if x == y:
            continue
        if name == "runs" and len(x) == len(y):
            out.update(f"runs.{k}.{f}" for k, (r, q) in enumerate(zip(x, y)) for f in r.__dataclass_fields__
                       if getattr(r, f) != getattr(q, f))
        elif hasattr(x, "__dataclass_fields__"):
            out.update(f"{name}.{f}" for f in x.__dataclass_fields__ if getattr(x, f) != getattr(y, f))
        else:
            out.add(name)
    return frozenset(out)


def _example(index: int, n: int) -> int:
    if not 0 <= index < n:
        raise ValueError(f"there is no example {index} (N = {n})")
    return index


def _describe(error: Exception) -> str:
    """One line for the user: the message itself, the type only when there is none."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if isinstance(error, (ValueError, OSError)) else f"{type(error).__name__}: {text}"


def _with_plain_lr(runs: tuple[RunSpec, ...], lr: float | None) -> tuple[RunSpec, ...]:
    """Runs whose plain gradient methods get ``lr`` (None: back to their default).

    Test surfaces are far more curved than the classifiers' losses; the adaptive methods
    (AdaGrad, RMSProp, Adam) rescale their steps themselves and keep their own.
    """
    out = []
    for run in runs:
        if run.method in ("numerical_gd", "gd", "sgd", "momentum", "nesterov"):
            hyper = {k: v for k, v in run.hyper if k != "lr"} | ({"lr": lr} if lr is not None else {})
            run = replace(run, hyper=tuple(sorted(hyper.items())))
        out.append(run)
    return tuple(out)
