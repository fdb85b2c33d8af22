"""Demo: every heuristic method on real-sized synthetic layers, as a table of errors and times.

Relative error = objective / ||W X||_F^2; "x wanda" = objective / Wanda's objective.
Usage: ``python -m benchmark.demo [--shapes 1536x576,576x1536] [--settings 0.5,0.6,2:4] [--time-limit 10]``.
By default the heuristics of ``bench run``'s default set run, each with a time limit of ``DEMO_TIME_LIMIT`` seconds
per layer (every method returns within its limit), behind a progress bar that names the current solve.
"""
from __future__ import annotations

import argparse

from tabulate import tabulate
from tqdm.auto import tqdm

from instances.synthetic import synthetic_layer
from solvers import EXACT_METHODS, METHODS, solve_layer
from solvers.core.patterns import parse_setting
from solvers.registry import DEFAULT_EXCLUDED

DEMO_TIME_LIMIT = 10.0


def run_demo(shapes: list[tuple[int, int]], settings: list[str], methods: list[str], seed: int = 0,
             time_limit: float | None = DEMO_TIME_LIMIT, progress: bool = True) -> list[dict]:
    rows = []
    bar = tqdm(total=len(shapes) * len(settings) * len(methods), desc="demo", unit="solve", disable=not progress)
    for d_out, d_in in shapes:
        W, H = synthetic_layer(d_out, d_in, seed=seed)
        for setting in settings:
            pattern, sparsity = parse_setting(setting)
            results = {}
            for m in methods:
                bar.set_postfix_str(f"{d_out}x{d_in} {setting} {m}", refresh=True)
                results[m] = solve_layer(W, H, sparsity, pattern, m, seed=seed, time_limit=time_limit)
                bar.update()
            reference = results["wanda"].objective if "wanda" in results else float("nan")
            for name, r in results.items():
                rows.append({"layer": f"{d_out}x{d_in}", "setting": setting, "method": name,
                             "rel. error": r.relative_error, "x wanda": r.objective / reference,
                             "time [s]": r.time_s, "status": r.status})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="1536x576,576x1536", help="comma-separated d_outxd_in")
    parser.add_argument("--settings", default="0.5,0.6,2:4", help="settings: fractions (per-row), N:M, or pattern@fraction such as per-layer@0.5")
    parser.add_argument("--methods", default=",".join(m for m in METHODS if m not in EXACT_METHODS | DEFAULT_EXCLUDED))
    parser.add_argument("--time-limit", type=float, default=DEMO_TIME_LIMIT, help="seconds per method and layer")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",")]
    rows = run_demo(shapes, args.settings.split(","), args.methods.split(","), args.seed, args.time_limit)
    print(tabulate(rows, headers="keys", floatfmt=".4g"))


if __name__ == "__main__":
    main()
