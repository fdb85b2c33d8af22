"""Exact optimum by enumeration, for tiny instances (tests and stored reference optima).

Rows are independent for row-local patterns, so each row is enumerated on its own: every
combination of its groups' kept sets (product over groups of C(size, keep)). Per-layer enumerates
all masks of the whole matrix keeping the budget. Refuses when one enumeration exceeds
``max_masks`` candidates.
"""
from __future__ import annotations

import itertools
import math
import time

import numpy as np

from ..core.objective import error_rows
from ..core.problem import LayerProblem
from ..core.result import MethodAnswer
from ..heuristics.scores import warm_start_mask

DEFAULT_MAX_MASKS = 2_000_000


class _OutOfTime(Exception):
    pass


def _candidate_masks(groups: np.ndarray, keep: int, size: int, deadline: float = math.inf) -> np.ndarray:
    """All bool vectors of length ``size`` keeping ``keep`` of each group; shape (count, size)."""
    per_group = [list(itertools.combinations(group, keep)) for group in groups]
    count = math.prod(len(c) for c in per_group)
    masks = np.zeros((count, size), dtype=bool)
    for n, choice in enumerate(itertools.product(*per_group)):
        if n % 4096 == 0 and time.perf_counter() > deadline:
            raise _OutOfTime
        for kept in choice:
            masks[n, list(kept)] = True
    return masks


def _count(groups: np.ndarray, keep: int) -> int:
    return math.comb(groups.shape[1], keep) ** groups.shape[0]


def solve_brute_force(problem: LayerProblem, *, time_limit=None, seed=0, max_masks: int = DEFAULT_MAX_MASKS) -> MethodAnswer:
    """Enumerate feasible masks and return the best (status "optimal", lower bound = optimum). Stopped by
    ``time_limit``: rows not enumerated keep the Wanda mask (per-layer: the best mask seen so far) and add
    0 to the bound (errors are >= 0); status "time_limit"."""
    pattern, (d_out, d_in) = problem.pattern, problem.shape
    deadline = time.perf_counter() + (time_limit if time_limit is not None else math.inf)
    groups = pattern.row_groups() if pattern.row_local else pattern.groups
    count = _count(groups, pattern.keep)
    if count > max_masks:
        raise ValueError(f"brute force needs {count} masks per enumeration, above max_masks={max_masks}")
    mask = warm_start_mask(problem, "wanda")
    best_total, proven = 0.0, True
    try:
        if pattern.row_local:
            candidates = _candidate_masks(groups, pattern.keep, d_in, deadline)
            for i in range(d_out):
                if time.perf_counter() > deadline:
                    raise _OutOfTime
                W_rep = np.repeat(problem.W[i : i + 1], len(candidates), axis=0)
                errors = error_rows(W_rep, problem.H, candidates, problem.objective, problem.damping)
                mask[i] = candidates[np.argmin(errors)]
                best_total += float(errors.min())
        else:
            candidates = _candidate_masks(groups, pattern.keep, d_out * d_in, deadline)
            best_total = math.inf
            for n, c in enumerate(candidates):
                if n % 256 == 0 and time.perf_counter() > deadline:
                    raise _OutOfTime
                total = error_rows(problem.W, problem.H, c.reshape(d_out, d_in), problem.objective,
                                   problem.damping).sum()
                if total < best_total:
                    best_total, mask = float(total), c.reshape(d_out, d_in)
    except _OutOfTime:
        proven = False
    if not proven:
        return MethodAnswer(mask, lower_bound=best_total if pattern.row_local else 0.0, status="time_limit",
                            info={"enumerated": count, "stopped": "time limit"})
    return MethodAnswer(mask, lower_bound=best_total, status="optimal", info={"enumerated": count})
