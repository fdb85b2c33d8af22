"""Frank-Wolfe ("line-search" / "open-loop") with the rows split over worker threads (numpy, row-local patterns).

For a row-local pattern everything in a FW iteration but the step size is row-separable: rows r of
the gradient -2 W_r * P_r - L_r, their LMO vertex, the direction D_r = V_r - X_r, the product
(W_r * D_r) H (the iteration's GEMM), and the partial sums <G_r, D_r> (gap) and <W_r D_r, W_r D_r H>
(curvature). Each worker owns a block of rows and does all of that with one BLAS thread; the main
thread adds the partial sums, picks the step (exact line search: f is quadratic along D) and the
workers apply it to their rows in the next round. One hand-off per iteration, no threads spinning
between BLAS calls (a GEMM on two BLAS threads followed by a split LMO ran slower than one thread).
Same iterates as ``fw_engine.frank_wolfe`` up to the order of floating-point sums.
"""
from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..core.arrays import axpy, blas_controller, inner, keep_rows_top_k, one_blas_thread
from ..core.patterns import Pattern
from .fw_steps import FWResult, oracle_scores, should_stop, step_size

SPLIT_MIN_ENTRIES = 1 << 16  # layers with fewer weights run in fw_engine (the hand-offs would cost more)
RECOMPUTE_EVERY = 50         # exact P and f now and then, as in fw_engine

_pool: ThreadPoolExecutor | None = None


def split_workers(W, pattern: Pattern, variant: str, linear, active_set) -> int:
    """How many row blocks ``frank_wolfe`` should use here: the BLAS thread count when the problem
    fits this path (numpy, row-local, no active set, large enough), else 1 (fw_engine's own loop)."""
    if (not isinstance(W, np.ndarray) or not pattern.row_local or variant not in ("line-search", "open-loop")
            or active_set or W.size < SPLIT_MIN_ENTRIES or W.shape[0] < 2
            or (linear is not None and not isinstance(linear, np.ndarray))):
        return 1
    blas = [info["num_threads"] for info in blas_controller().info() if info.get("user_api") == "blas"]
    return max(1, min(blas[0] if blas else 1, os.cpu_count() or 1, W.shape[0]))


class _Rows:
    """One worker's rows [lo, hi) and its slices of the iteration's arrays (views, updated in place)."""

    def __init__(self, lo, hi, W, H, X, P, linear, fixed_keep, fixed_prune, pattern):
        self.W, self.H, self.X, self.P = W[lo:hi], H, X[lo:hi], P[lo:hi]
        self.minus_two_W = -2.0 * self.W
        self.linear = None if linear is None else np.broadcast_to(linear, W.shape)[lo:hi]
        self.fixed_keep = None if fixed_keep is None else np.broadcast_to(fixed_keep, W.shape)[lo:hi]
        self.fixed_prune = None if fixed_prune is None else np.broadcast_to(fixed_prune, W.shape)[lo:hi]
        self.keep, self.group_size = pattern.keep, pattern.group_size
        self.scratch = np.empty(self.W.shape, dtype=W.dtype)
        self.D = self.WDH = self.G = None

    def lmo(self, G):
        scores = oracle_scores(G, self.fixed_keep, self.fixed_prune)
        grouped = scores.reshape(-1, self.group_size)  # per-row: the rows; N:M: M consecutive inputs each
        return keep_rows_top_k(grouped, self.keep).reshape(scores.shape)

    def recompute(self) -> float:
        """P = E H and this block's share of f (exact)."""
        E = self.W * (1.0 - self.X)
        self.P[...] = E @ self.H
        return inner(E, self.P) + (0.0 if self.linear is None else float(np.sum(self.linear * (1.0 - self.X))))

    def step(self, gamma: float) -> None:
        """Apply the last direction with step gamma (X += gamma D, P -= gamma (W D) H)."""
        axpy(gamma, self.D, self.X, self.scratch)
        axpy(-gamma, self.WDH, self.P, self.scratch)

    def direction(self) -> tuple[float, float]:
        """Gradient, vertex, direction D = V - X, (W D) H; returns this block's (-<G, D>, <W D, (W D) H>)."""
        G = self.minus_two_W * self.P
        if self.linear is not None:
            G -= self.linear
        self.G = G
        self.D = self.lmo(G).astype(self.X.dtype) - self.X
        WD = self.W * self.D
        self.WDH = WD @ self.H
        return -inner(G, self.D), inner(WD, self.WDH)


def _run(blocks, method, *args):
    return [future.result() for future in [_executor().submit(_on_one_thread, getattr(b, method), *args)
                                           for b in blocks]]


def _on_one_thread(function, *args):
    return function(*args)


def _forget_pool() -> None:
    """In a forked child the parent's pool threads do not exist (submitting to it would wait forever)."""
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="fw-rows")
    return _pool


def frank_wolfe_row_split(W: np.ndarray, H: np.ndarray, pattern: Pattern, start: np.ndarray, workers: int, *,
                          linear=None, fixed_keep=None, fixed_prune=None, variant: str = "line-search",
                          max_iterations: int = 500, gap_tolerance: float = 1e-6, time_limit: float | None = None,
                          cutoff: float | None = None):
    """``fw_engine.frank_wolfe`` for "line-search" / "open-loop" on ``workers`` row blocks (see the module
    docstring); returns its ``FWResult`` (no active set). BLAS runs on one thread per worker meanwhile."""

    started = time.perf_counter()
    deadline = started + (time_limit if time_limit is not None else math.inf)
    X = start.astype(W.dtype)
    P = np.empty_like(W)
    bounds = np.linspace(0, W.shape[0], workers + 1).astype(int)
    blocks = [_Rows(lo, hi, W, H, X, P, linear, fixed_keep, fixed_prune, pattern)
              for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    best_bound, trace, f, gap, t = -math.inf, [], math.nan, math.nan, 0
    with one_blas_thread():
        for t in range(max_iterations + 1):
            if t % RECOMPUTE_EVERY == 0:
                f = float(sum(_run(blocks, "recompute")))
            sums = _run(blocks, "direction")
            gap, curvature = float(sum(s[0] for s in sums)), float(sum(s[1] for s in sums))
            best_bound = max(best_bound, f - gap)
            trace.append((t, round(time.perf_counter() - started, 4), f, gap))
            if should_stop(t, f, gap, best_bound, max_iterations=max_iterations, gap_tolerance=gap_tolerance,
                           deadline=deadline, cutoff=cutoff):
                break
            gamma = step_size(variant, t, -gap, curvature)  # FW direction: slope <G, V - X> = -gap
            _run(blocks, "step", gamma)
            f += -gamma * gap + gamma**2 * curvature
    gradient = np.concatenate([b.G for b in blocks])
    return FWResult(X, f, gap, best_bound, t, trace, [], gradient)
