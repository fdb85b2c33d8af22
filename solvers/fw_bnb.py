"""Frank-Wolfe branch-and-bound (after Boscia.jl: Hendrych, Troppens, Besancon, Pokutta 2023).

Each independent block (a row for per-row and N:M; the whole matrix, as one block of at most
``PER_LAYER_MAX`` weights, for per-layer) is solved over its binary keep-mask x:
- objective: the QCR-convexified row error f(x) = (1-x)^T Q' (1-x) + c^T (1-x) (``solvers.qcr``; default
  ``qcr="diag"``: the diagonal Shor SDP by the barrier method, any n; exact on binaries), scaled by the
  warm start's error;
- node relaxation: f over the group hypersimplices with the node's fixings, by blended pairwise
  conditional gradients (``fw_engine``), warm-started from the parent's active set restricted to
  vertices that respect the fixings; FW gap tolerance tightens with depth;
- node bound: f(x) - FW gap (valid for inexact solves), never below the parent's;
- dual tightening: with LMO vertex V at the returned x and its group-wise swap costs Delta_j, any
  binary y with y_j != V_j has f(y) >= f(x) - gap(x) + Delta_j (x, gap and V of the same iterate),
  so j is fixed to V_j when that exceeds the incumbent;
- branching (``branching``): "most-fractional" (default), or "pseudocost": per variable and side the
  mean bound gain per unit of fractionality moved, learnt from solved children (Benichou et al. 1971),
  score = max(q_keep (1 - x_j), eps) * max(q_prune x_j, eps) (product rule), unknown pseudocosts set
  to the mean of the known ones; node selection: best bound, with a depth-first dive (last child
  first) every ``dive_every`` nodes to find incumbents;
- primal heuristics (``bnb_heuristics.HEURISTICS``) chosen at each node by a bandit (``bandits``),
  reward = 1 - exp(-relative incumbent improvement per second);
- node SDP bounds (``node_sdp=True``, the default; row-local patterns): below the root, before FW, the
  row's diagonal Shor SDP under the node's fixings (``row_sdp.fixed_row_bound``: a fresh, stronger
  convexification of the sub-problem, where the root QCR objective only restricts) raises the node
  bound and prunes without any FW run when it reaches the incumbent (the barrier stops there); FW
  then only supplies the point to branch on and round, with a looser tolerance and fewer
  iterations. On the real n = 48 slices this cut nodes 3-12x (e.g. 765 -> 63, 311 -> 63);
- SDP dual fixing (``SDP_FIXING``): the node SDP's dual point bounds every one-more-fixing child for free
  (``row_sdp.fixing_increments``: the Lagrangian's minimum on the cardinality hyperplanes plus
  (c - e_bar_j)^2 / P_jj, P the inverse restricted to them); an entry whose child on one side
  reaches the incumbent is fixed to the other side before FW, the node bound is raised to the dual
  point's minimum on the cardinality hyperplanes, and children are queued with their raised bounds.
  o_proj r504 n = 128 on a loaded 2-core machine: 9537 nodes to optimality without, 4543 with
  (30k fixings). Branching on the largest rises (a strong-branching proxy, product rule) was tried and
  dropped: same slice side by side, most fractional proved it in 189 s, the rise rule not in 420 s;
- limits: time, nodes, gap; on a limit the incumbent and the global bound (min over open nodes).
"""
from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .arrays import blas_threads_for
from .bandits import Bandit
from .bnb_heuristics import HEURISTICS, NodeContext
from .fw_engine import frank_wolfe, lmo
from .patterns import Pattern
from .problem import LayerProblem
from .qcr import SDP_MAX_N, convexify
from .result import MethodAnswer
from .row_sdp import fixed_row_bound, fixing_increments
from .mip import WARM_START_SHARE, warm_start_for
from .objective import mask_error_rows
from .sparseswaps import swap_rows

