"""Benchmark: is every time limit kept? Methods x modules x limits through ``bench run``.

Every method must return within max(1.25 x limit, limit + 3 s) of its limit (``allowance``), measured
as the whole ``solve_layer`` call (``wall_s``: the cross-check of exact answers included, model loading
not), with a feasible mask and a valid bound. Records go to ``--results`` (one ``bench run`` per limit,
``--rerun`` so every figure is this machine's and this code's); the table goes to ``time-limits.md``
there and to the console.

    python -m benchmark.time_limits --instances smollm2-135m-l3 --limits 5,20 --results results/time-limits
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from tabulate import tabulate

from .harness import run_benchmark
from .records import read_records

METHODS = ("magnitude,wanda,ria,sparsegpt,sparseswaps,fw,fw-polish,fw-bm,fw-sdp,fw-bnb,mip,exact")


def allowance(limit: float) -> float:
    """Seconds a method may take for ``limit``: max(1.25 x limit, limit + 3 s)."""
    return max(1.25 * limit, limit + 3.0)


def table(records: list[dict]) -> str:
    """Per method and limit: modules, the largest wall time and its ratio to the allowance, overruns,
    answers without a finite bound or with flags."""
    rows = {}
    for r in records:
        limit = r["time_limit"]
        wall = r.get("wall_s", r["time_s"])
        row = rows.setdefault((r["solver"], limit), {"method": r["solver"], "limit [s]": limit, "modules": 0,
                                                      "max wall [s]": 0.0, "slowest module": "", "overruns": 0,
                                                      "flagged": 0, "no bound": 0})
        row["modules"] += 1
        if not math.isfinite(wall) or wall > row["max wall [s]"]:
            row["max wall [s]"], row["slowest module"] = wall, r["instance"]
        row["overruns"] += not (wall <= allowance(limit)) or r.get("flags") == "overrun"
        row["flagged"] += bool(r.get("flags"))
        row["no bound"] += not math.isfinite(r.get("lower_bound", -math.inf)) and r["status"] != "heuristic"
    for row in rows.values():
        row["max / allowance"] = row["max wall [s]"] / allowance(row["limit [s]"])
    return tabulate(sorted(rows.values(), key=lambda x: (x["method"], x["limit [s]"])), headers="keys", floatfmt=".3g",
                    tablefmt="github")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default="smollm2-135m-l3")
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--limits", default="5,20")
    parser.add_argument("--pattern", default="per-row")
    parser.add_argument("--sparsity", type=float, default=0.5)
    parser.add_argument("--results", default="results/time-limits")
    args = parser.parse_args(argv)
    results = Path(args.results)
    limits = [float(x) for x in args.limits.split(",")]
    for limit in limits:
        run_benchmark(args.instances.split(","), solvers=args.methods.split(","), sparsities=[args.sparsity],
                      patterns=[args.pattern], time_limit=limit, results=results, rerun=True)
    records = [r for r in read_records(results) if r["time_limit"] in limits and r["solver"] in args.methods.split(",")]
    latest = {}
    for r in records:  # the newest record per job (earlier runs stay in the file)
        latest[r["job_key"]] = r
    text = table(list(latest.values()))
    (results / "time-limits.md").write_text(f"# Time limits kept? (allowance max(1.25 x limit, limit + 3 s))\n\n{text}\n")
    print(text)


if __name__ == "__main__":
    main()
