"""Compute the stored brute-force optima of the ``tiny`` set into ``instances/data/tiny.solu``.

Usage: ``python -m benchmark.make_reference``. Settings per instance: per-row at 50% and 75%, 2:4,
and per-layer at 50% where the whole matrix has at most 16 weights; both objectives.
"""
from __future__ import annotations

from instances.reference import References, setting_key, write_references
from instances.sets import DATA_DIR, tiny_cases
from solvers import solve_layer


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
