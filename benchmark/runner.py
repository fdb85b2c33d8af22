"""Runs jobs locally (``--jobs N`` at a time) or on a Dask cluster (``--scheduler``).

Workers solve and check each answer (``run_job``); the main process alone checks against the
reference values, updates them, and appends records, so there is exactly one writer.

Watchdog: every job runs in a process of its own (forked from the runner, so loaded instance sets
are shared), and a job still running ``watchdog_seconds(time_limit)`` after it started (twice its
limit plus ``WATCHDOG_GRACE_S``) is killed and recorded as an error naming the overrun, so one
runaway solver never stalls ``bench run``. Jobs without a time limit are not stopped. On Dask each
task runs its job the same way inside the worker (``run_job_guarded``).

Before forking, the runner pays the solvers' one-time set-up (``prepare_solvers``: imports, the BLAS thread
controller), so each job's time is its solve, not its process's start. The runner's objects are frozen out of the
garbage collector for each fork (``gc.freeze``): otherwise a job whose solver allocates many Python objects
(gurobipy's model) pays for full collections over the runner's heap, touching (and copying) pages it never uses.
n = 48 slices, forked solves: Gurobi median 0.056-0.062 s without, 0.030-0.031 s with; fw-bnb 0.020 / 0.019 s.

Warm-up (``bench run --warm-up``, off by default; the record's ``warm_up`` field says which): a forked job's first
solve also pays for first touching the runner's memory (copy-on-write page faults: every page of objects, code and
heap the solver writes to, refcounts included), a cost a long-lived process solving many layers pays once. On the
n = 48 slices a forked fw-bnb solve made 1 329-1 455 page faults and a second solve in the same child 16-25 (median
7.5 ms first, 3.6 ms second; Gurobi 2 810 and 58, 25.5 ms and 17.0 ms). With ``warm_up`` each child first solves a
one-row synthetic problem of the job's width, pattern, method and options (``warm_up``; at most
``WARM_UP_LIMIT_S``; its answer is dropped), then times the job as before. Jobs wider than ``WARM_UP_MAX_N`` are
not warmed: they run for seconds, where a few milliseconds of page faults do not show.
"""
from __future__ import annotations

import functools
import gc
import math
import os
import pickle
import select
import signal
import sys
import time
import traceback

import numpy as np
from tqdm.auto import tqdm

from instances import load_set
from instances.reference import References, write_references
from instances.sets import reference_paths
from instances.slices import MODULE_STATISTICS
from instances.synthetic import synthetic_layer
from solvers import solve_layer
from solvers.core.objective import DEFAULT_DAMPING, output_energy
from solvers.core.patterns import make_pattern
from solvers.plugins import find_method
from solvers.registry import SPECS

from .checks import check_against_reference, check_answer, trusted
from .records import provenance, utc_now

INFO_SCALARS = ("iterations", "nodes", "swaps", "local_optimum", "lp_iterations", "formulation", "scip_status",
                "sdp_rows", "sdp_iterations", "cheap_bound", "sdp_bounds", "sdp_pruned", "sdp_fixed",
                "start_mask_error", "settled_rows", "passes", "workers", "dnn", "rows_bound_above_error",
                "bandit", "work", "enumerated", "dnn_solver", "dnn_rows", "rounded_rows",
                "ascent_first_reused")  # fw-bnb, lns: the bandit policy that ran; lns deterministic: its work
INFO_STRUCTURED = ("trace", "work_trace", "neighbourhoods", "bandit_weights",  # lns: improvement trace, yields per neighbourhood
                   "bound_wins", "rows_reached", "phase_seconds", "row_bound_source", "row_bounds",
                   "rounds", "ascent_rounds_by_steps")  # certify: per-row bounds


@functools.lru_cache(maxsize=4)
def problems_of(set_name: str) -> dict:
    """Problems of a set by name, loaded once per process."""
    return {p.name: p for p in load_set(set_name, progress=False)}


WARM_UP_LIMIT_S = 1.0  # time limit of a job's warm-up solve (module docstring)
WARM_UP_MAX_N = 256  # widest job that gets one
WATCHDOG_GRACE_S = 30.0  # beyond twice the time limit: loading, checks and a loaded machine


def watchdog_seconds(time_limit: float | None) -> float:
    """Seconds after which a job is killed: 2 x its limit + ``WATCHDOG_GRACE_S`` (inf without a limit)."""
    return math.inf if time_limit is None else 2.0 * float(time_limit) + WATCHDOG_GRACE_S


def _base_record(job: dict) -> dict:
    record = dict(job, date=utc_now(), **provenance())
    record["solver_options"] = str(job["solver_options"]) if job["solver_options"] else ""
    return record


