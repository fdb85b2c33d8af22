"""Bound tightening at a node: dual fixing from the FW vertex's swap costs, and SDP dual fixing from the node
SDP's dual point (``sdp.barrier.fixing_increments``); the feasibility of a set of fixings."""
from __future__ import annotations

import numpy as np

from ...core.patterns import Pattern
from ...sdp.barrier import fixing_increments
from .node import Block, Node, Stats


def swap_costs(G: np.ndarray, V: np.ndarray, pattern: Pattern, free: np.ndarray) -> np.ndarray:
    """Delta_j: increase of the LMO value <G, V> when free variable j must differ from V_j."""
    delta = np.full(G.size, np.inf)
    g, v, f = G.ravel(), V.ravel(), free.ravel()
    for group in pattern.groups:
        chosen, other = group[v[group] & f[group]], group[~v[group] & f[group]]
        if chosen.size and other.size:
            delta[chosen] = g[other].min() - g[chosen]
            delta[other] = g[other] - g[chosen].max()
    return delta.reshape(G.shape)


def fixings_feasible(pattern: Pattern, keep: np.ndarray, prune: np.ndarray) -> bool:
    k, p = keep.ravel()[pattern.groups].sum(axis=1), prune.ravel()[pattern.groups].sum(axis=1)
    return bool(np.all(k <= pattern.keep) and np.all(p <= pattern.prune))


def respecting(active, keep, prune):
    return [(v, w) for v, w in active if np.all(v[keep]) and not np.any(v[prune])]


def sdp_fixings(block: Block, node: Node, sdp: float, warm: tuple, upper: float, stats: Stats):
    """Fix (in ``node``) every free entry whose one-side child the node SDP's dual point already bounds at or
    above ``upper`` (``barrier.fixing_increments``). Returns (sdp, rise if kept, rise if pruned), each
    (1, n), for the children's bounds; or None when the fixings leave the node without a feasible row."""
    Q, linear = block.sdp_objective(node.depth)
    rises = fixing_increments(Q, block.row_groups, block.pattern.prune, node.keep[0], node.prune[0], warm, linear)
    if rises is None:
        return (sdp, np.full(node.keep.shape, np.nan), np.full(node.keep.shape, np.nan))
    # the dual point's bound on the hyperplanes
    sdp = max(sdp, block.certified(rises[0], node.depth))
    if sdp >= upper:
        return None
    rise_keep, rise_prune = rises[1][None, :] * block.settings.rise_margin, rises[2][None, :] * block.settings.rise_margin
    no_keep = sdp + np.nan_to_num(rise_keep, nan=-np.inf) >= upper
    no_prune = sdp + np.nan_to_num(rise_prune, nan=-np.inf) >= upper
    if np.any(no_keep & no_prune):
        return None
    if no_keep.any() or no_prune.any():
        keep, prune = node.keep | no_prune, node.prune | no_keep
        if not fixings_feasible(block.pattern, keep, prune):
            return None
        stats.sdp_fixed += int(no_keep.sum() + no_prune.sum())
        node.keep, node.prune = keep, prune
    return (sdp, rise_keep, rise_prune)
