"""One row's diagonal Shor SDP bound by a primal-dual (HKM) interior-point method: cold solves of full rows.

Same SDP and certificate as ``solvers.sdp.barrier`` (read its docstring first): the dual

    max  b^T y  s.t.  Z(y) = C0 - sum_k y_k A_k  PSD,    y = (gamma, rho, s),  b = (1, p, 0),

and the primal  min <C0, X>  s.t.  A(X) = b,  X PSD  ((n+1)-square: X_00 = 1, C^T x = p, diag X_b = x).
The dual-only barrier method there needs ~200 Newton steps on a full 576-wide row (most of them in its first
centerings; ~550 at n = 1536); a primal-dual method using X as well needs 15-22 iterations to the same bound
(``benchmark.row_sdp_gaps --compare-barrier``: 3x faster at n = 576, 6x at n = 1536).

Method (Helmberg-Rendl-Vanderbei-Wolkowicz / Kojima-Shindoh-Hara / Monteiro direction with Mehrotra's
predictor-corrector): y stays strictly dual feasible (Z(y) positive definite: every b^T y is a valid bound),
X starts centred, X = c Z^-1 with trace 1 + sum p (primal infeasible). Per iteration, with G = Z^-1 and
mu = <X, Z> / (n+1):
    Schur system  M dy = b - sigma mu A(G) + A(R G),   M_kl = tr(A_k X A_l G)  (``schur_matrix``, O(n^2)),
    dZ = -A^T(dy),  dX = sym(sigma mu G - R G - X + X A^T(dy) G),
where the predictor has sigma = 0, R = 0 and the corrector sigma = (mu_aff / mu)^3, R = dX_p dZ_p.
A^T(dy) is a diagonal plus a border (first row and column), so X A^T(dy) is O(n^2) and each direction
costs one n^3 product with G (two per iteration; A(R G) is read off in O(n^2)), besides Z's Cholesky
factor and inverse, X's factor and M's. On full rows (``FULL_ROW_MIN_N``) those two products run in float32: they
only shape the directions, while every iterate's definiteness is tested in float64 and the bound comes from y alone
(``shor.best_gamma``'s float64 factor), so precision there costs at most an iteration, never validity. Step lengths: the largest step to the cone's boundary from one extreme
eigenvalue by Lanczos (``max_step``, O(n^2) per product; trial Cholesky tests had cost ~11 n^3 / 3 per
iteration), then the first point of a geometric grid below it, 0.95 of the way (without the corrector, fixed or
step-driven sigma, the bound was still 0.05-700% off after 60 iterations).
Stops when <X, Z> <= ``tolerance`` * |b^T y| (the barrier method's stopping rule: there (n+1) / tau is the
same quantity on its central path), or when the bound stalls; then gamma is raised to its largest feasible value (``shor.best_gamma``).
<X, Z> is a proven gap only for a feasible X; the primal residual typically stalls near 1e-2 (the Schur
matrix grows ill-conditioned), while the bound agrees with the barrier method's to ~1e-5 (tests, benchmark).

Warm start (``warm``: the result of a nearby problem of the same shape and groups, e.g. the previous step of
``sdp.dnn_ascent``, whose matrix moves a little per step): A(X) = b does not depend on Q, so the previous X is
still nearly primal feasible; the previous y is made strictly dual feasible for the new Q by lowering s until
Q - diag s is definite (from ``WARM_SHIFT``, times 4 until a Cholesky test passes) and gamma to
``WARM_GAMMA_MARGIN`` (relative) below its largest value; X = (1 - ``WARM_BLEND``) X_prev + ``WARM_BLEND`` X_c,
X_c = c Z^-1 the centred cold start for that y (centrality: without the blend the steps were as slow as cold, or
jammed). The bound stays valid whatever the start (y is dual feasible at every iterate). A warm run that reaches
the tolerance with a primal residual above ``WARM_RESIDUAL`` only looks converged (a start too far off: residuals
60-200 against 5e-3-1 on good runs), so it goes on iterating; one that stalls with such a residual or runs
``WARM_MAX_ITERATIONS`` iterations (jammed) is dropped and the problem solved cold. (Until session 28 the first case
was dropped at once too: at the ascent's loose step tolerance, 1e-1, that dropped a third of the per-row warm steps
after ~4 iterations and redid them cold at 11-12; going on, they finished warm.) Measured on full SmolLM2
layer-3 rows (``sdp.dnn_ascent``'s docstring): a 576-wide row's ascent step took 12-16 iterations cold, 6-9 warm; on a 1536-wide down_proj row 14 cold, 6-16 warm (9 of 9 kept).
It is meant for loose tolerances: at 1e-6 a warm run on a 10-wide row stopped with a primal residual of 5e-3 (cold:
6e-5) and a bound 1.5e-4 (relative) below the cold one; at 1e-2 on 64-wide rows it took 3-4 iterations against 8-9,
the bounds within 2e-3 of each other (tests).
"""
from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
from scipy.linalg import lapack
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

