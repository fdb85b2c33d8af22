"""Root gaps of three relaxations of the per-row mask problem on real slices (how strong can a bound be?).

For one row, Q = (w w^T) * H and z = pruned indicators with sum z = p (p = n / 2):
- plain: min z^T Q z over the hypersimplex (Clarabel);
- diagonal-only Shor SDP: min <Q, Z> s.t. [[1, z^T], [z, Z]] PSD, diag Z = z, sum z = p (SCS);
- full Shor SDP: the same plus Z 1 = p z (the QCR "u" constraint) (SCS).
Gap = 1 - bound / optimum (optimum from ``mip``). Prints one line per slice.

    python -m benchmark.shor_gaps --instances smollm2-135m-l3-n64 --count 6
"""
from __future__ import annotations

import argparse

import numpy as np


def plain_bound(Q: np.ndarray, p: int) -> float:
    """min z^T Q z over the hypersimplex 0 <= z <= 1, sum z = p (Clarabel): the plain relaxation."""
    import cvxpy as cp

    z = cp.Variable(len(Q))
    return float(cp.Problem(cp.Minimize(cp.quad_form(z, cp.psd_wrap(Q))), [z >= 0, z <= 1, cp.sum(z) == p]).solve(
        solver=cp.CLARABEL))


def relaxation_bounds(Q: np.ndarray, p: int) -> tuple[float, float, float]:
    """(plain, diagonal-only Shor, full Shor) lower bounds on min z^T Q z, z binary, sum z = p."""
    import cvxpy as cp

    from solvers.sdp.qcr import shor_problem

    shor = [shor_problem(Q, p, row_sums)[0].solve(solver=cp.SCS, eps=1e-7, max_iters=50000)
            for row_sums in (False, True)]
    return plain_bound(Q, p), float(shor[0]), float(shor[1])


def main(argv: list[str] | None = None) -> None:
    from instances.sets import load_set
    from solvers.api import solve_layer

    parser = argparse.ArgumentParser(prog="python -m benchmark.shor_gaps", description=__doc__.split("\n")[0])
    parser.add_argument("--instances", default="smollm2-135m-l3-n64")
    parser.add_argument("--count", type=int, default=6, help="first COUNT slices of the set")
    args = parser.parse_args(argv)
    for problem in load_set(args.instances, progress=False)[: args.count]:
        if problem.W.shape[0] != 1:
            raise SystemExit(f"shor_gaps: {problem.name} has {problem.W.shape[0]} rows; it takes one-row slices")
        w = problem.W[0]
        Q = np.outer(w, w) * problem.H
        scale = float(np.abs(Q).max()) or 1.0
        optimum = solve_layer(problem.W, problem.H, sparsity=0.5, method="mip", time_limit=60).objective / scale
        bounds = relaxation_bounds(Q / scale, len(w) // 2)
        print(f"{problem.name} n {len(w)}: gap plain {1 - bounds[0] / optimum:.3f}  diagonal-only Shor "
              f"{1 - bounds[1] / optimum:.3f}  full Shor {1 - bounds[2] / optimum:.3f}", flush=True)


if __name__ == "__main__":
    main()
