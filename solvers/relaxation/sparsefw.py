"""SparseFW ("Don't Be Greedy, Just Relax", arXiv 2510.13713): Frank-Wolfe on the relaxed mask, rounded.

1. Warm start from a mask (default Wanda); alpha-fixing keeps the top floor(alpha k) Wanda weights of
   every group fixed, and FW (``solvers.relaxation.fw_engine``) optimises the rest of the budget (alpha = 0.9
   as in the paper; alpha = 0 relaxes everything).
2. Rounding: top-k of the relaxed X inside every group (ties towards the warm start); with
   ``polish=True`` SparseSwaps refines the rounded mask. Both values are kept in ``info``.
3. Certified lower bound (``certify=True``): FW over the *full* relaxation (no fixing), where
   f(X_t) - gap_t <= relaxed optimum <= integer optimum. With ``strengthen`` (default "diag-scaled") it runs on the
   convexified objective sum_i e_i^T (H - diag d) e_i + sum_ij d_j w_ij^2 z_ij (equal to the mask error
   on binaries, z = pruned indicator; for d >= 0 it is >= the mask error on [0, 1], so its relaxed
   optimum is a bound at least as strong), with d from the SDP  max sum_j s_j d_j  s.t.  H - diag(d) PSD, d >= 0,
   s_j = sum_i w_ij^2 (cvxpy/SCS, one SDP per layer, only for d_in <= 256: at 576 it takes minutes);
   "diag-scaled" (default) uses d = lambda_min(D^-1/2 H D^-1/2) diag(H), D = diag(H), and "min-eig"
   d = lambda_min(H) 1; both cost one eigen-decomposition. "diag-bm" maximises the bound over d
   (a saddle point, ``_saddle_bound``): ``certify_rounds`` rounds, each one low-rank SDP solve
   (``solvers.sdp.burer_monteiro``) and one FW run; far stronger on real layers, about rounds x the cost.
   The bound from an alpha-fixed run is not valid and is never returned. For the per-row pattern on
   the CPU (numpy) the relaxation of "none" / "diag-scaled" / "min-eig" / "diag-sdp" is solved exactly
   by ``solvers.relaxation.pdas`` instead (same f - FW-gap certificate, at its exact optimum);
   ``info["certify_solver"]`` says which ("pdas" or "fw"); ``certify_solver`` ("auto", "fw", "pdas") forces one.
4. App. E guarantee per row (per-row pattern): f(rounded) - f(opt) <= eps + 2 lambda_max(Q_i)
   (min{k, r} + sqrt(2 r min{k, r})), r = d_in - k, eps = that row's FW gap; stored in ``info`` with
   the observed excess over the certified bound. lambda_max(Q_i) is bounded above by the smaller of
   Gershgorin's bound max_j |w_ij| sum_l |H_jl| |w_il| and lambda_max(H) max_j w_ij^2 (valid upper
   bounds, avoiding d_out eigen-decompositions).
``device`` ("cuda", "cuda:N", "cpu-torch"; default None = numpy on the CPU) runs the FW iterations
with torch on that device, same code path (``solvers.core.arrays``); masks, rounding and bounds come back
as numpy. Only the mask objective is relaxed; with ``objective="reconstruct"`` the mask is still chosen by the
mask relaxation and no lower bound is claimed.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..core.arrays import check_device, to_device, to_numpy
from ..core.objective import mask_error_rows
from ..core.patterns import Pattern, select_top
from ..core.problem import LayerProblem
from ..core.result import MethodAnswer
from ..heuristics.scores import wanda_scores, warm_start_mask
from .certificate import BM_ROUNDS, STRENGTHENINGS, app_e_bound, certified_bound, nonnegative_bound
from .fw_engine import frank_wolfe
from .row_bounds import row_gaps


def fixed_by_alpha(problem: LayerProblem, alpha: float) -> np.ndarray | None:
    """Top floor(alpha * keep) Wanda weights of every group (bool), or None for alpha = 0."""
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha must lie in [0, 1); got {alpha}")
    count = int(math.floor(alpha * problem.pattern.keep))
    if count == 0:
        return None
    p = problem.pattern
    return select_top(wanda_scores(problem.W, problem.H), Pattern(p.name, p.kind, p.shape, count, p.groups))


def solve_fw(problem: LayerProblem, *, time_limit=None, seed=0, alpha: float = 0.9, warm_start="wanda",
             variant: str = "line-search", max_iterations: int = 200, polish: bool = False, certify: bool = True,
             strengthen: str = "diag-scaled", certify_iterations: int = 200, certify_rounds: int = BM_ROUNDS,
             certify_solver: str = "auto", device: str | None = None) -> MethodAnswer:
    """SparseFW; see the module docstring for the steps and options."""
    if strengthen not in STRENGTHENINGS:
        raise ValueError(f"unknown strengthen {strengthen!r}; known: {', '.join(STRENGTHENINGS)}")
    check_device(device)
    started = time.perf_counter()
    start = warm_start_mask(problem, warm_start)
    fixed = fixed_by_alpha(problem, alpha)
    if fixed is not None and np.any(fixed & ~start):
        start = start | fixed
        start = select_top(start.astype(float) + fixed * 2.0, problem.pattern)
    # time: FW gets half of a limit (0.4 with polish), the polish 0.2 of it, the certificate what is left
    budget = None if time_limit is None else time_limit * ((0.4 if polish else 0.5) if certify else (0.8 if polish else 1.0))
    W, H, start_on, fixed_on = (to_device(x, device) for x in (problem.W, problem.H, start, fixed))
    run = frank_wolfe(W, H, problem.pattern, start_on, fixed_keep=fixed_on, variant=variant,
                      max_iterations=max_iterations, time_limit=budget)
    X = to_numpy(run.X)
    mask = select_top(X + 1e-9 * start, problem.pattern)
    rounded_error = float(mask_error_rows(problem.W, problem.H, mask).sum())
    info = {"iterations": run.iterations, "fw_gap": run.gap, "relaxed_objective": run.objective, "alpha": alpha,
            "variant": variant, "rounded_objective": rounded_error, "bound_from_fixed_run": fixed is not None,
            "warm_start": warm_start if isinstance(warm_start, str) else "mask", "device": device or "cpu"}
    if polish:
        from ..heuristics.sparseswaps import solve_sparseswaps

        polish_limit = None if time_limit is None else min(0.2 * time_limit, max(time_limit - (time.perf_counter() - started), 0.01))
        mask = solve_sparseswaps(problem, warm_start=mask, device=device, time_limit=polish_limit).mask
        info["polished_objective"] = float(mask_error_rows(problem.W, problem.H, mask).sum())
    lower_bound = -math.inf
    if problem.objective == "mask" and fixed is None and strengthen == "none":
        lower_bound = nonnegative_bound(run.lower_bound)
    elif problem.objective == "mask" and certify:
        remaining = None if time_limit is None else max(time_limit - (time.perf_counter() - started), 0.01)
        lower_bound, certificate = certified_bound(problem, start if fixed is None else warm_start_mask(problem, "wanda"),
                                                   strengthen, variant, certify_iterations, remaining, device,
                                                   certify_rounds, certify_solver)
        info.update(certificate)
    if problem.objective == "mask":
        info["lower_bound_source"] = "full relaxation" if math.isfinite(lower_bound) else "none"
        info.update(app_e_bound(problem, row_gaps(problem, X)))
        if info.get("app_e_bound") is not None and math.isfinite(lower_bound):
            info["app_e_observed_excess"] = rounded_error - lower_bound
    return MethodAnswer(mask, lower_bound=lower_bound, status="heuristic", info=info)