PER_LAYER_MAX = 256
BOUND_MARGIN = 1e-9
NODE_SDP_TOLERANCE = 3e-2  # relative barrier gap of node SDPs (their bounds are valid at any accuracy); with SDP
# fixing looser is faster: o_proj r504 n128 1e-3: 72 s / 4559 nodes, 1e-2: 45 s, 3e-2: 23 s / 1803 nodes, 1e-1: 23 s; r181 3e-2: 124 s
SDP_FIXING = True
RISE_MARGIN = 1 - 1e-6  # fixing_increments' rises are shrunk by this factor before any fixing (rounding safety)
NODE_CONVEXIFY = False  # True: FW at a node on the node SDP's convexification; measured: no clear gain (n64 sum 10.3 -> 10.1 s; n128 o_proj: one slice better, one worse)
NODE_FW_ITERATIONS = (20, 5, 60)  # with node SDPs: FW iterations at a node = min(a + b * depth, cap) (it only
# supplies a point); with dual fixing and 3e-2 node SDPs: o_proj n128 r504 24.2 -> 10.4 s, r181 89.5 -> 72.1 s vs (30, 10, none)


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


BRANCHINGS = ("most-fractional", "pseudocost")


class Pseudocosts:
    """Mean bound gain per unit of fractionality moved, per variable and side (keep = 1, prune = 0)."""

    def __init__(self, shape):
        self.total = np.zeros((2,) + tuple(shape))
        self.count = np.zeros((2,) + tuple(shape))

    def update(self, branched: tuple | None, parent_bound: float, bound: float) -> None:
        if branched is None or not math.isfinite(parent_bound) or not math.isfinite(bound):
            return
        index, side, moved = branched
        self.total[(side,) + index] += max(bound - parent_bound, 0.0) / max(moved, 1e-9)
        self.count[(side,) + index] += 1

    def choose(self, X: np.ndarray, candidates: np.ndarray) -> tuple:
        known = self.count > 0
        mean = np.where(known, self.total / np.maximum(self.count, 1), 0.0)
        default = float(mean[known].mean()) if known.any() else 1.0
        mean = np.where(known, mean, default)
        score = np.maximum(mean[1] * (1 - X), 1e-6 * default) * np.maximum(mean[0] * X, 1e-6 * default)
        return np.unravel_index(np.argmax(np.where(candidates, score, -np.inf)), X.shape)


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
    root_sdp: tuple | None = None     # (bound, (s, rho per group, tau)) of the root QCR's diagonal SDP, if any


@dataclass
class Stats:
    nodes: int = 0
    fw_iterations: int = 0
    tightened: int = 0
    sdp_bounds: int = 0
    sdp_pruned: int = 0   # nodes closed by their SDP bound alone (no FW run, no heuristic)
    sdp_fixed: int = 0    # variables fixed by the node SDP's dual point (fixing_increments)
    children_cut: int = 0  # children never queued: the parent's dual point with their fixing reaches the incumbent
    calls: dict = field(default_factory=lambda: {name: 0 for _, name in HEURISTICS})
    wins: dict = field(default_factory=lambda: {name: 0 for _, name in HEURISTICS})


def _swap_costs(G: np.ndarray, V: np.ndarray, pattern: Pattern, free: np.ndarray) -> np.ndarray:
    """Delta_j: increase of the LMO value <G, V> when free variable j must differ from V_j."""
    delta = np.full(G.size, np.inf)
    g, v, f = G.ravel(), V.ravel(), free.ravel()
    for group in pattern.groups:
        chosen, other = group[v[group] & f[group]], group[~v[group] & f[group]]
        if chosen.size and other.size:
            delta[chosen] = g[other].min() - g[chosen]
            delta[other] = g[other] - g[chosen].max()
    return delta.reshape(G.shape)


def _feasible(pattern: Pattern, keep: np.ndarray, prune: np.ndarray) -> bool:
    k, p = keep.ravel()[pattern.groups].sum(axis=1), prune.ravel()[pattern.groups].sum(axis=1)
    return bool(np.all(k <= pattern.keep) and np.all(p <= pattern.prune))


def _respecting(active, keep, prune):
    return [(v, w) for v, w in active if np.all(v[keep]) and not np.any(v[prune])]