from ..core.arrays import blas_threads_for
from .barrier import row_sdp_bound
from .shor import (
    RowSDP,
    best_gamma,
    checked_row_matrix,
    cholesky_factor,
    cold_start,
    doubled_linear_term,
    dual_matrix,
    factor_inverse,
    gamma_max,
    group_matrix,
)

PRIMAL_RESIDUAL = 1e-3  # max |b - A(X)| (entries of X are O(1)) below which <X, Z> is trusted as the gap
STEP_FRACTION = 0.95  # of the way to the boundary of the PSD cone
STALL_ITERATIONS = 3  # stop when the bound rose by < tolerance / 10 (relative) over this many iterations
LANCZOS_TOLERANCE = 1e-4  # relative accuracy of the extreme eigenvalue behind a step length
LANCZOS_NCV = 20  # Lanczos basis size (ARPACK's default for one eigenvalue)
FULL_ROW_MIN_N = 512  # from this width (full model rows; fw-bnb's slices are at most 256 wide and keep the arithmetic
#   they were measured with) the two n^3 products of an iteration (X A^T(dy) times Z^-1) run in float32 and the
#   step-length eigenvalue is looser (FULL_ROW_LANCZOS). Float32 only shapes the directions: every iterate is tested in
#   float64 and the bound comes from y's float64 Cholesky test. A loose eigenvalue overestimates the largest step by
#   at most its tolerance; the step taken is 0.95 of a grid point below it (``STEP_FRACTION``), and one past the
#   boundary is halved back at the next iteration. Session 29, full SmolLM2 rows at 1e-2, alternating: up_proj 0.56-0.84x
#   the time, down_proj 0.64-0.81x, bounds within 1e-4 (relative); float32 alone 0.83-0.87x, the Lanczos settings 40 %
#   fewer products at the same iterations and bounds
FULL_ROW_LANCZOS = (1e-2, 10)  # (tolerance, basis size) of the step-length eigenvalue from FULL_ROW_MIN_N
LANCZOS_MIN_N = 100  # below this size the eigenvalue comes from the dense matrix
TRIAL_STEP_MAX_N = 256  # below this size a step length is the first grid point passing a Cholesky test (no eigenvalue):
# at these sizes a test costs ~n^3 / 3 flops plus call overhead and the grid needs few, while the eigenvalue cost
# ~3 n^3 (dense) or an ARPACK run. Cold roots of real SmolLM2 slices (2-core CPU, median of rows, trial / eigenvalue):
# n = 64 4.2 / 17.8 ms, 128 12.5 / 29.1 ms, 192 32.9 / 52.2 ms; n = 256: 447 / 272 ms
MAX_RETREATS = 30  # halvings of a step that left the cone (an inexact eigenvalue) before giving up
WARM_BLEND = 0.3  # share of the centred start in a warm start's X (0.1 and 0.3 alike on full rows; 0: jams)
WARM_SHIFT = 1e-2  # first lowering of the warm s (units of Q's mean diagonal)
WARM_GAMMA_MARGIN = 1e-2  # a warm gamma this far (relative) below its largest value (1e-3 jammed a full v_proj row)
WARM_RESIDUAL = 2.0  # a warm run goes on past the tolerance while its primal residual is larger, and one that stalls
#   with a larger residual is redone cold (jammed starts: 60-200;
#   kept runs 5e-3-0.3 at n = 576, up to ~1 at n = 1536, where 0.5 dropped 3 of 9 down_proj steps, each ~5 s lost)
WARM_MAX_ITERATIONS = 25  # a warm run that needs more is redone cold (warm runs took 5-13 on full rows)


