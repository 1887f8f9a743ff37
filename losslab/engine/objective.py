"""The training objective of a classifier, as a function of the flat vector theta.

Conventions (used everywhere in losslab):

- ``X: (N, D)``, ``y: (N,)`` ints in ``0..C-1``;
- the model (``losslab.engine.models``) says what theta is: for the linear classifier
  ``W: (D, C)``, ``b: (C,)``, scores ``S = X @ W + b`` and ``theta = concat(W.ravel(), b)``
  (row-major W, then b), length ``P = D*C + C``; for the two-layer network
  ``theta = concat(W1.ravel(), b1, W2.ravel(), b2)``;
- total loss = mean data loss over the examples + ``lam * R(weights)``; biases are never regularized.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .losses import LOSSES, check_scores_labels
from .models import MODELS, Model, make_model
from .regularizers import LAM, REGULARIZERS
from .registry import Param

Array = np.ndarray

KEEP_PROB = Param("keep_prob", 1.0, "dropout keep-probability p", low=0.0, high=1.0, low_open=True,
                  help="inverted dropout on the inputs of minibatch evaluations; 1 = no dropout")


@dataclass(frozen=True)
class ObjectiveConfig:
    """The choices that define an objective besides its data (validated by ``Objective``)."""

    loss: str = "svm"
    margin: float = 1.0
    reg: str = "l2"
    lam: float = 0.0
    beta: float = 0.5
    keep_prob: float = 1.0
    model: str = "linear"
    hidden: int = 16
    activation: str = "relu"


def _real(values, name: str) -> Array:
    """``values`` as a float array; complex input is refused, since float() would drop its imaginary part."""
    if np.iscomplexobj(values):
        raise ValueError(f"{name} must be real numbers, not complex ones")
    return np.asarray(values, dtype=float)


class Objective:
    """``L(theta) = mean_i L_i(s(X_i; theta), y_i) + lam * R(weights)`` for a classifier.

    X: (N, D) finite floats; y: (N,) ints in 0..C-1 with C = ``n_classes`` (default
    ``max(y) + 1``, at least 2). ``loss`` names an entry of ``LOSSES``, ``reg`` one of
    ``REGULARIZERS``, ``model`` one of ``MODELS``: ``"linear"`` (``s = X W + b``) or
    ``"mlp"`` (``s = act(X W1 + b1) W2 + b2`` with ``hidden`` units and ``activation``
    ``"relu"`` or ``"tanh"``). ``keep_prob < 1`` applies inverted dropout to *minibatch*
    evaluations only (``loss_grad(theta, idx=...)``): to the inputs of the linear model,
    to the hidden layer of the network; the masks come from a generator seeded with
    ``seed`` (or the ``rng`` passed in); full evaluations never drop anything.
    """

    def __init__(self, X: Array, y: Array, loss: str = "svm", margin: float = 1.0, reg: str = "l2",
                 lam: float = 0.0, beta: float = 0.5, keep_prob: float = 1.0, seed: int = 0,
                 n_classes: int | None = None, model: str = "linear", hidden: int = 16, activation: str = "relu"):
        X = np.array(_real(X, "X"))  # a private copy: the objective never changes under us
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X must be a non-empty 2-D array (N, D), got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            bad = np.argwhere(~np.isfinite(X))[0]
            raise ValueError(f"X contains NaN or infinity (first at row {bad[0]}, column {bad[1]})")
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},) to match X {X.shape}, got {y.shape}")
        if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(np.isfinite(y))):
            raise ValueError("labels y must be whole numbers (class indices 0..C-1)")
        classes = int(n_classes) if n_classes is not None else max(int(np.max(y)) + 1, 2)
        if classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got n_classes={classes}")
        # the labels are checked against a (N, C) shape that needs no memory (a broadcast view)
        _, y = check_scores_labels(np.broadcast_to(0.0, (len(y), classes)), y)
        X.setflags(write=False)
        y.setflags(write=False)
        self.X, self.y = X, y
        self.n_examples, self.n_features = X.shape
        self.n_classes = classes
        given = {"hidden": hidden, "activation": activation}  # each model takes the ones its registry entry names
        self.model: Model = make_model(model, self.n_features, classes,
                                       **{p.name: given[p.name] for p in MODELS[model].params})
        self.n_params = self.model.n_params
        self._configure(loss, margin, reg, lam, beta, keep_prob, seed)

    def _configure(self, loss, margin, reg, lam, beta, keep_prob, seed) -> None:
        loss_entry = LOSSES[loss]
        reg_entry = REGULARIZERS[reg]
        margin = loss_entry.param("margin").validate(margin) if loss_entry.params else float(margin)
        beta = reg_entry.param("beta").validate(beta) if reg_entry.params else float(beta)
        m = self.model
        self.config = ObjectiveConfig(loss, margin, reg, LAM.validate(lam), beta, KEEP_PROB.validate(keep_prob),
                                      m.kind, getattr(m, "hidden", 16), getattr(m, "activation", "relu"))
        self.seed = int(seed)
        self._loss_fn = loss_entry.impl
        self._reg_fn = reg_entry.impl
        self._rng = np.random.default_rng(self.seed)

    # the configuration, readable as attributes
    loss_kind = property(lambda self: self.config.loss)
    margin = property(lambda self: self.config.margin)
    reg = property(lambda self: self.config.reg)
    lam = property(lambda self: self.config.lam)
    beta = property(lambda self: self.config.beta)
    keep_prob = property(lambda self: self.config.keep_prob)

    def replace(self, **changes) -> Objective:
        """A new objective on the same data with some of ``loss, margin, reg, lam, beta, keep_prob, seed`` changed."""
        fields = {k: v for k, v in vars(self.config).items() if k not in ("model", "hidden", "activation")}
        fields["seed"] = self.seed
        unknown = set(changes) - set(fields)
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))}; changeable: {', '.join(fields)}")
        fields.update(changes)
        other = copy.copy(self)  # shares the read-only data, re-validates the configuration
        other._configure(**fields)
        return other

    def __repr__(self) -> str:
        c = self.config
        model = "" if self.model.kind == "linear" else f", model={self.model!r}"
        return (f"Objective(N={self.n_examples}, D={self.n_features}, C={self.n_classes}, loss={c.loss!r}, "
                f"margin={c.margin:g}, reg={c.reg!r}, lam={c.lam:g}, beta={c.beta:g}, keep_prob={c.keep_prob:g}"
                f"{model})")

    # --- theta <-> the model's arrays -------------------------------------------------
    def unflatten(self, theta: Array) -> tuple[Array, ...]:
        """``theta (P,)`` -> the model's arrays in layout order (views into theta):
        ``(W (D, C), b (C,))`` for the linear model, ``(W1, b1, W2, b2)`` for the network."""
        return self.model.unflatten(self._check_theta(theta))

    def flatten(self, *arrays: Array) -> Array:
        """The model's arrays in layout order -> ``theta (P,)`` (row-major matrices)."""
        return self.model.flatten(*arrays)

    def _check_theta(self, theta: Array) -> Array:
        return self.model.check_theta(theta)

    # --- evaluation -------------------------------------------------------------------
    def scores(self, theta: Array, X: Array | None = None) -> Array:
        """The model's scores (N, C) (``X @ W + b`` for the linear one), for the objective's X unless another is given."""
        theta = self._check_theta(theta)
        with np.errstate(over="ignore", invalid="ignore"):
            return self.model.scores(theta, self.X if X is None else _real(X, "X"))

    def predict(self, theta: Array, X: Array | None = None) -> Array:
        """Predicted class per row: ``argmax`` of the scores, (N,)."""
        return np.argmax(self.scores(theta, X), axis=1)

    def accuracy(self, theta: Array) -> float:
        """Fraction of the objective's examples classified correctly."""
        return float(np.mean(self.predict(theta) == self.y))

    def parts(self, theta: Array) -> tuple[float, float]:
        """``(data_loss, reg_loss)`` over the full data; their sum is ``loss(theta)``."""
        theta = self._check_theta(theta)
        with np.errstate(over="ignore", invalid="ignore"):
            data, _ = self._loss_fn(self.scores(theta), self.y, self.margin)
            reg, _ = self._reg_fn(self.model.penalized(theta), self.beta)
        return data, self.lam * reg

    def loss(self, theta: Array) -> float:
        """Total loss over the full data (never any dropout)."""
        data, reg = self.parts(theta)
        return data + reg

    def loss_grad(self, theta: Array, idx: Array | None = None,
                  rng: np.random.Generator | None = None) -> tuple[float, Array]:
        """Total loss and its gradient ``(P,)``, over all examples or the minibatch rows ``idx``.

        The data part is the mean over the rows used; the penalty is added once. With
        ``keep_prob < 1`` a minibatch sees inverted dropout at the model's site (the
        inputs of the linear model, ``X * mask / p``; the hidden layer of the network) with
        ``mask ~ Bernoulli(p)``, drawn from ``rng`` (default: the objective's own seeded
        generator). Gradients are exact backpropagation (subgradient 0 at every kink).
        """
        theta = self._check_theta(theta)
        X, y = self.X, self.y
        keep_prob = 1.0
        if idx is not None:
            idx = np.asarray(idx)
            if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
                raise ValueError("idx must be a non-empty 1-D array of row indices")
            if idx.min() < -self.n_examples or idx.max() >= self.n_examples:
                raise ValueError(f"idx must index rows 0..{self.n_examples - 1}")
            X, y = X[idx], y[idx]
            if self.keep_prob < 1.0:
                rng, keep_prob = (self._rng if rng is None else rng), self.keep_prob
        model = self.model
        with np.errstate(over="ignore", invalid="ignore"):
            scores, cache = model.forward(theta, X, keep_prob, rng)
            data, dscores = self._loss_fn(scores, y, self.margin)
            reg, dreg = self._reg_fn(model.penalized(theta), self.beta)
            grad = model.backward(theta, cache, dscores)
            model.add_penalty_gradient(grad, self.lam * dreg)
        return data + self.lam * reg, grad

    def grad(self, theta: Array) -> Array:
        """Gradient of the total loss over the full data, (P,)."""
        return self.loss_grad(theta)[1]
