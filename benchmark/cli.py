"""The ``bench`` command: extract instance sets, run solvers, build leaderboards, prune models.

Every failure the user can fix (bad names, bad numbers, unreachable models, unwritable folders)
prints one ``bench: error: ...`` line and exits with status 2.
"""
from __future__ import annotations

import argparse
import os
import sys


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
