"""The diagonal Shor SDP of one row, shared by its solvers (barrier, primal-dual, batched, layer).

Row problem: min e^T Q e over binary pruned indicators e with C^T e = p (one column of C per cardinality
group), Q = diag(w) H diag(w). Dual of the Shor relaxation with diag(E) = e: max gamma + p^T rho s.t.
Z(y) = [[-gamma, (s - C rho)^T / 2], [(s - C rho) / 2, Q - diag(s)]] PSD, y = (gamma, rho, s) (``dual_matrix``);
every y with Z(y) PSD certifies gamma + p^T rho <= the integer optimum. Here: the result shape (``RowSDP``),
the group matrix C, the checked inputs, Cholesky factors with their helpers, the largest gamma a (rho, s)
allows (``best_gamma``) and the cold start. The solvers: ``sdp.barrier`` (log-barrier Newton, warm starts for
branch-and-bound nodes), ``sdp.primal_dual`` (HKM predictor-corrector, cold full rows), ``sdp.batched`` (the
same with torch over stacks of rows), ``sdp.layer`` (a layer's rows in a process pool or on a device).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from ..core.linalg import symmetric_from_lower


@dataclass
class RowSDP:
    """Result in Q's units: ``bound`` = gamma + p^T rho (valid), ``s`` the diagonal multipliers.

    ``gap`` bounds the distance of ``bound`` to the SDP optimum ((n+1)/tau after the last
    centering; inf when stopped early or when the last centering stalled in its line search);
    ``newton_steps`` counts all Newton steps.
    """

    bound: float
    s: np.ndarray
    rho: np.ndarray
    gamma: float
    gap: float
    newton_steps: int
    tau: float = 1.0  # barrier weight reached (normalised units), for warm starts
    X: np.ndarray | None = None  # primal_dual: the last primal matrix (Q / mean diag Q units), for warm starts
    primal: np.ndarray | None = None  # barrier: e = diag of the primal estimate Z^-1 / tau at the last centred point
    warm: bool = False  # primal_dual: the run started from a warm start (and kept it)


def group_matrix(n: int, groups: list[np.ndarray] | np.ndarray | None) -> np.ndarray:
    """n x G 0/1 matrix of the cardinality groups (None: one group with every index)."""
    if groups is None:
        return np.ones((n, 1))
    C = np.zeros((n, len(groups)))
    for g, members in enumerate(groups):
        C[np.asarray(members), g] = 1.0
    if np.any(C.sum(axis=1) != 1.0):
        raise ValueError("cardinality groups must partition the row's indices")
    return C


def dual_matrix(Q: np.ndarray, C: np.ndarray, y: np.ndarray, q2: np.ndarray | float = 0.0) -> np.ndarray:
    """Z(y) for the objective e^T Q e + q2^T e (q2: twice the linear term)."""
    G = C.shape[1]
    gamma, rho, s = y[0], y[1:1 + G], y[1 + G:]
    n = len(s)
    Z = np.empty((n + 1, n + 1))
    Z[0, 0] = -gamma
    Z[0, 1:] = Z[1:, 0] = (s + q2 - C @ rho) / 2.0
    Z[1:, 1:] = Q
    Z[1:, 1:][np.diag_indices(n)] -= s
    return Z


def cholesky_factor(Z: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(lower Cholesky factor, log det Z) of a positive definite Z, else None (also for non-finite
    input). LAPACK potrf directly (the upper triangle keeps Z's entries; only the lower one is read)."""
    lower, info = lapack.dpotrf(Z, lower=1, clean=0)
    if info != 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        log_det = 2.0 * float(np.log(np.diagonal(lower)).sum())
    return (lower, log_det) if math.isfinite(log_det) else None


def factor_solve(factor: tuple[np.ndarray, float], rhs: np.ndarray) -> np.ndarray:
    return lapack.dpotrs(factor[0], rhs, lower=1)[0]


def factor_inverse(factor: tuple[np.ndarray, float]) -> np.ndarray:
    """Z^-1 from its Cholesky factor by LAPACK potri (one thread: 2-3x faster than solving with I
    at n = 49-257; multithreaded on a busy machine it can be 10x slower, see ``ONE_THREAD_MAX_N``)."""
    return symmetric_from_lower(lapack.dpotri(factor[0], lower=1)[0])  # potri fills the lower triangle only


def gamma_max(factor: tuple[np.ndarray, float], v: np.ndarray) -> float:
    """Largest gamma with Z PSD for given (rho, s): -v^T (Q - diag s)^-1 v / 4, v = s + q2 - C rho, from the
    Cholesky factor of Q - diag s (Z's Schur complement on its first entry)."""
    return -0.25 * float(v @ factor_solve(factor, v))


def best_gamma(Qn, C, q2, y) -> float:
    """``gamma_max`` at y's (rho, s), a hair above (rounding); y's own gamma when Q - diag s is not definite."""
    G = C.shape[1]
    rho, s = y[1:1 + G], y[1 + G:]
    lower = cholesky_factor(Qn - np.diag(s))
    if lower is None:
        return float(y[0])
    return gamma_max(lower, s + q2 - C @ rho) * (1.0 + 1e-12)


def checked_row_matrix(Q) -> np.ndarray:
    """Q as a float64 array, or a clear error when it is not a finite square matrix."""
    Q = np.asarray(Q, dtype=np.float64)
    n = Q.shape[0] if Q.ndim == 2 else 0
    if Q.shape != (n, n) or not np.all(np.isfinite(Q)):
        raise ValueError(f"Q must be a finite square matrix; got shape {Q.shape}")
    return Q


def checked_row_problem(Q, prune_counts, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Q, C, p): the checked row matrix, its group matrix and the prune counts as floats; a clear error when the
    counts do not fit the groups (0 <= p_g <= |g|)."""
    Q = checked_row_matrix(Q)
    C = group_matrix(Q.shape[0], groups)
    p = np.atleast_1d(np.asarray(prune_counts, dtype=np.float64))
    if p.shape != (C.shape[1],) or np.any(p < 0) or np.any(p > C.sum(axis=0)):
        raise ValueError(f"prune_counts {p.tolist()} do not fit groups of sizes {C.sum(axis=0).astype(int).tolist()}")
    return Q, C, p


def doubled_linear_term(linear, n: int) -> np.ndarray:
    """q2 = 2 q for the objective e^T Q e + 2 q^T e (zeros for None); a clear error when q is not a finite
    n-vector."""
    q2 = np.zeros(n) if linear is None else 2.0 * np.asarray(linear, dtype=np.float64)
    if q2.shape != (n,) or not np.all(np.isfinite(q2)):
        raise ValueError(f"linear must be a finite vector of length {n}")
    return q2


def cold_start(Qn, q2, G) -> np.ndarray:
    """A strictly feasible y: s = -1 (Q + I is positive definite), rho = 0, gamma 1 below its largest value."""
    s0 = -np.ones(len(q2))
    return np.concatenate(([gamma_max(cholesky_factor(Qn + np.eye(len(q2))), s0 + q2) - 1.0], np.zeros(G), s0))
