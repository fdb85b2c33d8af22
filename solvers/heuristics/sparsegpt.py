"""SparseGPT (Frantar & Alistarh 2023): OBS greedy pruning with lazy column-block updates.

Columns are processed left to right in blocks of ``blocksize`` (128). At each block start the
mask of the block is chosen from the OBS saliency w^2 / [U_jj]^2 of the *updated* weights, where
U is the upper Cholesky factor of H_d^{-1} (H_d = H + damping * mean(diag H) * I). Each column is
then pruned and the error is pushed onto the not yet processed columns (OBS update).

The mask choice is done inside the instance's own groups, so the mask is feasible for the pattern:
- per-row, ``quota="row"`` (default): each row's budget spans the blocks, like the reference's unstructured
  threshold: a row's threshold is the p-th smallest initial saliency of the row (p = its pruned count), and in
  each block the row prunes its entries whose updated saliency lies at or below it, clamped so the row can still
  meet its budget exactly (at most what is left, at least what is left minus the columns after the block);
- per-row, ``quota="block"``: every row prunes a fixed quota in each block; quotas add up to the row's total;
- per-layer: each block prunes a quota of its whole d_out x width sub-matrix;
- N:M: every group of M columns (the block size is a multiple of M) prunes M - N per row, as in
  the paper's N:M variant.
Quotas split a total in proportion to block widths (largest remainder). ``info["weights"]`` holds
the re-fitted weights (zero where pruned).
"""
from __future__ import annotations

import numpy as np

from ..core.objective import damped_gram
from ..core.problem import LayerProblem
from ..core.result import MethodAnswer


def allocate(total: int, sizes: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``sizes`` (largest remainder, ties first)."""
    sizes = np.asarray(sizes, dtype=np.float64)
    exact = total * sizes / sizes.sum()
    parts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - parts), kind="stable")
    parts[order[: total - parts.sum()]] += 1
    return parts


def _block_pruned(saliency: np.ndarray, problem: LayerProblem, quota: int) -> np.ndarray:
    """Bool array (d_out, width): True where pruned, the ``quota`` lowest saliencies per row or per block."""
    pruned = np.zeros(saliency.shape, dtype=bool)
    if problem.pattern.kind == "per-layer":
        lowest = np.argsort(saliency, axis=None, kind="stable")[:quota]
        pruned.reshape(-1)[lowest] = True
    else:
        lowest = np.argsort(saliency, axis=1, kind="stable")[:, :quota]
        np.put_along_axis(pruned, lowest, True, axis=1)
    return pruned


QUOTAS = ("row", "block")


def _row_threshold_pruned(saliency: np.ndarray, threshold: np.ndarray, left: np.ndarray, after: int) -> np.ndarray:
    """Bool (d_out, width): per row the lowest saliencies, as many as lie at or below the row's threshold, clamped to
    [left - after, left] (``left``: the row's pruned count still to place; ``after``: columns after this block)."""
    width = saliency.shape[1]
    count = np.clip((saliency <= threshold[:, None]).sum(axis=1), np.maximum(left - after, 0), np.minimum(left, width))
    ranks = np.argsort(np.argsort(saliency, axis=1, kind="stable"), axis=1, kind="stable")
    return ranks < count[:, None]


def solve_sparsegpt(
    problem: LayerProblem, *, time_limit=None, seed=0, blocksize: int = 128, quota: str = "row"
) -> MethodAnswer:
    """Run SparseGPT; see the module docstring. Its damping is the problem's (``solve_layer(damping=...)``,
    SparseGPT's percdamp, default 0.01): one damping for the OBS updates and the reconstruct objective."""
    damping = problem.damping
    pattern = problem.pattern
    d_out, d_in = problem.shape
    if pattern.kind == "N:M":
        blocksize = max(pattern.group_size, blocksize - blocksize % pattern.group_size)
    W = problem.W.copy()
    H_inv = np.linalg.inv(damped_gram(problem.H, damping))
    U = np.linalg.cholesky((H_inv + H_inv.T) / 2).T  # H_d^{-1} = U^T U, U upper triangular
    starts = np.arange(0, d_in, blocksize)
    widths = np.minimum(blocksize, d_in - starts)
    row_budget = pattern.kind == "per-row" and quota == "row"
    if row_budget:
        initial = W**2 / np.diag(U)[None, :] ** 2
        threshold = np.sort(initial, axis=1)[:, pattern.prune - 1]
        left = np.full(d_out, pattern.prune, dtype=np.int64)
    if pattern.kind == "per-row":
        quotas = allocate(pattern.prune, widths)
    elif pattern.kind == "per-layer":
        quotas = allocate(pattern.prune, widths * d_out)
    pruned = np.zeros((d_out, d_in), dtype=bool)
    for b, (i1, width) in enumerate(zip(starts, widths)):
        i2 = i1 + width
        W1, U1 = W[:, i1:i2].copy(), U[i1:i2, i1:i2]
        errors = np.zeros((d_out, width))
        if row_budget:
            block = _row_threshold_pruned(W1**2 / np.diag(U1)[None, :] ** 2, threshold, left, d_in - i2)
            pruned[:, i1:i2] = block
            left -= block.sum(axis=1)
        elif pattern.kind != "N:M":
            pruned[:, i1:i2] = _block_pruned(W1**2 / np.diag(U1)[None, :] ** 2, problem, int(quotas[b]))
        for i in range(width):
            if pattern.kind == "N:M" and i % pattern.group_size == 0:
                cols = slice(i, i + pattern.group_size)
                saliency = W1[:, cols] ** 2 / np.diag(U1)[None, cols] ** 2
                pruned[:, i1 + i : i1 + i + pattern.group_size] = _block_pruned(saliency, problem, pattern.prune)
            column = W1[:, i]
            kept = np.where(pruned[:, i1 + i], 0.0, column)
            errors[:, i] = (column - kept) / U1[i, i]
            W1[:, i:] -= np.outer(errors[:, i], U1[i, i:])
            W1[:, i] = kept
        W[:, i1:i2] = W1
        W[:, i2:] -= errors @ U[i1:i2, i2:]
    W[pruned] = 0.0
    D = problem.W - W
    info = {"weights": W, "weights_error": float(np.einsum("ij,ij->", D @ problem.H, D)), "blocksize": blocksize, "damping": damping,
            "quota": quota if pattern.kind == "per-row" else "block"}
    return MethodAnswer(~pruned, info=info)
