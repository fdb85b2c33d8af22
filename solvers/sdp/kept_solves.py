"""Rows' Shor solves kept for their later DNN ascent, within a memory budget.

certify (``solvers.certify``) first solves every row's diagonal Shor SDP (``sdp.primal_dual``, tolerance 1e-2), and
later ascends the rows with the largest gaps over the DNN multipliers (``sdp.dnn_ascent``), whose first step is that
same Shor solve (N = 0, mu = 0, the same tolerance). Kept, it need not be solved again: the ascent starts from its
primal matrix X (the supergradient and the warm start of its second step) and its bound. On full 576-wide SmolLM2
rows the first step was a quarter to a third of a five-step ascent's time (``results/certify-bench/ascent-step-curve``:
1.0-1.6 s of 3.7-4.9 s).

X is kept in float32 (it only starts the ascent: the bounds come from later solves, each certified on its own):
(n + 1)^2 * 4 bytes a row, 1.3 MB at n = 576, 9.5 MB at n = 1536. ``KEPT_SOLVE_BYTES`` (1 GiB) holds every row of
the 576-row modules, about 800 rows of a 1536-row one and about 110 of down_proj's 1536-wide rows; rows past the
budget solve their first step as before. A kept solve is removed once its row's ascent has used it (each row ascends
once).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .shor import RowSDP

KEPT_SOLVE_BYTES = 1 << 30


def compact_solve(result: RowSDP) -> RowSDP:
    """``result`` with its X in float32, as solves are kept (and sent back from worker processes)."""
    return replace(result, X=np.asarray(result.X, dtype=np.float32))


def _solve_bytes(result: RowSDP) -> int:
    return sum(np.asarray(v).nbytes for v in (result.X, result.s, result.rho, result.primal) if v is not None)


class KeptSolves:
    """Shor solves by row index (``RowSDP`` with X in float32), at most ``budget_bytes`` of arrays in all."""

    def __init__(self, budget_bytes: int = KEPT_SOLVE_BYTES):
        if isinstance(budget_bytes, bool) or not isinstance(budget_bytes, (int, np.integer)) or budget_bytes < 0:
            raise ValueError(f"budget_bytes must be a non-negative integer; got {budget_bytes!r}")
        self.budget_bytes = int(budget_bytes)
        self.used_bytes = 0
        self.reused = 0  # solves spent by ``spend``
        self._solves: dict[int, RowSDP] = {}

    def has_room(self) -> bool:
        """Whether another solve may still be kept (the last one kept may pass the budget by one row's size)."""
        return self.used_bytes < self.budget_bytes

    def put(self, row: int, result: RowSDP) -> bool:
        """Keep ``result`` (a primal-dual solve with its X) for ``row`` while there is room; whether it was kept."""
        if result.X is None or not self.has_room():
            return False
        self._drop(row)
        kept = compact_solve(result)
        self._solves[int(row)] = kept
        self.used_bytes += _solve_bytes(kept)
        return True

    def get(self, row: int) -> RowSDP | None:
        """The solve kept for ``row`` (None when none is kept)."""
        return self._solves.get(int(row))

    def spend(self, row: int) -> None:
        """Remove ``row``'s solve once its ascent has used it (counted in ``reused``)."""
        self.reused += self._drop(row) is not None

    def _drop(self, row: int) -> RowSDP | None:
        kept = self._solves.pop(int(row), None)
        if kept is not None:
            self.used_bytes -= _solve_bytes(kept)
        return kept

    def __len__(self) -> int:
        return len(self._solves)

    def __contains__(self, row) -> bool:
        return int(row) in self._solves
