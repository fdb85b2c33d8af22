"""Root gaps on real slices against proven optima: how strong are the bounds fw-bnb starts from?

For every one-row slice (per-row, 50%) of the given sets whose optimum some exact solver proved in
the results directory's records, with Q = (w w^T) * H and p = n / 2 pruned weights:
- plain: the hypersimplex relaxation min z^T Q z (Clarabel), the bound of unstrengthened FW;
- diag-sdp: the diagonal Shor SDP (``solvers.sdp.barrier``), the bound fw-bnb's root and fw-sdp use;
- dnn: the doubly non-negative relaxation by the project's ADMM (``solvers.sdp.dnn``, certified), the bound
  ``certify`` adds; with ``--clarabel`` also Shor with the cardinality products and the DNN solved by cvxpy/Clarabel
  (interior point, the reference values of issue #23's table);
- gaps 1 - bound / optimum, and each heuristic's excess primal / optimum - 1 from the same records.
Writes a JSON list (one entry per slice) and prints medians and ranges per set and per module.

    python -m benchmark.slice_root_gaps --records results/mip-bench,results/main --out results/fw-bench/slice-root-gaps.json
    python -m benchmark.slice_root_gaps --sets smollm2-135m-l3-n64 --clarabel --out results/fw-bench/slice-dnn-gaps.json
    python -m benchmark.slice_root_gaps --records results/anchor-bench/warm-tau-cap,\
        results/anchor-bench/warm-tau-cap-long600,results/fw-bench/slice-heuristics \
        --sets smollm2-135m-l3-n48,...,smollm2-135m-l3-n256 --out results/fw-bench/slice-root-gaps-to-n256.json

Slices wider than ``--dnn-max-n`` (default 128, certify's ``dnn_max_n``) get no DNN bound.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .records import read_records
from .shor_gaps import plain_bound

HEURISTICS = ("wanda", "sparsegpt", "sparseswaps", "fw")
DNN_MAX_N = 128  # widest slice that gets the ADMM DNN bound (certify's dnn_max_n: above it the ADMM does not pay)


def proven_optima(records: list[dict]) -> dict:
    """{(set, instance): optimum} from per-row@0.5 mask records with status "optimal"."""
    return {(r["instance_set"], r["instance"]): float(r["objective"]) for r in records
            if r.get("status") == "optimal" and r.get("setting") == "per-row@0.5" and r.get("objective_kind") == "mask"}


def heuristic_values(records: list[dict]) -> dict:
    """{(set, instance, solver): primal} of the heuristics (last record wins)."""
    return {(r["instance_set"], r["instance"], r["solver"]): float(r["objective"]) for r in records
            if r.get("solver") in HEURISTICS and r.get("setting") == "per-row@0.5" and r.get("objective") is not None
            and r.get("objective_kind") == "mask"}


def clarabel_bounds(Q: np.ndarray, p: int) -> dict:
    """Shor with the cardinality products, and the DNN relaxation (also Y >= 0), by cvxpy/Clarabel."""
    import cvxpy as cp

    from solvers.sdp.qcr import shor_problem

    out = {}
    for name, nonnegative in (("shor_products", False), ("dnn_clarabel", True)):
        problem = shor_problem(Q, p, nonnegative=nonnegative)[0]
        problem.solve(solver=cp.CLARABEL)
        out[name] = float(problem.value)
    return out


def slice_gaps(set_name: str, optima: dict, primal: dict, clarabel: bool = False, dnn_max_n: int = DNN_MAX_N
               ) -> list[dict]:
    from instances.sets import load_set
    from solvers.sdp.barrier import row_sdp_bound
    from solvers.sdp.dnn import row_dnn_bound

    rows = []
    for problem in load_set(set_name, progress=False):
        optimum = optima.get((set_name, problem.name))
        if optimum is None or problem.W.shape[0] != 1:
            continue
        w = problem.W[0]
        Q = np.outer(w, w) * problem.H
        p = len(w) // 2
        sdp, plain = row_sdp_bound(Q, p).bound, plain_bound(Q, p)
        row = {"set": set_name, "instance": problem.name, "module": problem.name.split(".")[2], "n": len(w),
               "optimum": optimum, "diag_sdp_bound": sdp, "plain_bound": plain, "gap_diag_sdp": 1 - sdp / optimum,
               "gap_plain": 1 - plain / optimum}
        if len(w) <= dnn_max_n:
            dnn = row_dnn_bound(Q, p)
            row.update(dnn_bound=dnn.bound, dnn_iterations=dnn.iterations, gap_dnn=1 - max(dnn.bound, 0.0) / optimum)
        if clarabel:
            for name, value in clarabel_bounds(Q, p).items():
                row[name], row[f"gap_{name}"] = value, 1 - value / optimum
        for solver in HEURISTICS:
            if (set_name, problem.name, solver) in primal:
                row[f"excess_{solver}"] = primal[(set_name, problem.name, solver)] / optimum - 1
        rows.append(row)
    return rows


def _summary(values) -> str:
    values = 100 * np.asarray(values)
    return f"median {np.median(values):.1f}% ({values.min():.1f}-{values.max():.1f}%)"


def _excess_summary(rows: list[dict], solver: str = "sparseswaps") -> str:
    excess = [r[f"excess_{solver}"] for r in rows if f"excess_{solver}" in r]
    return _summary(excess) if excess else "n/a (no records)"


def _dnn_summary(rows: list[dict]) -> str:
    gaps = [r["gap_dnn"] for r in rows if "gap_dnn" in r]
    return _summary(gaps) if gaps else "not run (wider than --dnn-max-n)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmark.slice_root_gaps", description=__doc__.split("\n")[0])
    parser.add_argument("--records", default="results/mip-bench,results/main",
                        help="comma-separated results directories (exact runs give optima, heuristics their excess)")
    parser.add_argument("--sets", default=",".join(f"smollm2-135m-l3-n{n}" for n in (32, 48, 64, 96, 128)))
    parser.add_argument("--out", help="JSON file for the per-slice rows")
    parser.add_argument("--dnn-max-n", type=int, default=DNN_MAX_N, help="widest slice that gets the DNN bound")
    parser.add_argument("--clarabel", action="store_true",
                        help="also Shor with cardinality products and the DNN by cvxpy/Clarabel (n <= 128 or so)")
    args = parser.parse_args(argv)
    records = [r for directory in args.records.split(",") for r in read_records(Path(directory))]
    if not records:
        raise SystemExit(f"slice_root_gaps: no records in {args.records}")
    optima, primal = proven_optima(records), heuristic_values(records)
    rows = []
    for set_name in args.sets.split(","):
        try:
            found = slice_gaps(set_name, optima, primal, args.clarabel, args.dnn_max_n)
        except ValueError as err:  # an unknown set name: load_set names it and the known ones
            raise SystemExit(f"slice_root_gaps: {err}") from None
        if not found:
            print(f"{set_name}: no slice with a proven optimum in {args.records}")
            continue
        rows += found
        print(f"{set_name} ({len(found)} slices): diag SDP gap {_summary([r['gap_diag_sdp'] for r in found])}, "
              f"DNN (ADMM) {_dnn_summary(found)}, plain {_summary([r['gap_plain'] for r in found])}; "
              f"sparseswaps excess {_excess_summary(found)}",
              flush=True)
        for name in ("shor_products", "dnn_clarabel"):
            if args.clarabel:
                print(f"  {name}: gap {_summary([r[f'gap_{name}'] for r in found])}")
    for module in sorted({r["module"] for r in rows}):
        mine = [r for r in rows if r["module"] == module]
        print(f"  {module:10s} diag SDP gap {_summary([r['gap_diag_sdp'] for r in mine])}; sparseswaps excess "
              + _excess_summary(mine))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
