"""``bench run``: validate the request, build jobs, skip finished ones, execute, summarise."""
from __future__ import annotations

import math
import sys
from pathlib import Path

from tabulate import tabulate
from tqdm.auto import tqdm

from instances import load_set
from solvers import METHODS
from solvers.core.patterns import check_pattern_name, make_pattern
from solvers.plugins import find_method, load_entry_points
from solvers.registry import DEFAULT_EXCLUDED  # asked for by name only: enumeration, 'exact', presets

from .jobs import make_jobs, parse_settings, parse_solver
from .records import RecordWriter, provenance, read_records
from .runner import ReferenceBook, execute


def default_solvers() -> list[str]:
    return [m for m in METHODS if m not in DEFAULT_EXCLUDED]


def validate_request(solvers: list[str], patterns: list[str], sparsities: list[float], objective: str,
                     time_limit: float | None, n_jobs: int) -> None:
    load_entry_points()  # installed plug-ins are known by name from here on
    unknown = [s for s in solvers if s not in METHODS and ":" not in s]
    if unknown:
        raise ValueError(f"unknown solver(s) {', '.join(unknown)}; known: {', '.join(sorted(METHODS))}, "
                         "or a plug-in 'pkg.module:function'")
    for solver in solvers:
        find_method(solver)  # a plug-in path that does not import, or a function of the wrong shape, stops here
    for pattern in patterns:
        check_pattern_name(pattern)
    bad = [s for s in sparsities if not (isinstance(s, float) and 0.0 < s < 1.0)]
    if bad:
        raise ValueError(f"sparsity must be a fraction in (0, 1); got {bad}")
    if objective not in ("mask", "reconstruct"):
        raise ValueError(f"unknown objective {objective!r}; known: mask, reconstruct")
    if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
        raise ValueError(f"--time-limit must be a positive number of seconds; got {time_limit}")
    if n_jobs < 1:
        raise ValueError(f"--jobs must be at least 1; got {n_jobs}")


def run_benchmark(instance_sets: list[str], *, solvers: list[str] | None = None, sparsities=(0.5,),
                  patterns=("per-row",), objective: str = "mask", time_limit: float | None = None,
                  n_jobs: int = 1, results: Path = Path("results"), rerun: bool = False,
                  scheduler: str | None = None, seed: int = 0, progress: bool = True,
                  retry_errors: bool = True, resume_any_commit: bool = False,
                  only: list[str] | None = None, warm_up: bool = False) -> list[dict]:
    """Run every job of the request; returns the records written by this call. ``only``: name substrings; the
    problems of each set whose names contain none of them are left out (a clear error when a set keeps none,
    before anything is written), e.g. ["o_proj"] for one module of a model set. On resume, a job counts as
    done when its newest record was made by this code (same git commit) and is not an error; records of
    other commits are run again unless ``resume_any_commit`` (said on the console either way), errors
    unless ``retry_errors`` is False. ``warm_up``: each job's process first solves a small problem of its width
    (``runner.warm_up``), so that its time is that of a warm process."""
    requests = [parse_solver(entry) for entry in (solvers or default_solvers())]
    solvers = [label for label, _, _ in requests]
    solver_options = {label: options for label, _, options in requests}
    sparsities = [float(s) for s in sparsities]
    validate_request([method for _, method, _ in requests], list(patterns), sparsities, objective, time_limit, n_jobs)
    for label, method, options in requests:
        find_method(method).check(options)  # a misspelt option or a bad value stops the request here
    settings = parse_settings(list(patterns), sparsities)
    problems = {name: load_set(name, progress=progress) for name in instance_sets}
    check_settings_fit(problems, settings)
    names = {name: _only(name, [p.name for p in loaded], only) for name, loaded in problems.items()}
    provenance()  # machine, versions and the commit of the code this run executes, fixed now (shared by the jobs)
    writer = RecordWriter(Path(results))  # opened only after the request is known to be valid
    try:
        jobs = make_jobs(names, solvers, settings, objective, time_limit, seed, solver_options, warm_up)
        newest = {r["job_key"]: r for r in read_records(Path(results))}
        todo = jobs if rerun else _left_to_do(jobs, newest, retry_errors, resume_any_commit)
        book = ReferenceBook(instance_sets)
        records = execute(todo, writer, book, n_jobs=n_jobs, scheduler=scheduler, progress=progress,
                          on_record=_report_flags)
    finally:
        writer.close()
    if records:
        print(summary_table(records))
    print(f"records: {writer.path}")
    return records


