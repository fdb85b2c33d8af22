"""Per-row values, Frank-Wolfe gaps and certified bounds of the relaxation at a point X.

For a row-local pattern f and its FW gap split over rows (each row's relaxation is separate), so
f_i(X) - gap_i(X) <= the row's relaxed optimum <= its integer optimum, row by row. The objective is the
mask error with a PSD matrix H' (default H) plus a linear term on the pruned fractions.
"""
from __future__ import annotations

import numpy as np

from ..core.patterns import select_top
from ..core.problem import LayerProblem


def row_lower_bounds(problem: LayerProblem, H_s: np.ndarray, linear: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Per-row certified bounds f_i(X) - gap_i(X) of the convex objective with H_s and ``linear``
    (row-local patterns: f and its FW gap split over rows, and each row's relaxation is separate)."""
    values, gaps = row_values_and_gaps(problem, H_s, linear, X)
    return values - gaps


def row_values_and_gaps(problem: LayerProblem, H_s: np.ndarray, linear: np.ndarray, X: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(f_i(X), gap_i(X)) per row for the objective with H_s and ``linear``, from one product (W * (1 - X)) H_s."""
    E = problem.W * (1 - X)
    P = E @ H_s
    values = np.sum(E * P, axis=1) + np.sum(linear * (1 - X), axis=1)
    return values, row_gaps(problem, X, P, linear)


def row_gaps(problem: LayerProblem, X: np.ndarray, P: np.ndarray | None = None, linear=None) -> np.ndarray:
    """Per-row FW gaps of the relaxed point (the gap decomposes over rows for row-local patterns);
    ``P`` = (W * (1 - X)) H' and ``linear`` for a strengthened objective (default: H, none)."""
    if P is None:
        P = (problem.W * (1 - X)) @ problem.H
    G = -2.0 * problem.W * P - (0.0 if linear is None else linear)
    V = select_top(-G, problem.pattern)
    return np.sum(G * X, axis=1) - np.sum(np.where(V, G, 0.0), axis=1)
