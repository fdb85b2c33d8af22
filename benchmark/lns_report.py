"""The lns benchmark's report (issue 24): full modules against SparseSwaps and fw-polish, bandit against
round-robin by their improvement traces, and the slices against proven optima.

    python -m benchmark.lns_report results/lns-bench [--fw-bench results/fw-bench] > results/lns-bench/lns-bench.md

Reads ``full/records.jsonl`` (bench run of sparseswaps, lns, lns-round-robin on smollm2-135m-l3) and
``slices/records.jsonl`` (lns from Wanda and fw-bnb on the n = 64 / 96 / 128 slices) and, where present,
``full-fw-start/records.jsonl`` (fw-polish and ``lns[warm_start=fw-polish]`` side by side) and
``bandit*/records.jsonl`` (lns-round-robin beside lns with each bandit policy, one worker each; a folder per
seed). fw-polish values and certified bounds (fw-sdp) come from an earlier run (``--fw-bench``); the report first
checks that run's SparseSwaps objectives equal this run's, so both saw the same instances. Later records of a job
replace earlier ones.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from tabulate import tabulate

from .jobs import parse_solver
from solvers.registry import SPECS

OPT_RTOL = 1e-9
SAME_RTOL = 1e-6  # SparseSwaps objectives of two runs this close: the same instances (re-extracted H differ by rounding)


def _latest(path: Path) -> dict:
    """(set, setting, instance, solver name without options) -> the last record."""
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            if r.get("status") != "error":
                out[(r["instance_set"], r["setting"], r["instance"], r["solver"].split("[")[0])] = r
    return out


def time_to_reach(trace: list, target: float) -> float | None:
    """First time in ``trace`` ([seconds, objective] pairs; or [work, objective]) at which the objective is <= target."""
    return next((t for t, value in trace if value <= target * (1 + OPT_RTOL)), None)


def full_tables(records: dict, earlier: dict, label: str = "") -> list[str]:
    """Per setting: lns against SparseSwaps (same run) and fw-polish and the certified bounds (``earlier``, the
    fw-bench run); ``label`` names the lns run in the titles."""
    lines = []
    settings = sorted({k[1] for k in records})
    for setting in settings:
        modules = sorted({k[2] for k in records if k[1] == setting and k[3] == "lns"})
        if not modules:
            continue
        rows, totals, same = [], {"sparseswaps": 0.0, "fw-polish": 0.0, "lns": 0.0, "lns-round-robin": 0.0}, []
        closed = []
        limit = None
        for module in modules:
            get = lambda solver, src=records: src.get(("smollm2-135m-l3", setting, module, solver))  # noqa: E731
            ss, lns, rr = get("sparseswaps"), get("lns"), get("lns-round-robin")
            polish, ss_before = get("fw-polish", earlier), get("sparseswaps", earlier)
            bound = get("fw-sdp", earlier) or get("fw-bm", earlier)
            limit = lns["time_limit"]
            if ss_before and ss:
                same.append(abs(ss_before["objective"] / ss["objective"] - 1))
            row = [module.replace("layer3.", ""), f"{ss['objective']:.6g}",
                   f"{polish['objective']:.6g}" if polish else "-",
                   f"{lns['objective']:.6g}", f"{100 * (1 - lns['objective'] / ss['objective']):.3f}",
                   f"{100 * (1 - lns['objective'] / polish['objective']):.3f}" if polish else "-"]
            if bound and bound["lower_bound"] > 0 and ss["objective"] > bound["lower_bound"]:
                share = (ss["objective"] - lns["objective"]) / (ss["objective"] - bound["lower_bound"])
                closed.append(share)
                row.append(f"{100 * share:.2f}")
            else:
                row.append("-")
            row.append(f"{rr['objective']:.6g}" if rr else "-")
            rows.append(row)
            for name, rec in (("sparseswaps", ss), ("fw-polish", polish), ("lns", lns), ("lns-round-robin", rr)):
                totals[name] += rec["objective"] if rec else float("nan")
        rows.append(["**sum**", f"{totals['sparseswaps']:.7g}", f"{totals['fw-polish']:.7g}", f"{totals['lns']:.7g}",
                     f"{100 * (1 - totals['lns'] / totals['sparseswaps']):.3f}",
                     f"{100 * (1 - totals['lns'] / totals['fw-polish']):.3f}",
                     f"median {100 * statistics.median(closed):.2f}" if closed else "-",
                     f"{totals['lns-round-robin']:.7g}"])
        lines += [f"### {setting}, lns{label} time limit {limit:g} s per module", "",
                  tabulate(rows, ["module", "sparseswaps", "fw-polish", "lns", "lns vs sparseswaps [% less]",
                                  "lns vs fw-polish [% less]", "gap closed [%]", "lns-round-robin"],
                           tablefmt="github", disable_numparse=True), ""]
        if same:
            verdict = ("the same instances, up to float rounding" if max(same) < SAME_RTOL
                       else "INSTANCES DIFFER: the fw-polish column is not comparable")
            lines += [f"SparseSwaps here vs the fw-bench run: largest relative difference {max(same):.1e} ({verdict}).",
                      ""]
    return lines


UNRECORDED_DEFAULT = "ucb"  # lns's default bandit when records did not yet carry info_bandit (thompson since)


def bandit_policy(solver: str, default: str | None = None) -> str | None:
    """The bandit policy of an lns solver label (``lns``, ``lns-round-robin[workers=1]``,
    ``lns[bandit=thompson]``), from its options over the variant's preset over ``default`` (None: the
    method's current default); None if not lns. A discount given in the label is part of the policy's name
    (``thompson-discounted[0.998]``), so runs with two discounts stay apart."""
    _, method, options = parse_solver(solver)
    spec = SPECS.get(method)
    if spec is None or "bandit" not in spec.options:
        return None
    policy = {"bandit": default or spec.options["bandit"].default, **spec.preset, **options}["bandit"]
    return _with_discount(policy, options)


def _with_discount(policy: str, options: dict) -> str:
    return f"{policy}[{options['discount']}]" if "discount" in options and policy == "thompson-discounted" else policy


def by_policy(path: Path) -> dict:
    """(set, setting, instance, bandit policy) -> the last lns record of ``path``. The policy is the record's
    ``info_bandit`` (what ran); records written before that field existed are read by their solver label, a
    plain ``lns`` as ``UNRECORDED_DEFAULT``, the default of that time."""
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            policy = bandit_policy(r["solver"], UNRECORDED_DEFAULT)
            if policy is not None and isinstance(r.get("info_bandit"), str):
                policy = _with_discount(r["info_bandit"], parse_solver(r["solver"])[2])
            if r.get("status") != "error" and policy is not None:
                out[(r["instance_set"], r["setting"], r["instance"], policy)] = r
    return out


def bandit_table(records: dict, title: str = "") -> list[str]:
    """Each bandit policy against round-robin on the same module: time to reach round-robin's final error
    (from the improvement traces) and the final errors. ``records`` as from :func:`by_policy`. Runs that all
    carry a work trace (``deterministic``, ended by ``work_limit``) are compared by work instead of seconds:
    a seed fixes those, whatever the machine's load."""
    by_work = bool(records) and all("info_work_trace" in r for r in records.values())
    trace_key, unit, clock = ("info_work_trace", "work", "work") if by_work else ("info_trace", "s", "time")
    policies = sorted({k[3] for k in records} - {"round-robin"})
    rows, ratios, missed, limit = [], {p: [] for p in policies}, {p: 0 for p in policies}, None
    for key in sorted({k[:3] for k in records}):
        rr = records.get(key + ("round-robin",))
        if not rr or trace_key not in rr:
            continue
        limit = parse_solver(rr["solver"])[2].get("work_limit", rr["info_work"]) if by_work else rr["time_limit"]
        target = rr["objective"]
        t_rr = time_to_reach(rr[trace_key], target)
        row = [key[2].replace("layer3.", ""), key[1], f"{t_rr:.1f}"]
        for policy in policies:
            other = records.get(key + (policy,))
            if not other or trace_key not in other:
                row += ["-", "-", "-"]
                continue
            t = time_to_reach(other[trace_key], target)
            ratio = t / t_rr if t is not None and t_rr else None
            if ratio is None:
                missed[policy] += 1
            else:
                ratios[policy].append(ratio)
            row += ["not reached" if t is None else f"{t:.1f}", "-" if ratio is None else f"{ratio:.2f}",
                    f"{100 * (1 - other['objective'] / target):.4f}"]
        rows.append(row)
    if not rows:
        return []
    header = ["module", "setting", f"round-robin reaches its final [{unit}]"]
    for policy in policies:
        header += [f"{policy} reaches it [{unit}]", f"{policy} / round-robin {clock}",
                   f"{policy} final [% below round-robin]"]
    budget = (f"equal work (lns's work model, {float(limit):g} nominal s per module), seeded" if by_work
              else f"same seeds, {limit:g} s per module")
    lines = [f"### Bandit policies against round-robin{title}, {budget}", "",
             tabulate(rows, header, tablefmt="github", disable_numparse=True), ""]
    for policy in policies:
        found = ratios[policy]
        paired = [k for k in records if k[3] == policy and k[:3] + ("round-robin",) in records]
        total, total_rr = (sum(records[k]["objective"] for k in paired),
                           sum(records[k[:3] + ("round-robin",)]["objective"] for k in paired))
        summed = (f" Summed final error {100 * (1 - total / total_rr):.3f} % below round-robin's."
                  if total_rr > 0 else "")
        if found:
            quartiles = statistics.quantiles(found, n=4, method="inclusive") if len(found) > 1 else None
            spread = f" (quartiles {quartiles[0]:.2f} - {quartiles[2]:.2f})" if quartiles else ""
            # a module where it never reached round-robin's final error counts as slower than any reached one
            every = statistics.median(sorted(found) + [math.inf] * missed[policy])
            lines.append(f"- {policy}: median {clock} ratio to round-robin {statistics.median(found):.2f}{spread} over "
                         f"the {len(found)} modules where it reached round-robin's final error (target <= 0.80); "
                         f"not reached on {missed[policy]}; over all {len(found) + missed[policy]} modules, a miss "
                         f"counted as slowest: {every:.2f}.{summed}")
        else:
            lines.append(f"- {policy}: reached round-robin's final error on no module.{summed}")
    return lines + [""]


