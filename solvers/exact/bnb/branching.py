"""Branching rules: "most-fractional" (in the solve loop) and "pseudocost" (Benichou et al. 1971): per
variable and side the mean bound gain per unit of fractionality moved, learnt from solved children; score =
max(q_keep (1 - x_j), eps) * max(q_prune x_j, eps) (product rule), unknown pseudocosts the mean of the known.

Pseudocost is the default since session 22. With node SDP bounds and the SDP's primal point (``Settings.node_point``)
the bound gains it learns are the SDP's, and it branches where they rise: in-process on the SmolLM2 slices
(alternating per row, 2 repeats, medians of per-row time ratios pseudocost / most-fractional) n48 1.00, n64 1.01,
n96 1.01, n128 1.00 (sums 0.13 / 0.30 / 0.97 / 17.5 s -> 0.12 / 0.29 / 0.78 / 3.9 s); the hard o_proj rows: n128 r181
14.7 -> 2.2 s (4812 -> 707 nodes), r504 2.1 -> 1.0 s; n192 r181 open at 2.0 % after 600 s -> proven in 31 s
(3502 nodes; Gurobi: 110 s), r504 39 -> 4.7 s. 2:4, same A/B: n64 median 1.00 (sum 1.73 -> 1.23 s), n128 median 1.00
(one repeat; o_proj r181 open at 60 s -> proven in 26.7 s)."""
from __future__ import annotations

import math

import numpy as np

BRANCHINGS = ("most-fractional", "pseudocost")


class Pseudocosts:
    """Mean bound gain per unit of fractionality moved, per variable and side (keep = 1, prune = 0)."""

    def __init__(self, shape):
        self.total = np.zeros((2,) + tuple(shape))
        self.count = np.zeros((2,) + tuple(shape))

    def update(self, branched: tuple | None, parent_bound: float, bound: float) -> None:
        if branched is None or not math.isfinite(parent_bound) or not math.isfinite(bound):
            return
        index, side, moved = branched
        self.total[(side,) + index] += max(bound - parent_bound, 0.0) / max(moved, 1e-9)
        self.count[(side,) + index] += 1

    def choose(self, X: np.ndarray, candidates: np.ndarray) -> tuple:
        known = self.count > 0
        mean = np.where(known, self.total / np.maximum(self.count, 1), 0.0)
        default = float(mean[known].mean()) if known.any() else 1.0
        mean = np.where(known, mean, default)
        score = np.maximum(mean[1] * (1 - X), 1e-6 * default) * np.maximum(mean[0] * X, 1e-6 * default)
        return np.unravel_index(np.argmax(np.where(candidates, score, -np.inf)), X.shape)
