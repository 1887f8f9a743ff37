"""Models: what the flat parameter vector theta means, and how it turns inputs into scores.

Every other module asks the model (never assumes theta = (W, b)): its parameter layout
(named groups with shapes, in theta's order), the forward pass to scores, the backward
pass from ``dscores`` to theta, which groups the regularizer penalizes, the filters of
filter normalization, the coordinate names and decision values on any points.

- ``linear``: ``S = X W + b``; ``W: (D, C)``, ``b: (C,)``; ``theta = concat(W.ravel(), b)``,
  ``P = D*C + C``; W is penalized. Its scores are affine in theta, the capability the
  exact fast landscapes rest on (``"affine_scores"``), and its objectives are convex.
- ``mlp``: ``S = act(X W1 + b1) W2 + b2`` with ``W1: (D, H)``, ``b1: (H,)``, ``W2: (H, C)``,
  ``b2: (C,)``; ``theta = concat(W1.ravel(), b1, W2.ravel(), b2)``; W1 and W2 are penalized
  together (biases never); ``act`` is ReLU (subgradient 0 at its kink) or tanh. Its hidden
  pre-activations are affine in theta's first-layer part (``"affine_hidden"``).

Dropout (keep-probability ``p``, inverted: kept values divided by p) acts on what a model
names as its dropout site: the inputs of the linear model, the hidden layer of the network.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .registry import Entry, Param, Registry

Array = np.ndarray


@dataclass(frozen=True)
class Group:
    """One named block of theta: ``name`` (``"W1"``), ``shape`` and whether the regularizer sees it."""

    name: str
    shape: tuple[int, ...]
    penalized: bool

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def labels(self) -> list[str]:
        """``W1[d,h]`` row-major for a matrix, ``b1[h]`` for a vector."""
        if len(self.shape) == 1:
            return [f"{self.name}[{k}]" for k in range(self.shape[0])]
        rows, cols = self.shape
        return [f"{self.name}[{r},{c}]" for r in range(rows) for c in range(cols)]


class Model:
    """The shared machinery of a layout of named groups; subclasses add the passes.

    ``n_features`` D, ``n_classes`` C, ``groups`` in theta's order, ``capabilities`` a
    frozenset of declared facts other modules may exploit.
    """

    kind = ""
    capabilities: frozenset[str] = frozenset()
    hidden_units: int | None = None  # the width of a hidden layer (None: the first layer is the output)

    def __init__(self, n_features: int, n_classes: int, groups: tuple[Group, ...]):
        self.n_features, self.n_classes = int(n_features), int(n_classes)
        self.groups = groups
        self.offsets = np.cumsum([0] + [g.size for g in groups])
        self.n_params = int(self.offsets[-1])

    def __repr__(self) -> str:
        shapes = ", ".join(f"{g.name}{g.shape}" for g in self.groups)
        return f"{type(self).__name__}({shapes})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.describe() == self.describe()

    def __hash__(self) -> int:
        return hash(self.describe())

    def describe(self) -> tuple:
        """What identifies the model: its kind, sizes and settings."""
        return (self.kind, self.n_features, self.n_classes)

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    # --- layout ---------------------------------------------------------------------------
    def group_slice(self, name: str) -> slice:
        for k, g in enumerate(self.groups):
            if g.name == name:
                return slice(int(self.offsets[k]), int(self.offsets[k + 1]))
        raise ValueError(f"the {self.kind} model has no parameter group {name!r}; "
                         f"it has {', '.join(g.name for g in self.groups)}")

    def unflatten(self, theta: Array) -> tuple[Array, ...]:
        """``theta (P,)`` -> the groups' arrays in layout order (views into theta)."""
        return tuple(theta[self.offsets[k]:self.offsets[k + 1]].reshape(g.shape) for k, g in enumerate(self.groups))

    def flatten(self, *arrays: Array) -> Array:
        """The groups' arrays, in layout order -> ``theta (P,)``."""
        if len(arrays) != len(self.groups):
            raise ValueError(f"the {self.kind} model has {len(self.groups)} parameter groups "
                             f"({', '.join(g.name for g in self.groups)}), got {len(arrays)} arrays")
        out = []
        for array, group in zip(arrays, self.groups):
            if np.iscomplexobj(array):
                raise ValueError(f"{group.name} must be real numbers, not complex ones")
            array = np.asarray(array, dtype=float)
            if array.shape != group.shape:
                raise ValueError(f"{group.name} must have shape {group.shape}, got {array.shape}")
            out.append(array.ravel())
        return np.concatenate(out)

    @cached_property
    def labels(self) -> tuple[str, ...]:
        """The name of each of the P coordinates, in theta's order (``W[0,1]``, ``b1[3]``...)."""
        return tuple(label for g in self.groups for label in g.labels())

    @cached_property
    def penalized_index(self) -> Array:
        """Indices into theta of the entries the regularizer sees (the weights, never biases)."""
        return np.concatenate([np.arange(self.offsets[k], self.offsets[k + 1])
                               for k, g in enumerate(self.groups) if g.penalized])

    def penalized(self, theta: Array) -> Array:
        """The penalized entries of theta, as one array (its shape is the regularizer's business)."""
        return theta[self.penalized_index]

    def add_penalty_gradient(self, grad: Array, dpenalty: Array) -> None:
        """``grad[penalized] += dpenalty`` (the shape :meth:`penalized` returned)."""
        grad[self.penalized_index] += dpenalty.ravel()

    def filters(self, bias: str = "zero") -> list[Array]:
        """Filter normalization's filters (Li et al. 2018): index matrices into theta.

        Column k of a matrix is one filter, the weights into one unit; ``bias="column"``
        adds that unit's bias as a last row. Entries of no filter (the biases with
        ``bias="zero"``) stay fixed in a random direction.
        """
        out = []
        for k, g in enumerate(self.groups):
            if len(g.shape) != 2:
                continue
            index = self.offsets[k] + np.arange(g.size).reshape(g.shape)
            if bias == "column":
                following = self.groups[k + 1] if k + 1 < len(self.groups) else None
                if following is not None and following.shape == (g.shape[1],):
                    index = np.vstack([index, self.offsets[k + 1] + np.arange(g.shape[1])])
            out.append(index)
        return out

    def check_theta(self, theta: Array) -> Array:
        if np.iscomplexobj(theta):
            raise ValueError("theta must be real numbers, not complex ones")
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},) for {self._size_text()}; got {theta.shape}")
        return theta

    def _size_text(self) -> str:
        return f"D={self.n_features}, C={self.n_classes}"

    # --- passes (subclasses) ----------------------------------------------------------------
    def forward(self, theta: Array, X: Array, keep_prob: float = 1.0, rng: np.random.Generator | None = None):
        """``(scores (N, C), cache)``; with ``keep_prob < 1`` inverted dropout at the model's site."""
        raise NotImplementedError

    def backward(self, theta: Array, cache, dscores: Array) -> Array:
        """The gradient ``(P,)`` of the data loss given ``dscores (N, C)`` = dL/dS (no penalty)."""
        raise NotImplementedError

    def scores(self, theta: Array, X: Array) -> Array:
        """Decision values ``(N, C)`` at any points ``X (N, D)``: the data view's regions."""
        return self.forward(theta, X)[0]

    def input_weights(self, theta: Array) -> Array:
        """``(D, K)``: the weights from the inputs into each of the first layer's K units (images' templates)."""
        return self.unflatten(theta)[0]

    def score_reach(self, theta: Array, X: Array, h: float) -> Array:
        """Per example ``(N,)``, how far a step of ``h`` in any one coordinate can move a score."""
        return h * np.maximum(1.0, np.abs(X).max(axis=1))

    def kink_distance(self, theta: Array, X: Array, h: float) -> Array:
        """Per example ``(N,)``, how many steps of ``h`` its nearest kink *inside the model* is (inf: none)."""
        return np.full(len(X), np.inf)

    def init(self, seed: int = 0, scale: float = 0.01) -> Array:
        """A seeded small random start: weights ``scale * N(0, 1)``, biases 0 (as the course does)."""
        rng = np.random.default_rng(seed)
        theta = np.zeros(self.n_params)
        for k, g in enumerate(self.groups):
            if g.penalized:
                theta[self.offsets[k]:self.offsets[k + 1]] = scale * rng.standard_normal(g.size)
        return theta


