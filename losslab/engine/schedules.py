"""Learning-rate schedules: the step size ``lr_t`` of update ``t = 0, 1, 2, ...``.

Every schedule takes the same two knobs, so switching between them keeps their meaning:
``decay_rate`` γ in (0, 1] is the factor the rate is multiplied by every ``decay_every``
= k updates. Step decay applies it all at once at ``t = k, 2k, ...`` (CS231n's "reduce the
learning rate by a constant every few epochs"); exponential decay spreads it smoothly,
``lr · γ^(t/k) = lr · exp(−t ln(1/γ) / k)``.
"""
from __future__ import annotations

from .registry import Entry, Param, Registry


def constant(lr: float, t: int, decay_rate: float, decay_every: int) -> float:
    """``lr_t = lr``."""
    return lr


def step_decay(lr: float, t: int, decay_rate: float, decay_every: int) -> float:
    """``lr_t = lr · γ^⌊t/k⌋``: multiplied by γ after every k updates."""
    return lr * decay_rate ** (t // decay_every)


def exponential_decay(lr: float, t: int, decay_rate: float, decay_every: int) -> float:
    """``lr_t = lr · γ^(t/k)``: the same decay as step decay, spread over every update."""
    return lr * decay_rate ** (t / decay_every)


DECAY_RATE = Param("decay_rate", 0.5, "decay factor γ", low=0.0, high=1.0, low_open=True,
                   help="the learning rate is multiplied by γ every decay_every updates (step and exponential)")
DECAY_EVERY = Param("decay_every", 100, "decay every k steps", kind=int, low=1, high=10**9,
                    help="k: updates per factor γ (step and exponential)")

SCHEDULES = Registry("learning-rate schedule", [
    Entry("constant", "Constant", constant, "lrₜ = lr", (), "The same step size for every update."),
    Entry("step", "Step decay", step_decay, "lrₜ = lr · γ^⌊t/k⌋", (DECAY_RATE, DECAY_EVERY),
          "Multiply the rate by γ every k updates."),
    Entry("exponential", "Exponential decay", exponential_decay, "lrₜ = lr · γ^(t/k)", (DECAY_RATE, DECAY_EVERY),
          "Decay smoothly by a factor γ per k updates."),
])

SCHEDULE = Param("schedule", "constant", "learning-rate schedule", kind=str, choices=tuple(SCHEDULES),
                 help="constant; step: lr·γ^⌊t/k⌋; exponential: lr·γ^(t/k)")


def learning_rate(schedule: str, lr: float, t: int, decay_rate: float = 0.5, decay_every: int = 100) -> float:
    """The step size of update ``t`` (counted from 0) under ``schedule``, a name in ``SCHEDULES``."""
    return SCHEDULES[schedule].impl(lr, t, decay_rate, decay_every)
