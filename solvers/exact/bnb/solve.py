"""Frank-Wolfe branch-and-bound (after Boscia.jl: Hendrych, Troppens, Besancon, Pokutta 2023).

Each independent block (a row for per-row and N:M; the whole matrix, as one block of at most
``PER_LAYER_MAX`` weights, for per-layer) is solved over its binary keep-mask x:
- objective: the QCR-convexified row error f(x) = (1-x)^T Q' (1-x) + c^T (1-x) (``solvers.sdp.qcr``; default
  ``qcr="diag"``: the diagonal Shor SDP by the barrier method, any n; exact on binaries), scaled by the
  warm start's error;
- node relaxation: f over the group hypersimplices with the node's fixings, by blended pairwise
  conditional gradients (``relaxation.fw_engine``), warm-started from the parent's active set restricted to
  vertices that respect the fixings; FW gap tolerance tightens with depth;
- node bound: f(x) - FW gap (valid for inexact solves), never below the parent's;
- dual tightening: with LMO vertex V at the returned x and its group-wise swap costs Delta_j, any
  binary y with y_j != V_j has f(y) >= f(x) - gap(x) + Delta_j (x, gap and V of the same iterate),
  so j is fixed to V_j when that exceeds the incumbent;
- branching (``branching``): "pseudocost" (default; ``bnb.branching``): per variable and side the
  mean bound gain per unit of fractionality moved, learnt from solved children (Benichou et al. 1971),
  score = max(q_keep (1 - x_j), eps) * max(q_prune x_j, eps) (product rule), unknown pseudocosts set
  to the mean of the known ones; or "most-fractional"; node selection: best bound, with a depth-first dive (last child
  first) every ``dive_every`` nodes to find incumbents;
- primal heuristics (``bnb.heuristics.HEURISTICS``) chosen at each node by a bandit (``bnb.bandits``),
  reward = 1 - exp(-relative incumbent improvement per second);
- node SDP bounds (``node_sdp=True``, the default; row-local patterns): below the root, before FW, the
  row's diagonal Shor SDP under the node's fixings (``barrier.fixed_row_bound``: a fresh, stronger
  convexification of the sub-problem, where the root QCR objective only restricts) raises the node
  bound and prunes without any FW run when it reaches the incumbent (the solver stops there; ``node_sdp_solver``:
  the warm-started barrier on per-row rows, the cold primal-dual method on N:M rows). On the real
  n = 48 slices this cut nodes 3-12x (e.g. 765 -> 63, 311 -> 63). The point to branch on and round is then
  the SDP's own primal point (``Settings.node_point="sdp"``, the default: e = diag of Z^-1 / tau, no FW run;
  ``_sdp_point``), or with "fw" a short FW run (looser tolerance, fewer iterations);
- SDP dual fixing (``Settings.sdp_fixing``): the node SDP's dual point bounds every one-more-fixing child for free
  (``barrier.fixing_increments``: the Lagrangian's minimum on the cardinality hyperplanes plus
  (c - e_bar_j)^2 / P_jj, P the inverse restricted to them); an entry whose child on one side
  reaches the incumbent is fixed to the other side before FW, the node bound is raised to the dual
  point's minimum on the cardinality hyperplanes, and children are queued with their raised bounds.
  o_proj r504 n = 128 on a loaded 2-core machine: 9537 nodes to optimality without, 4543 with
  (30k fixings). Branching on the largest rises (a strong-branching proxy, product rule) was tried and
  dropped: same slice side by side, most fractional proved it in 189 s, the rise rule not in 420 s;
- DNN multipliers (``Settings.root_ascent_steps``; 40 steps once a row's tree has 1000 nodes): the root's ascent over the multipliers N >= 0 of
  E >= 0 and mu of the cardinality products (``sdp.dnn_ascent``) gives a quadratic at most e^T Q e on every feasible
  binary row, so its Shor bound under any fixings bounds that node; when it lifts the root's bound, the node SDPs
  (and their fixings) down to ``ascent_depth`` use it, deeper ones the row's own Q (``blocks.root_ascent``;
  ``info["dnn_rows"]`` counts such rows). With ``root_ascent_after`` > 0 the ascent waits until the row's tree has
  that many nodes (easy rows never pay for it), then the tree restarts from the root with the better bound;
- small nodes (``enumerate_max``): a node with few completions left (``bnb.enumeration``) is closed by evaluating
  them all, before its SDP below the root and after its SDP fixings at any node;
- limits: time, nodes, gap; on a limit the incumbent and the global bound (min over open nodes).
"""
from __future__ import annotations

