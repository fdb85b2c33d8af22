"""Whole-model pruning grid: many (method, pattern, objective) runs on one loaded model.

Usage: ``python -m benchmark.prune_grid --model smollm2-135m --methods magnitude,wanda,sparsegpt
--patterns 0.5,0.6,2:4 --reconstruct none,matrix,submodule,block --results results/prune [--device cuda]``
(``--objectives mask,reconstruct`` is the older spelling of ``--reconstruct none,matrix``).
Each run is what ``bench prune`` does (same record, appended to ``prune_records.jsonl``), but the
model is loaded and the dense perplexity measured once; before each run the dense weights of
every decoder linear are restored from a CPU copy. Runs already recorded with the same model,
method, pattern, sparsity, reconstruction granularity, calibration budget and evaluation tokens are
skipped (resume); a record is written only when its run is complete, so Ctrl-C leaves none half-written.
``--budget-s`` stops starting new runs after that many seconds.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from instances.models import decoder_layers
from solvers.core.patterns import parse_setting

from .perplexity import perplexity
from .prune import check_prune_arguments, prepare, prune_model, prune_record
from .reconstruct import GRANULARITY_OF, LR_HELP, STEPS_HELP, ReconSettings
from .records import RecordWriter, read_records
from .records import prune_run_key as run_key

PRUNE_RECORDS = "prune_records.jsonl"


def grid_runs(methods: str, patterns: str, granularities: str, steps: int | None = None,
              lr: float | None = None) -> list[tuple]:
    """[(method, pattern, sparsity, ReconSettings)] from the comma-separated options; ValueError names a bad one."""
    settings = [parse_setting(s) for s in patterns.split(",")]
    recons = [ReconSettings(g, steps, lr).check() for g in granularities.split(",")]
    runs = [(m, p, s, r) for r in recons for p, s in settings for m in methods.split(",")]
    for method, pattern, sparsity, _ in runs:
        check_prune_arguments(method, pattern, sparsity)
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--methods", default="magnitude,wanda,sparsegpt,sparseswaps,fw,fw-polish")
    parser.add_argument("--patterns", default="0.5,0.6,2:4", help="comma-separated settings (see parse_setting)")
    parser.add_argument("--reconstruct", help="comma-separated granularities: none, matrix, submodule, block, model")
    parser.add_argument("--objectives", help="older spelling: mask = none, reconstruct = matrix (default both)")
    parser.add_argument("--recon-steps", type=int, help=STEPS_HELP)
    parser.add_argument("--recon-lr", type=float, help=LR_HELP)
    parser.add_argument("--nsamples", type=int, default=128)
    parser.add_argument("--seqlen", type=int, default=512)
    parser.add_argument("--calibration", default="corpus")
    parser.add_argument("--eval-tokens", type=int)
    parser.add_argument("--device", choices=["cuda", "cpu"])
    parser.add_argument("--time-limit", type=float, help="seconds per module for exact methods")
    parser.add_argument("--budget-s", type=float, help="start no new run after this many seconds")
    parser.add_argument("--results", default="results/prune")
    args = parser.parse_args(argv)
    try:  # every setting is checked before the model loads; a bad one is named, exit status 2
        if args.reconstruct and args.objectives:
            raise ValueError("give --reconstruct or --objectives, not both")
        objectives = (args.objectives or "mask,reconstruct").split(",")
        unknown = [o for o in objectives if o not in GRANULARITY_OF]
        if unknown:
            raise ValueError(f"unknown objective {unknown[0]!r}; known: mask, reconstruct")
        granularities = args.reconstruct or ",".join(GRANULARITY_OF[o] for o in objectives)
        runs = grid_runs(args.methods, args.patterns, granularities, args.recon_steps, args.recon_lr)
    except ValueError as err:
        parser.exit(2, f"prune_grid: error: {err}\n")
    import torch

    started = time.perf_counter()
    loaded, windows, dense_ppl, tokens = prepare(args.model, args.device, args.calibration, args.nsamples, args.seqlen,
                                                 args.eval_tokens)
    done = {run_key(r) for r in read_records(Path(args.results), PRUNE_RECORDS, required="perplexity_pruned")}
    linears = [m for layer in decoder_layers(loaded.model) for m in layer.modules() if isinstance(m, torch.nn.Linear)]
    dense = [m.weight.detach().to("cpu", copy=True) for m in linears]
    writer = RecordWriter(Path(args.results), PRUNE_RECORDS, exclusive=False)
    try:
        for n, (method, pattern, sparsity, recon) in enumerate(runs, 1):
            objective = recon.objective
            key = run_key({"model": args.model, "method": method, "pattern": pattern, "sparsity": sparsity,
                           "objective_kind": objective, **recon.record_fields(),
                           "calibration": args.calibration, "nsamples": args.nsamples,
                           "seqlen": args.seqlen, "eval_tokens": int(windows.numel())})
            if key in done:
                continue
            if args.budget_s is not None and time.perf_counter() - started > args.budget_s:
                print(f"budget of {args.budget_s:.0f} s spent; {len(runs) - n + 1} runs left for a later call")
                break
            for module, weight in zip(linears, dense):
                module.weight.data.copy_(weight)
            run_started = time.perf_counter()
            log: list = []
            if loaded.model.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            modules = prune_model(loaded, method=method, sparsity=sparsity, pattern=pattern, objective=objective,
                                  tokens=tokens, time_limit=args.time_limit, progress=True, recon=recon,
                                  recon_log=log)
            pruned_ppl = perplexity(loaded.model, windows)
            record = prune_record(loaded, modules, model=args.model, method=method, pattern=pattern,
                                  sparsity=sparsity, objective=objective, dense_ppl=dense_ppl, pruned_ppl=pruned_ppl,
                                  calibration=args.calibration, nsamples=args.nsamples, seqlen=args.seqlen,
                                  eval_tokens=int(windows.numel()), blocks=None, time_limit=args.time_limit,
                                  time_s=time.perf_counter() - run_started, recon=recon, recon_log=log)
            record["grid"] = True  # time_s excludes model loading and the dense perplexity (shared by the grid)
            writer.write(record)
            print(f"[{n}/{len(runs)}] {method} {pattern} {sparsity} {recon.granularity}: ppl {dense_ppl:.2f} -> "
                  f"{pruned_ppl:.2f}, layer error {record['summed_layer_error']:.4g}, {record['time_s']:.0f} s",
                  flush=True)
    finally:
        writer.close()


if __name__ == "__main__":
    main()
