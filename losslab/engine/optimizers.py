"""The optimizer ladder of CS231n lecture 3 and the trajectories it traces on ``theta (P,)``.

From worst to best: random search, random local search, numerical-gradient descent,
analytic gradient descent, minibatch SGD, then momentum, Nesterov, AdaGrad, RMSProp and
Adam. Every method runs on any *objective*, an object with

- ``n_params`` = P and ``loss(theta) -> float``, the full objective;
- ``loss_grad(theta, idx=None, rng=None) -> (loss, grad (P,))`` (gradient methods): over
  all examples when ``idx`` is None, else over the minibatch rows ``idx``, with dropout
  masks drawn from ``rng`` (``rng`` may be missing from the signature);
- ``n_examples`` = N, or ``None`` (or absent) for a test surface: there the stochastic
  methods use the full gradient plus Gaussian noise of σ = ``noise`` instead of minibatches.

A gradient method is an optax-style pair of pure functions, ``init(theta) -> state`` and
``update(g, state, lr, **hyper) -> (delta, state)`` with NamedTuple state, and the next
iterate is ``theta + delta``; a search method proposes a candidate and keeps it if its
loss is lower. A trajectory is the fold of one of them over steps (:class:`Run`).

Cost, in full-data passes: a loss or gradient over all N examples costs 1 (on a surface,
one evaluation costs 1), a minibatch of B costs B/N, a numerical gradient 2P. Only the
work the method itself needs is counted: the candidate's loss for the search methods, the
gradient for the others. The recorded loss of each iterate is bookkeeping for the plots
and is not counted, nor is the loss of the start, which every run from it shares:
``cost[0] = 0``.

Randomness: ``seed`` feeds four independent streams — minibatch indices, dropout masks,
gradient noise, search proposals — so runs of different methods with the same seed and
batch size see the same minibatches, with or without dropout. Same objective, start,
hyperparameters and seed → a bit-identical trajectory.
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .generators import checkpoint
from .gradcheck import numerical_gradient
from .objective import KEEP_PROB
from .registry import Entry, Param, Registry
from .schedules import DECAY_EVERY, DECAY_RATE, SCHEDULE, learning_rate

Array = np.ndarray

# A run has diverged when its loss is non-finite or |loss| exceeds this factor times
# max(1, |loss at the start|). A thousandfold rise is far past the transient spikes of a
# run that recovers (Nesterov on Rosenbrock climbs about 35× and comes back), and low
# enough that a run blowing up shows as diverged after a step or two, not as "completed".
DIVERGENCE_FACTOR = 1000

STATUSES = ("completed", "converged", "diverged", "stopped")


# --- update rules (pure functions; torch.optim conventions) -----------------------------

class UpdateRule(NamedTuple):
    """``init(theta (P,)) -> state``; ``update(g (P,), state, lr, **hyper) -> (delta (P,), state)``.

    ``params`` names the hyperparameters ``update`` takes besides ``lr``.
    """

    init: Callable[[Array], tuple]
    update: Callable[..., tuple[Array, tuple]]
    params: tuple[str, ...] = ()


class SearchRule(NamedTuple):
    """``propose(theta (P,), rng, **hyper) -> candidate (P,)``; a step keeps the candidate if its loss is lower."""

    propose: Callable[..., Array]
    params: tuple[str, ...] = ()


class NoState(NamedTuple):
    """Plain gradient descent remembers nothing between steps."""


class MomentumState(NamedTuple):
    v: Array  # the velocity (torch's momentum buffer), starts at 0


class AdagradState(NamedTuple):
    G: Array  # running sum of squared gradients, starts at 0


class RMSPropState(NamedTuple):
    s: Array  # leaky average of squared gradients, starts at 0


class AdamState(NamedTuple):
    t: int    # updates so far, for the bias correction
    m: Array  # first moment, starts at 0
    v: Array  # second moment, starts at 0


def no_state_init(theta: Array) -> NoState:
    return NoState()


def sgd_update(g: Array, state: NoState, lr: float) -> tuple[Array, NoState]:
    """Vanilla (stochastic) gradient descent: ``θ ← θ − lr·g``."""
    return -lr * g, state


def momentum_init(theta: Array) -> MomentumState:
    return MomentumState(np.zeros_like(theta))


def momentum_update(g: Array, state: MomentumState, lr: float, momentum: float = 0.9) -> tuple[Array, MomentumState]:
    """Heavy ball, torch.optim.SGD's convention: ``v ← μv + g; θ ← θ − lr·v``, v from 0, no dampening."""
    v = momentum * state.v + g
    return -lr * v, MomentumState(v)


