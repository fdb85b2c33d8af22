"""Per-row relaxation bounds of a whole layer: rows in a given order until a deadline, one process per core
(one BLAS thread each) or in stacks on a torch device (``sdp.batched``). Each row is a cold solve of its diagonal
Shor SDP (``sdp.primal_dual``) or of its doubly non-negative relaxation (``sdp.dnn``, ADMM, or ``sdp.dnn_ascent``,
Shor solves under ascending non-negativity and product multipliers, or ``sdp.dnn_multipliers``, ADMM's multipliers
certified by a Shor solve; CPU only)."""
from __future__ import annotations

import math
import time

import numpy as np

from ..core.arrays import one_blas_thread
from ..core.patterns import Pattern
from .dnn import row_dnn_bound
from .dnn_ascent import row_dnn_ascent_bound
from .dnn_multipliers import row_dnn_multiplier_bound
from .kept_solves import KeptSolves, compact_solve
from .primal_dual import row_sdp_bound_ipm
from .rounding import rounded_mask_row
from .shor import RowSDP

RELAXATIONS = ("shor", "dnn", "dnn-ascent", "dnn-multipliers")
WIDE_DNN = ("dnn-ascent", "dnn-multipliers")  # the DNN relaxations that start from a row's Shor solve
DNN_TOLERANCE = 1e-4  # relative rise of the DNN bound over sdp.dnn.STALL_CHECKS checks below which a row stops
LAYER_ROW_TOLERANCE = 1e-2  # relative stopping gap of layer_row_bounds' rows: ~25% fewer iterations than 1e-4, bounds
#   at most 4e-4 lower (benchmark.row_sdp_gaps --compare-tolerance 1e-2), against layer gaps of 10-35%