def solve_block(block: Block, *, deadline: float, node_limit: int | None, gap_limit: float, bandit: Bandit,
                stats: Stats, dive_every: int, rng: np.random.Generator, branching: str = "most-fractional"
                ) -> tuple[np.ndarray, float, bool]:
    """Branch and bound on one block; returns (incumbent mask, lower bound, proven optimal)."""
    pseudocosts = Pseudocosts(block.start.shape) if branching == "pseudocost" else None
    ones = np.ones_like(block.start, dtype=np.float64)
    incumbent, upper = block.start.copy(), block.error(block.start)
    counter = itertools.count()
    empty = np.zeros_like(block.start)
    heap = [Node(-math.inf, next(counter), empty, empty, [(block.start.copy(), 1.0)], 0)]
    last_child = None
    while heap:
        if time.perf_counter() > deadline or (node_limit is not None and stats.nodes >= node_limit):
            break
        if min(n.bound for n in heap) >= upper * (1 - gap_limit) - BOUND_MARGIN:
            heap.clear()
            break
        dive = last_child is not None and stats.nodes % dive_every == 0 and last_child in heap
        node = last_child if dive else heap[0]
        heap.remove(node) if dive else heapq.heappop(heap)
        if dive:
            heapq.heapify(heap)
        last_child = None
        if node.bound >= upper - BOUND_MARGIN:
            continue
        stats.nodes += 1
        node_bound, sdp, sdp_warm, sdp_rises = node.bound, None, None, None
        sdp_on = block.row_Q is not None  # FW then only has to give a point to branch on: looser, shorter
        if sdp_on and node.depth > 0:  # the row's SDP bound under the node's fixings, first:
            stats.sdp_bounds += 1                       # when it prunes, no FW run is needed
            sdp, sdp_warm = fixed_row_bound(block.row_Q, block.row_groups, block.pattern.prune, node.keep[0],
                                            node.prune[0], node.sdp_warm, tolerance=NODE_SDP_TOLERANCE, cutoff=upper,
                                            time_limit=max(deadline - time.perf_counter(), 0))
        elif sdp_on and block.root_sdp is not None:  # the root's: the one QCR already solved
            sdp, sdp_warm = block.root_sdp
        if sdp is not None:
            node_bound = max(node_bound, sdp * (1 - BOUND_MARGIN) - BOUND_MARGIN)
            if node_bound >= upper - BOUND_MARGIN:
                stats.sdp_pruned += 1
                continue
            if SDP_FIXING and sdp_warm is not None:
                sdp_rises = _sdp_fixings(block, node, sdp * (1 - BOUND_MARGIN) - BOUND_MARGIN, sdp_warm, upper, stats)
                if sdp_rises is None:  # the bound reaches the incumbent, or the fixings left no feasible row
                    stats.sdp_pruned += 1
                    continue
                node_bound = max(node_bound, sdp_rises[0])
        active = _respecting(node.active, node.keep, node.prune) or \
            [(lmo(np.zeros_like(ones), block.pattern, node.keep, node.prune), 1.0)]
        Q_node, c_node = _node_objective(block, sdp_warm)
        run = frank_wolfe(ones, Q_node, block.pattern, active[0][0], linear=c_node, fixed_keep=node.keep,
                          fixed_prune=node.prune, variant="bpcg", **_node_fw_limits(node.depth, sdp_on),
                          time_limit=max(deadline - time.perf_counter(), 0), active_set=active,
                          cutoff=upper - BOUND_MARGIN)
        stats.fw_iterations += run.iterations
        bound = max(node_bound, run.lower_bound)
        if pseudocosts is not None:
            pseudocosts.update(node.branched, node.bound, bound)
        V = lmo(run.gradient, block.pattern, node.keep, node.prune)
        incumbent, upper = _run_heuristic(block, run, V, bandit, stats, incumbent, upper, rng)
        if bound >= upper - BOUND_MARGIN:
            continue
        free = ~(node.keep | node.prune)
        delta = _swap_costs(run.gradient, V, block.pattern, free)
        # f(y) >= f(x) - gap(x) + Delta_j holds for the *returned* x (whose gradient gave V and Delta),
        # not for the best bound of earlier iterates or of the parent.
        tighten = free & (run.objective - run.gap + delta > upper)
        keep, prune = node.keep | (tighten & V), node.prune | (tighten & ~V)
        stats.tightened += int(tighten.sum())
        fractional = free & ~tighten & (np.minimum(run.X, 1 - run.X) > 1e-7)
        if not fractional.any():
            candidate = (run.X > 0.5) | keep
            if np.all(candidate.ravel()[block.pattern.groups].sum(axis=1) == block.pattern.keep):
                value = block.error(candidate)
                if value < upper:
                    incumbent, upper = candidate, value
            if run.gap <= 1e-9 * max(abs(run.objective), 1e-12) and not tighten.any():
                continue  # the node's relaxation is solved at an integral point
            fractional = free & ~tighten
            if not fractional.any():
                continue
        if pseudocosts is not None:
            j = pseudocosts.choose(run.X, fractional)
        else:
            j = np.unravel_index(np.argmin(np.where(fractional, np.abs(run.X - 0.5), np.inf)), run.X.shape)
        children = []
        for side in ("keep", "prune"):
            k, p = keep.copy(), prune.copy()
            (k if side == "keep" else p)[j] = True
            if _feasible(block.pattern, k, p):
                moved = 1.0 - run.X[j] if side == "keep" else run.X[j]
                child_bound = bound
                if sdp_rises is not None:  # the parent's dual point, with j fixed too (fixing_increments)
                    rise = sdp_rises[1 if side == "keep" else 2][j]
                    child_bound = max(bound, sdp_rises[0] + (rise if np.isfinite(rise) else 0.0))
                    if child_bound >= upper - BOUND_MARGIN:
                        stats.children_cut += 1
                        continue
                child = Node(child_bound, next(counter), k, p, run.active, node.depth + 1,
                             (j, int(side == "keep"), float(moved)), sdp_warm)
                heapq.heappush(heap, child)
                children.append((side, child))
        if children:
            preferred = "keep" if run.X[j] >= 0.5 else "prune"
            last_child = next((c for s, c in children if s == preferred), children[0][1])
    if not heap:
        return incumbent, upper, True
    return incumbent, min(min(n.bound for n in heap), upper), False


