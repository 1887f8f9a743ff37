"""Data losses: hand-worked cases, naive per-example loop twins, numerical gradients."""
import math

import numpy as np
import pytest

from losslab.engine import LOSSES, data_loss, kink_distance, numerical_gradient


# --- naive loop twins: one example at a time, straight from the formulas -----------------

def naive_loss(scores, y, kind, margin):
    total = 0.0
    for s, yi in zip(scores, y):
        C = len(s)
        if kind == "svm":
            total += sum(max(0.0, s[j] - s[yi] + margin) for j in range(C) if j != yi)
        elif kind == "squared_hinge":
            total += sum(max(0.0, s[j] - s[yi] + margin) ** 2 for j in range(C) if j != yi)
        elif kind == "softmax":
            m = max(s)
            total += -(s[yi] - m) + math.log(sum(math.exp(v - m) for v in s))
        elif kind == "ova_svm":
            total += max(0.0, margin - s[yi]) + sum(max(0.0, margin + s[j]) for j in range(C) if j != yi)
        elif kind == "structured_svm":
            total += max(0.0, max(s[j] for j in range(C) if j != yi) - s[yi] + margin)
    return total / len(y)


def naive_dscores(scores, y, kind, margin):
    N, C = scores.shape
    d = np.zeros((N, C))
    for i, (s, yi) in enumerate(zip(scores, y)):
        for j in range(C):
            if kind in ("svm", "squared_hinge") and j != yi:
                t = s[j] - s[yi] + margin
                if t > 0:
                    g = 1.0 if kind == "svm" else 2 * t
                    d[i, j] += g
                    d[i, yi] -= g
            if kind == "ova_svm":
                if j == yi and margin - s[j] > 0:
                    d[i, j] -= 1
                if j != yi and margin + s[j] > 0:
                    d[i, j] += 1
        if kind == "softmax":
            p = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
            d[i] = p
            d[i, yi] -= 1
        if kind == "structured_svm":
            rival = max((j for j in range(C) if j != yi), key=lambda j: (s[j], -j))
            if s[rival] - s[yi] + margin > 0:
                d[i, rival] += 1
                d[i, yi] -= 1
    return d / N


KINDS = list(LOSSES)


def test_registry_lists_the_five_losses():
    assert KINDS == ["svm", "squared_hinge", "softmax", "ova_svm", "structured_svm"]
    for entry in LOSSES.values():
        assert entry.label and entry.formula and entry.description


def test_seed_worked_example_cat_car_frog():
    # the lecture's image: cat -96.8, car 437.9, frog 61.95, true class cat
    scores = np.array([[-96.8, 437.9, 61.95]])
    loss, dscores = data_loss(scores, np.array([0]), "svm")
    assert loss == pytest.approx(695.45, abs=1e-9)
    np.testing.assert_array_equal(dscores, [[-2.0, 1.0, 1.0]])


# (kind, scores, y, margin, loss, dscores) worked by hand; kinks included on purpose
HAND_CASES = [
    ("svm", [[3.2, 5.1, -1.7]], [0], 1.0, 2.9, [[-1, 1, 0]]),
    ("svm", [[1.3, 4.9, 2.0]], [1], 1.0, 0.0, [[0, 0, 0]]),
    ("svm", [[2.2, 2.5, -3.1]], [2], 1.0, 6.3 + 6.6, [[1, 1, -2]]),
    ("svm", [[0.0, 1.0]], [1], 1.0, 0.0, [[0, 0]]),  # term exactly at the kink: subgradient 0
    ("svm", [[3.2, 5.1, -1.7]], [0], 0.0, 1.9, [[-1, 1, 0]]),
    ("squared_hinge", [[3.2, 5.1, -1.7]], [0], 1.0, 2.9 ** 2, [[-5.8, 5.8, 0]]),
    ("softmax", [[0.0, 0.0, 0.0]], [1], 1.0, math.log(3), [[1 / 3, -2 / 3, 1 / 3]]),
    ("softmax", [[math.log(2), 0.0]], [0], 1.0, math.log(1.5), [[2 / 3 - 1, 1 / 3]]),
    ("ova_svm", [[0.5, -2.0, 0.2]], [0], 1.0, 0.5 + 0 + 1.2, [[-1, 0, 1]]),
    ("ova_svm", [[1.0, -1.0]], [0], 1.0, 0.0, [[0, 0]]),  # both terms at their kinks
    ("structured_svm", [[3.2, 5.1, -1.7]], [0], 1.0, 2.9, [[-1, 1, 0]]),
    ("structured_svm", [[1.0, 0.5, 0.5]], [0], 1.0, 0.5, [[-1, 1, 0]]),  # tie: lowest index
    ("structured_svm", [[3.0, 1.0, 2.0]], [0], 1.0, 0.0, [[0, 0, 0]]),  # at the kink
]


