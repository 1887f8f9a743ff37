"""Background jobs (superseded results are dropped) and the frame-rate independent clock."""
import threading

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from losslab.app.clock import AnimationClock  # noqa: E402
from losslab.app.jobs import JobRunner  # noqa: E402
from losslab.app.session import Session  # noqa: E402
from losslab.engine.experiment import Experiment, PlaneSpec, ProblemSpec  # noqa: E402
from losslab.engine.surfaces import make_surface  # noqa: E402


def test_a_superseded_job_never_delivers(qtbot):
    runner = JobRunner()
    release = threading.Event()
    delivered, partial = [], []
    runner.finished.connect(lambda channel, result: delivered.append(result))
    runner.progress.connect(lambda channel, item: partial.append(item))

    def slow():
        yield "old partial"
        release.wait(10)
        yield "old late partial"
        return "old"

    def fast():
        yield "new partial"
        return "new"

    runner.submit("landscape", slow)
    qtbot.waitUntil(lambda: partial == ["old partial"])
    runner.submit("landscape", fast)  # supersedes the slow one
    qtbot.waitUntil(lambda: delivered == ["new"])
    release.set()
    assert runner.wait(5000)
    qtbot.wait(50)  # let any queued signal arrive: none may be delivered
    assert delivered == ["new"]
    assert partial == ["old partial", "new partial"]


def test_failures_are_reported_with_their_message(qtbot):
    runner = JobRunner()
    with qtbot.waitSignal(runner.failed) as blocker:
        def broken():
            raise ValueError("plane.i = 40 is not a coordinate")
            yield
        runner.submit("problem", broken)
    channel, error = blocker.args
    assert channel == "problem" and isinstance(error, ValueError) and str(error) == "plane.i = 40 is not a coordinate"


def test_channels_are_independent(qtbot):
    runner = JobRunner()
    results = {}
    runner.finished.connect(lambda channel, result: results.__setitem__(channel, result))

    def value(v):
        return v
        yield

    runner.submit("runs", lambda: value(1))
    runner.submit("landscape", lambda: value(2))
    qtbot.waitUntil(lambda: results == {"runs": 1, "landscape": 2})


def test_a_finished_jobs_thread_runs_the_next_and_a_busy_one_is_never_waited_for(qtbot):
    """Submitting does not start a thread when one is idle (a start waits for the GIL), and a job
    is never queued behind another: a stuck job's thread is not handed the next job."""
    runner = JobRunner()
    results = {}
    runner.finished.connect(lambda channel, result: results.__setitem__(channel, result))

    def ident():
        return threading.get_ident()
        yield

    runner.submit("first", ident)
    qtbot.waitUntil(lambda: "first" in results)
    assert runner.wait(5000)
    threads_before = threading.active_count()
    runner.submit("second", ident)
    qtbot.waitUntil(lambda: "second" in results)
    assert results["second"] == results["first"] and threading.active_count() == threads_before

    release = threading.Event()

    def stuck():
        release.wait(10)
        return threading.get_ident()
        yield

    runner.submit("stuck", stuck)
    runner.submit("beside", ident)
    qtbot.waitUntil(lambda: "beside" in results)  # delivered while the stuck job still runs
    assert "stuck" not in results
    release.set()
    qtbot.waitUntil(lambda: "stuck" in results)
    assert results["stuck"] != results["beside"]
    assert runner.wait(5000) and not runner.busy


