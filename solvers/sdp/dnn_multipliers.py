"""One row's doubly non-negative (DNN) bound from ADMM's dual multipliers, certified by one Shor solve.

``sdp.dnn_ascent`` shows that L(N, mu), the diagonal Shor bound of the row's objective with the non-negativity
multipliers N >= 0 (E >= 0, off the diagonal) and the cardinality products' multipliers mu folded in
(``dnn_ascent.multiplier_objective``), is a certified lower bound for *every* N >= 0 and every mu, however they were
found. The ascent finds them by supergradient steps, one Shor solve each. Here they come from ADMM on the DNN
relaxation itself (``sdp.dnn``, Wen, Goldfarb & Yin 2010): its dual iterate (y, N) is a DNN dual point whose
N block (E part, diagonal dropped) and product duals (mu = -y_products, in Q's units) are such multipliers. One Shor
solve of the multiplier objective then certifies them (``dnn_ascent.multiplier_bound``, rounding margin included).
Where ``sdp.dnn`` itself certifies its dual point by lambda_min(S) times the trace bound 1 + P (289 at n = 576), which
keeps its bound below Shor's on full rows, this certificate costs one Shor solve and nothing else, and the ADMM
iterates need no precision: V's eigendecomposition runs in float32 (``admm_iteration(single=True)``).

ADMM starts from the row's Shor solve (``first``: kept by certify's Shor phase, ``sdp.kept_solves``; else solved
here at ``FINAL_TOLERANCE``): y = (gamma, s, rho, products 0), X its primal matrix, N = 0. The row's bound is the
larger of the Shor bound and L(N, mu).

Measured (full 576-wide SmolLM2 layer-3 rows, one core beside two 1 h certify runs, bound in units of the row's
SparseSwaps error, from the kept Shor solve; ``results/certify-bench/dnn-multipliers``): ADMM 25 / 50 / 100
iterations (+ ~1 s for the certifying Shor solve) against the ascent's 5 / 20 steps:
- k_proj per-row 60 % r5: Shor 0.9064; ascent 0.9228 (2.8 s), 0.9313 (8.7 s); ADMM 0.9304 (3.0 s), 0.9367 (3.8 s),
  0.9406 (6.5 s); 200 / 400 iterations 0.9422 / 0.9423;
- gate_proj 2:4 r5: Shor 0.8354; ascent 0.8741 (1.9 s), 0.8862 (8.0 s); ADMM 0.8803 (2.2 s), 0.8867 (2.8 s),
  0.8935 (4.8 s); r77: 0.8507; 0.8778, 0.9019; 0.8943, 0.9000, 0.9071;
- o_proj per-row 50 % r5: Shor 0.5701; ascent 0.5701, 0.5859 (10.6 s); ADMM 0.5929 (2.9 s), 0.5974, 0.6003 (7.0 s);
- up_proj per-row 50 % r5: Shor 0.8873; ascent 0.8995 (2.7 s), 0.9115 (8.2 s); ADMM 0.9147 (2.8 s), 0.9193,
  0.9238 (6.5 s).
ADMM's float32 and float64 eigendecompositions gave the same bounds to 4 digits, the float32 one 1.7x faster.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from .dnn import MU_EVERY, admm_data, admm_iteration, balanced_penalty, shor_start
from .dnn_ascent import FINAL_TOLERANCE, Multipliers, multiplier_solve
from .primal_dual import check_warm, row_sdp_bound_ipm
from .shor import RowSDP, checked_row_problem

ADMM_ITERATIONS = 200  # ADMM iterations a row by default (k_proj r5: 100 / 200 / 400 gave 0.9406 / 0.9422 / 0.9423)
ADMM_SHARE = 0.8  # of a time limit, what ADMM may use at most before the certifying Shor solve
CERTIFY_RESERVE = 30  # ... and it stops this many of its iterations' time before the limit: a 576-wide row's Shor
#   solve took 0.8-1.2 s, about 30 ADMM iterations (float32)
START_MU = 0.1  # ADMM's penalty at the start (normalised units; ``sdp.dnn``'s default)


@dataclass
class RowMultiplierBound:
    """Result in Q's units: ``bound`` (certified: the larger of ``shor`` and the certified L(N, mu)), ``shor`` (the
    first solve's bound), ``admm_iterations``, ``iterations`` (primal-dual iterations of the Shor solves done here),
    ``multipliers`` (N, mu) certified (None when ADMM did not run), ``primal`` the pruned fractions of the winning
    Shor solve (a point to round, ``sdp.rounding``), ``first_reused`` whether the Shor solve was the caller's."""

    bound: float
    shor: float
    admm_iterations: int
    iterations: int
    multipliers: Multipliers | None = None
    primal: np.ndarray | None = None
    first_reused: bool = False


