"""Data losses of a linear classifier, each with its exact gradient w.r.t. the scores.

Shapes: ``scores: (N, C)``, ``y: (N,)`` ints in ``0..C-1``. Every loss is the **mean** of
the per-example losses ``L_i``, and ``dscores`` is the gradient of that mean, so
``dscores`` sums per-example gradients divided by N. At a hinge's kink (a term exactly
at 0) the subgradient used is 0: a documented choice, the same one the CS231n notes make.

Scores that overflowed (±inf, NaN) never give a finite loss: the hinges are summed as
``max(0, term)``, which keeps a NaN term, rather than over the terms ``> 0``, which would
drop it. A blown-up run then shows a NaN loss and is caught as diverged.
"""
from __future__ import annotations

import functools

import numpy as np

from .registry import Entry, Param, Registry

Array = np.ndarray


def _true_flat(scores: Array, y: Array) -> Array:
    """Where each row's true-class score sits in a row-major ``(N, C)`` table, flattened: (N,) indices.

    A flat gather or scatter costs half of ``scores[rows, y]``: the losses below are evaluated
    thousands of times per run, on small arrays where indexing dominates. The tables it indexes
    must be C-contiguous, so that ``ravel()`` is a view (the losses make their input so).
    """
    c = scores.shape[1]
    return np.arange(0, len(y) * c, c) + y


def _true_scores(scores: Array, y: Array) -> Array:
    return np.ascontiguousarray(scores).ravel()[_true_flat(scores, y)]


def svm_loss(scores: Array, y: Array, margin: float = 1.0) -> tuple[float, Array]:
    """Weston–Watkins multiclass hinge: ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin)``."""
    scores = np.ascontiguousarray(scores)  # every table below is then row-major: ravel() is a view
    n = len(y)
    true = _true_flat(scores, y)
    margins = scores - scores.ravel()[true][:, None] + margin
    margins.ravel()[true] = 0.0
    active = margins > 0  # strict: subgradient 0 at the kink
    loss = np.maximum(margins, 0.0).sum() / n
    dscores = active.astype(float)
    dscores.ravel()[true] = -active.sum(axis=1)
    dscores /= n
    return float(loss), dscores


def squared_hinge_loss(scores: Array, y: Array, margin: float = 1.0) -> tuple[float, Array]:
    """L2-SVM: ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin)^2`` (violations cost quadratically)."""
    scores = np.ascontiguousarray(scores)  # every table below is then row-major: ravel() is a view
    n = len(y)
    true = _true_flat(scores, y)
    margins = scores - scores.ravel()[true][:, None] + margin
    margins.ravel()[true] = 0.0
    hinge = np.maximum(margins, 0.0)
    loss = (hinge * hinge).sum() / n
    dscores = 2.0 * hinge
    dscores.ravel()[true] = -dscores.sum(axis=1)
    dscores /= n
    return float(loss), dscores


def softmax_loss(scores: Array, y: Array, margin: float = 1.0) -> tuple[float, Array]:
    """Cross-entropy ``L_i = -log(exp(s_{y_i}) / sum_j exp(s_j))``; ``margin`` is ignored.

    The scores are shifted so that each row's maximum is 0 before exponentiating: the
    result is unchanged and ``exp`` cannot overflow, so scores of 1e4 and beyond stay finite.
    """
    scores = np.ascontiguousarray(scores)  # every table below is then row-major: ravel() is a view
    n = len(y)
    true = _true_flat(scores, y)
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1)
    loss = (np.log(total) - shifted.ravel()[true]).sum() / n
    dscores = exp / total[:, None]
    dscores.ravel()[true] -= 1.0
    dscores /= n
    return float(loss), dscores


def ova_svm_loss(scores: Array, y: Array, margin: float = 1.0) -> tuple[float, Array]:
    """One-vs-all hinge: ``L_i = max(0, margin - s_{y_i}) + sum_{j != y_i} max(0, margin + s_j)``.

    Each class is its own binary classifier with target +1 for its class and -1 otherwise.
    """
    n = len(y)
    rows = np.arange(n)
    sign = -np.ones_like(scores)  # -1 for the other classes: they should score below -margin
    sign[rows, y] = 1.0
    terms = margin - sign * scores
    active = terms > 0
    loss = np.sum(np.maximum(terms, 0.0)) / n
    dscores = -sign * active
    return float(loss), dscores / n


