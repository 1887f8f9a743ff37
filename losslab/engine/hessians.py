"""Curvature of the training objective: its Hessian, eigenpairs, and the largest stable learning rate.

Shapes: ``theta, v: (P,)``, the Hessian ``H: (P, P)``, symmetric, in theta's order (see
``losslab.engine.models``). Everything is of the **full** objective (all N examples, no
dropout), the one gradient descent minimizes: ``H = ∇²[mean_i L_i + lam R(weights)]``.

Exact where it can be, by model and loss:

- the linear classifier (capability ``"affine_scores"``): with ``x̃ = [x, 1]`` and theta read
  as ``W̃ = [W; b]`` of shape (D+1, C) row-major, the data Hessian is
  ``(1/N) Σ_i kron(x̃_i x̃_iᵀ, A_i)`` (the θ order: feature-major, class-minor), ``A_i`` the
  per-example Hessian of the loss in the scores:

  - softmax: ``A_i = diag(p_i) − p_i p_iᵀ``, ``p_i = softmax(s_i)``;
  - squared hinge: ``A_i = 2 Σ_{j active} (e_j − e_y)(e_j − e_y)ᵀ``, active: ``s_j − s_y + Δ > 0``
    (strictly: at a term exactly 0 its second derivative jumps, and 0 is taken, as the
    subgradient convention does);
  - the hinge losses (svm, ova_svm, structured_svm) are piecewise linear in the scores:
    ``A_i = 0`` away from their kinks, and 0 is taken at a kink.

  Assembled without a loop over examples: one ``UᵀU`` product (``U = [x̃_i ⊗ p_i]``, N x P)
  and C products of ``X̃ᵀ diag(·) X̃``, in pieces of examples of bounded size.
- the two-layer network: the dense Hessian in closed form, by blocks of the two layers
  (:func:`_network_hessian`: the same Kronecker sums over examples, through the hidden
  layer); Hessian-vector products by forward-over-reverse differentiation (Pearlmutter's
  R-operator through the forward and backward passes). Both exact; ReLU's second
  derivative is 0 (its kink, like the hinge's, contributes nothing), tanh's ``−2a(1 − a²)``.
- the penalty ``lam R``: L2 adds ``2 lam`` on the diagonal of the penalized entries (the
  weights; biases never), elastic net ``2 lam β``, L1 and none nothing (``|w|`` is linear
  away from ``w = 0``, and 0 is taken at 0).
- :class:`~losslab.engine.PlaneObjective`: the 2 x 2 Hessian ``Bᵀ H B`` of the slice (``B = [d1 d2]``).
- anything else with ``loss_grad`` (a test surface, a loss without a Hessian here): central
  differences of the exact gradient, ``H[:, k] = (g(θ + h e_k) − g(θ − h e_k)) / 2h`` with
  ``h = FD_STEP · max(1, |θ_k|)``, symmetrized (exact for a quadratic up to rounding).

:func:`curvature` takes the eigendecomposition: dense (``numpy.linalg.eigh``) up to
``DENSE_LIMIT`` parameters; beyond, the ``LANCZOS_PAIRS`` lowest and highest eigenpairs by
Lanczos on Hessian-vector products, never forming H. Eigenvalues within rounding of 0
(``|λ| ≤ P ε max|λ|``) are reported as exactly 0.

Long loops (blocks of directions, Lanczos steps) call ``generators.checkpoint()``: a
cancelled computation stops between two of them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .generators import checkpoint
from .losses import LOSSES
from .models import MLPModel
from .planes import PlaneObjective

Array = np.ndarray

DENSE_LIMIT = 2000  # parameters: up to here dense eigh (~1.4 s at 2000 on one BLAS thread), beyond it Lanczos
LANCZOS_PAIRS = 2  # eigenpairs at each end of the spectrum that Lanczos finds
LANCZOS_MAX_STEPS = 300  # Hessian-vector products at most per Lanczos run
LANCZOS_TOL = 1e-8  # a Ritz pair is done when its residual ‖Hv − λv‖ is below this times max|λ|
FD_STEP = 1e-5  # central differences of the gradient (objectives with no exact Hessian here)

_PIECE_ELEMENTS = 1 << 21  # floats per temporary of the assembly (16 MiB): pieces of examples or directions
_HINGES = frozenset({"svm", "ova_svm", "structured_svm"})  # piecewise linear in the scores: zero curvature


# --- public API ----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Curvature:
    """The Hessian's eigenpairs at one point, and what they say about gradient descent there.

    eigenvalues: (K,) ascending; eigenvectors: (P, K), unit columns, ``eigenvectors[:, k]``
    belongs to ``eigenvalues[k]``, each signed so that its largest entry is positive. K = P
    when ``method == "dense"``; with ``method == "lanczos"`` (P > ``DENSE_LIMIT``) only the
    ``LANCZOS_PAIRS`` lowest then the ``LANCZOS_PAIRS`` highest are computed (K = 2 x that,
    fewer for a tiny P). condition: ``λ_max / λ_min``, ``inf`` when ``λ_min ≤ 0`` (a flat or
    downward direction: for a linear classifier the unpenalized biases are always flat for
    the hinge losses, and softmax is flat along adding one number to every class's score).
    lr_max: ``2 / λ_max``, the largest constant learning rate at which gradient descent is
    stable on the quadratic model there (``inf`` when ``λ_max ≤ 0``).
    """

    eigenvalues: Array
    eigenvectors: Array
    condition: float
    lr_max: float
    method: str = "dense"

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def lambda_min(self) -> float:
        return float(self.eigenvalues[0])


def hessian(objective, theta: Array) -> Array:
    """The Hessian of the full objective at ``theta``: ``(P, P)``, symmetric.

    Exact for the linear classifier and the two-layer network, every loss and regularizer
    (see the module docstring for the formulas and the conventions at kinks); by central
    differences of the exact gradient for any other objective. Memory: P² floats (and
    bounded temporaries); work: N P² multiply-adds for softmax, fewer for the others.
    """
    theta = _check_theta(objective, theta)
    P = theta.size
    plan = _plan(objective)
    if plan == "linear":
        H = _linear_hessian(objective, theta)
    elif plan == "mlp":
        H = _network_hessian(objective, theta)
    else:
        hvp = _products(objective, theta, plan)
        H = np.empty((P, P))
        step = max(1, min(P, _PIECE_ELEMENTS // max(1, _direction_elements(objective, plan))))
        for k0 in range(0, P, step):
            checkpoint()
            k1 = min(P, k0 + step)
            E = np.zeros((P, k1 - k0))
            E[np.arange(k0, k1), np.arange(k1 - k0)] = 1.0
            H[:, k0:k1] = hvp(E)
    H += H.T  # exactly symmetric (the network's and the differences' products are so up to rounding)
    H *= 0.5
    return H


def hessian_vector_product(objective, theta: Array, v: Array) -> Array:
    """``H v`` at ``theta`` without forming H: ``v (P,) -> (P,)``, or ``V (P, K) -> (P, K)``.

    Exact as :func:`hessian` is (the same conventions); about the work of two gradients
    per direction for the models, 2 gradients per direction by central differences otherwise.
    """
    theta = _check_theta(objective, theta)
    V = np.asarray(v, dtype=float)
    if V.ndim not in (1, 2) or V.shape[0] != theta.size:
        raise ValueError(f"v must have shape ({theta.size},) or ({theta.size}, K), got {V.shape}")
    if not np.all(np.isfinite(V)):
        raise ValueError("v contains NaN or infinity")
    out = _products(objective, theta, _plan(objective))(V.reshape(theta.size, -1))
    return out.reshape(V.shape)


def curvature(objective, theta: Array) -> Curvature:
    """The Hessian's eigenpairs at ``theta`` (:class:`Curvature`): dense, or Lanczos past ``DENSE_LIMIT``."""
    theta = _check_theta(objective, theta)
    P = theta.size
    if P <= DENSE_LIMIT:
        values, vectors = np.linalg.eigh(hessian(objective, theta))
        method = "dense"
    else:
        values, vectors = _lanczos(_products(objective, theta, _plan(objective)), P, LANCZOS_PAIRS)
        method = "lanczos"
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    values = np.where(np.abs(values) <= P * np.finfo(float).eps * scale, 0.0, values)
    order = np.argsort(values, kind="stable")
    values, vectors = values[order], vectors[:, order]
    # a deterministic sign: each vector's largest entry positive
    top = vectors[np.argmax(np.abs(vectors), axis=0), np.arange(vectors.shape[1])]
    vectors = vectors * np.where(top < 0, -1.0, 1.0)
    lam_min, lam_max = float(values[0]), float(values[-1])
    condition = lam_max / lam_min if lam_min > 0 else np.inf
    lr_max = 2.0 / lam_max if lam_max > 0 else np.inf
    values.setflags(write=False)
    vectors.setflags(write=False)
    return Curvature(values, vectors, float(condition), float(lr_max), method)


# --- which computation ------------------------------------------------------------------------

def _check_theta(objective, theta: Array) -> Array:
    if np.iscomplexobj(theta):
        raise ValueError("theta must be real numbers, not complex ones")
    theta = np.asarray(theta, dtype=float)
    P = int(objective.n_params)
    if theta.shape != (P,):
        raise ValueError(f"theta must have shape ({P},) to match the objective's n_params, got {theta.shape}")
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta contains NaN or infinity")
    return theta


def _plan(objective) -> str:
    """How the Hessian of ``objective`` is computed: "linear", "mlp", "plane" or "differences"."""
    if isinstance(objective, PlaneObjective):
        return "plane"
    model = getattr(objective, "model", None)
    known = getattr(objective, "loss_kind", None) in _SCORE_PRODUCTS and getattr(objective, "reg", None) in _PENALTY
    if model is None or getattr(objective, "n_examples", None) is None or not known:
        return "differences"
    if model.has("affine_scores"):
        return "linear"
    if isinstance(model, MLPModel):
        return "mlp"
    return "differences"


def _direction_elements(objective, plan: str) -> int:
    """Floats of one direction's temporaries in a block of Hessian-vector products (sizes the blocks)."""
    if plan in ("linear", "mlp"):
        width = objective.n_classes + (objective.model.hidden if plan == "mlp" else 0)
        return 4 * objective.n_examples * width
    return 4 * objective.n_params


def _products(objective, theta: Array, plan: str):
    """``V (P, K) -> H V (P, K)`` at theta, in blocks of directions of bounded memory."""
    if plan == "plane":
        inner = objective.objective
        inner_theta = objective.theta(theta)
        inner_products = _products(inner, inner_theta, _plan(inner))
        B = objective.plane.basis
        return lambda V: B.T @ inner_products(B @ V)
    if plan == "differences":
        return lambda V: _difference_products(objective, theta, V)
    single = _linear_products(objective, theta) if plan == "linear" else _network_products(objective, theta)
    per_direction = _direction_elements(objective, plan)

    def products(V: Array) -> Array:
        step = max(1, _PIECE_ELEMENTS // max(1, per_direction))
        if V.shape[1] <= step:
            return single(V)
        out = np.empty_like(V)
        for k0 in range(0, V.shape[1], step):
            checkpoint()
            out[:, k0:k0 + step] = single(V[:, k0:k0 + step])
        return out

    return products


# each regularizer's second derivative per penalized entry, from (lam, beta): R is a sum over the entries
_PENALTY = {"none": lambda lam, beta: 0.0, "l1": lambda lam, beta: 0.0,  # |w| is linear away from 0 (0 taken at 0)
            "l2": lambda lam, beta: 2.0 * lam, "elastic_net": lambda lam, beta: 2.0 * lam * beta}


def _penalty_diagonal(objective) -> Array:
    """The penalty's Hessian, a diagonal ``(P,)``: 2 lam (L2) or 2 lam β (elastic net) on the weights."""
    weight = _PENALTY[objective.reg](objective.lam, objective.beta)
    diagonal = np.zeros(objective.n_params)
    diagonal[objective.model.penalized_index] = weight
    return diagonal


# --- the loss's curvature in the scores -------------------------------------------------------
# ``(S (N, C), y (N,), margin) -> apply`` with ``apply(R (K, N, C)) -> (K, N, C)``: the per-example
# Hessian A_i of the mean loss in the scores (1/N included) applied to score directions R.

def _softmax_products(S: Array, y: Array, margin: float):
    p = _softmax(S)
    n = len(y)

    def apply(R: Array) -> Array:
        pr = p * R
        pr -= p * pr.sum(axis=-1, keepdims=True)  # (diag(p) − p pᵀ) r
        return pr / n

    return apply


def _squared_hinge_products(S: Array, y: Array, margin: float):
    rows = np.arange(len(y))
    active = _active_terms(S, y, margin)
    n = len(y)

    def apply(R: Array) -> Array:
        t = active * (R - R[:, rows, y][..., None])  # r_j − r_y on the active terms
        out = 2.0 * t
        out[:, rows, y] = -2.0 * t.sum(axis=-1)
        return out / n

    return apply


def _zero_products(S: Array, y: Array, margin: float):
    return np.zeros_like


_SCORE_PRODUCTS = {"softmax": _softmax_products, "squared_hinge": _squared_hinge_products,
                   **{name: _zero_products for name in _HINGES}}


def _softmax(S: Array) -> Array:
    shifted = S - S.max(axis=1, keepdims=True)  # the max-shift: exp cannot overflow
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _active_terms(S: Array, y: Array, margin: float) -> Array:
    """``(N, C)`` 1.0 where ``s_j − s_y + Δ > 0`` (j ≠ y), else 0 (the true class, and terms at or below 0)."""
    rows = np.arange(len(y))
    terms = S - S[rows, y][:, None] + margin
    terms[rows, y] = 0.0
    return (terms > 0).astype(float)


# --- the linear classifier ------------------------------------------------------------------------

def _linear_hessian(objective, theta: Array) -> Array:
    """``(1/N) Σ_i kron(x̃_i x̃_iᵀ, A_i)`` plus the penalty's diagonal, by the loss's structure."""
    model = objective.model
    W, b = model.unflatten(theta)
    X, y = objective.X, objective.y
    (N, D), C = X.shape, objective.n_classes
    Dp, P = D + 1, theta.size
    H = np.zeros((P, P))
    H4 = H.reshape(Dp, C, Dp, C)  # H4[d, c, e, f]: the entry of W̃[d, c] and W̃[e, f] (row D: the biases)
    kind = objective.loss_kind
    with np.errstate(over="ignore", invalid="ignore"):
        if kind == "softmax":
            for rows in _pieces(N, P + C * Dp):
                checkpoint()
                Xt = _augmented(X[rows])
                p = _softmax(Xt[:, :D] @ W + b)
                U = (Xt[:, :, None] * p[:, None, :]).reshape(-1, P)  # rows x̃_i ⊗ p_i, in θ's order
                H -= U.T @ U  # − Σ x̃x̃ᵀ ⊗ p pᵀ (a symmetric rank-n update)
                Q = (Xt.T @ (p[:, :, None] * Xt[:, None, :]).reshape(-1, C * Dp)).reshape(Dp, C, Dp)
                for c in range(C):  # + Σ x̃x̃ᵀ ⊗ diag(p)
                    H4[:, c, :, c] += Q[:, c, :]
            H /= N
        elif kind == "squared_hinge":
            order = np.argsort(y, kind="stable")
            counts = np.bincount(y, minlength=C)
            starts = np.concatenate([[0], np.cumsum(counts)])
            for label in range(C):  # A_i's nonzero blocks are (j, j), (j, y), (y, j), (y, y): group by y
                members = order[starts[label]:starts[label + 1]]
                for piece in _pieces(members.size, C * Dp):
                    checkpoint()
                    idx = members[piece]
                    Xt = _augmented(X[idx])
                    active = _active_terms(Xt[:, :D] @ W + b, np.full(idx.size, label), objective.margin)
                    Q = (Xt.T @ (active[:, :, None] * Xt[:, None, :]).reshape(-1, C * Dp)).reshape(Dp, C, Dp)
                    for c in range(C):
                        if c == label:
                            continue
                        q = Q[:, c, :]  # Σ over the active (i, c) terms of x̃x̃ᵀ
                        H4[:, c, :, c] += q
                        H4[:, c, :, label] -= q
                        H4[:, label, :, c] -= q
                        H4[:, label, :, label] += q
            H *= 2.0 / N
        # the hinge losses: no data curvature
    H[np.diag_indices(P)] += _penalty_diagonal(objective)
    return H


def _augmented(X: Array) -> Array:
    """``[X, 1]``: (n, D + 1), so that W̃ = [W; b] gives the scores and θ = W̃.ravel()."""
    return np.hstack([X, np.ones((X.shape[0], 1))])


def _pieces(n: int, per_row: int):
    """Slices of ``range(n)`` with at most ``_PIECE_ELEMENTS`` floats of ``per_row`` each."""
    step = max(1, _PIECE_ELEMENTS // max(1, per_row))
    return (slice(i, min(n, i + step)) for i in range(0, n, step))


def _linear_products(objective, theta: Array):
    """``V (P, K) -> H V``: scores' directions ``R = X V_W + V_b``, the loss's A_i, then back."""
    model = objective.model
    W, b = model.unflatten(theta)
    X, y = objective.X, objective.y
    D, C = X.shape[1], objective.n_classes
    with np.errstate(over="ignore", invalid="ignore"):
        apply = _SCORE_PRODUCTS[objective.loss_kind](X @ W + b, y, objective.margin)
    penalty = _penalty_diagonal(objective)[:, None]

    def products(V: Array) -> Array:
        K = V.shape[1]
        with np.errstate(over="ignore", invalid="ignore"):
            VW = V[:D * C].reshape(D, C, K).transpose(2, 0, 1)  # (K, D, C)
            R = X @ VW + V[D * C:].T[:, None, :]  # (K, N, C)
            dR = apply(R)
            out = np.concatenate([(X.T @ dR).transpose(1, 2, 0).reshape(D * C, K), dR.sum(axis=1).T])
        return out + penalty * V

    return products


# --- the two-layer network ------------------------------------------------------------------------

def _network_hessian(objective, theta: Array) -> Array:
    """The network's dense Hessian in closed form, by blocks of the two layers.

    With ``ũ = [x, 1]``, ``ã = [a, 1]``, theta read as ``W̃1 = [W1; b1]`` (D+1, H) and
    ``W̃2 = [W2; b2]`` (H+1, C), per example the loss's gradient ``g`` and curvature ``A``
    in the scores (1/N included), ``σ' = act'(z)``, ``σ'' = act''(z)``, ``δ = W2 g``:

    - layer 2 with itself: ``Σ kron(ã ãᵀ, A)`` (the scores are linear in W̃2);
    - layer 1 with itself: ``Σ kron(ũ ũᵀ, σ'σ'ᵀ ⊙ (W2 A W2ᵀ) + diag(δ ⊙ σ''))``;
    - layer 1 with layer 2: ``[(d, h), (k, c)] = Σ ũ_d ã_k σ'_h (W2 A)_hc + [k = h] Σ ũ_d σ'_h g_c``.

    Each sum over examples is one matrix product per piece of examples (``(ũ ⊗ ũ)ᵀ B``...).
    """
    model = objective.model
    _, _, W2, b2 = model.unflatten(theta)
    X, y = objective.X, objective.y
    (N, D), C, Hd = X.shape, objective.n_classes, model.hidden
    Dp, P1, P2 = D + 1, (D + 1) * model.hidden, (model.hidden + 1) * objective.n_classes
    H11, H12, H22 = np.zeros((Dp, Dp, Hd, Hd)), np.zeros((Dp, Hd + 1, Hd, C)), np.zeros((Hd + 1, Hd + 1, C, C))
    per_row = Dp * Dp + Hd * Hd + Dp * (Hd + 1) + 2 * Hd * C + (Hd + 1) ** 2 + 2 * C * C
    with np.errstate(over="ignore", invalid="ignore"):
        for rows in _pieces(N, per_row):
            checkpoint()
            Xr, yr = X[rows], y[rows]
            n = Xr.shape[0]
            Z, A = model.hidden_layer(theta, Xr)
            S = A @ W2 + b2
            # the loss's gradient and curvature in the scores, as means over all N (not over the piece)
            g = LOSSES[objective.loss_kind].impl(S, yr, objective.margin)[1] * (n / N)
            apply = _SCORE_PRODUCTS[objective.loss_kind](S, yr, objective.margin)
            curv = apply(np.broadcast_to(np.eye(C)[:, None, :], (C, n, C))).transpose(1, 2, 0) * (n / N)  # A: (n, C, C)
            slope = model.act_slope(Z, A)
            U, Ua = _augmented(Xr), np.hstack([A, np.ones((n, 1))])
            WA = W2 @ curv  # (n, H, C): W2 A
            B = slope[:, :, None] * slope[:, None, :] * (WA @ W2.T)  # σ'σ'ᵀ ⊙ W2 A W2ᵀ
            if model.activation == "tanh":  # tanh'' = −2 tanh (1 − tanh²); ReLU'' = 0
                bend = (g @ W2.T) * (-2.0 * A * slope)
                B[:, np.arange(Hd), np.arange(Hd)] += bend
            H11 += ((U[:, :, None] * U[:, None, :]).reshape(n, -1).T @ B.reshape(n, -1)).reshape(Dp, Dp, Hd, Hd)
            H22 += ((Ua[:, :, None] * Ua[:, None, :]).reshape(n, -1).T @ curv.reshape(n, -1)
                    ).reshape(Hd + 1, Hd + 1, C, C)
            H12 += ((U[:, :, None] * Ua[:, None, :]).reshape(n, -1).T @ (slope[:, :, None] * WA).reshape(n, -1)
                    ).reshape(Dp, Hd + 1, Hd, C)
            same = (U.T @ (slope[:, :, None] * g[:, None, :]).reshape(n, -1)).reshape(Dp, Hd, C)
            H12[:, np.arange(Hd), np.arange(Hd), :] += same  # [k = h] Σ ũ_d σ'_h g_c
    H = np.empty((P1 + P2, P1 + P2))
    H[:P1, :P1] = H11.transpose(0, 2, 1, 3).reshape(P1, P1)
    H[P1:, P1:] = H22.transpose(0, 2, 1, 3).reshape(P2, P2)
    H[:P1, P1:] = H12.transpose(0, 2, 1, 3).reshape(P1, P2)
    H[P1:, :P1] = H[:P1, P1:].T
    H[np.diag_indices(P1 + P2)] += _penalty_diagonal(objective)
    return H


def _network_products(objective, theta: Array):
    """``V (P, K) -> H V`` by the R-operator (Pearlmutter 1994) through ``S = act(X W1 + b1) W2 + b2``.

    Forward:  RZ = X V1 + c1, RA = act'(Z) RZ, RS = RA W2 + A V2 + c2;
    loss:     RdS = A_i RS (the loss's curvature in the scores);
    backward: RdW2 = RAᵀ dS + Aᵀ RdS, Rdb2 = Σ RdS, RdA = RdS W2ᵀ + dS V2ᵀ,
              RdZ = act'(Z) RdA + act''(Z) dA RZ, RdW1 = Xᵀ RdZ, Rdb1 = Σ RdZ.
    """
    model = objective.model
    _, _, W2, _ = model.unflatten(theta)
    X, y = objective.X, objective.y
    with np.errstate(over="ignore", invalid="ignore"):
        Z, A = model.hidden_layer(theta, X)
        S = A @ W2 + model.unflatten(theta)[3]
        _, dS = LOSSES[objective.loss_kind].impl(S, y, objective.margin)  # the mean loss's gradient in the scores
        apply = _SCORE_PRODUCTS[objective.loss_kind](S, y, objective.margin)
        slope = model.act_slope(Z, A)
        bend = -2.0 * A * slope if model.activation == "tanh" else None  # tanh'' = −2 tanh (1 − tanh²); ReLU'' = 0
        dA = dS @ W2.T
    penalty = _penalty_diagonal(objective)[:, None]
    groups = [model.group_slice(name) for name in ("W1", "b1", "W2", "b2")]
    shapes = [g.shape for g in model.groups]

    def products(V: Array) -> Array:
        K = V.shape[1]
        V1, c1, V2, c2 = (V[s].T.reshape(K, *shape) for s, shape in zip(groups, shapes))
        with np.errstate(over="ignore", invalid="ignore"):
            RZ = X @ V1 + c1[:, None, :]  # (K, N, H)
            RA = slope * RZ
            RS = RA @ W2 + A @ V2 + c2[:, None, :]  # (K, N, C)
            RdS = apply(RS)
            RdW2 = RA.transpose(0, 2, 1) @ dS + A.T @ RdS  # (K, H, C)
            RdZ = RdS @ W2.T + dS @ V2.transpose(0, 2, 1)  # RdA, (K, N, H)
            RdZ *= slope
            if bend is not None:
                RdZ += (bend * dA) * RZ
            RdW1 = X.T @ RdZ  # (K, D, H)
            out = np.concatenate([RdW1.reshape(K, -1), RdZ.sum(axis=1), RdW2.reshape(K, -1), RdS.sum(axis=1)], axis=1)
        return out.T + penalty * V

    return products


# --- anything else: central differences of the exact gradient ------------------------------------

def _difference_products(objective, theta: Array, V: Array) -> Array:
    """``H V`` by central differences of ``objective.loss_grad`` along each column (scaled steps)."""
    out = np.empty_like(V)
    for k in range(V.shape[1]):
        checkpoint()
        v = V[:, k]
        size = float(np.linalg.norm(v))
        if size == 0.0:
            out[:, k] = 0.0
            continue
        u = v / size
        h = FD_STEP * max(1.0, float(np.abs(theta @ u)))
        with np.errstate(over="ignore", invalid="ignore"):
            g_plus = np.asarray(objective.loss_grad(theta + h * u)[1], dtype=float)
            g_minus = np.asarray(objective.loss_grad(theta - h * u)[1], dtype=float)
        out[:, k] = (g_plus - g_minus) * (size / (2.0 * h))
    return out


# --- Lanczos: the extreme eigenpairs from Hessian-vector products -----------------------------------

def _lanczos(products, P: int, pairs: int, seed: int = 0) -> tuple[Array, Array]:
    """The ``pairs`` lowest and highest eigenpairs of the symmetric operator ``products``: ``(values, vectors)``.

    Block Lanczos (blocks of ``pairs`` vectors, so that an eigenvalue repeated up to that
    many times is found as often as it is repeated: the hinge losses' Hessian is ``2 lam``
    on every weight) from a seeded random block, with full reorthogonalization and the
    Rayleigh–Ritz values of the whole basis. At most ``LANCZOS_MAX_STEPS`` products; stops
    once every wanted Ritz pair's residual ``‖H v − λ v‖`` is below ``LANCZOS_TOL · max|λ|``
    (an invariant subspace gives residuals 0: its pairs are exact).
    """
    rng = np.random.default_rng(seed)
    size = min(P, LANCZOS_MAX_STEPS)
    Q, HQ = np.zeros((size, P)), np.zeros((size, P))  # the basis (rows) and its products
    T = np.zeros((size, size))  # Q H Qᵀ
    block = _orthonormal_block(rng.standard_normal((P, min(pairs, P))), Q[:0], rng)
    m = 0
    while True:
        checkpoint()
        k = min(block.shape[1], size - m)
        new = slice(m, m + k)
        Q[new] = block[:, :k].T
        HQ[new] = products(block[:, :k]).T
        m += k
        T[:m, new] = Q[:m] @ HQ[new].T
        T[new, :m] = T[:m, new].T
        values, S = np.linalg.eigh(0.5 * (T[:m, :m] + T[:m, :m].T))
        wanted = np.unique(np.r_[0:min(pairs, m), max(0, m - pairs):m])
        Y = S[:, wanted]
        residual = np.linalg.norm(HQ[:m].T @ Y - (Q[:m].T @ Y) * values[wanted], axis=0)
        scale = max(float(np.max(np.abs(values))), np.finfo(float).tiny)
        if m >= size or (m >= min(2 * pairs, P) and np.all(residual <= LANCZOS_TOL * scale)):
            break
        block = _orthonormal_block(HQ[new].T.copy(), Q[:m], rng)  # the next Krylov block
        if block.shape[1] == 0:  # nothing left to explore (the basis spans the space)
            break
    ritz = Q[:m].T @ Y
    ritz /= np.linalg.norm(ritz, axis=0)
    return values[wanted], ritz


def _orthonormal_block(W: Array, Q: Array, rng: np.random.Generator) -> Array:
    """The columns of ``W (P, k)`` made orthonormal and orthogonal to the rows of ``Q`` (twice Gram–Schmidt).

    A column that vanishes on the way (the Krylov space became invariant along it) is
    replaced by a random direction, so that the search goes on in the rest of the space.
    """
    out: list[Array] = []
    for column in W.T:
        for attempt in range(3):
            v = column.copy() if attempt == 0 else rng.standard_normal(W.shape[0])
            before = float(np.linalg.norm(v))
            for _ in range(2):
                v -= Q.T @ (Q @ v)
                for o in out:
                    v -= (o @ v) * o
            after = float(np.linalg.norm(v))
            if after > 1e-10 * before:
                out.append(v / after)
                break
    return np.column_stack(out) if out else np.zeros((W.shape[0], 0))
