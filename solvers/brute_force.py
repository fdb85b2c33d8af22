"""Exact optimum by enumeration, for tiny instances (tests and stored reference optima).

Rows are independent for row-local patterns, so each row is enumerated on its own: every
combination of its groups' kept sets (product over groups of C(size, keep)). Per-layer enumerates
all masks of the whole matrix keeping the budget. Refuses when one enumeration exceeds
``max_masks`` candidates.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .objective import error_rows
from .problem import LayerProblem
from .result import MethodAnswer

DEFAULT_MAX_MASKS = 2_000_000


def _candidate_masks(groups: np.ndarray, keep: int, size: int) -> np.ndarray:
    """All bool vectors of length ``size`` keeping ``keep`` of each group; shape (count, size)."""
    per_group = [list(itertools.combinations(group, keep)) for group in groups]
    count = math.prod(len(c) for c in per_group)
    masks = np.zeros((count, size), dtype=bool)
    for n, choice in enumerate(itertools.product(*per_group)):
        for kept in choice:
            masks[n, list(kept)] = True
    return masks


def _count(groups: np.ndarray, keep: int) -> int:
    return math.comb(groups.shape[1], keep) ** groups.shape[0]


def solve_brute_force(problem: LayerProblem, *, time_limit=None, seed=0, max_masks: int = DEFAULT_MAX_MASKS) -> MethodAnswer:
    """Enumerate feasible masks and return the best (status "optimal", lower bound = optimum)."""
    pattern, (d_out, d_in) = problem.pattern, problem.shape
    groups = pattern.row_groups() if pattern.row_local else pattern.groups
    count = _count(groups, pattern.keep)
    if count > max_masks:
        raise ValueError(f"brute force needs {count} masks per enumeration, above max_masks={max_masks}")
    if pattern.row_local:
        candidates = _candidate_masks(groups, pattern.keep, d_in)
        mask = np.zeros((d_out, d_in), dtype=bool)
        best_total = 0.0
        for i in range(d_out):
            W_rep = np.repeat(problem.W[i : i + 1], len(candidates), axis=0)
            errors = error_rows(W_rep, problem.H, candidates, problem.objective, problem.damping)
            mask[i] = candidates[np.argmin(errors)]
            best_total += float(errors.min())
    else:
        candidates = _candidate_masks(groups, pattern.keep, d_out * d_in)
        totals = np.array([error_rows(problem.W, problem.H, c.reshape(d_out, d_in), problem.objective,
                                      problem.damping).sum() for c in candidates])
        mask = candidates[np.argmin(totals)].reshape(d_out, d_in)
        best_total = float(totals.min())
    return MethodAnswer(mask, lower_bound=best_total, status="optimal", info={"enumerated": count})
