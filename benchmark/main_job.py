"""The main job (``make bench``): the offline default benchmark and its leaderboard.

Equivalent to
    bench run --instances smollm2-135m-l3 --sparsity 0.5,0.6 --pattern per-row,2:4 --time-limit 120 \
              --results results/main
    bench leaderboard --results results/main
with every default solver. Re-running resumes (finished jobs are skipped); the first run extracts
layer 3 of SmolLM2-135M into the instance cache.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .harness import run_benchmark
from .leaderboard import build_leaderboards

INSTANCE_SET = "smollm2-135m-l3"
TIME_LIMIT_S = 120.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results/main")
    parser.add_argument("--rerun", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    run_benchmark([INSTANCE_SET], sparsities=[0.5, 0.6], patterns=["per-row", "2:4"], time_limit=TIME_LIMIT_S,
                  results=Path(args.results), rerun=args.rerun)
    paths = build_leaderboards(Path(args.results), [INSTANCE_SET])
    print(f"main job finished in {time.perf_counter() - started:.0f} s")
    for path in paths:
        print(f"leaderboard tables: {path.resolve()} and {path.with_suffix('.html').resolve()}")


if __name__ == "__main__":
    main()
