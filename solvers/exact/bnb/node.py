"""The branch-and-bound's data: an open node (its fixings, warm start and bound), an independent block
(a row, or the whole per-layer matrix) with its convexified objective, and the run's counters."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...core.patterns import Pattern
from .heuristics import HEURISTICS
from .settings import BOUND_MARGIN, DEFAULT_SETTINGS, Settings


@dataclass(order=True)
class Node:
    bound: float
    order: int
    keep: np.ndarray = field(compare=False)    # fixed to keep
    prune: np.ndarray = field(compare=False)   # fixed to prune
    active: list = field(compare=False)
    depth: int = field(compare=False)
    branched: tuple | None = field(default=None, compare=False)  # (index, side, distance moved); bound = parent's
    sdp_warm: tuple | None = field(default=None, compare=False)  # parent's SDP dual point (row_sdp warm start)


@dataclass
class Block:
    """One independent sub-problem: keep-mask of shape (1, n) under ``pattern``."""
    Q: np.ndarray            # convexified quadratic (scaled)
    c: np.ndarray            # linear term on pruned indicators (scaled)
    pattern: Pattern
    start: np.ndarray        # feasible warm-start mask (1, n)
    error: callable          # mask -> true (scaled) error
    polish: callable         # mask -> 1-swap local optimum
    row_Q: np.ndarray | None = None   # true (scaled) quadratic on pruned indicators, for node SDP bounds
    row_groups: list | None = None    # column groups of the row (node SDP bounds)
    root_sdp: tuple | None = None     # (bound, (s, rho per group, tau, primal)) of the root's diagonal SDP, if any
    settings: Settings = DEFAULT_SETTINGS
    bound_Q: np.ndarray | None = None       # node SDP bounds' objective e^T bound_Q e + 2 bound_linear^T e when it is
    bound_linear: np.ndarray | None = None  # not row_Q's: the root's DNN multipliers (``sdp.dnn_ascent``), <= the
    bound_margin: float = 0.0               # error on binaries; bound_margin: its rounding margin, off every bound
    plain_root_sdp: tuple | None = None     # root_sdp of row_Q when root_sdp is the multiplier objective's

    def uses_multipliers(self, depth: int) -> bool:
        """Whether a node at ``depth`` is bounded with the multiplier objective (``Settings.ascent_depth``)."""
        limit = self.settings.ascent_depth
        return self.bound_Q is not None and (limit is None or depth <= limit)

    def sdp_objective(self, depth: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(matrix, linear term or None) of a node SDP bound at ``depth``: the multiplier objective where it applies,
        else row_Q (either is at most the error on every binary row, so any mix of them is valid)."""
        return (self.bound_Q, self.bound_linear) if self.uses_multipliers(depth) else (self.row_Q, None)

    def certified(self, sdp: float, depth: int) -> float:
        """A node SDP bound (of ``sdp_objective(depth)``) less its rounding margins, as the node's bound."""
        return sdp * (1 - BOUND_MARGIN) - BOUND_MARGIN - (self.bound_margin if self.uses_multipliers(depth) else 0.0)


@dataclass
class Stats:
    nodes: int = 0
    fw_iterations: int = 0
    tightened: int = 0
    sdp_bounds: int = 0
    sdp_pruned: int = 0   # nodes closed by their SDP bound alone (no FW run, no heuristic)
    sdp_fixed: int = 0    # variables fixed by the node SDP's dual point (fixing_increments)
    children_cut: int = 0  # children never queued: the parent's dual point with their fixing reaches the incumbent
    enumerated: int = 0   # nodes closed by evaluating every completion (bnb.enumeration)
    dnn_rows: int = 0     # blocks whose node bounds use the root's DNN multipliers (Settings.root_ascent_steps)
    calls: dict = field(default_factory=lambda: {name: 0 for _, name in HEURISTICS})
    wins: dict = field(default_factory=lambda: {name: 0 for _, name in HEURISTICS})
