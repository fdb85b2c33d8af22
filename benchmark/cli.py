"""The ``bench`` command: extract instance sets, run solvers, build leaderboards, prune models.

Every failure the user can fix (bad names, bad numbers, unreachable models, unwritable folders)
prints one ``bench: error: ...`` line and exits with status 2.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from .reconstruct import LR_HELP, STEPS_HELP


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
    from .jobs import split_solvers

    records = run_benchmark(args.instances.split(","), solvers=split_solvers(args.solvers) if args.solvers else None,
                            sparsities=_floats(args.sparsity, "--sparsity"), patterns=args.pattern.split(","),
                            objective=args.objective, time_limit=args.time_limit, n_jobs=args.jobs,
                            results=Path(args.results), rerun=args.rerun, scheduler=args.scheduler,
                            seed=args.seed, progress=not args.quiet, retry_errors=not args.keep_errors,
                            resume_any_commit=args.resume_any_commit,
                            only=args.only.split(",") if args.only is not None else None, warm_up=args.warm_up)
    return 1 if any(r.get("flags") for r in records) and args.strict else 0


def _cmd_leaderboard(args) -> int:
    from .leaderboard import build_leaderboards

    paths = build_leaderboards(Path(args.results), args.instances.split(",") if args.instances else None,
                               plots=not args.no_plots)
    for path in paths:
        print(f"leaderboard: {path} (and {path.with_suffix('.html')})")
    return 0


def _blocks(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        if "-" in text:
            first, last = (int(x) for x in text.split("-"))
            return list(range(first, last + 1))
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"--blocks takes 'A-B' or comma-separated indices; got {text!r}") from None


def _cmd_prune(args) -> int:
    import json

    from .prune import run_prune
    from .reconstruct import GRANULARITY_OF, ReconSettings
    from .records import RecordWriter, to_json_line

    granularity = args.reconstruct or GRANULARITY_OF[args.objective]
    if args.reconstruct and args.objective != "mask" and ReconSettings(granularity).objective != args.objective:
        raise ValueError(f"--objective {args.objective} contradicts --reconstruct {granularity}; give one of them")
    recon = ReconSettings(granularity, args.recon_steps, args.recon_lr).check()
    pattern = args.pattern or "per-row"
    sparsity = None if ":" in pattern else (args.sparsity if args.sparsity is not None else 0.5)
    writer = RecordWriter(Path(args.results), "prune_records.jsonl", exclusive=False)
    try:
        record = run_prune(model=args.model, method=args.method, sparsity=sparsity, pattern=pattern,
                           objective=args.objective, nsamples=args.nsamples, seqlen=args.seqlen,
                           calibration=args.calibration, device=args.device, eval_tokens=args.eval_tokens,
                           time_limit=args.time_limit, blocks=_blocks(args.blocks), save=args.save,
                           progress=not args.quiet, recon=recon)
        writer.write(record)
    finally:
        writer.close()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(json.loads(to_json_line(record)), indent=1) + "\n")
    print(f"{record['model']} {record['method']} {record['pattern']} sparsity {record['sparsity_achieved']:.4f}: "
          f"perplexity dense {record['perplexity_dense']:.3f} -> pruned {record['perplexity_pruned']:.3f} "
          f"({record['time_s']:.0f} s)")
    return 0


def _cmd_eval(args) -> int:
    from tabulate import tabulate

    from .evaluate import run_eval

    if args.cache_dir:
        os.environ["PRUNE_BENCH_CACHE"] = args.cache_dir
    records = run_eval(instances=args.instances, masks=Path(args.masks) if args.masks else None,
                       model=Path(args.model) if args.model else None, results=Path(args.results), name=args.name,
                       objective=args.objective, pattern=args.pattern, sparsity=args.sparsity, bound=args.bound,
                       time_limit=args.time_limit, progress=not args.quiet)
    def known(value):
        return value if math.isfinite(value) else "none"

    rows = [{"module": r["instance"], "setting": r["setting"], "objective": r["objective"],
             "rel. error": r["relative_error"], "best known bound": known(r["best_known_bound"]),
             "gap to best bound": known(r["gap_to_best_bound"]), "ambiguous zeros": r["ambiguous_zeros"],
             "flags": r["flags"]} for r in records]
    print(tabulate(rows, headers="keys", floatfmt=".6g"))
    if not any(math.isfinite(r["best_known_bound"]) for r in records):
        print("no bound is known for these modules yet: add --bound fw-sdp, or bench run a bound method on the set")
    print(f"{len(records)} records as {records[0]['solver']!r}: {Path(args.results) / 'records.jsonl'} "
          f"(bench leaderboard --results {args.results})")
    return 0


def _cmd_methods(args) -> int:
    from .methods_table import run

    return run(args)


def _cmd_reference(args) -> int:
    from .reference_book import run

    if args.cache_dir:
        os.environ["PRUNE_BENCH_CACHE"] = args.cache_dir
    return run(args)


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
    p.add_argument("--only", help="comma-separated name parts: only the problems whose names contain one "
                   "(e.g. o_proj for one module of a model set)")
    p.add_argument("--solvers", help="comma-separated methods, each with options as method[name=value,...] "
                   "(default: the methods marked in_default_bench in solvers.registry)")
    p.add_argument("--sparsity", default="0.5", help="comma-separated pruned fractions (default 0.5)")
    p.add_argument("--pattern", default="per-row", help="comma-separated: per-row, per-layer, N:M (default per-row)")
    p.add_argument("--objective", default="mask", choices=["mask", "reconstruct"])
    p.add_argument("--time-limit", type=float, help="seconds per job")
    p.add_argument("--jobs", type=int, default=1, help="local worker processes")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://host:port) to run the jobs on")
    p.add_argument("--results", default="results", help="results directory (records.jsonl inside)")
    p.add_argument("--rerun", action="store_true", help="repeat jobs that already have records")
    p.add_argument("--keep-errors", action="store_true",
                   help="on resume, count jobs that ended in an error as done (default: run them again)")
    p.add_argument("--resume-any-commit", action="store_true",
                   help="on resume, count records made by other code (another git commit) as done (default: run again)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warm-up", action="store_true",
                   help="each job's process first solves a one-row synthetic problem of its width (jobs up to 256 "
                   "wide), so its time is a warm process's, without first-touch page faults (benchmark.runner)")
    p.add_argument("--strict", action="store_true", help="exit 1 when any answer is flagged")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--cache-dir", help="instance cache (default $PRUNE_BENCH_CACHE or the user cache dir)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("leaderboard", help="Markdown + HTML leaderboards from run records")
    p.add_argument("--results", default="results")
    p.add_argument("--instances", help="only these instance sets (comma-separated)")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=_cmd_leaderboard)

    p = sub.add_parser("methods", help="the registered methods, their presets and options")
    p.add_argument("--markdown", action="store_true", help="the README block (methods and every option)")
    p.set_defaults(func=_cmd_methods)

    p = sub.add_parser("reference", help="list, check or repair a set's reference values (with provenance)")
    p.add_argument("--instances", required=True, help="instance set name")
    p.add_argument("--check", action="store_true", help="report conflicts and values without provenance (exit 1 on a conflict)")
    p.add_argument("--results", help="with --check: also check the records of this results directory")
    p.add_argument("--drop", metavar="INSTANCE[/SETTING[/OBJECTIVE]]", help="remove these entries from the cached file")
    p.add_argument("--kind", choices=["opt", "best", "bound"], help="with --drop: only this kind of value")
    p.add_argument("--cache-dir", help="instance cache (default $PRUNE_BENCH_CACHE or the user cache dir)")
    p.set_defaults(func=_cmd_reference)

    p = sub.add_parser("prune", help="prune every linear layer of a model sequentially and measure perplexity")
    p.add_argument("--model", required=True, help="alias (smollm2-135m, opt-125m), hub id or local path")
    p.add_argument("--method", required=True, help="any solve_layer method")
    p.add_argument("--sparsity", type=float, help="pruned fraction per row (default 0.5; not with N:M)")
    p.add_argument("--pattern", help="per-row (default), per-layer or N:M such as 2:4")
    p.add_argument("--objective", default="mask", choices=["mask", "reconstruct"],
                   help="mask: zero the pruned weights; reconstruct: = --reconstruct matrix")
    p.add_argument("--reconstruct", metavar="GRANULARITY",
                   help="none, matrix, submodule (attention and MLP of each block), block, model (LM loss); "
                        "see benchmark/reconstruct.py")
    p.add_argument("--recon-steps", type=int, help=STEPS_HELP)
    p.add_argument("--recon-lr", type=float, help=LR_HELP)
    p.add_argument("--nsamples", type=int, default=128, help="calibration sequences")
    p.add_argument("--seqlen", type=int, default=512, help="tokens per calibration/evaluation sequence")
    p.add_argument("--calibration", default="corpus", choices=["corpus", "c4", "wikitext2"],
                   help="calibration source; perplexity uses its held-out part")
    p.add_argument("--eval-tokens", type=int, help="cap on held-out tokens for perplexity")
    p.add_argument("--time-limit", type=float, help="seconds per module for exact methods")
    p.add_argument("--blocks", help="only these decoder blocks, e.g. 0-3 (default all)")
    p.add_argument("--device", choices=["cuda", "cpu"])
    p.add_argument("--save", help="write the pruned model (Hugging Face format, safetensors) here")
    p.add_argument("--out", help="write the record as JSON here")
    p.add_argument("--results", default="results", help="directory whose prune_records.jsonl gets the record")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_prune)

    p = sub.add_parser("eval", help="score masks made elsewhere (a safetensors file or a pruned model) on a set")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--masks", metavar="FILE.safetensors",
                        help="one boolean tensor per module of the set (e.g. layer3.self_attn.q_proj), True = keep")
    source.add_argument("--model", metavar="DIR", help="a pruned Hugging Face model directory: its zeros are the masks")
    p.add_argument("--instances", required=True, help="instance set name (its module names key the masks)")
    p.add_argument("--results", default="results", help="results directory (records.jsonl inside)")
    p.add_argument("--name", metavar="LABEL", help="solver label of the records (default user:<file stem>)")
    p.add_argument("--objective", default="mask", choices=["mask", "reconstruct"])
    p.add_argument("--pattern", help="the pattern every mask must fit (default: detected per module)")
    p.add_argument("--sparsity", type=float, help="with --pattern per-row/per-layer: the pruned fraction it must have")
    p.add_argument("--bound", metavar="METHOD", help="also compute a certified bound now with this method (e.g. fw-sdp)")
    p.add_argument("--time-limit", type=float, help="seconds per module for --bound")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--cache-dir", help="instance cache (default $PRUNE_BENCH_CACHE or the user cache dir)")
    p.set_defaults(func=_cmd_eval)

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
