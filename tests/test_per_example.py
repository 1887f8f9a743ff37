"""Per-example losses with each class's term, and a linear classifier drawn in its 2-D data space."""
import itertools

import numpy as np
import pytest

from losslab.engine import LOSSES, data_loss, per_example_losses
from losslab.engine.geometry import Line, decision_boundaries, score_zero_lines, weight_vectors

# the notes' cat/car/frog scores; a tie (two wrong classes equal, one at the margin's kink)
LECTURE = (np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]]), np.array([0, 1, 2]))
TIES = (np.array([[1.0, 2.0, 2.0], [0.0, -1.0, 0.0], [2.0, 2.0, 2.0]]), np.array([0, 1, 2]))


def naive_terms(scores, y, kind, margin):
    """Straight from the formulas, one example and one class at a time."""
    N, C = scores.shape
    terms = np.zeros((N, C))
    losses = np.zeros(N)
    for i in range(N):
        s, t = scores[i], y[i]
        if kind == "softmax":
            e = [np.exp(v - max(s)) for v in s]
            terms[i] = [v / sum(e) for v in e]
            losses[i] = -np.log(terms[i, t])
            continue
        if kind == "structured_svm":
            rival = min((j for j in range(C) if j != t), key=lambda j: (-s[j], j))
            terms[i, rival] = max(0.0, s[rival] - s[t] + margin)
        for j in range(C):
            if kind == "svm" and j != t:
                terms[i, j] = max(0.0, s[j] - s[t] + margin)
            elif kind == "squared_hinge" and j != t:
                terms[i, j] = max(0.0, s[j] - s[t] + margin) ** 2
            elif kind == "ova_svm":
                terms[i, j] = max(0.0, margin - s[t]) if j == t else max(0.0, margin + s[j])
        losses[i] = terms[i].sum()
    return losses, terms


@pytest.mark.parametrize("kind, case, margin", list(itertools.product(LOSSES, ("lecture", "ties", "random"), (1.0, 0.0))))
def test_per_example_losses_match_naive_loops_and_data_loss(kind, case, margin):
    if case == "random":
        rng = np.random.default_rng(3)
        scores, y = rng.normal(size=(40, 5)), rng.integers(0, 5, 40)
    else:
        scores, y = LECTURE if case == "lecture" else TIES
    losses, terms = per_example_losses(scores, y, kind, margin)
    expected_losses, expected_terms = naive_terms(scores, y, kind, margin)
    assert losses.shape == (len(y),) and terms.shape == scores.shape
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(terms, expected_terms, rtol=1e-12, atol=1e-15)
    assert losses.mean() == pytest.approx(data_loss(scores, y, kind, margin)[0], rel=1e-12, abs=1e-15)
    if kind == "softmax":
        np.testing.assert_allclose(terms.sum(axis=1), 1.0)
    else:
        np.testing.assert_allclose(terms.sum(axis=1), losses)


def test_the_lecture_example():
    losses, terms = per_example_losses(*LECTURE, "svm")
    np.testing.assert_allclose(losses, [2.9, 0.0, 12.9])
    np.testing.assert_allclose(terms[0], [0.0, 2.9, 0.0])  # cat: only car violates the margin
    assert terms[np.arange(3), LECTURE[1]].tolist() == [0.0, 0.0, 0.0]  # the true class's term is 0
    _, structured = per_example_losses(*TIES, "structured_svm")
    assert np.count_nonzero(structured[0]) == 1 and structured[0, 1] == 2.0  # the tie goes to the lower index


def test_softmax_terms_stay_finite_where_scores_are_huge():
    losses, probabilities = per_example_losses(np.array([[123.0, 456.0, 789.0]]), np.array([0]), "softmax")
    assert np.isfinite(losses).all() and losses[0] == pytest.approx(666.0)
    np.testing.assert_allclose(probabilities.sum(), 1.0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown loss"):
        per_example_losses(*LECTURE, "hinge")
    with pytest.raises(ValueError, match="labels y must lie in 0..2"):
        per_example_losses(LECTURE[0], np.array([0, 1, 3]), "svm")
    with pytest.raises(ValueError, match="margin"):
        per_example_losses(*LECTURE, "svm", margin=-1.0)


# --- geometry ---------------------------------------------------------------------------------

W = np.array([[1.0, -2.0, 0.5], [0.5, 1.0, -1.5]])
B = np.array([0.2, -0.3, 0.1])
BOX = (-3.0, 3.0, -2.0, 2.0)


def test_score_zero_lines_are_where_each_score_vanishes():
    for c, line in enumerate(score_zero_lines(W, B)):
        ends = line.segment(BOX)
        assert ends.shape == (2, 2)
        np.testing.assert_allclose(ends @ W[:, c] + B[c], 0.0, atol=1e-12)
        assert np.all((ends[:, 0] >= -3 - 1e-9) & (ends[:, 0] <= 3 + 1e-9))
        assert np.all((ends[:, 1] >= -2 - 1e-9) & (ends[:, 1] <= 2 + 1e-9))
        assert np.linalg.norm(ends[1] - ends[0]) > 0.5


def test_decision_boundaries_are_where_two_scores_tie():
    lines = decision_boundaries(W, B)
    assert sorted(lines) == [(0, 1), (0, 2), (1, 2)]
    for (i, j), line in lines.items():
        ends = line.segment(BOX)
        scores = ends @ W + B
        np.testing.assert_allclose(scores[:, i], scores[:, j], atol=1e-12)


def test_weight_vectors_point_up_their_scores():
    vectors = weight_vectors(W)
    assert vectors.shape == (3, 2)
    for c, v in enumerate(vectors):
        x = np.array([0.3, -0.2])
        assert (x + v) @ W[:, c] > x @ W[:, c]  # a step along W[:, c] raises class c's score


def test_lines_that_miss_or_do_not_exist():
    assert Line(np.array([0.0, 0.0]), 1.0).segment(BOX) is None  # a constant score: no line
    assert Line(np.array([1.0, 0.0]), -10.0).segment(BOX) is None  # x = 10: outside the box
    corner = Line(np.array([1.0, -1.0]), 0.0).segment((0.0, 1.0, 0.0, 1.0))  # the diagonal, corner to corner
    np.testing.assert_allclose(sorted(corner.tolist()), [[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="W \\(2, C\\)"):
        score_zero_lines(np.ones((3, 2)), np.ones(2))
