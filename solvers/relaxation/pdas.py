"""The continuous relaxation of row-local patterns solved exactly, row by row, by a primal-dual
active-set (semismooth Newton) method; its certified bound is the same f - FW gap as Frank-Wolfe's.

Row i, z = 1 - x its pruned fractions, Q = diag(w) H diag(w) (H PSD), c the optional linear term:
    min_z  z^T Q z + c^T z   s.t.  0 <= z <= 1,  sum_{j in g} z_j = p  for every group g of the row
(p = pruned per group: one group for per-row, d_in / M groups for N:M). KKT: with gradient
r = 2 Q z + c and one multiplier lambda_g per group, r_j = lambda_g where 0 < z_j < 1, r_j >= lambda_g where
z_j = 0, r_j <= lambda_g where z_j = 1.

PDAS (Hintermueller, Ito, Kunisch 2002) guesses the sets A0 (z = 0), A1 (z = 1) and F (free), solves
the equality-constrained QP on F exactly (one Cholesky of Q_FF with the group indicators and the right
side as right-hand sides, then a groups x groups system for lambda), and moves to A0 the free
variables that came out <= 0 and keeps there those whose multiplier r_j - lambda_g stays >= 0 (A1
alike); it stops when the sets repeat, which is the exact optimum. The first guess is the diagonal
water-filling z_j = clip((lambda_g - c_j) / (2 Q_jj), 0, 1). Convergence is not guaranteed for
every Q (it is for M-matrices); a row that cycles or runs out of iterations is projected onto its
polytope and flagged, and its bound stays valid (any point's f - gap bounds the relaxed optimum, by
convexity), only weaker. Units: those of the objective (squared output error).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import lapack

from ..core.arrays import one_blas_thread
from ..core.linalg import spd_inverse, spd_solve
from ..core.problem import LayerProblem
from .row_bounds import row_values_and_gaps

MAX_ITERATIONS = 50


@dataclass
class RelaxationResult:
    """Kept fractions X (d_out x d_in), per-row objective values and certified bounds f_i - gap_i."""

    X: np.ndarray
    row_values: np.ndarray
    row_bounds: np.ndarray
    iterations: np.ndarray = field(repr=False)
    converged: np.ndarray = field(repr=False)
    time_s: float = 0.0

    @property
    def value(self) -> float:
        return float(self.row_values.sum())

    @property
    def bound(self) -> float:
        return float(self.row_bounds.sum())


def relaxation_pdas(problem: LayerProblem, *, H: np.ndarray | None = None, linear: np.ndarray | None = None,
                    max_iterations: int = MAX_ITERATIONS, time_limit: float | None = None) -> RelaxationResult:
    """Solve every row's relaxation (``H`` defaults to the problem's; ``linear`` (d_out x d_in) adds
    sum_ij linear_ij (1 - X_ij)). Rows left when ``time_limit`` (s) runs out keep the diagonal first guess
    (projected, flagged not converged); their bounds stay valid, only weaker."""
    if problem.pattern.kind != "per-row":
        raise ValueError(f"relaxation_pdas supports the per-row pattern, not {problem.pattern.name!r}: per-layer "
                         "couples the rows, and on N:M's many small groups PDAS cycles (measured on 2:4: 25% of "
                         "rows unconverged after 50 iterations); use Frank-Wolfe (solvers.relaxation.fw_engine) there")
    started = time.perf_counter()
    W = problem.W
    H = problem.H if H is None else np.asarray(H, dtype=np.float64)
    linear = np.zeros_like(W) if linear is None else np.asarray(linear, dtype=np.float64)
    if H.shape != (W.shape[1],) * 2 or not np.all(np.isfinite(H)):
        raise ValueError(f"H must be a finite {W.shape[1]} x {W.shape[1]} matrix; got shape {H.shape}")
    if linear.shape != W.shape or not np.all(np.isfinite(linear)):
        raise ValueError(f"linear must be a finite array of W's shape {W.shape}; got shape {linear.shape}")
    groups, prune = problem.pattern.row_groups(), problem.pattern.prune
    H_inv = spd_inverse(H)
    Z = np.empty_like(W)
    iterations = np.zeros(W.shape[0], dtype=int)
    converged = np.zeros(W.shape[0], dtype=bool)
    guess = _water_filling(W**2 * np.diag(H)[None, :], linear, groups, prune)
    # A row whose quadratic part diag(w) H diag(w) vanishes (sum_j w_j^2 H_jj = 0: w = 0, or H = 0 where w is
    # not) has a linear objective: the water-filling guess is then exact, and the face solves would divide by 0.
    flat = W**2 @ np.diag(H) <= 0.0
    with one_blas_thread():  # row-sized solves: threads only slow them (q_proj: 2.0 s on one, 3.0 s on two)
        for i in range(W.shape[0]):
            if flat[i]:
                Z[i], iterations[i], converged[i] = guess[i], 0, True
                continue
            out_of_time = time_limit is not None and time.perf_counter() - started > time_limit
            Z[i], iterations[i], converged[i] = _row(W[i], H, H_inv, groups, prune, linear[i], guess[i],
                                                     0 if out_of_time else max_iterations)
    X = 1.0 - Z
    values, gaps = row_values_and_gaps(problem, H, linear, X)
    bounds = values - gaps
    if np.all(linear >= 0):  # f >= 0 on the whole box (H PSD): 0 is a bound too (also for a degenerate NaN row)
        bounds = np.fmax(bounds, 0.0)
    return RelaxationResult(X=X, row_values=values, row_bounds=np.minimum(bounds, values), iterations=iterations,
                            converged=converged, time_s=time.perf_counter() - started)


def _row(w: np.ndarray, H: np.ndarray, H_inv: np.ndarray | None, groups: np.ndarray, prune: int, c: np.ndarray,
         z: np.ndarray, max_iterations: int) -> tuple[np.ndarray, int, bool]:
    """(z, PDAS iterations, converged) for one row from the first guess z; see the module docstring."""
    n = w.size
    group_of = np.empty(n, dtype=int)
    group_of[groups] = np.arange(len(groups))[:, None]
    lower, upper = z <= 0.0, z >= 1.0
    seen, iteration = set(), 0
    for iteration in range(1, max_iterations + 1):
        free = ~(lower | upper)
        free |= _groups_needing_freedom(free, upper, group_of, len(groups), prune)
        lower &= ~free
        upper &= ~free
        z, lam = _solve_on_face(w, H, H_inv, c, free, upper, group_of, len(groups), prune)
        r = 2.0 * w * (H @ (w * z)) + c
        lam = _multipliers_of_closed_groups(lam, r, free, lower, upper, group_of, len(groups))
        mu = r - lam[group_of]
        new_lower = _cap(((free & (z <= 0.0)) | (lower & (mu >= 0.0))), -r, groups, groups.shape[1] - prune)
        new_upper = _cap(((free & (z >= 1.0)) | (upper & (mu <= 0.0))), r, groups, prune)
        if np.array_equal(new_lower, lower) and np.array_equal(new_upper, upper):
            return np.clip(z, 0.0, 1.0), iteration, True
        key = (new_lower.tobytes(), new_upper.tobytes())
        if key in seen:
            break
        seen.add(key)
        lower, upper = new_lower, new_upper
    return _project(z, groups, prune), iteration, False  # cycled or out of iterations


def _solve_on_face(w, H, H_inv, c, free, upper, group_of, n_groups, prune):
    """z with z = 1 on ``upper``, 0 off ``free``, and on F the minimiser of z^T Q z + c^T z under the
    group sums: Q_FF z_F = E eta + b (E: group indicators on F, eta = lambda / 2, b = -c_F / 2 -
    Q_{F,A1} 1), z_F = U eta + v, and (E^T U) eta = (p - |A1 cap g|) - E^T v over groups with free members."""
    z = upper.astype(np.float64)
    lam = np.full(n_groups, np.nan)
    F = np.flatnonzero(free)
    if F.size == 0:
        return z, lam
    gF = group_of[F]
    open_groups, local = np.unique(gF, return_inverse=True)
    E = np.zeros((F.size, open_groups.size))
    E[np.arange(F.size), local] = 1.0
    b = -0.5 * c[F] - w[F] * (H @ (w * z))[F]
    rhs = np.column_stack([E, b])
    solution = _face_solve(w, H, H_inv, F, rhs)
    U, v = solution[:, :-1], solution[:, -1]
    target = prune - np.bincount(group_of[upper], minlength=n_groups)[open_groups]
    if open_groups.size == 1:  # (a degenerate face, e.g. H ~ 0, gives NaN here: its row bound floors at 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            eta = np.array([(target[0] - v.sum()) / U.sum()])
    else:
        eta = np.linalg.lstsq(E.T @ U, target - E.T @ v, rcond=None)[0]
    z[F] = U @ eta + v
    lam[open_groups] = 2.0 * eta
    return z, lam


def _face_solve(w, H, H_inv, F, rhs):
    """Q_FF^{-1} rhs with Q = diag(w) H diag(w): one Cholesky of Q_FF, or, when the complement A of F is
    the smaller set (and H^{-1} = M is known, w_F != 0), of M_AA through the Schur complement
    H_FF^{-1} = M_FF - M_FA M_AA^{-1} M_AF (|A|^3 instead of |F|^3 flops). The products with M go column
    by column (matrix-vector: a 2-column product took twice as long as two, OpenBLAS, one thread) and the
    second one only through M's rows A (|A| n instead of n^2 flops)."""
    wF = w[F]
    n = w.size
    if H_inv is not None and 2 * F.size > n and np.all(wF != 0):
        off_face = np.ones(n, dtype=bool)
        off_face[F] = False
        A = np.flatnonzero(off_face)
        padded = np.zeros((rhs.shape[1], n))
        padded[:, F] = (rhs / wF[:, None]).T
        t = np.column_stack([H_inv @ column for column in padded])  # M diag(1/w) rhs, zero off F
        if A.size == 0:  # the whole row is free: H_FF^-1 = M
            return t / wF[:, None]
        rows_A = H_inv.take(A, axis=0)  # M[A, :] = M[:, A]^T
        _, s, info = lapack.dposv(rows_A.take(A, axis=1), t[A], lower=1, overwrite_a=1, overwrite_b=1)
        if info == 0:
            correction = np.column_stack([rows_A.T @ column for column in s.T])
            return (t[F] - correction[F]) / wF[:, None]
    Q_FF = H.take(F, axis=0).take(F, axis=1)
    Q_FF *= wF[:, None]
    Q_FF *= wF[None, :]
    return spd_solve(Q_FF, rhs)  # least squares for a singular Q_FF (zero weights or rank-deficient H)