def schur_matrix(X: np.ndarray, G: np.ndarray, C: np.ndarray) -> np.ndarray:
    """M_kl = tr(A_k X A_l G) for the constraint matrices of y = (gamma, rho, s) (symmetric for symmetric X, G).

    A_gamma = e0 e0^T, A_rho_g = (e0 c_g^T + c_g e0^T) / 2 (c_g: group g's indicator, shifted by one),
    A_s_j = e_j e_j^T - (e0 e_j^T + e_j e0^T) / 2; each term is a product of entries of X and G on the
    index pairs {0, k} x {0, l}. With X = G this is ``barrier._newton_system``'s K.
    """
    x00, x, Xb = X[0, 0], X[1:, 0], X[1:, 1:]
    g00, g, Gb = G[0, 0], G[1:, 0], G[1:, 1:]
    Cx, Cg, XbC, GbC = C.T @ x, C.T @ g, Xb @ C, Gb @ C
    groups = C.shape[1]
    r, s = slice(1, 1 + groups), slice(1 + groups, None)
    M = np.empty((1 + groups + len(x),) * 2)
    M[0, 0] = x00 * g00
    M[0, r] = 0.5 * (x00 * Cg + g00 * Cx)
    M[0, s] = x * g - 0.5 * (x00 * g + g00 * x)
    CxCg = Cx[:, None] * Cg  # outer products by broadcasting (np.outer's call overhead shows at n = 48)
    M[r, r] = 0.25 * (CxCg + CxCg.T + g00 * (C.T @ XbC) + x00 * (C.T @ GbC))
    M[r, s] = (0.5 * (XbC.T * g[None, :] + GbC.T * x[None, :]) - 0.25 * (Cx[:, None] * g + Cg[:, None] * x)
               - 0.25 * (g00 * XbC.T + x00 * GbC.T))
    # M_ss = Xb * (Gb + a_i + a_j) + Gb * (b_i + b_j) + (x_i g_j + g_i x_j) / 4, a = g00 / 8 - g / 2,
    # b = x00 / 8 - x / 2: in place (the n^2 passes over memory are this function's cost at n >= 576)
    a, b_ = 0.125 * g00 - 0.5 * g, 0.125 * x00 - 0.5 * x
    out = M[s, s]
    np.add(Gb, a[:, None], out=out)
    out += a[None, :]
    out *= Xb
    term = np.add(b_[:, None], b_[None, :])
    term *= Gb
    out += term
    np.multiply(x[:, None], 0.25 * g, out=term)
    out += term
    out += term.T
    M[1:, 0] = M[0, 1:]
    M[s, r] = M[r, s].T
    return M


