"""Frank-Wolfe over the relaxed mask polytope: one hypersimplex per group, with optional fixings.

Relaxed keep-fractions X in [0, 1]^(d_out x d_in), every group summing to its keep count. With
E = W * (1 - X) (relaxed pruned weights), an optional PSD matrix H' (default H) and a linear
term L >= 0 on the pruned fractions, the objective is
    f(X) = sum_i e_i^T H' e_i + <L, 1 - X>,       grad f(X) = -2 W * (E H') - L.
The linear minimization oracle is top-k of -grad inside each group (fixed-to-keep entries always
in, fixed-to-prune never). The cache P = E H' is updated with one (d_out x d_in) x (d_in x d_in)
product per iteration, which also gives the exact line search (f is quadratic along any D:
f(X + g D) = f + g <grad, D> + g^2 <W D, (W D) H'>).
Variants: "open-loop" (step 2 / (t + 2)), "line-search" (vanilla FW, exact steps) and "bpcg"
(blended pairwise conditional gradients: pairwise steps between active vertices when the local gap
dominates, else FW steps; Tsuji, Tanaka, Pokutta 2022). Every iteration gives the certified bound
f(X) - gap <= min f over the polytope (convex f); the best one is kept.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..core.arrays import axpy, inner, keep_rows_top_k, namespace, top_k_indices
from ..core.arrays import device_of as _device
from ..core.patterns import Pattern
from .fw_row_split import frank_wolfe_row_split, split_workers
from .fw_steps import FWResult, oracle_scores, should_stop, step_size

VARIANTS = ("open-loop", "line-search", "bpcg")
RECOMPUTE_EVERY = 50
STACK_MAX_ENTRIES = 1 << 18  # bpcg stacks its active vertices into one matrix up to this many entries


def lmo(gradient, pattern: Pattern, fixed_keep=None, fixed_prune=None, groups=None):
    """Vertex minimising <gradient, V>: keep the most negative gradient entries of every group.

    ``gradient`` is a numpy or torch array; the vertex is a bool array of the same kind and device.
    ``groups`` is ``pattern.groups`` already on that device (converted here when not given).
    Partial selection (argpartition / topk); ties break arbitrarily, which any minimiser allows.
    """
    xp = namespace(gradient)
    scores = oracle_scores(gradient, fixed_keep, fixed_prune)
    if pattern.kind == "per-row":  # groups are the rows: no gather / scatter through flat indices
        return keep_rows_top_k(scores, pattern.keep)
    if groups is None:
        groups = xp.asarray(pattern.groups, device=_device(gradient))
    flat = xp.reshape(scores, (-1,))
    chosen = top_k_indices(flat[groups], pattern.keep)
    vertex = xp.zeros(flat.shape[0], dtype=xp.bool, device=_device(gradient))
    vertex[xp.reshape(xp.take_along_axis(groups, chosen, axis=1), (-1,))] = True
    return xp.reshape(vertex, pattern.shape)


def frank_wolfe(W, H, pattern: Pattern, start, *, linear=None, fixed_keep=None, fixed_prune=None,
                variant: str = "bpcg", max_iterations: int = 500, gap_tolerance: float = 1e-6,
                time_limit: float | None = None, active_set=None, cutoff: float | None = None) -> FWResult:
    """Minimise f over the relaxed polytope from the vertex ``start`` (a feasible bool mask), or from
    the convex combination ``active_set`` [(vertex, weight), ...] when given (warm start).

    One code path for numpy and torch: every array (W, H, start, linear, fixings, active set) must
    be of the same kind and on the same device, and the work runs there (GPU for CUDA tensors),
    in W's floating dtype. With ``cutoff`` the run stops as soon as its certified bound reaches it
    (branch-and-bound: the node is pruned by the incumbent, no need to solve it further).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown FW variant {variant!r}; known: {', '.join(VARIANTS)}")
    workers = split_workers(W, pattern, variant, linear, active_set)
    if workers > 1:  # numpy on several BLAS threads: rows split over workers instead (fw_row_split)
        return frank_wolfe_row_split(W, H, pattern, start, workers, linear=linear, fixed_keep=fixed_keep,
                                     fixed_prune=fixed_prune, variant=variant, max_iterations=max_iterations,
                                     gap_tolerance=gap_tolerance, time_limit=time_limit, cutoff=cutoff)
    xp = namespace(W, H, start)
    started = time.perf_counter()
    deadline = started + (time_limit if time_limit is not None else np.inf)
    groups = None if pattern.kind == "per-row" else xp.asarray(pattern.groups, device=_device(W))  # lmo: rows direct
    if active_set:
        total = sum(w for _, w in active_set)
        active = [(xp.asarray(v, copy=True), w / total) for v, w in active_set]
        X = sum(w * xp.astype(v, W.dtype) for v, w in active)
    else:
        active = [(xp.asarray(start, copy=True), 1.0)]
        X = xp.astype(start, W.dtype)
    best_bound, trace = -np.inf, []
    f = gap = np.nan
    minus_two_W = -2.0 * W
    scratch = np.empty(W.shape, dtype=W.dtype) if isinstance(W, np.ndarray) else None
    t = 0
    for t in range(max_iterations + 1):
        if t % RECOMPUTE_EVERY == 0:  # exact values now and then; in between f is updated exactly
            E = W * (1.0 - X)
            P = E @ H
            f = inner(E, P) + (0.0 if linear is None else inner(linear, 1.0 - X))
        G = minus_two_W * P
        if linear is not None:
            G -= linear
        V = lmo(G, pattern, fixed_keep, fixed_prune, groups)
        D = xp.astype(V, X.dtype) - X  # the FW direction; gap = <G, X - V>
        gap = -inner(G, D)
        best_bound = max(best_bound, f - gap)
        trace.append((t, round(time.perf_counter() - started, 4), f, gap))
        if should_stop(t, f, gap, best_bound, max_iterations=max_iterations, gap_tolerance=gap_tolerance,
                       deadline=deadline, cutoff=cutoff):
            break
        D, gamma_max, pairwise = _direction(xp, variant, G, D, active, gap)
        WD = W * D
        WDH = WD @ H
        slope = -gap if pairwise is None else inner(G, D)  # FW direction: <G, V - X> = -gap
        curvature = inner(WD, WDH)
        gamma = step_size(variant, t, slope, curvature, gamma_max)
        axpy(gamma, D, X, scratch)
        axpy(-gamma, WDH, P, scratch)
        f += gamma * slope + gamma**2 * curvature
        if variant == "bpcg":
            _update_active(xp, active, V, gamma, pairwise)
    return FWResult(X, f, gap, best_bound, t, trace, active if variant == "bpcg" else [], G)


