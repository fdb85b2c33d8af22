"""Runs jobs locally, in a process pool (``--jobs N``) or on a Dask cluster (``--scheduler``).

Workers solve and check each answer (``run_job``); the main process alone checks against the
reference values, updates them, and appends records, so there is exactly one writer.
"""
from __future__ import annotations

import functools
import math
import time
import traceback

from tqdm.auto import tqdm

from instances import load_set
from instances.reference import References, write_references
from instances.sets import reference_paths
from solvers import solve_layer
from solvers.objective import DEFAULT_DAMPING
from solvers.patterns import make_pattern

from .checks import check_against_reference, check_answer, trusted
from .records import provenance, utc_now

INFO_SCALARS = ("iterations", "nodes", "swaps", "local_optimum", "lp_iterations", "formulation", "scip_status",
                "sdp_rows", "sdp_iterations", "cheap_bound", "sdp_bounds", "sdp_pruned", "sdp_fixed")


@functools.lru_cache(maxsize=4)
def problems_of(set_name: str) -> dict:
    """Problems of a set by name, loaded once per process."""
    return {p.name: p for p in load_set(set_name, progress=False)}


def run_job(job: dict) -> dict:
    """Solve one job and return its flat record (never raises for solver failures)."""
    problem = problems_of(job["instance_set"])[job["instance"]]
    record = dict(job, d_out=problem.W.shape[0], d_in=problem.W.shape[1], date=utc_now(), **provenance())
    record["solver_options"] = str(job["solver_options"]) if job["solver_options"] else ""
    started = time.perf_counter()
    try:
        result = solve_layer(problem.W, problem.H, job["sparsity"], job["pattern"], job["solver"],
                             objective=job["objective_kind"], time_limit=job["time_limit"], seed=job["seed"],
                             **job["solver_options"])
    except Exception as err:  # a crashing solver is a result to record, not a crash of the harness
        record.update(status="error", objective=math.nan, relative_error=math.nan, lower_bound=-math.inf,
                      gap=math.inf, time_s=time.perf_counter() - started, flags="solver_error",
                      error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc(limit=3))
        return record
    pattern = make_pattern(job["pattern"], problem.W.shape, job["sparsity"])
    flags = check_answer(problem, pattern, job["objective_kind"], DEFAULT_DAMPING, result)
    record.update(status=result.status, objective=result.objective, relative_error=result.relative_error,
                  lower_bound=result.lower_bound, gap=result.gap, time_s=result.time_s, flags=",".join(flags),
                  error=result.info.get("error", ""))
    report = result.info.get("cross_check")
    if report:  # solve_layer's cross-check of an optimality claim or an exact method's bound
        record["cross_check"] = "passed" if report["passed"] else report["reason"]
    for key in INFO_SCALARS:
        if key in result.info:
            record[f"info_{key}"] = result.info[key]
    return record


class ReferenceBook:
    """Best known primal/dual values per set, read at start and written back after each record."""

    def __init__(self, set_names):
        from instances.reference import read_references

        self.shipped, self.cached = {}, {}
        for name in set_names:
            shipped_path, cached_path = reference_paths(name)
            self.shipped[name] = read_references(shipped_path)
            self.cached[name] = read_references(cached_path)

    def best(self, set_name: str, instance: str, setting: str, objective: str):
        merged = References().merge(self.shipped[set_name]).merge(self.cached[set_name])
        return merged.get(instance, setting, objective)

    def finish(self, record: dict) -> dict:
        """Check ``record`` against known values, then learn from it; returns the record."""
        key = (record["instance_set"], record["instance"], record["setting"], record["objective_kind"])
        entry = self.best(*key)
        flags = [f for f in record["flags"].split(",") if f]
        if entry is not None:
            flags += check_against_reference(record, entry.best_primal)
        record["flags"] = ",".join(flags)
        if trusted(record) and math.isfinite(record["objective"]):
            proven = record["status"] == "optimal"
            self.cached[key[0]].update(*key[1:], primal=record["objective"],
                                       bound=record["lower_bound"] if math.isfinite(record["lower_bound"]) else -math.inf,
                                       proven=proven)
            write_references(reference_paths(key[0])[1], self.cached[key[0]])
        entry = self.best(*key)
        bound = entry.best_bound if entry else -math.inf
        objective = record["objective"]
        record["best_known_bound"] = bound
        record["gap_to_best_bound"] = (max(0.0, (objective - bound) / objective) if math.isfinite(bound)
                                       and math.isfinite(objective) and objective > 0 else math.inf)
        return record


def execute(jobs: list[dict], writer, book: ReferenceBook, *, n_jobs: int = 1, scheduler: str | None = None,
            progress: bool = True, on_record=None) -> list[dict]:
    """Run ``jobs`` and write each finished record at once; returns the records in finishing order."""
    finished = []

    def done(record):
        record = book.finish(record)
        writer.write(record)
        finished.append(record)
        if on_record:
            on_record(record)

    bar = tqdm(total=len(jobs), desc="jobs", unit="job", disable=not progress)
    try:
        if scheduler:
            _run_dask(jobs, scheduler, done, bar)
        elif n_jobs > 1:
            _run_pool(jobs, n_jobs, done, bar)
        else:
            for job in jobs:
                done(run_job(job))
                bar.update()
    finally:
        bar.close()
    return finished


def _run_pool(jobs, n_jobs, done, bar):
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        futures = [pool.submit(run_job, job) for job in jobs]
        try:
            for future in as_completed(futures):
                done(future.result())
                bar.update()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _run_dask(jobs, scheduler, done, bar):
    from dask.distributed import Client, as_completed

    with Client(scheduler) as client:
        futures = client.map(run_job, jobs, pure=False)
        for future in as_completed(futures):
            done(future.result())
            bar.update()