def nesterov_update(g: Array, state: MomentumState, lr: float, momentum: float = 0.9) -> tuple[Array, MomentumState]:
    """Nesterov momentum as torch.optim.SGD(nesterov=True) has it: ``v ← μv + g; θ ← θ − lr·(g + μv)``.

    The look-ahead is folded into the step (Sutskever et al. 2013), so g is the gradient
    at the current iterate, not at a look-ahead point.
    """
    v = momentum * state.v + g
    return -lr * (g + momentum * v), MomentumState(v)


def adagrad_init(theta: Array) -> AdagradState:
    return AdagradState(np.zeros_like(theta))


def adagrad_update(g: Array, state: AdagradState, lr: float, eps: float = 1e-10) -> tuple[Array, AdagradState]:
    """AdaGrad (Duchi et al. 2011), torch's convention: ``G ← G + g²; θ ← θ − lr·g / (√G + ε)``.

    ε sits outside the root; G starts at 0.
    """
    G = state.G + g * g
    return -lr * g / (np.sqrt(G) + eps), AdagradState(G)


def rmsprop_init(theta: Array) -> RMSPropState:
    return RMSPropState(np.zeros_like(theta))


def rmsprop_update(g: Array, state: RMSPropState, lr: float, alpha: float = 0.99,
                   eps: float = 1e-8) -> tuple[Array, RMSPropState]:
    """RMSProp (Hinton), torch's convention: ``s ← αs + (1 − α)g²; θ ← θ − lr·g / (√s + ε)``.

    ε sits outside the root; s starts at 0 (no centring, no momentum).
    """
    s = alpha * state.s + (1.0 - alpha) * g * g
    return -lr * g / (np.sqrt(s) + eps), RMSPropState(s)


def adam_init(theta: Array) -> AdamState:
    return AdamState(0, np.zeros_like(theta), np.zeros_like(theta))


def adam_update(g: Array, state: AdamState, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                eps: float = 1e-8) -> tuple[Array, AdamState]:
    """Adam (Kingma & Ba 2015) as torch.optim.Adam: ε outside the root of the bias-corrected moment.

    ``m ← β1·m + (1 − β1)g; v ← β2·v + (1 − β2)g²; θ ← θ − lr·m̂ / (√v̂ + ε)`` with
    ``m̂ = m / (1 − β1^t)``, ``v̂ = v / (1 − β2^t)`` and t = 1 at the first update.
    """
    t = state.t + 1
    m = beta1 * state.m + (1.0 - beta1) * g
    v = beta2 * state.v + (1.0 - beta2) * g * g
    m_hat = m / (1.0 - beta1 ** t)
    v_hat = v / (1.0 - beta2 ** t)
    return -lr * m_hat / (np.sqrt(v_hat) + eps), AdamState(t, m, v)


def random_search_propose(theta: Array, rng: np.random.Generator, scale: float = 1.0) -> Array:
    """CS231n strategy #1: a fresh guess ``θ' ~ N(0, scale² I)``, unrelated to the current θ."""
    return scale * rng.standard_normal(theta.shape)


