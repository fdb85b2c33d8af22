"""One row's diagonal Shor SDP bound, by a dual log-barrier (interior-point) Newton method.

Row problem: min e^T Q e over e in {0, 1}^n (pruned indicators) with C^T e = p (one column of
C per cardinality group: one for per-row, d_in / M for N:M), Q = diag(w) H diag(w) (units of the
mask error). Its Shor relaxation with the diagonal constraints diag(E) = e has the dual

    max  gamma + p^T rho   s.t.  Z(y) = [[-gamma, (s - C rho)^T / 2], [(s - C rho) / 2, Q - diag(s)]]  PSD,

with n + G + 1 scalars y = (gamma, rho, s) and one (n+1) x (n+1) linear matrix inequality. Every
y with Z(y) PSD certifies gamma + p^T rho <= the integer optimum (for binaries e_j^2 = e_j, and
e^T (Q - diag s) e + (s - C rho)^T e - gamma >= 0 is the quadratic form of Z on (1, e)).
For fixed s it is the relaxation bound of the convexified objective e^T (Q - diag s) e + s^T e on
the hyperplanes C^T e = p, so FW on the box-constrained (hypersimplex) relaxation with the same s
gives a bound at least as large (``solvers.relaxation.sparsefw``, strengthening "row-sdp").

Method (Boyd & Vandenberghe, ch. 11): maximise tau * b^T y + log det Z(y) by damped Newton steps
(backtracking keeps Z positive definite: a Cholesky succeeds), tau *= ``growth`` after each
centering, starting each centering from the central path's tangent, until the barrier's duality
gap (n + 1) / tau is below ``tolerance`` * |bound|; gamma is then raised to the largest value the
final (rho, s) allow. Newton systems are (n + G + 1)-square and formed in O(n^2) from G = Z^-1 by
the closed forms in ``_newton_system`` (tr(G A_k G A_l) for the structured A_k), so one step costs
about 2 n^3 flops. Measured on real SmolLM2 rows: n = 128 in 0.12 s (SCS on the same SDP with
the row-sum constraints too: 0.8 s), n = 576 in about 200 steps, 4 s on a 2-core CPU (SCS: 386 s
for an unusable answer). Most of those steps go to the first centerings; cold solves of full rows
(``layer_row_bounds``) therefore use the primal-dual method of ``solvers.sdp.primal_dual`` (~17 iterations, 3x
faster), while branch-and-bound nodes (``fixed_row_bound``) of one-group (per-row) rows keep this method for its
warm starts; on rows of many groups (N:M) a warm start took 34-146 Newton steps where the cold primal-dual method
needs 6-8 iterations, so fw-bnb solves those nodes with it (``exact.bnb.settings.Settings.node_sdp_solver``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, lapack

from ..core.arrays import blas_threads_for
from .shor import (
    RowSDP,
    best_gamma,
    checked_row_problem,
    cholesky_factor,
    cold_start,
    doubled_linear_term,
    dual_matrix,
    factor_inverse,
    factor_solve,
    gamma_max,
    group_matrix,
)

CENTERED = 1e-2  # Newton decrement^2 / 2 at which a point counts as centred (loose: the bound is valid anyway)
WARM_BACKOFF = 16.0  # a warm start resumes the path at the parent's tau / WARM_BACKOFF (fw-bnb on the hard n96/n128
# slices, new gamma start: 4: 119 s, 8: 62 s, 16: 51 s, 32: 84 s, 64: 73 s, 256: 100 s in all; node counts move too)
WARM_TAU_CAP = 1.0  # ... but at most WARM_TAU_CAP x the tau whose barrier gap (n+1)/tau meets the tolerance at the warm
# point's bound: a parent solved to 1e-4 hands its children (node tolerance 3e-2) a tau ~300x above what they need, and
# centring there from the shifted point took 100+ Newton steps (then a cold restart); capped, ~14. fw-bnb on the SmolLM2
# slices (session 20, loaded 2-core machine, medians of per-row time ratios capped / uncapped): n48 0.36-0.76,
# n64 0.56-0.59, n96 0.41-0.55, n128 0.59 (sum 84.7 s -> 44.6 s); 3 x the cap: no better
WARM_FIRST_STEPS = 100  # a warm start whose first centering needs more Newton steps (or stalls) is dropped for a cold start
def _newton_system(inverse: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grad of log det Z, K) with K_kl = tr(G A_k G A_l) = -Hessian of log det Z, G = Z^-1."""
    g00, g, Gb = inverse[0, 0], inverse[0, 1:], inverse[1:, 1:]
    Cg, GbC = C.T @ g, Gb @ C
    grad = np.concatenate(([-g00], -Cg, g - np.diag(Gb)))
    G = C.shape[1]
    K = np.empty((len(grad), len(grad)))
    K[0, 0] = g00**2
    K[0, 1:1 + G] = g00 * Cg
    K[0, 1 + G:] = g**2 - g00 * g
    K[1:1 + G, 1:1 + G] = 0.5 * (Cg[:, None] * Cg + g00 * (C.T @ GbC))
    K[1:1 + G, 1 + G:] = -0.5 * (Cg[:, None] * g + g00 * GbC.T - 2.0 * GbC.T * g[None, :])
    K[1 + G:, 1 + G:] = 0.5 * (g[:, None] * g + g00 * Gb) - Gb * (g[:, None] + g[None, :]) + Gb * Gb
    K[1:, 0] = K[0, 1:]
    K[1 + G:, 1:1 + G] = K[1:1 + G, 1 + G:].T
    return grad, K