def _dropout_mask(shape, keep_prob: float, rng: np.random.Generator) -> Array:
    return (rng.random(shape) < keep_prob) / keep_prob


class LinearModel(Model):
    """``S = X W + b``: the linear classifier. ``W: (D, C)``, ``b: (C,)``; dropout on the inputs."""

    kind = "linear"
    capabilities = frozenset({"affine_scores", "convex"})

    def __init__(self, n_features: int, n_classes: int):
        super().__init__(n_features, n_classes, (Group("W", (n_features, n_classes), True),
                                                 Group("b", (n_classes,), False)))

    def penalized(self, theta: Array) -> Array:
        return self.unflatten(theta)[0]  # W as (D, C): the regularizers' documented shape

    def add_penalty_gradient(self, grad: Array, dpenalty: Array) -> None:
        grad[:dpenalty.size] += dpenalty.ravel()

    def forward(self, theta, X, keep_prob=1.0, rng=None):
        W, b = self.unflatten(theta)
        if keep_prob < 1.0:  # written out (not _dropout_mask): the same rounding as before the model seam
            X = X * (rng.random(X.shape) < keep_prob) / keep_prob
        return X @ W + b, X

    def backward(self, theta, cache, dscores):
        X = cache
        return np.concatenate([(X.T @ dscores).ravel(), dscores.sum(axis=0)])

    def scores(self, theta, X):
        W, b = self.unflatten(theta)
        return X @ W + b


