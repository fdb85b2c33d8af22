"""Exact-size slices of a full set: small instances on which exact methods can prove optimality.

For every module of the base set, ``ROWS_PER_MODULE`` rows are drawn, and for each row a window of
n consecutive inputs starting at a multiple of 8 (so N:M groups with M | 8 stay aligned). The slice
instance is W = w[row, start:start+n] (1 x n) with the matching n x n block of H: a valid layer
problem of its own (one row of the original's error restricted to that window, the other weights
kept). Rows and starts come from a generator seeded by (module name, n), so slices are
deterministic and the same rows are reused for every n.
"""
from __future__ import annotations

import zlib

import numpy as np

from .store import Problem

ROWS_PER_MODULE = 2
ALIGN = 8


def slice_problems(base: list[Problem], n: int, base_name: str) -> list[Problem]:
    """The n-input slices of every problem in ``base`` (see module docstring)."""
    out = []
    for problem in base:
        d_out, d_in = problem.W.shape
        if n > d_in:
            raise ValueError(f"slice size n={n} exceeds d_in={d_in} of {problem.name}")
        rows_rng = np.random.default_rng(zlib.crc32(problem.name.encode()))
        rows = np.sort(rows_rng.choice(d_out, size=min(ROWS_PER_MODULE, d_out), replace=False))
        start_rng = np.random.default_rng([zlib.crc32(problem.name.encode()), n])
        for row in rows:
            start = int(start_rng.integers(0, (d_in - n) // ALIGN + 1)) * ALIGN
            window = slice(start, start + n)
            meta = dict(problem.meta, base_set=base_name, base_problem=problem.name, row=int(row),
                        window_start=start, n=n)
            out.append(Problem(f"{problem.name}.r{row}.c{start}+{n}", problem.W[row : row + 1, window].copy(),
                               problem.H[window, window].copy(), meta))
    return out