def random_local_search_propose(theta: Array, rng: np.random.Generator, step_size: float = 0.1) -> Array:
    """CS231n strategy #2: a random step from where we are, ``θ' = θ + step_size · N(0, I)``."""
    return theta + step_size * rng.standard_normal(theta.shape)


def minibatches(n_examples: int, batch_size: int, replace: bool, rng: np.random.Generator) -> Iterator[Array]:
    """Endless minibatches of row indices ``(batch_size,)`` from ``0..n_examples-1``.

    With replacement: B independent uniform draws per batch. Without: each epoch is a fresh
    permutation cut into consecutive batches; the last ``N mod B`` rows of a permutation are
    dropped, so every batch holds B distinct rows and costs the same.
    """
    while True:
        if replace:
            yield rng.integers(0, n_examples, batch_size)
        else:
            order = rng.permutation(n_examples)
            for start in range(0, n_examples - batch_size + 1, batch_size):
                yield order[start:start + batch_size]


# --- hyperparameters --------------------------------------------------------------------

def _lr(default: float) -> Param:
    return Param("lr", default, "learning rate", low=0.0, low_open=True, high=1e6, log=True,
                 help="step size lr in θ ← θ − lr · (update direction)")


def _eps(default: float) -> Param:
    return Param("eps", default, "ε", low=0.0, low_open=True, high=1.0, log=True,
                 help="added to the root in the denominator, keeps the step finite where g² ≈ 0")


SCALE = Param("scale", 1.0, "guess scale", low=0.0, low_open=True, high=1e6, log=True,
              help="random search draws θ ~ N(0, scale² I)")
STEP_SIZE = Param("step_size", 0.1, "step size", low=0.0, low_open=True, high=1e6, log=True,
                  help="random local search tries θ + step_size · N(0, I)")
H = Param("h", 1e-5, "numerical step h", low=0.0, low_open=True, high=1.0, log=True,
          help="centered difference (L(θ + h e_k) − L(θ − h e_k)) / 2h")
BATCH_SIZE = Param("batch_size", 32, "batch size B", kind=int, low=1, high=10**9,
                   help="examples per step, at most N (the default 32 becomes N on smaller data)")
OPTIONAL_BATCH_SIZE = Param("batch_size", 0, "batch size B", kind=int, low=0, high=10**9,
                            help="examples per step, at most N; 0 = the full batch "
                                 "(on a surface, any B ≥ 1 means noisy steps, see noise)")
REPLACE = Param("replace", False, "sample with replacement", kind=bool,
                help="draw each minibatch's rows independently; otherwise epochs of shuffled, disjoint batches")
NOISE = Param("noise", 1.0, "gradient noise σ", low=0.0, high=1e6,
              help="on surfaces without examples, stochastic steps use ∇L + σ·N(0, I); "
                   "data objectives sample minibatches instead")
MOMENTUM = Param("momentum", 0.9, "momentum μ", low=0.0, high=1.0, high_open=True,
                 help="velocity decay μ in v ← μv + g")
ALPHA = Param("alpha", 0.99, "decay α", low=0.0, high=1.0, high_open=True,
              help="RMSProp's decay α in s ← αs + (1 − α)g²")
BETA1 = Param("beta1", 0.9, "β₁", low=0.0, high=1.0, high_open=True, help="Adam's first-moment decay")
BETA2 = Param("beta2", 0.999, "β₂", low=0.0, high=1.0, high_open=True, help="Adam's second-moment decay")
TOL = Param("tol", 0.0, "tolerance", low=0.0, high=1e6,
            help="stop as converged once the exact full gradient has ‖∇L‖ ≤ tol; "
                 "0 = only at an exact stationary point")

# not hyperparameters of a method, but the window builds their controls the same way
STEPS = Param("steps", 200, "steps", kind=int, low=0, high=10**7, help="number of updates to run")
SEED = Param("seed", 0, "seed", kind=int, low=0, high=2**63 - 1,
             help="seeds minibatches, dropout masks, gradient noise and search proposals")

