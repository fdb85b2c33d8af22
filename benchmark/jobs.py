"""Jobs: one (instance set, problem, solver, setting, objective, time limit) to run.

A job is a plain dict (picklable for process pools and Dask). Its ``job_key`` hashes everything
that defines the answer, so a re-run skips finished jobs and ``--rerun`` repeats them.
"""
from __future__ import annotations

import hashlib
import json

from instances.reference import setting_key


def parse_settings(patterns: list[str], sparsities: list[float]) -> list[tuple[str, float | None]]:
    """Cartesian product of patterns and sparsities; N:M patterns ignore sparsity (listed once)."""
    settings = []
    for pattern in patterns:
        if ":" in pattern:
            settings.append((pattern, None))
        else:
            settings.extend((pattern, s) for s in sparsities)
    return settings


def job_key(job: dict) -> str:
    fields = {k: job[k] for k in ("instance_set", "instance", "solver", "solver_options", "pattern", "sparsity",
                                  "objective_kind", "time_limit", "seed")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:20]


def make_jobs(instance_sets: dict[str, list[str]], solvers: list[str], settings, objective: str,
              time_limit: float | None, seed: int = 0, solver_options: dict | None = None) -> list[dict]:
    """Every (set, problem, setting, solver) job; ``instance_sets`` maps set name -> problem names."""
    jobs = []
    for set_name, problem_names in instance_sets.items():
        for problem in problem_names:
            for pattern, sparsity in settings:
                for solver in solvers:
                    job = {"instance_set": set_name, "instance": problem, "solver": solver,
                           "solver_options": (solver_options or {}).get(solver, {}), "pattern": pattern,
                           "sparsity": sparsity, "setting": setting_key(pattern, sparsity), "objective_kind": objective,
                           "time_limit": time_limit, "seed": seed}
                    job["job_key"] = job_key(job)
                    jobs.append(job)
    return jobs
