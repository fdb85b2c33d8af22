"""Exact mask selection as a mixed-integer program solved by SCIP (PySCIPOpt).

Per row, with z the pruned indicators and Q = diag(w) H diag(w), the mask objective is the convex
binary QP  min z^T Q z  s.t. every group prunes its count. SCIP takes no quadratic objective, so an
epigraph variable t carries it (min t). Formulations (``formulation=``):
- ``plain``:  t >= z^T Q z as one quadratic constraint (SCIP replaces z_j^2 by z_j and loses
  convexity: weak bounds beyond n ~ 48);
- ``factor``: Q = F F^T, continuous y = F^T z,  t >= ||y||^2  (a convex, second-order-cone-like row);
- ``qcr`` (default): the factor form of the QCR reformulation z^T Q' z + c^T z (``solvers.sdp.qcr``),
  with Q' from the Shor SDP dual when n <= ``sdp_max_n`` (else minimum-eigenvalue shift).
The ``reconstruct`` objective re-fits kept weights: x = w*z + s (error vector), |s_j| <= R_j (1 - z_j),
t >= ||F^T x||^2 with H_d = F F^T, where R_j = sqrt(U (H_d^{-1})_jj) and U is the warm start's error:
every optimal x satisfies x^T H_d x <= U, hence |x_j| <= R_j (valid big-M from the data).
Per-row and N:M problems decompose into independent rows solved in turn (remaining time shared
evenly over remaining rows; rows reached after the limit keep the warm start and add 0 to the bound); per-layer couples all rows through one budget (one model, diagonal QCR).
Scale invariance: SCIP's feasibility and optimality tolerances are absolute, so every row model is built
on unit-sized data: H / h (h = mean diag H) and w / sqrt(U / h), U the row's warm-start error (for
per-layer, one U for the whole layer), so that the warm start's scaled error is 1; the answer's bound is
scaled back by U. A row whose warm start has zero error is optimal without a solve (errors are >= 0).
The reported lower bound is SCIP's dual bound less a 1e-6 relative feasibility margin, times U.
Time limit: the warm start gets at most ``WARM_START_SHARE`` of it; each row's model is built under a
deadline (a row not built in time keeps its warm start, bound 0) and SCIP gets only what is left.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import time

import numpy as np

from ..core.objective import damped_gram, error_rows, refit_residual
from ..core.problem import LayerProblem
from ..core.result import MethodAnswer
from ..heuristics.warm_start import WARM_START_SHARE, warm_start_for
from ..sdp.qcr import SDP_MAX_N, convexify, psd_factor

FORMULATIONS = ("plain", "factor", "qcr")
BANDITS = {"ucb": "u", "exp3": "e", "epsgreedy": "g", "exp3ix": "i", "u": "u", "e": "e", "g": "g", "i": "i"}
LIMIT_STATUSES = {"timelimit", "nodelimit", "totalnodelimit", "stallnodelimit", "gaplimit", "sollimit",
                  "bestsollimit", "memlimit", "userinterrupt", "restartlimit"}
BOUND_MARGIN = 1e-6
def _scip():
    try:
        import pyscipopt
    except ImportError:
        raise ValueError("method 'mip' needs pyscipopt (pip install 'prune-opt-bench[mip]')") from None
    return pyscipopt


class _Trace:
    """Primal/dual bound trace of one SCIP solve, through an event handler."""

    def __init__(self, ps, model, scale, offset, row):
        self.points = []
        trace = self

        class Handler(ps.Eventhdlr):
            def eventinit(self):
                for event in (ps.SCIP_EVENTTYPE.BESTSOLFOUND, ps.SCIP_EVENTTYPE.NODESOLVED):
                    self.model.catchEvent(event, self)

            def eventexit(self):
                for event in (ps.SCIP_EVENTTYPE.BESTSOLFOUND, ps.SCIP_EVENTTYPE.NODESOLVED):
                    self.model.dropEvent(event, self)

            def eventexec(self, event):
                primal, dual = self.model.getPrimalbound(), self.model.getDualbound()
                point = (round(self.model.getSolvingTime(), 4), offset + scale * primal, offset + scale * dual)
                if not trace.points or trace.points[-1][1:] != point[1:]:
                    trace.points.append((row,) + point)

        model.includeEventhdlr(Handler(), "boundtrace", "records primal and dual bounds")


def _configure(model, *, time_limit, node_limit, gap_limit, seed, threads, scheduler, alns_bandit, verbose):
    if not verbose:
        model.hideOutput()
    if time_limit is not None:
        model.setParam("limits/time", max(float(time_limit), 0.01))
    if node_limit is not None:
        model.setParam("limits/nodes", int(node_limit))
    if gap_limit is not None:
        model.setParam("limits/gap", float(gap_limit))
    model.setParam("randomization/randomseedshift", int(seed))
    model.setParam("lp/threads", int(threads))
    if scheduler:
        model.setParam("heuristics/scheduler/freq", 1)
        model.setParam("heuristics/scheduler/banditalgo", BANDITS[scheduler])
    if alns_bandit:
        model.setParam("heuristics/alns/banditalgo", BANDITS[alns_bandit])


def _heuristic_stats(model) -> dict:
    """{heuristic: {"found": n, "best": m}} for heuristics that found solutions (SCIP statistics)."""
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        model.writeStatisticsJson(path)
        plugins = json.load(open(path)).get("heuristics", {}).get("plugins", {})
    except Exception:
        return {}
    finally:
        os.unlink(path)
    return {name: {"found": s.get("solutions_found", 0), "best": s.get("best_solutions_found", 0)}
            for name, s in plugins.items() if s.get("solutions_found", 0) > 0}


class _OutOfTime(Exception):
    """A row model could not be built before its deadline."""


def _add_row(ps, model, w, H_row, groups, prunes, start_z, formulation, objective, qcr_method, sdp_max_n, upper, tag,
             damped=None, deadline=math.inf):
    """Variables and constraints of one row; returns (z vars, t var, warm (var, value) pairs, t value, info).

    ``damped`` = (F, H_d^{-1}) with H_d = F F^T, shared by all rows of the reconstruct objective.
    """
    n = len(w)
    z = list(model.addMatrixVar(n, vtype="B", name=f"z{tag}"))
    for group, prune in zip(groups, prunes):
        model.addCons(ps.quicksum(z[j] for j in group) == prune)
    t = model.addVar(lb=0.0 if formulation != "qcr" else None, name=f"t{tag}")
    warm = [(v, float(val)) for v, val in zip(z, start_z)]
    info = {}
    if objective == "reconstruct":
        F, H_inv = damped
        radius = np.sqrt(max(upper, 0.0) * np.diag(H_inv)) * (1 + 1e-9)
        x = list(model.addMatrixVar(n, lb=None, name=f"x{tag}"))
        s = [model.addVar(lb=-radius[j], ub=radius[j], name=f"s{tag}_{j}") for j in range(n)]
        for j in range(n):
            model.addCons(x[j] == w[j] * z[j] + s[j])
            model.addCons(s[j] <= radius[j] * (1 - z[j]))
            model.addCons(-s[j] <= radius[j] * (1 - z[j]))
        y = _factor_rows(ps, model, F, x, tag, deadline)
        model.addCons(t >= ps.quicksum(v * v for v in y))
        x_start = refit_residual(w, H_row, start_z <= 0.5, H_inv)
        warm += [(x[j], float(x_start[j])) for j in range(n)]
        warm += [(s[j], float(x_start[j] - w[j] * start_z[j])) for j in range(n)]
        warm += [(y[k], float(F[:, k] @ x_start)) for k in range(len(y))]
        return z, t, warm, float(x_start @ H_row @ x_start), info
    Q = np.outer(w, w) * H_row
    if formulation == "plain":
        model.addCons(t >= ps.quicksum(Q[j, k] * z[j] * z[k] for j in range(n) for k in range(n) if Q[j, k] != 0))
        return z, t, warm, float(start_z @ Q @ start_z), info
    if formulation == "qcr":
        limit = max(deadline - time.perf_counter(), 1e-3) if math.isfinite(deadline) else None
        conv = convexify(Q, int(round(start_z.sum())), qcr_method, sdp_max_n, time_limit=limit)
        F, c = conv.factor, conv.c
        info = {"qcr": conv.method, "relaxation_bound": conv.relaxation_bound}
    else:
        F, c = psd_factor(Q), np.zeros(n)
    y = _factor_rows(ps, model, F, z, tag, deadline)
    model.addCons(t >= ps.quicksum(v * v for v in y) + ps.quicksum(float(c[j]) * z[j] for j in range(n) if c[j] != 0))
    warm += [(y[k], float(F[:, k] @ start_z)) for k in range(len(y))]
    return z, t, warm, float(np.sum((F.T @ start_z) ** 2) + c @ start_z), info


def _factor_rows(ps, model, F, x, tag, deadline=math.inf):
    """Continuous y = F^T x (one equality per column of F), built until ``deadline`` (else ``_OutOfTime``)."""
    y = list(model.addMatrixVar(F.shape[1], lb=None, name=f"y{tag}")) if F.shape[1] else []
    for k, v in enumerate(y):
        if k % 64 == 0 and time.perf_counter() > deadline:
            raise _OutOfTime
        model.addCons(v == ps.quicksum(float(F[j, k]) * x[j] for j in np.flatnonzero(F[:, k])))
    return y


def _solve_model(ps, rows_spec, H, objective, damping, options, deadline, row_tag):
    """Build and solve one SCIP model over the given rows (unit-scaled data, see the module docstring);
    returns (pruned z per row or None, bound, SCIP status, info). SCIP's time limit is what is left of
    ``deadline`` once the model is built; ``_OutOfTime`` when building does not finish before it."""
    model = ps.Model()
    _configure(model, time_limit=None, **options["scip"])
    H_row = damped_gram(H, damping) if objective == "reconstruct" else H
    damped = (np.linalg.cholesky(H_row), np.linalg.inv(H_row)) if objective == "reconstruct" else None
    all_z, ts, warm, t_values, row_info = [], [], [], [], []
    for i, (w, groups, prunes, start_z, upper) in enumerate(rows_spec):
        z, t, w_vals, t_value, info = _add_row(ps, model, w, H_row, groups, prunes, start_z, options["formulation"],
                                               objective, options["qcr"], options["sdp_max_n"], upper, f"{i}", damped,
                                               deadline)
        all_z.append(z)
        ts.append(t)
        warm += w_vals + [(t, t_value)]
        t_values.append(t_value)
        row_info.append(info)
    if options.get("budget") is not None:
        model.addCons(ps.quicksum(v for z in all_z for v in z) == options["budget"])
    scale = sum(t_values) if sum(t_values) > 0 else 1.0  # ~1 on unit-scaled data
    model.setObjective(ps.quicksum(t for t in ts) * (1.0 / scale), "minimize")
    if math.isfinite(deadline):
        model.setParam("limits/time", max(deadline - time.perf_counter(), 0.01))
    trace = _Trace(ps, model, scale, 0.0, row_tag)
    sol = model.createSol()
    for var, value in warm:
        model.setSolVal(sol, var, value)
    model.addSol(sol, free=True)
    model.optimize()
    status = model.getStatus()
    best = model.getBestSol() if model.getNSols() > 0 else None
    zs = [np.array([model.getSolVal(best, v) > 0.5 for v in z]) if best is not None else None for z in all_z]
    dual = model.getDualbound()
    if not math.isfinite(dual) or abs(dual) >= model.infinity():
        bound = 0.0  # no dual bound from SCIP: errors are sums of squares, so 0 is valid
    else:
        bound = max(0.0, scale * (dual - BOUND_MARGIN * max(1.0, abs(dual))))
    info = {"scip_status": status, "nodes": model.getNNodes(), "lp_iterations": model.getNLPIterations(),
            "time": model.getSolvingTime(), "heuristics": _heuristic_stats(model), "trace": trace.points,
            "rows": row_info}
    return zs, bound, status, info


def _unit(value: float) -> float:
    """``value`` if positive and finite, else 1 (a scale that leaves zero data as it is)."""
    return value if math.isfinite(value) and value > 0 else 1.0


def solve_mip(problem: LayerProblem, *, time_limit=None, seed=0, formulation: str = "qcr", warm_start="sparseswaps",
              node_limit=None, gap_limit=None, threads: int = 1, scheduler: str | None = None,
              alns_bandit: str | None = None, qcr: str = "auto", sdp_max_n: int = SDP_MAX_N,
              verbose: bool = False) -> MethodAnswer:
    """Solve the layer problem with SCIP; see the module docstring for formulations and options."""
    ps = _scip()
    if formulation not in FORMULATIONS:
        raise ValueError(f"unknown formulation {formulation!r}; known: {', '.join(FORMULATIONS)}")
    for name, value in (("scheduler", scheduler), ("alns_bandit", alns_bandit)):
        if value is not None and value not in BANDITS:
            raise ValueError(f"unknown {name} bandit {value!r}; known: {', '.join(BANDITS)}")
    started = time.perf_counter()
    deadline = started + (time_limit if time_limit is not None else math.inf)
    start_mask = warm_start_for(problem, warm_start, None if time_limit is None else WARM_START_SHARE * time_limit)
    pattern = problem.pattern
    scip_options = dict(node_limit=node_limit, gap_limit=gap_limit, seed=seed, threads=threads, scheduler=scheduler,
                        alns_bandit=alns_bandit, verbose=verbose)
    options = {"formulation": formulation, "qcr": qcr, "sdp_max_n": sdp_max_n, "scip": scip_options}
    start_rows = error_rows(problem.W, problem.H, start_mask, problem.objective, problem.damping)
    h = _unit(float(np.mean(np.diag(problem.H))))
    H_unit = problem.H / h
    mask = start_mask.copy()
    d_out = problem.shape[0]
    if pattern.row_local:
        groups = pattern.row_groups()
        prunes = [pattern.prune] * len(groups)
        bounds, statuses, infos = [], [], []
        for i in range(d_out):
            if not start_rows[i] > 0:  # the warm start's error is 0: optimal, since errors are >= 0
                bounds.append(0.0)
                statuses.append("optimal")
                continue
            now = time.perf_counter()
            row_deadline = now + (deadline - now) / (d_out - i) if math.isfinite(deadline) else math.inf
            if now >= deadline:  # out of time: the row keeps its warm start; 0 is a valid bound (errors are >= 0)
                bounds.append(0.0)
                statuses.append("not_attempted")
                continue
            w_unit = problem.W[i] / math.sqrt(start_rows[i] / h)
            spec = [(w_unit, groups, prunes, (~start_mask[i]).astype(float), 1.0)]
            try:
                zs, bound, status, info = _solve_model(ps, spec, H_unit, problem.objective, problem.damping, options,
                                                       row_deadline, i)
            except _OutOfTime:
                bounds.append(0.0)
                statuses.append("not_attempted")
                continue
            if zs[0] is not None:
                mask[i] = ~zs[0]
            bounds.append(bound * start_rows[i])
            statuses.append(status)
            infos.append(info)
    else:
        options["budget"] = pattern.prune
        options["qcr"] = "min-eig"  # rows have no fixed counts: only the diagonal part of QCR is valid
        total = float(start_rows.sum())
        bounds, statuses, infos = [0.0], ["optimal"], []
        if total > 0:
            W_unit = problem.W / math.sqrt(total / h)
            spec = [(W_unit[i], [], [], (~start_mask[i]).astype(float), start_rows[i] / total) for i in range(d_out)]
            try:
                zs, bound, status, info = _solve_model(ps, spec, H_unit, problem.objective, problem.damping, options,
                                                       deadline, -1)
                for i, z in enumerate(zs):
                    if z is not None:
                        mask[i] = ~z
                bounds, statuses, infos = [bound * total], [status], [info]
            except _OutOfTime:
                statuses = ["not_attempted"]
    proven = all(s == "optimal" for s in statuses)
    info_rows = {"rows_attempted": sum(s != "not_attempted" for s in statuses), "rows": len(statuses)}
    info = {"formulation": formulation, "scip_status": ",".join(sorted(set(statuses))),
            "nodes": int(sum(i["nodes"] for i in infos)), "lp_iterations": int(sum(i["lp_iterations"] for i in infos)),
            "heuristics": _merge_heuristics(infos), "trace": [p for i in infos for p in i["trace"]][:2000],
            "qcr": sorted({r.get("qcr") for i in infos for r in i["rows"] if r.get("qcr")}),
            "warm_start": warm_start if isinstance(warm_start, str) else "mask",
            "warm_start_objective": float(start_rows.sum()), "scheduler": scheduler, "alns_bandit": alns_bandit, **info_rows}
    return MethodAnswer(mask, lower_bound=float(sum(bounds)), status="optimal" if proven else "time_limit", info=info)


def _merge_heuristics(infos) -> dict:
    merged = {}
    for info in infos:
        for name, stats in info["heuristics"].items():
            entry = merged.setdefault(name, {"found": 0, "best": 0})
            entry["found"] += stats["found"]
            entry["best"] += stats["best"]
    return merged


