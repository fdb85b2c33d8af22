"""The rules every FW loop here shares: the LMO's scores under fixings, when to stop, the step size, and
the result shape (``FWResult``).

f is quadratic along a direction D: f(X + g D) = f + g * slope + g^2 * curvature, slope = <grad, D>,
curvature = <W D, (W D) H> (units of the objective), so the exact line search is -slope / (2 curvature).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..core.arrays import namespace


def oracle_scores(gradient, fixed_keep=None, fixed_prune=None):
    """-gradient with fixed-to-keep entries at +inf and fixed-to-prune entries at -inf: the LMO keeps the top
    scores of every group (numpy or torch, as the gradient)."""
    xp = namespace(gradient)
    scores = -gradient
    if fixed_keep is not None:
        scores = xp.where(fixed_keep, xp.inf, scores)
    if fixed_prune is not None:
        scores = xp.where(fixed_prune, -xp.inf, scores)
    return scores


def should_stop(t: int, f: float, gap: float, best_bound: float, *, max_iterations: int, gap_tolerance: float,
                deadline: float, cutoff: float | None) -> bool:
    """Relative FW gap reached, iteration or time budget spent, or the certified bound reached ``cutoff``."""
    if gap <= gap_tolerance * max(abs(f), 1e-300) or t == max_iterations or time.perf_counter() > deadline:
        return True
    return cutoff is not None and best_bound >= cutoff


def step_size(variant: str, t: int, slope: float, curvature: float, gamma_max: float = 1.0) -> float:
    """Open loop 2 / (t + 2), else the exact line search clipped to [0, gamma_max]."""
    if variant == "open-loop":
        gamma = 2.0 / (t + 2.0)
    else:
        gamma = min(gamma_max, -slope / (2.0 * curvature)) if curvature > 0 else gamma_max
    return max(gamma, 0.0)


@dataclass
class FWResult:
    """Arrays are of the input's kind (numpy, or torch on the input's device)."""

    X: object
    objective: float
    gap: float
    lower_bound: float
    iterations: int
    trace: list = field(default_factory=list)  # (iteration, seconds, f, gap)
    active: list = field(default_factory=list)  # (vertex, weight) pairs of X (bpcg)
    gradient: object = None                     # grad f at the returned X
