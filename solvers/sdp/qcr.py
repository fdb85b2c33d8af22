"""Quadratic convex reformulation (QCR, Billionnet & Elloumi 2007) of one row's mask problem.

For binary z (pruned indicators) with sum(z) = p and any vectors a, u:
    z^T Q z = z^T Q' z + c^T z,   Q' = Q + diag(a) + (u 1^T + 1 u^T) / 2,   c = -(a + p u),
because z_j^2 = z_j and (u^T z)(1^T z) = p u^T z. Any (a, u) keeping Q' PSD gives an exact convex
reformulation whose continuous relaxation bound depends on (a, u):
- ``sdp``: (a, u) from the dual of the Shor SDP relaxation
      min <Q, Z>  s.t.  [[1, z^T], [z, Z]] PSD,  diag Z = z,  Z 1 = p z,  1^T z = p,  0 <= z <= 1,
  so the continuous bound of the reformulation equals the SDP bound (cvxpy with SCS by default: it is ~20x faster than Clarabel here and an inexact dual still gives a
  valid, only slightly weaker, reformulation);
- ``diag``: u = 0 and a = -s from the diagonal-only Shor SDP (``solvers.sdp.barrier``, a barrier method:
  ~10x faster than SCS at n = 64-128, bound within 0.3-0.6% of the full Shor on real rows, and
  feasible at n = 576 where SCS is not);
- ``min-eig``: a = -lambda_min(Q) 1, u = 0 (cheap, valid for any size; also the only choice when
  rows do not have a fixed count, as in the per-layer pattern).
Q' is then made numerically PSD by a shift delta I moved into c (another valid diagonal term).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.linalg import lapack

SDP_MAX_N = 160
DIAG_TOLERANCE = 1e-4  # relative barrier gap of the "diag" QCR's SDP (its first bound in fw-bnb)
SOLVER_OPTIONS = {"SCS": {"eps": 1e-6, "max_iters": 20000}}


@dataclass
class Convexified:
    """z^T Q z == z^T Q_psd z + c^T z on binaries with sum z = p; ``factor`` F has Q_psd = F F^T."""

    Q_psd: np.ndarray
    c: np.ndarray
    method: str
    relaxation_bound: float = float("nan")
    sdp_point: tuple | None = None  # "diag": the diagonal SDP's dual point (s, rho, tau) in Q's units, and its primal
    # point e (pruned fractions) or None

    @cached_property
    def factor(self) -> np.ndarray:
        """F (n x r) with F F^T = Q_psd (``psd_factor``), made when first asked for: fw-bnb never needs it, and its
        eigendecomposition was ~4 % of a 48- or 64-wide row's solve (in-process A/B, medians 0.96)."""
        return psd_factor(self.Q_psd)