def failed_record(job: dict, flag: str, error: str, elapsed: float) -> dict:
    """The record of a job that gave no answer (killed by the watchdog, or its process died)."""
    record = _base_record(job)
    record.update(status="error", objective=math.nan, relative_error=math.nan, lower_bound=-math.inf, gap=math.inf,
                  time_s=elapsed, flags=flag, error=error)
    return record


def module_statistics(problem, method: str) -> dict:
    """The full module's statistics a slice carries (``instances.slices.MODULE_STATISTICS``) that ``method``
    takes as options (RIA's row and column sums), so a baseline scores a slice as it scores the layer."""
    stats = problem.meta.get(MODULE_STATISTICS, {})
    declared = find_method(method).options if stats else {}
    return {name: np.asarray(values) for name, values in stats.items() if name in declared}


def warm_up(job: dict) -> None:
    """Solve a one-row synthetic problem of the job's width with the job's method, pattern, objective and options,
    at most ``WARM_UP_LIMIT_S`` (module docstring), and drop the answer; a failure is left to the job itself."""
    d_in = problems_of(job["instance_set"])[job["instance"]].W.shape[1]
    if d_in > WARM_UP_MAX_N:
        return
    W, H = synthetic_layer(1, d_in, seed=job["seed"])
    limit = min(job["time_limit"] or WARM_UP_LIMIT_S, WARM_UP_LIMIT_S)
    try:
        solve_layer(W, H, job["sparsity"], job["pattern"], job.get("method", job["solver"]),
                    objective=job["objective_kind"], time_limit=limit, seed=job["seed"], **job["solver_options"])
    except Exception:  # noqa: BLE001 - the job reports its own failure
        pass


def run_job(job: dict) -> dict:
    """Solve one job and return its flat record (never raises for solver failures)."""
    problem = problems_of(job["instance_set"])[job["instance"]]
    record = dict(_base_record(job), d_out=problem.W.shape[0], d_in=problem.W.shape[1])
    started = time.perf_counter()
    refit = job["objective_kind"] == "reconstruct"  # the re-fitted weights too (same solves), for their undamped error
    method = job.get("method", job["solver"])
    try:
        options = module_statistics(problem, method) | job["solver_options"]
        result = solve_layer(problem.W, problem.H, job["sparsity"], job["pattern"], method,
                             objective=job["objective_kind"], time_limit=job["time_limit"], seed=job["seed"],
                             return_weights=refit, **options)
    except Exception as err:  # a crashing solver is a result to record, not a crash of the harness
        record.update(status="error", objective=math.nan, relative_error=math.nan, lower_bound=-math.inf,
                      gap=math.inf, time_s=time.perf_counter() - started, flags="solver_error",
                      error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc(limit=3))
        return record
    record["wall_s"] = time.perf_counter() - started  # the whole solve_layer call, its cross-check included
    pattern = make_pattern(job["pattern"], problem.W.shape, job["sparsity"])
    flags = check_answer(problem, pattern, job["objective_kind"], DEFAULT_DAMPING, result)
    record.update(status=result.status, objective=result.objective, relative_error=result.relative_error,
                  lower_bound=result.lower_bound, gap=result.gap, time_s=result.time_s, flags=",".join(flags),
                  error=result.info.get("error", ""))
    if refit and result.weights is not None and result.status != "error":
        # objective = the damped surrogate the methods optimise; undamped_error = ||(W - W_refit) X||^2 of the same weights
        record["undamped_error"] = output_energy(problem.W - result.weights, problem.H)
    report = result.info.get("cross_check")
    if report:  # solve_layer's cross-check of an optimality claim or an exact method's bound
        record["cross_check"] = "passed" if report["passed"] else report["reason"]
    for key in INFO_SCALARS + INFO_STRUCTURED:
        if key in result.info:
            record[f"info_{key}"] = result.info[key]
    return record


# How each exact method proves an optimum (the ``proof`` field of a stored optimum's provenance).
PROOFS = {"brute-force": "enumeration", "mip": "scip-branch-and-bound", "fw-bnb": "fw-branch-and-bound"}


def reference_provenance(record: dict) -> dict:
    """Provenance of a value taken from ``record``: method, commit, date, and for optima how they were proven."""
    solver = record["solver"]
    family = next((p for p in PROOFS if solver == p or solver.startswith(p + "-")), "exact-method")
    info = {"method": solver, "commit": record.get("git_commit") or "unknown", "date": record.get("date") or "unknown",
            "proof": f"{PROOFS.get(family, family)}+cross-checked"}
    return {k: "".join(str(v).split()) for k, v in info.items()}


