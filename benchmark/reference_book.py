"""``bench reference``: inspect, check and repair a set's reference values (``instances.reference``).

- list (default): every entry of the set (shipped and cached merged) with each value's provenance;
- ``--check``: conflicts between stored values (a feasible value below a stored optimum or bound, a
  bound above a feasible value, two optima that disagree), entries without provenance, and, with
  ``--results DIR``, every record there against the stored values; exit 1 when a conflict is found;
- ``--drop INSTANCE[/SETTING[/OBJECTIVE]] [--kind opt|best|bound]``: remove entries from the set's cached
  file (the shipped file is read-only and is never changed).
"""
from __future__ import annotations

import math
from pathlib import Path

from tabulate import tabulate

from instances.reference import References, read_references, write_references
from instances.sets import reference_paths

from .records import read_records
from .runner import record_conflicts


def _fmt(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.12g}"


def entry_rows(refs: References) -> list[dict]:
    rows = []
    for (inst, setting, obj), e in sorted(refs.entries.items()):
        rows.append({"instance": inst, "setting": setting, "objective": obj, "opt": _fmt(e.opt), "best": _fmt(e.best),
                     "bound": _fmt(e.bound),
                     "provenance": "; ".join(f"{k}: {e.origin(k)}" for k in ("opt", "best", "bound")
                                             if (e.opt if k == "opt" else getattr(e, k)) not in (None, math.inf, -math.inf))})
    return rows


def check(set_name: str, results: Path | None) -> list[str]:
    """Problems found in the set's stored values (and against the records in ``results``)."""
    shipped_path, cached_path = reference_paths(set_name)
    refs = References().merge(read_references(shipped_path)).merge(read_references(cached_path))
    problems = [f"conflict: {c}" for c in refs.conflicts]
    for key, entry in sorted(refs.entries.items()):
        for kind in ("opt", "best", "bound"):
            value = entry.opt if kind == "opt" else getattr(entry, kind)
            if value is not None and math.isfinite(value) and entry.origin(kind) in ("unrecorded", "source=unrecorded-opt"):
                problems.append(f"no provenance: {' '.join(key)} {kind} {value:.12g}")
    if results is not None:
        for record in read_records(results):
            if record.get("instance_set") != set_name:
                continue
            entry = refs.get(record["instance"], record["setting"], record["objective_kind"])
            if entry is None or not math.isfinite(record.get("objective", math.nan)) or record.get("status") == "error":
                continue
            where = {"record": record["job_key"], "method": record["solver"], "commit": record.get("git_commit", "")}
            # the record's own verification (cross-check passed), not flags that compare it with the stored values
            verified = record.get("cross_check") == "passed"
            problems += [f"conflict with {results}: {c}" for c in record_conflicts(
                record, entry, where, primal_usable=True, bound_usable=verified,
                proven=record.get("status") == "optimal" and verified)]
    return problems


def drop(set_name: str, target: str, kind: str | None) -> str:
    parts = target.split("/")
    if not 1 <= len(parts) <= 3 or not parts[0]:
        raise ValueError(f"--drop takes INSTANCE[/SETTING[/OBJECTIVE]]; got {target!r}")
    instance, setting, objective = (parts + [None, None])[:3]
    shipped_path, cached_path = reference_paths(set_name)
    cached = read_references(cached_path)
    removed = cached.drop(instance, setting, objective, kind)
    if removed:
        write_references(cached_path, cached)
        return f"dropped {removed} value(s) of {target} from {cached_path}"
    if any(k[0] == instance for k in read_references(shipped_path).entries):
        return f"nothing of {target} in {cached_path}; it is in the shipped, read-only {shipped_path}"
    return f"nothing of {target} in {cached_path}"


def run(args) -> int:
    if args.drop is not None:
        print(drop(args.instances, args.drop, args.kind))
        return 0
    if args.check:
        problems = check(args.instances, Path(args.results) if args.results else None)
        for line in problems:
            print(line)
        print(f"{len(problems)} problem(s) in the reference values of {args.instances}")
        return 1 if any(p.startswith("conflict") for p in problems) else 0
    shipped_path, cached_path = reference_paths(args.instances)
    refs = References().merge(read_references(shipped_path)).merge(read_references(cached_path))
    print(f"{args.instances}: shipped {shipped_path} (read-only), cached {cached_path}")
    print(tabulate(entry_rows(refs), headers="keys", tablefmt="github") if refs.entries else "no reference values")
    return 0