def psd_factor(Q: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
    """F (n x r) with F F^T = Q for PSD Q, dropping eigenvalues below rtol * lambda_max."""
    values, vectors = np.linalg.eigh((Q + Q.T) / 2)
    keep = values > rtol * max(values[-1], 1e-300)
    return vectors[:, keep] * np.sqrt(values[keep])


def _shift_to_psd(Q: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add delta I (delta >= 0 making Q PSD with margin) and subtract delta from c: delta = max(0, -lambda_min(Q))
    + 1e-10 max|Q_jj|; lambda_min is taken as 0 without an eigendecomposition when Q's Cholesky factorisation
    succeeds (Q positive definite: the usual case after an SDP's diagonal)."""
    scale = max(float(np.abs(np.diag(Q)).max()), 1e-300)
    definite = lapack.dpotrf(Q, lower=1, clean=0)[1] == 0
    lam_min = 0.0 if definite else float(np.linalg.eigvalsh((Q + Q.T) / 2)[0])
    delta = max(0.0, -lam_min) + 1e-10 * scale
    return Q + delta * np.eye(len(Q)), c - delta


def perturbed(Q: np.ndarray, p: int, a: np.ndarray, u: np.ndarray, method: str) -> Convexified:
    n = len(Q)
    Q_new = Q + np.diag(a) + (np.outer(u, np.ones(n)) + np.outer(np.ones(n), u)) / 2
    Q_new, c = _shift_to_psd((Q_new + Q_new.T) / 2, -(a + p * u))
    return Convexified(Q_new, c, method)


def min_eig_convexify(Q: np.ndarray, p: int | None = None) -> Convexified:
    lam_min = float(np.linalg.eigvalsh((Q + Q.T) / 2)[0])
    return perturbed(Q, p or 0, -lam_min * np.ones(len(Q)), np.zeros(len(Q)), "min-eig")


def continuous_bound(conv: Convexified, p: int, groups: list[np.ndarray] | None = None, keep_counts=None) -> float:
    """min z^T Q_psd z + c^T z over 0 <= z <= 1 with the cardinality constraints (convex QP, cvxpy)."""
    import cvxpy as cp

    n = len(conv.c)
    z = cp.Variable(n)
    constraints = [z >= 0, z <= 1, cp.sum(z) == p]
    for group, prune in zip(groups or [], keep_counts or []):
        constraints.append(cp.sum(z[group]) == prune)
    problem = cp.Problem(cp.Minimize(cp.sum_squares(conv.factor.T @ z) + conv.c @ z), constraints)
    problem.solve(solver=cp.CLARABEL)
    return float(problem.value)


def shor_problem(Q: np.ndarray, p: int, row_sums: bool = True, nonnegative: bool = False):
    """The Shor SDP of min z^T Q z, z binary, sum z = p, as a cvxpy problem (not solved), with its
    diag Z = z and (``row_sums``) Z 1 = p z constraints: (problem, diag constraint, row-sum constraint or None).
    0 <= z <= 1 is implied (Z_jj = z_j >= z_j^2); leaving it out keeps the dual exactly (a, u, ...).
    ``nonnegative``: also Y >= 0 entrywise, the doubly non-negative relaxation (``sdp.dnn``'s reference)."""
    import cvxpy as cp

    n = len(Q)
    Y = cp.Variable((n + 1, n + 1), PSD=True)
    z, Z = Y[1:, 0], Y[1:, 1:]
    diag_cons = cp.diag(Z) == z
    row_cons = Z @ np.ones(n) == p * z if row_sums else None
    constraints = [Y[0, 0] == 1, diag_cons] + ([row_cons] if row_sums else []) + [cp.sum(z) == p]
    constraints += [Y >= 0] if nonnegative else []
    return cp.Problem(cp.Minimize(cp.trace(Q @ Z)), constraints), diag_cons, row_cons


def sdp_convexify(Q: np.ndarray, p: int, solver: str = "SCS", time_limit: float | None = None) -> Convexified:
    """QCR with (a, u) from the Shor SDP dual (see module docstring); raises on solver failure. SCS stops at
    ``time_limit``: an inexact dual still gives an exact reformulation, only a weaker one."""
    import cvxpy as cp

    n = len(Q)
    problem, diag_cons, row_cons = shor_problem(Q, p)
    options = dict(SOLVER_OPTIONS.get(solver, {}))
    if time_limit is not None and solver == "SCS":
        options["time_limit_secs"] = max(float(time_limit), 1e-3)
    with warnings.catch_warnings():  # an inaccurate dual is still exact on binaries (any (a, u) is), only weaker;
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")  # `perturbed` makes Q' PSD
        problem.solve(solver=getattr(cp, solver), **options)
    if problem.status not in ("optimal", "optimal_inaccurate") or diag_cons.dual_value is None:
        raise RuntimeError(f"Shor SDP not solved ({problem.status})")
    a0, u0 = np.asarray(diag_cons.dual_value).ravel(), np.asarray(row_cons.dual_value).ravel()
    # Every (a, u) is exact on binaries; the dual sign convention decides which pair is the strong
    # one: the right signs make Q' PSD (up to solver accuracy), the wrong ones clearly indefinite.
    ones = np.ones(n)

    def lam_min(signs):
        a, u = signs[0] * a0, signs[1] * u0
        return np.linalg.eigvalsh(Q + np.diag(a) + (np.outer(u, ones) + np.outer(ones, u)) / 2)[0]

    sa, su = max(((1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)), key=lam_min)
    best = perturbed(Q, p, sa * a0, su * u0, "sdp")
    best.relaxation_bound = continuous_bound(best, p)
    best.sdp_bound = float(problem.value)
    return best


def diag_convexify(Q: np.ndarray, p: int, time_limit: float | None = None, tolerance: float = DIAG_TOLERANCE
                   ) -> Convexified:
    """QCR with a = -s from the diagonal Shor SDP (``primal_dual.row_sdp_bound_ipm`` to the relative gap
    ``tolerance``, stopped at ``time_limit``), u = 0. ``sdp_point`` = (s, rho, tau, primal) warm-starts fw-bnb's node
    SDPs (``barrier.fixed_row_bound``) and gives the root's point to branch on.
    The primal-dual method rather than the barrier one of the nodes: a cold solve needs ~12 iterations instead of
    ~50 Newton steps (fw-bnb on the SmolLM2 n = 48 / 64 / 96 / 128 slices, in-process side by side, medians of
    per-row time ratios 0.81 / 0.85 / 0.84 / 0.82 (n = 128 without o_proj r181), same optima)."""
    from .primal_dual import row_sdp_bound_ipm

    result = row_sdp_bound_ipm(Q, p, time_limit=time_limit, tolerance=tolerance)
    conv = perturbed(Q, p, -result.s, np.zeros(len(Q)), "diag")
    conv.relaxation_bound = result.bound  # the SDP value: the box-constrained relaxation is at least this
    conv.sdp_point = (result.s, result.rho, result.tau, result.primal)
    return conv


QCR_METHODS = ("auto", "sdp", "diag", "min-eig")


def convexify(Q: np.ndarray, p: int, method: str = "auto", sdp_max_n: int = SDP_MAX_N,
              time_limit: float | None = None, diag_tolerance: float = DIAG_TOLERANCE) -> Convexified:
    """QCR of z^T Q z for sum z = p: "sdp", "diag", "min-eig", or "auto" (sdp when n <= sdp_max_n and it
    solves, else min-eig). The SDP solves stop at ``time_limit`` (seconds); "diag" at the relative barrier gap
    ``diag_tolerance``."""
    if method not in QCR_METHODS:
        raise ValueError(f"unknown QCR method {method!r}; known: {', '.join(QCR_METHODS)}")
    if method == "diag":
        return diag_convexify(Q, p, time_limit, diag_tolerance)
    if method == "sdp" or (method == "auto" and len(Q) <= sdp_max_n):
        try:
            return sdp_convexify(Q, p, time_limit=time_limit)
        except Exception:
            if method == "sdp":
                raise
    return min_eig_convexify(Q, p)
