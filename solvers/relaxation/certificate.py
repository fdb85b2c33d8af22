"""Certified lower bounds of the mask objective from the (strengthened) relaxation; SparseFW's step 3.

``certified_bound``: FW over the *full* relaxation (no fixing), where f(X_t) - gap_t <= relaxed optimum <=
integer optimum, on the convexified objective sum_i e_i^T (H - diag d) e_i + sum_ij d_j w_ij^2 z_ij (equal to
the mask error on binaries, z = pruned indicator; for d with H - diag d PSD its relaxation bound is at least
as strong). Strengthenings (``STRENGTHENINGS``): "none"; "diag-scaled" d = lambda_min(D^-1/2 H D^-1/2) diag(H);
"min-eig" d = lambda_min(H) 1; "diag-sdp" d from an SDP (cvxpy/SCS, d_in <= 256); "diag-bm" maximises the bound
over d (a saddle point, ``_saddle_bound``: rounds of a low-rank SDP solve, ``sdp.burer_monteiro``, and a FW run);
"row-sdp" per-row diagonal Shor SDPs (``sdp.layer``) where time allows, else the cheap saddle rows. For the
per-row pattern on numpy the relaxation of "none" / "diag-scaled" / "min-eig" / "diag-sdp" is solved exactly
by ``relaxation.pdas`` instead. ``app_e_bound``: the paper's App. E rounding guarantee (per-row).
"""
from __future__ import annotations

import math
import time
import warnings

import numpy as np

from ..core.arrays import ONE_THREAD_MAX_N, to_device, to_numpy
from ..core.objective import mask_error_rows
from ..core.problem import LayerProblem
from ..core.workers import worker_processes
from .fw_engine import frank_wolfe
from .pdas import relaxation_pdas
from .row_bounds import row_lower_bounds

STRENGTHENINGS = ("none", "diag-scaled", "diag-sdp", "min-eig", "diag-bm", "row-sdp")


BM_ROUNDS = 10


SDP_WORKERS = 0  # "row-sdp": processes for the row SDPs (0: core.workers.worker_processes) on rows of >= ONE_THREAD_MAX_N inputs


CHEAP_SHARE = 0.25  # "row-sdp": share of a time limit for the shared-diagonal rounds before the row SDPs


SDP_MAX_DIM = 256


CERTIFY_SOLVERS = ("auto", "fw", "pdas")


def diagonal_strengthening(W: np.ndarray, H: np.ndarray, method: str) -> np.ndarray:
    """d with H - diag(d) PSD (see module docstring); shifted so that it holds numerically."""
    n = H.shape[0]
    if method == "min-eig":
        d = np.full(n, float(np.linalg.eigvalsh(H)[0]))
    else:  # Jacobi-scaled: H - t diag(H) is PSD for t = lambda_min of the correlation matrix of H
        scale = np.sqrt(np.clip(np.diag(H), 1e-300, None))
        d = float(np.linalg.eigvalsh(H / np.outer(scale, scale))[0]) * np.diag(H)
    if method == "diag-sdp" and n <= SDP_MAX_DIM:
        import cvxpy as cp

        weights = np.sum(W**2, axis=0)
        weights = weights / max(weights.max(), 1e-300)
        scale = max(float(np.mean(np.diag(H))), 1e-300)
        dv = cp.Variable(n)
        problem = cp.Problem(cp.Maximize(weights @ dv), [H / scale - cp.diag(dv) >> 0, dv >= 0])
        try:
            with warnings.catch_warnings():  # an inaccurate d is still safe: the eigenvalue shift below makes
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")  # H - diag(d) PSD
                problem.solve(solver=cp.SCS, eps=1e-6, max_iters=5000)
            if dv.value is not None:
                d = np.asarray(dv.value) * scale
        except cp.error.SolverError:
            pass
    lam = float(np.linalg.eigvalsh(H - np.diag(d))[0])
    return d + min(0.0, lam) - 1e-12 * max(float(np.abs(np.diag(H)).max()), 1e-300)