def test_at_most_a_few_job_threads_wait_and_each_is_named_after_its_job(qtbot):
    """Many jobs at once (cancelled ones still in a long NumPy call) leave at most MAX_IDLE threads
    waiting once they end; a job's thread carries its channel and number while it runs."""
    from losslab.app import jobs

    runner = JobRunner()
    names = []
    release = threading.Event()

    def held():
        names.append(threading.current_thread().name)
        release.wait(10)
        return 0
        yield

    generations = [runner.submit(f"c{k}", held) for k in range(jobs._Workers.MAX_IDLE + 3)]
    qtbot.waitUntil(lambda: len(names) == len(generations), timeout=5_000)
    assert sorted(names) == sorted(f"losslab-c{k}-{g}" for k, g in enumerate(generations))
    release.set()
    assert runner.wait(5000)
    qtbot.waitUntil(lambda: len(jobs._WORKERS._idle) <= jobs._Workers.MAX_IDLE, timeout=5_000)
    qtbot.wait(50)
    assert len(jobs._WORKERS._idle) == jobs._Workers.MAX_IDLE
    ours = [t for t in threading.enumerate() if t.name in set(names)]
    assert len(ours) <= jobs._Workers.MAX_IDLE  # the ones past the cap have ended


def test_session_drops_stale_landscapes(qtbot):
    session = Session(Experiment(plane=PlaneSpec(resolution=32, centre="zero"), steps=20))
    session.start()
    qtbot.waitUntil(lambda: session.landscape is not None and not session.jobs.busy, timeout=20_000)
    seen = []
    session.committed.connect(lambda snapshot: seen.append(snapshot.computed.landscape))
    for lam in (0.2, 0.3, 0.4, 0.5):  # each supersedes the last
        session.set_objective(lam=lam)
    qtbot.waitUntil(lambda: not session.jobs.busy, timeout=20_000)
    qtbot.wait(50)
    # whatever was delivered, the last one drawn belongs to the last λ
    assert session.experiment.objective.lam == 0.5
    expected = np.array([[session.problem.objective.replace(lam=0.5).parts(session.landscape.plane.point(a, b))[1]
                          for a in session.landscape.a_values[::8]] for b in session.landscape.b_values[::8]])
    np.testing.assert_allclose(session.landscape.reg[::8, ::8], expected, rtol=1e-12, atol=1e-12)
    assert seen and seen[-1] is session.landscape
    session.shutdown()


def test_bad_settings_are_refused_and_nothing_changes(qtbot):
    session = Session(Experiment(plane=PlaneSpec(resolution=32), steps=10))
    messages = []
    session.failed.connect(messages.append)
    before = session.experiment
    assert not session.set_objective(lam=float("nan"))
    assert not session.set_hyper(0, "scale", -1.0)
    assert not session.set_problem(kind="moons")
    assert session.experiment == before
    assert [m.split(" ")[0] for m in messages] == ["lam", "Random", "unknown"]
    session.shutdown()


def test_settings_that_cannot_be_built_go_back(qtbot, tmp_path):
    session = Session(Experiment(plane=PlaneSpec(resolution=32), steps=10))
    session.start()
    qtbot.waitUntil(lambda: session.problem is not None and not session.jobs.busy, timeout=20_000)
    good = session.experiment
    with qtbot.waitSignal(session.failed) as blocker:
        session.set_problem(source="csv", path=str(tmp_path / "gone.csv"))
    assert "gone.csv" in blocker.args[0] and session.experiment == good


def wait_idle(qtbot, session):
    qtbot.waitUntil(lambda: not session.jobs.busy and session.landscape is not None and bool(session.results),
                    timeout=30_000)


def test_lambda_moved_while_the_problem_builds_is_not_lost(qtbot):
    session = Session(Experiment(plane=PlaneSpec(resolution=32, centre="zero"), steps=10))
    session.start()
    wait_idle(qtbot, session)
    session.set_plane(span=4.0)  # a rebuild...
    session.set_objective(lam=5.0)  # ...and λ moves before it is done
    wait_idle(qtbot, session)
    assert session.problem.objective.lam == 5.0
    theta = session.landscape.plane.point(1.0, 1.0)
    W, _ = session.problem.objective.unflatten(theta)
    i = np.argmin(np.abs(session.landscape.a_values - 1.0))
    j = np.argmin(np.abs(session.landscape.b_values - 1.0))
    expected = session.problem.objective.parts(session.landscape.plane.point(session.landscape.a_values[i],
                                                                              session.landscape.b_values[j]))[1]
    assert session.landscape.reg[j, i] == pytest.approx(expected)
    assert all(r.trajectory.losses[0] == pytest.approx(session.problem.objective.loss(r.thetas[0]))
               for r in session.results)
    session.shutdown()


