"""The independent blocks of a layer problem for the branch-and-bound: one per row (per-row and N:M), or the
whole matrix as one block (per-layer, at most ``PER_LAYER_MAX`` weights), each with its QCR-convexified
objective scaled by the warm start's error (so every block is unit-sized: scale invariance)."""
from __future__ import annotations

import math
import time

import numpy as np

from ...core.patterns import Pattern
from ...core.problem import LayerProblem
from ...heuristics.sparseswaps import per_layer_swaps, swap_rows
from ...sdp.barrier import fixed_row_bound
from ...sdp.dnn_ascent import FINAL_TOLERANCE, multiplier_margin, multiplier_objective, row_dnn_ascent_bound
from ...sdp.qcr import DIAG_TOLERANCE, convexify
from .node import Block
from .settings import DEFAULT_SETTINGS, Settings

PER_LAYER_MAX = 256


def row_block(problem: LayerProblem, start: np.ndarray, i: int, qcr: str, sdp_max_n: int, node_sdp: bool = False,
              time_limit: float | None = None, settings: Settings = DEFAULT_SETTINGS):
    """Block of row ``i`` of a row-local pattern, its scale (the warm start's row error, > 0) and QCR method;
    the root convexification stops at ``time_limit`` (a weaker, still exact reformulation)."""
    pattern, H = problem.pattern, problem.H
    col_groups = pattern.row_groups()
    n = problem.shape[1]
    row_pattern = Pattern(pattern.name, pattern.kind, (1, n), pattern.keep, col_groups)
    w = problem.W[i]
    Q = np.outer(w, w) * H
    scale = float((~start[i]).astype(float) @ Q @ (~start[i]).astype(float))
    conv = convexify(Q / scale, pattern.prune * len(col_groups), qcr, sdp_max_n, time_limit=time_limit,
                     diag_tolerance=settings.root_sdp_tolerance if node_sdp else DIAG_TOLERANCE)

    def error(mask):
        z = (~mask.ravel()).astype(float)
        return float(z @ Q @ z) / scale

    def polish(mask):
        out, _, _ = swap_rows(w[None, :], H, mask.reshape(1, -1), col_groups, pattern.keep, math.inf, 10_000)
        return out

    root_sdp = None
    if node_sdp and conv.sdp_point is not None:  # one group's rho serves every group (same Lagrangian)
        s_root, rho_root, tau_root, primal_root = conv.sdp_point
        root_sdp = (conv.relaxation_bound, (s_root, np.full(len(col_groups), float(rho_root[0])), tau_root, primal_root))
    return Block(conv.Q_psd, conv.c[None, :], row_pattern, start[i : i + 1].copy(), error, polish,
                 Q / scale if node_sdp else None, list(col_groups) if node_sdp else None, root_sdp, settings), scale, \
        conv.method


def root_ascent(block: Block, upper: float, time_limit: float | None) -> bool:
    """Lift the block's node SDP bounds by the root's DNN multipliers (``Settings.root_ascent_steps``): when the
    ascent (``sdp.dnn_ascent``, aimed at the incumbent's error ``upper``) beats the root's Shor bound, its best (N, mu)'s
    multiplier objective becomes ``bound_Q`` / ``bound_linear`` and the root's bound and dual point are re-solved on it
    (the barrier, so children can warm-start from it). Returns whether it did."""
    started = time.perf_counter()
    groups, counts = block.row_groups, np.full(len(block.row_groups), block.pattern.prune)
    ascent = row_dnn_ascent_bound(block.row_Q, counts, groups, upper=upper, max_steps=block.settings.root_ascent_steps,
                                  time_limit=time_limit, step_tolerance=FINAL_TOLERANCE)  # as measured in Settings
    if ascent.multipliers is None or ascent.bound <= block.root_sdp[0]:
        return False
    N, mu = ascent.multipliers
    bound_Q, bound_linear = multiplier_objective(block.row_Q, N, mu, counts, groups)
    margin = multiplier_margin(block.row_Q, N, mu, counts, groups)
    left = None if time_limit is None else max(time_limit - (time.perf_counter() - started), 1e-3)
    free = np.zeros(len(bound_Q), dtype=bool)
    sdp, warm = fixed_row_bound(bound_Q, groups, block.pattern.prune, free, free, linear=bound_linear,
                                tolerance=block.settings.root_sdp_tolerance, time_limit=left)
    if warm is None:
        return False
    block.bound_Q, block.bound_linear, block.bound_margin = bound_Q, bound_linear, margin
    block.plain_root_sdp, block.root_sdp = block.root_sdp, (max(sdp, ascent.bound), warm)
    return True


def layer_block(problem: LayerProblem, start: np.ndarray, settings: Settings = DEFAULT_SETTINGS):
    """The per-layer pattern as one block over all weights (block-diagonal Q, diagonal QCR)."""
    d_out, d_in = problem.shape
    Q = np.zeros((d_out * d_in, d_out * d_in))
    for i in range(d_out):
        rows = slice(i * d_in, (i + 1) * d_in)
        Q[rows, rows] = np.outer(problem.W[i], problem.W[i]) * problem.H
    z0 = (~start.ravel()).astype(float)
    scale = max(float(z0 @ Q @ z0), 1e-300)
    conv = convexify(Q / scale, problem.pattern.prune, "min-eig")
    pattern = Pattern(problem.pattern.name, "per-layer", (1, d_out * d_in), problem.pattern.keep,
                      np.arange(d_out * d_in)[None, :])

    def error(mask):
        z = (~mask.ravel()).astype(float)
        return float(z @ Q @ z) / scale

    def polish(mask):
        out, _, _ = per_layer_swaps(problem, mask.reshape(d_out, d_in).copy(), math.inf, 10_000)
        return out.reshape(1, -1)

    return Block(conv.Q_psd, conv.c[None, :], pattern, start.reshape(1, -1).copy(), error, polish,
                 settings=settings), scale, "min-eig"