import heapq
import itertools
import math
import time

import numpy as np

from ...core.arrays import blas_threads_for
from ...core.bandits import Bandit
from ...core.objective import mask_error_rows
from ...core.problem import LayerProblem
from ...core.result import MethodAnswer
from ...heuristics.warm_start import WARM_START_SHARE, warm_start_for
from ...relaxation.fw_engine import frank_wolfe, lmo
from ...relaxation.fw_steps import FWResult
from ...sdp.barrier import fixed_row_bound, row_sdp_bound
from ...sdp.primal_dual import row_sdp_bound_ipm
from ...sdp.qcr import SDP_MAX_N
from .blocks import PER_LAYER_MAX, layer_block, root_ascent, row_block
from .branching import BRANCHINGS, Pseudocosts
from .enumeration import best_completion
from .heuristics import HEURISTICS, NodeContext
from .node import Block, Node, Stats
from .settings import BOUND_MARGIN, DEFAULT_SETTINGS, NODE_POINTS, NODE_SDP_SOLVERS, Settings
from .tightening import fixings_feasible, respecting, sdp_fixings, swap_costs


def solve_block(block: Block, *, deadline: float, node_limit: int | None, gap_limit: float, bandit: Bandit,
                stats: Stats, dive_every: int, rng: np.random.Generator, branching: str = "pseudocost"
                ) -> tuple[np.ndarray, float, bool]:
    """Branch and bound on one block; returns (incumbent mask, lower bound, proven optimal)."""
    pseudocosts = Pseudocosts(block.start.shape) if branching == "pseudocost" else None
    incumbent, upper = block.start.copy(), block.error(block.start)
    counter = itertools.count()
    empty = np.zeros_like(block.start)
    heap = [Node(-math.inf, next(counter), empty, empty, [(block.start.copy(), 1.0)], 0)]
    last_child, block_nodes = None, 0
    ascend = block.settings.root_ascent_steps > 1 and block.root_sdp is not None  # node bounds by the root's DNN N
    while heap:
        if ascend and block_nodes >= block.settings.root_ascent_after:
            ascend = False
            limit = block.settings.root_ascent_share * (deadline - time.perf_counter()) \
                if math.isfinite(deadline) else None
            if root_ascent(block, upper, limit):
                stats.dnn_rows += 1
                if block_nodes:  # the tree restarts from the root, now bounded by the multipliers
                    heap = [Node(-math.inf, next(counter), empty, empty, [(incumbent.copy(), 1.0)], 0)]
                    last_child = None
        if time.perf_counter() > deadline or (node_limit is not None and stats.nodes >= node_limit):
            break
        if heap[0].bound >= upper * (1 - gap_limit) - BOUND_MARGIN:  # the heap's first node has the least bound
            heap.clear()
            break
        node, last_child = _next_node(heap, last_child, stats.nodes % dive_every == 0), None
        if node.bound >= upper - BOUND_MARGIN:
            continue
        stats.nodes += 1
        block_nodes += 1
        if node.depth > 0 and (best := _enumerated(block, node, stats)) is not None:  # small: closed exactly, no SDP
            incumbent, upper = _better(block, best, incumbent, upper)
            continue
        bounded = _node_sdp(block, node, upper, deadline, stats)
        if bounded is None:  # closed by its SDP bound: no FW run
            continue
        if (best := _enumerated(block, node, stats)) is not None:  # small after its SDP fixings
            incumbent, upper = _better(block, best, incumbent, upper)
            continue
        node_bound, sdp_warm, sdp_rises = bounded
        if block.settings.node_point == "sdp" and sdp_warm is not None and sdp_warm[3] is not None:
            run = _sdp_point(block, node, sdp_warm)
        else:
            run = _node_relaxation(block, node, sdp_warm, upper, deadline)
        stats.fw_iterations += run.iterations
        bound = max(node_bound, run.lower_bound)
        if pseudocosts is not None:
            pseudocosts.update(node.branched, node.bound, bound)
        V = lmo(run.gradient, block.pattern, node.keep, node.prune)
        incumbent, upper = _run_heuristic(block, run, V, bandit, stats, incumbent, upper, rng)
        if bound >= upper - BOUND_MARGIN:
            continue
        keep, prune, fractional = _tighten(block, node, run, V, upper, stats)
        if not fractional.any():
            candidate = (run.X > 0.5) | keep
            if np.all(candidate.ravel()[block.pattern.groups].sum(axis=1) == block.pattern.keep):
                value = block.error(candidate)
                if value < upper:
                    incumbent, upper = candidate, value
            if run.gap <= 1e-9 * max(abs(run.objective), 1e-12) and not (keep ^ node.keep).any() \
                    and not (prune ^ node.prune).any():
                continue  # the node's relaxation is solved at an integral point
            fractional = ~(keep | prune)
            if not fractional.any():
                continue
        if pseudocosts is not None:
            j = pseudocosts.choose(run.X, fractional)
        else:  # most fractional
            j = np.unravel_index(np.argmin(np.where(fractional, np.abs(run.X - 0.5), np.inf)), run.X.shape)
        last_child = _branch(block, node, run, j, keep, prune, bound, sdp_rises, sdp_warm, upper, heap, counter, stats)
    if not heap:
        return incumbent, upper, True
    return incumbent, min(heap[0].bound, upper), False