def _cap(chosen: np.ndarray, key: np.ndarray, groups: np.ndarray, limit: int) -> np.ndarray:
    """``chosen`` with at most ``limit`` members per group, those of smallest ``key`` (the rest become free):
    a group cannot hold more than ``prune`` ones or ``size - prune`` zeros, else its face has no
    feasible point and PDAS cycles (measured on 2:4 without this rule)."""
    inside = chosen[groups]
    if np.all(inside.sum(axis=1) <= limit):
        return chosen
    order = np.argsort(np.where(inside, key[groups], np.inf), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(groups.shape[1]), order.shape), axis=1)
    capped = chosen.copy()
    capped[groups] = inside & (rank < limit)
    return capped


def _groups_needing_freedom(free, upper, group_of, n_groups, prune) -> np.ndarray:
    """Members of groups with no free variable whose count at 1 is not the group's budget (the face
    system would be infeasible): all of that group's variables are freed."""
    has_free = np.bincount(group_of[free], minlength=n_groups) > 0
    at_one = np.bincount(group_of[upper], minlength=n_groups)
    bad = ~has_free & (at_one != prune)
    return bad[group_of]


def _multipliers_of_closed_groups(lam, r, free, lower, upper, group_of, n_groups):
    """lambda_g for groups with no free variable (not fixed by the face system): the midpoint of
    [max r over the group's ones, min r over its zeros], the interval of multipliers that keep the sets."""
    closed = np.isnan(lam)
    if not closed.any():
        return lam
    hi = np.full(n_groups, np.inf)
    lo = np.full(n_groups, -np.inf)
    np.minimum.at(hi, group_of[lower], r[lower])
    np.maximum.at(lo, group_of[upper], r[upper])
    with np.errstate(invalid="ignore"):  # inf + -inf where a group has neither ones nor zeros (not used then)
        mid = np.where(np.isfinite(hi) & np.isfinite(lo), 0.5 * (hi + lo), np.where(np.isfinite(hi), hi, lo))
    lam = lam.copy()
    lam[closed] = mid[closed]
    return lam


