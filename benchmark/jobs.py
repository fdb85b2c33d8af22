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


def split_solvers(text: str) -> list[str]:
    """Comma-separated solver entries; commas inside [...] belong to an entry's options."""
    entries, depth, current = [], 0, ""
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth < 0 or depth > 1:
            raise ValueError(f"unbalanced brackets in solvers {text!r}")
        if char == "," and depth == 0:
            entries.append(current)
            current = ""
        else:
            current += char
    if depth:
        raise ValueError(f"unbalanced brackets in solvers {text!r}")
    return [e.strip() for e in entries + [current] if e.strip()]


def _value(text: str):
    """An option value from the command line: int, float, true/false, none, else the string itself."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_solver(entry: str) -> tuple[str, str, dict]:
    """(label, method, options) of ``method`` or ``method[name=value,...]`` (benchopt's syntax). The label is
    the method with its options in sorted order, so the same request always has the same label and job key."""
    method, bracket, rest = entry.partition("[")
    method = method.strip()
    if not bracket:
        return method, method, {}
    if not rest.endswith("]"):
        raise ValueError(f"solver {entry!r}: options go in one trailing [name=value,...]")
    options = {}
    for item in filter(None, (x.strip() for x in rest[:-1].split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"solver {entry!r}: option {item!r} is not name=value")
        options[name.strip()] = _value(value.strip())
    if not options:
        return method, method, {}
    label = f"{method}[{','.join(f'{k}={v}' for k, v in sorted(options.items()))}]"
    return label, method, options


def job_key(job: dict) -> str:
    fields = {k: job[k] for k in ("instance_set", "instance", "solver", "solver_options", "pattern", "sparsity",
                                  "objective_kind", "time_limit", "seed")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:20]


def make_jobs(instance_sets: dict[str, list[str]], solvers: list[str], settings, objective: str,
              time_limit: float | None, seed: int = 0, solver_options: dict | None = None,
              warm_up: bool = False) -> list[dict]:
    """Every (set, problem, setting, solver) job; ``instance_sets`` maps set name -> problem names; ``warm_up``: each
    job's process solves a small problem first (``runner.warm_up``; not part of the job's key)."""
    jobs = []
    for set_name, problem_names in instance_sets.items():
        for problem in problem_names:
            for pattern, sparsity in settings:
                for solver in solvers:
                    job = {"instance_set": set_name, "instance": problem, "solver": solver,
                           "method": solver.partition("[")[0],
                           "solver_options": (solver_options or {}).get(solver, {}), "pattern": pattern,
                           "sparsity": sparsity, "setting": setting_key(pattern, sparsity), "objective_kind": objective,
                           "time_limit": time_limit, "seed": seed, "warm_up": bool(warm_up)}
                    job["job_key"] = job_key(job)
                    jobs.append(job)
    return jobs
