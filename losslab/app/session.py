"""The one observable model of the window: the experiment, the view settings and their results.

Controls call the setters; a setter validates the change (a bad value is refused with a
message that names it, and nothing changes), stores the new frozen value, emits one
signal, and schedules only the recomputation the change calls for on a background
worker. Views subscribe to the signals and draw what they are handed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from ..engine.experiment import (Experiment, Landscape, Problem, RunResult, RunSpec, build_problem,
                                 landscape_blocks, relandscape_penalty, run_blocks, validate)
from ..engine.optimizers import OPTIMIZERS
from ..engine.surfaces import make_surface
from ..io.session_file import SessionError, spec_from_dict
from .jobs import JobRunner, single

LAYOUTS = ("side", "overlay")
PARTS = ("total", "data", "reg")
X_AXES = ("step", "cost")
THEMES = ("light", "dark")
COLORMAPS = ("viridis", "inferno", "cividis", "turbo")


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


def validate_view(view: ViewSettings) -> ViewSettings:
    for name, choices in (("layout", LAYOUTS), ("part", PARTS), ("x_axis", X_AXES), ("theme", THEMES),
                          ("colormap", COLORMAPS)):
        if getattr(view, name) not in choices:
            raise ValueError(f"view.{name} must be one of {', '.join(choices)}; got {getattr(view, name)!r}")
    if not (isinstance(view.isolines, int) and 0 <= view.isolines <= 60):
        raise ValueError(f"view.isolines must be a whole number in 0..60, got {view.isolines!r}")
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


class Session(QObject):
    """The experiment and its results, with one signal per kind of change.

    Signals:
        experimentChanged(Experiment): the experiment was replaced (controls re-sync).
        viewChanged(ViewSettings): how things are shown changed.
        problemReady(Problem): new data / objective / plane are built.
        landscapeProgress(slice, ndarray, ndarray): rows of the data and penalty parts are done.
        landscapeReady(Landscape): the whole landscape (data and penalty parts).
        runsReady(list[RunResult]): every enabled optimizer's run.
        message(str): a refusal or failure, for the status bar (state unchanged).
        busyChanged(bool): background work started or ended.
    """

    experimentChanged = pyqtSignal(object)
    viewChanged = pyqtSignal(object)
    problemReady = pyqtSignal(object)
    landscapeProgress = pyqtSignal(object, object, object)
    landscapeReady = pyqtSignal(object)
    runsReady = pyqtSignal(object)
    message = pyqtSignal(str)
    busyChanged = pyqtSignal(bool)

    def __init__(self, experiment: Experiment | None = None, view: ViewSettings | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.experiment = validate(experiment or Experiment())
        self.view = validate_view(view or ViewSettings())
        self.problem: Problem | None = None
        self.landscape: Landscape | None = None
        self.results: list[RunResult] = []
        self._good = self.experiment  # the last experiment whose problem was built
        self._view_before_open: ViewSettings | None = None
        self.jobs = JobRunner(self)
        self.jobs.progress.connect(self._on_progress)
        self.jobs.finished.connect(self._on_finished)
        self.jobs.failed.connect(self._on_failed)
        self.jobs.busyChanged.connect(self.busyChanged)

    # --- setters -----------------------------------------------------------------------------
    def start(self) -> None:
        """Compute everything for the current experiment."""
        self._rebuild()

    def set_problem(self, **changes: Any) -> bool:
        problem = replace(self.experiment.problem, **changes)
        experiment = replace(self.experiment, problem=problem)
        if problem.source == "surface" and (problem.kind != self.experiment.problem.kind
                                            or self.experiment.problem.source != "surface"):
            try:  # a new surface starts where it is interesting
                surface = make_surface(problem.kind, **dict(problem.surface_params))
                experiment = replace(experiment, start=tuple(surface.start))
            except ValueError:
                pass  # validate() below names the problem
        return self._apply(experiment, "problem")

    def set_objective(self, **changes: Any) -> bool:
        old = self.experiment.objective
        new = replace(old, **changes)
        penalty_only = new.loss == old.loss and new.margin == old.margin
        return self._apply(replace(self.experiment, objective=new), "penalty" if penalty_only else "problem")

    def set_plane(self, **changes: Any) -> bool:
        old = self.experiment.plane
        new = replace(old, **changes)
        view_only = {k for k in changes if getattr(old, k) != changes[k]} <= {"span", "resolution"}
        return self._apply(replace(self.experiment, plane=new), "landscape" if view_only else "problem")

    def set_run(self, index: int, **changes: Any) -> bool:
        runs = list(self.experiment.runs)
        runs[index] = replace(runs[index], **changes)
        return self._apply(replace(self.experiment, runs=tuple(runs)), "runs")

    def set_hyper(self, index: int, name: str, value: Any) -> bool:
        runs = list(self.experiment.runs)
        runs[index] = runs[index].with_hyper(**{name: value})
        return self._apply(replace(self.experiment, runs=tuple(runs)), "runs")

    def add_run(self, method: str) -> bool:
        OPTIMIZERS[method]
        runs = self.experiment.runs + (RunSpec(method),)
        return self._apply(replace(self.experiment, runs=runs), "runs")

    def remove_run(self, index: int) -> bool:
        runs = list(self.experiment.runs)
        del runs[index]
        return self._apply(replace(self.experiment, runs=tuple(runs)), "runs")

    def set_start(self, a: float, b: float) -> bool:
        return self._apply(replace(self.experiment, start=(a, b)), "runs")

    def set_steps(self, steps: int) -> bool:
        return self._apply(replace(self.experiment, steps=steps), "runs")

    def set_space(self, space: str) -> bool:
        return self._apply(replace(self.experiment, space=space), "problem" if self._needs_plane_rebuild(space)
                           else "runs")

    def set_experiment(self, experiment: Experiment, view: ViewSettings | None = None) -> bool:
        """Replace everything (opening a session file). If it cannot be built, everything goes back."""
        try:
            experiment = validate(experiment)
            view = validate_view(view) if view is not None else self.view
        except ValueError as err:
            self.message.emit(str(err))
            return False
        self._view_before_open = self.view  # restored if the opened experiment cannot be built
        if view != self.view:
            self.view = view
            self.viewChanged.emit(view)
        return self._apply(experiment, "problem")

    def set_view(self, **changes: Any) -> bool:
        try:
            view = validate_view(replace(self.view, **changes))
        except (ValueError, TypeError) as err:
            self.message.emit(str(err))
            return False
        if view != self.view:
            self.view = view
            self.viewChanged.emit(view)
        return True

    # --- what to recompute -----------------------------------------------------------------------
    def _needs_plane_rebuild(self, space: str) -> bool:
        return self.experiment.plane.kind in ("pca", "interpolation")

    def _apply(self, experiment: Experiment, scope: str) -> bool:
        try:
            experiment = validate(experiment)
        except (ValueError, TypeError) as err:
            self.message.emit(str(err))
            return False
        if experiment == self.experiment:
            return True
        previous, self.experiment = self.experiment, experiment
        self.experimentChanged.emit(experiment)
        if self.problem is None or scope == "problem" or (scope == "penalty" and experiment.plane.centre == "optimum"):
            self._rebuild()
        elif scope == "penalty":
            o = experiment.objective
            objective = self.problem.objective.replace(reg=o.reg, lam=o.lam, beta=o.beta)
            self.problem = replace(self.problem, objective=objective)
            self._good = experiment
            if self.landscape is not None and self.problem.plane is not None:
                landscape = self.landscape
                self.jobs.submit("landscape", lambda: single(relandscape_penalty, landscape, objective))
            self._submit_runs()
        elif scope == "landscape":
            self._rebuild()  # span and resolution reshape the plane's window: rebuild it (cheap)
        else:
            self._submit_runs()
        del previous
        return True

    def _rebuild(self) -> None:
        experiment = self.experiment
        self.jobs.cancel("landscape")
        self.jobs.cancel("runs")
        self.jobs.submit("problem", lambda: single(build_problem, experiment))

    def _submit_runs(self) -> None:
        experiment, problem = self.experiment, self.problem
        self.jobs.submit("runs", lambda: run_blocks(experiment, problem))

    def _submit_landscape(self, plane) -> None:
        objective, resolution = self.problem.objective, self.experiment.plane.resolution
        self.jobs.submit("landscape", lambda: landscape_blocks(objective, plane, resolution))

    # --- results -----------------------------------------------------------------------------------
    def _on_progress(self, channel: str, item: object) -> None:
        if channel == "landscape":
            self.landscapeProgress.emit(*item)

    def _on_finished(self, channel: str, result: object) -> None:
        if channel == "problem":
            self.problem = result
            self._good, self._view_before_open = self.experiment, None
            self.landscape = None
            self.problemReady.emit(result)
            if result.plane is not None:
                self._submit_landscape(result.plane)
            self._submit_runs()
        elif channel == "landscape":
            self.landscape = result
            self.landscapeReady.emit(result)
        elif channel == "runs":
            plane, results = result
            self.results = results
            if plane is not self.problem.plane:  # a plane made from the runs (pca, interpolation)
                self._submit_landscape(plane)
            self.runsReady.emit(results)

    def _on_failed(self, channel: str, message: str) -> None:
        if channel == "problem" and self._good != self.experiment:
            # the new settings cannot be built: say why and go back to the last good ones
            self.experiment = self._good
            self.experimentChanged.emit(self._good)
            if self._view_before_open is not None and self._view_before_open != self.view:
                self.view = self._view_before_open
                self.viewChanged.emit(self.view)
            self._view_before_open = None
            self.message.emit(f"Not applied: {_strip(message)}")
            return
        self.message.emit(f"{channel.capitalize()} failed: {_strip(message)}")

    def wait(self, msecs: int = 30_000) -> bool:
        return self.jobs.wait(msecs)

    def shutdown(self) -> None:
        self.jobs.shutdown()


def _strip(message: str) -> str:
    return message.removeprefix("ValueError: ")
