"""Many rows' diagonal Shor SDP bounds at once with torch (a GPU when present): the primal-dual method of
``solvers.sdp.primal_dual``, batched over the rows of a layer.

Row r: Q_r = diag(w_r) H diag(w_r), the SDP and certificate of ``solvers.sdp.barrier`` (no linear term). Every
operation of ``primal_dual._solve`` becomes a batched one over a (rows x (n+1) x (n+1)) stack: Cholesky factors
with per-row success flags (``torch.linalg.cholesky_ex``), inverses from them, the two n^3 products per
iteration as batched matrix products, the Schur matrices by the same O(n^2) closed forms. Step lengths come
from Cholesky tests on the same geometric grid as ``primal_dual`` (one batched factorization per grid point
for the rows still looking), so a row's iterates are the numpy solver's up to rounding. A row leaves the
stack when it stops (gap below ``tolerance`` * |bound|, stalled bound, singular Schur matrix, or a point
that no longer factors: then its last strictly feasible y is kept); gamma is then raised to its largest
feasible value as in ``shor.best_gamma``. torch is imported only when this module's function runs.

Memory: about 24 (n+1)^2 doubles per row in the stack (n = 1536: 0.45 GB), so ``batch_rows`` rows at a time.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..core.arrays import check_device
from .primal_dual import STALL_ITERATIONS, STEP_FRACTION
from .shor import group_matrix

MATRICES_PER_ROW = 24  # (n+1)^2 doubles per row of the stack, for the batch size


def row_sdp_bounds_batched(W: np.ndarray, H: np.ndarray, rows, prune_counts, groups=None, *, device: str = "cuda",
                           tolerance: float = 1e-2, max_iterations: int = 60, deadline: float = math.inf,
                           batch_rows: int | None = None, points: bool = False):
    """(bounds of ``rows`` in W's row order given, total iterations): each the row's diagonal Shor SDP bound
    (a valid lower bound on its mask error under the groups' prune counts), NaN for rows not started before
    ``deadline`` (``time.monotonic``). ``device``: "cuda", "cuda:N", or "cpu-torch" (also None / "cpu": torch on
    the CPU). ``points``: also return, third, the rows' primal points (len(rows) x n: the pruned fractions
    x / X_00 of each row's last iterate, clipped to [0, 1], as ``primal_dual``'s ``primal``; NaN rows where none)."""
    check_device(device)
    W, H, rows = np.asarray(W, dtype=np.float64), np.asarray(H, dtype=np.float64), np.asarray(rows, dtype=int)
    n = W.shape[1] if W.ndim == 2 else 0
    if W.ndim != 2 or H.shape != (n, n) or not (np.all(np.isfinite(W)) and np.all(np.isfinite(H))):
        raise ValueError(f"W must be a finite 2-D array and H a finite d_in x d_in matrix; got {W.shape}, {H.shape}")
    if rows.ndim != 1 or np.any((rows < 0) | (rows >= W.shape[0])):
        raise ValueError(f"rows must list row indices in [0, {W.shape[0]})")
    C_np = group_matrix(n, groups)
    p_np = np.atleast_1d(np.asarray(prune_counts, dtype=np.float64))
    if p_np.shape != (C_np.shape[1],) or np.any(p_np <= 0) or np.any(p_np >= C_np.sum(axis=0)):
        raise ValueError("every group needs 0 < prune count < group size for the batched row SDPs")
    import torch  # only here, once the caller asked for a torch device

    torch_device = torch.device("cpu" if device in (None, "cpu", "cpu-torch") else device)
    as_tensor = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64, device=torch_device)  # noqa: E731
    H_t, C, p = as_tensor((H + H.T) / 2.0), as_tensor(C_np), as_tensor(p_np)
    if batch_rows is None:
        batch_rows = _batch_rows(torch, torch_device, n)
    bounds, iterations = np.full(len(rows), np.nan), 0
    fractions = np.full((len(rows), n), np.nan)
    for start in range(0, len(rows), batch_rows):
        if time.monotonic() > deadline:
            break
        chunk = rows[start:start + batch_rows]
        w = as_tensor(W[chunk])
        Q = w[:, :, None] * H_t[None] * w[:, None, :]
        scale = torch.diagonal(Q, dim1=1, dim2=2).mean(dim=1)
        usable = (scale > 0).cpu().numpy()
        if not usable.all():  # a zero row: bound 0 (its error is 0 whatever the mask)
            bounds[start:start + len(chunk)][~usable] = 0.0
        if usable.any():
            idx = np.flatnonzero(usable)
            out, used, point = _solve(torch, Q[idx] / scale[idx, None, None], C, p, tolerance, max_iterations,
                                      deadline)
            bounds[start + idx] = out * scale[idx].cpu().numpy()
            fractions[start + idx] = point
            iterations += used
    return (bounds, iterations, fractions) if points else (bounds, iterations)


def _batch_rows(torch, device, n: int) -> int:
    """Rows per stack: a third of the free GPU memory (8 rows on the CPU)."""
    if device.type != "cuda":
        return 8
    free, _ = torch.cuda.mem_get_info(device)
    return max(1, int(free / 3 / (MATRICES_PER_ROW * 8 * (n + 1) ** 2)))


def _solve(torch, Qn, C, p, tolerance, max_iterations, deadline) -> tuple[np.ndarray, int, np.ndarray]:
    """Bounds (in Qn's units) of a stack of scaled rows Qn (B x n x n), the iterations summed over rows and the
    rows' primal points (B x n, ``row_sdp_bounds_batched``)."""
    B, n = Qn.shape[0], Qn.shape[1]
    g, size = C.shape[1], n + 1
    b = torch.cat((torch.ones(1, dtype=Qn.dtype, device=Qn.device), p, Qn.new_zeros(n)))
    eye = torch.eye(n, dtype=Qn.dtype, device=Qn.device)
    s0 = -Qn.new_ones(B, n)
    gamma0 = _gamma_max(torch, torch.linalg.cholesky_ex(Qn + eye)[0], s0) - 1.0
    y = torch.cat((gamma0[:, None], Qn.new_zeros(B, g), s0), dim=1)
    Z = _matrix(Qn, C, y)
    G = torch.cholesky_inverse(torch.linalg.cholesky_ex(Z)[0])
    X = G * ((1.0 + p.sum()) / torch.diagonal(G, dim1=1, dim2=2).sum(dim=1))[:, None, None]
    ids = torch.arange(B, device=Qn.device)  # the stack's rows, as indices into the result
    feasible_y = y.clone()
    guess = Qn.new_full((B, 2), 0.5)
    history: list = []  # per iteration: the bounds of the rows in the stack (rows that leave are dropped from all)
    bounds, total, fractions = np.full(B, np.nan), 0, np.full((B, n), np.nan)
    for iteration in range(1, max_iterations + 1):
        Z_factor, z_info = torch.linalg.cholesky_ex(Z)
        X_info = torch.linalg.cholesky_ex(X)[1]
        # a point that does not factor (rounding at the boundary): the row keeps its last strictly feasible y
        broken = (z_info != 0) | (X_info != 0)
        y = torch.where((z_info != 0)[:, None], feasible_y, y)
        feasible_y = y.clone()
        G = torch.cholesky_inverse(Z_factor)
        mu = (X * Z).sum(dim=(1, 2)) / size
        bound = y @ b
        history.append(bound)
        total += int(ids.numel())
        scale_b = bound.abs().clamp_min(1e-12)
        done = broken | (size * mu <= tolerance * scale_b)
        if len(history) > STALL_ITERATIONS:
            past = torch.stack(history[:-STALL_ITERATIONS]).amax(dim=0)
            recent = torch.stack(history[-STALL_ITERATIONS:]).amax(dim=0)
            done |= (size * mu <= math.sqrt(tolerance) * scale_b) & (recent - past <= 0.1 * tolerance * scale_b)
        if time.monotonic() > deadline or iteration == max_iterations:
            done[:] = True
        live = ~done  # Schur matrices only for rows still going
        M_factor, m_info = torch.linalg.cholesky_ex(_schur_matrix(X[live], G[live], C))
        done[live] |= m_info != 0  # numerically singular Schur matrix: keep the bound reached
        if done.any():
            _finish(torch, Qn[done], C, p, y[done], ids[done], bounds)
            _points(torch, X[done], ids[done], fractions)
            keep = ~done
            if not keep.any():
                break
            Qn, X, Z, G, y, ids, guess, mu, feasible_y = (a[keep] for a in (Qn, X, Z, G, y, ids, guess, mu, feasible_y))
            M_factor = M_factor[m_info == 0]
            history = [h[keep] for h in history]
        solve = lambda rhs: torch.cholesky_solve(rhs[:, :, None], M_factor)[:, :, 0]  # noqa: E731
        AG = _constraint_values(G, C)
        dy_p = solve(b.expand(y.shape[0], -1))
        dX_p = _times_dual_step(X, dy_p, C) @ G - X
        dX_p = (dX_p + dX_p.transpose(1, 2)) / 2.0
        dZ_p = _matrix(Qn, C, y + dy_p) - Z
        t_primal = _grid_step(torch, X, dX_p, torch.clamp(2.0 * guess[:, 0], max=1.0), 0.5)
        t_dual = _grid_step(torch, Z, dZ_p, torch.clamp(2.0 * guess[:, 1], max=1.0), 0.5)
        guess = torch.stack((t_primal, t_dual), dim=1)
        mu_affine = ((X + t_primal[:, None, None] * dX_p) * (Z + t_dual[:, None, None] * dZ_p)).sum(dim=(1, 2)) / size
        sigma = torch.clamp((mu_affine / mu) ** 3, max=1.0)
        R = -_times_dual_step(dX_p, dy_p, C)
        dy = solve(b - (sigma * mu)[:, None] * AG + _product_constraint_values(R, G, C))
        dX = (sigma * mu)[:, None, None] * G - X + (_times_dual_step(X, dy, C) - R) @ G
        dX = (dX + dX.transpose(1, 2)) / 2.0
        dZ = _matrix(Qn, C, y + dy) - Z
        first = Qn.new_full((y.shape[0],), 1.0 / STEP_FRACTION)
        X = X + (STEP_FRACTION * _grid_step(torch, X, dX, first, 0.8))[:, None, None] * dX
        y = y + (STEP_FRACTION * _grid_step(torch, Z, dZ, first, 0.8))[:, None] * dy
        Z = _matrix(Qn, C, y)
    return bounds, total, fractions


def _points(torch, X, ids, fractions) -> None:
    """Write the primal points x / X_00 (clipped to [0, 1]; NaN where X_00 <= 0) into fractions[ids]."""
    x00 = X[:, 0, :1]
    point = torch.where(x00 > 0, torch.clamp(X[:, 1:, 0] / x00.clamp_min(1e-300), 0.0, 1.0), torch.nan)
    fractions[ids.cpu().numpy()] = point.cpu().numpy()


def _finish(torch, Qn, C, p, y, ids, bounds) -> None:
    """Write gamma_max + p^T rho (the rows' certified bounds, as ``shor.best_gamma``; y's own gamma where
    Q - diag s does not factor) into bounds[ids]."""
    g = C.shape[1]
    rho, s = y[:, 1:1 + g], y[:, 1 + g:]
    factor, info = torch.linalg.cholesky_ex(Qn - torch.diag_embed(s))
    gamma = torch.where(info == 0, _gamma_max(torch, factor, s - rho @ C.T) * (1.0 + 1e-12), y[:, 0])
    bounds[ids.cpu().numpy()] = (gamma + rho @ p).cpu().numpy()


def _gamma_max(torch, factor, v):
    """-v^T (Q - diag s)^-1 v / 4 per row, from the Cholesky factors of Q - diag s (``shor.gamma_max``)."""
    return -0.25 * (v * torch.cholesky_solve(v[:, :, None], factor)[:, :, 0]).sum(dim=1)


def _matrix(Qn, C, y):
    """Z(y) per row (``shor.dual_matrix`` without a linear term)."""
    g, n = C.shape[1], Qn.shape[1]
    gamma, rho, s = y[:, 0], y[:, 1:1 + g], y[:, 1 + g:]
    Z = Qn.new_empty((Qn.shape[0], n + 1, n + 1))
    Z[:, 0, 0] = -gamma
    border = (s - rho @ C.T) / 2.0
    Z[:, 0, 1:] = border
    Z[:, 1:, 0] = border
    Z[:, 1:, 1:] = Qn
    Z[:, 1:, 1:].diagonal(dim1=1, dim2=2).sub_(s)
    return Z


def _constraint_values(X, C):
    """A(X) per row (``primal_dual.constraint_values``)."""
    x = X[:, 1:, 0]
    return _cat((X[:, 0, :1], x @ C, X.diagonal(dim1=1, dim2=2)[:, 1:] - x))


def _product_constraint_values(R, G, C):
    """A(R G) per row from the entries of R G it reads (``primal_dual.product_constraint_values``)."""
    first = (R @ G[:, :, :1])[:, :, 0]
    diagonal = (R * G.transpose(1, 2)).sum(dim=2)
    return _cat((first[:, :1], first[:, 1:] @ C, diagonal[:, 1:] - first[:, 1:]))


def _times_dual_step(X, dy, C):
    """X A^T(dy) per row in O(n^2) (``primal_dual.times_dual_step``)."""
    g = C.shape[1]
    ds = dy[:, 1 + g:]
    d = _cat((dy[:, :1], ds))
    u = (dy[:, 1:1 + g] @ C.T - ds) / 2.0
    out = X * d[:, None, :]
    out[:, :, 1:] += X[:, :, :1] * u[:, None, :]
    out[:, :, 0] += (X[:, :, 1:] @ u[:, :, None])[:, :, 0]
    return out


def _schur_matrix(X, G, C):
    """M_kl = tr(A_k X A_l G) per row by ``primal_dual.schur_matrix``'s closed forms."""
    x00, x, Xb = X[:, 0, 0], X[:, 1:, 0], X[:, 1:, 1:]
    g00, gv, Gb = G[:, 0, 0], G[:, 1:, 0], G[:, 1:, 1:]
    Cx, Cg, XbC, GbC = x @ C, gv @ C, Xb @ C, Gb @ C
    groups, n = C.shape[1], x.shape[1]
    r, s = slice(1, 1 + groups), slice(1 + groups, None)
    outer = lambda a, b: a[:, :, None] * b[:, None, :]  # noqa: E731
    col = lambda a: a[:, None, None]  # noqa: E731
    M = X.new_empty((X.shape[0], 1 + groups + n, 1 + groups + n))
    M[:, 0, 0] = x00 * g00
    M[:, 0, r] = 0.5 * (x00[:, None] * Cg + g00[:, None] * Cx)
    M[:, 0, s] = x * gv - 0.5 * (x00[:, None] * gv + g00[:, None] * x)
    M[:, r, r] = 0.25 * (outer(Cx, Cg) + outer(Cg, Cx) + col(g00) * (C.T @ XbC) + col(x00) * (C.T @ GbC))
    XbCt, GbCt = XbC.transpose(1, 2), GbC.transpose(1, 2)
    M[:, r, s] = (0.5 * (XbCt * gv[:, None, :] + GbCt * x[:, None, :]) - 0.25 * (outer(Cx, gv) + outer(Cg, x))
                  - 0.25 * (col(g00) * XbCt + col(x00) * GbCt))
    M[:, s, s] = (0.25 * (outer(x, gv) + outer(gv, x) + col(g00) * Xb + col(x00) * Gb)
                  - 0.5 * (Xb * (gv[:, :, None] + gv[:, None, :]) + Gb * (x[:, :, None] + x[:, None, :])) + Xb * Gb)
    M[:, 1:, 0] = M[:, 0, 1:]
    M[:, s, r] = M[:, r, s].transpose(1, 2)
    return M


def _grid_step(torch, P, D, first, shrink: float):
    """Per row the first of first, first * shrink, ... (down to 1e-8) with P + t D positive definite (one batched
    Cholesky test per grid point for the rows still looking), 0 when none is (``primal_dual._step_length``)."""
    t, step = first.clone(), torch.zeros_like(first)
    looking = torch.ones_like(first, dtype=torch.bool)
    while True:
        idx = torch.nonzero(looking & (t > 1e-8))[:, 0]
        if idx.numel() == 0:
            return step
        passed = torch.linalg.cholesky_ex(P[idx] + t[idx, None, None] * D[idx])[1] == 0
        step[idx[passed]] = t[idx[passed]]
        looking[idx[passed]] = False
        t[idx[~passed]] *= shrink


def _cat(parts):
    import torch

    return torch.cat(parts, dim=1)