def _newton_direction(K: np.ndarray, grad: np.ndarray) -> tuple[np.ndarray, tuple | None]:
    """(K^-1 grad, factor for more right-hand sides), K Jacobi-scaled first (its diagonal spans many
    decades near the boundary). LAPACK posv directly: scipy's ``solve`` wrapper costs 4x the solve at n < 100."""
    scale = 1.0 / np.sqrt(np.clip(np.diag(K), 1e-300, None))
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = K * scale[:, None] * scale[None, :]
        rhs = scale * grad
    if not (np.all(np.isfinite(scaled)) and np.all(np.isfinite(rhs))):
        return np.full_like(grad, np.nan), None
    factor, solution, info = lapack.dposv(scaled, rhs, lower=1)
    if info == 0:  # ill-conditioned by nature close to the boundary; the line search checks the step
        return scale * solution, (factor, scale)
    try:
        return scale * np.linalg.lstsq(scaled, rhs, rcond=None)[0], None
    except (LinAlgError, ValueError):
        return np.full_like(grad, np.nan), None


def _solve_again(K: np.ndarray, factor: tuple | None, rhs: np.ndarray) -> np.ndarray:
    """K^-1 rhs with the factor from ``_newton_direction`` (or a fresh solve when it had none)."""
    if factor is None:
        return _newton_direction(K, rhs)[0]
    lower, scale = factor
    return scale * lapack.dpotrs(lower, scale * rhs, lower=1)[0]


def _center(Qn, C, q2, b, y, tau, max_steps, deadline=math.inf):
    """Damped Newton on tau b^T y + log det Z(y) from a strictly feasible y.

    Returns (y, tangent of the central path dy/dtau = K^-1 b, steps, centred, Cholesky factor of Z(y)); tangent
    None when the step budget ran out before the Newton decrement fell below ``CENTERED``; centred False when the
    line search found no acceptable step (y is still strictly feasible, but not known to be centred).
    """
    factor = cholesky_factor(dual_matrix(Qn, C, y, q2))
    for step_count in range(1, max_steps + 1):
        if time.perf_counter() > deadline:
            return y, None, step_count - 1, False, factor
        grad_ld, K = _newton_system(factor_inverse(factor), C)
        grad = tau * b + grad_ld
        delta, K_factor = _newton_direction(K, grad)
        decrement = float(grad @ delta)
        if not np.isfinite(decrement):  # numerically stuck at the boundary: the current y is still valid
            return y, None, step_count, False, factor
        if decrement / 2.0 <= CENTERED:
            return y, _solve_again(K, K_factor, b), step_count, True, factor
        value = tau * float(b @ y) + factor[1]
        step = 1.0
        while step > 1e-12:  # backtracking: stay positive definite, Armijo on the barrier function
            trial = y + step * delta
            trial_factor = cholesky_factor(dual_matrix(Qn, C, trial, q2))
            if trial_factor is not None and tau * float(b @ trial) + trial_factor[1] >= value + 0.25 * step * decrement:
                break
            step /= 2.0
        else:
            return y, _solve_again(K, K_factor, b), step_count, False, factor
        y, factor = trial, trial_factor
    return y, None, max_steps, False, factor


