"""SparseSwaps: best-improvement 1-swaps inside the pattern's groups, from a warm-start mask.

A swap un-prunes weight j and prunes weight l of the same group. For one row with pruned weights
e = w * (1 - m), f = e^T H e and c = H e, the exact change of f is O(1) per pair:
    delta(j, l) = A_j + B_l - 2 w_j w_l H_jl   (j, l in the same row)
    A_j = -2 w_j c_j + w_j^2 H_jj  (un-prune j),   B_l = 2 w_l c_l + w_l^2 H_ll  (prune l),
and delta = A_j + B_l when j and l lie in different rows (per-layer pattern).

Row-local patterns (per-row, N:M): every row independently applies its best swap per iteration
(all rows at once, vectorised), updating c in O(d_in) and a cached table
Q[g, a, b] = w_P[a] H[P_a, K_b] w_K[b] of the row's pruned x kept pairs in O(p + k).
Per-layer: rounds of (i) cross-row swaps, the best pairs on disjoint rows applied together, and
(ii) within-row swaps with the row-local routine at fixed row counts, until neither improves.
Every applied swap strictly decreases f, so the method is monotone and stops at a 1-swap local
optimum (``info["local_optimum"]``), unless ``time_limit`` or ``max_iters`` stops it first.
"""
from __future__ import annotations

import time

import numpy as np

from ..core.arrays import add_into, check_device, device_of, namespace, to_device, to_numpy
from ..core.objective import mask_error_rows
from ..core.problem import LayerProblem
from ..core.result import MethodAnswer
from .scores import warm_start_mask

TORCH_TABLE_BYTES = 4 << 30  # pair tables per torch pass (4 GiB)
REL_TOL = 1e-12  # a swap must lower the row error by more than REL_TOL * (row error) to count


def _slots(xp, mask_rows, col_groups, keep: int):
    """Column indices of pruned and kept weights per (row, group): shapes (R, g, p), (R, g, k)."""
    grouped = mask_rows[:, col_groups]  # (R, g, s)
    order = xp.argsort(xp.astype(grouped, xp.int8), axis=2, stable=True)  # pruned (False) first
    cols = xp.broadcast_to(col_groups, grouped.shape)
    sorted_cols = xp.take_along_axis(cols, order, axis=2)
    size = grouped.shape[2]
    return xp.asarray(sorted_cols[..., : size - keep], copy=True), xp.asarray(sorted_cols[..., size - keep :], copy=True)


def swap_rows(W, H, mask, col_groups, keep: int, deadline: float, max_iters: int):
    """Best-improvement swaps for rows whose groups (``col_groups``) each keep ``keep``.

    Returns (mask, swaps per row, converged). Rows are independent and iterate together; a row
    with no improving swap never gets one later, so finished rows are dropped from the arrays.
    Works on numpy arrays or torch tensors (all on one device; GPU for CUDA tensors).
    """
    xp = namespace(W, H, mask)
    dev = device_of(W)
    col_groups = xp.asarray(col_groups, device=dev)
    mask = xp.asarray(mask, copy=True)
    swaps = xp.zeros(W.shape[0], dtype=xp.int64, device=dev)
    if keep in (0, col_groups.shape[1]) or W.shape[0] == 0:
        return mask, swaps, True
    diag = xp.linalg.diagonal(H)
    ids = xp.arange(W.shape[0], device=dev)  # original row of each position in the state arrays
    P, K = _slots(xp, mask, col_groups, keep)
    pos = ids[:, None, None]
    wP, wK = W[pos, P], W[pos, K]
    Q2 = -2 * wP[..., :, None] * H[P[..., :, None], K[..., None, :]] * wK[..., None, :]  # -2 w_j H_jl w_l
    E = xp.where(mask, 0.0, W)
    C = E @ H
    f = xp.sum(C * E, axis=1)
    buffer = xp.empty_like(Q2)
    n_slots = P.shape[2]
    for _ in range(max_iters):
        if time.perf_counter() > deadline:
            return mask, swaps, False
        n = ids.shape[0]
        rows = xp.arange(n, device=dev)[:, None, None]
        A = -2 * wP * C[rows, P] + wP**2 * diag[P]
        B = 2 * wK * C[rows, K] + wK**2 * diag[K]
        work = add_into(Q2, B[..., None, :], buffer[:n])
        best_b = xp.argmin(work, axis=-1)  # best kept partner of every pruned slot
        per_slot = xp.take_along_axis(work, best_b[..., None], axis=-1)[..., 0] + A
        flat = xp.reshape(per_slot, (n, -1))
        best = xp.argmin(flat, axis=1)
        best_delta = xp.take_along_axis(flat, best[:, None], axis=1)[:, 0]
        improving = best_delta < -REL_TOL * xp.clip(f, min=np.finfo(np.float64).tiny)
        n_improving = int(xp.sum(xp.astype(improving, xp.int64)))
        if n_improving == 0:
            return mask, swaps, True
        if n_improving < 0.8 * n:  # compact: drop rows at their local optimum
            ids, P, K, wP, wK, Q2, C, f = (x[improving] for x in (ids, P, K, wP, wK, Q2, C, f))
            best, best_delta, best_b = best[improving], best_delta[improving], best_b[improving]
            improving = xp.ones(ids.shape[0], dtype=xp.bool, device=dev)
        at = xp.nonzero(improving)[0]
        g, a = best[at] // n_slots, best[at] % n_slots
        b = best_b[at, g, a]
        j, l = P[at, g, a], K[at, g, b]
        rows_w = ids[at]
        w_j, w_l = W[rows_w, j], W[rows_w, l]
        mask[rows_w, j], mask[rows_w, l] = True, False
        C[at] += -w_j[:, None] * H[j] + w_l[:, None] * H[l]
        f[at] += best_delta[at]
        P[at, g, a], K[at, g, b] = l, j
        wP[at, g, a], wK[at, g, b] = w_l, w_j
        Q2[at, g, a, :] = -2 * w_l[:, None] * H[l[:, None], K[at, g]] * wK[at, g]
        Q2[at, g, :, b] = -2 * wP[at, g] * H[P[at, g], j[:, None]] * w_j[:, None]
        swaps[rows_w] += 1
    return mask, swaps, False


