"""Method ``lns``: bandit-controlled large-neighbourhood search on the mask objective.

From a warm start (SparseSwaps by default, or any method or mask), the rows are searched independently
(``lns.search``): a free set of m inputs of a row is re-solved exactly with the rest fixed (``lns.subproblem``),
chosen by a bandit among neighbourhoods x sizes (``lns.neighbourhoods``). This is the adaptive LNS of SCIP and
of Chmiela, Gleixner, Lichocki, Pokutta (2023, "Online learning for scheduling MIP heuristics"), applied row by
row. Per-row and N:M are row-local; per-layer searches each row at its warm-start count and then lets rows
exchange budget with SparseSwaps' cross-row rounds (the last ``PER_LAYER_SHARE`` of the time).

The default start, SparseSwaps from Wanda, runs inside the workers on their own rows (row-local patterns), to its
local optimum: 1-swaps are far cheaper than sub-problems, and the workers share the cores. Rows are split over
``workers`` processes (forked, one BLAS thread each; default: the usable cores, 1 inside a
daemonic process such as a Dask worker). The result is a heuristic: monotone (never worse than the warm start),
no lower bound of its own.

The default bandit is budgeted Thompson sampling (``thompson-budgeted``, ``core.bandits``), since session 20;
before it, plain Thompson sampling (sessions 17-19) and UCB1. Plain Thompson, side by side on the seven SmolLM2 layer-3 modules (per-row
50 %, 120 s, one worker each; ``results/lns-bench/bandit*``) it reached round-robin's final error in a median
0.71x, 0.65x and 0.73x of round-robin's time over all modules in three of five runs (a miss counted as slowest;
UCB1 0.89x / 0.88x in the first two), but 0.93x (3 misses) and 4 misses of 7 in two others (rewards are per
second, so a seed does not fix a timed run); it ended 0.01-0.11 % below round-robin's summed error. Most arms
pay almost nothing on most rows and UCB1 keeps paying for them; Thompson can commit early to a slow arm.
``thompson-discounted`` (discount 0.99) never missed in two runs but was slower (0.93x, 0.93x; discount 0.998:
0.87x, one run).

Seeded comparison free of the clock (``deterministic=True, work_limit=60``, rewards and budget by the work model,
seeds 0, 1, 2; ``results/lns-bench/bandit-work-seed*``): Thompson still missed round-robin's final error on 4 of 7
modules at seed 0 (0.85x at seed 1), so its misses are not timing noise: it scores a failed call 0 whatever it cost
and plays the dear large free sets. ``thompson-budgeted`` (reward and cost posteriors, ``core.bandits``) reached it
on all 7 modules at every seed in a median 0.35x, 0.36x and 0.30x of round-robin's work, ending 0.24-0.26 % below
round-robin's summed error (o_proj 4.6-4.7 %). In wall seconds (60 s per module, alternating with round-robin) it
reached it on all 7 in a median 0.30x and 0.33x of round-robin's time with one worker (seeds 0, 1) and 0.41x with
two (``results/lns-bench/lns-bench.md``), hence the default.
"""
from __future__ import annotations

import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ...core.arrays import one_blas_thread
from ...core.bandits import DISCOUNT
from ...core.objective import check_mask, mask_error_rows
from ...core.problem import LayerProblem
from ...core.result import MethodAnswer
from ...core.workers import worker_processes
from ...relaxation.sparsefw import solve_fw
from ..scores import warm_start_mask
from ..sparsegpt import solve_sparsegpt
from ..sparseswaps import per_layer_swaps
from ..warm_start import WARM_START_SHARE, warm_start_for
from .search import DEFAULT_BANDIT, SearchSettings, SearchStats, search_rows

PER_LAYER_SHARE = 0.1  # share of the time limit left to cross-row swaps for per-layer patterns
FINISH_SHARE = 0.03  # share of the time limit kept for collecting the workers' rows
TRACE_POINTS = 200
# Methods that may give the warm start besides the scores and SparseSwaps (their bounds are not needed: no certificate).
START_METHODS = {"sparsegpt": (solve_sparsegpt, {}), "fw": (solve_fw, {"certify": False}),
                 "fw-polish": (solve_fw, {"certify": False, "polish": True})}