def _predict(Qn, C, q2, y, move):
    """y + t move for the largest t in {1, 1/2, ...} keeping Z positive definite (path extrapolation)."""
    if not np.all(np.isfinite(move)):
        return y
    t = 1.0
    while t > 1e-6:
        if cholesky_factor(dual_matrix(Qn, C, y + t * move, q2)) is not None:
            return y + t * move
        t /= 2.0
    return y


def row_sdp_bound(Q: np.ndarray, prune_counts, groups=None, *, tolerance: float = 1e-4, growth: float = 2.0,
                  max_newton: int = 1000, time_limit: float | None = None, linear: np.ndarray | None = None,
                  cutoff: float = math.inf, start: tuple | None = None) -> RowSDP:
    """The diagonal Shor SDP bound of one row (module docstring); Q symmetric PSD (n x n).

    With ``linear`` (q, n-vector) the objective is e^T Q e + 2 q^T e (a row with fixings: q = Q_FP 1).
    ``prune_counts``: pruned weights per group (an int for one group); ``groups``: index arrays
    partitioning range(n) (None: one group). ``tolerance``: relative barrier gap at which to stop.
    Stopped by ``max_newton`` or ``time_limit`` (seconds) the bound is still valid, only weaker (gap inf);
    it also stops once the bound reaches ``cutoff`` (branch-and-bound: the node is pruned anyway).
    ``start`` = (s, rho, tau) of a related solve (a parent node's, restricted to this row's entries)
    resumes the central path there when Q - diag(s) is positive definite (else a cold start).
    Rows narrower than ``ONE_THREAD_MAX_N`` run with one BLAS thread.
    """
    with blas_threads_for(np.shape(Q)[0] if np.ndim(Q) == 2 else 0):
        deadline = time.perf_counter() + (math.inf if time_limit is None else time_limit)
        Q, C, p = checked_row_problem(Q, prune_counts, groups)
        n = Q.shape[0]
        sizes = C.sum(axis=0)
        if np.any(p == 0) or np.any(p == sizes):  # no interior: fix those groups and solve the rest
            if linear is not None:
                raise ValueError("groups with nothing to choose need the linear term folded in; use fixed_row_bound")
            value, _ = fixed_row_bound(Q, [np.flatnonzero(C[:, g]) for g in range(C.shape[1])], p.astype(int),
                                       np.zeros(n, bool), np.zeros(n, bool), tolerance=tolerance, growth=growth,
                                       max_newton=max_newton, time_limit=time_limit, cutoff=cutoff)
            return RowSDP(value, np.zeros(n), np.zeros(C.shape[1]), value, math.inf, 0)
        q2 = doubled_linear_term(linear, n)
        scale = float(np.mean(np.diag(Q)))
        G = C.shape[1]
        if scale <= 0.0:  # Q = 0 (PSD with zero diagonal): the cheapest q2 entries of every group, exactly
            value = sum(float(np.sort(q2[C[:, g] > 0])[: int(p[g])].sum()) for g in range(G))
            return RowSDP(value, np.zeros(n), np.zeros(G), value, 0.0, 0)
        Qn, q2 = (Q + Q.T) / (2.0 * scale), q2 / scale
        b = np.concatenate(([1.0], p, np.zeros(n)))
        y, tau = _warm_start(Qn, C, q2, start, scale, b, tolerance) if start is not None else (None, 1.0)
        warm = y is not None
        if not warm:
            y, tau = cold_start(Qn, q2, G), 1.0
        steps, gap, centred = 0, math.inf, False
        while steps < max_newton:
            budget = min(max_newton - steps, WARM_FIRST_STEPS) if warm else max_newton - steps
            y, tangent, used, centred, factor = _center(Qn, C, q2, b, y, tau, budget, deadline)
            steps += used
            if warm and not centred and steps < max_newton and time.perf_counter() < deadline:
                y, tau, warm = cold_start(Qn, q2, G), 1.0, False  # the warm point did not centre: start afresh
                continue
            warm = False
            if tangent is None:  # out of Newton steps or time before centering: no gap estimate
                gap = math.inf
                break
            gap = (n + 1) / tau  # the barrier's duality gap on the central path
            if gap <= _stopping_gap(tolerance, float(b @ y), n) or float(b @ y) * scale >= cutoff:
                break  # (a point whose line search stalled is used as if centred, but reports no gap)
            y = _predict(Qn, C, q2, y, (growth - 1.0) * tau * tangent)
            tau *= growth
        primal = _primal_point(factor) if steps else None  # factor: Z(y)'s, from the last centring
        y[0] = best_gamma(Qn, C, q2, y)
        if steps and not centred:
            gap = math.inf
        return RowSDP(float(b @ y) * scale, y[1 + G:] * scale, y[1:1 + G] * scale, float(y[0]) * scale,
                      gap * scale, steps, tau, primal=primal)