def fw_start_table(records: dict, full: dict) -> list[str]:
    """lns from fw-polish's mask against fw-polish in the same run (and SparseSwaps from the main run)."""
    lines = []
    for setting in sorted({k[1] for k in records}):
        rows, totals, limit, below = [], [0.0, 0.0], None, 0
        for key in sorted(k for k in records if k[1] == setting and k[3] == "lns"):
            polish, lns = records.get(key[:3] + ("fw-polish",)), records[key]
            if polish is None:
                continue
            ss = full.get(key[:3] + ("sparseswaps",))
            limit = lns["time_limit"]
            totals[0] += polish["objective"]
            totals[1] += lns["objective"]
            below += lns["objective"] < polish["objective"]
            rows.append([key[2].replace("layer3.", ""), f"{ss['objective']:.6g}" if ss else "-",
                         f"{polish['objective']:.6g}", f"{polish['time_s']:.1f}", f"{lns['objective']:.6g}",
                         f"{100 * (1 - lns['objective'] / polish['objective']):.3f}",
                         f"{100 * (1 - lns['objective'] / ss['objective']):.3f}" if ss else "-"])
        if not rows:
            continue
        rows.append(["**sum**", "", f"{totals[0]:.7g}", "", f"{totals[1]:.7g}",
                     f"{100 * (1 - totals[1] / totals[0]):.3f}", ""])
        lines += [f"### {setting}: lns from fw-polish's mask, {limit:g} s per module (fw-polish's share included)", "",
                  tabulate(rows, ["module", "sparseswaps", "fw-polish (same run)", "fw-polish [s]",
                                  "lns[warm_start=fw-polish]", "vs fw-polish [% less]", "vs sparseswaps [% less]"],
                           tablefmt="github", disable_numparse=True), "",
                  f"Below fw-polish on {below} of {len(rows) - 1} modules.", ""]
    return lines


