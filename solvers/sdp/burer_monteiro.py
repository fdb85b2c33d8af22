"""Largest weighted diagonal under a PSD matrix, by a low-rank (Burer-Monteiro) dual solve.

Problem (an SDP):   max_s  v^T s   s.t.  H - diag(s) PSD,          v >= 0 (weights per input).
Its dual:           min_X  <H, X>  s.t.  diag(X) = v,  X PSD,
solved with X = U U^T, U of rank r ~ sqrt(2n) (enough for an optimum of this SDP, Barvinok-Pataki),
by the mixing method (Wang, Chang, Kolter 2017): each row u_j in turn is set to the minimiser of
<H, U U^T> on its sphere ||u_j||^2 = v_j, i.e. u_j = -sqrt(v_j) g_j / ||g_j||, g_j = sum_{l != j} H_jl u_l.
At a fixed point H U = diag(s) U with s_j = H_jj - ||g_j|| / sqrt(v_j), which gives the primal s;
it is then shifted down by max(0, -lambda_min(H - diag s)) so that H - diag(s) is PSD whatever the
accuracy of the low-rank solve (one eigen-decomposition). Any such s is a valid strengthening.

Why: on binaries z_j^2 = z_j, so for e_i = w_i * z_i (pruned weights of row i)
    e_i^T H e_i = e_i^T (H - diag s) e_i + sum_j s_j w_ij^2 z_ij,
and for s in the set above the right-hand side is convex and >= the left on [0, 1]: its relaxation
bound is stronger (``solvers.relaxation.sparsefw``, strengthening "diag-bm"). An SDP solver (SCS) took 386 s at
n = 576 and returned an inaccurate, unusable answer; this takes seconds.
"""
from __future__ import annotations

import time

import numpy as np


def max_diagonal_under(H: np.ndarray, v: np.ndarray, *, rank: int | None = None, max_sweeps: int = 300,
                       tolerance: float = 1e-6, seed: int = 0, initial: np.ndarray | None = None,
                       time_limit: float | None = None) -> tuple[np.ndarray, float, np.ndarray]:
    """(s with H - diag(s) PSD, dual value <H, U U^T>, factor U); see the module docstring.

    ``H``: symmetric PSD (n x n); ``v``: positive weights (n,); ``initial``: a factor U (n x r) to
    start from (e.g. the previous solve's, for nearby weights). Units of s and the value: those of H.
    At the optimum v^T s = <H, U U^T> (strong duality); v^T s <= the SDP optimum always. Sweeps stop at
    ``time_limit`` (seconds): s is still valid (the final shift makes H - diag(s) PSD), only weaker.
    """
    deadline = time.perf_counter() + (time_limit if time_limit is not None else np.inf)
    H = np.asarray(H, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    n = len(v)
    if H.shape != (n, n):
        raise ValueError(f"H must be {n} x {n} to match v; got {H.shape}")
    if not np.all(v > 0):
        raise ValueError("weights v must be positive")
    r = rank or int(np.ceil(np.sqrt(2 * n))) + 1
    root_v = np.sqrt(v)
    U = np.random.default_rng(seed).standard_normal((n, r)) if initial is None else np.array(initial, dtype=np.float64)
    U *= (root_v / np.linalg.norm(U, axis=1))[:, None]
    diagonal = np.diag(H).copy()
    G = H @ U - diagonal[:, None] * U  # rows g_j = sum_{l != j} H_jl u_l
    previous = np.inf
    value = float(np.sum(U * (H @ U)))
    for _ in range(max_sweeps):
        for j in range(n):
            norm = np.linalg.norm(G[j])
            if norm == 0.0:
                continue
            change = -root_v[j] / norm * G[j] - U[j]
            G += np.outer(H[:, j], change)
            G[j] -= diagonal[j] * change
            U[j] += change
        value = float(np.sum(U * (H @ U)))
        if previous - value <= tolerance * abs(value) or time.perf_counter() > deadline:
            break
        previous = value
    s = diagonal - np.linalg.norm(G, axis=1) / root_v
    lam_min = float(np.linalg.eigvalsh(H - np.diag(s))[0])
    scale = max(float(np.abs(diagonal).max()), 1e-300)
    return s + min(lam_min, 0.0) - 1e-12 * scale, value, U