def _relu(z: Array, out: Array | None = None) -> Array:
    return np.maximum(z, 0.0, out=out)


def _relu_slope(z: Array, h: Array) -> Array:
    return (z > 0).astype(float)  # strict: subgradient 0 at the kink


def _tanh_slope(z: Array, h: Array) -> Array:
    return 1.0 - h * h


# name -> (activation, its derivative from (pre-activation, activation))
ACTIVATIONS = {"relu": (_relu, _relu_slope), "tanh": (np.tanh, _tanh_slope)}


class MLPModel(Model):
    """``S = act(X W1 + b1) W2 + b2``: one hidden layer of ``hidden`` units; dropout on the hidden layer."""

    kind = "mlp"
    capabilities = frozenset({"affine_hidden"})

    def __init__(self, n_features: int, n_classes: int, hidden: int = 16, activation: str = "relu"):
        hidden = HIDDEN.validate(hidden)
        self.activation = ACTIVATION.validate(activation)
        self.hidden = self.hidden_units = hidden
        self.act, self.act_slope = ACTIVATIONS[self.activation]
        super().__init__(n_features, n_classes, (
            Group("W1", (n_features, hidden), True), Group("b1", (hidden,), False),
            Group("W2", (hidden, n_classes), True), Group("b2", (n_classes,), False)))

    def describe(self) -> tuple:
        return (self.kind, self.n_features, self.n_classes, self.hidden, self.activation)

    def _size_text(self) -> str:
        return f"D={self.n_features}, H={self.hidden}, C={self.n_classes}"

    def hidden_layer(self, theta: Array, X: Array) -> tuple[Array, Array]:
        """``(Z1, A1)``: the pre-activations ``X W1 + b1`` and the activations, each ``(N, H)``."""
        W1, b1, _, _ = self.unflatten(theta)
        Z1 = X @ W1 + b1
        return Z1, self.act(Z1)

    def forward(self, theta, X, keep_prob=1.0, rng=None):
        _, _, W2, b2 = self.unflatten(theta)
        Z1, A1 = self.hidden_layer(theta, X)
        mask = _dropout_mask(A1.shape, keep_prob, rng) if keep_prob < 1.0 else None
        H = A1 if mask is None else A1 * mask
        return H @ W2 + b2, (X, Z1, A1, H, mask)

    def backward(self, theta, cache, dscores):
        X, Z1, A1, H, mask = cache
        _, _, W2, _ = self.unflatten(theta)
        dH = dscores @ W2.T
        if mask is not None:
            dH = dH * mask
        dZ1 = dH * self.act_slope(Z1, A1)
        return np.concatenate([(X.T @ dZ1).ravel(), dZ1.sum(axis=0), (H.T @ dscores).ravel(), dscores.sum(axis=0)])

    def scores(self, theta, X):
        _, _, W2, b2 = self.unflatten(theta)
        return self.hidden_layer(theta, X)[1] @ W2 + b2

    def score_reach(self, theta, X, h):
        # a step in W1[d, k] moves z_k by h x_d, a score by at most that times |W2[k, c]| (slopes <= 1);
        # a step in W2[k, c] moves it by h a_k; in a bias by h (times |W2| for b1)
        _, _, W2, _ = self.unflatten(theta)
        A = self.hidden_layer(theta, X)[1]
        first = np.maximum(1.0, np.abs(X).max(axis=1)) * max(1.0, float(np.abs(W2).max()))
        return h * np.maximum(first, np.abs(A).max(axis=1))

    def kink_distance(self, theta, X, h):
        if self.activation != "relu":
            return super().kink_distance(theta, X, h)
        Z1, _ = self.hidden_layer(theta, X)  # a step of h in W1 or b1 moves z by at most h max(1, |x|)
        return np.abs(Z1).min(axis=1) / (h * np.maximum(1.0, np.abs(X).max(axis=1)))