def row_dnn_multiplier_bound(Q: np.ndarray, prune_counts, groups=None, *, max_iterations: int = ADMM_ITERATIONS,
                             time_limit: float | None = None, first: RowSDP | None = None,
                             single: bool = True) -> RowMultiplierBound:
    """The DNN bound of one row from ADMM's multipliers, certified by one Shor solve (module docstring).

    ``prune_counts``: p_g per group (an int for one group); ``groups``: index arrays partitioning the row (None: one
    group). ``max_iterations``: ADMM iterations at most (0: the Shor bound alone); ``time_limit``: seconds, ADMM
    stopping at ``ADMM_SHARE`` of it or ``CERTIFY_RESERVE`` of its iterations before it, whichever is first (a Shor
    solve cut by the limit still gives a valid, weaker bound). ``first``:
    this row's Shor solve (``row_sdp_bound_ipm`` of this Q, counts and groups; X may be float32), as in
    ``dnn_ascent.row_dnn_ascent_bound``: its bound is taken as the row's Shor bound. ``single``: ADMM's
    eigendecompositions in float32."""
    started = time.perf_counter()
    Q, C, p = checked_row_problem(Q, prune_counts, groups)
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, (int, np.integer)) or max_iterations < 0:
        raise ValueError(f"max_iterations must be a non-negative integer; got {max_iterations!r}")
    Q = (Q + Q.T) / 2.0
    n = Q.shape[0]
    deadline = math.inf if time_limit is None else started + time_limit

    def remaining() -> float | None:
        return None if math.isinf(deadline) else max(deadline - time.perf_counter(), 1e-3)

    reused = first is not None and first.X is not None
    if reused:
        check_warm(first, n, C.shape[1], "first")
    # nothing to choose somewhere, or Q = 0: the Shor bound (by the barrier solver), no ADMM
    degenerate = not (np.all((p > 0) & (p < C.sum(axis=0))) and float(np.mean(np.diag(Q))) > 0.0)
    reused = reused and not degenerate
    solved = first if reused else row_sdp_bound_ipm(Q, p, groups, tolerance=FINAL_TOLERANCE, time_limit=remaining())
    result = RowMultiplierBound(solved.bound, solved.bound, 0, 0 if reused else solved.newton_steps,
                                primal=solved.primal, first_reused=reused)
    if degenerate or max_iterations == 0 or solved.X is None:
        return result
    data = admm_data(Q, C, p)
    X, _, S = shor_start(solved, data)
    Nv, mu = np.zeros(X.size), START_MU
    admm_until = started + ADMM_SHARE * (deadline - started)
    t, y, admm_started = 0, None, time.perf_counter()
    while t < max_iterations and (t == 0 or time.perf_counter() + CERTIFY_RESERVE * (
            time.perf_counter() - admm_started) / t < min(admm_until, deadline)):
        X, y, Nv, S, ATy = admm_iteration(data, X, Nv, S, mu, single=single)
        t += 1
        if t % MU_EVERY == 0:
            mu = balanced_penalty(data, X, ATy, Nv, S, mu)[0]
    N = Nv.reshape(n + 1, n + 1)[1:, 1:] * data.scale
    N = np.maximum((N + N.T) / 2.0, 0.0)
    np.fill_diagonal(N, 0.0)
    mu_products = -y[n + 1 + C.shape[1]:] * data.scale
    result = replace(result, admm_iterations=t)
    if not (np.all(np.isfinite(N)) and np.all(np.isfinite(mu_products))):
        return result
    value, certified = multiplier_solve(Q, N, p, groups, mu_products, FINAL_TOLERANCE, remaining(), None)
    result = replace(result, iterations=result.iterations + certified.newton_steps)
    if value <= solved.bound:
        return result
    return replace(result, bound=value, multipliers=Multipliers(N, mu_products),
                   primal=certified.primal if certified.primal is not None else solved.primal)
