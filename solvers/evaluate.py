"""Scoring a mask made elsewhere: its objective, the pattern it fits, and its certified gap.

``detect_pattern`` reads the pattern off a boolean mask (True = keep): the first that fits of N:M with
M = 4, 8, 16, 32 (every group of M consecutive inputs of a row keeps the same N), per-row (every row
keeps the same k) and per-layer (K kept in all). The sparsity of per-row / per-layer is the shortest
decimal s with round((1 - s) * group size) = kept, the rule ``make_pattern`` uses, so a mask pruned at
50 % is scored in the setting "per-row@0.5" beside the built-in methods. With ``pattern`` (and
``sparsity``) given, the mask must fit that pattern instead.

``evaluate_mask`` recomputes the objective with ``solvers.core.objective`` (the error
sum_i (w_i (1 - m_i))^T H (w_i (1 - m_i)) for "mask", the damped re-fit's error for "reconstruct"),
and with ``bound="fw-sdp"`` (any method that returns a certified bound) the gap
(f - L) / f >= (f - f*) / f, an upper bound on how far the mask is from the optimum.
"""
from __future__ import annotations

import math

import numpy as np

from .api import solve_layer
from .core.objective import DEFAULT_DAMPING, layer_error, relative_error
from .core.patterns import Pattern, group_violations, make_pattern, parse_nm
from .core.problem import make_problem, to_numpy

NM_GROUP_SIZES = (4, 8, 16, 32)