HIDDEN = Param("hidden", 16, "hidden units H", kind=int, low=1, high=4096,
               help="width of the hidden layer")
ACTIVATION = Param("activation", "relu", "activation", kind=str, choices=tuple(ACTIVATIONS),
                   help="relu: max(0, z) (subgradient 0 at 0); tanh")

MODELS = Registry("model", [
    Entry("linear", "Linear classifier", LinearModel, "s = W x + b", (),
          "The lecture's score function: one weight column per class.",
          {"capabilities": LinearModel.capabilities}),
    Entry("mlp", "Two-layer network", MLPModel, "s = W₂ act(W₁ x + b₁) + b₂", (HIDDEN, ACTIVATION),
          "One hidden layer: not convex any more; saddles, plateaus and dead units appear.",
          {"capabilities": MLPModel.capabilities}),
])


def make_model(kind: str, n_features: int, n_classes: int, **params) -> Model:
    """The ``MODELS`` entry ``kind`` for inputs of D = ``n_features`` and C = ``n_classes`` classes."""
    entry = MODELS[kind]
    return entry.impl(n_features, n_classes, **entry.validate(params))


def model_for_shape(P: int, shape) -> Model:
    """A model from what older callers pass as ``shape``: a Model itself or ``(D, C)`` of a linear one."""
    if isinstance(shape, Model):
        model = shape
    else:
        D, C = (int(s) for s in shape)
        if D < 1 or C < 1:
            raise ValueError(f"shape (D, C) = {tuple(shape)} must be positive")
        model = LinearModel(D, C)
    if model.n_params != P:
        raise ValueError(f"shape {tuple(shape) if not isinstance(shape, Model) else model} "
                         f"does not match theta of length {P}" + (" = D*C + C" if model.kind == "linear" else ""))
    return model