def _sdp_fixings(block: Block, node: Node, sdp: float, warm: tuple, upper: float, stats: Stats):
    """Fix (in ``node``) every free entry whose one-side child the node SDP's dual point already bounds at or
    above ``upper`` (``row_sdp.fixing_increments``). Returns (sdp, rise if kept, rise if pruned), each
    (1, n), for the children's bounds; or None when the fixings leave the node without a feasible row."""
    rises = fixing_increments(block.row_Q, block.row_groups, block.pattern.prune, node.keep[0], node.prune[0], warm)
    if rises is None:
        return (sdp, np.full(node.keep.shape, np.nan), np.full(node.keep.shape, np.nan))
    sdp = max(sdp, rises[0] * (1 - BOUND_MARGIN) - BOUND_MARGIN)  # the dual point's bound on the hyperplanes
    if sdp >= upper:
        return None
    rise_keep, rise_prune = rises[1][None, :] * RISE_MARGIN, rises[2][None, :] * RISE_MARGIN
    no_keep = sdp + np.nan_to_num(rise_keep, nan=-np.inf) >= upper
    no_prune = sdp + np.nan_to_num(rise_prune, nan=-np.inf) >= upper
    if np.any(no_keep & no_prune):
        return None
    if no_keep.any() or no_prune.any():
        keep, prune = node.keep | no_prune, node.prune | no_keep
        if not _feasible(block.pattern, keep, prune):
            return None
        stats.sdp_fixed += int(no_keep.sum() + no_prune.sum())
        node.keep, node.prune = keep, prune
    return (sdp, rise_keep, rise_prune)


