"""The sub-problem of one row with a free set F of inputs, the rest fixed, and its exact solution.

Row i of the mask objective with weights w (length n), Gram matrix H and pruned indicator z = 1 - m is
    f(z) = (w o z)^T H (w o z).
Split the inputs into the free set F and the rest R, fixed at z_R, and write e_R = w_R o z_R (the pruned
weights outside F). Then
    f(z) = z_F^T Q z_F + 2 c^T z_F + e_R^T H_RR e_R,   Q = (w_F w_F^T) o H_FF,   c = w_F o (H_FR e_R),
a convex quadratic with a linear term, under the pattern's cardinality constraints restricted to F: each
group G keeps its pruned count among F, sum_{a in F n G} z_a = |F n G| - |F n G kept| (the rest of the group
is fixed, so the group's total stays the pattern's). On binaries c_a z_a = c_a z_a^2, so the linear term
moves onto the diagonal: Q' = Q + diag(2c) + lambda I, with lambda >= 0 the smallest shift that makes Q'
positive semidefinite (it adds lambda * (number pruned in F), a constant under the constraint). Q' is again
a mask objective of one row, w' = w_F and H' = H_FF + diag((2c + lambda) / w_F^2) (F holds only nonzero
weights), so the sub-problem is a ``LayerProblem`` any exact method solves (fw-bnb by default).

Per-row patterns free any inputs (one group: keep |F n kept|); N:M patterns free whole groups (F is a union
of groups of M, each keeping N). Small sub-problems (at most ``ENUMERATE_MAX`` feasible choices) are
enumerated; larger ones go to fw-bnb under a time and node limit. The caller checks the returned mask on the
full row's error: the sub-solver's claims are never trusted.
"""
from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np

from ...core.patterns import Pattern
from ...core.problem import LayerProblem
from ...exact.bnb.solve import solve_fw_bnb

PSD_MARGIN = 1e-9  # relative extra shift so that Q' is safely PSD
WORK_PER_FLOP = 1e-9  # nominal seconds of the deterministic cost model: enumeration flops ...
WORK_PER_NODE = 5e-3  # ... and fw-bnb nodes (about what one takes at m = 32 on the project's CPU)
ENUMERATE_MAX = 20_000  # sub-problems with at most this many feasible masks are enumerated (C(16, 8) = 12870)


@lru_cache(maxsize=64)
def _choices(groups: int, size: int, keep: int) -> np.ndarray:
    """Every mask of ``groups`` consecutive groups of ``size`` keeping ``keep`` each; shape (count, groups * size)."""
    one = np.array([[j in kept for j in range(size)] for kept in itertools.combinations(range(size), keep)])
    picks = np.array(list(itertools.product(range(len(one)), repeat=groups)), dtype=np.int64).reshape(-1, groups)
    return one[picks].reshape(len(picks), groups * size)


def choice_count(pattern: Pattern) -> int:
    """How many masks satisfy a one-row pattern."""
    groups, size = pattern.groups.shape
    return math.comb(size, pattern.keep) ** groups


def enumerate_best(problem: LayerProblem) -> np.ndarray:
    """The optimal mask of a one-row problem by enumeration (``ENUMERATE_MAX`` choices at most)."""
    groups, size = problem.pattern.groups.shape
    masks = _choices(groups, size, problem.pattern.keep)
    E = np.where(masks, 0.0, problem.W)
    return masks[np.argmin(np.einsum("ij,ij->i", E @ problem.H, E))][None, :]


def free_subproblem(w: np.ndarray, H: np.ndarray, keep_row: np.ndarray, free: np.ndarray, group_size: int | None
                    ) -> tuple[LayerProblem, np.ndarray] | None:
    """The sub-problem of freeing inputs ``free`` (sorted column indices; for N:M a union of whole groups of
    ``group_size``, in group order) in a row with mask ``keep_row``; (problem, start mask of F) or None when
    nothing is free to choose (every free group all kept or all pruned)."""
    z = ~keep_row
    rest = np.ones(w.size, dtype=bool)
    rest[free] = False
    e_rest = np.where(rest & z, w, 0.0)
    wF = w[free]
    c = wF * (H[free] @ e_rest)
    Q = np.outer(wF, wF) * H[np.ix_(free, free)] + np.diag(2 * c)
    low = float(np.linalg.eigvalsh(Q)[0])
    scale = max(float(np.abs(np.diag(Q)).max()), np.finfo(float).tiny)
    shift = max(0.0, -low) + PSD_MARGIN * scale
    H_sub = H[np.ix_(free, free)] + np.diag((2 * c + shift) / wF**2)
    start = keep_row[free][None, :]
    m = free.size
    if group_size is None:  # per-row: one group
        keep = int(start.sum())
        if keep in (0, m):
            return None
        pattern = Pattern("per-row", "per-row", (1, m), keep, np.arange(m)[None, :])
    else:
        groups = np.arange(m).reshape(-1, group_size)
        keep = int(start[0, groups[0]].sum())
        pattern = Pattern(f"{keep}:{group_size}", "N:M", (1, m), keep, groups)
    return LayerProblem(wF[None, :], (H_sub + H_sub.T) / 2, pattern), start


def solve_free_set(w: np.ndarray, H: np.ndarray, keep_row: np.ndarray, free: np.ndarray, group_size: int | None,
                   *, time_limit: float | None, node_limit: int, seed: int = 0) -> tuple[np.ndarray, float] | None:
    """(row mask with F re-chosen, work) or None when F has nothing to choose. Enumerated when small, else fw-bnb
    under ``time_limit`` / ``node_limit`` (its incumbent when a limit stops it: never worse than the current
    choice on F). ``work`` is a deterministic cost in nominal seconds (``WORK_PER_*``), for seeded runs."""
    built = free_subproblem(w, H, keep_row, free, group_size)
    if built is None:
        return None
    problem, start = built
    count = choice_count(problem.pattern)
    if count <= ENUMERATE_MAX:
        chosen, work = enumerate_best(problem), count * free.size**2 * WORK_PER_FLOP
    else:
        # most-fractional: the rule LNS was measured with; fw-bnb's default became pseudocost in session 22, measured
        # on proofs to optimality, not on node-limited sub-solves
        answer = solve_fw_bnb(problem, time_limit=time_limit, seed=seed, warm_start=start, node_limit=node_limit,
                              branching="most-fractional")
        chosen, work = answer.mask, max(1, answer.info["nodes"]) * WORK_PER_NODE
    out = keep_row.copy()
    out[free] = chosen[0]
    return out, work
