"""One row's doubly non-negative (DNN) bound by ascent over the non-negativity and product multipliers, each step one
Shor SDP.

Row problem (as in ``sdp.shor``): min e^T Q e over binary pruned indicators e with sum_{j in g} e_j = p_g per
cardinality group g, Q = diag(w) H diag(w). For binary e the matrix e e^T is entrywise >= 0, so for every symmetric
N >= 0 with zero diagonal

    e^T Q e  >=  e^T (Q - N) e  =  e^T (Q - N + diag(N 1)) e - (N 1)^T e,

and the diagonal Shor SDP of the right-hand side (``sdp.primal_dual`` with the linear term -(N 1) / 2; the matrix
Q - N + diag(N 1) stays PSD, diag(N 1) - N being a graph Laplacian) is a certified lower bound for *every* such
N, however N was found: no correction for an inexact solve is needed beyond the Shor solver's own (its dual point is
feasible at every iterate).

The cardinality products (Sherali-Adams / RLT: e_i (sum_{j in g(i)} e_j - p_g) = 0 for every feasible binary e, g(i)
the group of i) join with free multipliers mu: sum_i mu_i e_i (sum_{j in g(i)} e_j - p_g(i)) = e^T S e - (p o mu)^T e,
S_ij = (mu_i + mu_j) / 2 for i, j in one group, vanishes on feasible binaries, so

    e^T Q e  >=  e^T (Q - N + diag(N 1) + S + diag(d)) e - (N 1 + p o mu + d)^T e      (``multiplier_objective``)

for any d as well (e_i^2 = e_i; the Shor SDP has diag E = e, so d leaves its bound unchanged). d is the smallest
shift that keeps the matrix PSD group by group (S restricted to g is (mu_g 1^T + 1 mu_g^T) / 2, rank two, least
eigenvalue (1^T mu_g - sqrt(|g|) |mu_g|) / 2), so the Shor solver's cold start and fw-bnb's node bounds see a PSD
matrix as before. L(N, mu), the Shor bound of the right-hand side, is a certified lower bound for every N >= 0 and
every mu; L(0, 0) is the Shor bound, and max L is the Shor relaxation with E >= 0 and the products E 1_g = p_g e
added: the DNN relaxation of ``sdp.dnn``, by Lagrangian duality. The products matter most for N:M rows. Median gap to
the proven optima of the 14 SmolLM2 layer-3 slices, 20 steps, N alone -> N and mu (the same time): 2:4 n = 64
1.52 -> 0.42 %, n = 256 3.93 -> 2.02 %; per-row 50 % n = 64 1.15 -> 0.87 %, n = 256 2.48 -> 2.16 % (Shor: 1.94,
5.33, 1.70, 3.68 %).

L is concave in (N, mu) with supergradient (-E, E 1_g - p_g x) at the Shor primal (x, E) (E off its diagonal).
The ascent is a projected, deflected supergradient method (Camerini, Fratta & Maffioli 1975; Polyak steps, Polyak
1969): D = (1 - m) G + m D_prev for the supergradient G (N's part projected onto the directions that keep N >= 0),
(N, mu) <- (max(0, N + t D_N), mu + t w D_mu), t = theta (U - L) / (|D_N|^2 + w |D_mu|^2), with U the row's best known
error (a mask's; at worst the Shor point rounded), keeping the best L seen. w = min(1, 4 / |g|) (``product_weight``)
scales the product step: the product supergradient sums |g| entries of E, and with w = 1 on a 256-wide row it took
the step from N (q_proj r387, 20 steps: N alone left a 3.83 % gap, with mu at w = 1 4.58 %, w = 0.01 3.26 %,
w = 0.003 3.37 %; on the 64-wide 2:4 rows w = 1 and 0.25 were about level). Each step is
one Shor solve at a loose tolerance (``STEP_TOLERANCE``; the bound is valid anyway, and the looser primal
points gave equal or better ascent on a 576-wide k_proj row: 9.8 % -> 6.4 % of the row's gap in 40 steps), started
from the previous step's solution (``primal_dual``'s warm start; ``warm_steps``): the objective moves a little per
step and A(X) = b does not change. On 14 full 576-wide SmolLM2 layer-3 rows (q/k/o/up_proj per-row 50 %,
gate/k/o_proj 2:4, rows 5 and 77; 20 steps, one core, alternating) a row's 20 steps took 5.0-9.5 s warm against
10.0-14.4 s cold (median time ratio 0.55 per-row, 0.59 at 2:4; 12-16 primal-dual iterations a step cold, 6-9 warm),
the bounds within +-0.004 of each other (in units of the SparseSwaps error). Where the ADMM of ``sdp.dnn`` pays an
eigenvalue correction of lambda_min times the trace bound (1 + P, 289 at n = 576) that keeps its bound far below
Shor's at full width, every step here is at least valid.

Loose steps (session 28): the first step (N = 0, the Shor bound) is solved to ``FINAL_TOLERANCE`` (1e-2), the later
ones to ``STEP_TOLERANCE`` (1e-1), and the best step's multipliers are re-solved to 1e-2 at the end, warm from that
step's solve (``step_tolerance``; 1e-2 throughout is the earlier method, which fw-bnb's root ascent keeps). A looser
step is both cheaper and, it seems, a better direction: its X is further inside the cone (a smoothed supergradient),
and its weaker value lengthens the Polyak step. Old (every step at 1e-2) against new, 20 steps, SmolLM2 layer-3
rows 5 and 77 of each module, one core each, alternating, with two 1 h certify runs on the machine, lift over the
Shor bound in units of the row's SparseSwaps error (``results/certify-bench/ascent-steps-ab``):
- 2:4, 14 rows (7 modules, down_proj's 1536 wide): time ratio median 0.74 (0.63-0.82), lift higher on all 14 by
  +0.0029 to +0.0102 (median +0.0053; old 0.034-0.058, new 0.042-0.064; 576-wide rows 8.3-12.2 s -> 6.7-9.1 s);
- per-row 50 %, 14 rows (7 modules): time ratio median 0.86 (0.77-0.97), lift higher on 13 (median +0.0042; o_proj
  row 5 -0.0010; o_proj row 77 0.0037 -> 0.0114; down_proj's 1536-wide rows 159-162 s -> 138-140 s, under two
  1 h runs);
- the 14 real 256-wide slices (per-row 50 %, aimed at 1.01 x the proven optimum): median gap to the optimum 2.25 ->
  2.23 %, median time 0.97-1.15 s -> 0.78-0.83 s (two runs each).
The session-25 trial of 1e-1 (cold steps, no products, no re-solve) had equal bounds 12-19 % faster on full rows but
a slightly larger gap on the 256-wide slices (2.55 -> 2.64 %), so it was left at 1e-2. A warm run at 1e-1 also used
to be dropped whenever it reached the tolerance with a large primal residual (a third of the per-row steps, each then
solved cold); it now goes on (``primal_dual``), without which the per-row steps at 1e-1 were slower than at 1e-2.

Rounding: the bound holds for the matrix the Shor solver was given; it differs from the exact matrix by at most
2 eps times the sum of its terms' magnitudes entrywise (the linear term likewise), so ``ROUNDING_MARGIN`` times
(|Q|_1 + 2 |N|_1 + sum_i (|g(i)| + p_g(i)) |mu_i| + 2 |d|_1) is subtracted from every bound (``multiplier_margin``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..core.problem import is_real_number
from .primal_dual import check_warm, row_sdp_bound_ipm
from .rounding import pruned_by_fractions
from .shor import RowSDP, checked_row_problem, group_matrix

STEP_TOLERANCE = 1e-1  # relative stopping gap of each ascent step's Shor solve after the first (module docstring)
FINAL_TOLERANCE = 1e-2  # the first step's (the Shor bound) and the re-solve at the best multipliers
STEP_SIZE = 0.3  # theta of the Polyak step (0.3 and 0.5 reached the same bound on a 576-wide row; 1.0 oscillated)
STEPS = 20  # Shor solves a row by default: on the 14 real 256-wide slices the median gap to the proven optimum was
#   3.7 % for Shor, 2.5 % after 20 steps, 2.4 % after 40, 2.3 % after 100 (target: the optimum); on a 576-wide k_proj
#   row 10 / 20 / 40 steps closed 78 / 91 / 100 % of what 40 closed (cold steps, 0.6 s a step on one core)
MOMENTUM = 0.5  # m: weight of the previous direction (a faster start than 0, the same end after 40 steps)
ROUNDING_MARGIN = 4.0 * np.finfo(np.float64).eps


class Multipliers(NamedTuple):
    """The ascent's multipliers: ``N`` (n x n, entrywise >= 0: E >= 0) and ``mu`` (n, free: the cardinality
    products; None: none)."""

    N: np.ndarray
    mu: np.ndarray | None = None


@dataclass
class RowAscent:
    """Result in Q's units: ``bound`` (certified, the best step's, rounding margin off), ``shor`` (the first
    step's: the diagonal Shor bound at the same tolerance), ``steps`` Shor solves, ``iterations`` their
    primal-dual iterations, ``upper`` the target U used, ``multipliers`` the (N, mu) of the best step (None when that
    is the first, N = 0): ``multiplier_objective`` turns them into a quadratic whose Shor bound is valid under any
    fixings too (fw-bnb's node bounds); ``warm_kept`` the steps whose Shor solve kept its warm start; ``primal`` the
    pruned fractions of the best step's Shor solve (its final re-solve's when there was one; ``RowSDP.primal``), a
    point to round (``sdp.rounding``); ``first_reused`` whether the first step was the caller's Shor solve (``first``)
    rather than solved again."""

    bound: float
    shor: float
    steps: int
    iterations: int
    upper: float
    multipliers: Multipliers | None = None
    warm_kept: int = 0
    primal: np.ndarray | None = None
    first_reused: bool = False


def _rounded_error(Q: np.ndarray, groups: list[np.ndarray], counts: np.ndarray, point: np.ndarray | None) -> float:
    """e^T Q e of the point's largest p_g pruned fractions per group (a feasible mask: an upper bound)."""
    if point is None:
        return math.inf
    e = pruned_by_fractions(point, groups, counts).astype(np.float64)
    return float(e @ Q @ e)


def _product_shift(mu: np.ndarray, C: np.ndarray) -> np.ndarray:
    """d: the per-group diagonal shift keeping the products' S + diag(d) PSD (module docstring), C the group matrix."""
    d = np.zeros(len(mu))
    for g in range(C.shape[1]):
        m = C[:, g] > 0
        least = (float(mu[m].sum()) - math.sqrt(int(m.sum())) * float(np.linalg.norm(mu[m]))) / 2.0
        d[m] = max(0.0, -least) * (1.0 + 1e-12)
    return d


def multiplier_objective(Q: np.ndarray, N: np.ndarray, mu: np.ndarray | None = None, prune_counts=None,
                         groups=None) -> tuple[np.ndarray, np.ndarray]:
    """(matrix, q): the objective e^T matrix e + 2 q^T e, at most e^T Q e on every feasible binary row for any entrywise
    non-negative N with zero diagonal and any product multipliers ``mu`` (module docstring; ``prune_counts`` and
    ``groups`` are the row's, needed with mu). Its matrix is PSD when Q is (diag(N 1) - N is a graph Laplacian, the
    product part is shifted to PSD)."""
    degrees = N.sum(axis=1)
    matrix, linear = Q - N + np.diag(degrees), -degrees / 2.0
    if mu is not None:
        C = group_matrix(len(mu), groups)
        group_of = np.argmax(C, axis=1)
        S = np.where(group_of[:, None] == group_of[None, :], (mu[:, None] + mu[None, :]) / 2.0, 0.0)
        d = _product_shift(mu, C)
        weighted = np.atleast_1d(np.asarray(prune_counts, dtype=np.float64))[group_of] * mu
        matrix, linear = matrix + S + np.diag(d), linear - (weighted + d) / 2.0
    return matrix, linear


def multiplier_margin(Q: np.ndarray, N: np.ndarray, mu: np.ndarray | None = None, prune_counts=None,
                      groups=None) -> float:
    """What to subtract from a Shor bound of ``multiplier_objective`` for rounding (module docstring)."""
    total = float(np.abs(Q).sum()) + 2.0 * float(N.sum())
    if mu is not None:
        C = group_matrix(len(mu), groups)
        group_of = np.argmax(C, axis=1)
        sizes_plus_p = (C.sum(axis=0) + np.atleast_1d(np.asarray(prune_counts, dtype=np.float64)))[group_of]
        total += float(np.sum(sizes_plus_p * np.abs(mu))) + 2.0 * float(_product_shift(mu, C).sum())
    return ROUNDING_MARGIN * total


def multiplier_bound(Q: np.ndarray, N: np.ndarray, prune_counts, groups=None, *, mu: np.ndarray | None = None,
                     tolerance: float = STEP_TOLERANCE,
                     time_limit: float | None = None) -> tuple[float, np.ndarray | None, int]:
    """(L(N, mu), the Shor primal matrix, its primal-dual iterations): a certified lower bound on the row's optimum for
    any entrywise non-negative N and any finite mu (module docstring; nothing else is needed), Q the row's matrix.
    Every group must have something to choose (0 < p_g < |g|)."""
    bound, result = multiplier_solve(Q, N, prune_counts, groups, mu, tolerance, time_limit, None)
    return bound, result.X, result.newton_steps


def multiplier_solve(Q, N, prune_counts, groups, mu, tolerance, time_limit,
                      warm: RowSDP | None) -> tuple[float, RowSDP]:
    """(L(N, mu), the Shor solve's ``RowSDP``): ``multiplier_bound`` with the whole solve (its primal point too), started
    from ``warm`` (a previous step's) when given."""
    N = np.asarray(N, dtype=np.float64)
    if N.shape != np.shape(Q) or not np.all(np.isfinite(N)) or np.any(N < 0):
        raise ValueError(f"N must be a finite, entrywise non-negative matrix of Q's shape {np.shape(Q)}")
    if mu is not None:
        mu = np.asarray(mu, dtype=np.float64)
        if mu.shape != (len(N),) or not np.all(np.isfinite(mu)):
            raise ValueError(f"mu must be a finite vector of length {len(N)}; got shape {mu.shape}")
    matrix, linear = multiplier_objective(Q, N, mu, prune_counts, groups)
    result = row_sdp_bound_ipm(matrix, prune_counts, groups, tolerance=tolerance, time_limit=time_limit, linear=linear,
                               warm=warm)
    return result.bound - multiplier_margin(Q, N, mu, prune_counts, groups), result


def product_weight(group_sizes: np.ndarray) -> np.ndarray:
    """w of the product multipliers' steps, per entry from its group's size (module docstring)."""
    return np.minimum(1.0, 4.0 / np.asarray(group_sizes, dtype=np.float64))


def row_dnn_ascent_bound(Q: np.ndarray, prune_counts, groups=None, *, upper: float | None = None,
                         max_steps: int = STEPS, time_limit: float | None = None,
                         step_size: float = STEP_SIZE, momentum: float = MOMENTUM, products: bool = True,
                         warm_steps: bool = True, step_tolerance: float = STEP_TOLERANCE,
                         first: RowSDP | None = None) -> RowAscent:
    """The DNN bound of one row by ascent over N and, with ``products``, the cardinality products' mu (module
    docstring), certified at every step.

    ``prune_counts``: p_g per group (an int for one group); ``groups``: index arrays partitioning the row (None:
    one group). ``upper``: the row's best known error (the Polyak target; the rounded Shor point's error when that is
    lower or when None). Stops after ``max_steps`` Shor solves (1: the Shor bound alone; the final re-solve below comes
    on top), at ``time_limit`` seconds (the running solve stops early with a valid bound) or when the bound meets the
    target. ``warm_steps``: each step's
    Shor solve starts from the previous step's (``primal_dual``'s warm start; the default), else cold.
    ``step_tolerance``: the relative stopping gap of the steps after the first; when it is looser than
    ``FINAL_TOLERANCE`` the best step's multipliers are re-solved to that tolerance at the end (module docstring).
    ``first``: this row's Shor solve already done (``row_sdp_bound_ipm`` of this Q, counts and groups, e.g. certify's
    Shor phase; X may be float32): it stands for the first step, which is then not solved again (``first_reused``).
    Its bound is taken as this row's Shor bound, so it must be this row's: a caller's promise, like ``upper``'s. Its
    X is checked for shape only (a wrong one: ValueError); one without X is ignored.
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

    if not (is_real_number(step_tolerance) and 0.0 < step_tolerance < 1.0):
        raise ValueError(f"step_tolerance must be a number in (0, 1); got {step_tolerance!r}")
    first_tolerance = min(FINAL_TOLERANCE, step_tolerance)
    if not (np.all((p > 0) & (p < C.sum(axis=0))) and float(np.mean(np.diag(Q))) > 0.0):
        # nothing to choose somewhere, or Q = 0: the Shor bound (by the barrier solver), no ascent
        first = row_sdp_bound_ipm(Q, p, groups, tolerance=first_tolerance, time_limit=remaining())
        return RowAscent(first.bound, first.bound, 1, first.newton_steps, math.inf if upper is None else float(upper),
                         primal=first.primal)
    group_of = np.argmax(C, axis=1)
    same_group = group_of[:, None] == group_of[None, :]
    entry_p = p[group_of]
    weight = product_weight(C.sum(axis=0)[group_of]) if products else np.zeros(n)
    N, mu = np.zeros((n, n)), np.zeros(n) if products else None
    reused = first is not None and first.X is not None
    if reused:
        check_warm(first, n, C.shape[1], "first")
        shor, solved = first.bound - multiplier_margin(Q, N, mu, p, groups), first
    else:
        shor, solved = multiplier_solve(Q, N, p, groups, mu, first_tolerance, remaining(), None)
    X, iterations, warm_kept = solved.X, 0 if reused else solved.newton_steps, 0
    if X is None:
        return RowAscent(shor, shor, 1, iterations, math.inf if upper is None else float(upper), primal=solved.primal,
                         first_reused=reused)
    target = min(math.inf if upper is None else float(upper), _rounded_error(Q, members, p, X[0, 1:]))
    direction, product_direction = None, None
    value, best, best_multipliers, best_solved, steps = shor, shor, None, solved, 1
    while steps < max_steps and time.perf_counter() < deadline and best < target * (1.0 - 1e-9):
        E, x = X[1:, 1:], X[0, 1:]
        rise = -E.copy()
        np.fill_diagonal(rise, 0.0)
        # E 1_g - p_g x: the products' residuals
        product_rise = np.where(same_group, E, 0.0).sum(axis=1) - entry_p * x if products else np.zeros(n)
        if direction is None:
            direction, product_direction = rise, product_rise
        else:
            direction = (1.0 - momentum) * rise + momentum * direction
            product_direction = (1.0 - momentum) * product_rise + momentum * product_direction
        direction[(N <= 0.0) & (direction < 0.0)] = 0.0  # projected: N stays >= 0 where it is 0
        norm = float((direction * direction).sum()) + float(weight @ (product_direction * product_direction))
        if norm <= 0.0:  # the Shor point is DNN-feasible: nothing to gain
            break
        length = step_size * (target - value) / norm
        N = np.maximum(0.0, N + length * direction)
        N = (N + N.T) / 2.0
        if products:
            mu = mu + length * weight * product_direction
        value, solved = multiplier_solve(Q, N, p, groups, mu, step_tolerance, remaining(),
                                          solved if warm_steps and solved.X is not None else None)
        X, steps, iterations, warm_kept = solved.X, steps + 1, iterations + solved.newton_steps, warm_kept + solved.warm
        if value > best:
            best, best_multipliers = value, Multipliers(N.copy(), None if mu is None else mu.copy())
            best_solved = solved
        if X is None:
            break
        target = min(target, _rounded_error(Q, members, p, X[0, 1:]))
    if best_multipliers is not None and step_tolerance > FINAL_TOLERANCE and time.perf_counter() < deadline:
        # the best loose step's multipliers, re-solved to the final tolerance from that step's solve
        final, solved = multiplier_solve(Q, best_multipliers.N, p, groups, best_multipliers.mu, FINAL_TOLERANCE,
                                          remaining(), best_solved if warm_steps and best_solved.X is not None else None)
        steps, iterations, warm_kept = steps + 1, iterations + solved.newton_steps, warm_kept + solved.warm
        best = max(best, final)
        best_solved = solved if solved.primal is not None else best_solved
    return RowAscent(best, shor, steps, iterations, target, best_multipliers, warm_kept, best_solved.primal, reused)