def _primal_point(factor: tuple[np.ndarray, float]) -> np.ndarray | None:
    """The primal estimate at y from Z(y)'s Cholesky ``factor``: on the central path X = Z^-1 / tau is primal
    feasible (tau b = A(Z^-1) is the centring condition), X_00 = 1 and X_0j = X_jj = e_j; so e = G_0j / G_00 from
    G = Z^-1's first column (one solve with the factor). A fractional point of the relaxation (pruned fractions),
    not a bound."""
    first = factor_solve(factor, np.eye(len(factor[0]), 1)[:, 0])
    return first[1:] / first[0] if first[0] > 0 else None


def _stopping_gap(tolerance: float, value: float, n: int) -> float:
    """The barrier gap (n + 1) / tau at which ``row_sdp_bound`` stops: ``tolerance`` relative to the bound ``value``
    (normalised units), floored for a bound at 0."""
    return tolerance * max(abs(value), 1e-12 * n)


def _warm_start(Qn, C, q2, start, scale, b, tolerance):
    """(strictly feasible y, tau) from (s, rho, tau) in Q's units, or (None, 1) when s is not feasible; tau backed
    off from the parent's (``WARM_BACKOFF``) and capped near the tau that meets ``tolerance`` (``WARM_TAU_CAP``)."""
    s, rho, tau = start
    s, rho = np.asarray(s, dtype=np.float64) / scale, np.asarray(rho, dtype=np.float64) / scale
    if s.shape != (Qn.shape[0],) or rho.shape != (C.shape[1],) or not np.all(np.isfinite(s)):
        return None, 1.0
    lower = cholesky_factor(Qn - np.diag(s))
    if lower is None:
        return None, 1.0
    tau = max(1.0, tau / WARM_BACKOFF)
    gamma = gamma_max(lower, s + q2 - C @ rho)
    # the barrier's best gamma for these (rho, s) at this tau (tau + d/dgamma log(gamma_max - gamma) = 0), kept
    # clear of gamma_max's rounding
    gamma -= max(1.0 / tau, 1e-6 * max(abs(gamma), 1.0))
    y = np.concatenate(([gamma], rho, s))
    if cholesky_factor(dual_matrix(Qn, C, y, q2)) is None:
        return None, 1.0
    needed = (len(s) + 1) / _stopping_gap(tolerance, float(b @ y), len(s))  # the tau where row_sdp_bound stops
    return y, max(1.0, min(tau, WARM_TAU_CAP * needed))


def complete_fixings(groups: list[np.ndarray], prune_counts, keep, prune, n: int) -> tuple | None:
    """(keep, prune) with every group that has nothing left to choose fixed outright (new arrays), or None
    when the fixings leave no feasible row (a group with more pruned or kept entries than its counts allow)."""
    keep, prune = np.array(keep, dtype=bool), np.array(prune, dtype=bool)
    if keep.shape != (n,) or prune.shape != (n,):
        raise ValueError(f"keep and prune must be boolean vectors of length {n}; got {keep.shape}, {prune.shape}")
    if np.any(keep & prune):
        raise ValueError(f"entries {np.flatnonzero(keep & prune).tolist()} are fixed both to keep and to prune")
    for group, count in zip(groups, np.broadcast_to(prune_counts, (len(groups),))):
        members = group[~(keep[group] | prune[group])]
        left = int(count) - int(prune[group].sum())
        if left < 0 or left > len(members):
            return None
        if left == 0:
            keep[members] = True
        elif left == len(members):
            prune[members] = True
    return keep, prune


