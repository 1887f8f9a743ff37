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
from ..engine.surfaces import SURFACES, make_surface
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
    if isinstance(view.data_run, bool) or not isinstance(view.data_run, int) or not 0 <= view.data_run < 100:
        raise ValueError(f"view.data_run must be a run's position, 0..99, got {view.data_run!r}")
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
        self._complete: Experiment | None = None  # the last experiment whose runs all ran
        self.run_plane = None  # the plane of the last runs (pca and interpolation planes are made from them)
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
        old = self.experiment
        problem = replace(old.problem, **changes)
        experiment = replace(old, problem=problem)
        was_surface, is_surface = old.problem.source == "surface", problem.source == "surface"
        if is_surface and (problem.kind != old.problem.kind or not was_surface) and problem.kind in SURFACES:
            # a new surface starts where it is interesting, with steps its curvature can take
            try:
                surface = make_surface(problem.kind, **dict(problem.surface_params))
                experiment = replace(experiment, start=tuple(surface.start),
                                     runs=_with_plain_lr(experiment.runs, SURFACES[problem.kind].extra.get("lr")))
            except ValueError:
                pass  # validate() below names the problem
        elif was_surface and not is_surface:
            experiment = replace(experiment, start=Experiment().start, runs=_with_plain_lr(experiment.runs, None))
        if not is_surface and problem.source != old.problem.source:
            # real data has more than two features: a random plane shows all of them (an axes
            # plane through the digits' blank corner pixel is flat); generated 2-D data gets W's own axes
            kind = "axes" if problem.source == "generated" else "random"
            experiment = replace(experiment, plane=replace(experiment.plane, kind=kind))
        return self._apply(experiment, "problem")

    def set_objective(self, **changes: Any) -> bool:
        old = self.experiment.objective
        new = replace(old, **changes)
        penalty_only = new.loss == old.loss and new.margin == old.margin
        return self._apply(replace(self.experiment, objective=new), "penalty" if penalty_only else "problem")

    def set_plane(self, **changes: Any) -> bool:
        old = self.experiment.plane
        new = replace(old, **changes)
        window_only = {k for k in changes if getattr(old, k) != changes[k]} <= {"span", "resolution"}
        return self._apply(replace(self.experiment, plane=new), "landscape" if window_only else "problem")

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
        if self.experiment.problem.source == "surface":
            runs = runs[:-1] + _with_plain_lr(runs[-1:], SURFACES[self.experiment.problem.kind].extra.get("lr"))
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
        return self._apply(replace(self.experiment, space=space), "runs")

    def set_experiment(self, experiment: Experiment, view: ViewSettings | None = None) -> bool:
        """Replace everything (opening a session file). If it cannot be built, everything goes back."""
        try:
            experiment = validate(experiment)
            view = validate_view(view) if view is not None else self.view
        except ValueError as err:
            self.message.emit(str(err))
            return False
        same = experiment == self.experiment
        self._view_before_open = None if same else self.view  # restored if the opened experiment fails
        if view != self.view:
            self.view = view
            self.viewChanged.emit(view)
        return True if same else self._apply(experiment, "problem")

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
    def _refuse(self, message: str) -> bool:
        self.message.emit(message)
        self.experimentChanged.emit(self.experiment)  # controls that showed the refused value re-sync
        return False

    def _check_against_problem(self, experiment: Experiment) -> None:
        """What needs the data: a batch cannot hold more examples than there are."""
        n = getattr(self.problem.objective, "n_examples", None) if self.problem else None
        if n is None:
            return
        for k, run in enumerate(experiment.runs):
            batch = run.hyper_dict.get("batch_size")
            if run.enabled and batch is not None and batch > n:
                raise ValueError(f"{OPTIMIZERS[run.method].label} (run {k + 1}): batch_size must be at most "
                                 f"N = {n} (the number of examples), got {batch}")

    def _apply(self, experiment: Experiment, scope: str) -> bool:
        try:
            experiment = validate(experiment)
            if scope == "runs":
                self._check_against_problem(experiment)
        except (ValueError, TypeError) as err:
            return self._refuse(str(err))
        if experiment == self.experiment:
            return True
        self.experiment = experiment
        self.experimentChanged.emit(experiment)
        building = self.jobs.is_running("problem")
        if self.problem is None or building or scope == "problem":
            self._rebuild()  # a build in flight was made from older settings: start it again
        elif scope == "penalty":
            self._new_penalty()
        elif scope == "landscape":
            self._new_window()
        else:
            self._submit_runs()
        return True

    def _new_penalty(self) -> None:
        """λ, β or the regularizer changed: the data surface stays, only the penalty is redone."""
        if self.problem.is_surface:
            return  # a test surface has no penalty
        if self.experiment.plane.centre == "optimum":
            self._rebuild()  # the optimum, hence the plane, moves with the penalty
            return
        o = self.experiment.objective
        objective = self.problem.objective.replace(reg=o.reg, lam=o.lam, beta=o.beta)
        self.problem = replace(self.problem, objective=objective)
        self._good = self.experiment
        landscape = self.landscape
        if landscape is not None and not self.jobs.is_running("landscape"):
            self.jobs.submit("landscape", lambda: single(relandscape_penalty, landscape, objective))
        elif self.problem.plane is not None:
            self._submit_landscape(self.problem.plane)  # a landscape in flight had the old penalty
        self._submit_runs()

    def _new_window(self) -> None:
        """Span or resolution changed: the same plane over another window or grid."""
        pl = self.experiment.plane
        plane = self.problem.plane
        if plane is not None and not self.problem.is_surface:  # a surface keeps its own window
            a0, a1, b0, b1 = plane.extent
            middle = ((a0 + a1) / 2, (b0 + b1) / 2)
            plane = replace(plane, extent=(middle[0] - pl.span, middle[0] + pl.span,
                                           middle[1] - pl.span, middle[1] + pl.span))
            self.problem = replace(self.problem, plane=plane)
        elif plane is None:
            plane = self.run_plane  # pca and interpolation planes come from the runs
        self._good = self.experiment
        if plane is not None:
            self._submit_landscape(plane)

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
            self._good = self.experiment
            if result.axes is not None and tuple(result.axes) != tuple(self.experiment.plane.axes):
                # the asked axes do not exist for this data: say which ones are shown instead
                self.message.emit(f"The slice's axes {', '.join(self.experiment.plane.axes)} do not exist here; "
                                  f"showing {', '.join(result.axes)}")
                self.experiment = self._good = replace(self.experiment,
                                                       plane=replace(self.experiment.plane, axes=result.axes))
                self.experimentChanged.emit(self.experiment)
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
            self.results, self.run_plane = results, plane
            self._complete, self._view_before_open = self.experiment, None
            if plane is not self.problem.plane:  # a plane made from the runs (pca, interpolation)
                self._submit_landscape(plane)
            self.runsReady.emit(results)

    def _on_failed(self, channel: str, message: str) -> None:
        if channel == "problem" and self._good != self.experiment:
            # the new settings cannot be built: say why and go back to the last good ones
            self._go_back(self._good, message)
            if self.problem is None:
                self._rebuild()
            return
        if channel == "problem" and self.problem is None and self.experiment != Experiment():
            # nothing was ever built (a remembered session whose data is gone): start from the defaults
            self.message.emit(f"Could not open the session ({_strip(message)}); showing the default instead")
            self.experiment = self._good = Experiment()
            self.experimentChanged.emit(self.experiment)
            self._rebuild()
            return
        if channel == "runs" and self._complete is not None and self._complete != self.experiment:
            # settings the runs refuse (they are checked only as they start): back to the last that ran
            self._go_back(self._complete, message)
            if self.problem is not None and (self._complete.problem, self._complete.objective,
                                             self._complete.plane) != (self._good.problem, self._good.objective,
                                                                        self._good.plane):
                self._rebuild()
            return
        self.message.emit(f"{channel.capitalize()} failed: {_strip(message)}")

    def _go_back(self, experiment: Experiment, message: str) -> None:
        """Undo a change that failed in the background: the experiment, and the view of a file being opened."""
        self.experiment = experiment
        self.experimentChanged.emit(experiment)
        if self._view_before_open is not None and self._view_before_open != self.view:
            self.view = self._view_before_open
            self.viewChanged.emit(self.view)
        self._view_before_open = None
        self.message.emit(f"Not applied: {_strip(message)}")

    @property
    def view_before_open(self) -> ViewSettings | None:
        """While an opened session is still being built and run: the view to go back to if it fails."""
        return self._view_before_open

    def wait(self, msecs: int = 30_000) -> bool:
        return self.jobs.wait(msecs)

    def shutdown(self) -> None:
        self.jobs.shutdown()


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


def _strip(message: str) -> str:
    return message.removeprefix("ValueError: ")