_SCHEDULE = (SCHEDULE, DECAY_RATE, DECAY_EVERY)
_STOCHASTIC = (REPLACE, KEEP_PROB, NOISE)
_ADAPTIVE = (OPTIONAL_BATCH_SIZE, *_STOCHASTIC, *_SCHEDULE, TOL)

# extra["gradient"]: where a method's direction comes from —
# "none" (search), "numerical", "full", "minibatch", or "either" (full when batch_size = 0)
OPTIMIZERS = Registry("optimizer", [
    Entry("random_search", "Random search", SearchRule(random_search_propose, ("scale",)),
          "θ' ~ N(0, scale²·I); keep θ' if L(θ') < L(θ)", (SCALE,),
          "Guess weights at random and keep the best so far (CS231n strategy #1: a very bad idea).",
          {"gradient": "none"}),
    Entry("random_local_search", "Random local search", SearchRule(random_local_search_propose, ("step_size",)),
          "θ' = θ + step size · N(0, I); keep θ' if L(θ') < L(θ)", (STEP_SIZE,),
          "Try a random step and take it only if the loss drops (strategy #2).",
          {"gradient": "none"}),
    Entry("numerical_gd", "Numerical-gradient descent", UpdateRule(no_state_init, sgd_update),
          "θ ← θ − lr · ∇̃L(θ), ∇̃ by centered differences", (_lr(0.1), H, *_SCHEDULE, TOL),
          "Follow the slope measured by finite differences: right, but 2P loss evaluations per step.",
          {"gradient": "numerical"}),
    Entry("gd", "Gradient descent", UpdateRule(no_state_init, sgd_update),
          "θ ← θ − lr · ∇L(θ)", (_lr(0.1), *_SCHEDULE, TOL),
          "Full-batch descent along the analytic gradient.",
          {"gradient": "full"}),
    Entry("sgd", "Minibatch SGD", UpdateRule(no_state_init, sgd_update),
          "θ ← θ − lr · ∇L(θ; B), B a random minibatch", (_lr(0.1), BATCH_SIZE, *_STOCHASTIC, *_SCHEDULE),
          "Gradient descent on a random minibatch per step: cheap, noisy steps.",
          {"gradient": "minibatch"}),
    Entry("momentum", "Momentum", UpdateRule(momentum_init, momentum_update, ("momentum",)),
          "v ← μv + g;  θ ← θ − lr·v", (_lr(0.01), MOMENTUM, *_ADAPTIVE),
          "A ball rolling downhill: the velocity accumulates consistent gradients and damps oscillation.",
          {"gradient": "either"}),
    Entry("nesterov", "Nesterov momentum", UpdateRule(momentum_init, nesterov_update, ("momentum",)),
          "v ← μv + g;  θ ← θ − lr·(g + μv)", (_lr(0.01), MOMENTUM, *_ADAPTIVE),
          "Momentum with a look-ahead correction (torch's formulation).",
          {"gradient": "either"}),
    Entry("adagrad", "AdaGrad", UpdateRule(adagrad_init, adagrad_update, ("eps",)),
          "G ← G + g²;  θ ← θ − lr·g / (√G + ε)", (_lr(0.1), _eps(1e-10), *_ADAPTIVE),
          "Per-parameter steps shrinking with the sum of past squared gradients.",
          {"gradient": "either"}),
    Entry("rmsprop", "RMSProp", UpdateRule(rmsprop_init, rmsprop_update, ("alpha", "eps")),
          "s ← αs + (1 − α)g²;  θ ← θ − lr·g / (√s + ε)", (_lr(0.01), ALPHA, _eps(1e-8), *_ADAPTIVE),
          "AdaGrad with a leaky average, so the steps do not die out.",
          {"gradient": "either"}),
    Entry("adam", "Adam", UpdateRule(adam_init, adam_update, ("beta1", "beta2", "eps")),
          "m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  θ ← θ − lr·m̂ / (√v̂ + ε)",
          (_lr(0.03), BETA1, BETA2, _eps(1e-8), *_ADAPTIVE),
          "Momentum plus RMSProp, with bias-corrected moments m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ).",
          {"gradient": "either"}),
])


