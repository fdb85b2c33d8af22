"""Method ``certify``: the best mask this project finds and the strongest certified lower bound it computes within
``time_limit``, row by row (row-local patterns: per-row and N:M; mask objective). Issue #23.

The layer's error is a sum of independent row errors, so its bound is the sum of per-row bounds, and every row
keeps the best of the bounds computed for it (each is valid on its own):
1. ``cheap``: per row the best Frank-Wolfe bound f_i - gap_i over the rounds of the shared-diagonal saddle
   ("diag-bm", ``relaxation.certificate.saddle_rounds``), for every row at once;
2. ``shor``: the row's diagonal Shor SDP (``sdp.primal_dual``), rows in order of their gap (mask error - bound);
3. ``dnn``: the row's doubly non-negative relaxation, Shor with the cardinality products and Y >= 0
   (``sdp.dnn``: ADMM, certified at any stop by a minimum-eigenvalue correction), again largest gaps first.
   On 64-wide real slices the DNN leaves about a third of Shor's root gap (issue #23); it costs one
   eigendecomposition per ADMM step, thousands of steps per row, and its correction (lambda_min times the trace
   bound 1 + P) keeps it far below Shor at full width, so it runs on rows of at most ``dnn_max_n`` inputs (by default
   none since session 30: 5. does as well 6-9x faster on 64- and 128-wide rows);
4. ``dnn-ascent``: on wider rows the same relaxation by ascent over its multipliers (E >= 0 and the cardinality
   products; ``sdp.dnn_ascent``: each step one Shor solve, valid at every step; ``ascent_steps`` (20) a row). On the
   256-wide slices 20 steps left a median 2.2 % gap to the proven optima where Shor left 3.7 % (2:4: 2.0 %, Shor 5.3 %);
5. ``dnn-multipliers`` (the default on wider rows, ``wide_dnn="multipliers"``; ``wide_dnn="ascent"``: 4.): the same
   relaxation's multipliers from ADMM, certified by one Shor solve (``sdp.dnn_multipliers``; ``admm_iterations``
   (200) a row at most, fitted to the time left as the ascent's steps are, at least ``MIN_ADMM_ITERATIONS``). On
   full 576-wide rows it lifted the bound over Shor 1.3-3x as far as the ascent in the same time.
The mask: SparseSwaps (from Wanda); then every Shor or wide DNN row's primal point (the pruned fractions) rounded
to the pattern and swapped to a 1-swap local optimum (``sdp.rounding``), kept where it beats the row's mask (session
28: on o_proj rows SparseSwaps' local optimum from Wanda was 17-34 % above this, on k/q_proj 0-5 %); then ``lns``
steered by the row bounds (the rows with the largest gaps first); lns never returns a worse mask than its start, so
the mask is at least SparseSwaps' quality.

Time split of ``time_limit`` T (each phase ends at its share of T counted from the start, so a phase that ends early
passes its time on): start mask 0.1 T, cheap bounds (the saddle's rounds, ``saddle_rounds``) to 0.2 T, Shor rows to
0.5 T, but first the Shor rows of ``SHOR_PROBE_ROWS`` per worker measure the Shor rate (after the saddle's first round,
when the cheap share was too short for it), and the saddle takes more
rounds while its last round lowered the certified gap faster than that (on down_proj, n = 1536, its second round took
the module's gap from 44.6 % to 20.2 % in about a minute, where one Shor row takes ~8 core-seconds); then
lns and the DNN rows share
the rest to T in rounds, each next round to whichever lowered the certified gap (error - bound, summed) faster per
second in its own last round (greedy on measured rates): a DNN round is the next ``ROUND_ROWS`` rows per worker,
largest gaps first; an lns round lasts as long as the last DNN round. An ascent row gets ``ascent_steps`` steps while
all the rows still waiting could get as many in the time left (at the last ascent round's seconds a step), else as
many as fit, at least ``MIN_ASCENT_STEPS`` (``_fitted_steps``): on 1536-row modules an hour reaches a fraction of the
rows, and a row's first steps lift its bound fastest. Where the mask is far from optimal (o_proj)
lns wins the rounds; where SparseSwaps is already near optimal (k_proj, issue #23 slices) the bound does.
On rows wider than ``dnn_max_n`` the rest first gives a Shor bound to the rows the Shor phase did not reach
(a Shor row closes most of its row's gap in one solve; an ascent step closes far less). Both wide DNN solvers start
from the row's Shor solve (the ascent's first step; ADMM's start): the Shor phase keeps its solves
(``sdp.kept_solves``, 1 GiB) and the wide DNN rows take them (a 5-step ascent row then took 0.60-0.75x the time).
A dnn-multipliers row's ADMM iterations are fitted as the ascent's steps are (``MIN_ADMM_ITERATIONS``).
With ``dnn=False`` the split leans to the bound as fw-sdp's does: cheap bounds to 0.25 T, Shor rows to 0.85 T, lns to
T (on full SmolLM2 modules at 120 s the earlier split, Shor to 0.7 T after cheap bounds to 0.2 T and lns 0.3 T, left
certify's gaps above fw-sdp's: lns lowered the error by 0.1-3.7 % while each Shor row closes most of its row's gap).
Without a limit every phase runs to its end (Shor, then lns until it settles, then DNN on every row or ``dnn_rows``
rows).
``info``: per row its bound and which bound won (``row_bounds``, ``row_bound_source``; "none": no relaxation reached
the row in time, bound 0), the count of wins per
kind (``bound_wins``), the rows each relaxation reached, the start mask's error, the phases' seconds and the rounds
(``rounds``: saddle, lns, DNN), the wide DNN rounds per number of steps a row (``ascent_rounds_by_steps``: ascent
steps, or ADMM iterations for dnn-multipliers) and the wide DNN rows that started from their kept Shor solve
(``ascent_first_reused``).
"""
from __future__ import annotations