def _water_filling(q: np.ndarray, c: np.ndarray, groups: np.ndarray, prune: int, steps: int = 40) -> np.ndarray:
    """Minimiser of sum_j q_j z_j^2 + c_j z_j over each group's {0 <= z <= 1, sum z = prune} (the
    diagonal part of Q), for every row of q, c (rows x n): z_j = clip((lambda_g - c_j) / (2 q_j), 0, 1),
    lambda_g by bisection (only the sets it implies matter: 40 halvings)."""
    qg = np.maximum(q[:, groups], 1e-300)
    cg = c[:, groups]
    lo = np.min(cg, axis=2) - 1.0
    hi = np.max(2.0 * qg + cg, axis=2) + 1.0
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        short = np.clip((mid[..., None] - cg) / (2.0 * qg), 0.0, 1.0).sum(axis=2) < prune
        lo, hi = np.where(short, mid, lo), np.where(short, hi, mid)
    z = np.empty(q.shape)
    z[:, groups] = np.clip(((0.5 * (lo + hi))[..., None] - cg) / (2.0 * qg), 0.0, 1.0)
    return z


def _project(z: np.ndarray, groups: np.ndarray, prune: int, steps: int = 100) -> np.ndarray:
    """Euclidean projection of z onto every group's {0 <= z <= 1, sum z = prune} (bisection on the shift)."""
    zg = z[groups]
    lo, hi = np.min(zg, axis=1) - 1.0, np.max(zg, axis=1)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        total = np.clip(zg - mid[:, None], 0.0, 1.0).sum(axis=1)
        lo, hi = np.where(total > prune, mid, lo), np.where(total > prune, hi, mid)
    out = np.empty_like(z)
    out[groups] = np.clip(zg - (0.5 * (lo + hi))[:, None], 0.0, 1.0)
    return out