def _enumerated(block: Block, node: Node, stats: Stats) -> np.ndarray | None:
    """The node's best completion when it has at most ``Settings.enumerate_max`` of them (``bnb.enumeration``; the
    node is then solved), else None."""
    best = best_completion(block, node, block.settings.enumerate_max)
    stats.enumerated += best is not None
    return best


def _better(block: Block, mask: np.ndarray, incumbent: np.ndarray, upper: float) -> tuple[np.ndarray, float]:
    value = block.error(mask)
    return (mask, value) if value < upper else (incumbent, upper)


def _next_node(heap: list, last_child: Node | None, dive: bool) -> Node:
    """Best bound first, or (every ``dive_every`` nodes) the last child, a depth-first dive for incumbents."""
    if dive and last_child is not None and last_child in heap:
        heap.remove(last_child)
        heapq.heapify(heap)
        return last_child
    return heapq.heappop(heap)


def _node_sdp(block: Block, node: Node, upper: float, deadline: float, stats: Stats):
    """The node's bound from the row's SDP under its fixings (the root: the QCR's own), with SDP dual fixing.
    Returns (node bound, SDP dual point, rises for the children) or None when the SDP closes the node."""
    node_bound, sdp, sdp_warm, sdp_rises = node.bound, None, None, None
    sdp_on = block.row_Q is not None  # FW then only has to give a point to branch on: looser, shorter
    if sdp_on and node.depth > 0:
        stats.sdp_bounds += 1
        Q, linear = block.sdp_objective(node.depth)
        warm = node.sdp_warm
        if block.uses_multipliers(node.depth - 1) and not block.uses_multipliers(node.depth):
            warm = block.plain_root_sdp[1]  # the parent's point is the multiplier objective's: start from Q's root
        sdp, sdp_warm = fixed_row_bound(Q, block.row_groups, block.pattern.prune, node.keep[0], node.prune[0],
                                        warm, solver=_node_sdp_solver(block), linear=linear,
                                        tolerance=block.settings.node_sdp_tolerance,
                                        cutoff=upper, time_limit=max(deadline - time.perf_counter(), 0))
    elif sdp_on and block.root_sdp is not None:
        sdp, sdp_warm = block.root_sdp
    if sdp is not None:
        sdp = block.certified(sdp, node.depth)
        node_bound = max(node_bound, sdp)
        if node_bound >= upper - BOUND_MARGIN:
            stats.sdp_pruned += 1
            return None
        if block.settings.sdp_fixing and sdp_warm is not None:
            sdp_rises = sdp_fixings(block, node, sdp, sdp_warm, upper, stats)
            if sdp_rises is None:  # the bound reaches the incumbent, or the fixings left no feasible row
                stats.sdp_pruned += 1
                return None
            node_bound = max(node_bound, sdp_rises[0])
    return node_bound, sdp_warm, sdp_rises


def _node_sdp_solver(block: Block):
    """The node SDPs' solver (``Settings.node_sdp_solver``): the cold primal-dual method or the warm barrier."""
    choice = block.settings.node_sdp_solver
    if choice == "ipm" or (choice == "auto" and len(block.row_groups) > 1):
        return row_sdp_bound_ipm
    return row_sdp_bound


