"""Exact-size slices of a full set: small instances on which exact methods can prove optimality.

For every module of the base set, ``ROWS_PER_MODULE`` rows are drawn, and for each row a window of
n consecutive inputs starting at a multiple of 8 (so N:M groups with M | 8 stay aligned). The slice
instance is W = w[row, start:start+n] (1 x n) with the matching n x n block of H: a valid layer
problem of its own (one row of the original's error restricted to that window, the other weights
kept). Rows and starts come from a generator seeded by (module name, n), so slices are
deterministic and the same rows are reused for every n.

A slice also carries the full module's statistics that score baselines normalise by
(``meta[MODULE_STATISTICS]``: RIA's sum_k |W_ik| over the whole row and sum_k |W_kj| over all rows, for the
window's columns), keyed by the option names of the methods that take them; the harness passes them on,
so RIA ranks a slice's weights as it does on the layer (over the slice's own rows, its column term is
about 1 for every weight).
"""
from __future__ import annotations

import zlib

import numpy as np

from .store import Problem

ROWS_PER_MODULE = 2
ALIGN = 8
MODULE_STATISTICS = "module_statistics"  # meta key: {option name: list of floats}


def slice_problems(base: list[Problem], n: int, base_name: str) -> list[Problem]:
    """The n-input slices of every problem in ``base`` (see module docstring)."""
    out = []
    for problem in base:
        d_out, d_in = problem.W.shape
        if n > d_in:
            raise ValueError(f"slice size n={n} exceeds d_in={d_in} of {problem.name}")
        abs_W = np.abs(problem.W)
        row_sums, col_sums = abs_W.sum(axis=1), abs_W.sum(axis=0)
        rows_rng = np.random.default_rng(zlib.crc32(problem.name.encode()))
        rows = np.sort(rows_rng.choice(d_out, size=min(ROWS_PER_MODULE, d_out), replace=False))
        start_rng = np.random.default_rng([zlib.crc32(problem.name.encode()), n])
        for row in rows:
            start = int(start_rng.integers(0, (d_in - n) // ALIGN + 1)) * ALIGN
            window = slice(start, start + n)
            meta = dict(problem.meta, base_set=base_name, base_problem=problem.name, row=int(row),
                        window_start=start, n=n)
            meta[MODULE_STATISTICS] = {"row_abs_sums": [float(row_sums[row])],
                                       "col_abs_sums": col_sums[window].tolist()}
            out.append(Problem(f"{problem.name}.r{row}.c{start}+{n}", problem.W[row : row + 1, window].copy(),
                               problem.H[window, window].copy(), meta))
    return out
