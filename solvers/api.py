"""``solve_layer``: the library's one entry point."""
from __future__ import annotations

import math
import time

import numpy as np

from .core.objective import DEFAULT_DAMPING, check_mask, layer_error, reconstruct, relative_error
from .core.problem import is_real_number, make_problem
from .core.result import STATUSES, MethodAnswer, SolveResult
from .crosscheck import cross_check
from .plugins import find_method


def solve_layer(W, H, sparsity: float | None = 0.5, pattern: str = "per-row", method: str = "wanda",
                objective: str = "mask", time_limit: float | None = None, seed: int = 0,
                damping: float = DEFAULT_DAMPING, return_weights: bool = False, **method_options) -> SolveResult:
    """Choose a mask for W (d_out x d_in) given H = X X^T (d_in x d_in), with ``method``.

    ``sparsity`` is the pruned fraction (ignored for N:M patterns); ``pattern`` is "per-row",
    "per-layer" or "N:M"; ``objective`` is "mask" or "reconstruct" (see ``solvers.core.objective``).
    ``method`` is a registered name or a plug-in (``solvers.plugins``: an installed entry point or
    "pkg.module:function"). The returned objective is recomputed here from the mask, never taken from the
    method, and every "optimal" claim and every exact or plug-in method's bound is cross-checked (``solvers.crosscheck``) before it
    leaves: a claim that fails becomes "time_limit", an invalid bound is replaced by a certified one.
    ``return_weights=True`` also returns the pruned weights in ``result.weights``: W * mask, or for
    "reconstruct" the damped re-fit, from the same solves that give the objective.
    """
    spec = find_method(method)  # built-in, entry-point plug-in or "pkg.module:function" (solvers.plugins)
    if time_limit is not None and not (is_real_number(time_limit) and math.isfinite(time_limit) and time_limit > 0):
        raise ValueError(f"time_limit must be a positive number of seconds or None; got {time_limit!r}")
    if not (is_real_number(seed) and float(seed).is_integer()):
        raise ValueError(f"seed must be an integer; got {seed!r}")
    if not isinstance(return_weights, (bool, np.bool_)):
        raise ValueError(f"return_weights must be True or False; got {return_weights!r}")
    problem = make_problem(W, H, sparsity=sparsity, pattern=pattern, objective=objective, damping=damping)
    if not spec.takes(problem.pattern.kind, problem.objective):
        raise ValueError(f"method {method!r} solves the {'/'.join(spec.objectives)} objective with "
                         f"{'/'.join(spec.patterns)} patterns; not {problem.objective} with {problem.pattern.kind}")
    start = time.perf_counter()
    answer = spec.run(problem, time_limit=time_limit, seed=seed, **method_options)  # options checked by its spec
    elapsed = time.perf_counter() - start
    if not isinstance(answer, MethodAnswer):
        raise ValueError(f"method {method!r} returned {type(answer).__name__}, not a solvers.MethodAnswer")
    mask = np.asarray(answer.mask)
    status, info = answer.status, dict(answer.info)
    if status not in STATUSES:
        status, info["error"] = "error", f"method returned unknown status {answer.status!r}"
    try:
        check_mask(mask, problem.pattern)
    except ValueError as err:
        status, info["error"] = "error", f"infeasible answer: {err}"
    weights = None
    if mask.shape != problem.shape:
        value = float("nan")
    elif return_weights and problem.objective == "reconstruct":
        rows, weights = reconstruct(problem.W, problem.H, mask.astype(bool), damping)
        value = float(rows.sum())
    else:
        value = layer_error(problem.W, problem.H, mask.astype(bool), objective, damping)
        weights = np.where(mask.astype(bool), problem.W, 0.0) if return_weights else None
    lower_bound = float(answer.lower_bound) if is_real_number(answer.lower_bound) else math.nan
    if math.isnan(lower_bound):  # no bound rather than a bound no comparison can refute
        lower_bound, info["bound_ignored"] = -math.inf, repr(answer.lower_bound)
    plug_in = spec.origin != "built-in"  # its bound is checked like an exact method's, and against a heuristic
    if status != "error" and (status == "optimal" or ((spec.exact or plug_in) and math.isfinite(lower_bound))):
        checked = cross_check(problem, value, lower_bound, status, against_heuristic=plug_in)
        status, lower_bound, info["cross_check"] = checked.status, checked.lower_bound, checked.report
    return SolveResult(mask=mask, objective=value, lower_bound=lower_bound, status=status,
                       time_s=elapsed, info=info, relative_error=relative_error(value, problem.W, problem.H),
                       method=method, pattern=problem.pattern.name, weights=weights)