import math
import time

import numpy as np

from .core.objective import mask_error_rows
from .core.problem import LayerProblem
from .core.result import MethodAnswer
from .core.workers import worker_processes
from .heuristics.lns.solve import solve_lns
from .heuristics.warm_start import warm_start_for
from .relaxation.certificate import nonnegative_bound, saddle_rounds
from .sdp.dnn_ascent import STEPS
from .sdp.kept_solves import KeptSolves
from .sdp.dnn_multipliers import ADMM_ITERATIONS
from .sdp.layer import WIDE_DNN, layer_row_bounds

PHASE_ENDS = {"start": 0.1, "cheap": 0.2, "shor": 0.5, "rest": 1.0}  # cumulative shares of time_limit; rest: lns + DNN
PHASE_ENDS_NO_DNN = {"start": 0.1, "cheap": 0.25, "shor": 0.85, "rest": 1.0}
ROUND_ROWS = 2  # DNN rows per worker in one round of the lns / DNN alternation
SHOR_PROBE_ROWS = 2  # Shor rows per worker that measure the Shor rate the saddle's later rounds must beat
MIN_ASCENT_STEPS = 5  # fewest ascent steps a row gets when the time left cannot give every row ``ascent_steps``: the
#   first steps lift a row's bound fastest (full 576-wide rows, session 29, lift in units of the row's error per second
#   after the Shor step: gate_proj 2:4 steps 2-5 0.011-0.016, 6-10 0.003-0.005, 11-20 0.0005-0.0007; up_proj per-row
#   0.0035-0.006, 0.0044-0.0045, 0.0005-0.0015), so where the ascent cannot reach every row, more rows with fewer
#   steps close more of the gap
DNN_MAX_N = 0  # widest row whose DNN bound is sdp.dnn's eigenvalue-corrected ADMM (0: none; every row gets wide_dnn).
#   It was 128 until session 30; then on 21 real slice rows ADMM's multipliers certified by a Shor solve (200
#   iterations) gave the same bounds 6-9x faster (n = 64: median 0.9923 against 0.9925 of the SparseSwaps error, 0.21
#   against 1.28 s; n = 128: 0.9921 against 0.9900, 0.50 against 4.59 s; results/certify-bench/dnn-multipliers)
MIN_ADMM_ITERATIONS = 25  # fewest ADMM iterations a dnn-multipliers row gets (``_fitted_steps``): on full rows the
#   first 25 lifted the bound 0.02 of the row's error a second, the next 25 0.008, the 50 after that 0.004
#   (gate_proj 2:4 r5, ``sdp.dnn_multipliers``)
WIDE_DNN_SOLVERS = {"multipliers": "dnn-multipliers", "ascent": "dnn-ascent"}  # ``wide_dnn``: the bound kind it gives
BOUND_KINDS = ("none", "cheap", "shor", "dnn", "dnn-ascent", "dnn-multipliers")  # none: no relaxation reached the row