# --- trajectories -----------------------------------------------------------------------

class Step(NamedTuple):
    """One iterate of a run: ``t`` updates done, ``theta (P,)``, its full ``loss``, cumulative ``cost``."""

    t: int
    theta: Array
    loss: float
    cost: float


@dataclass(frozen=True, eq=False)
class Trajectory:
    """A finished (or paused) run, as read-only arrays over its T + 1 iterates.

    thetas: (T+1, P), the start first; losses: (T+1,) the full objective at each iterate
    (for the search methods, the best kept so far); cost: (T+1,) cumulative work in
    full-data passes, ``cost[0] = 0``. T = ``n_steps`` equals the steps asked for when
    ``status`` is "completed"; "converged" and "diverged" end early (a diverged run ends
    at the iterate whose loss passed ``DIVERGENCE_FACTOR · max(1, |L(θ0)|)``, or at the
    last finite one), "stopped" means the caller stopped it. ``hyper`` holds every
    hyperparameter actually used, defaults included; ``message`` says why it ended.

    ``states`` maps each array field of a gradient method's state to its value along the
    run, ``(T+1, P)``: row t is the state that came with iterate t (after update t; the
    initial zeros at row 0). ``{"v"}`` for momentum and Nesterov (the velocity), ``{"G"}``
    for AdaGrad, ``{"s"}`` for RMSProp, ``{"m", "v"}`` for Adam (its update count is t
    itself); empty for the stateless and search methods, and for a run made with
    ``record_states=False``. Exact for any run, minibatch and dropout ones included, whose
    gradients cannot be replayed.
    """

    method: str
    thetas: Array
    losses: Array
    cost: Array
    status: str
    hyper: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    message: str = ""
    states: dict[str, Array] = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return len(self.losses) - 1

    @property
    def theta(self) -> Array:
        """The last iterate, (P,)."""
        return self.thetas[-1]

    @property
    def loss(self) -> float:
        return float(self.losses[-1])

    def __repr__(self) -> str:
        return (f"Trajectory({self.method!r}, steps={self.n_steps}, status={self.status!r}, "
                f"loss={self.losses[0]:.6g} → {self.loss:.6g}, cost={self.cost[-1]:g})")


def _read_only(array: Array) -> Array:
    array.setflags(write=False)
    return array


def _state_arrays(state: Any) -> dict[str, Array]:
    """The array fields of an update rule's NamedTuple state, by name (none for NoState or a search)."""
    if not isinstance(state, tuple) or not hasattr(state, "_fields"):
        return {}
    return {name: value for name, value in zip(state._fields, state) if isinstance(value, np.ndarray)}


def _accepts_rng(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "rng" or p.kind is p.VAR_KEYWORD for p in params)


