"""Importance scores of the greedy baselines; larger score = more worth keeping.

Each baseline is a score plus ``select_top`` inside the instance's own groups (STYLE.md), so the
comparison between methods is fair whatever group the original paper chose within.

- magnitude: |W_ij|.
- Wanda (Sun et al. 2023): |W_ij| * ||X_j||_2 = |W_ij| * sqrt(H_jj).
- RIA (Zhang et al. 2024): (|W_ij| / sum_k |W_ik| + |W_ij| / sum_k |W_kj|) * ||X_j||_2^a, a = 0.5.
"""
from __future__ import annotations

import numpy as np

from ..core.patterns import select_top
from ..core.problem import LayerProblem
from ..core.result import MethodAnswer


def magnitude_scores(W: np.ndarray, H: np.ndarray) -> np.ndarray:
    return np.abs(W)


def wanda_scores(W: np.ndarray, H: np.ndarray) -> np.ndarray:
    return np.abs(W) * np.sqrt(np.clip(np.diag(H), 0.0, None))[None, :]


def ria_scores(W: np.ndarray, H: np.ndarray, *, power: float = 0.5, row_abs_sums: np.ndarray | None = None,
               col_abs_sums: np.ndarray | None = None) -> np.ndarray:
    """RIA's score. Its sums run over the whole module: ``row_abs_sums`` (d_out: sum_k |W_ik| over the full row)
    and ``col_abs_sums`` (d_in: sum_k |W_kj| over all of the module's rows) default to W's own, and are given
    when W is a slice of a larger module (``instances.slices`` stores them), so a slice ranks as its layer does."""
    A = np.abs(W)
    tiny = np.finfo(np.float64).tiny
    rows = A.sum(axis=1) if row_abs_sums is None else _module_sums(row_abs_sums, W.shape[0], "row_abs_sums", "d_out")
    cols = A.sum(axis=0) if col_abs_sums is None else _module_sums(col_abs_sums, W.shape[1], "col_abs_sums", "d_in")
    relative = A / np.maximum(rows, tiny)[:, None] + A / np.maximum(cols, tiny)[None, :]
    return relative * np.sqrt(np.clip(np.diag(H), 0.0, None))[None, :] ** power


def _module_sums(sums, length: int, name: str, axis: str) -> np.ndarray:
    sums = np.asarray(sums, dtype=np.float64)
    if sums.shape != (length,):
        raise ValueError(f"ria: {name} has shape {sums.shape}; it needs one entry per {axis} ({length})")
    return sums


def _score_method(score_fn):
    def solve(problem: LayerProblem, *, time_limit=None, seed=0, **options) -> MethodAnswer:
        scores = score_fn(problem.W, problem.H, **options)
        return MethodAnswer(select_top(scores, problem.pattern))

    solve.__doc__ = f"Keep the top scores of every group; score: {score_fn.__name__}."
    return solve


solve_magnitude = _score_method(magnitude_scores)
solve_wanda = _score_method(wanda_scores)
solve_ria = _score_method(ria_scores)

WARM_START_SCORES = {"magnitude": magnitude_scores, "wanda": wanda_scores, "ria": ria_scores}


def warm_start_mask(problem: LayerProblem, warm_start) -> np.ndarray:
    """A start mask: a score name from WARM_START_SCORES or a feasible bool array."""
    if isinstance(warm_start, str):
        if warm_start not in WARM_START_SCORES:
            raise ValueError(f"unknown warm_start {warm_start!r}; known: {', '.join(WARM_START_SCORES)} or a mask array")
        return select_top(WARM_START_SCORES[warm_start](problem.W, problem.H), problem.pattern)
    from ..core.objective import check_mask

    mask = np.asarray(warm_start)
    check_mask(mask, problem.pattern)
    return mask.copy()