def solve_certify(problem: LayerProblem, *, time_limit=None, seed=0, dnn: bool = True, dnn_max_n: int = DNN_MAX_N,
                  dnn_rows: int | None = None, dnn_iterations: int = 3000, ascent_steps: int = STEPS,
                  wide_dnn: str = "multipliers", admm_iterations: int = ADMM_ITERATIONS,
                  search: bool = True, workers: int | None = None, device: str | None = None) -> MethodAnswer:
    """certify (module docstring). ``dnn``: run the DNN phase (False: its time goes to the Shor rows and lns,
    ``PHASE_ENDS_NO_DNN``), by ADMM on rows of at most ``dnn_max_n`` inputs (default 0: none), on wider ones by
    ``wide_dnn``
    ("multipliers": ADMM's multipliers certified by a Shor solve; "ascent"); ``dnn_rows``: at
    most this many rows get a DNN solve (None: as many as time allows); ``dnn_iterations``: ADMM steps per row at most;
    ``ascent_steps``: Shor solves per row of the ascent at most; ``admm_iterations``: ADMM iterations per
    dnn-multipliers row at most; ``search``: run lns on the mask;
    ``workers``: processes for the row relaxations and lns (None: the usable cores); ``device`` ("cuda", "cuda:N",
    "cpu-torch"): the FW saddle rounds and the Shor rows run with torch there, the rows in stacks (``sdp.batched``)."""
    if problem.objective != "mask":
        raise ValueError("certify bounds the mask objective; use objective='mask'")
    if not problem.pattern.row_local:
        raise ValueError("certify needs a row-local pattern (per-row or N:M), not per-layer")
    started = time.perf_counter()
    if wide_dnn not in WIDE_DNN_SOLVERS:
        raise ValueError(f"wide_dnn must be one of {', '.join(WIDE_DNN_SOLVERS)}; got {wide_dnn!r}")
    dnn_kind = "dnn" if problem.W.shape[1] <= dnn_max_n else WIDE_DNN_SOLVERS[wide_dnn]
    ends = PHASE_ENDS if dnn else PHASE_ENDS_NO_DNN

    def until(phase: str) -> float | None:  # seconds left to the end of ``phase``'s share
        return None if time_limit is None else max(ends[phase] * time_limit - (time.perf_counter() - started), 0.0)

    W, H = problem.W, problem.H
    n_workers = workers or worker_processes(W.shape[0])
    seconds = {}
    mask = warm_start_for(problem, "sparseswaps", until("start"))
    errors = mask_error_rows(W, H, mask)  # per row, kept equal to the mask's
    start_error = float(errors.sum())
    seconds["start"] = time.perf_counter() - started
    bounds = np.zeros(W.shape[0])
    sources = np.zeros(W.shape[0], dtype=int)  # index into BOUND_KINDS ("none" until a relaxation reaches the row)
    rounded = np.zeros(W.shape[0], dtype=bool)  # rows whose mask a relaxation's rounded point replaced
    saddle = saddle_rounds(problem, mask, device=device)
    next(saddle)
    rounds = {"lns": 0, "dnn": 0, "cheap": 0}
    cheap_rate = _saddle_round(saddle, bounds, sources, lambda: until("cheap"), rounds, errors)
    while cheap_rate is not None and until("cheap") != 0.0:  # (None: no limit) every round
        cheap_rate = _saddle_round(saddle, bounds, sources, lambda: until("cheap"), rounds, errors)
    seconds["cheap"] = time.perf_counter() - started - sum(seconds.values())
    shor_rows = np.zeros(W.shape[0], bool)
    kept = KeptSolves() if dnn and dnn_kind in WIDE_DNN else None  # Shor solves the wide DNN rows start from
    if time_limit is not None and cheap_rate is not None:  # more saddle rounds while they beat a Shor round
        if cheap_rate == math.inf:  # the cheap share ended before a round's FW run: its rate is unknown, finish it
            cheap_rate = _saddle_round(saddle, bounds, sources, lambda: until("shor"), rounds, errors)
        probe = time.perf_counter()
        gap = float(np.sum(errors - bounds))
        shor_rows |= _improve(problem, mask, errors, bounds, sources, "shor", until("shor"), n_workers,
                              SHOR_PROBE_ROWS * n_workers, None, device, rounded=rounded, kept=kept)
        shor_rate = (gap - float(np.sum(errors - bounds))) / max(time.perf_counter() - probe, 1e-3)
        while cheap_rate is not None and cheap_rate > shor_rate and until("shor") > 0.0:
            cheap_rate = _saddle_round(saddle, bounds, sources, lambda: until("shor"), rounds, errors)
    shor_rows |= _improve(problem, mask, errors, bounds, sources, "shor", until("shor"), n_workers, None, None, device,
                          rows=~shor_rows, rounded=rounded, kept=kept)
    reached = {"shor": int(shor_rows.sum()), "dnn": 0, "dnn-ascent": 0, "dnn-multipliers": 0}
    if dnn and dnn_kind in WIDE_DNN:  # the rows the Shor phase did not reach first (module docstring)
        reached["shor"] += int(_improve(problem, mask, errors, bounds, sources, "shor", until("rest"), n_workers, None,
                                        None, device, rows=~shor_rows, rounded=rounded, kept=kept).sum())
    seconds["shor"] = time.perf_counter() - started - sum(seconds.values())
    steps = {"dnn": dnn_iterations, "dnn-ascent": ascent_steps, "dnn-multipliers": admm_iterations}[dnn_kind]
    if time_limit is None:  # each to its end: lns until it settles, then the DNN rows
        if search:
            mask = solve_lns(problem, seed=seed, warm_start=mask, row_bounds=bounds, workers=n_workers).mask
            errors = mask_error_rows(W, H, mask)
        if dnn:
            reached[dnn_kind] = int(_improve(problem, mask, errors, bounds, sources, dnn_kind, None, n_workers,
                                             dnn_rows, steps, rounded=rounded, kept=kept).sum())
    steps_used: dict = {}  # ascent rounds per number of steps a row (``_fitted_steps``)
    if time_limit is not None:
        mask, errors = _alternate(problem, mask, errors, bounds, sources, dnn_kind if dnn else None,
                                  lambda: until("rest"), n_workers, dnn_rows, steps, search, seed, reached, rounds,
                                  rounded, steps_used, kept)
    seconds["lns+dnn"] = time.perf_counter() - started - sum(seconds.values())
    above = bounds > errors  # rounding at most (each row bound is certified); counted, and never claimed
    bounds = np.minimum(bounds, errors)
    kinds = [BOUND_KINDS[s] for s in sources]
    info = {"row_bounds": bounds.tolist(), "row_bound_source": kinds,
            "bound_wins": {k: kinds.count(k) for k in BOUND_KINDS}, "rows_reached": reached,
            "start_mask_error": start_error, "phase_seconds": {k: round(v, 3) for k, v in seconds.items()},
            "workers": n_workers, "rows_bound_above_error": int(above.sum()), "dnn": dnn,
            "dnn_solver": dnn_kind if dnn else None, "rounds": rounds, "rounded_rows": int(rounded.sum()),
            "ascent_rounds_by_steps": {str(k): v for k, v in sorted(steps_used.items())},
            "ascent_first_reused": 0 if kept is None else kept.reused}
    return MethodAnswer(mask, lower_bound=nonnegative_bound(float(bounds.sum())), status="heuristic", info=info)