def certified_bound(problem: LayerProblem, start: np.ndarray, strengthen: str, variant: str, max_iterations: int,
                    time_limit: float | None, device: str | None = None, rounds: int = BM_ROUNDS,
                    solver: str = "auto") -> tuple[float, dict]:
    """A valid lower bound on the integer optimum from the full (strengthened) relaxation, solved by FW or,
    with ``solver`` "pdas" ("auto": per-row pattern on numpy), exactly by ``relaxation.pdas``."""
    if strengthen == "diag-bm":
        return _saddle_bound(problem, start, variant, max_iterations, time_limit, device, rounds)
    if strengthen == "row-sdp":  # per-row SDPs need rows with their own counts; per-layer gets diag-scaled
        if problem.pattern.row_local:
            return _row_sdp_bound(problem, start, variant, max_iterations, time_limit, device, rounds)
        strengthen = "diag-scaled"
    W, H = problem.W, problem.H
    linear = None
    if strengthen != "none":
        d = diagonal_strengthening(W, H, strengthen)
        H, linear = H - np.diag(d), W**2 * d[None, :]
    if solver not in CERTIFY_SOLVERS:
        raise ValueError(f"unknown certify_solver {solver!r}; known: {', '.join(CERTIFY_SOLVERS)}")
    if solver == "pdas" or (solver == "auto" and problem.pattern.kind == "per-row" and device is None):
        exact = relaxation_pdas(problem, H=H, linear=linear, time_limit=time_limit)
        return nonnegative_bound(exact.bound), {"certify_solver": "pdas", "certify_iterations": int(exact.iterations.sum()),
                                       "certify_gap": exact.value - exact.bound, "strengthen": strengthen,
                                       "certify_rows_converged": int(exact.converged.sum())}
    W, H, start, linear = (to_device(x, device) for x in (W, H, start, linear))
    result = frank_wolfe(W, H, problem.pattern, start, linear=linear, variant=variant,
                         max_iterations=max_iterations, time_limit=time_limit)
    return nonnegative_bound(result.lower_bound), {"certify_solver": "fw", "certify_iterations": result.iterations,
                                          "certify_gap": result.gap, "strengthen": strengthen}


def _saddle_bound(problem: LayerProblem, start: np.ndarray, variant: str, max_iterations: int,
                  time_limit: float | None, device: str | None, rounds: int, row_bounds: bool = False
                  ) -> tuple[float, dict]:
    """Strengthening "diag-bm": max over s in S = {H - diag(s) PSD} of the relaxation bound B(s), by the rounds of
    ``saddle_rounds`` until ``time_limit``; the best over rounds (round 0: s = 0, the plain relaxation) is returned.
    With ``row_bounds`` (row-local patterns) info["row_bounds"] holds per row the best row bound f_i - gap_i over the
    rounds (each valid for its row, so their sum can beat the best round)."""
    deadline = time.perf_counter() + (math.inf if time_limit is None else time_limit)
    best, history, iterations, rows = -math.inf, [], 0, None
    saddle = saddle_rounds(problem, start, variant, max_iterations, device, rounds, row_bounds)
    next(saddle)
    while time.perf_counter() < deadline:
        try:
            bound, round_rows, used = saddle.send(deadline)
        except StopIteration:
            break
        iterations, rows = iterations + used, round_rows
        if bound is not None:
            best = max(best, bound)
            history.append(bound)
    info = {"certify_iterations": iterations, "strengthen": "diag-bm", "bm_rounds": max(len(history) - 1, 0),
            "bm_bounds": [float(b) for b in history]}
    if row_bounds:
        info["row_bounds"] = rows if rows is not None else np.full(problem.W.shape[0], -np.inf)
    return nonnegative_bound(best), info


def saddle_rounds(problem: LayerProblem, start: np.ndarray, variant: str = "bpcg", max_iterations: int = 200,
                  device: str | None = None, rounds: int = BM_ROUNDS, row_bounds: bool = True):
    """The "diag-bm" saddle round by round, a generator: prime it with ``next``, then each ``send(deadline)``
    (a ``time.perf_counter()`` time, math.inf for none) runs one more round within it and yields (the round's FW bound,
    per row the best row bound so far or None without ``row_bounds``, FW iterations); rounds 0..``rounds``. A round
    the deadline cuts before its FW run yields bound None and resumes where it stopped at the next ``send``.

    B(s) = min_X f_s(X) (f_s: the objective with H - diag(s) and linear term w_ij^2 s_j on pruned
    fractions) is concave in s with supergradient v_j = sum_i w_ij^2 z_ij (1 - z_ij) at the minimiser
    (z = 1 - X). Frank-Wolfe on s: the linear step max_{s in S} v^T s is ``max_diagonal_under``
    (an SDP, solved low-rank), s_1 = atom, s_t = s_{t-1} + 2 / (t + 2) (atom - s_{t-1}) stays in S (convex), and
    every round's FW bound f_s(X) - gap is a valid bound (round 0: s = 0). Shared s for all rows (one n x n solve per
    round); every row's f_i - gap_i is valid for its row.
    """
    from ..sdp.burer_monteiro import max_diagonal_under

    W, H = problem.W, problem.H
    W_on, start_on = to_device(W, device), to_device(start, device)
    scale = max(float(np.mean(np.diag(H))), 1e-300)
    floor = 1e-3 * np.mean(W**2, axis=0) + 1e-300
    s, active, factor, X = None, None, None, None
    rows = np.full(W.shape[0], -np.inf) if row_bounds else None
    deadline = yield None
    t, need_atom = 0, False
    while t <= rounds:
        if time.perf_counter() >= deadline:  # unfinished: the next send resumes here
            deadline = yield None, None if rows is None else rows.copy(), 0
            continue
        if need_atom:  # the next s: a FW step towards the atom of the last round's supergradient
            v = np.sum(W**2 * X * (1.0 - X), axis=0) + floor
            atom, _, factor = max_diagonal_under(H / scale, v / v.max(), initial=factor,
                                                 time_limit=_seconds_to(deadline))
            atom *= scale
            s = atom if s is None else s + 2.0 / (t + 1.0) * (atom - s)
            need_atom = False
            continue  # the deadline again before the FW run
        H_s, linear = (H, None) if s is None else (H - np.diag(s), W**2 * s[None, :])
        run = frank_wolfe(W_on, to_device(H_s, device), problem.pattern, start_on, linear=to_device(linear, device),
                          variant=variant, max_iterations=max_iterations, time_limit=_seconds_to(deadline),
                          active_set=active if variant == "bpcg" else None)
        active = run.active or None
        X = to_numpy(run.X)
        if rows is not None:
            rows = np.maximum(rows, row_lower_bounds(problem, H_s, np.zeros_like(W) if linear is None else linear, X))
        t, need_atom = t + 1, True
        deadline = yield run.lower_bound, None if rows is None else rows.copy(), run.iterations