def _node_relaxation(block: Block, node: Node, sdp_warm, upper: float, deadline: float):
    """FW on the node's relaxation, warm-started from the parent's active set (vertices that respect the
    node's fixings), stopped once its bound reaches the incumbent."""
    ones = np.ones_like(block.start, dtype=np.float64)
    active = respecting(node.active, node.keep, node.prune) or \
        [(lmo(np.zeros_like(ones), block.pattern, node.keep, node.prune), 1.0)]
    Q_node, c_node = _node_objective(block, sdp_warm)
    return frank_wolfe(ones, Q_node, block.pattern, active[0][0], linear=c_node, fixed_keep=node.keep,
                       fixed_prune=node.prune, variant="bpcg",
                       **_node_fw_limits(node.depth, block.row_Q is not None, block.settings),
                       time_limit=max(deadline - time.perf_counter(), 0), active_set=active,
                       cutoff=upper - BOUND_MARGIN)


def _sdp_point(block: Block, node: Node, sdp_warm: tuple) -> FWResult:
    """The node SDP's primal point e (``sdp_warm[3]``) as the point to branch on and round, in place of a FW run:
    X = 1 - e (keep fractions; fixed entries exact), with the node objective's (``_node_objective``) value,
    gradient, LMO vertex and FW gap there.
    f(X) - gap(X) is a valid bound for any X (f convex: f(y) >= f(X) + grad^T (y - X) >= f(X) - gap on the
    polytope), and so is the dual tightening built on it."""
    Q, c = _node_objective(block, sdp_warm)
    X = np.clip(1.0 - sdp_warm[3], 0.0, 1.0)[None, :]
    X[node.keep], X[node.prune] = 1.0, 0.0
    E = 1.0 - X
    P = E @ Q
    gradient = -2.0 * P - c
    objective = float(np.sum(E * P) + np.sum(c * E))
    V = lmo(gradient, block.pattern, node.keep, node.prune)
    gap = float(np.sum(gradient * (X - V)))
    return FWResult(X, objective, gap, objective - gap, 0, [], [(V, 1.0)], gradient)


def _tighten(block: Block, node: Node, run, V, upper: float, stats: Stats):
    """Dual fixing at the returned x: (keep, prune) with every free j fixed to V_j whose swap cost lifts the
    bound above the incumbent, and the still-free fractional entries."""
    free = ~(node.keep | node.prune)
    delta = swap_costs(run.gradient, V, block.pattern, free)
    # f(y) >= f(x) - gap(x) + Delta_j holds for the *returned* x (whose gradient gave V and Delta),
    # not for the best bound of earlier iterates or of the parent.
    tighten = free & (run.objective - run.gap + delta > upper)
    stats.tightened += int(tighten.sum())
    keep, prune = node.keep | (tighten & V), node.prune | (tighten & ~V)
    return keep, prune, free & ~tighten & (np.minimum(run.X, 1 - run.X) > 1e-7)


def _branch(block, node, run, j, keep, prune, bound, sdp_rises, sdp_warm, upper, heap, counter, stats):
    """Queue the two children of fixing j (keep / prune) with their bounds (with SDP fixing: the parent's dual
    point with j fixed too); returns the child to dive into (the side x_j leans to) or None."""
    children = []
    for side in ("keep", "prune"):
        k, p = keep.copy(), prune.copy()
        (k if side == "keep" else p)[j] = True
        if not fixings_feasible(block.pattern, k, p):
            continue
        moved = 1.0 - run.X[j] if side == "keep" else run.X[j]
        child_bound = bound
        if sdp_rises is not None:
            rise = sdp_rises[1 if side == "keep" else 2][j]
            child_bound = max(bound, sdp_rises[0] + (rise if np.isfinite(rise) else 0.0))
            if child_bound >= upper - BOUND_MARGIN:
                stats.children_cut += 1
                continue
        child = Node(child_bound, next(counter), k, p, run.active, node.depth + 1,
                     (j, int(side == "keep"), float(moved)), sdp_warm)
        heapq.heappush(heap, child)
        children.append((side, child))
    if not children:
        return None
    preferred = "keep" if run.X[j] >= 0.5 else "prune"
    return next((c for s, c in children if s == preferred), children[0][1])