def _saddle_round(saddle, bounds: np.ndarray, sources: np.ndarray, left_seconds, rounds: dict,
                  errors: np.ndarray) -> float | None:
    """One more round of the cheap bounds' saddle (``relaxation.certificate.saddle_rounds``) within ``left_seconds()``
    (None: no limit): raises ``bounds`` in place where a row's saddle bound is higher (source "cheap") and returns the
    round's rate of certified-gap (``errors`` - bounds, summed) decrease per second (inf for a round the time cut before
    its FW run: it resumes at the next call); None when the rounds are over."""
    left = left_seconds()
    started = time.perf_counter()
    try:
        bound, rows, _ = saddle.send(math.inf if left is None else started + left)
    except StopIteration:
        return None
    if bound is None:
        return math.inf
    rows = np.nan_to_num(np.maximum(rows, 0.0), nan=0.0, neginf=0.0)
    before = float(np.sum(errors - bounds))
    better = rows > bounds
    bounds[better], sources[better] = rows[better], BOUND_KINDS.index("cheap")
    rounds["cheap"] += 1
    return (before - float(np.sum(errors - bounds))) / max(time.perf_counter() - started, 1e-3)


def _alternate(problem: LayerProblem, mask: np.ndarray, errors: np.ndarray, bounds: np.ndarray, sources: np.ndarray,
               kind: str | None, left_seconds, workers: int, max_rows: int | None, steps: int, search: bool, seed: int,
               reached: dict, rounds: dict, rounded: np.ndarray | None = None,
               steps_used: dict | None = None, kept: KeptSolves | None = None) -> tuple[np.ndarray, np.ndarray]:
    """lns rounds and DNN rounds (``kind``; None: lns only) until ``left_seconds()`` runs out, each next round to the
    one with the higher last measured rate of certified-gap decrease (module docstring). ``errors``: the mask's row
    errors. Raises ``bounds`` in place, counts solved rows in ``reached[kind]``, rounds in ``rounds`` and the ascent
    rounds per number of steps in ``steps_used`` (steps per row: ``_fitted_steps``); returns the mask and its row
    errors."""
    steps_used = {} if steps_used is None else steps_used
    rates = {"dnn": math.inf if kind else -math.inf, "lns": math.inf if search else -math.inf}  # untried first
    done = np.zeros(len(bounds), bool)  # rows that had their DNN solve
    round_seconds, row_step_seconds = 1.0, None  # the last DNN round's length; an ascent step's core-seconds a row
    gap = float(errors.sum() - bounds.sum())
    while left_seconds() > 0.0 and max(rates.values()) > -math.inf:
        which = "dnn" if rates["dnn"] >= rates["lns"] else "lns"
        started = time.perf_counter()
        if which == "dnn":
            left = None if max_rows is None else max_rows - int(done.sum())
            waiting = int(np.sum(~done & (errors - bounds > 0.0))) if left is None else min(left, int(np.sum(~done)))
            steps_now = steps if kind not in WIDE_DNN else _fitted_steps(
                steps, left_seconds() * workers, waiting, row_step_seconds,
                MIN_ASCENT_STEPS if kind == "dnn-ascent" else MIN_ADMM_ITERATIONS)
            solved = _improve(problem, mask, errors, bounds, sources, kind, left_seconds(), workers,
                              ROUND_ROWS * workers if left is None else min(left, ROUND_ROWS * workers), steps_now,
                              rows=~done, rounded=rounded, kept=kept)
            done |= solved
            reached[kind] += int(solved.sum())
            if not solved.any() or (max_rows is not None and done.sum() >= max_rows):
                rates["dnn"] = -math.inf  # every row with a gap had its solve (or out of time)
            round_seconds = max(time.perf_counter() - started, 1e-3)
            if kind in WIDE_DNN:
                steps_used[steps_now] = steps_used.get(steps_now, 0) + 1
                if solved.any():
                    row_step_seconds = round_seconds * min(workers, int(solved.sum())) / (int(solved.sum()) * steps_now)
        else:  # as long as the last DNN round; all the rest when there is no DNN round to come
            length = min(round_seconds if rates["dnn"] > -math.inf else left_seconds(), left_seconds())
            mask = solve_lns(problem, time_limit=length, seed=seed + rounds["lns"], warm_start=mask,
                             row_bounds=bounds, workers=workers).mask
            errors = mask_error_rows(problem.W, problem.H, mask)
        rounds[which] += 1
        now = float(errors.sum() - bounds.sum())
        gained, gap = gap - now, now
        used = time.perf_counter() - started
        if which == "lns" and gained <= 0.0 and used < 0.5 * length:
            rates["lns"] = -math.inf  # lns settled every row before its time: another round finds nothing new
        elif rates[which] > -math.inf:
            rates[which] = gained / max(used, 1e-3)
    return mask, errors