def structured_svm_loss(scores: Array, y: Array, margin: float = 1.0) -> tuple[float, Array]:
    """Crammer–Singer: ``L_i = max(0, max_{j != y_i} s_j - s_{y_i} + margin)``.

    Only the most-violating wrong class is penalised; at a tie the lowest class index is
    the one that receives the gradient (a documented choice).
    """
    n = len(y)
    rows = np.arange(n)
    others = scores.astype(float, copy=True)
    others[rows, y] = -np.inf
    rival = np.argmax(others, axis=1)
    terms = others[rows, rival] - _true_scores(scores, y) + margin
    active = terms > 0
    loss = np.sum(np.maximum(terms, 0.0)) / n
    dscores = np.zeros_like(scores, dtype=float)
    dscores[rows, rival] += active
    dscores[rows, y] -= active
    return float(loss), dscores / n


def _pairwise_hinge_terms(scores: Array, y: Array, margin: float) -> Array:
    """``s_j - s_{y_i} + margin`` for j != y_i: shape (N, C-1)."""
    terms = scores - _true_scores(scores, y)[:, None] + margin
    return terms[np.arange(scores.shape[1])[None, :] != y[:, None]].reshape(len(y), -1)


def _ova_terms(scores: Array, y: Array, margin: float) -> Array:
    sign = -np.ones_like(scores)
    sign[np.arange(len(y)), y] = 1.0
    return margin - sign * scores


def _structured_terms(scores: Array, y: Array, margin: float) -> Array:
    # kinks: the hinge itself, and ties between the two highest wrong scores (the rival switches)
    others = np.sort(_pairwise_hinge_terms(scores, y, margin), axis=1)
    hinge = others[:, -1:]
    if others.shape[1] < 2:
        return hinge
    return np.hstack([hinge, others[:, -1:] - others[:, -2:-1]])


# --- per-example losses over many score tables at once ------------------------------------------
# Class-major: ``scores: (C, ..., N)`` (class c's scores of the N examples, for any number of
# score tables, e.g. one per grid point of a landscape) -> ``L_i: (..., N)``. The same
# arithmetic as the losses above, in the same order (each L_i rounds as the reference's
# does), without their gradients. Class-major because with few classes a loop over them
# works on long contiguous rows, where reductions over a last axis of 3 would crawl.
#
# Each is written for labels that come in runs (one run per class, as the landscape hands
# them over: it sorts its examples by label once): a run's true-class scores are then a
# slice of one class's row, and its wrong classes are the other rows — no masks, no gathers,
# no true-class term computed only to be multiplied by 0. Other labels are sorted into runs
# first (and the losses put back in the caller's order), which costs one copy of the scores.

def _per_example(loss):
    """``loss(scores, runs, margin)`` over runs ``[(class, slice)]`` -> a per-example loss over any labels."""

    @functools.wraps(loss)
    def per_example(scores: Array, y: Array, margin: float) -> Array:
        y = np.asarray(y)
        if y.size == 0:
            return np.zeros(scores.shape[1:])
        cuts = np.flatnonzero(y[1:] != y[:-1]) + 1
        if cuts.size >= len(scores):  # more runs than classes: sort the examples into runs
            order = np.argsort(y, kind="stable")
            out = np.empty(scores.shape[1:])
            out[..., order] = per_example(scores[..., order], y[order], margin)
            return out
        starts, ends = np.r_[0, cuts], np.r_[cuts, y.size]
        return loss(scores, [(int(y[s]), slice(int(s), int(e))) for s, e in zip(starts, ends)], margin)

    return per_example


def _wrong(scores: Array, c: int, run: slice):
    """The scores of the classes other than c, for the examples of ``run``."""
    return (s[..., run] for j, s in enumerate(scores) if j != c)


def _hinge_sum(scores: Array, runs, margin: float, power: int) -> Array:
    """``sum_{j != y} max(0, (s_j - s_y) + margin) ** power``, as ``svm_loss`` rounds each term."""
    total = np.zeros(scores.shape[1:])
    for c, run in runs:
        true, out = scores[c][..., run], total[..., run]
        for s in _wrong(scores, c, run):
            term = s - true
            term += margin
            np.maximum(term, 0.0, out=term)
            out += term if power == 1 else np.square(term, out=term)
    return total


@_per_example
def _svm_examples(scores: Array, runs, margin: float) -> Array:
    """The multiclass hinge: the wrong classes' ``max(0, (s_j - s_y) + margin)``, summed."""
    return _hinge_sum(scores, runs, margin, 1)


@_per_example
def _squared_hinge_examples(scores: Array, runs, margin: float) -> Array:
    """The L2-SVM: the same terms squared, summed."""
    return _hinge_sum(scores, runs, margin, 2)


@_per_example
def _softmax_examples(scores: Array, runs, margin: float) -> Array:
    """``log(sum_j exp(s_j - top)) - (s_y - top)`` with ``top = max_j s_j``: exp cannot overflow."""
    top = scores[0].copy()
    for s in scores[1:]:
        np.maximum(top, s, out=top)
    total = np.zeros_like(top)
    term = np.empty_like(top)
    for s in scores:
        np.subtract(s, top, out=term)
        total += np.exp(term, out=term)
    loss = np.log(total, out=total)
    for c, run in runs:
        loss[..., run] -= scores[c][..., run] - top[..., run]
    return loss


