"""The lns loop over a set of rows: pick a row, let the bandit pick a (neighbourhood, size) arm, free that set,
re-solve it exactly (``lns.subproblem``), keep the result when the row's error falls, polish it with 1-swaps.

Rows: the one with the largest priority (remaining gap: row error minus its bound, 0 without one) times
1/2 per consecutive failure; a row is settled after ``patience`` failures in a row. When every row is settled the
search ends, or, under a time limit, starts another pass over all rows (the limit is the budget). Reward of an arm: the
error reduction per second of the call, r = 1 - exp(-rate / mean rate of all calls so far) in [0, 1), so an
arm of average yield scores 0.63 whatever the layer's scale (the bandit sees only relative yields). With
``thompson-budgeted`` the gain and the cost (seconds, or work) are reported apart, each squashed by its mean over
all calls so far the same way (r = 1 - exp(-gain / mean gain), c = 1 - exp(-cost / mean cost)). Every
accepted change lowers the row error by more than ``REL_TOL`` of it, so the search is monotone.

``deterministic``: rewards count the sub-problem's work (``lns.subproblem``'s cost model, nominal seconds) instead of
seconds and fw-bnb sub-solves stop by their node limit only, so a seed fixes the run when ``max_calls`` or
``work_limit`` (summed work) ends it before the time limit; the work trace (summed work, error reduction) then
compares policies at equal work, free of the machine's load.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ...core.bandits import DISCOUNT, Bandit
from ...core.objective import mask_error_rows
from ..sparseswaps import REL_TOL, swap_rows
from .neighbourhoods import NEIGHBOURHOODS, RowState, free_set
from .subproblem import solve_free_set

SWAP_CHUNK = 64  # rows per SparseSwaps pass (its numpy default)
DEFAULT_BANDIT = "thompson-budgeted"  # lns's bandit policy unless told (the measurement: lns.solve's docstring)


@dataclass(frozen=True)
class SearchSettings:
    """Options of one search (the method's options, ``solvers.registry``)."""

    bandit: str = DEFAULT_BANDIT
    discount: float = DISCOUNT
    sizes: tuple = (16, 32, 64)
    sub_time: float = 0.5
    sub_nodes: int = 200
    patience: int = 12
    max_calls: int | None = None
    deterministic: bool = False
    work_limit: float | None = None
    swap_first: bool = False
    seed: int = 0

    @property
    def arms(self) -> list[tuple[int, str, int, str]]:
        """(neighbourhood index, name, size, label such as "boundary-32") per arm."""
        return [(k, name, size, f"{name}-{size}") for k, (_, name) in enumerate(NEIGHBOURHOODS) for size in self.sizes]


@dataclass
class SearchStats:
    """What one search did, per arm name ("boundary-32"): calls, wins, error reduction (summed), seconds; the
    trace of accepted improvements as (seconds since the start, error reduction), and under ``deterministic`` as
    (work so far, error reduction); the summed work; the bandit's final weights; rows settled."""

    calls: dict = field(default_factory=dict)
    wins: dict = field(default_factory=dict)
    reductions: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    trace: list = field(default_factory=list)
    work_trace: list = field(default_factory=list)
    work: float = 0.0
    weights: dict = field(default_factory=dict)
    settled_rows: int = 0
    passes: int = 1


def _squash(value: float, mean: float) -> float:
    """1 - exp(-value / mean) in [0, 1): 0.63 for a value at the mean; 0 when the mean is 0."""
    return 1.0 - math.exp(-value / mean) if mean > 0 else 0.0


def search_rows(W: np.ndarray, H: np.ndarray, mask: np.ndarray, group_size: int | None, settings: SearchSettings,
                deadline: float, started: float, row_bounds: np.ndarray | None = None
                ) -> tuple[np.ndarray, SearchStats]:
    """lns on rows ``W`` (mask rows ``mask``) until ``deadline`` (perf_counter), every row settled,
    ``max_calls`` sub-problems or ``work_limit`` summed work. ``group_size``: N:M's M (None: per-row, or per-layer rows, whose counts stay
    fixed). The trace's times count from ``started``. ``settings.swap_first``: SparseSwaps' 1-swaps on these rows
    first (to their local optimum or the deadline), so the cheap start runs in every worker at once."""
    rng = np.random.default_rng(settings.seed)
    arms = settings.arms
    bandit = Bandit(len(arms), settings.bandit, seed=settings.seed, discount=settings.discount)
    stats = SearchStats()
    mask = mask.copy()
    n = W.shape[1]
    col_groups = np.arange(n).reshape(-1, group_size or n)
    diag = np.diag(H).copy()
    if settings.swap_first and len(W):
        before = float(mask_error_rows(W, H, mask).sum())
        keep = int(mask[0][col_groups[0]].sum())
        for r0 in range(0, len(W), SWAP_CHUNK):
            rows = slice(r0, r0 + SWAP_CHUNK)
            mask[rows], _, _ = swap_rows(W[rows], H, mask[rows], col_groups, keep, deadline, 100_000)
        swapped = before - float(mask_error_rows(W, H, mask).sum())
        if swapped > 0:
            stats.trace.append((time.perf_counter() - started, swapped))
            if settings.deterministic:  # the same for every policy: outside the work model, at work 0
                stats.work_trace.append((0.0, swapped))
    root = np.sqrt(np.clip(diag, np.finfo(float).tiny, None))
    corr = H / root[:, None] / root[None, :]
    errors = mask_error_rows(W, H, mask)
    bounds = np.zeros(len(W)) if row_bounds is None else np.asarray(row_bounds, dtype=float)
    failures = np.zeros(len(W), dtype=np.int64)
    rate_sum, gain_sum, cost_sum, calls, passes = 0.0, 0.0, 0.0, 0, 1
    while True:
        priority = np.maximum(errors - bounds, 0.0) * 0.5 ** failures
        priority[(failures >= settings.patience) | (errors <= 0)] = -1.0
        i = int(np.argmax(priority)) if len(W) else 0
        if len(W) and priority[i] < 0 and math.isfinite(deadline) and np.any(errors > 0):
            passes += 1  # every row settled before the time limit: another pass over all of them
            stats.settled_rows = max(stats.settled_rows, int(np.sum(failures >= settings.patience)))
            failures[:] = 0
            continue
        if not len(W) or priority[i] < 0 or time.perf_counter() >= deadline or \
                (settings.max_calls is not None and calls >= settings.max_calls) or \
                (settings.work_limit is not None and stats.work >= settings.work_limit):
            break
        arm = bandit.choose()
        k, _, size, label = arms[arm]
        t0 = time.perf_counter()
        state = RowState.of(W[i], H, diag, mask[i], size)
        free = free_set(NEIGHBOURHOODS[k][0](state, rng, corr), state, group_size)
        solved = None
        if free.size >= 2:
            budget = None if settings.deterministic else max(0.0, min(settings.sub_time, deadline - t0))
            solved = solve_free_set(W[i], H, mask[i], free, group_size, time_limit=budget,
                                    node_limit=settings.sub_nodes, seed=settings.seed)
        gain, work = 0.0, 0.0
        if solved is not None:
            new, work = solved
            value = float(mask_error_rows(W[i : i + 1], H, new[None, :])[0])
            if value < errors[i] * (1 - REL_TOL):  # 1-swaps never raise the error (sparseswaps)
                keep = int(new[col_groups[0]].sum())
                polished, _, _ = swap_rows(W[i : i + 1], H, new[None, :], col_groups, keep, deadline, 10_000)
                new, value = polished[0], float(mask_error_rows(W[i : i + 1], H, polished)[0])
            if value < errors[i] * (1 - REL_TOL):
                gain = errors[i] - value
                mask[i], errors[i] = new, value
        seconds = max(time.perf_counter() - t0, 1e-6)
        calls += 1
        stats.work += work
        cost = max(work, 1e-6) if settings.deterministic else seconds
        rate_sum, gain_sum, cost_sum = rate_sum + gain / cost, gain_sum + gain, cost_sum + cost
        if settings.bandit == "thompson-budgeted":
            bandit.update(arm, _squash(gain, gain_sum / calls), _squash(cost, cost_sum / calls))
        else:
            bandit.update(arm, _squash(gain / cost, rate_sum / calls))
        stats.calls[label] = stats.calls.get(label, 0) + 1
        stats.reductions[label] = stats.reductions.get(label, 0.0) + gain
        stats.seconds[label] = stats.seconds.get(label, 0.0) + seconds
        if gain > 0:
            stats.wins[label] = stats.wins.get(label, 0) + 1
            stats.trace.append((time.perf_counter() - started, gain))
            if settings.deterministic:
                stats.work_trace.append((stats.work, gain))
            failures[i] = 0
        else:
            failures[i] += 1
    stats.weights = {label: w for (*_, label), w in zip(arms, bandit.weights())}
    stats.settled_rows = max(stats.settled_rows, int(np.sum(failures >= settings.patience)))
    stats.passes = passes
    return mask, stats