def _node_objective(block: Block, sdp_warm: tuple | None) -> tuple[np.ndarray, np.ndarray]:
    """(quadratic, linear term) of the node's convex objective: the root's QCR one, or with a node SDP
    the node's own diagonal convexification e^T (Q - diag s) e + s^T e (s = the node SDP's multipliers
    on the free entries, 0 on fixed ones: exact on binaries, convex on the node's face since
    Q_FF - diag s_F is positive definite at any strictly feasible SDP point). Its FW bound then
    matches the node's SDP bound, and so does the dual tightening built on it."""
    if sdp_warm is None or not NODE_CONVEXIFY:
        return block.Q, block.c
    s = np.nan_to_num(sdp_warm[0], nan=0.0)
    Q = block.row_Q.copy()
    Q[np.diag_indices_from(Q)] -= s
    return Q, s[None, :]


def _node_fw_limits(depth: int, sdp_on: bool) -> dict:
    """FW iteration cap and gap tolerance at a node: both tighten with depth; with node SDP bounds FW
    only supplies a point to branch on and round, so it stops sooner and looser."""
    a, b, cap = NODE_FW_ITERATIONS if sdp_on else (100, 50, math.inf)
    return {"max_iterations": int(min(a + b * depth, cap)), "gap_tolerance": max(1e-9, (1e-3 if sdp_on else 1e-4) * 0.5**depth)}


def _run_heuristic(block, run, V, bandit, stats, incumbent, upper, rng):
    arm = bandit.choose()
    function, name = HEURISTICS[arm]
    started = time.perf_counter()
    ctx = NodeContext(run.X, run.gradient, V, run.active, block.pattern, block.error, block.polish, rng)
    mask = function(ctx)
    improvement = 0.0
    if mask is not None:
        value = block.error(mask)
        if value < upper * (1 - 1e-12):
            improvement = (upper - value) / max(upper, 1e-300)
            incumbent, upper = mask.copy(), value
            stats.wins[name] += 1
    stats.calls[name] += 1
    bandit.update(arm, 1.0 - math.exp(-improvement / max(time.perf_counter() - started, 1e-4)))
    return incumbent, upper


def _row_block(problem: LayerProblem, start: np.ndarray, i: int, qcr: str, sdp_max_n: int, node_sdp: bool = False,
               time_limit: float | None = None):
    """Block of row ``i`` of a row-local pattern, its scale (the warm start's row error, > 0) and QCR method;
    the root convexification stops at ``time_limit`` (a weaker, still exact reformulation)."""
    pattern, H = problem.pattern, problem.H
    col_groups = pattern.row_groups()
    n = problem.shape[1]
    row_pattern = Pattern(pattern.name, pattern.kind, (1, n), pattern.keep, col_groups)
    w = problem.W[i]
    Q = np.outer(w, w) * H
    scale = float((~start[i]).astype(float) @ Q @ (~start[i]).astype(float))
    conv = convexify(Q / scale, pattern.prune * len(col_groups), qcr, sdp_max_n, time_limit=time_limit)

    def error(mask):
        z = (~mask.ravel()).astype(float)
        return float(z @ Q @ z) / scale

    def polish(mask):
        out, _, _ = swap_rows(w[None, :], H, mask.reshape(1, -1), col_groups, pattern.keep, math.inf, 10_000)
        return out

    root_sdp = None
    if node_sdp and conv.sdp_point is not None:  # one group's rho serves every group (same Lagrangian)
        s_root, rho_root, tau_root = conv.sdp_point
        root_sdp = (conv.relaxation_bound, (s_root, np.full(len(col_groups), float(rho_root[0])), tau_root))
    return Block(conv.Q_psd, conv.c[None, :], row_pattern, start[i : i + 1].copy(), error, polish,
                 Q / scale if node_sdp else None, list(col_groups) if node_sdp else None, root_sdp), scale, conv.method