class Run:
    """A resumable run of one method from ``theta0``: step it, extend it, stop it, read it.

    ``Run(objective, method, theta0, seed=0, **hyper)`` validates everything up front
    (``ValueError`` naming the problem) and records the start. Then ``steps(n)`` is a
    generator yielding each new :class:`Step` (break out of it to stop; call it again to
    go on), ``advance(n)`` runs n more steps, and ``trajectory()`` returns everything so
    far. Extending a run in pieces gives exactly the trajectory of one long run.

    Stopping rules: "diverged" when an iterate or its loss is non-finite (that iterate is
    dropped) or ``|loss| > DIVERGENCE_FACTOR · max(1, |L(θ0)|)``, i.e. 1000 times the
    start's loss or 1000, whichever is larger (that iterate is kept, to show the blow-up);
    "converged" when the method uses exact full gradients (numerical_gd, gd, and the
    momentum/adaptive family with ``batch_size = 0`` and no dropout) and ``‖g‖ ≤ tol`` at
    the current iterate, tested before each update. Stochastic gradients never declare
    convergence: a small minibatch gradient says nothing about the full objective.

    ``record_states=False`` keeps no optimizer state along the way (``Trajectory.states``
    is then empty): a run only its end point is wanted from (a search for the optimum)
    holds half or a third of the memory.
    """

    def __init__(self, objective: Any, method: str, theta0: Array, seed: int = 0, *, record_states: bool = True,
                 **hyper: Any):
        entry = OPTIMIZERS[method]
        self.method = entry.name
        self.seed = SEED.validate(seed)
        if not isinstance(getattr(objective, "n_params", None), (int, np.integer)) or objective.n_params < 1:
            raise ValueError("objective must have a positive integer n_params")
        if not callable(getattr(objective, "loss", None)):
            raise ValueError("objective must have a loss(theta) method")
        P = int(objective.n_params)
        N = getattr(objective, "n_examples", None)
        N = None if N is None else int(N)
        values = entry.validate(hyper)
        if "batch_size" in values and "batch_size" not in hyper and N is not None:
            values["batch_size"] = min(values["batch_size"], N)  # the default never exceeds small data
        if "batch_size" in values and N is not None and values["batch_size"] > N:
            raise ValueError(f"batch_size must be at most N = {N} (the number of examples), got {values['batch_size']}")
        self.hyper = values

        source = entry.extra["gradient"]
        if source == "either":
            source = "full" if values["batch_size"] == 0 and values["keep_prob"] == 1.0 else "minibatch"
        self._mode = {"none": "search", "numerical": "numerical", "full": "full", "minibatch": "stochastic"}[source]
        if self._mode != "search" and not callable(getattr(objective, "loss_grad", None)):
            raise ValueError(f"{entry.label} needs the gradient: the objective has no loss_grad(theta, idx=None)")
        if "keep_prob" in values:
            objective = self._with_dropout(objective, values["keep_prob"], N)
        self.objective = objective

        if np.iscomplexobj(theta0):
            raise ValueError("theta0 must be real numbers, not complex ones")
        try:
            theta = np.array(theta0, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("theta0 must be a vector of numbers") from None
        if theta.shape != (P,):
            raise ValueError(f"theta0 must have shape ({P},) to match the objective's n_params, got {theta.shape}")
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta0 contains NaN or infinity")

        self._rule = entry.impl
        self._rule_hyper = {name: values[name] for name in self._rule.params}
        self._N = N
        self._unit = 1 if N is None else N  # work is counted in examples evaluated (surfaces: evaluations)
        self._work = 0
        batch_seed, dropout_seed, noise_seed, search_seed = np.random.SeedSequence(self.seed).spawn(4)
        self._dropout_rng = np.random.default_rng(dropout_seed)
        self._noise_rng = np.random.default_rng(noise_seed)
        self._search_rng = np.random.default_rng(search_seed)
        self._batches = None
        if self._mode == "stochastic" and N is not None and values["batch_size"] >= 1:
            self._batches = minibatches(N, values["batch_size"], values["replace"], np.random.default_rng(batch_seed))
        self._all_rows = None if N is None else np.arange(N)
        self._rng_kw = ({"rng": self._dropout_rng} if self._mode == "stochastic" and N is not None
                        and _accepts_rng(objective.loss_grad) else {})

        with np.errstate(all="ignore"):
            loss = self._evaluate(theta)
        if not math.isfinite(loss):
            raise ValueError(f"the loss at theta0 is not finite ({loss}); choose another start")
        self._limit = DIVERGENCE_FACTOR * max(1.0, abs(loss))
        self._state = self._rule.init(theta) if isinstance(self._rule, UpdateRule) else None
        theta.setflags(write=False)
        self._thetas, self._losses, self._work_done = [theta], [loss], [0]
        # the state after each recorded update, by field: what the views show as velocity or scale
        self._states = {name: [] for name in _state_arrays(self._state)} if record_states else {}
        self._record_state()
        self._target = 0
        self.status = "running"
        self.message = ""

    def _with_dropout(self, objective: Any, keep_prob: float, N: int | None) -> Any:
        """The objective whose minibatch evaluations use this run's ``keep_prob``."""
        current = getattr(objective, "keep_prob", None)
        if current == keep_prob or (current is None and keep_prob == 1.0):
            return objective
        if N is None:
            raise ValueError("keep_prob < 1 (dropout) needs an objective with examples; this one has none")
        if not callable(getattr(objective, "replace", None)):
            raise ValueError("keep_prob: this objective has no dropout setting (no replace(keep_prob=...))")
        return objective.replace(keep_prob=keep_prob)

    # --- state --------------------------------------------------------------------------
    @property
    def n_steps(self) -> int:
        return len(self._losses) - 1

    @property
    def finished(self) -> bool:
        """True once converged or diverged: further steps do nothing."""
        return self.status != "running"

    @property
    def theta(self) -> Array:
        return self._thetas[-1]

    @property
    def loss(self) -> float:
        return self._losses[-1]

    def trajectory(self) -> Trajectory:
        """Everything so far, as a :class:`Trajectory` (its status says whether the asked steps were done)."""
        if self.finished:
            status = self.status
        else:
            status = "completed" if self.n_steps >= self._target else "stopped"
        if self.message:
            message = self.message
        elif status == "completed":
            message = f"ran {self.n_steps} steps"
        else:
            asked = "" if self._target == math.inf else f" of {self._target}"
            message = f"stopped after {self.n_steps}{asked} steps"
        states = {name: _read_only(np.stack(values)) for name, values in self._states.items()}
        return Trajectory(self.method, _read_only(np.stack(self._thetas)), _read_only(np.array(self._losses)),
                          _read_only(np.array(self._work_done) / self._unit), status, dict(self.hyper),
                          self.seed, message, states)

    # --- stepping -----------------------------------------------------------------------
    def steps(self, n: int | None = None) -> Iterator[Step]:
        """A generator of up to ``n`` more iterates (endless if None); it ends early when the run finishes."""
        n = math.inf if n is None else STEPS.validate(n)
        self._target = self.n_steps + n
        return self._steps()

    def _steps(self) -> Iterator[Step]:
        while self.n_steps < self._target:
            step = self.step()
            if step is None:
                return
            yield step

    def advance(self, n: int) -> Trajectory:
        """Run ``n`` more steps (fewer if the run finishes) and return the whole trajectory."""
        for _ in self.steps(n):
            pass
        return self.trajectory()

    def step(self) -> Step | None:
        """One update: the new :class:`Step`, or None if the run has converged or diverged."""
        if self.finished:
            return None
        checkpoint()  # a cancelled computation stops between two steps
        with np.errstate(all="ignore"):  # overflow on the way to divergence is expected, and reported
            theta = self._search_step() if self._mode == "search" else self._gradient_step()
        if theta is None:
            return None
        self._target = max(self._target, self.n_steps)
        return Step(self.n_steps, theta, self._losses[-1], self._work / self._unit)

    def _search_step(self) -> Array:
        theta, loss = self._thetas[-1], self._losses[-1]
        candidate = self._rule.propose(theta, self._search_rng, **self._rule_hyper)
        candidate_loss = float(self.objective.loss(candidate))
        self._work += self._unit
        if candidate_loss < loss:  # False for NaN: a non-finite guess is never kept
            theta, loss = candidate, candidate_loss
        self._record(theta, loss)
        return theta

    def _gradient_step(self) -> Array | None:
        theta = self._thetas[-1]
        t = self.n_steps
        g = self._gradient(theta)
        if self._mode in ("numerical", "full"):
            norm = float(np.linalg.norm(g))
            if norm <= self.hyper["tol"]:
                return self._finish("converged", f"converged at step {t}: ‖∇L‖ = {norm:.3g} "
                                                 f"≤ tol = {self.hyper['tol']:g}")
        h = self.hyper
        lr = learning_rate(h["schedule"], h["lr"], t, h["decay_rate"], h["decay_every"])
        delta, self._state = self._rule.update(g, self._state, lr, **self._rule_hyper)
        theta = theta + delta
        if not np.all(np.isfinite(theta)):
            return self._finish("diverged", f"diverged: the iterate became non-finite at step {t + 1}; "
                                            f"kept the last finite one (step {t})")
        loss = self._evaluate(theta)
        if not math.isfinite(loss):
            return self._finish("diverged", f"diverged: the loss became non-finite at step {t + 1}; "
                                            f"kept the last finite iterate (step {t})")
        self._record(theta, loss)
        if abs(loss) > self._limit:
            self._finish("diverged", f"diverged: |loss| = {abs(loss):.3g} at step {t + 1} exceeds "
                                     f"{DIVERGENCE_FACTOR:g} × max(1, |L(θ0)|)")
        return theta

    def _evaluate(self, theta: Array) -> float:
        """The full loss at a new iterate; exact full-gradient methods get its gradient along, for the next step."""
        if self._mode == "full":
            loss, grad = self.objective.loss_grad(theta)
            self._next_grad = np.asarray(grad, dtype=float)
            return float(loss)
        return float(self.objective.loss(theta))

    def _gradient(self, theta: Array) -> Array:
        """The direction of this step, with its work charged."""
        if self._mode == "full":
            self._work += self._unit
            return self._next_grad
        if self._mode == "numerical":
            self._work += 2 * theta.size * self._unit
            return numerical_gradient(self.objective.loss, theta, self.hyper["h"])
        if self._N is None:  # a surface: the full gradient plus noise stands in for a minibatch
            self._work += 1
            _, grad = self.objective.loss_grad(theta)
            return np.asarray(grad, dtype=float) + self.hyper["noise"] * self._noise_rng.standard_normal(theta.size)
        idx = self._all_rows if self._batches is None else next(self._batches)  # batch_size 0: dropout on all rows
        self._work += idx.size
        _, grad = self.objective.loss_grad(theta, idx, **self._rng_kw)
        return np.asarray(grad, dtype=float)

    def _record(self, theta: Array, loss: float) -> None:
        theta.setflags(write=False)  # iterates are handed out in Steps: nobody may change the record
        self._thetas.append(theta)
        self._losses.append(loss)
        self._work_done.append(self._work)
        self._record_state()

    def _record_state(self) -> None:
        """Keep the state that came with the iterate just recorded (the update rules make new arrays each step)."""
        for name, values in self._states.items():
            value = getattr(self._state, name)
            value.setflags(write=False)  # shared with the record: nobody may change it
            values.append(value)

    def _finish(self, status: str, message: str) -> None:  # returns None: "no new iterate"
        self.status, self.message = status, message
        return None


def optimize(objective: Any, method: str, theta0: Array, steps: int, seed: int = 0, **hyper: Any) -> Trajectory:
    """Run ``method`` (a name in ``OPTIMIZERS``) for ``steps`` updates from ``theta0 (P,)``.

    ``hyper`` overrides the method's defaults (``OPTIMIZERS[method].params``). Returns a
    :class:`Trajectory` with ``thetas (T+1, P)``, ``losses (T+1,)``, ``cost (T+1,)``,
    ``status``, ``hyper`` and ``states`` (the optimizer's state at each iterate, ``(T+1, P)``
    by name; pass ``record_states=False`` to keep none); T = steps unless the run converged
    or diverged first. Bad input raises ``ValueError`` naming it; a diverging run never raises.
    """
    steps = STEPS.validate(steps)
    return Run(objective, method, theta0, seed, **hyper).advance(steps)
