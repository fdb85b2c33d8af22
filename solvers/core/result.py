"""The one result shape every method returns (through ``solve_layer``) and the status vocabulary.

Statuses: "optimal" (proven), "time_limit" (a limit stopped an exact method; mask is its incumbent,
``lower_bound`` its dual bound), "heuristic" (no optimality claim), "error" (the answer is unusable;
``info["error"]`` says why).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STATUSES = ("optimal", "time_limit", "heuristic", "error")


@dataclass
class MethodAnswer:
    """What a method function returns; ``solve_layer`` adds objective and time."""

    mask: np.ndarray
    lower_bound: float = float("-inf")
    status: str = "heuristic"
    info: dict = field(default_factory=dict)


@dataclass
class SolveResult:
    """mask (bool, True = keep), objective (error under the problem's objective, H as given),
    lower_bound (valid bound on the optimum or -inf), status, time_s (wall seconds), info."""

    mask: np.ndarray
    objective: float
    lower_bound: float
    status: str
    time_s: float
    info: dict = field(default_factory=dict)
    relative_error: float = float("nan")
    method: str = ""
    pattern: str = ""
    weights: np.ndarray | None = None  # with return_weights: W * mask, or the re-fit for "reconstruct"

    @property
    def gap(self) -> float:
        """Relative optimality gap (objective - lower_bound) / objective; inf without a bound."""
        if not np.isfinite(self.lower_bound):
            return float("inf")
        if self.objective <= 0:
            return 0.0
        return max(0.0, (self.objective - self.lower_bound) / self.objective)