@dataclass
class NodeReduction:
    """A row with fixings, on its free set F (P = the pruned entries, fixings completed):
    e^T Q e = e_F^T Q_FF e_F + 2 ``linear``^T e_F + ``constant``, ``linear`` = Q_FP 1, constant = 1^T Q_PP 1;
    ``sub_groups`` the positions in F of each group with free entries (``present``: their indices),
    ``counts`` how many of them each must still prune."""

    free: np.ndarray
    prune: np.ndarray  # the pruned entries, completed fixings included
    constant: float
    linear: np.ndarray
    present: list
    sub_groups: list
    counts: list


def _node_reduction(Q: np.ndarray, groups: list[np.ndarray], prune_counts, keep, prune,
                    linear: np.ndarray | None = None) -> NodeReduction | None:
    """The row reduced to its free entries (``NodeReduction``), or None when the fixings leave no feasible row.
    With ``linear`` (q over all n entries) the row's objective is e^T Q e + 2 q^T e: q_F joins the reduced linear term
    and 2 q_P^T 1 the constant."""
    counts_in = np.broadcast_to(prune_counts, (len(groups),))
    completed = complete_fixings(groups, counts_in, keep, prune, len(Q))
    if completed is None:
        return None
    keep, prune = completed
    free = ~(keep | prune)
    position = np.cumsum(free) - 1
    sub_groups, counts, present = [], [], []
    for g, (group, count) in enumerate(zip(groups, counts_in)):
        members = group[free[group]]
        if len(members):
            sub_groups.append(position[members])
            counts.append(int(count) - int(prune[group].sum()))
            present.append(g)
    constant, reduced = float(Q[np.ix_(prune, prune)].sum()), Q[np.ix_(free, prune)].sum(axis=1)
    if linear is not None:
        constant, reduced = constant + 2.0 * float(linear[prune].sum()), reduced + linear[free]
    return NodeReduction(free, prune, constant, reduced, present, sub_groups, counts)


def fixing_increments(Q: np.ndarray, groups: list[np.ndarray], prune_counts, keep: np.ndarray, prune: np.ndarray,
                      warm: tuple | None, linear: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray] | None:
    """Bounds from the dual point ``warm`` of ``fixed_row_bound`` at no further SDP solve: (node bound,
    rise if e_j = 0 i.e. kept, rise if e_j = 1 i.e. pruned), rises NaN where j is not free.

    At (s, rho) the Lagrangian L(e) = e^T A e + a^T e + rho^T p + const, A = Q_FF - diag(s_F) (positive
    definite at any strictly feasible dual point), a = s_F + 2 Q_FP 1 - C_F rho, equals e^T Q e on every
    binary row of the node, and all of those lie on the hyperplanes C_F^T e = p. Its minimum there (the node
    bound; >= the SDP bound, equal at the SDP optimum) is at e_bar = e* + A^-1 C K^-1 (p - C^T e*),
    e* = -A^-1 a / 2, K = C^T A^-1 C; fixing e_j = c as well raises it by (c - e_bar_j)^2 / P_jj,
    P = A^-1 - A^-1 C K^-1 C^T A^-1: a valid bound for that child, for all j from one factorization.
    (Without the hyperplanes the rise would be (c - e*_j)^2 / (A^-1)_jj, about 10x smaller on random rows.)
    None when there is no dual point, the fixings leave no feasible row, or A is not numerically
    positive definite. ``linear``: as in ``fixed_row_bound``.
    """
    if warm is None:
        return None
    node = _node_reduction(Q, groups, prune_counts, keep, prune, linear)
    if node is None or not node.present:
        return None
    free = node.free
    s_full, rho_full = warm[0], warm[1]
    if np.any(np.isnan(s_full[free])):
        return None
    A = Q[np.ix_(free, free)] - np.diag(s_full[free])
    lower = cholesky_factor(A)
    if lower is None:
        return None
    C = group_matrix(int(free.sum()), node.sub_groups)  # free entries x groups with any
    counts = np.asarray(node.counts, dtype=np.float64)
    rho_present = np.nan_to_num(rho_full[node.present], nan=0.0)
    a = s_full[free] + 2.0 * node.linear - C @ rho_present
    inverse = factor_inverse(lower)
    e_star = -0.5 * (inverse @ a)
    # on the hyperplanes C^T e = counts (where every feasible row lies): minimiser e_bar and the inverse
    # restricted there, P = A^-1 - A^-1 C (C^T A^-1 C)^-1 C^T A^-1
    AC = inverse @ C
    K = C.T @ AC
    try:
        e_bar = e_star + AC @ np.linalg.solve(K, counts - C.T @ e_star)
        P_diagonal = np.diag(inverse) - np.einsum("ij,ij->i", AC, np.linalg.solve(K, AC.T).T)
    except np.linalg.LinAlgError:
        e_bar, P_diagonal = e_star, np.diag(inverse)
    usable = P_diagonal > 1e-6 * np.diag(inverse)  # else e_j is (nearly) pinned by its group and P_jj, a difference
    # of close numbers, is not trusted: no claim (rise 0)
    rise_keep, rise_prune = np.full(len(Q), np.nan), np.full(len(Q), np.nan)
    rise_keep[free] = np.where(usable, e_bar**2 / np.where(usable, P_diagonal, 1.0), 0.0)
    rise_prune[free] = np.where(usable, (1.0 - e_bar) ** 2 / np.where(usable, P_diagonal, 1.0), 0.0)
    base = float(node.constant + rho_present @ counts + e_bar @ (A @ e_bar) + a @ e_bar)
    return base, rise_keep, rise_prune


