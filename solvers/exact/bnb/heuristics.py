"""Primal heuristics of the FW branch-and-bound: a list of (function, name), as in Boscia.

Each function takes the node context and returns a feasible row mask (True = keep) or None. The
mask only has to satisfy the pattern (any feasible mask is a valid incumbent), not the node's fixings.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.patterns import Pattern, select_top


@dataclass
class NodeContext:
    X: np.ndarray            # relaxed keep fractions, shape (1, n)
    gradient: np.ndarray     # gradient of the node objective at X
    vertex: np.ndarray       # LMO vertex at X (bool)
    active: list             # (vertex, weight) pairs
    pattern: Pattern
    objective: callable      # mask -> true error
    polish: callable         # mask -> 1-swap local optimum
    rng: np.random.Generator


def topk_rounding(ctx: NodeContext):
    return select_top(ctx.X, ctx.pattern)


def rounding_with_swaps(ctx: NodeContext):
    return ctx.polish(select_top(ctx.X, ctx.pattern))


def gradient_rounding(ctx: NodeContext):
    """Follow the gradient: the LMO vertex at the relaxed point."""
    return ctx.vertex


def probability_rounding(ctx: NodeContext):
    """Sample a keep-set with probabilities from X (Gumbel top-k per group)."""
    gumbel = -np.log(-np.log(ctx.rng.uniform(1e-12, 1.0, ctx.X.shape)))
    return select_top(np.log(np.clip(ctx.X, 1e-12, 1.0)) + gumbel, ctx.pattern)


def best_active_vertex(ctx: NodeContext):
    if not ctx.active:
        return None
    return min((v for v, _ in ctx.active), key=ctx.objective)


HEURISTICS = [(topk_rounding, "topk"), (rounding_with_swaps, "topk+swaps"), (gradient_rounding, "gradient"),
              (probability_rounding, "probability"), (best_active_vertex, "active-vertex")]