def proves_optimum(record: dict) -> bool:
    """A record whose "optimal" may become a stored optimum: a registered exact method, a claim that
    passed solve_layer's cross-check, and no flag."""
    return (record["status"] == "optimal" and record["solver"] in SPECS and SPECS[record["solver"]].exact
            and record.get("cross_check") == "passed" and trusted(record))


def record_conflicts(record: dict, entry, provenance: dict, *, primal_usable: bool, bound_usable: bool,
                     proven: bool) -> list:
    """The conflicts a record's values would meet in a stored reference entry: a trial update of a copy of it
    with the record's objective (a recomputed feasible value), its bound and its optimality claim."""
    import copy

    probe = References({("i", "s", "o"): copy.deepcopy(entry)})
    objective, bound = record.get("objective", math.nan), record.get("lower_bound")
    found = probe.update("i", "s", "o", primal=objective if primal_usable and math.isfinite(objective) else math.inf,
                         bound=bound if bound_usable and bound is not None and math.isfinite(bound) else -math.inf,
                         proven=proven and primal_usable, provenance=provenance)
    for conflict in found:
        conflict.key = (record["instance"], record["setting"], record["objective_kind"])
    return found


class ReferenceBook:
    """Best known primal/dual values per set, read at start and written back after each record (only the
    cached file; the shipped one is read-only). Conflicts with stored values are reported on the record."""

    def __init__(self, set_names):
        from instances.reference import read_references

        self.shipped, self.cached = {}, {}
        for name in set_names:
            shipped_path, cached_path = reference_paths(name)
            self.shipped[name] = read_references(shipped_path)
            self.cached[name] = read_references(cached_path)

    def merged(self, set_name: str) -> References:
        return References().merge(self.shipped[set_name]).merge(self.cached[set_name])

    def best(self, set_name: str, instance: str, setting: str, objective: str):
        return self.merged(set_name).get(instance, setting, objective)

    def finish(self, record: dict) -> dict:
        """Check ``record`` against known values; returns it with its flags, conflicts and gap to the best bound."""
        key = (record["instance_set"], record["instance"], record["setting"], record["objective_kind"])
        entry = self.best(*key)
        flags = [f for f in record["flags"].split(",") if f]
        if entry is not None:
            conflicts = self._conflicts(record, entry, list(flags))  # on the answer's own checks alone
            flags += check_against_reference(record, entry.best_primal)
            if conflicts:
                flags.append("reference_conflict")
                record["reference_conflict"] = "; ".join(map(str, conflicts))
        record["flags"] = ",".join(dict.fromkeys(flags))
        bound = max(entry.best_bound if entry else -math.inf,
                    record["lower_bound"] if trusted(record) and math.isfinite(record["lower_bound"]) else -math.inf)
        objective = record["objective"]
        record["best_known_bound"] = bound
        record["gap_to_best_bound"] = (max(0.0, (objective - bound) / objective) if math.isfinite(bound)
                                       and math.isfinite(objective) and objective > 0 else math.inf)
        return record

    @staticmethod
    def _conflicts(record: dict, entry, flags: list[str]) -> list:
        """What the record contradicts in the stored entry, judged on the answer's own checks (``flags``)."""
        usable = "infeasible" not in flags and record["status"] != "error"
        return record_conflicts(record, entry, reference_provenance(record), primal_usable=usable,
                                bound_usable=not flags, proven=proves_optimum(record))

    def learn(self, record: dict) -> None:
        """Update the set's cached reference file from a trusted record (after the record is written)."""
        if not math.isfinite(record["objective"]) or record["status"] == "error" or \
                "infeasible" in record["flags"]:
            return
        key = (record["instance_set"], record["instance"], record["setting"], record["objective_kind"])
        cached = self.cached[key[0]]
        where = reference_provenance(record)
        usable = trusted(record) and math.isfinite(record["lower_bound"])  # a feasible value is always usable
        cached.update(*key[1:], primal=record["objective"], bound=record["lower_bound"] if usable else -math.inf,
                      proven=proves_optimum(record), provenance=where)
        write_references(reference_paths(key[0])[1], cached)


def execute(jobs: list[dict], writer, book: ReferenceBook, *, n_jobs: int = 1, scheduler: str | None = None,
            progress: bool = True, on_record=None) -> list[dict]:
    """Run ``jobs`` and write each finished record at once; returns the records in finishing order."""
    finished = []

    warned = set()

    def done(record):
        record = book.finish(record)
        writer.write(record)  # the record first: a reference that cannot be written never costs a result
        finished.append(record)
        try:
            book.learn(record)
        except OSError as err:
            if record["instance_set"] not in warned:
                warned.add(record["instance_set"])
                tqdm.write(f"warning: reference values of {record['instance_set']} not updated ({err}); "
                           "the records are written", file=sys.stderr)
        if on_record:
            on_record(record)

    bar = tqdm(total=len(jobs), desc="jobs", unit="job", disable=not progress)
    try:
        if scheduler:
            _run_dask(jobs, scheduler, done, bar)
        else:
            _run_watched(jobs, n_jobs, done, bar)
    finally:
        bar.close()
    return finished