def _layer_block(problem: LayerProblem, start: np.ndarray):
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
        from .sparseswaps import _per_layer_swaps
        out, _, _ = _per_layer_swaps(problem, mask.reshape(d_out, d_in).copy(), math.inf, 10_000)
        return out.reshape(1, -1)

    return Block(conv.Q_psd, conv.c[None, :], pattern, start.reshape(1, -1).copy(), error, polish), scale, "min-eig"


def solve_fw_bnb(problem: LayerProblem, *, time_limit=None, seed=0, warm_start="sparseswaps", node_limit=None,
                 gap_limit: float = 1e-6, bandit: str = "ucb", dive_every: int = 5, qcr: str = "diag",
                 sdp_max_n: int = SDP_MAX_N, branching: str = "most-fractional", node_sdp: bool = True) -> MethodAnswer:
    """FW branch-and-bound on the mask objective; see the module docstring. Rows narrower than
    ``arrays.ONE_THREAD_MAX_N`` are solved with one BLAS thread (threads only slow small solves)."""
    with blas_threads_for(problem.W.shape[1]):
        if branching not in BRANCHINGS:
            raise ValueError(f"unknown branching {branching!r}; known: {', '.join(BRANCHINGS)}")
        if problem.objective != "mask":
            raise ValueError("fw-bnb solves the mask objective; use method 'mip' for objective='reconstruct'")
        if not problem.pattern.row_local and problem.W.size > PER_LAYER_MAX:
            raise ValueError(f"fw-bnb handles per-layer patterns up to {PER_LAYER_MAX} weights; got {problem.W.size}")
        started = time.perf_counter()
        deadline = started + (time_limit if time_limit is not None else math.inf)
        start = warm_start_for(problem, warm_start, None if time_limit is None else WARM_START_SHARE * time_limit)
        policy = Bandit(len(HEURISTICS), bandit, seed=seed)
        stats, rng = Stats(), np.random.default_rng(seed)
        mask, bound, proven, methods = start.copy(), 0.0, True, set()
        start_rows = mask_error_rows(problem.W, problem.H, start)
        blocks = range(problem.shape[0]) if problem.pattern.row_local else [None]
        for index in blocks:
            if not (start_rows[index] if index is not None else start_rows.sum()) > 0:
                continue  # the warm start's error is 0: optimal (errors are >= 0); adds 0 to the bound
            now = time.perf_counter()
            if now >= deadline:  # out of time: the row keeps its warm start, 0 is its (valid) bound
                proven = False
                continue
            share = (deadline - now) / (len(problem.W) - index) if index is not None else math.inf
            block_deadline = min(deadline, now + share) if math.isfinite(share) else deadline
            if index is None:
                block, scale, method = _layer_block(problem, start)
            else:
                limit = block_deadline - now if math.isfinite(block_deadline) else None
                block, scale, method = _row_block(problem, start, index, qcr, sdp_max_n, node_sdp, limit)
            methods.add(method)
            row_mask, row_bound, row_proven = solve_block(block, deadline=block_deadline, node_limit=node_limit,
                                                          gap_limit=gap_limit, bandit=policy, stats=stats,
                                                          dive_every=dive_every, rng=rng, branching=branching)
            if index is not None:
                mask[index] = row_mask[0]
            else:
                mask = row_mask.reshape(problem.shape)
            bound += max(0.0, row_bound * (1 - BOUND_MARGIN)) * scale
            proven &= row_proven
        info = {"nodes": stats.nodes, "iterations": stats.fw_iterations, "tightened": stats.tightened,
                "heuristic_calls": stats.calls, "heuristic_wins": stats.wins, "bandit": bandit,
                "bandit_weights": dict(zip([n for _, n in HEURISTICS], policy.weights())), "qcr": sorted(methods), "branching": branching,
                "node_sdp": node_sdp, "sdp_bounds": stats.sdp_bounds, "sdp_pruned": stats.sdp_pruned,
                "sdp_fixed": stats.sdp_fixed, "children_cut": stats.children_cut}
        return MethodAnswer(mask, lower_bound=bound, status="optimal" if proven else "time_limit", info=info)