def slice_table(records: dict) -> list[str]:
    rows, hit_all, total_all = [], 0, 0
    for name in sorted({k[0] for k in records}, key=lambda s: int(s.rsplit("-n", 1)[1])):
        hits, total, times, unproven = 0, 0, [], 0
        for key, lns in records.items():
            if key[0] != name or key[3] != "lns":
                continue
            exact = records.get(key[:3] + ("fw-bnb",))
            if exact is None:
                continue
            total += 1
            unproven += exact["status"] != "optimal"
            best = min(exact["objective"], lns["objective"])
            t = time_to_reach(lns.get("info_trace", []), best) if lns["objective"] <= best * (1 + OPT_RTOL) else None
            if t is not None:
                hits += 1
                times.append(t)
        hit_all, total_all = hit_all + hits, total_all + total
        rows.append([name, total, unproven, hits, f"{100 * hits / max(total, 1):.0f}",
                     f"{statistics.median(times):.2f}" if times else "-", f"{max(times):.2f}" if times else "-"])
    if not rows:
        return []
    return ["### Slices: lns from Wanda against fw-bnb's optima", "",
            tabulate(rows, ["set", "rows", "fw-bnb not proven", "lns reaches the optimum", "%", "median time to it [s]",
                            "max [s]"], tablefmt="github", disable_numparse=True), "",
            f"All slices: {hit_all} of {total_all} rows ({100 * hit_all / max(total_all, 1):.1f} %).", ""]