@pytest.mark.parametrize("kind, scores, y, margin, expected, expected_d", HAND_CASES)
def test_hand_worked_cases(kind, scores, y, margin, expected, expected_d):
    loss, dscores = data_loss(np.array(scores), np.array(y), kind, margin)
    assert loss == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(dscores, expected_d, atol=1e-12)


def test_mean_over_examples():
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    loss, _ = data_loss(scores, np.array([0, 1, 2]), "svm")
    assert loss == pytest.approx((2.9 + 0 + 12.9) / 3)  # the lecture's three-image example: 5.27


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("margin", [0.0, 1.0, 2.5])
def test_vectorized_equals_naive_loop(kind, margin):
    rng = np.random.default_rng(7)
    scores = rng.normal(scale=2.0, size=(40, 5))
    y = rng.integers(0, 5, size=40)
    loss, dscores = data_loss(scores, y, kind, margin)
    assert loss == pytest.approx(naive_loss(scores, y, kind, margin), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(dscores, naive_dscores(scores, y, kind, margin), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_dscores_match_numerical_gradient(kind):
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(8, 4))
    y = rng.integers(0, 4, size=8)
    assert kink_distance(scores, y, kind).min() > 1e-3  # a generic point: no kink within reach
    _, dscores = data_loss(scores, y, kind)
    numeric = numerical_gradient(lambda s: data_loss(s.reshape(8, 4), y, kind)[0], scores.ravel())
    np.testing.assert_allclose(dscores.ravel(), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("scale", [1e4, 1e6, 1e300])
def test_softmax_is_finite_for_huge_scores(scale):
    scores = np.array([[1.0, 2.0, 3.0], [-3.0, 0.5, 0.0]]) * scale
    loss, dscores = data_loss(scores, np.array([0, 2]), "softmax")
    assert np.isfinite(loss) and np.all(np.isfinite(dscores))
    assert loss == pytest.approx((2 * scale + 0.5 * scale) / 2, rel=1e-9)


def test_softmax_of_the_notes_example():
    # f = [123, 456, 789]: exp overflows without the max-shift
    loss, _ = data_loss(np.array([[123.0, 456.0, 789.0]]), np.array([2]), "softmax")
    assert loss == pytest.approx(math.log1p(math.exp(-333) + math.exp(-666)), abs=1e-12)


@pytest.mark.parametrize("kind", ["svm", "ova_svm", "structured_svm"])
def test_kink_distance_of_hinge_losses(kind):
    scores = np.array([[0.0, 1.0, -0.5], [0.0, 3.0, -0.5]])
    d = kink_distance(scores, np.array([1, 1]), kind, 1.0)
    assert d[0] == pytest.approx(0.0)  # s_0 - s_1 + 1 = 0, and 1 - s_1 = 0 for one-vs-all
    assert d[1] > 0.4


@pytest.mark.parametrize("kind", ["softmax", "squared_hinge"])
def test_smooth_losses_have_no_kinks(kind):
    assert np.isinf(kink_distance(np.zeros((3, 2)), np.array([0, 1, 0]), kind)).all()


@pytest.mark.parametrize("scores, y, kind, margin, message", [
    (np.zeros((3, 2)), np.array([0, 1]), "svm", 1.0, "labels y must have shape"),
    (np.zeros(3), np.array([0, 1, 1]), "svm", 1.0, "2-D"),
    (np.zeros((2, 3)), np.array([0, 3]), "svm", 1.0, "0..2"),
    (np.zeros((2, 3)), np.array([-1, 0]), "svm", 1.0, "0..2"),
    (np.zeros((2, 3)), np.array([0.5, 1]), "svm", 1.0, "whole numbers"),
    (np.array([[np.nan, 0.0]]), np.array([0]), "svm", 1.0, "NaN"),
    (np.zeros((2, 3)), np.array([0, 1]), "hinge", 1.0, "unknown loss 'hinge'"),
    (np.zeros((2, 3)), np.array([0, 1]), "svm", -1.0, "margin must be >= 0"),
    (np.zeros((2, 3)), np.array([0, 1]), "svm", float("nan"), "margin must be a finite number"),
    (np.zeros((2, 1)), np.array([0, 0]), "svm", 1.0, "2 classes"),
])
def test_bad_input_is_named(scores, y, kind, margin, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        data_loss(scores, y, kind, margin)


def test_inputs_are_not_mutated():
    scores = np.array([[3.2, 5.1, -1.7]])
    before = scores.copy()
    for kind in KINDS:
        data_loss(scores, np.array([0]), kind)
    np.testing.assert_array_equal(scores, before)


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_any_memory_layout_gives_the_same_loss(kind):
    """A score table laid out column-major, or a strided view, is the same table: the same loss and gradient."""
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((7, 4))
    y = rng.integers(0, 4, 7)
    expected_loss, expected_d = data_loss(scores, y, kind)
    for layout in (np.asfortranarray(scores), np.hstack([scores, scores])[:, :4], scores.T.copy().T):
        loss, d = data_loss(layout, y, kind)
        assert loss == expected_loss
        assert np.array_equal(d, expected_d)
