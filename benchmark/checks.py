"""The harness's own checks of every answer; a failed check becomes a flag on the record.

Per answer (worker side): ``infeasible`` (mask breaks the pattern), ``objective_mismatch`` (the
reported or a solver-claimed objective differs from the objective module's recompute),
``bound_above_objective`` (lower bound above the answer's own value), ``solver_error``.
Against known values (main process, ``check_against_reference``): ``bound_above_best_primal``
(lower bound above the best known primal value or a proven optimum) and ``wrong_optimal_claim``
(status "optimal" but worse than a known primal value). Claims and bounds that ``solve_layer``'s own
cross-check refuted (``solvers.crosscheck``) are flagged ``wrong_optimal_claim`` and ``invalid_bound``
(the record then holds the downgraded status and the replacement bound).
"""
from __future__ import annotations

import math

import numpy as np

from solvers.core.objective import check_mask, layer_error

OBJECTIVE_RTOL = 1e-9   # recompute agreement
BOUND_RTOL = 1e-7       # slack for bounds from floating-point solvers
CLAIM_RTOL = 1e-6       # slack for "optimal" claims (solver feasibility tolerances)


def _exceeds(value: float, reference: float, rtol: float) -> bool:
    return value > reference + rtol * max(abs(reference), 1e-12)


def check_answer(problem, pattern, objective: str, damping: float, result) -> list[str]:
    flags = []
    try:
        check_mask(result.mask, pattern)
    except ValueError:
        flags.append("infeasible")
    else:
        recomputed = layer_error(problem.W, problem.H, result.mask, objective, damping)
        claimed = [result.objective] + ([result.info["claimed_objective"]] if "claimed_objective" in result.info else [])
        if any(not math.isclose(c, recomputed, rel_tol=OBJECTIVE_RTOL, abs_tol=1e-300) for c in claimed):
            flags.append("objective_mismatch")
    if np.isfinite(result.lower_bound) and np.isfinite(result.objective) and _exceeds(result.lower_bound, result.objective, BOUND_RTOL):
        flags.append("bound_above_objective")
    if result.status == "error":
        flags.append("solver_error")
    report = result.info.get("cross_check") or {}
    if report.get("claim_refuted"):
        flags.append("wrong_optimal_claim")
    if report.get("bound_replaced"):
        flags.append("invalid_bound")
    return flags


def check_against_reference(record: dict, best_primal: float) -> list[str]:
    """Flags of ``record`` against the best known primal value (a proven optimum where known)."""
    flags = []
    if not math.isfinite(best_primal):
        return flags
    bound = record.get("lower_bound", -math.inf)
    if bound is not None and math.isfinite(bound) and _exceeds(bound, best_primal, BOUND_RTOL):
        flags.append("bound_above_best_primal")
    if record.get("status") == "optimal" and _exceeds(record["objective"], best_primal, CLAIM_RTOL) \
            and "wrong_optimal_claim" not in record.get("flags", ""):
        flags.append("wrong_optimal_claim")
    return flags


def trusted(record: dict) -> bool:
    """A record whose values may update the references: feasible, consistent, not an error."""
    return record.get("status") != "error" and not record.get("flags")
