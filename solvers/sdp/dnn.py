"""One row's doubly non-negative (DNN) relaxation bound by ADMM, made rigorous for any inexact solve.

Row problem (as in ``sdp.shor``): min z^T Q z over binary pruned indicators z with sum_{j in g} z_j = p_g
for every cardinality group g, Q = diag(w) H diag(w). Lift Y = [1; z][1; z]^T and relax to

    min <C, Y>  s.t.  Y PSD,  Y >= 0 (entrywise),  Y_00 = 1,  Y_jj = Y_0j (diag Z = z),
                     sum_{j in g} Y_0j = p_g,  sum_{k in g(j)} Y_jk = p_g(j) Y_0j  (cardinality products),

C = [[0, 0], [0, Q]]. Without ``Y >= 0`` and the products this is the diagonal Shor SDP of ``sdp.shor``
(the products change almost nothing alone; with ``Y >= 0``, the DNN relaxation, issue #23 measured about 3x
smaller root gaps on real 64-wide slices). Its dual is

    max b^T y  s.t.  S = C - A^T(y) - N  PSD,  N >= 0,

and every (y, N >= 0) gives a certified bound, whether or not S is PSD: for any feasible Y,
<C, Y> = b^T y + <N, Y> + <S, Y> >= b^T y + min(0, lambda_min(S)) tr(Y), with <N, Y> >= 0 (both >= 0) and
tr(Y) = 1 + sum_g p_g fixed by the constraints. So ``bound = b^T y + min(0, lambda_min(S)) (1 + P)``, with
lambda_min lowered by a rounding margin, is <= the DNN value <= the integer optimum for *any* iterate: an
early stop or a loose tolerance only weakens it (Jansson / Helmberg-style post-processing).

Solver: ADMM on the dual (Wen, Goldfarb & Yin 2010, "Alternating direction augmented Lagrangian methods for
semidefinite programming", the variant with X >= 0), multiplier X (the primal Y):
    y = (A A^T)^-1 (mu (b - A(X)) + A(C - N - S)),      N = max(0, C - A^T y - S - mu X),
    V = C - A^T y - N - mu X,   S = proj_PSD(V),   X = (S - V) / mu,
one eigendecomposition of an (n+1)-square matrix per iteration (~0.05 s at n = 576, ~0.65 s at n = 1536 on
one core), mu balanced between the primal and dual residuals (``admm_iteration``, ``balanced_penalty``; shared with
``sdp.dnn_multipliers``, which certifies the iterates' multipliers by a Shor solve instead). S and X are formed from
V's negative eigenpairs (S = V - V_-, X = -V_- / mu; X is low-rank near the end). The data are normalised
(Q / mean diag Q) before the solver sees them and the bound is scaled back. A, A^T are one sparse matrix on vec(Y).
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve, eigh

from .primal_dual import row_sdp_bound_ipm
from .shor import RowSDP, checked_row_problem

CHECK_EVERY = 10  # iterations between rigorous bound evaluations (each one costs a lambda_min)
MU_EVERY = 50  # iterations between penalty updates
MU_RATIO = 10.0  # residual imbalance that triggers a penalty update
MU_FACTOR = 1.6  # ... and the factor it changes mu by
STALL_CHECKS = 20  # stop when the iterates' bounds rose by < tolerance (relative) over this many checks


@dataclass
class RowDNN:
    """Result in Q's units: ``bound`` is certified (module docstring); ``correction`` = min(0, lambda_min(S)) (1 + P)
    (normalised units) is what the rigorous post-processing subtracted from b^T y; ``iterations`` ADMM steps."""

    bound: float
    dual_value: float
    correction: float
    iterations: int
    primal_residual: float
    dual_residual: float


def constraint_matrix(n: int, C: np.ndarray, p: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """(A, b): row k of the sparse A is the symmetric constraint matrix A_k on vec(Y) ((n+1)^2 entries,
    row-major), so A @ vec(Y) = A(Y) and A.T @ y = vec(A^T(y)). Order: Y_00, diag (n), groups (G), products (n).
    An off-diagonal pair (i, j), (j, i) shares its coefficient, half on each entry."""
    N = n + 1
    G = C.shape[1]
    group_of = np.argmax(C, axis=1)
    j = np.arange(1, N)
    pieces = [([0], [0], [1.0])]  # Y_00 = 1

    def pairs(k, i, m, v):  # rows k, the pairs (i, m) and (m, i) with v / 2 each (v on the diagonal, i = m)
        k, i, m, v = np.broadcast_arrays(k, i, m, np.asarray(v, dtype=np.float64))
        pieces.append((np.concatenate((k, k)), np.concatenate((i * N + m, m * N + i)), np.concatenate((v, v)) / 2))

    pairs(j, j, j, 1.0)  # Y_jj - Y_0j = 0
    pairs(j, 0, j, -1.0)
    pairs(N + group_of, 0, j, 1.0)  # sum_{j in g} Y_0j = p_g
    same = np.nonzero(group_of[:, None] == group_of[None, :])  # (j, k) in one group: sum_k Y_jk - p_g Y_0j = 0
    pairs(N + G + same[0], same[0] + 1, same[1] + 1, 1.0)
    pairs(N + G + j - 1, 0, j, -p[group_of])
    rows, cols, vals = (np.concatenate([np.asarray(piece[a]) for piece in pieces]) for a in range(3))
    A = sp.csr_matrix((vals, (rows, cols)), shape=(1 + n + G + n, N * N))
    A.sum_duplicates()
    b = np.concatenate(([1.0], np.zeros(n), p, np.zeros(n)))
    return A, b


def certified_value(A, b, Cv, y, Nv, N: int, trace: float) -> tuple[float, float]:
    """A certified bound from the dual point (y, N >= 0): the better of two valid repairs (module docstring).
    Whole: b^T y + e tr(Y), e = min(0, lambda_min(S)). Block: shift M = S[1:, 1:] by e' = min(0, lambda_min(M)),
    which costs e' tr(Z) = e' P on feasible Y, and set y_0 (it enters S only at (0, 0)) to the largest value
    that leaves S PSD, from the Schur complement v^T (M - e' I)^-1 v of the border v = S[1:, 0]: exact when only
    y_0 is off, useless when M is nearly singular along v. Both eigenvalues are lowered by a rounding margin.
    Returns (bound, the correction of the repair used)."""
    S = (Cv - A.T @ y - Nv).reshape(N, N)
    S = (S + S.T) / 2
    size = max(float(np.abs(S).max()), 1e-300)
    margin = 64 * N * np.finfo(float).eps * size
    lam = float(eigh(S, eigvals_only=True, subset_by_index=[0, 0])[0])
    whole = min(0.0, lam - margin) * trace
    best = (float(b @ y) + whole, whole)
    M, v = S[1:, 1:], S[1:, 0]
    shift = min(0.0, float(eigh(M, eigvals_only=True, subset_by_index=[0, 0])[0])) - margin
    factor = cho_factor(M - shift * np.eye(N - 1), lower=True, check_finite=False)
    schur = float(v @ cho_solve(factor, v)) * (1.0 + 1e-9) + margin
    y0 = S[0, 0] + y[0] + Nv[0] - schur  # S_00 = const - y_0 - N_00: with N_00 = 0 and this y_0, S_00 = schur
    block = (float(b @ y) - y[0] + y0 + shift * (trace - 1.0), shift * (trace - 1.0))
    return max(best, block)


class ADMMData(NamedTuple):
    """What every ADMM iteration of one row shares: the constraints (A, b), vec(C) in normalised units, the Cholesky
    factor of A A^T, the normalisation ``scale`` (mean diag Q) and tr(Y) = 1 + P on feasible Y."""

    A: sp.csr_matrix
    b: np.ndarray
    Cv: np.ndarray
    AAt: tuple
    scale: float
    trace: float


def admm_data(Q: np.ndarray, C: np.ndarray, p: np.ndarray) -> ADMMData:
    """``ADMMData`` of a checked row problem (``checked_row_problem``) with mean diag Q > 0."""
    n = Q.shape[0]
    scale = float(np.mean(np.diag(Q)))
    A, b, AAt = _constraints(n, C.tobytes(), C.shape[1], p.tobytes())
    Cm = np.zeros((n + 1, n + 1))
    Cm[1:, 1:] = Q / scale
    return ADMMData(A, b, Cm.ravel(), AAt, scale, 1.0 + float(p.sum()))


@functools.lru_cache(maxsize=2)
def _constraints(n: int, C_bytes: bytes, groups: int, p_bytes: bytes) -> tuple:
    """(A, b, Cholesky factor of A A^T) of rows with n entries, group matrix C and counts p (as bytes): the same for
    every row of a layer, so made once per process (0.2 s for a 576-wide per-row row)."""
    C = np.frombuffer(C_bytes, dtype=np.float64).reshape(n, groups)
    A, b = constraint_matrix(n, C, np.frombuffer(p_bytes, dtype=np.float64))
    return A, b, cho_factor((A @ A.T).toarray() + 1e-12 * np.eye(A.shape[0]))


def admm_iteration(data: ADMMData, X: np.ndarray, Nv: np.ndarray, S: np.ndarray, mu: float, single: bool = False):
    """One ADMM iteration of the module docstring: (X, y, Nv, S, A^T y). ``single``: V's eigendecomposition in
    float32 (LAPACK's divide and conquer; ~1.7x faster at n = 576), for callers whose bound does not rest on the
    iterates' precision (``sdp.dnn_multipliers``)."""
    A, Cv = data.A, data.Cv
    N = X.shape[0]
    y = cho_solve(data.AAt, mu * (data.b - A @ X.ravel()) + A @ (Cv - Nv - S.ravel()), check_finite=False)
    ATy = A.T @ y
    Nv = np.maximum(0.0, Cv - ATy - S.ravel() - mu * X.ravel())
    V = (Cv - ATy - Nv).reshape(N, N) - mu * X
    V = (V + V.T) / 2
    if single:
        values, vectors = eigh(V.astype(np.float32), driver="evd", check_finite=False)
        values, vectors = values.astype(np.float64), vectors.astype(np.float64)
    else:
        values, vectors = np.linalg.eigh(V)
    negative = values < 0
    V_minus = (vectors[:, negative] * values[negative]) @ vectors[:, negative].T
    return -V_minus / mu, y, Nv, V - V_minus, ATy


def balanced_penalty(data: ADMMData, X, ATy, Nv, S, mu: float) -> tuple[float, float, float]:
    """(mu, primal residual, dual residual): mu moved by ``MU_FACTOR`` towards balancing the relative residuals when
    one is ``MU_RATIO`` times the other."""
    primal_res = float(np.linalg.norm(data.A @ X.ravel() - data.b)) / (1.0 + float(np.linalg.norm(data.b)))
    dual_res = float(np.linalg.norm(ATy + Nv + S.ravel() - data.Cv)) / (1.0 + float(np.linalg.norm(data.Cv)))
    if primal_res > MU_RATIO * dual_res:
        mu *= MU_FACTOR
    elif dual_res > MU_RATIO * primal_res:
        mu /= MU_FACTOR
    return mu, primal_res, dual_res


def shor_start(shor: RowSDP, data: ADMMData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, S) from a diagonal Shor SDP's primal-dual solve of the row (``sdp.primal_dual``, Q's units; its X may be
    float32): y = (gamma, s, rho, products 0) in this module's order, S = C - A^T y (PSD up to rounding), X its
    primal matrix (zero when it has none)."""
    N = len(shor.s) + 1
    y = np.concatenate(([shor.gamma], shor.s, shor.rho, np.zeros(N - 1))) / data.scale
    S = (data.Cv - data.A.T @ y).reshape(N, N)
    X = np.asarray(shor.X, dtype=np.float64) if shor.X is not None and np.shape(shor.X) == (N, N) else np.zeros((N, N))
    return X, y, (S + S.T) / 2


def row_dnn_bound(Q: np.ndarray, prune_counts, groups=None, *, max_iterations: int = 3000, tolerance: float = 1e-4,
                  time_limit: float | None = None, mu: float = 0.1, warm_start: bool = False) -> RowDNN:
    """The DNN relaxation bound of one row (module docstring), certified at every stop.

    ``prune_counts``: p_g per group (an int for one group); ``groups``: index arrays partitioning the row
    (None: one group). Stops after ``max_iterations``, at ``time_limit`` seconds, or when the certified bound
    rose by less than ``tolerance`` (relative) over ``STALL_CHECKS`` checks. ``warm_start``: start from the diagonal
    Shor SDP's primal-dual solution (``sdp.primal_dual``; its dual is a DNN dual point with zero products and N = 0),
    so the bound starts at Shor's.
    """
    started = time.perf_counter()
    Q, C, p = checked_row_problem(Q, prune_counts, groups)
    n = Q.shape[0]
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, (int, np.integer)) or max_iterations < 0:
        raise ValueError(f"max_iterations must be a non-negative integer; got {max_iterations!r}")
    scale = float(np.mean(np.diag(Q))) if n else 0.0
    if scale <= 0.0:  # Q = 0 (a zero row): every mask has error 0
        return RowDNN(0.0, 0.0, 0.0, 0, 0.0, 0.0)
    N = n + 1
    data = admm_data(Q, C, p)
    A, b, Cv, trace = data.A, data.b, data.Cv, data.trace
    deadline = math.inf if time_limit is None else started + time_limit
    X = np.zeros((N, N))
    y, Nv, S = np.zeros(A.shape[0]), np.zeros(N * N), np.zeros((N, N))
    best, best_dual, correction, history, t = -math.inf, 0.0, 0.0, [], 0
    if warm_start and max_iterations > 0:
        remaining = None if math.isinf(deadline) else max(deadline - time.perf_counter(), 1e-3)
        X, y, S = shor_start(row_sdp_bound_ipm(Q, p, groups, tolerance=1e-4, time_limit=remaining), data)
        best, correction = certified_value(A, b, Cv, y, Nv, N, trace)
        best_dual = float(b @ y)
    primal_res = dual_res = math.inf
    for t in range(1, max_iterations + 1):
        X, y, Nv, S, ATy = admm_iteration(data, X, Nv, S, mu)
        if t % MU_EVERY == 0 or t == max_iterations or time.perf_counter() >= deadline:
            mu, primal_res, dual_res = balanced_penalty(data, X, ATy, Nv, S, mu)
        if t % CHECK_EVERY == 0 or t == max_iterations or time.perf_counter() >= deadline:
            value, corr = certified_value(A, b, Cv, y, Nv, N, trace)
            if value > best:
                best, best_dual, correction = value, float(b @ y), corr
            history.append(value)  # this iterate's own bound (a warm start's is not in it)
            if (len(history) > STALL_CHECKS and max(history[-STALL_CHECKS:]) - max(history[:-STALL_CHECKS])
                    <= tolerance * max(abs(best), 1e-12)):
                break
            if time.perf_counter() >= deadline:
                break
    if not history and not math.isfinite(best):  # no iteration ran: the zero dual point, corrected
        best, correction = certified_value(A, b, Cv, y, Nv, N, trace)
        best_dual = float(b @ y)
    return RowDNN(max(best, 0.0) * scale, best_dual * scale, correction, t if max_iterations else 0,
                  primal_res, dual_res)