METHOD_STARTS = tuple(START_METHODS)


def _start_mask(problem: LayerProblem, warm_start, time_limit: float | None, seed: int) -> np.ndarray:
    if isinstance(warm_start, str) and warm_start in START_METHODS:
        solve, options = START_METHODS[warm_start]
        mask = np.asarray(solve(problem, time_limit=time_limit, seed=seed, **options).mask)
        check_mask(mask, problem.pattern)
        return mask.copy()
    return warm_start_for(problem, warm_start, time_limit)


def _search_part(W, H, mask, group_size, settings, deadline, started, bounds):
    with one_blas_thread():
        return search_rows(W, H, mask, group_size, settings, deadline, started, bounds)


def _check_row_bounds(row_bounds, rows: int) -> np.ndarray | None:
    if row_bounds is None:
        return None
    bounds = np.asarray(row_bounds, dtype=float)
    if bounds.shape != (rows,) or not np.all(np.isfinite(bounds)):
        raise ValueError(f"lns: row_bounds must be {rows} finite numbers, one per row; got shape {bounds.shape}")
    return bounds


def _trace(started_objective: float, search_start: float, events: list) -> list[list[float]]:
    """(seconds, objective) after every accepted improvement ``events`` ((seconds, gain) of all workers), at
    most TRACE_POINTS; the same for (work, objective)."""
    events = sorted(events)
    times = np.array([search_start] + [t for t, _ in events])
    values = started_objective - np.concatenate([[0.0], np.cumsum([g for _, g in events])])
    keep = np.unique(np.linspace(0, len(times) - 1, min(len(times), TRACE_POINTS)).round().astype(int))
    return [[round(float(times[k]), 4), float(values[k])] for k in keep]


def _merge(parts: list[SearchStats], settings: SearchSettings) -> dict:
    total = {key: {label: float(sum(getattr(p, key).get(label, 0) for p in parts)) for *_, label in settings.arms}
             for key in ("calls", "wins", "reductions", "seconds")}
    by_neighbourhood = {}
    for _, name, _, label in settings.arms:
        entry = by_neighbourhood.setdefault(name, {"calls": 0, "wins": 0, "error_reduction": 0.0, "seconds": 0.0})
        entry["calls"] += total["calls"][label]
        entry["wins"] += total["wins"][label]
        entry["error_reduction"] += total["reductions"][label]
        entry["seconds"] += total["seconds"][label]
    for entry in by_neighbourhood.values():
        entry["reduction_per_s"] = float(entry["error_reduction"] / entry["seconds"]) if entry["seconds"] > 0 else 0.0
    weights = {label: float(np.mean([p.weights.get(label, 0.0) for p in parts])) for *_, label in settings.arms}
    return {"calls": total["calls"], "wins": total["wins"], "error_reduction": total["reductions"],
            "neighbourhoods": by_neighbourhood, "bandit_weights": weights,
            "settled_rows": sum(p.settled_rows for p in parts), "passes": max(p.passes for p in parts)}


