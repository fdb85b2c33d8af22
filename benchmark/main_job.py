"""The main job (``make bench``): the offline default benchmark and its leaderboards.

Equivalent to
    bench run --instances smollm2-135m-l3 --sparsity 0.5 --pattern per-row,2:4 --time-limit 60 \
              --solvers magnitude,wanda,ria,sparsegpt,sparseswaps,fw --results results/local
    bench run --instances smollm2-135m-l3-n32 --sparsity 0.5 --pattern per-row,2:4 --time-limit 60 \
              --solvers magnitude,wanda,ria,sparsegpt,sparseswaps,fw,mip,fw-bnb --results results/local
    bench leaderboard --results results/local
Full modules get every heuristic and SparseFW (with its certified bound; fw-polish is left to
results/fw-bench to keep this job under 15 minutes); the exact methods run on
the n = 32 slices of the same modules, where they prove optimality in about a second each.
Results go to ``results/local`` (git-ignored): a fresh clone measures this machine and this code, never the
committed reference run in ``results/main``. Re-running resumes jobs finished by the same code (same git
commit); the first run extracts layer 3 of SmolLM2-135M.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .harness import run_benchmark
from .leaderboard import build_leaderboards

FULL_SET, SLICE_SET = "smollm2-135m-l3", "smollm2-135m-l3-n32"
HEURISTICS = ["magnitude", "wanda", "ria", "sparsegpt", "sparseswaps", "fw"]
TIME_LIMIT_S = 60.0
LOCAL_RESULTS = "results/local"  # this machine's run of this code: never the committed records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=LOCAL_RESULTS,
                        help=f"results folder (default {LOCAL_RESULTS}, git-ignored; results/main holds the committed "
                             "reference run, regenerated on purpose with --results results/main --rerun)")
    parser.add_argument("--rerun", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    common = dict(sparsities=[0.5], patterns=["per-row", "2:4"], time_limit=TIME_LIMIT_S,
                  results=Path(args.results), rerun=args.rerun)
    run_benchmark([FULL_SET], solvers=HEURISTICS, **common)
    run_benchmark([SLICE_SET], solvers=HEURISTICS + ["mip", "fw-bnb"], **common)
    paths = build_leaderboards(Path(args.results), [FULL_SET, SLICE_SET])
    print(f"main job finished in {time.perf_counter() - started:.0f} s")
    for path in paths:
        print(f"leaderboard tables: {path.resolve()} and {path.with_suffix('.html').resolve()}")


if __name__ == "__main__":
    main()