def constraint_values(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """A(X) = (X_00, C^T x, diag X_b - x), x = X[1:, 0]."""
    return np.concatenate(([X[0, 0]], C.T @ X[1:, 0], np.diagonal(X)[1:] - X[1:, 0]))


def product_constraint_values(R: np.ndarray, G: np.ndarray, C: np.ndarray) -> np.ndarray:
    """A(R G) from the entries of R G it reads (first column and diagonal) in O(n^2), without the product."""
    first = R @ G[:, 0]
    diagonal = np.einsum("ij,ji->i", R, G)
    return np.concatenate((first[:1], C.T @ first[1:], diagonal[1:] - first[1:]))


def times_dual_step(X: np.ndarray, dy: np.ndarray, C: np.ndarray) -> np.ndarray:
    """X A^T(dy) in O(n^2): A^T(dy) = diag(d) + e0 u^T + u e0^T, d = (dgamma, ds), u = (0, (C drho - ds) / 2)."""
    groups = C.shape[1]
    ds = dy[1 + groups:]
    d = np.concatenate((dy[:1], ds))
    u = (C @ dy[1:1 + groups] - ds) / 2.0
    out = X * d[None, :]
    out[:, 1:] += X[:, :1] * u
    out[:, 0] += X[:, 1:] @ u
    return out


def max_step(lower: np.ndarray, direction: np.ndarray, cap: float) -> float | None:
    """The largest t <= cap keeping P + t D positive semidefinite, P = L L^T (L: the lower triangle of
    ``lower``): t = 1 / lambda_max(-L^-1 D L^-T), ``cap`` when that eigenvalue is <= 1 / cap. The eigenvalue by
    Lanczos (ARPACK; a product is two triangular solves and one with D, 3 n^2 flops, where each Cholesky test of
    a trial step costs n^3 / 3), from the dense matrix below ``LANCZOS_MIN_N``; None if Lanczos fails."""
    n = lower.shape[0]
    if n < LANCZOS_MIN_N:
        inner = lapack.dtrtrs(lower, lapack.dtrtrs(lower, direction, lower=1)[0].T, lower=1)[0]
        top = -float(np.linalg.eigvalsh((inner + inner.T) / 2.0)[0])
    else:
        def product(v: np.ndarray) -> np.ndarray:
            return -lapack.dtrtrs(lower, direction @ lapack.dtrtrs(lower, v, lower=1, trans=1)[0], lower=1)[0]

        v0 = np.random.default_rng(0).standard_normal(n)
        tolerance, ncv = FULL_ROW_LANCZOS if n - 1 >= FULL_ROW_MIN_N else (LANCZOS_TOLERANCE, LANCZOS_NCV)
        try:
            top = float(eigsh(LinearOperator((n, n), matvec=product, dtype=np.float64), k=1, which="LA", v0=v0,
                              tol=tolerance, ncv=ncv, return_eigenvectors=False)[0])
        except ArpackNoConvergence:
            return None
    return cap if top * cap <= 1.0 else 1.0 / top


def _step(factor, point: np.ndarray, direction: np.ndarray, first: float, shrink: float) -> float:
    """The first of first, first * shrink, ... (down to 1e-8) below the largest step ``max_step`` finds from
    the point's Cholesky factor (0 when none is), or, when Lanczos fails or the matrix is narrower than
    ``TRIAL_STEP_MAX_N``, the first that passes a Cholesky test.
    The geometric grid is deliberate: taking 0.95 of the exact largest step instead left the iterates too close
    to the boundary (the method jammed, bounds 1e-4 short, on the tests' 10-variable rows)."""
    if len(point) < TRIAL_STEP_MAX_N:
        return _step_length(point, direction, first, shrink)
    largest = max_step(factor[0], direction, 2.0 * first)
    if largest is None:
        return _step_length(point, direction, first, shrink)
    return _first_on_grid(first, shrink, lambda t: t < largest * (1.0 - 1e-9))


def _step_length(point: np.ndarray, direction: np.ndarray, first: float, shrink: float) -> float:
    """The first of first, first * shrink, ... (down to 1e-8) keeping point + t direction positive definite
    (Cholesky test), 0 when none does."""
    return _first_on_grid(first, shrink, lambda t: lapack.dpotrf(point + t * direction, lower=1, clean=0)[1] == 0)


def _first_on_grid(first: float, shrink: float, fits) -> float:
    """The first t of first, first * shrink, ... (down to 1e-8) with fits(t), 0 when none has."""
    t = first
    while t > 1e-8:
        if fits(t):
            return t
        t *= shrink
    return 0.0


def row_sdp_bound_ipm(Q: np.ndarray, prune_counts, groups=None, *, tolerance: float = 1e-4, max_iterations: int = 60,
                      time_limit: float | None = None, linear: np.ndarray | None = None,
                      cutoff: float = math.inf, warm: RowSDP | None = None) -> RowSDP:
    """The diagonal Shor SDP bound of one row (``barrier.row_sdp_bound``'s arguments and result) by the
    primal-dual method of the module docstring. ``newton_steps`` counts its iterations (a dropped warm run's
    included); ``gap`` is <X, Z> when the primal residual is small (else inf). It stops once the bound (valid at
    every iterate) reaches ``cutoff`` (in Q's units; branch-and-bound: the node is pruned anyway). ``warm``: a result
    of this function for a nearby problem of the same size and groups to start from (module docstring; the result's
    ``warm`` says whether the warm run was kept). Groups with nothing to choose go to the barrier solver.
    """
    Q = checked_row_matrix(Q)
    n = Q.shape[0]
    C = group_matrix(n, groups)
    p = np.atleast_1d(np.asarray(prune_counts, dtype=np.float64))
    sizes = C.sum(axis=0)
    scale = float(np.mean(np.diag(Q))) if n else 0.0
    if p.shape != (C.shape[1],) or np.any(p <= 0) or np.any(p >= sizes) or scale <= 0.0:
        # nothing to choose somewhere, Q = 0 or bad counts: the barrier solver handles (or rejects) these
        return row_sdp_bound(Q, prune_counts, groups, tolerance=tolerance, time_limit=time_limit, linear=linear,
                             cutoff=cutoff)
    q2 = doubled_linear_term(linear, n)
    if warm is not None:
        check_warm(warm, n, C.shape[1])
    deadline = time.perf_counter() + (math.inf if time_limit is None else time_limit)
    dropped = 0
    with blas_threads_for(n):
        if warm is not None:
            try:
                return _solve(Q, C, p, q2, scale, tolerance, max_iterations, deadline, cutoff / scale, warm)
            except _WarmDropped as drop:
                dropped = drop.iterations
        result = _solve(Q, C, p, q2, scale, tolerance, max_iterations, deadline, cutoff / scale)
    return replace(result, newton_steps=result.newton_steps + dropped)


class _WarmDropped(Exception):
    """A warm run given up (module docstring) after ``iterations`` iterations."""

    def __init__(self, iterations: int):
        super().__init__(iterations)
        self.iterations = iterations


def check_warm(warm: RowSDP, n: int, groups: int, name: str = "warm") -> None:
    """A clear error when ``warm`` (the argument ``name``) is not a primal-dual result of a problem of this size and
    these groups."""
    X = getattr(warm, "X", None)
    shapes = (np.shape(X), np.shape(getattr(warm, "s", None)), np.shape(getattr(warm, "rho", None)))
    if shapes != ((n + 1, n + 1), (n,), (groups,)) or not all(
            np.all(np.isfinite(v)) for v in (X, warm.s, warm.rho)):
        raise ValueError(f"{name} must be a primal-dual RowSDP of a row with {n} entries and {groups} groups "
                         f"(finite X {n + 1} x {n + 1}, s, rho); got shapes X {shapes[0]}, s {shapes[1]}, "
                         f"rho {shapes[2]}")


def _warm_start(Qn, C, p, q2, warm: RowSDP, scale: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(y, X): the warm start of the module docstring in the normalised units (Q / ``scale``), None when no
    lowering of s makes Q - diag s definite."""
    rho, s = np.asarray(warm.rho, dtype=np.float64) / scale, np.asarray(warm.s, dtype=np.float64) / scale
    shift = WARM_SHIFT
    for _ in range(30):
        factor = cholesky_factor(Qn - np.diag(s - shift))
        if factor is not None:
            break
        shift *= 4.0
    else:
        return None
    s = s - shift
    gamma = gamma_max(factor, s + q2 - C @ rho)
    y = np.concatenate(([gamma - WARM_GAMMA_MARGIN * max(1.0, abs(gamma))], rho, s))
    Z_factor = cholesky_factor(dual_matrix(Qn, C, y, q2))
    if Z_factor is None:
        return None
    centred = _centred_primal(factor_inverse(Z_factor), p)  # the cold start's X for this y
    return y, (1.0 - WARM_BLEND) * np.asarray(warm.X, dtype=np.float64) + WARM_BLEND * centred


def _centred_primal(G: np.ndarray, p: np.ndarray) -> np.ndarray:
    """X = c Z^-1 (G = Z^-1): centred (X Z = mu I), its trace 1 + sum p, that of the optimum's X."""
    return G * ((1.0 + p.sum()) / np.trace(G))


def _solve(Q, C, p, q2, scale, tolerance, max_iterations, deadline, cutoff=math.inf, warm=None) -> RowSDP:
    """The method of the module docstring; from ``warm`` when given (``_WarmDropped`` when that run is given up)."""
    n, size = Q.shape[0], Q.shape[0] + 1
    Qn, q2 = (Q + Q.T) / (2.0 * scale), q2 / scale
    b = np.concatenate(([1.0], p, np.zeros(n)))

    def primal_residual(X: np.ndarray) -> float:
        return float(np.max(np.abs(b - constraint_values(X, C))))

    start = None if warm is None else _warm_start(Qn, C, p, q2, warm, scale)
    if warm is not None and start is None:
        raise _WarmDropped(0)
    jam = WARM_MAX_ITERATIONS if warm is not None and max_iterations > WARM_MAX_ITERATIONS else math.inf
    y = cold_start(Qn, q2, C.shape[1]) if start is None else start[0]
    Z = dual_matrix(Qn, C, y, q2)
    X = _centred_primal(factor_inverse(cholesky_factor(Z)), p) if start is None else start[1]
    history, gap, iterations, previous, guess = [], math.inf, 0, None, (0.5, 0.5)
    for iterations in range(1, max_iterations + 1):
        if iterations > jam:
            raise _WarmDropped(iterations - 1)
        Z_factor, X_factor = cholesky_factor(Z), cholesky_factor(X)
        for _ in range(MAX_RETREATS if previous is not None else 0):
            if Z_factor is not None and X_factor is not None:
                break
            X, y = (old + 0.5 * (new - old) for old, new in zip(previous, (X, y)))  # the step left the cone: halve it
            Z = dual_matrix(Qn, C, y, q2)
            Z_factor, X_factor = cholesky_factor(Z), cholesky_factor(X)
        if Z_factor is None or X_factor is None:  # rounding at the boundary
            if Z_factor is None and previous is not None:
                y = previous[1]  # the last strictly feasible y
            break
        G = factor_inverse(Z_factor)
        mu = float(np.sum(X * Z)) / size
        bound = float(b @ y)
        history.append(bound)
        if bound >= cutoff:
            break
        if size * mu <= tolerance * max(abs(bound), 1e-12):  # <X, Z> is the gap once X is (nearly) feasible
            residual = primal_residual(X)
            if not (warm is not None and residual > WARM_RESIDUAL):
                gap = size * mu if residual <= PRIMAL_RESIDUAL else math.inf
                break
            # a warm run far from primal feasible only looks converged: it goes on (dropped at the cap if jammed)
        if (len(history) > STALL_ITERATIONS and size * mu <= math.sqrt(tolerance) * max(abs(bound), 1e-12)
                and max(history[-STALL_ITERATIONS:]) - max(history[:-STALL_ITERATIONS])
                <= 0.1 * tolerance * max(abs(bound), 1e-12)):
            if warm is not None and primal_residual(X) > WARM_RESIDUAL:
                raise _WarmDropped(iterations)
            break
        if time.perf_counter() > deadline:
            break
        factor, info = lapack.dpotrf(schur_matrix(X, G, C), lower=1)
        if info != 0:
            break  # numerically singular Schur matrix: keep the bound reached
        solve = lambda rhs: lapack.dpotrs(factor, rhs, lower=1)[0]  # noqa: E731
        AG = constraint_values(G, C)
        # predictor (sigma = 0): M dy = b, dX = -X + X A^T(dy) G
        dy_p = solve(b)
        XD_p = times_dual_step(X, dy_p, C)
        G32 = G.astype(np.float32) if n >= FULL_ROW_MIN_N else None
        dX_p = _times(XD_p, G, G32) - X
        dX_p = (dX_p + dX_p.T) / 2.0
        dZ_p = dual_matrix(Qn, C, y + dy_p, q2) - Z  # = -A^T(dy_p)
        t_primal = _step(X_factor, X, dX_p, min(1.0, 2.0 * guess[0]), 0.5)
        t_dual = _step(Z_factor, Z, dZ_p, min(1.0, 2.0 * guess[1]), 0.5)
        guess = (t_primal, t_dual)
        mu_affine = float(np.sum((X + t_primal * dX_p) * (Z + t_dual * dZ_p))) / size
        sigma = min(1.0, (mu_affine / mu) ** 3)
        # corrector: R = dX_p dZ_p = -dX_p A^T(dy_p)
        R = -times_dual_step(dX_p, dy_p, C)
        dy = solve(b - sigma * mu * AG + product_constraint_values(R, G, C))
        dX = sigma * mu * G - X + _times(times_dual_step(X, dy, C) - R, G, G32)
        dX = (dX + dX.T) / 2.0
        dZ = dual_matrix(Qn, C, y + dy, q2) - Z
        previous = (X, y)
        X = X + STEP_FRACTION * _step(X_factor, X, dX, 1.0 / STEP_FRACTION, 0.8) * dX
        y = y + STEP_FRACTION * _step(Z_factor, Z, dZ, 1.0 / STEP_FRACTION, 0.8) * dy
        Z = dual_matrix(Qn, C, y, q2)
    else:
        if cholesky_factor(Z) is None:
            y = previous[1]
    y[0] = best_gamma(Qn, C, q2, y)
    groups = C.shape[1]
    mu = float(np.sum(X * dual_matrix(Qn, C, y, q2))) / size
    tau = 1.0 / mu if mu > 0.0 else 1.0  # the barrier weight whose central-path gap (n+1) / tau is <X, Z>
    return RowSDP(float(b @ y) * scale, y[1 + groups:] * scale, y[1:1 + groups] * scale, float(y[0]) * scale,
                  gap * scale, iterations, tau, X=X, primal=_primal_point(X), warm=warm is not None)


def _times(A: np.ndarray, G: np.ndarray, G32: np.ndarray | None) -> np.ndarray:
    """A @ G, in single precision when ``G32`` (G as float32) is given."""
    if G32 is None:
        return A @ G
    return (A.astype(np.float32) @ G32).astype(np.float64)


def _primal_point(X: np.ndarray) -> np.ndarray | None:
    """e = x / X_00 clipped to [0, 1] (x = X[1:, 0]): the pruned fractions of the last primal iterate (nearly
    feasible: ``PRIMAL_RESIDUAL``), a point to branch on and round, not a bound; None when X_00 <= 0."""
    return np.clip(X[1:, 0] / X[0, 0], 0.0, 1.0) if X[0, 0] > 0.0 else None
