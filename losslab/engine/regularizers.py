"""Weight penalties ``lam * R(W)`` and their gradients. Biases are never regularized.

``W: (D, C)`` (or any shape: the penalty is elementwise). The subgradient of ``|w|`` at
``w = 0`` is taken as 0, a documented choice.
"""
from __future__ import annotations

import numpy as np

from .registry import Entry, Param, Registry

Array = np.ndarray


def no_penalty(W: Array, beta: float) -> tuple[float, Array]:
    """R(W) = 0."""
    return 0.0, np.zeros_like(W)


def l2_penalty(W: Array, beta: float) -> tuple[float, Array]:
    """R(W) = Σ W² (weight decay); dR/dW = 2W."""
    return float(np.sum(W * W)), 2.0 * W


def l1_penalty(W: Array, beta: float) -> tuple[float, Array]:
    """R(W) = Σ |W|; dR/dW = sign(W), 0 at W = 0."""
    return float(np.sum(np.abs(W))), np.sign(W)


def elastic_net_penalty(W: Array, beta: float) -> tuple[float, Array]:
    """R(W) = β Σ W² + Σ |W| (the seeds' form: β weighs the L2 part)."""
    return float(beta * np.sum(W * W) + np.sum(np.abs(W))), 2.0 * beta * W + np.sign(W)


BETA = Param("beta", 0.5, "β (L2 share)", low=0.0, high=1e6,
              help="β in R(W) = β Σ W² + Σ |W|")

LAM = Param("lam", 0.0, "λ (strength)", low=0.0, high=1e6, log=True,
            help="regularization strength λ in L = data loss + λ R(W)")

REGULARIZERS = Registry("regularizer", [
    Entry("none", "None", no_penalty, "R(W) = 0", (), "No penalty: many W give the same data loss."),
    Entry("l2", "L2 (weight decay)", l2_penalty, "R(W) = ‖W‖² = Σₖ Σₗ Wₖₗ²", (),
          "Prefers small, diffuse weights: a round bowl in W."),
    Entry("l1", "L1", l1_penalty, "R(W) = ‖W‖₁ = Σₖ Σₗ |Wₖₗ|", (),
          "Prefers sparse weights: a diamond with corners on the axes."),
    Entry("elastic_net", "Elastic net (L1 + L2)", elastic_net_penalty,
          "R(W) = Σₖ Σₗ (β Wₖₗ² + |Wₖₗ|)", (BETA,),
          "L1 plus β times L2: sparse and small."),
])


def penalty(W: Array, kind: str = "l2", lam: float = 0.0, beta: float = 0.5) -> tuple[float, Array]:
    """``lam * R(W)`` and its gradient ``dW`` (same shape as ``W``).

    kind: a name in ``REGULARIZERS``; lam: λ ≥ 0; beta: β ≥ 0 (elastic net only).
    """
    entry = REGULARIZERS[kind]
    lam = LAM.validate(lam)
    beta = BETA.validate(beta)
    W = np.asarray(W, dtype=float)
    if not np.all(np.isfinite(W)):
        raise ValueError("W contains NaN or infinity")
    value, dW = entry.impl(W, beta)
    return lam * value, lam * dW