def test_lambda_moved_while_the_landscape_computes_is_drawn(qtbot):
    session = Session(Experiment(plane=PlaneSpec(resolution=256, centre="zero"), steps=10))
    session.start()
    qtbot.waitUntil(lambda: session.problem is not None, timeout=30_000)
    session.set_objective(lam=0.01)  # most likely while the first landscape is still being computed
    wait_idle(qtbot, session)
    point = session.landscape.plane.point(session.landscape.a_values[-1], session.landscape.b_values[-1])
    assert session.landscape.reg[-1, -1] == pytest.approx(session.problem.objective.replace(lam=0.01).parts(point)[1])
    session.shutdown()


def test_penalty_changes_on_a_test_surface_are_harmless(qtbot):
    session = Session(Experiment(problem=ProblemSpec(source="surface", kind="bowl"), plane=PlaneSpec(centre="zero",
                                                                                                     resolution=32),
                                 steps=10))
    session.start()
    wait_idle(qtbot, session)
    assert session.set_objective(lam=3.0)
    wait_idle(qtbot, session)
    assert session.problem.is_surface
    session.shutdown()


def test_refused_values_make_the_controls_resync(qtbot):
    session = Session(Experiment(plane=PlaneSpec(resolution=32), steps=10))
    shown = []
    session.experimentChanged.connect(shown.append)
    assert not session.set_plane(axes=("W[0,1]", "W[0,1]"))
    assert shown == [session.experiment]  # the widgets are told to show the kept value again
    session.shutdown()


def test_a_batch_larger_than_the_data_is_refused_at_once(qtbot):
    session = Session(Experiment(plane=PlaneSpec(resolution=32), steps=10))
    session.start()
    wait_idle(qtbot, session)
    before = session.experiment
    messages = []
    session.failed.connect(messages.append)
    assert not session.set_hyper(3, "batch_size", 1000)
    assert session.experiment == before and "batch_size must be at most N = 300" in messages[0]
    session.shutdown()


def test_surfaces_get_steps_they_can_take_and_real_data_a_random_plane(qtbot):
    session = Session(Experiment(plane=PlaneSpec(resolution=32), steps=10))
    session.set_problem(source="surface", kind="rosenbrock", surface_params=())
    assert session.target.runs[2].hyper_dict["lr"] == 1e-3 and session.target.start == tuple(make_surface("rosenbrock").start)
    session.set_problem(source="bundled", kind="digits", surface_params=())
    assert "lr" not in session.target.runs[2].hyper_dict and session.target.plane.kind == "random"
    session.shutdown()


class FakeTime:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_clock_follows_elapsed_time_not_ticks(qtbot):
    fake = FakeTime()
    clock = AnimationClock(time_source=fake)
    clock.set_frame_count(101)
    clock.set_speed(25.0)
    frames = []
    clock.frameChanged.connect(frames.append)
    clock.play()
    fake.now += 1.0
    clock.tick()  # one tick after 1 s: frame 25, not frame 1
    assert clock.frame == 25
    for _ in range(10):
        fake.now += 0.01
        clock.tick()
    assert clock.frame == 27
    fake.now += 100
    clock.tick()
    assert clock.frame == 100 and not clock.playing  # stops at the end
    clock.loop = True
    clock.play()  # from the end: starts over
    assert clock.frame == 0
    fake.now += 4.5  # 112.5 frames at 25/s: wraps around to 112.5 - 101
    clock.tick()
    assert clock.playing and clock.frame == 11
    clock.pause()


def test_clock_step_seek_and_bounds(qtbot):
    clock = AnimationClock(time_source=FakeTime())
    clock.set_frame_count(10)
    clock.step(3)
    assert clock.frame == 3
    clock.step(-5)
    assert clock.frame == 0
    clock.seek(99)
    assert clock.frame == 9
    clock.set_frame_count(5)  # shorter trajectories: the frame is kept within them
    assert clock.frame == 4