def _cross_row_round(W: np.ndarray, H: np.ndarray, mask: np.ndarray) -> int:
    """Apply improving cross-row swaps (un-prune in row a, prune in row b != a) on disjoint rows."""
    E = np.where(mask, 0.0, W)
    C = E @ H
    f = np.einsum("ij,ij->i", C, E)
    diag = np.diag(H)[None, :]
    A = np.where(mask, np.inf, -2 * W * C + W**2 * diag)
    B = np.where(mask, 2 * W * C + W**2 * diag, np.inf)
    a_col, b_col = A.argmin(axis=1), B.argmin(axis=1)
    a_min, b_min = A.min(axis=1), B.min(axis=1)
    tol = REL_TOL * max(float(f.sum()), np.finfo(float).tiny)
    b_order = [int(r) for r in np.argsort(b_min, kind="stable") if np.isfinite(b_min[r])]
    used: set[int] = set()
    applied = 0
    for a in np.argsort(a_min, kind="stable"):
        a = int(a)
        if a in used or not np.isfinite(a_min[a]):
            continue
        b = next((r for r in b_order if r not in used and r != a), None)
        if b is None:
            break
        if a_min[a] + b_min[b] < -tol:
            mask[a, a_col[a]], mask[b, b_col[b]] = True, False
            used.update((a, b))
            applied += 1
    return applied


def per_layer_swaps(problem: LayerProblem, mask: np.ndarray, deadline: float, max_iters: int):
    W, H = problem.W, problem.H
    all_cols = np.arange(W.shape[1])[None, :]
    total_swaps, rounds = 0, 0
    while rounds < max_iters:
        rounds += 1
        cross = _cross_row_round(W, H, mask)
        within = 0
        for kept in np.unique(mask.sum(axis=1)):
            rows = np.flatnonzero(mask.sum(axis=1) == kept)
            mask[rows], swaps, done = swap_rows(W[rows], H, mask[rows], all_cols, int(kept), deadline, max_iters)
            within += int(swaps.sum())
            if not done:
                return mask, total_swaps + cross + within, False
        total_swaps += cross + within
        if cross == 0 and within == 0:
            return mask, total_swaps, True
        if time.perf_counter() > deadline:
            return mask, total_swaps, False
    return mask, total_swaps, False


def solve_sparseswaps(problem: LayerProblem, *, time_limit=None, seed=0, warm_start="wanda",
                      max_iters: int = 100_000, chunk_rows: int | None = None, device: str | None = None) -> MethodAnswer:
    """Refine ``warm_start`` (score name or mask) by 1-swaps; mask objective only (see module doc).

    ``device`` ("cuda", "cuda:N", "cpu-torch"; default None = numpy) runs the row-local swaps with
    torch there; per-layer patterns always run in numpy. ``chunk_rows`` rows share one pass (their
    pair tables, rows x pruned x kept float64, must fit in memory): default 64 on numpy and as many as
    fit in ``TORCH_TABLE_BYTES`` on torch.
    """
    check_device(device)
    start = warm_start_mask(problem, warm_start)
    deadline = time.perf_counter() + (time_limit if time_limit is not None else np.inf)
    if problem.pattern.row_local:
        mask = start.copy()
        col_groups = problem.pattern.row_groups()
        if chunk_rows is None:
            table = col_groups.shape[0] * problem.pattern.keep * problem.pattern.prune * 8
            chunk_rows = 64 if device in (None, "cpu") else max(1, TORCH_TABLE_BYTES // max(table, 1))
        W, H = to_device(problem.W, device), to_device(problem.H, device)
        swaps, converged = 0, True
        for r0 in range(0, mask.shape[0], chunk_rows):
            rows = slice(r0, r0 + chunk_rows)
            chunk, chunk_swaps, done = swap_rows(W[rows], H, to_device(mask[rows], device), col_groups,
                                                 problem.pattern.keep, deadline, max_iters)
            mask[rows] = to_numpy(chunk)
            swaps += int(chunk_swaps.sum())
            converged &= done
    else:
        mask, swaps, converged = per_layer_swaps(problem, start.copy(), deadline, max_iters)
    start_error = float(mask_error_rows(problem.W, problem.H, start).sum())
    info = {"swaps": swaps, "local_optimum": bool(converged), "start_mask_error": start_error,
            "warm_start": warm_start if isinstance(warm_start, str) else "mask",
            "device": device if problem.pattern.row_local and device else "cpu"}
    return MethodAnswer(mask, info=info)