def layer_row_bounds(W: np.ndarray, H: np.ndarray, pattern: Pattern, *, order=None, time_limit: float | None = None,
                     tolerance: float = LAYER_ROW_TOLERANCE, workers: int = 1,
                     device: str | None = None, relaxation: str = "shor",
                     max_iterations: int | None = None, uppers: np.ndarray | None = None,
                     rounding: bool = False, kept: KeptSolves | None = None) -> tuple[np.ndarray, dict]:
    """Per-row SDP bounds of a row-local pattern (NaN for rows not reached within ``time_limit``).

    Row i: Q_i = diag(w_i) H diag(w_i), one cardinality group per pattern group of the row (pruning
    ``pattern.prune`` each). ``order``: the rows to do first (e.g. the largest known gaps); a row
    running when time is up stops early with a valid, weaker bound. Each row is a cold solve, done by the
    primal-dual method (``solvers.sdp.primal_dual``: ~1 s for a full 576-wide row on one core, 3x faster than
    this module's barrier method). ``workers`` > 1: rows run in that many processes, one BLAS thread each.
    ``device`` ("cuda", "cuda:N", "cpu-torch"): rows go in stacks through the same method batched with torch
    (``solvers.sdp.batched``; ``workers`` is then unused). ``relaxation`` "dnn": each row's doubly non-negative
    bound (``solvers.sdp.dnn``, at most ``max_iterations`` ADMM steps, ``tolerance`` = ``DNN_TOLERANCE``; CPU only);
    "dnn-ascent": the same relaxation by ascent over its multipliers (``solvers.sdp.dnn_ascent``, at most
    ``max_iterations`` Shor solves a row; ``uppers``: per row of W its best known error, the ascent's target; CPU only);
    "dnn-multipliers": ADMM's multipliers certified by a Shor solve (``solvers.sdp.dnn_multipliers``, at most
    ``max_iterations`` ADMM iterations a row; CPU only).
    ``rounding`` (Shor and the ``WIDE_DNN`` rows; on a device the rows' points are rounded on the CPU after the stacks): each row's relaxation point is also rounded to a mask row and
    swapped to a local optimum (``sdp.rounding``); ``info["rounded"]`` maps each such row to (mask row, its error).
    ``kept`` (CPU rows; ``sdp.kept_solves``): "shor" rows put their solves there while it has room; a ``WIDE_DNN``
    row whose solve is there starts from it, and it is then removed (``kept.reused`` counts them). The kept solves
    must be of this W, H and pattern at ``LAYER_ROW_TOLERANCE``.
    """
    if relaxation not in RELAXATIONS:
        raise ValueError(f"unknown relaxation {relaxation!r}; known: {', '.join(RELAXATIONS)}")
    if relaxation != "shor" and device not in (None, "cpu"):
        raise ValueError("the DNN row bounds run on the CPU only (device=None)")
    if uppers is not None and np.shape(uppers) != (W.shape[0],):
        raise ValueError(f"uppers must hold one value per row of W ({W.shape[0]}); got shape {np.shape(uppers)}")
    if not pattern.row_local:
        raise ValueError("per-row SDP bounds need a row-local pattern (per-row or N:M), not per-layer")
    rows = np.arange(W.shape[0]) if order is None else np.asarray(order)
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer) or np.any((rows < 0) | (rows >= W.shape[0])):
        raise ValueError(f"order must list row indices in [0, {W.shape[0]}); got {order!r}")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer; got {workers!r}")
    groups = list(pattern.row_groups())
    counts = [pattern.prune] * len(groups)
    bounds = np.full(W.shape[0], np.nan)
    started = time.monotonic()  # system-wide clock: the deadline holds in worker processes too
    deadline = math.inf if time_limit is None else started + time_limit
    job = {"counts": counts, "groups": groups, "tolerance": tolerance, "relaxation": relaxation,
           "max_iterations": max_iterations,  # what every row shares (the workers get H beside it)
           "rounding": bool(rounding) and relaxation in ("shor",) + WIDE_DNN, "keep": pattern.keep}
    rounded: dict = {}

    def row_args(i) -> tuple:  # (upper, first step, keep the solve) of row i
        first = kept.get(i) if kept is not None and relaxation in WIDE_DNN else None
        return (None if uppers is None else float(uppers[i]), first,
                kept is not None and relaxation == "shor" and kept.has_room())

    def took(i, solve) -> None:  # row i is done: its kept solve spent, or its new one kept
        if kept is not None and relaxation in WIDE_DNN:
            kept.spend(i)
        elif kept is not None and solve is not None:
            kept.put(int(i), solve)

    if device not in (None, "cpu"):
        from .batched import row_sdp_bounds_batched  # (it checks the device name)

        bounds[rows], steps, points = row_sdp_bounds_batched(W, H, rows, counts, groups, device=device,
                                                             tolerance=tolerance, deadline=deadline, points=True)
        if job["rounding"]:  # on the CPU, in row order, while time is left
            local = job | {"H": H}
            for i, fractions in zip(rows, points):
                if time.monotonic() >= deadline:
                    break
                if not np.isnan(fractions).any():
                    rounded[int(i)] = _rounded(local, W[i], fractions, deadline)
    elif workers == 1:
        steps, local = 0, job | {"H": H}
        for i in rows:
            bound, used, mask_row, solve = _row_job(local, W[i], deadline, *row_args(i))
            if bound is None:  # out of time
                break
            bounds[i], steps = bound, steps + used
            took(i, solve)
            if mask_row is not None:
                rounded[int(i)] = mask_row
    else:
        steps = _parallel_rows(W, H, rows, job, deadline, int(workers), bounds, row_args, took, rounded)
    info = {"sdp_rows": int(np.sum(~np.isnan(bounds))), "sdp_iterations": steps,
            "sdp_seconds": round(time.monotonic() - started, 3)}
    return bounds, info | ({"rounded": rounded} if job["rounding"] else {})


_WORKER_JOB: dict = {}  # in a worker process of ``_parallel_rows``: what every row of the call shares


def _set_worker_job(H, job: dict) -> None:
    _WORKER_JOB.update(job, H=H)


