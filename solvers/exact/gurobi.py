"""Exact mask selection with Gurobi (``gurobipy``), the strongest commercial peer, as an optional anchor.

Per row, with z the pruned indicators and Q = diag(w) H diag(w), the mask objective is the convex binary QP
    min z^T Q z  s.t. every group of the row prunes its count,
given to Gurobi as it is (a native MIQP; Gurobi linearises and convexifies it itself). Rows are independent
(per-row and N:M patterns) and solved in turn, the remaining time shared evenly over the remaining rows; a
row reached after the limit keeps its warm start and adds 0 to the bound. Scale invariance as in
``solvers.exact.mip``: every row model sees H / h (h = mean diag H) and w / sqrt(U / h), U the row's warm-start
error, so the warm start's scaled value is 1; a row with U = 0 is optimal without a solve. The bound is
Gurobi's ObjBound less a ``BOUND_MARGIN`` relative margin, times U. "optimal" means every row reached
Gurobi's OPTIMAL status at relative gap ``gap_limit`` (default 1e-6, fw-bnb's own criterion) with no
absolute gap allowance.

Install the extra ``anchors`` (``pip install 'prune-opt-bench[anchors]'``): PyPI's gurobipy comes with a
size-limited licence (2000 variables and constraints), enough for one row of up to ``GUROBI_MAX_N`` = 192
inputs here; a larger row is refused with a message saying so.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..core.objective import error_rows
from ..core.problem import LayerProblem
from ..core.result import MethodAnswer
from ..heuristics.warm_start import WARM_START_SHARE, warm_start_for

BOUND_MARGIN = 1e-6
GUROBI_MAX_N = 192  # the widest row the size-limited pip licence was measured to take here (n = 192 solves)
SIZE_LIMIT_ERROR = 10010  # GRB_ERROR_SIZE_LIMIT_EXCEEDED


def _gurobi():
    try:
        import gurobipy
    except ImportError:
        raise ValueError("method 'gurobi' needs gurobipy (pip install 'prune-opt-bench[anchors]')") from None
    return gurobipy


def _solve_row(gp, env, Q: np.ndarray, groups: np.ndarray, prune: int, start_z: np.ndarray, *, time_limit, seed,
               threads, gap_limit):
    """(pruned z or None, bound, status name, nodes) of one unit-scaled row model."""
    model = gp.Model(env=env)
    try:
        n = len(Q)
        z = model.addMVar(n, vtype=gp.GRB.BINARY)
        A = np.zeros((len(groups), n))
        A[np.repeat(np.arange(len(groups)), groups.shape[1]), groups.ravel()] = 1.0
        model.addConstr(A @ z == np.full(len(groups), float(prune)))
        model.setObjective(z @ Q @ z, gp.GRB.MINIMIZE)
        z.Start = start_z
        params = {"Threads": threads, "Seed": int(seed) % 2_000_000_000, "MIPGap": gap_limit, "MIPGapAbs": 0.0}
        if time_limit is not None:
            params["TimeLimit"] = max(float(time_limit), 0.01)
        for name, value in params.items():
            model.setParam(name, value)
        try:
            model.optimize()
        except gp.GurobiError as err:
            if getattr(err, "errno", None) == SIZE_LIMIT_ERROR:
                raise ValueError(f"method 'gurobi': a row of {n} inputs is too large for gurobipy's size-limited "
                                 f"licence (rows up to about n = {GUROBI_MAX_N}); use a full licence or method 'mip'") from None
            raise
        status = {gp.GRB.OPTIMAL: "optimal", gp.GRB.TIME_LIMIT: "time_limit"}.get(model.Status, f"status {model.Status}")
        pruned = np.asarray(z.X) > 0.5 if model.SolCount > 0 else None
        bound = float(model.ObjBound) if math.isfinite(model.ObjBound) else 0.0
        return pruned, max(0.0, bound - BOUND_MARGIN * max(1.0, abs(bound))), status, int(model.NodeCount)
    finally:
        model.dispose()


def solve_gurobi(problem: LayerProblem, *, time_limit=None, seed=0, warm_start="sparseswaps", threads: int = 1,
                 gap_limit: float = 1e-6) -> MethodAnswer:
    """Solve a row-local mask problem with Gurobi, row by row (module docstring); ``solve_layer`` refuses other
    patterns and objectives (the spec's ``takes``)."""
    gp = _gurobi()
    pattern = problem.pattern
    started = time.perf_counter()
    deadline = started + (time_limit if time_limit is not None else math.inf)
    start_mask = warm_start_for(problem, warm_start, None if time_limit is None else WARM_START_SHARE * time_limit)
    start_rows = error_rows(problem.W, problem.H, start_mask, "mask")
    h = float(np.mean(np.diag(problem.H)))
    h = h if math.isfinite(h) and h > 0 else 1.0
    H_unit = problem.H / h
    groups = pattern.row_groups()
    mask, bounds, statuses, nodes = start_mask.copy(), [], [], 0
    d_out = problem.shape[0]
    env = gp.Env(params={"OutputFlag": 0})
    try:
        for i in range(d_out):
            now = time.perf_counter()
            if not start_rows[i] > 0:  # the warm start's error is 0: optimal, since errors are >= 0
                bounds.append(0.0)
                statuses.append("optimal")
                continue
            if now >= deadline:  # out of time: the warm start stays; 0 is a valid bound
                bounds.append(0.0)
                statuses.append("not_attempted")
                continue
            row_limit = (deadline - now) / (d_out - i) if math.isfinite(deadline) else None
            w_unit = problem.W[i] / math.sqrt(start_rows[i] / h)
            Q = np.outer(w_unit, w_unit) * H_unit
            pruned, bound, status, row_nodes = _solve_row(gp, env, Q, groups, pattern.prune,
                                                          (~start_mask[i]).astype(float), time_limit=row_limit,
                                                          seed=seed, threads=threads, gap_limit=gap_limit)
            if pruned is not None:
                mask[i] = ~pruned
            bounds.append(bound * start_rows[i])
            statuses.append(status)
            nodes += row_nodes
    finally:
        env.dispose()
    proven = all(s == "optimal" for s in statuses)
    info = {"gurobi_status": ",".join(sorted(set(statuses))), "nodes": nodes, "gurobi_version": ".".join(
        map(str, gp.gurobi.version())), "rows": d_out, "rows_attempted": sum(s != "not_attempted" for s in statuses),
        "warm_start": warm_start if isinstance(warm_start, str) else "mask", "warm_start_objective": float(start_rows.sum())}
    return MethodAnswer(mask, lower_bound=float(sum(bounds)), status="optimal" if proven else "time_limit", info=info)
