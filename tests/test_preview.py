"""A slow new landscape is shown first on a coarse grid, then committed again in full: the same experiment."""
from dataclasses import replace

import numpy as np
import pytest

from losslab.engine.experiment import (PREVIEW_RESOLUTION, Experiment, ModelSpec, ObjectiveSpec, PlaneSpec,
                                       ProblemSpec, RunSpec, compute, drain)

pytestmark = pytest.mark.timeout(120)

SMALL = Experiment(problem=ProblemSpec(kind="spiral", n=60), objective=ObjectiveSpec(loss="softmax", lam=0.01),
                   model=ModelSpec(kind="mlp", hidden=6, init_scale=0.5),
                   plane=PlaneSpec(kind="random", centre="init", resolution=64),
                   runs=(RunSpec("gd", (("lr", 0.5),)),), start=(0.0, 0.0), steps=30, space="full")


def test_a_preview_is_coarse_and_computing_again_refines_only_the_landscape():
    preview = drain(compute(SMALL, preview_seconds=0.0))
    assert preview.is_preview and preview.landscape.data.shape == (PREVIEW_RESOLUTION, PREVIEW_RESOLUTION)
    full = drain(compute(preview.experiment, previous=preview))
    assert not full.is_preview and full.landscape.data.shape == (64, 64)
    assert full.problem is preview.problem and full.runs[0].trajectory is preview.runs[0].trajectory
    # the coarse grid samples the same surface: its corners are the full grid's corners
    for j, i in ((0, 0), (-1, -1), (0, -1)):
        assert preview.landscape.part("total")[j, i] == pytest.approx(full.landscape.part("total")[j, i], rel=1e-12)


def test_no_preview_when_the_landscape_is_quick_or_reused():
    assert not drain(compute(SMALL, preview_seconds=1e9)).is_preview
    full = drain(compute(SMALL))
    steps = drain(compute(replace(full.experiment, steps=31), previous=full, preview_seconds=0.0))
    assert not steps.is_preview and steps.landscape is full.landscape  # a run's change keeps the landscape


def previewing_session():
    """A session that shows every new landscape as a preview first; the list its commits go to."""
    from losslab.app.session import Session
    session = Session(SMALL, preview_seconds=0.0)
    commits = []
    session.committed.connect(commits.append)
    session.start()
    return session, commits


def test_session_commits_the_preview_then_the_full_landscape(qtbot):
    session, commits = previewing_session()
    qtbot.waitUntil(lambda: len(commits) == 2, timeout=30_000)
    first, second = commits
    assert first.computed.is_preview and not second.computed.is_preview
    assert first.computed.experiment == second.computed.experiment == session.experiment
    assert second.display.values.shape == (64, 64) and session.snapshot is second
    session.shutdown()


def test_a_change_during_refinement_replaces_it(qtbot):
    session, commits = previewing_session()
    qtbot.waitUntil(lambda: len(commits) >= 1, timeout=30_000)
    session.set_objective(lam=0.5)
    qtbot.waitUntil(lambda: session.pending is None and not session.snapshot.computed.is_preview
                    and not session.jobs.is_running("refine"), timeout=30_000)
    final = session.snapshot.computed
    assert final.experiment.objective.lam == 0.5 and final.landscape.data.shape == (64, 64)
    assert np.isfinite(final.landscape.part("total")).all()
    session.shutdown()


def test_a_preview_left_by_a_change_that_replaced_nothing_still_gets_its_full_grid(qtbot):
    """Edit and edit back (or a failed edit) while the preview shows: the refinement resumes."""
    session, commits = previewing_session()
    qtbot.waitUntil(lambda: len(commits) >= 1, timeout=30_000)
    lam = session.experiment.objective.lam
    session.set_objective(lam=0.5)
    session.set_objective(lam=lam)  # back to what is on screen
    qtbot.waitUntil(lambda: not session.snapshot.computed.is_preview, timeout=30_000)
    assert session.snapshot.computed.landscape.data.shape == (64, 64)
    session.shutdown()


def test_exports_refuse_a_preview(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from losslab.app.export import PREVIEW_SHOWN, refuse_preview
    preview = drain(compute(SMALL, preview_seconds=0.0))
    with pytest.raises(ValueError, match="coarse preview"):
        refuse_preview(preview)
    refuse_preview(drain(compute(preview.experiment, previous=preview)))  # the full one goes out
    assert "try again" in PREVIEW_SHOWN
