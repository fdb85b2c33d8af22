"""Compute the stored brute-force optima of the ``tiny`` set into ``instances/data/tiny.solu``.

Usage: ``python -m instances.make_reference``. Settings per instance: per-row at 50% and 75%, 2:4,
and per-layer at 50% where the whole matrix has at most 16 weights; both objectives.
"""
from __future__ import annotations

from solvers import solve_layer

from .reference import References, setting_key, write_references
from .sets import DATA_DIR, load_set

TINY_SETTINGS = [("per-row", 0.5), ("per-row", 0.75), ("2:4", None), ("per-layer", 0.5)]
PER_LAYER_MAX_WEIGHTS = 16


def tiny_cases():
    """(problem, pattern, sparsity) triples with stored optima."""
    for problem in load_set("tiny"):
        for pattern, sparsity in TINY_SETTINGS:
            if pattern == "per-layer" and problem.W.size > PER_LAYER_MAX_WEIGHTS:
                continue
            yield problem, pattern, sparsity


def main() -> None:
    import datetime
    import subprocess

    date = datetime.date.today().isoformat()
    commit = subprocess.run(["git", "-C", str(DATA_DIR), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    provenance = {"method": "brute-force", "commit": commit, "date": date, "proof": "enumeration"}
    refs = References()
    for problem, pattern, sparsity in tiny_cases():
        for objective in ("mask", "reconstruct"):
            r = solve_layer(problem.W, problem.H, sparsity, pattern, "brute-force", objective=objective)
            refs.update(problem.name, setting_key(pattern, sparsity), objective, primal=r.objective,
                        bound=r.objective, proven=True, provenance=provenance)
    write_references(DATA_DIR / "tiny.solu", refs)
    print(f"wrote {len(refs.entries)} optima to {DATA_DIR / 'tiny.solu'}")


if __name__ == "__main__":
    main()
