"""The neighbourhoods of lns: which inputs of a row to free, as a priority order of columns.

Each neighbourhood is a function (state, rng) -> columns in priority order; ``free_set`` takes the first
``size`` of them (per-row) or the groups of the first ones until ``size`` inputs are free (N:M). The row's
state holds the swap scores of SparseSwaps (``heuristics.sparseswaps``): for pruned j the change of the
row error when j is kept, A_j = -2 w_j c_j + w_j^2 H_jj, and for kept l the change when l is pruned,
B_l = 2 w_l c_l + w_l^2 H_ll, with c = H (w o (1 - m)); the most negative A and smallest B lie on the
mask boundary, where improvements are.

- ``boundary``: half the free set from the best pruned candidates (smallest A), half from the best kept
  ones (smallest B), each drawn at random from the best ``size`` of its side;
- ``correlated``: two pruned and two kept swap candidates as seeds, then the inputs with the largest
  |H_ab| / sqrt(H_aa H_bb) to any seed (inputs whose activations move together);
- ``window``: a contiguous window of inputs at a random offset (neighbouring channels, whole N:M groups);
- ``random``: uniform.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RowState:
    """One row: weights w, mask (True = keep), c = H (w o (1 - m)), the swap scores A (pruned) and B (kept),
    and which weights may be freed (nonzero ones; see ``lns.subproblem``)."""

    w: np.ndarray
    keep: np.ndarray
    A: np.ndarray
    B: np.ndarray
    movable: np.ndarray
    size: int

    @classmethod
    def of(cls, w: np.ndarray, H: np.ndarray, diag: np.ndarray, keep: np.ndarray, size: int) -> "RowState":
        c = H @ np.where(keep, 0.0, w)
        A = np.where(keep, np.inf, -2 * w * c + w**2 * diag)
        B = np.where(keep, 2 * w * c + w**2 * diag, np.inf)
        return cls(w, keep, A, B, w != 0, size)


def _best(scores: np.ndarray, movable: np.ndarray, count: int) -> np.ndarray:
    candidates = np.flatnonzero(np.isfinite(scores) & movable)
    return candidates[np.argsort(scores[candidates], kind="stable")[:count]]


def boundary(state: RowState, rng: np.random.Generator, corr=None) -> np.ndarray:
    half = max(1, state.size // 2)
    sides = []
    for scores in (state.A, state.B):
        best = _best(scores, state.movable, state.size)
        sides.append(rng.permutation(best)[:half])
    order = np.empty(sum(map(len, sides)), dtype=np.int64)
    short = min(map(len, sides))
    order[: 2 * short : 2], order[1 : 2 * short : 2] = sides[0][:short], sides[1][:short]
    order[2 * short :] = np.concatenate([s[short:] for s in sides])
    return order


def correlated(state: RowState, rng: np.random.Generator, corr=None) -> np.ndarray:
    seeds = np.concatenate([rng.permutation(_best(s, state.movable, 8))[:2] for s in (state.A, state.B)])
    closeness = np.abs(corr[seeds]).max(axis=0)
    closeness[seeds] = np.inf
    return np.argsort(-closeness, kind="stable")


def window(state: RowState, rng: np.random.Generator, corr=None) -> np.ndarray:
    n = state.w.size
    return (int(rng.integers(n)) + np.arange(n)) % n


def random(state: RowState, rng: np.random.Generator, corr=None) -> np.ndarray:
    return rng.permutation(state.w.size)


NEIGHBOURHOODS = [(boundary, "boundary"), (correlated, "correlated"), (window, "window"), (random, "random")]


def free_set(order: np.ndarray, state: RowState, group_size: int | None) -> np.ndarray:
    """The sorted free columns: the first ``state.size`` movable columns of ``order`` (per-row), or for N:M the
    groups of ``group_size`` met first in ``order``, whole, until ``state.size`` inputs are free (groups holding a
    zero weight are skipped)."""
    order = order[state.movable[order]]
    if group_size is None:
        _, first = np.unique(order, return_index=True)
        return np.sort(order[np.sort(first)][: state.size])
    groups = order // group_size
    _, first = np.unique(groups, return_index=True)
    groups = groups[np.sort(first)]
    whole = state.movable.reshape(-1, group_size).all(axis=1)
    groups = np.sort(groups[whole[groups]][: max(1, state.size // group_size)])
    return (groups[:, None] * group_size + np.arange(group_size)[None, :]).ravel()
