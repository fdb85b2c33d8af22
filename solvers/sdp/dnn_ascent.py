"""One row's doubly non-negative (DNN) bound by ascent over the non-negativity multipliers, each step one Shor SDP.

Row problem (as in ``sdp.shor``): min e^T Q e over binary pruned indicators e with sum_{j in g} e_j = p_g per
cardinality group g, Q = diag(w) H diag(w). For binary e the matrix e e^T is entrywise >= 0, so for every symmetric
N >= 0 with zero diagonal

    e^T Q e  >=  e^T (Q - N) e  =  e^T (Q - N + diag(N 1)) e - (N 1)^T e,

and the diagonal Shor SDP of the right-hand side (``sdp.primal_dual`` with the linear term -(N 1) / 2; the matrix
Q - N + diag(N 1) stays PSD, diag(N 1) - N being a graph Laplacian) is a certified lower bound L(N) for *every* such
N, however N was found: no correction for an inexact solve is needed beyond the Shor solver's own (its dual point is
feasible at every iterate). L(0) is the Shor bound; max over N >= 0 of L(N) is the Shor relaxation with E >= 0 added
(the DNN relaxation of ``sdp.dnn`` without its cardinality products) by Lagrangian duality.

L is concave in N with supergradient -E(N), E(N) the Shor primal's matrix block (off its diagonal). The ascent is a
projected, deflected supergradient method (Camerini, Fratta & Maffioli 1975; Polyak steps, Polyak 1969):
D = (1 - m) (-E) + m D_prev (projected onto the directions that keep N >= 0), N <- max(0, N + theta (U - L) D / |D|^2)
with U the row's best known error (a mask's; at worst the Shor point rounded), keeping the best L seen. Each step is
one cold Shor solve at a loose tolerance (``STEP_TOLERANCE``; the bound is valid anyway, and the looser primal
points gave equal or better ascent on a 576-wide k_proj row: 9.8 % -> 6.4 % of the row's gap in 40 steps, 0.6 s a
step on one core). Where the ADMM of ``sdp.dnn`` pays an eigenvalue correction of lambda_min times the trace bound
(1 + P, 289 at n = 576) that keeps its bound far below Shor's at full width, every step here is at least valid.

Rounding: the bound holds for the matrix the Shor solver was given; it differs from the exact Q - N + diag(N 1) by at
most 2 eps (|Q| + |N| + |N 1|) entrywise, so ``ROUNDING_MARGIN`` (|Q|_1 + 2 |N|_1) is subtracted from every bound.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .primal_dual import row_sdp_bound_ipm
from .shor import checked_row_problem

STEP_TOLERANCE = 1e-2  # relative stopping gap of each step's Shor solve
STEP_SIZE = 0.3  # theta of the Polyak step (0.3 and 0.5 reached the same bound on a 576-wide row; 1.0 oscillated)
STEPS = 20  # Shor solves a row by default: on the 14 real 256-wide slices the median gap to the proven optimum was
#   3.7 % for Shor, 2.5 % after 20 steps, 2.4 % after 40, 2.3 % after 100 (target: the optimum); on a 576-wide k_proj
#   row 10 / 20 / 40 steps closed 78 / 91 / 100 % of what 40 closed, 0.6 s a step on one core
MOMENTUM = 0.5  # m: weight of the previous direction (a faster start than 0, the same end after 40 steps)
ROUNDING_MARGIN = 4.0 * np.finfo(np.float64).eps


@dataclass
class RowAscent:
    """Result in Q's units: ``bound`` (certified, the best step's, rounding margin off), ``shor`` (the first
    step's: the diagonal Shor bound at the same tolerance), ``steps`` Shor solves, ``iterations`` their
    primal-dual iterations, ``upper`` the target U used, ``multipliers`` the N of the best step (None when that is
    the first, N = 0): ``multiplier_objective`` turns it into a quadratic whose Shor bound is valid under any fixings
    too (fw-bnb's node bounds)."""

    bound: float
    shor: float
    steps: int
    iterations: int
    upper: float
    multipliers: np.ndarray | None = None


def _rounded_error(Q: np.ndarray, groups: list[np.ndarray], counts: np.ndarray, point: np.ndarray | None) -> float:
    """e^T Q e of the point's largest p_g pruned fractions per group (a feasible mask: an upper bound)."""
    if point is None:
        return math.inf
    e = np.zeros(len(Q))
    for members, p in zip(groups, counts):
        e[members[np.argsort(-point[members], kind="stable")[: int(p)]]] = 1.0
    return float(e @ Q @ e)


def multiplier_objective(Q: np.ndarray, N: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Q - N + diag(N 1), q = -(N 1) / 2): the objective e^T (Q - N + diag(N 1)) e + 2 q^T e, equal to e^T (Q - N) e
    on binaries and so at most e^T Q e for any entrywise non-negative N with zero diagonal (module docstring); its
    matrix is PSD when Q is (diag(N 1) - N is a graph Laplacian)."""
    degrees = N.sum(axis=1)
    return Q - N + np.diag(degrees), -degrees / 2.0


def multiplier_margin(Q: np.ndarray, N: np.ndarray) -> float:
    """What to subtract from a Shor bound of ``multiplier_objective(Q, N)`` for rounding (module docstring)."""
    return ROUNDING_MARGIN * (float(np.abs(Q).sum()) + 2.0 * float(N.sum()))


def multiplier_bound(Q: np.ndarray, N: np.ndarray, prune_counts, groups=None, *, tolerance: float = STEP_TOLERANCE,
                     time_limit: float | None = None) -> tuple[float, np.ndarray | None, int]:
    """(L(N), the Shor primal matrix, its primal-dual iterations): a certified lower bound on the row's optimum for
    any entrywise non-negative N (module docstring; e^T N e >= 0 needs nothing else), Q the row's matrix. Every group
    must have something to choose (0 < p_g < |g|)."""
    N = np.asarray(N, dtype=np.float64)
    if N.shape != np.shape(Q) or not np.all(np.isfinite(N)) or np.any(N < 0):
        raise ValueError(f"N must be a finite, entrywise non-negative matrix of Q's shape {np.shape(Q)}")
    matrix, linear = multiplier_objective(Q, N)
    result = row_sdp_bound_ipm(matrix, prune_counts, groups, tolerance=tolerance, time_limit=time_limit, linear=linear)
    return result.bound - multiplier_margin(Q, N), result.X, result.newton_steps


def row_dnn_ascent_bound(Q: np.ndarray, prune_counts, groups=None, *, upper: float | None = None,
                         max_steps: int = STEPS, time_limit: float | None = None,
                         step_size: float = STEP_SIZE, momentum: float = MOMENTUM) -> RowAscent:
    """The DNN bound of one row by ascent over N (module docstring), certified at every step.

    ``prune_counts``: p_g per group (an int for one group); ``groups``: index arrays partitioning the row (None:
    one group). ``upper``: the row's best known error (the Polyak target; the rounded Shor point's error when that is
    lower or when None). Stops after ``max_steps`` Shor solves (1: the Shor bound alone), at ``time_limit`` seconds
    (the running solve stops early with a valid bound) or when the bound meets the target.
    """
    started = time.perf_counter()
    Q, C, p = checked_row_problem(Q, prune_counts, groups)
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer; got {max_steps!r}")
    Q = (Q + Q.T) / 2.0
    n = Q.shape[0]
    members = [np.flatnonzero(C[:, g]) for g in range(C.shape[1])]
    deadline = math.inf if time_limit is None else started + time_limit

    def remaining() -> float | None:
        return None if math.isinf(deadline) else max(deadline - time.perf_counter(), 1e-3)

    if not (np.all((p > 0) & (p < C.sum(axis=0))) and float(np.mean(np.diag(Q))) > 0.0):
        # nothing to choose somewhere, or Q = 0: the Shor bound (by the barrier solver), no ascent
        first = row_sdp_bound_ipm(Q, p, groups, tolerance=STEP_TOLERANCE, time_limit=remaining())
        return RowAscent(first.bound, first.bound, 1, first.newton_steps, math.inf if upper is None else float(upper))
    N = np.zeros((n, n))
    shor, X, iterations = multiplier_bound(Q, N, p, groups, time_limit=remaining())
    if X is None:
        return RowAscent(shor, shor, 1, iterations, math.inf if upper is None else float(upper))
    target = min(math.inf if upper is None else float(upper), _rounded_error(Q, members, p, X[0, 1:]))
    direction, value, best, best_N, steps = None, shor, shor, None, 1
    while steps < max_steps and time.perf_counter() < deadline and best < target * (1.0 - 1e-9):
        rise = -X[1:, 1:]
        np.fill_diagonal(rise, 0.0)
        direction = rise if direction is None else (1.0 - momentum) * rise + momentum * direction
        direction[(N <= 0.0) & (direction < 0.0)] = 0.0  # projected: N stays >= 0 where it is 0
        norm = float((direction * direction).sum())
        if norm <= 0.0:  # E >= 0 already: the Shor point is DNN-feasible, nothing to gain
            break
        N = np.maximum(0.0, N + (step_size * (target - value) / norm) * direction)
        N = (N + N.T) / 2.0
        value, X, used = multiplier_bound(Q, N, p, groups, time_limit=remaining())
        steps, iterations = steps + 1, iterations + used
        if value > best:
            best, best_N = value, N.copy()
        if X is None:
            break
        target = min(target, _rounded_error(Q, members, p, X[0, 1:]))
    return RowAscent(best, shor, steps, iterations, target, best_N)