def fixed_row_bound(Q: np.ndarray, groups: list[np.ndarray], prune_counts, keep: np.ndarray, prune: np.ndarray,
                    warm: tuple | None = None, solver=row_sdp_bound, linear: np.ndarray | None = None,
                    **options) -> tuple[float, tuple | None]:
    """(SDP bound, warm start for children) of a row whose entries ``keep`` are fixed to e = 0 and
    ``prune`` to e = 1 (bool, n).

    On the free set F with P = ``prune``: e^T Q e = e_F^T Q_FF e_F + 2 (Q_FP 1)^T e_F + 1^T Q_PP 1,
    each group keeping its remaining prune count; bound inf when the fixings leave no feasible row.
    With ``linear`` (q, n-vector) the row's objective is e^T Q e + 2 q^T e (e.g. ``sdp.dnn_ascent``'s multiplier
    objective, a lower bound on the true error at every binary row).
    ``warm`` = (s over all n entries, rho per group, tau[, primal]) from a parent's call; ``options`` go to
    ``row_sdp_bound`` (``cutoff`` in the units of the whole row's value). The returned warm start is
    (s, rho, tau, primal): primal the barrier's fractional point on all n entries (fixed ones 0 / 1), or None.
    ``solver``: the function solving the reduced row, ``row_sdp_bound`` or one with its arguments and result (e.g.
    ``primal_dual.row_sdp_bound_ipm``, which starts cold: ``warm`` is then not used. Starting it from the parent's
    primal-dual point, X restricted to the child's free entries, was tried in session 27 on the 2:4 n = 48 slices: from
    the root's point too (one cardinality group there) the warm node bounds stopped looser and the trees grew, 3 ->
    7-41 nodes, median time 1.45x; below the root only, about level (median 0.96, one noisy run)).
    """
    node = _node_reduction(Q, groups, prune_counts, keep, prune, linear)
    if node is None:
        return math.inf, None
    if not node.present:
        return node.constant, None
    if "cutoff" in options:
        options["cutoff"] = options["cutoff"] - node.constant
    free = node.free
    if solver is row_sdp_bound:
        options["start"] = None if warm is None else (warm[0][free], warm[1][node.present], warm[2])
    result = solver(Q[np.ix_(free, free)], node.counts, node.sub_groups, linear=node.linear, **options)
    s_full, rho_full = np.full(len(Q), np.nan), np.full(len(groups), np.nan)
    s_full[free], rho_full[node.present] = result.s, result.rho
    primal = None
    if result.primal is not None:
        primal = node.prune.astype(np.float64)
        primal[free] = result.primal
    return node.constant + result.bound, (s_full, rho_full, result.tau, primal)


