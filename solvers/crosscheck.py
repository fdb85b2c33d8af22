"""Cross-checks of an answer before it leaves ``solve_layer``: no "optimal" and no lower bound is taken
on a method's word alone.

With f the answer's objective (recomputed by ``solvers.core.objective``), f_ref the value of an independent
feasible mask (Wanda refined by SparseSwaps, stopped at ``CHECK_SECONDS``) and L_ref a lower bound the
project computes itself (mask objective: the per-row relaxation solved by ``relaxation.pdas``, or
Frank-Wolfe f - gap for N:M and per-layer, on the Jacobi-strengthened objective; reconstruct objective:
every row's pruned part has error w_P^T [(H_d^{-1})_PP]^{-1} w_P >= lambda_min(H_d) ||w_P||^2, summed
over the smallest feasible pruned sets), an answer passes when
    "optimal":  f <= f_ref (1 + CLAIM_RTOL)  and  f >= L_ref (1 - CLAIM_RTOL),
    any bound L:  L <= min(f, f_ref) (1 + BOUND_RTOL).
A failed claim becomes status "time_limit"; a failed bound is replaced by L_ref (valid). Without a claim
(a time-limited exact answer) only L <= f is checked, so that the check costs no time there. ``info["cross_check"]``
holds f_ref, L_ref, whether it passed and, if not, the reason. Both references are independent of the
method being checked, and both are scale-invariant (relative tolerances, no absolute floors).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .core.objective import damped_gram, layer_error
from .core.problem import LayerProblem

CLAIM_RTOL = 1e-6   # slack for "optimal" claims (solver feasibility tolerances)
BOUND_RTOL = 1e-7   # slack for bounds from floating-point solvers
CHECK_SECONDS = 5.0  # time for each reference (heuristic, bound) of a claimed optimum
BOUND_CHECK_SECONDS = 1.0  # the same for a bound that comes without an optimality claim


@dataclass
class Checked:
    """An answer after the cross-check: status, lower bound and the check's report for ``info``."""

    status: str
    lower_bound: float
    report: dict


def reference_value(problem: LayerProblem, time_limit: float) -> float:
    """The value of an independent feasible mask: Wanda refined by SparseSwaps (mask objective swaps)."""
    from .heuristics.sparseswaps import solve_sparseswaps

    mask = solve_sparseswaps(problem, time_limit=time_limit).mask
    return layer_error(problem.W, problem.H, mask, problem.objective, problem.damping)


def reference_bound(problem: LayerProblem, time_limit: float) -> float:
    """A lower bound the project certifies itself (module docstring); 0 at worst."""
    if problem.objective == "reconstruct":
        return reconstruct_floor(problem)
    from .heuristics.scores import warm_start_mask
    from .relaxation.certificate import certified_bound

    bound, _ = certified_bound(problem, warm_start_mask(problem, "wanda"), "diag-scaled", "line-search", 200, time_limit)
    return bound


def reconstruct_floor(problem: LayerProblem) -> float:
    """lambda_min(H_d) times the smallest sum of squared pruned weights any feasible mask has."""
    lam = float(np.linalg.eigvalsh(damped_gram(problem.H, problem.damping))[0])
    if not lam > 0:
        return 0.0
    pattern, squares = problem.pattern, problem.W**2
    if pattern.row_local:
        groups = pattern.row_groups()
        smallest = np.sort(squares[:, groups], axis=2)[:, :, : pattern.prune].sum()
    else:
        smallest = np.sort(squares.ravel())[: pattern.prune].sum()
    return lam * float(smallest)


def cross_check(problem: LayerProblem, objective: float, lower_bound: float, status: str,
                against_heuristic: bool = False) -> Checked:
    """Check a claim of optimality and a lower bound against independent references (module docstring).
    Without a claim only L <= f is checked (no reference solves: a time-limited answer stays on time), unless
    ``against_heuristic`` (a plug-in's bound: also L <= f_ref, the SparseSwaps value found in
    ``BOUND_CHECK_SECONDS``); the certified bound is computed only to replace a bound that fails."""
    claim = status == "optimal"
    f_ref = reference_value(problem, CHECK_SECONDS if claim else BOUND_CHECK_SECONDS) \
        if claim or against_heuristic else math.inf
    bound_ref = reference_bound(problem, CHECK_SECONDS) if claim else None
    report = {"reference_value": f_ref, "reference_bound": bound_ref, "passed": True, "reason": "",
              "claim_refuted": False, "bound_replaced": False}
    reasons = []
    if claim and math.isfinite(objective):
        if objective > f_ref * (1 + CLAIM_RTOL):
            reasons.append(f"claimed optimum {objective:.9g} exceeds the value {f_ref:.9g} of a SparseSwaps mask")
        if objective < bound_ref * (1 - CLAIM_RTOL):
            reasons.append(f"claimed optimum {objective:.9g} is below the certified bound {bound_ref:.9g}")
        report["claim_refuted"] = bool(reasons)
    primal = min(objective, f_ref) if math.isfinite(objective) else f_ref
    if math.isnan(lower_bound) or (math.isfinite(lower_bound) and lower_bound > primal * (1 + BOUND_RTOL)):
        if bound_ref is None:
            bound_ref = reference_bound(problem, BOUND_CHECK_SECONDS)
        reasons.append(f"lower bound {lower_bound:.9g} exceeds the feasible value {primal:.9g}; "
                       f"replaced by the certified bound {bound_ref:.9g}")
        report.update(bound_replaced=True, claimed_bound=lower_bound, reference_bound=bound_ref)
        lower_bound = bound_ref
    if reasons:
        report.update(passed=False, reason="; ".join(reasons))
        if claim:
            status = "time_limit"
    return Checked(status, lower_bound, report)