def _fitted_steps(steps: int, core_seconds: float, rows: int, row_step_seconds: float | None,
                  fewest: int = MIN_ASCENT_STEPS) -> int:
    """Steps (ascent steps, ADMM iterations) for the next rows: ``steps`` while the ``rows`` still waiting could all
    get them in ``core_seconds`` at ``row_step_seconds`` a step (None: not measured yet), else as many as fit, at
    least ``fewest`` (module docstring)."""
    if row_step_seconds is None or rows <= 0:
        return steps
    fit = int(core_seconds / (rows * max(row_step_seconds, 1e-9)))
    return max(min(steps, fit), min(steps, fewest))


def _improve(problem: LayerProblem, mask: np.ndarray, errors: np.ndarray, bounds: np.ndarray, sources: np.ndarray,
             kind: str, seconds: float | None, workers: int, max_rows: int | None, max_iterations: int | None,
             device: str | None = None, rows: np.ndarray | None = None,
             rounded: np.ndarray | None = None, kept: KeptSolves | None = None) -> np.ndarray:
    """Raise ``bounds`` (in place) by the ``kind`` relaxation (one of ``BOUND_KINDS`` but "none" and "cheap") on the rows with
    the largest gap (``errors``, the mask's row errors, - bound) first, within ``seconds``; rows whose gap is already closed are skipped, and
    with ``rows`` (a boolean mask) so are the rows outside it. Where the relaxation's point, rounded and swapped
    (``sdp.rounding``), beats a row's mask, ``mask`` and ``errors`` take it and ``rounded`` marks the row (in place).
    Returns which rows it solved (a boolean mask)."""
    if seconds is not None and seconds <= 0:
        return np.zeros(len(bounds), bool)
    gaps = errors - bounds if rows is None else np.where(rows, errors - bounds, -np.inf)
    order = np.argsort(-gaps, kind="stable")
    order = order[gaps[order] > 1e-9 * np.maximum(np.abs(bounds[order]), 1e-300)]
    if max_rows is not None:
        order = order[:max_rows]
    if len(order) == 0:
        return np.zeros(len(bounds), bool)
    use = workers if len(order) > workers else 1
    found, info = layer_row_bounds(problem.W, problem.H, problem.pattern, order=order, time_limit=seconds,
                                   workers=use, relaxation=kind, max_iterations=max_iterations, uppers=errors,
                                   device=device if kind == "shor" else None, rounding=True, kept=kept)
    lower = [i for i, (_, error) in info.get("rounded", {}).items() if error < errors[i] * (1.0 - 1e-12)]
    if lower:  # the rounded masks that beat the rows' own; their errors recomputed here, as every row error is
        mask[lower] = np.stack([info["rounded"][i][0] for i in lower])
        errors[lower] = mask_error_rows(problem.W[lower], problem.H, mask[lower])
        if rounded is not None:
            rounded[lower] = True
    better = np.isfinite(found) & (found > bounds)
    bounds[better] = found[better]
    sources[better] = BOUND_KINDS.index(kind)
    return np.isfinite(found)