@_per_example
def _ova_examples(scores: Array, runs, margin: float) -> Array:
    """``max(0, margin - s_y) + sum_{j != y} max(0, margin + s_j)``."""
    total = np.zeros(scores.shape[1:])
    for c, run in runs:
        out = total[..., run]
        for j, s in enumerate(scores):
            term = margin - s[..., run] if j == c else margin + s[..., run]
            out += np.maximum(term, 0.0, out=term)
    return total


@_per_example
def _structured_examples(scores: Array, runs, margin: float) -> Array:
    """``max(0, (max_{j != y} s_j - s_y) + margin)``."""
    total = np.empty(scores.shape[1:])
    for c, run in runs:
        wrong = _wrong(scores, c, run)
        rival = next(wrong).copy()
        for s in wrong:
            np.maximum(rival, s, out=rival)
        rival -= scores[c][..., run]
        rival += margin
        total[..., run] = np.maximum(rival, 0.0, out=rival)
    return total


# --- what the lecture shows per example: each class's term ------------------------------------------
# ``(scores (N, C), y (N,), margin) -> (losses (N,), terms (N, C))`` for :func:`per_example_losses`:
# the hinge family's per-class parts of L_i (which sum to it), softmax's probabilities.

def _summed(class_terms):
    """A hinge loss's terms -> ``(their row sums, terms)``: each L_i is the sum of its class terms."""
    @functools.wraps(class_terms)
    def losses_and_terms(scores: Array, y: Array, margin: float) -> tuple[Array, Array]:
        terms = class_terms(scores, y, margin)
        return terms.sum(axis=1), terms
    return losses_and_terms


def _svm_terms(scores: Array, y: Array, margin: float) -> Array:
    terms = np.maximum(scores - _true_scores(scores, y)[:, None] + margin, 0.0)
    terms[np.arange(len(y)), y] = 0.0
    return terms


def _squared_hinge_class_terms(scores: Array, y: Array, margin: float) -> Array:
    return _svm_terms(scores, y, margin) ** 2


def _ova_class_terms(scores: Array, y: Array, margin: float) -> Array:
    return np.maximum(_ova_terms(scores, y, margin), 0.0)


def _structured_class_terms(scores: Array, y: Array, margin: float) -> Array:
    rows = np.arange(len(y))
    others = scores.astype(float, copy=True)
    others[rows, y] = -np.inf
    rival = np.argmax(others, axis=1)  # at a tie the lowest class index, as structured_svm_loss
    terms = np.zeros_like(scores, dtype=float)
    terms[rows, rival] = np.maximum(others[rows, rival] - _true_scores(scores, y) + margin, 0.0)
    return terms


def _softmax_probabilities(scores: Array, y: Array, margin: float) -> tuple[Array, Array]:
    shifted = scores - scores.max(axis=1, keepdims=True)  # the max-shift: exp cannot overflow
    exp = np.exp(shifted)
    total = exp.sum(axis=1)
    # -log p_y from the shifted scores, never the log of a probability that underflowed to 0
    return np.log(total) - shifted[np.arange(len(y)), y], exp / total[:, None]


MARGIN = Param("margin", 1.0, "margin Δ", low=0.0, high=1e6,
                help="Δ: how far the correct score must beat the others before the loss is 0")

LOSSES = Registry("loss", [
    Entry("svm", "Multiclass SVM (hinge)", svm_loss,
          "Lᵢ = Σⱼ≠ᵧᵢ max(0, sⱼ − sᵧᵢ + Δ)", (MARGIN,),
          "Weston–Watkins multiclass hinge: every wrong class closer than Δ to the correct one adds to the loss.",
          {"kink_terms": _pairwise_hinge_terms, "per_example": _svm_examples, "class_terms": _summed(_svm_terms)}),
    Entry("squared_hinge", "Squared hinge (L2-SVM)", squared_hinge_loss,
          "Lᵢ = Σⱼ≠ᵧᵢ max(0, sⱼ − sᵧᵢ + Δ)²", (MARGIN,),
          "The multiclass hinge with each term squared: violations cost quadratically.",
          {"per_example": _squared_hinge_examples, "class_terms": _summed(_squared_hinge_class_terms)}),
    Entry("softmax", "Softmax (cross-entropy)", softmax_loss,
          "Lᵢ = −log(exp(sᵧᵢ) / Σⱼ exp(sⱼ))", (),
          "Negative log-probability of the correct class under the softmax of the scores.",
          {"per_example": _softmax_examples, "class_terms": _softmax_probabilities}),
    Entry("ova_svm", "One-vs-all hinge", ova_svm_loss,
          "Lᵢ = max(0, Δ − sᵧᵢ) + Σⱼ≠ᵧᵢ max(0, Δ + sⱼ)", (MARGIN,),
          "One binary hinge per class: the correct class should score above Δ, the others below −Δ.",
          {"kink_terms": _ova_terms, "per_example": _ova_examples, "class_terms": _summed(_ova_class_terms)}),
    Entry("structured_svm", "Structured SVM (Crammer–Singer)", structured_svm_loss,
          "Lᵢ = max(0, maxⱼ≠ᵧᵢ sⱼ − sᵧᵢ + Δ)", (MARGIN,),
          "Only the highest-scoring wrong class is penalised.",
          {"kink_terms": _structured_terms, "per_example": _structured_examples,
           "class_terms": _summed(_structured_class_terms)}),
])