def _direction(xp, variant, G, fw_direction, active, fw_gap):
    """(direction, max step, pairwise (away, towards) or None); ``fw_direction`` = V - X."""
    if variant != "bpcg":
        return fw_direction, 1.0, None
    if math.prod(G.shape) * len(active) <= STACK_MAX_ENTRIES:  # small blocks (fw-bnb rows): one product for all vertices
        stacked = xp.reshape(xp.stack([vertex for vertex, _ in active]), (len(active), -1))
        inner_products = [float(v) for v in xp.astype(stacked, G.dtype) @ xp.reshape(G, (-1,))]
    else:
        inner_products = [inner(G, xp.astype(vertex, G.dtype)) for vertex, _ in active]
    away, towards = int(np.argmax(inner_products)), int(np.argmin(inner_products))
    if inner_products[away] - inner_products[towards] >= fw_gap and away != towards:
        direction = xp.astype(active[towards][0], G.dtype) - xp.astype(active[away][0], G.dtype)
        return direction, active[away][1], (away, towards)
    return fw_direction, 1.0, None


def _update_active(xp, active, V, gamma, pairwise):
    if pairwise is not None:
        away, towards = pairwise
        active[towards] = (active[towards][0], active[towards][1] + gamma)
        active[away] = (active[away][0], active[away][1] - gamma)
        if active[away][1] <= 1e-12:
            active.pop(away)
        return
    for n, (vertex, weight) in enumerate(active):
        active[n] = (vertex, weight * (1.0 - gamma))
    for n, (vertex, weight) in enumerate(active):
        if bool(xp.all(vertex == V)):
            active[n] = (vertex, weight + gamma)
            break
    else:
        active.append((xp.asarray(V, copy=True), gamma))
    active[:] = [(v, w) for v, w in active if w > 1e-12]
