"""The ``bench`` command: extract instance sets, run solvers, build leaderboards, prune models.

Every failure the user can fix (bad names, bad numbers, unreachable models, unwritable folders)
prints one ``bench: error: ...`` line and exits with status 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _cmd_sets(args) -> int:
    from instances import list_sets

    for name in list_sets():
        print(name)
    return 0


def _cmd_extract(args) -> int:
    from instances.sets import extract_set

    if args.cache_dir:
        os.environ["PRUNE_BENCH_CACHE"] = args.cache_dir
    layers = [int(x) for x in str(args.layers).split(",")]
    directory = extract_set(args.model, layers, name=args.name, nsamples=args.nsamples, seqlen=args.seqlen,
                            calibration=args.calibration, device=args.device, seed=args.seed)
    print(f"wrote {directory}")
    return 0


def _floats(text: str, flag: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x]
    except ValueError:
        raise ValueError(f"{flag} takes comma-separated numbers; got {text!r}") from None


def _cmd_run(args) -> int:
    from .harness import run_benchmark

    if args.cache_dir:
        os.environ["PRUNE_BENCH_CACHE"] = args.cache_dir
    records = run_benchmark(args.instances.split(","), solvers=args.solvers.split(",") if args.solvers else None,
                            sparsities=_floats(args.sparsity, "--sparsity"), patterns=args.pattern.split(","),
                            objective=args.objective, time_limit=args.time_limit, n_jobs=args.jobs,
                            results=Path(args.results), rerun=args.rerun, scheduler=args.scheduler,
                            seed=args.seed, progress=not args.quiet)
    return 1 if any(r.get("flags") for r in records) and args.strict else 0


def _cmd_leaderboard(args) -> int:
    from .leaderboard import build_leaderboards

    paths = build_leaderboards(Path(args.results), args.instances.split(",") if args.instances else None,
                               plots=not args.no_plots)
    for path in paths:
        print(f"leaderboard: {path} (and {path.with_suffix('.html')})")
    return 0


def _cmd_demo(args) -> int:
    from .demo import main as demo_main

    demo_main(args.rest)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description="Exact and near-exact mask selection benchmark")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sets", help="list registered instance sets")
    p.set_defaults(func=_cmd_sets)

    p = sub.add_parser("extract", help="extract W and H of decoder layers of a causal LM into the cache")
    p.add_argument("--model", required=True, help="alias (smollm2-135m, opt-125m), hub id or local path")
    p.add_argument("--layers", required=True, help="decoder layer index, or comma-separated indices")
    p.add_argument("--name", help="set name (default <model>-l<layers>)")
    p.add_argument("--nsamples", type=int, help="calibration sequences (default: per model)")
    p.add_argument("--seqlen", type=int, help="tokens per sequence (default: per model)")
    p.add_argument("--calibration", choices=["corpus", "c4", "wikitext2"], help="calibration text source")
    p.add_argument("--device", choices=["cuda", "cpu"], help="default: cuda when available")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", help="instance cache (default $PRUNE_BENCH_CACHE or the user cache dir)")
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("run", help="run solvers over instance sets, check every answer, append records")
    p.add_argument("--instances", required=True, help="instance set name(s), comma-separated")
    p.add_argument("--solvers", help="comma-separated methods (default: all registered except brute-force)")
    p.add_argument("--sparsity", default="0.5", help="comma-separated pruned fractions (default 0.5)")
    p.add_argument("--pattern", default="per-row", help="comma-separated: per-row, per-layer, N:M (default per-row)")
    p.add_argument("--objective", default="mask", choices=["mask", "reconstruct"])
    p.add_argument("--time-limit", type=float, help="seconds per job")
    p.add_argument("--jobs", type=int, default=1, help="local worker processes")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://host:port) to run the jobs on")
    p.add_argument("--results", default="results", help="results directory (records.jsonl inside)")
    p.add_argument("--rerun", action="store_true", help="repeat jobs that already have records")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strict", action="store_true", help="exit 1 when any answer is flagged")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--cache-dir", help="instance cache (default $PRUNE_BENCH_CACHE or the user cache dir)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("leaderboard", help="Markdown + HTML leaderboards from run records")
    p.add_argument("--results", default="results")
    p.add_argument("--instances", help="only these instance sets (comma-separated)")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=_cmd_leaderboard)

    p = sub.add_parser("demo", help="every heuristic on synthetic real-sized layers")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> None:
    from instances.models import ModelUnavailable

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except (ValueError, ModelUnavailable, RuntimeError, OSError) as err:
        print(f"bench: error: {err}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("bench: interrupted; finished records are kept, re-run the same command to resume", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