def workers_each(records: dict) -> str:
    """The worker processes per lns run of ``records`` (``info_workers``), as a title says it."""
    counts = sorted({int(r["info_workers"]) for r in records.values() if "info_workers" in r})
    if not counts:
        return "workers not recorded"
    return f"{' / '.join(map(str, counts))} worker{'s' if counts != [1] else ''} each"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--fw-bench", type=Path, default=Path("results/fw-bench"))
    args = parser.parse_args(argv)
    full = _latest(args.results / "full" / "records.jsonl")
    earlier = _latest(args.fw_bench / "records.jsonl")
    slices = _latest(args.results / "slices" / "records.jsonl")
    fw_start = _latest(args.results / "full-fw-start" / "records.jsonl")
    main_run = by_policy(args.results / "full" / "records.jsonl")
    bandits = bandit_table(main_run, f" (main run, {workers_each(main_run)})")
    for folder in sorted(args.results.glob("bandit*")):  # bandit, bandit-seed1, ...: one table per run
        run = by_policy(folder / "records.jsonl")
        bandits += bandit_table(run, f" ({folder.name}, {workers_each(run)})")
    budgeted = _latest(args.results / "full-budgeted" / "records.jsonl")  # lns again, with today's default bandit
    refreshed = full_tables({k: r for k, r in full.items() if k[3] == "sparseswaps"} | budgeted, earlier,
                            " (thompson-budgeted, `full-budgeted`)") if budgeted else []
    print("\n".join(["## lns benchmark", ""] + full_tables(full, earlier) + refreshed + fw_start_table(fw_start, full)
                     + bandits + slice_table(slices)))


if __name__ == "__main__":
    main()