def check_boolean_mask(mask, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``mask`` as a numpy bool array; ValueError for any other dtype, a non-finite entry or a wrong shape."""
    if hasattr(mask, "detach"):  # a torch tensor
        mask = mask.detach().cpu().numpy()
    array = np.asarray(mask)
    if array.dtype != np.bool_:
        finite = "" if array.dtype.kind not in "fc" or np.all(np.isfinite(array)) else ", with non-finite entries"
        raise ValueError(f"a mask must be boolean (True = keep); got dtype {array.dtype}{finite}")
    if array.ndim != 2:
        raise ValueError(f"a mask must be 2-D (d_out x d_in); got shape {array.shape}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"mask shape {array.shape} does not match the weights {tuple(shape)}")
    return array


def sparsity_for(keep: int, size: int) -> float:
    """The shortest decimal pruned fraction s with round((1 - s) * size) == keep (``make_pattern``'s rule)."""
    exact = 1.0 - keep / size
    for digits in (1, 2, 3, 4, 6, 9):
        s = round(exact, digits)
        if 0.0 < s < 1.0 and int(round((1.0 - s) * size)) == keep:
            return s
    return exact


def candidate_patterns(shape: tuple[int, int], pattern: str | None = None) -> list[tuple[str, int]]:
    """(name, group size) of the patterns to try, most structured first; "?:M" is N:M with N to be found."""
    d_out, d_in = shape
    if pattern is not None:
        nm = parse_nm(pattern)
        return [(pattern, nm[1] if nm else (d_in if pattern == "per-row" else d_out * d_in))]
    return [(f"?:{m}", m) for m in NM_GROUP_SIZES if d_in % m == 0 and d_in > m] + \
        [("per-row", d_in), ("per-layer", d_out * d_in)]


def resolve_ambiguous(kept: np.ndarray, ambiguous: np.ndarray, candidate: tuple[str, int],
                      sparsity: float | None = None) -> tuple[np.ndarray, str, float | None] | None:
    """(mask, pattern, sparsity) if some choice of the ``ambiguous`` entries (each may be kept or pruned, e.g. a
    weight that is zero in the dense model and in the pruned one) fits ``candidate``, each group counting as kept
    the fewest ambiguous entries it can (the first ones); None if none fits. Without ambiguous entries: whether
    ``kept`` fits it, the group count of N:M ("?:M") and the sparsity being read off the mask."""
    name, size = candidate
    groups, loose = kept.reshape(-1, size), ambiguous.reshape(-1, size)
    low = groups.sum(axis=1)
    high = low + loose.sum(axis=1)
    nm = parse_nm(name) if not name.startswith("?:") else None
    if nm:
        target = nm[0]
    elif sparsity is not None and not name.startswith("?:"):
        target = make_pattern(name, kept.shape, sparsity).keep
    else:
        target = int(low.max())
    if not (0 < target < size and np.all(low <= target) and np.all(target <= high)):
        return None
    add = target - low
    mask = groups | (loose & (np.cumsum(loose, axis=1) <= add[:, None]))
    found = f"{target}:{size}" if name.startswith("?:") else name
    found_sparsity = None if ":" in found else (sparsity if sparsity is not None else sparsity_for(target, size))
    return mask.reshape(kept.shape), found, found_sparsity


def fitting_patterns(mask: np.ndarray) -> list[tuple[str, float | None]]:
    """Every (pattern, sparsity) the mask fits, most structured first (N:M by M, per-row, per-layer): the
    candidates ``resolve_ambiguous`` accepts when no entry is ambiguous."""
    none = np.zeros_like(mask)
    return [found[1:] for c in candidate_patterns(mask.shape) if (found := resolve_ambiguous(mask, none, c)) is not None]


def detect_pattern(mask, pattern: str | None = None, sparsity: float | None = None) -> Pattern:
    """The pattern ``mask`` fits (module docstring); ValueError saying what it keeps when it fits none, or
    not the one asked for."""
    mask = check_boolean_mask(mask)
    if pattern is None:
        found = fitting_patterns(mask)
        if not found:
            raise ValueError(f"the mask fits no pattern: it keeps {int(mask.sum())} of {mask.size} weights "
                             "(nothing pruned or nothing kept)")
        return make_pattern(found[0][0], mask.shape, found[0][1])
    if sparsity is None and parse_nm(pattern) is None:
        counts = mask.sum(axis=1) if pattern == "per-row" else np.array([mask.sum()])
        size = mask.shape[1] if pattern == "per-row" else mask.size
        sparsity = sparsity_for(int(counts[0]), size) if 0 < counts[0] < size else 0.5
    wanted = make_pattern(pattern, mask.shape, sparsity)
    bad = group_violations(mask, wanted)
    if len(bad):
        kept = mask.reshape(-1)[wanted.groups].sum(axis=1)
        raise ValueError(f"the mask does not fit {pattern}{'' if sparsity is None or ':' in pattern else '@%g' % sparsity}: "
                         f"{len(bad)} of {len(wanted.groups)} groups keep other than {wanted.keep} "
                         f"(they keep {int(kept.min())} to {int(kept.max())})")
    return wanted


def evaluate_mask(W, H, mask, objective: str = "mask", *, pattern: str | None = None, sparsity: float | None = None,
                  bound: str | None = None, time_limit: float | None = None, damping: float = DEFAULT_DAMPING) -> dict:
    """Score ``mask`` on (W, H): the fields of a benchmark record (objective, relative_error, pattern,
    sparsity, kept, fits) and, with ``bound`` (a method name such as "fw-sdp"), its certified lower bound and
    gap ("lower_bound", "gap", "bound_method", "bound_time_s"); without one, lower_bound is -inf and gap inf.
    ``pattern``/``sparsity``: the pattern the mask must fit (default: detected, ``detect_pattern``)."""
    W = to_numpy(W, "W")
    mask = check_boolean_mask(mask, W.shape)
    found = detect_pattern(mask, pattern, sparsity)
    sparsity = None if found.kind == "N:M" else sparsity_for(found.keep, found.group_size)
    problem = make_problem(W, H, sparsity=sparsity, pattern=found.name, objective=objective, damping=damping)
    value = layer_error(problem.W, problem.H, mask, objective, damping)
    fields = {"objective_kind": objective, "objective": value, "relative_error": relative_error(value, problem.W, problem.H),
              "pattern": found.name, "sparsity": sparsity, "kept": int(mask.sum()), "size": int(mask.size),
              "fits": ",".join(p if s is None else f"{p}@{s:g}" for p, s in fitting_patterns(mask)),
              "lower_bound": -math.inf, "gap": math.inf, "bound_method": ""}
    if bound is not None:
        result = solve_layer(problem.W, problem.H, sparsity, found.name, bound, objective=objective,
                             time_limit=time_limit, damping=damping)
        fields.update(lower_bound=result.lower_bound, bound_method=bound, bound_time_s=result.time_s,
                      bound_method_objective=result.objective)
        if math.isfinite(result.lower_bound):
            fields["gap"] = max(0.0, (value - result.lower_bound) / value) if value > 0 else 0.0
    return fields
