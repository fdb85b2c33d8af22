"""How far from optimal are the masks at full size? ``certify``'s certified gaps per module, beside SparseSwaps and,
where given, the best bound of earlier runs (issue #23).

Per setting and module: SparseSwaps' error, certify's error (its mask) and certified bound, the certified gap
(error - bound) / error, which bound won on how many rows (FW saddle "cheap", diagonal Shor, DNN by ADMM, DNN on wide
rows: "ascent" and "mult" (ADMM's multipliers certified by a Shor solve)), the rows each
relaxation reached, and the best bound another results directory holds for the same instance (``--compare``, e.g. the
fw-sdp runs in results/fw-bench). The layer row sums all modules of the setting.

    python -m benchmark.certify_report results/certify-bench --compare results/fw-bench

Records of presets (``certify[workers=1]``) count as certify's; several results directories (comma-separated) make
one table, e.g. one module's 1 h run per directory.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from tabulate import tabulate

from .records import read_records


def _is(solver: str, name) -> bool:
    """Whether a record's solver ``name`` is ``solver`` itself or a preset of it ("certify[workers=1]")."""
    return isinstance(name, str) and (name == solver or name.startswith(solver + "["))


def _latest(records: list[dict], solver: str) -> dict:
    """{(setting, instance): the newest record of ``solver`` (or of a preset of it)}."""
    out = {}
    for r in sorted((r for r in records if _is(solver, r.get("solver"))), key=lambda r: r.get("date", "")):
        out[(r["setting"], r["instance"])] = r
    return out


def _best_bounds(records: list[dict]) -> dict:
    """{(setting, instance): (largest lower bound, its solver)} over records of the mask objective."""
    best = {}
    for r in records:
        bound = r.get("lower_bound")
        if r.get("objective_kind") == "mask" and isinstance(bound, (int, float)) and bound == bound:
            key = (r["setting"], r["instance"])
            if key not in best or bound > best[key][0]:
                best[key] = (float(bound), r["solver"])
    return best


def certify_table(records: list[dict], compare: list[dict] | None = None) -> dict[str, list[dict]]:
    """{setting: rows} (module docstring); the last row of each setting sums its modules."""
    certify, swaps, earlier = _latest(records, "certify"), _latest(records, "sparseswaps"), _best_bounds(compare or [])
    tables = {}
    for (setting, instance), r in sorted(certify.items()):
        s = swaps.get((setting, instance))
        wins = r.get("info_bound_wins") or {}
        reached = r.get("info_rows_reached") or {}
        row = {"module": instance.removeprefix("layer3."), "rows": r["d_out"], "n": r["d_in"],
               "sparseswaps": s["objective"] if s else float("nan"), "certify": r["objective"],
               "bound": r["lower_bound"], "gap [%]": 100 * r["gap"],
               "wins cheap/shor/dnn/ascent/mult": "/".join(str(wins.get(k, 0)) for k in (
                   "cheap", "shor", "dnn", "dnn-ascent", "dnn-multipliers"))
               + (f" ({wins['none']} none)" if wins.get("none") else ""),
               "shor rows": reached.get("shor", ""),
               "dnn rows": sum(reached.get(k, 0) for k in ("dnn", "dnn-ascent", "dnn-multipliers")),
               "time [s]": r["time_s"]}
        if compare is not None:
            bound, solver = earlier.get((setting, instance), (float("nan"), ""))
            row["earlier bound"], row["from"] = bound, solver
            row["earlier gap [%]"] = 100 * (1 - bound / r["objective"]) if r["objective"] > 0 else float("nan")
        tables.setdefault(setting, []).append(row)
    for rows in tables.values():
        total = {"module": "**layer**", "rows": sum(r["rows"] for r in rows), "n": "",
                 **{k: sum(r[k] for r in rows) for k in ("sparseswaps", "certify", "bound")}}
        total["gap [%]"] = 100 * (1 - total["bound"] / total["certify"]) if total["certify"] > 0 else 0.0
        if compare is not None:
            total["earlier bound"] = sum(r["earlier bound"] for r in rows)
            total["earlier gap [%]"] = 100 * (1 - total["earlier bound"] / total["certify"])
        rows.append(total)
    return tables


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmark.certify_report", description=__doc__.split("\n")[0])
    parser.add_argument("results", help="results directories (comma-separated) with certify (and sparseswaps) records")
    parser.add_argument("--compare", help="comma-separated results directories whose best bounds to show beside")
    args = parser.parse_args(argv)
    records = [r for d in args.results.split(",") for r in read_records(Path(d))]
    if not any(_is("certify", r.get("solver")) for r in records):
        raise SystemExit(f"certify_report: no certify records in {args.results}")
    compare = None if not args.compare else [r for d in args.compare.split(",") for r in read_records(Path(d))]
    for setting, rows in certify_table(records, compare).items():
        print(f"\n### {setting}\n")
        print(tabulate(rows, headers="keys", tablefmt="github", floatfmt=".4g"))


if __name__ == "__main__":
    main()