def _only(set_name: str, names: list[str], only: list[str] | None) -> list[str]:
    """The problem names that contain one of the substrings ``only`` (all of them for None)."""
    if only is None:
        return names
    if not only or not all(isinstance(part, str) and part for part in only):
        raise ValueError(f"--only takes non-empty comma-separated name parts; got {only!r}")
    kept = [name for name in names if any(part in name for part in only)]
    if not kept:
        raise ValueError(f"--only {','.join(only)} matches no problem of set {set_name!r}; its problems: "
                         f"{', '.join(names)}")
    return kept


def _left_to_do(jobs: list[dict], newest: dict, retry_errors: bool, resume_any_commit: bool) -> list[dict]:
    """The jobs without a usable record (see ``run_benchmark``), with one console line on what is resumed."""
    commit = provenance()["git_commit"]
    seen = [j for j in jobs if j["job_key"] in newest]
    errors = [j for j in seen if retry_errors and newest[j["job_key"]].get("status") == "error"]
    error_keys = {j["job_key"] for j in errors}
    other = [j for j in seen if newest[j["job_key"]].get("git_commit") != commit and j["job_key"] not in error_keys]
    again = error_keys | (set() if resume_any_commit else {j["job_key"] for j in other})
    todo = [j for j in jobs if j["job_key"] not in newest or j["job_key"] in again]
    if len(todo) < len(jobs) or errors or other:
        notes = [f"{len(errors)} that ended in an error run again (--keep-errors counts them as done)"] if errors else []
        if other:
            commits = sorted({str(newest[j["job_key"]].get("git_commit")) for j in other})
            notes.append(f"{len(other)} made by other code ({', '.join(commits[:3])}{', ...' if len(commits) > 3 else ''}; "
                         f"this is {commit}) " + ("counted as done (--resume-any-commit)" if resume_any_commit
                                                  else "run again (--resume-any-commit counts them as done)"))
        print(f"resuming: {len(jobs) - len(todo)} of {len(jobs)} jobs already have records (--rerun repeats them)"
              + "".join(f"; {n}" for n in notes))
    return todo


def check_settings_fit(problems: dict, settings) -> None:
    """Every (pattern, sparsity) must apply to every problem of every set: refused before any job runs."""
    for set_name, loaded in problems.items():
        for problem in loaded:
            for pattern, sparsity in settings:
                try:
                    make_pattern(pattern, problem.W.shape, sparsity)
                except ValueError as err:
                    raise ValueError(f"setting {pattern}{'' if sparsity is None else '@%g' % sparsity} does not apply "
                                     f"to {set_name}/{problem.name} ({problem.W.shape[0]} x {problem.W.shape[1]}): "
                                     f"{err}") from None


def _report_flags(record: dict) -> None:
    if record.get("reference_conflict"):
        tqdm.write(f"CONFLICT with the stored reference values of {record['instance_set']}: {record['reference_conflict']} "
                   f"(inspect: bench reference --instances {record['instance_set']}; repair: --drop)", file=sys.stderr)
    if record.get("flags"):
        tqdm.write(f"FLAGGED [{record['flags']}] {record['solver']} on {record['instance_set']}/{record['instance']} "
                   f"{record['setting']}: objective {record['objective']:.6g}, lower bound {record['lower_bound']:.6g}, "
                   f"status {record['status']} {record.get('error', '')}", file=sys.stderr)


def summary_table(records: list[dict]) -> str:
    rows = {}
    for r in records:
        key = (r["instance_set"], r["setting"], r["solver"])
        row = rows.setdefault(key, {"set": key[0], "setting": key[1], "solver": key[2], "jobs": 0, "flagged": 0,
                                    "sum rel. error": 0.0, "time [s]": 0.0})
        row["jobs"] += 1
        row["flagged"] += bool(r.get("flags"))
        row["sum rel. error"] += r["relative_error"] if math.isfinite(r["relative_error"]) else math.nan
        row["time [s]"] += r["time_s"]
    return tabulate(sorted(rows.values(), key=lambda x: (x["set"], x["setting"], x["solver"])), headers="keys",
                    floatfmt=".4g")