def _node_objective(block: Block, sdp_warm: tuple | None) -> tuple[np.ndarray, np.ndarray]:
    """(quadratic, linear term) of the node's convex objective: the root's QCR one, or with a node SDP
    the node's own diagonal convexification e^T (Q - diag s) e + s^T e (s = the node SDP's multipliers
    on the free entries, 0 on fixed ones: exact on binaries, convex on the node's face since
    Q_FF - diag s_F is positive definite at any strictly feasible SDP point). Its FW bound then
    matches the node's SDP bound, and so does the dual tightening built on it."""
    if sdp_warm is None or not block.settings.node_convexify or block.bound_Q is not None:
        return block.Q, block.c  # (a multiplier objective's s would convexify a lower bound, not the error)
    s = np.nan_to_num(sdp_warm[0], nan=0.0)
    Q = block.row_Q.copy()
    Q[np.diag_indices_from(Q)] -= s
    return Q, s[None, :]


def _node_fw_limits(depth: int, sdp_on: bool, settings: Settings) -> dict:
    """FW iteration cap and gap tolerance at a node: both tighten with depth; with node SDP bounds FW
    only supplies a point to branch on and round, so it stops sooner and looser."""
    a, b, cap = settings.node_fw_iterations if sdp_on else (100, 50, math.inf)
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


def solve_fw_bnb(problem: LayerProblem, *, time_limit=None, seed=0, warm_start="sparseswaps", node_limit=None,
                 gap_limit: float = 1e-6, bandit: str = "ucb", dive_every: int = 5, qcr: str = "diag",
                 sdp_max_n: int = SDP_MAX_N, branching: str = "pseudocost", node_sdp: bool = True,
                 node_convexify: bool = DEFAULT_SETTINGS.node_convexify,
                 sdp_fixing: bool = DEFAULT_SETTINGS.sdp_fixing,
                 node_point: str = DEFAULT_SETTINGS.node_point,
                 enumerate_max: int = DEFAULT_SETTINGS.enumerate_max,
                 node_sdp_solver: str = DEFAULT_SETTINGS.node_sdp_solver,
                 root_ascent_steps: int = DEFAULT_SETTINGS.root_ascent_steps,
                 root_ascent_after: int = DEFAULT_SETTINGS.root_ascent_after,
                 ascent_depth: int | None = DEFAULT_SETTINGS.ascent_depth) -> MethodAnswer:
    """FW branch-and-bound on the mask objective; see the module docstring. Rows narrower than
    ``core.arrays.ONE_THREAD_MAX_N`` are solved with one BLAS thread (threads only slow small solves)."""
    with blas_threads_for(problem.W.shape[1]):
        if branching not in BRANCHINGS:
            raise ValueError(f"unknown branching {branching!r}; known: {', '.join(BRANCHINGS)}")
        if node_sdp_solver not in NODE_SDP_SOLVERS:
            raise ValueError(f"unknown node_sdp_solver {node_sdp_solver!r}; known: {', '.join(NODE_SDP_SOLVERS)}")
        if node_point not in NODE_POINTS:
            raise ValueError(f"unknown node_point {node_point!r}; known: {', '.join(NODE_POINTS)}")
        if problem.objective != "mask":
            raise ValueError("fw-bnb solves the mask objective; use method 'mip' for objective='reconstruct'")
        if not problem.pattern.row_local and problem.W.size > PER_LAYER_MAX:
            raise ValueError(f"fw-bnb handles per-layer patterns up to {PER_LAYER_MAX} weights; got {problem.W.size}")
        started = time.perf_counter()
        deadline = started + (time_limit if time_limit is not None else math.inf)
        start = warm_start_for(problem, warm_start, None if time_limit is None else WARM_START_SHARE * time_limit)
        policy = Bandit(len(HEURISTICS), bandit, seed=seed)
        settings = Settings(node_convexify=node_convexify, sdp_fixing=sdp_fixing, node_point=node_point,
                            enumerate_max=enumerate_max, node_sdp_solver=node_sdp_solver,
                            root_ascent_steps=root_ascent_steps, root_ascent_after=root_ascent_after,
                            ascent_depth=ascent_depth)
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
                block, scale, method = layer_block(problem, start, settings)
            else:
                limit = block_deadline - now if math.isfinite(block_deadline) else None
                block, scale, method = row_block(problem, start, index, qcr, sdp_max_n, node_sdp, limit, settings)
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
                "sdp_fixed": stats.sdp_fixed, "children_cut": stats.children_cut, "enumerated": stats.enumerated, "dnn_rows": stats.dnn_rows}
        return MethodAnswer(mask, lower_bound=bound, status="optimal" if proven else "time_limit", info=info)