class _ForkedJob:
    """One job in a forked child process; its pickled record comes back through a pipe (os.fork, not
    multiprocessing: Dask's worker processes are daemonic and may not start multiprocessing children)."""

    def __init__(self, job: dict):
        self.job, self.started, self.chunks = job, time.monotonic(), []
        read_end, write_end = os.pipe()
        gc.freeze()  # the child's collections skip the runner's objects (module docstring)
        self.pid = os.fork()
        if self.pid != 0:
            gc.unfreeze()
        if self.pid == 0:  # the child: solve, send, leave without running the parent's exit handlers
            os.close(read_end)
            try:
                if job.get("warm_up"):
                    warm_up(job)
                data = pickle.dumps(run_job(job))
            except BaseException as err:  # noqa: BLE001 - anything is better than a silent death
                data = pickle.dumps(failed_record(job, "solver_error", f"{type(err).__name__}: {err}", 0.0))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
            os._exit(0)
        os.close(write_end)
        self.fd = read_end

    def fileno(self) -> int:
        return self.fd

    def read(self) -> dict | None:
        """Read what is there; the record once the child has closed the pipe, else None."""
        chunk = os.read(self.fd, 1 << 20)
        if chunk:
            self.chunks.append(chunk)
            return None
        os.close(self.fd)
        _, status = os.waitpid(self.pid, 0)
        try:
            return pickle.loads(b"".join(self.chunks))
        except (pickle.UnpicklingError, EOFError, ValueError):  # died without an answer (killed, out of memory)
            return failed_record(self.job, "solver_error", f"job process died (wait status {status})",
                                 time.monotonic() - self.started)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def prepare_solvers(methods) -> None:
    """Pay the solvers' one-time process set-up here, before the jobs fork, so that a job's ``time_s`` is its solve:
    import each method's optional package (``MethodSpec.requires``; ``import gurobipy`` took 23 ms, inside every
    Gurobi job's time until session 22) and make the BLAS thread controller (threadpoolctl's import and library scan,
    6-11 ms, inside every fw-bnb job's). A method that cannot be found or imported is left to its jobs' records."""
    import importlib

    from solvers.core.arrays import blas_controller

    blas_controller()
    for name in methods:
        try:
            spec = find_method(name)
            if spec.requires:
                importlib.import_module(spec.requires)
        except (ValueError, ImportError):
            continue


def _describe(job: dict) -> str:
    return f"{job['instance']} {job['solver']} {job['pattern']}{'' if job['sparsity'] is None else '@%g' % job['sparsity']}"


def _run_watched(jobs, n_jobs, done, bar):
    """Each job in a forked process, at most ``n_jobs`` at a time, under the watchdog (module docstring)."""
    for set_name in {job["instance_set"] for job in jobs}:
        problems_of(set_name)  # loaded once here, shared with every forked job
    prepare_solvers({job.get("method", job["solver"]) for job in jobs})
    pending, running = list(jobs), []
    try:
        while pending or running:
            while pending and len(running) < n_jobs:
                running.append(_ForkedJob(pending.pop(0)))
                bar.set_postfix_str(_describe(running[-1].job), refresh=True)
            ready, _, _ = select.select(running, [], [], 0.5)
            for forked in ready:
                record = forked.read()
                if record is not None:
                    running.remove(forked)
                    done(record)
                    bar.update()
            now = time.monotonic()
            for forked in list(running):
                limit = watchdog_seconds(forked.job["time_limit"])
                if now - forked.started > limit:
                    forked.kill()
                    running.remove(forked)
                    done(failed_record(forked.job, "overrun", f"watchdog: still running {now - forked.started:.0f} s "
                                       f"after it started, time limit {forked.job['time_limit']:g} s; killed",
                                       now - forked.started))
                    bar.update()
    finally:
        for forked in running:
            forked.kill()


def run_job_guarded(job: dict) -> dict:
    """``run_job`` in a forked process under the watchdog (for Dask workers)."""
    records = []
    _run_watched([job], 1, records.append, tqdm(disable=True))
    return records[0]


def _run_dask(jobs, scheduler, done, bar):
    from dask.distributed import Client, as_completed

    with Client(scheduler) as client:
        futures = client.map(run_job_guarded, jobs, pure=False)
        for future in as_completed(futures):
            done(future.result())
            bar.update()