def check_scores_labels(scores: Array, y: Array) -> tuple[Array, Array]:
    """Validate and convert ``scores (N, C)`` and ``y (N,)``; raise ``ValueError`` naming the problem."""
    if np.iscomplexobj(scores):
        raise ValueError("scores must be real numbers, not complex ones")
    scores = np.asarray(scores, dtype=float)
    y_arr = np.asarray(y)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a 2-D array (N, C), got shape {scores.shape}")
    n, c = scores.shape
    if n == 0 or c < 2:
        raise ValueError(f"scores need at least 1 example and 2 classes, got shape {scores.shape}")
    if y_arr.shape != (n,):
        raise ValueError(f"labels y must have shape ({n},) to match scores {scores.shape}, got {y_arr.shape}")
    if y_arr.dtype.kind not in "iub":
        if y_arr.dtype.kind == "f" and np.all(np.isfinite(y_arr)) and np.all(y_arr == np.round(y_arr)):
            y_arr = y_arr.astype(int)
        else:
            raise ValueError("labels y must be whole numbers (class indices)")
    y_arr = y_arr.astype(np.intp)
    if y_arr.min() < 0 or y_arr.max() >= c:
        raise ValueError(f"labels y must lie in 0..{c - 1} for {c} classes, found {y_arr.min()}..{y_arr.max()}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinity")
    return scores, y_arr


def data_loss(scores: Array, y: Array, kind: str = "svm", margin: float = 1.0) -> tuple[float, Array]:
    """Mean data loss over the N examples and its gradient.

    scores: (N, C); y: (N,) ints in 0..C-1; kind: a name in ``LOSSES``; margin: Δ (≥ 0).
    Returns ``(loss, dscores)`` with ``dscores: (N, C)`` the exact gradient of the mean
    loss (subgradient 0 at kinks).
    """
    entry = LOSSES[kind]
    scores, y = check_scores_labels(scores, y)
    if entry.params:
        margin = entry.param("margin").validate(margin)
    return entry.impl(scores, y, margin)


def per_example_losses(scores: Array, y: Array, kind: str = "svm", margin: float = 1.0) -> tuple[Array, Array]:
    """Each example's loss and what the lecture shows of it per class: ``(losses (N,), terms (N, C))``.

    scores: (N, C); y: (N,) ints in 0..C-1; kind: a name in ``LOSSES``; margin: Δ (≥ 0).
    ``losses[i]`` is L_i (their mean is :func:`data_loss`). For the hinge family
    ``terms[i, j]`` is class j's term of L_i (the row sums to L_i): ``max(0, s_j - s_y + Δ)``
    (squared for the L2-SVM) with 0 for the true class; one-vs-all's true class holds
    ``max(0, Δ - s_y)``; the structured SVM's only non-zero term is its most violating wrong
    class (the lowest index at a tie). For softmax ``terms[i, j]`` is the probability
    ``softmax(s_i)_j`` (the row sums to 1) and ``L_i = -log softmax(s_i)_{y_i}``.
    """
    entry = LOSSES[kind]
    scores, y = check_scores_labels(scores, y)
    if entry.params:
        margin = entry.param("margin").validate(margin)
    return entry.extra["class_terms"](scores, y, margin)


def kink_distance(scores: Array, y: Array, kind: str = "svm", margin: float = 1.0) -> Array:
    """Per example, the distance in score units to the nearest kink of the loss: ``(N,)``.

    Smooth losses (softmax, squared hinge) have no kinks: the distance is ``inf``.
    """
    entry = LOSSES[kind]
    scores, y = check_scores_labels(scores, y)
    terms_of = entry.extra.get("kink_terms")
    if terms_of is None:
        return np.full(len(y), np.inf)
    return np.abs(terms_of(scores, y, margin)).min(axis=1)
