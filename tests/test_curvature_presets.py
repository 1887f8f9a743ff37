"""The curvature presets say what the engine computes: 2/λ_max, κ, who converges and who diverges."""
import pytest

from losslab.engine import curvature
from losslab.engine.experiment import compute_all
from losslab.io.session_file import load_session, resolve_session

pytestmark = pytest.mark.timeout(120)


def computed(name):
    experiment, view, info = load_session(resolve_session(name))
    return compute_all(experiment), view, info


def test_why_this_learning_rate_diverges():
    c, view, info = computed("why-this-learning-rate-diverges")
    surface = c.problem.objective
    start = c.runs[0].thetas[0]
    curv = curvature(surface, start)
    assert curv.lambda_max == pytest.approx(10.0) and curv.lr_max == pytest.approx(0.2)  # "λ_max = 10", "0.2"
    assert "λ_max = 10" in info["description"] and "2/λ_max = 0.2" in info["description"]
    lrs = [r.spec.hyper_dict["lr"] for r in c.runs]
    assert lrs == [0.1, 0.19, 0.21]
    # the steep direction is multiplied by 1 − lr·λ_max each step: 0, −0.9, −1.1
    steep = curv.eigenvectors[:, -1]
    for result, factor in zip(c.runs, (0.0, -0.9, -1.1)):
        along = (result.thetas[:4] @ steep)  # the minimum is at 0
        assert along[1] == pytest.approx(factor * along[0], abs=1e-9)
        assert along[2] == pytest.approx(factor ** 2 * along[0], abs=1e-9)
    assert [r.trajectory.status for r in c.runs] == ["completed", "completed", "diverged"]
    assert c.runs[0].trajectory.losses[-1] < 1e-12 and c.runs[1].trajectory.losses[-1] < 1e-10
    assert 0.21 / curv.lr_max == pytest.approx(1.05)  # "just 5% more"


def test_momentum_on_an_ill_conditioned_bowl():
    c, view, info = computed("momentum-ill-conditioned-bowl")
    surface = c.problem.objective
    curv = curvature(surface, c.runs[0].thetas[0])
    assert curv.condition == pytest.approx(100.0) and curv.lr_max == pytest.approx(0.02)
    assert "κ = λ_max/λ_min = 100" in info["description"]
    gd, momentum, nesterov = c.runs
    assert gd.spec.hyper_dict["lr"] < curv.lr_max
    assert 1 - gd.spec.hyper_dict["lr"] * curv.lambda_min == pytest.approx(0.981)  # "≈ 2%" a step
    # along the valley momentum's steps build up to lr/(1 − μ) per unit of slope: "0.1, five times 0.019"
    h = momentum.spec.hyper_dict
    assert h["lr"] / (1 - h["momentum"]) == pytest.approx(0.1)
    assert h["lr"] / (1 - h["momentum"]) / gd.spec.hyper_dict["lr"] == pytest.approx(5, rel=0.06)
    assert gd.trajectory.losses[-1] > 1e-3  # still on its way
    assert momentum.trajectory.losses[-1] < 1e-8 and nesterov.trajectory.losses[-1] < 1e-8
    assert all(r.trajectory.status == "completed" for r in c.runs)