def test_progress_crosses_to_the_gui_thread_only_when_someone_listens_and_the_filter_lets_it(qtbot):
    runner = JobRunner()
    crossed = []
    runner._relay.progress.connect(lambda channel, generation, item: crossed.append((channel, item)))

    def counting():
        for k in range(20):
            yield k
        return "done"

    with qtbot.waitSignal(runner.finished):
        runner.submit("unheard", counting)  # no on_progress, nobody on runner.progress: nothing crosses
    heard = []
    with qtbot.waitSignal(runner.finished):
        runner.submit("filtered", counting, on_progress=heard.append, progress_filter=lambda k: k % 5 == 0)
    qtbot.wait(20)
    assert [c for c, _ in crossed] == ["filtered"] * 4 and heard == [0, 5, 10, 15]


def test_the_progress_gate_passes_a_new_stage_at_once_and_counts_at_most_every_interval(monkeypatch):
    from losslab.app import session as session_module
    from losslab.engine.experiment import Progress

    clock = [100.0]
    monkeypatch.setattr(session_module.time, "monotonic", lambda: clock[0])
    gate = session_module.ProgressGate(interval=0.05)
    passed = []
    for t, item in [(0.0, Progress("data", 0, 1)), (0.001, Progress("runs", 1, 10)), (0.02, Progress("runs", 2, 10)),
                    (0.04, Progress("runs", 3, 10)), (0.052, Progress("runs", 4, 10)), (0.06, Progress("landscape", 0, 9)),
                    (0.07, Progress("landscape", 1, 9)), (0.2, Progress("landscape", 2, 9))]:
        clock[0] = 100.0 + t
        if gate(item):
            passed.append((item.stage, item.done))
    assert passed == [("data", 0), ("runs", 1), ("runs", 4), ("landscape", 0), ("landscape", 2)]


def test_the_progress_gate_holds_back_everything_while_the_window_would_show_nothing(monkeypatch):
    """A computation shorter than the window's delay shows no progress: its items need not cross at all."""
    from losslab.app import session as session_module
    from losslab.engine.experiment import Progress

    clock = [50.0]
    monkeypatch.setattr(session_module.time, "monotonic", lambda: clock[0])
    gate = session_module.ProgressGate(interval=0.05, quiet=0.5)  # made at the change, as the window's delay starts
    passed = []
    for t, item in [(0.01, Progress("data", 0, 1)), (0.2, Progress("runs", 1, 10)), (0.49, Progress("landscape", 0, 9)),
                    (0.5, Progress("landscape", 1, 9)), (0.52, Progress("landscape", 2, 9)),
                    (0.56, Progress("landscape", 3, 9)), (0.6, Progress("picture", 0, 1))]:
        clock[0] = 50.0 + t
        if gate(item):
            passed.append((item.stage, item.done))
    assert passed == [("landscape", 1), ("landscape", 3), ("picture", 0)]


def test_the_progress_gates_quiet_time_runs_from_the_sessions_first_pending_change(monkeypatch):
    """A job replacing another (a slider dragged) does not start the window's delay again: its gate is
    quiet only for what is left of it, and progress shown on the bar keeps moving."""
    from losslab.app import session as session_module
    from losslab.engine.experiment import Progress

    clock = [20.0]
    monkeypatch.setattr(session_module.time, "monotonic", lambda: clock[0])
    clock[0] = 20.7  # a replacing job, 0.7 s after the first change of the drag: past the window's delay
    gate = session_module.ProgressGate(interval=0.05, quiet=0.5, since=20.0)
    assert gate(Progress("runs", 1, 10))
    clock[0] = 20.3
    early = session_module.ProgressGate(interval=0.05, quiet=0.5, since=20.0)
    assert not early(Progress("runs", 1, 10))
    clock[0] = 20.5
    assert early(Progress("runs", 2, 10))