def _seconds_to(deadline: float) -> float | None:
    return None if math.isinf(deadline) else deadline - time.perf_counter()


def nonnegative_bound(value: float) -> float:
    """A bound on a mask error (a sum of squares, so >= 0): ``value`` floored at 0; NaN (a degenerate
    solve, e.g. W = 0 or H = 0) becomes the trivial bound 0 instead of spreading."""
    return float(value) if value > 0.0 else 0.0


def _row_sdp_bound(problem: LayerProblem, start: np.ndarray, variant: str, max_iterations: int,
                   time_limit: float | None, device: str | None, rounds: int) -> tuple[float, dict]:
    """Strengthening "row-sdp" (row-local patterns): the sum over rows of the better of two valid
    row bounds, the cheap one (per row the best FW row bound f_i - gap_i over the "diag-bm" saddle
    rounds, given ``CHEAP_SHARE`` of the time) and the row's diagonal Shor SDP bound
    (``solvers.sdp.layer.layer_row_bounds``, primal-dual solves; batched with torch on a CUDA ``device``). Rows
    get SDPs in order of their gap between the warm start's error and the cheap bound, largest first, until the
    time limit; the rest keep the cheap bound.
    """
    from ..sdp.layer import layer_row_bounds

    started = time.perf_counter()
    W, H = problem.W, problem.H
    budget = None if time_limit is None else CHEAP_SHARE * time_limit
    _, saddle = _saddle_bound(problem, start, variant, max_iterations, budget, device, rounds, row_bounds=True)
    cheap = saddle.pop("row_bounds")
    order = np.argsort(-(mask_error_rows(W, H, start) - cheap), kind="stable")
    remaining = None if time_limit is None else max(time_limit - (time.perf_counter() - started), 0.0)
    workers = SDP_WORKERS or worker_processes()
    workers = workers if W.shape[1] >= ONE_THREAD_MAX_N and W.shape[0] > workers else 1  # narrow rows: no pool
    batched_on = device if device is not None and device.startswith("cuda") else None  # on a CPU numpy rows are faster
    sdp, info = layer_row_bounds(W, H, problem.pattern, order=order, time_limit=remaining, workers=workers,
                                 device=batched_on)
    rows = np.nan_to_num(np.fmax(cheap, sdp), nan=0.0)
    info.update({"certify_iterations": saddle["certify_iterations"], "strengthen": "row-sdp",
                 "cheap_bound": float(np.sum(cheap)), "bm_bounds": saddle["bm_bounds"],
                 "sdp_rows_improved": int(np.sum(sdp > cheap))})
    return nonnegative_bound(float(np.sum(rows))), info


def app_e_bound(problem: LayerProblem, gaps: np.ndarray) -> dict:
    """Per-row rounding guarantee of the paper's App. E (per-row pattern only), summed."""
    if problem.pattern.kind != "per-row":
        return {"app_e_bound": None}
    k, r = problem.pattern.keep, problem.pattern.prune
    m = min(k, r)
    absW = np.abs(problem.W)
    gershgorin = np.max(absW * (absW @ np.abs(problem.H)), axis=1)
    lam_max = np.minimum(gershgorin, float(np.linalg.eigvalsh(problem.H)[-1]) * np.max(problem.W**2, axis=1))
    rounding = 2.0 * lam_max * (m + math.sqrt(2.0 * r * m))
    return {"app_e_bound": float(np.sum(gaps) + rounding.sum()), "app_e_eps": float(np.sum(gaps)),
            "app_e_rounding_term": float(rounding.sum())}
