"""Side-by-side table of exact solvers on the slices: per slice width, how many rows each proves and the median
per-instance time ratio of every solver to the reference one (issue #23: fw-bnb against Gurobi and SCIP).

Only records of one git commit count (default: the newest commit in the directory), so every row of the table
comes from one run in which the solvers alternated per instance.

    python -m benchmark.anchor_report results/anchor-bench --solvers fw-bnb,gurobi,mip
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tabulate import tabulate

from .records import read_records


def ratio_table(records: list[dict], solvers: list[str], reference: str) -> list[dict]:
    """One row per slice set: proven counts and median times per solver, median (q25-q75) of time / reference time."""
    by = {(r["instance_set"], r["instance"], r["solver"]): r for r in records}  # the last record of a key wins
    rows = []
    for set_name in sorted({r["instance_set"] for r in records}, key=lambda s: (len(s), s)):
        instances = sorted({i for s, i, _ in by if s == set_name})
        row = {"set": set_name, "instances": len(instances)}
        for solver in solvers:
            mine = [by.get((set_name, i, solver)) for i in instances]
            times = [r["time_s"] for r in mine if r is not None]
            row[f"{solver} proven"] = sum(r is not None and r["status"] == "optimal" for r in mine)
            row[f"{solver} median [s]"] = float(np.median(times)) if times else float("nan")
            if solver != reference:
                ratios = [by[(set_name, i, solver)]["time_s"] / by[(set_name, i, reference)]["time_s"]
                          for i in instances if (set_name, i, solver) in by and (set_name, i, reference) in by]
                if ratios:
                    q25, q50, q75 = np.percentile(ratios, [25, 50, 75])
                    row[f"{solver} / {reference}"] = f"{q50:.2f} ({q25:.2f}-{q75:.2f})"
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmark.anchor_report", description=__doc__.split("\n")[0])
    parser.add_argument("results", help="results directory with records.jsonl")
    parser.add_argument("--solvers", default="fw-bnb,gurobi,mip", help="comma-separated; the first is the reference")
    parser.add_argument("--commit", help="git commit (prefix) of the records to use (default: the newest run's)")
    args = parser.parse_args(argv)
    solvers = args.solvers.split(",")
    records = [r for r in read_records(Path(args.results)) if r.get("solver") in solvers]
    if not records:
        raise SystemExit(f"anchor_report: no records of {args.solvers} in {args.results}")
    commit = args.commit or max(records, key=lambda r: r.get("date", ""))["git_commit"]
    records = [r for r in records if str(r.get("git_commit", "")).startswith(commit)]
    warmed = sum(bool(r.get("warm_up")) for r in records)  # bench run --warm-up (benchmark.runner)
    print(f"records of commit {commit}: {len(records)}; timed in a warmed-up process (--warm-up): {warmed}")
    print(tabulate(ratio_table(records, solvers, solvers[0]), headers="keys", tablefmt="github", floatfmt=".3g"))


if __name__ == "__main__":
    main()
