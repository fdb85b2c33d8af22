"""A feasible mask row from a row relaxation's primal point: certify's masks from its Shor and DNN-ascent rows.

The Shor SDP of a row (``sdp.shor``) has a primal point e in [0, 1]^n, the pruned fractions (``RowSDP.primal``:
x / X_00 of the last primal iterate). Rounding prunes the p_g largest fractions of each group g (a feasible mask of
the pattern), and SparseSwaps' best-improvement 1-swaps (``heuristics.sparseswaps.swap_rows``) then take it to a
local optimum. The relaxation is solved for the row's bound anyway, so the mask costs only the swaps.

Session 28, full SmolLM2 layer-3 rows (576 wide), the Shor point at tolerance 1e-2, error of the rounded and swapped
mask over SparseSwaps' (from Wanda): o_proj per-row 50 % 0.66-0.83 on 7 rows (rounding alone 0.86-3.35), o_proj 2:4
0.88-0.97, q_proj per-row 0.95-1.004, k_proj per-row 0.98-0.99, gate_proj 2:4 0.96-1.00. SparseSwaps' local optimum
from Wanda is far from the best on o_proj: there the relaxation's point starts the swaps in a better basin. A row
keeps whichever mask has the lower error (certify). Scripts: ``results/certify-bench/rounded-masks``.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.objective import mask_error_rows
from ..heuristics.sparseswaps import swap_rows

SWAP_ITERATIONS = 100_000  # swaps of the polish at most (it stops at a local optimum long before)


def pruned_by_fractions(fractions: np.ndarray, groups, counts) -> np.ndarray:
    """The pruned indicator (bool) that prunes the ``counts[g]`` largest ``fractions`` of each group (index arrays;
    ties to the lower index): the plain rounding of a relaxation's point."""
    pruned = np.zeros(len(fractions), dtype=bool)
    for members, p in zip(groups, counts):
        members = np.asarray(members)
        pruned[members[np.argsort(-fractions[members], kind="stable")[: int(p)]]] = True
    return pruned


def rounded_mask_row(w: np.ndarray, H: np.ndarray, fractions: np.ndarray, col_groups: np.ndarray, keep: int,
                     deadline: float = math.inf) -> tuple[np.ndarray, float]:
    """(mask row, its error (w o e)^T H (w o e)): the ``fractions`` (pruned, one per weight of the row ``w``) rounded
    to prune all but the ``keep`` smallest of each group (``col_groups``: groups x size indices), then swapped to a
    local optimum (until ``deadline``, ``time.perf_counter``; a stopped polish still gives a feasible mask)."""
    fractions = np.asarray(fractions, dtype=np.float64)
    col_groups = np.atleast_2d(np.asarray(col_groups))
    if fractions.shape != w.shape or not np.all(np.isfinite(fractions)):
        raise ValueError(f"fractions must be a finite vector of the row's length {len(w)}")
    mask = ~pruned_by_fractions(fractions, col_groups, [len(members) - keep for members in col_groups])
    polished, _, _ = swap_rows(w[None, :], H, mask[None, :], col_groups, keep, deadline, SWAP_ITERATIONS)
    row = np.asarray(polished, dtype=bool).reshape(-1)
    return row, float(mask_error_rows(w[None, :], H, row[None, :])[0])
