"""Full-row gaps of the diagonal Shor SDP bound on a real layer (how strong is fw-sdp's bound per row?).

For sampled rows of every module of a set (per-row pattern), the row's SDP bound (the primal-dual solver
``solvers.sdp.primal_dual`` at its default tolerance 1e-4; with ``--compare-barrier`` also the dual barrier method of
``solvers.sdp.barrier``, to compare bounds and seconds; with ``--compare-tolerance T`` also the primal-dual solver
stopped at relative gap T, as ``fw-sdp`` runs it, to see what the looser stop costs) is compared with the row's error under the best mask at hand (SparseSwaps from Wanda, a 1-swap local
optimum): gap = 1 - bound / error >= the true gap to the row optimum. Also the plain relaxation's
row bound (FW over the hypersimplex, f_i - gap_i) for contrast. Writes a JSON list of rows and
prints one line per module.

    python -m benchmark.row_sdp_gaps --instances smollm2-135m-l3 --rows 4 --compare-barrier \
        --out results/fw-bench/row-sdp-gaps.json
    python -m benchmark.row_sdp_gaps --instances smollm2-135m-l3 --rows 4 --compare-tolerance 1e-2 \
        --out results/fw-bench/row-sdp-tolerance.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def module_gaps(W: np.ndarray, H: np.ndarray, rows: list[int], sparsity: float, compare_barrier: bool = False,
                compare_tolerance: float | None = None) -> list[dict]:
    """Per sampled row: SDP bound, plain FW bound, best-at-hand error, gaps and SDP seconds (and the barrier
    method's bound, Newton steps and seconds with ``compare_barrier``; the primal-dual solver's bound,
    iterations and seconds at relative stopping gap ``compare_tolerance``)."""
    from solvers.api import solve_layer
    from solvers.core.objective import mask_error_rows
    from solvers.core.problem import make_problem
    from solvers.relaxation.fw_engine import frank_wolfe
    from solvers.relaxation.row_bounds import row_lower_bounds
    from solvers.sdp.barrier import row_sdp_bound
    from solvers.sdp.primal_dual import row_sdp_bound_ipm

    problem = make_problem(W, H, sparsity=sparsity, pattern="per-row")
    best = mask_error_rows(W, H, solve_layer(W, H, sparsity, "per-row", "sparseswaps").mask)
    start = solve_layer(W, H, sparsity, "per-row", "wanda").mask
    run = frank_wolfe(W, H, problem.pattern, start, variant="bpcg", max_iterations=300)
    plain = row_lower_bounds(problem, H, np.zeros_like(W), run.X)
    out = []
    for i in rows:
        Q = W[i][:, None] * H * W[i][None, :]
        started = time.perf_counter()
        result = row_sdp_bound_ipm(Q, problem.pattern.prune)
        entry = {"row": int(i), "n": int(W.shape[1]), "best_error": float(best[i]), "sdp_bound": result.bound,
                 "plain_bound": float(plain[i]), "sdp_gap": 1 - result.bound / best[i],
                 "plain_gap": 1 - plain[i] / best[i], "sdp_iterations": result.newton_steps,
                 "sdp_seconds": round(time.perf_counter() - started, 3)}
        if compare_barrier:
            started = time.perf_counter()
            barrier = row_sdp_bound(Q, problem.pattern.prune)
            entry.update(barrier_bound=barrier.bound, barrier_newton_steps=barrier.newton_steps,
                         barrier_seconds=round(time.perf_counter() - started, 3))
        if compare_tolerance is not None:
            started = time.perf_counter()
            loose = row_sdp_bound_ipm(Q, problem.pattern.prune, tolerance=compare_tolerance)
            entry.update(loose_tolerance=compare_tolerance, loose_bound=loose.bound,
                         loose_iterations=loose.newton_steps, loose_seconds=round(time.perf_counter() - started, 3))
        out.append(entry)
    return out


def main(argv: list[str] | None = None) -> None:
    from instances.sets import load_set

    parser = argparse.ArgumentParser(prog="python -m benchmark.row_sdp_gaps", description=__doc__.split("\n")[0])
    parser.add_argument("--instances", default="smollm2-135m-l3")
    parser.add_argument("--rows", type=int, default=4, help="rows sampled per module (seeded)")
    parser.add_argument("--sparsity", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-barrier", action="store_true",
                        help="also solve every row by the dual barrier method (solvers.sdp.barrier)")
    parser.add_argument("--compare-tolerance", type=float, default=None, metavar="T",
                        help="also solve every row by the primal-dual method stopped at relative gap T")
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the per-row results")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    results = []
    for problem in load_set(args.instances, progress=False):
        rows = sorted(rng.choice(problem.W.shape[0], size=min(args.rows, problem.W.shape[0]), replace=False))
        gaps = module_gaps(problem.W, problem.H, rows, args.sparsity, args.compare_barrier, args.compare_tolerance)
        for entry in gaps:
            entry.update(instance=problem.name, set=args.instances, sparsity=args.sparsity)
        results.extend(gaps)
        sdp, plain = [g["sdp_gap"] for g in gaps], [g["plain_gap"] for g in gaps]
        extra = (f", barrier {np.mean([g['barrier_seconds'] for g in gaps]):.2f} s per row, bounds within "
                 f"{max(abs(g['sdp_bound'] / g['barrier_bound'] - 1) for g in gaps):.1e}" if args.compare_barrier else "")
        if args.compare_tolerance is not None:
            extra += (f", at tolerance {args.compare_tolerance:g}: {np.mean([g['loose_seconds'] for g in gaps]):.2f} s "
                      f"per row, {np.mean([g['loose_iterations'] for g in gaps]):.1f} vs "
                      f"{np.mean([g['sdp_iterations'] for g in gaps]):.1f} iterations, bounds lower by at most "
                      f"{max(1 - g['loose_bound'] / g['sdp_bound'] for g in gaps):.1e}")
        print(f"{problem.name}: SDP gap {min(sdp):.3f}-{max(sdp):.3f} (mean {np.mean(sdp):.3f}), plain "
              f"{np.mean(plain):.3f}, {np.mean([g['sdp_seconds'] for g in gaps]):.2f} s per row{extra}", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