def _row_job(job: dict, w: np.ndarray, deadline: float, upper: float | None = None, first: RowSDP | None = None,
             keep: bool = False):
    """(bound, iterations, rounded, solve) of the row with weights w (primal-dual or ADMM steps; rounded: (mask row,
    its error) from the relaxation's point when the job asks for ``rounding``, else None; solve: the Shor solve when
    ``keep``, else None); (None, 0, None, None) when the deadline (time.monotonic) has passed. ``upper``: the row's
    best known error (the DNN ascent's target); ``first``: its kept Shor solve (the ascent's first step)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None, 0, None, None
    Q = w[:, None] * job["H"] * w[None, :]
    limit = None if math.isinf(remaining) else remaining
    steps = job.get("max_iterations")
    if job.get("relaxation") == "dnn-ascent":
        ascent = row_dnn_ascent_bound(Q, job["counts"], job["groups"], upper=upper, time_limit=limit, first=first,
                                      **({} if steps is None else {"max_steps": steps}))
        return ascent.bound, ascent.iterations, _rounded(job, w, ascent.primal, deadline), None
    if job.get("relaxation") == "dnn-multipliers":
        found = row_dnn_multiplier_bound(Q, job["counts"], job["groups"], time_limit=limit, first=first,
                                         **({} if steps is None else {"max_iterations": steps}))
        return found.bound, found.iterations, _rounded(job, w, found.primal, deadline), None
    if job.get("relaxation") == "dnn":
        dnn = row_dnn_bound(Q, job["counts"], job["groups"], tolerance=DNN_TOLERANCE, time_limit=limit,
                            **({} if steps is None else {"max_iterations": steps}))
        return dnn.bound, dnn.iterations, None, None
    result = row_sdp_bound_ipm(Q, job["counts"], job["groups"], tolerance=job["tolerance"], time_limit=limit)
    solve = result if keep and result.X is not None else None
    return result.bound, result.newton_steps, _rounded(job, w, result.primal, deadline), solve


def _rounded(job: dict, w: np.ndarray, fractions: np.ndarray | None, deadline: float):
    """(mask row, error) rounded from the relaxation's pruned ``fractions`` (``sdp.rounding``) when the job asks for
    it and a point is there, else None; the swaps stop at the deadline (time.monotonic)."""
    if not job.get("rounding") or fractions is None:
        return None
    until = time.perf_counter() + (deadline - time.monotonic())
    return rounded_mask_row(w, job["H"], fractions, np.asarray(job["groups"]), job["keep"], until)


def _worker_row_job(w: np.ndarray, deadline: float, upper: float | None, first: RowSDP | None, keep: bool):
    with one_blas_thread():
        solved = _row_job(_WORKER_JOB, w, deadline, upper, first, keep)
    if solved[3] is not None:  # X travels back in float32, as it is kept
        solved = solved[:3] + (compact_solve(solved[3]),)
    return solved


def _parallel_rows(W, H, rows, job, deadline, workers, bounds, row_args, took, rounded=None) -> int:
    """Rows over a process pool, submitted in ``rows`` order while time is left; fills ``bounds`` (and ``rounded``
    with the rows' rounded masks, when the job makes them). ``row_args(i)``: row i's (upper, first, keep);
    ``took(i, solve)`` is told of each row done (its solve to keep, or None)."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    steps, pending, queue = 0, {}, iter(rows)
    with ProcessPoolExecutor(max_workers=workers, initializer=_set_worker_job,
                             initargs=(H, job)) as pool:
        while True:
            while len(pending) < 2 * workers and time.monotonic() < deadline:
                i = next(queue, None)
                if i is None:
                    break
                pending[pool.submit(_worker_row_job, W[i], deadline, *row_args(i))] = i
            if not pending:
                return steps
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                bound, used, mask_row, solve = future.result()
                if bound is not None:
                    bounds[pending[future]], steps = bound, steps + used
                    took(pending[future], solve)
                if mask_row is not None and rounded is not None:
                    rounded[int(pending[future])] = mask_row
                del pending[future]