def solve_lns(problem: LayerProblem, *, time_limit=None, seed=0, warm_start="sparseswaps", bandit: str = DEFAULT_BANDIT,
              discount: float | None = None, min_size: int = 16, max_size: int = 64, sub_time: float = 0.5,
              sub_nodes: int = 200, patience: int = 12,
              max_calls: int | None = None, workers: int | None = None, row_bounds=None,
              deterministic: bool = False, work_limit: float | None = None) -> MethodAnswer:
    """lns (module docstring). Free-set sizes are min_size, 2 min_size, ... up to max_size; ``sub_time`` seconds and
    ``sub_nodes`` nodes bound each fw-bnb sub-solve; ``patience`` failures in a row settle a row; ``max_calls``
    sub-problems per worker at most (None: until the time limit or every row is settled); ``row_bounds``: lower
    bounds per row, to search the rows with the largest remaining gap first; ``deterministic``: a seed fixes the
    run (``lns.search``) when ``max_calls`` or ``work_limit`` (nominal seconds of its work model per worker) ends it
    before the time limit; ``info["work"]`` is the most work of any worker, ``info["work_trace"]`` the
    (work, error) points; ``discount``: the forgetting factor of ``bandit="thompson-discounted"`` (``core.bandits``; None: its
    ``DISCOUNT``), refused with any other bandit."""
    if problem.objective != "mask":
        raise ValueError("lns solves the mask objective; use objective='mask'")
    if min_size > max_size:
        raise ValueError(f"lns: min_size {min_size} is above max_size {max_size}")
    if discount is not None and bandit != "thompson-discounted":
        raise ValueError(f"lns: discount={discount} acts only with bandit='thompson-discounted' (got {bandit!r})")
    if work_limit is not None and not deterministic:
        raise ValueError("lns: work_limit counts the work model of deterministic=True; set it too")
    started = time.perf_counter()
    deadline = started + (time_limit if time_limit is not None else math.inf)
    bounds = _check_row_bounds(row_bounds, problem.shape[0])
    pattern = problem.pattern
    share = None if time_limit is None else WARM_START_SHARE * time_limit
    swap_first = pattern.row_local and isinstance(warm_start, str) and warm_start == "sparseswaps"
    start = warm_start_mask(problem, "wanda") if swap_first else _start_mask(problem, warm_start, share, seed)
    start_objective = float(mask_error_rows(problem.W, problem.H, start).sum())
    sizes = tuple(min_size * 2**j for j in range(int(math.log2(max_size / min_size)) + 1))
    group_size = pattern.group_size if pattern.kind == "N:M" else None
    rows = problem.shape[0]
    n_workers = min(workers or worker_processes(rows), rows)
    reserve = 0.0 if time_limit is None else (FINISH_SHARE + (0 if pattern.row_local else PER_LAYER_SHARE)) * time_limit
    search_deadline = deadline - reserve
    search_start = time.perf_counter() - started
    parts_rows = [np.arange(k, rows, n_workers) for k in range(n_workers)]
    settings = [SearchSettings(bandit=bandit, discount=DISCOUNT if discount is None else discount, sizes=sizes, sub_time=sub_time, sub_nodes=sub_nodes,
                               patience=patience, max_calls=max_calls, deterministic=deterministic,
                               work_limit=work_limit, swap_first=swap_first, seed=seed + k)
                for k in range(n_workers)]
    args = [(problem.W[r], problem.H, start[r], group_size, s, search_deadline, started,
             None if bounds is None else bounds[r]) for r, s in zip(parts_rows, settings)]
    if n_workers == 1:
        results = [_search_part(*args[0])]
    else:
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        with ProcessPoolExecutor(n_workers, mp_context=context) as pool:
            results = list(pool.map(_search_part, *zip(*args)))
    mask = start.copy()
    for r, (part_mask, _) in zip(parts_rows, results):
        mask[r] = part_mask
    parts = [stats for _, stats in results]
    cross_swaps = 0
    if not pattern.row_local:
        mask, cross_swaps, _ = per_layer_swaps(problem, mask, deadline, 100_000)
    info = {"warm_start": warm_start if isinstance(warm_start, str) else "mask", "start_mask_error": start_objective,
            "start_note": "Wanda; SparseSwaps ran in the workers" if swap_first else "the warm start's error",
            "bandit": bandit, "sizes": list(sizes), "workers": n_workers, "search_start_s": round(search_start, 4),
            **_merge(parts, settings[0]),
            "trace": _trace(start_objective, search_start, [event for part in parts for event in part.trace])}
    if deterministic:
        info["work"] = max(part.work for part in parts)
        info["work_trace"] = _trace(start_objective, 0.0, [event for part in parts for event in part.work_trace])
    final = float(mask_error_rows(problem.W, problem.H, mask).sum())
    if final < info["trace"][-1][1]:
        info["trace"].append([round(time.perf_counter() - started, 4), final])
    if not pattern.row_local:
        info["cross_row_swaps"] = cross_swaps
    return MethodAnswer(mask, info=info)
