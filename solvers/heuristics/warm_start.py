"""Start masks of the exact methods: SparseSwaps from Wanda (the default), a score name, or a given mask,
and the share of a time limit the start may take."""
from __future__ import annotations

import numpy as np

from ..core.problem import LayerProblem
from .scores import warm_start_mask
from .sparseswaps import solve_sparseswaps

WARM_START_SHARE = 0.25  # at most this share of a time limit goes to the warm start


def warm_start_for(problem: LayerProblem, warm_start, time_limit: float | None = None) -> np.ndarray:
    """A start mask for the exact methods: "sparseswaps" (Wanda + SparseSwaps, the default; stopped at
    ``time_limit``, still feasible), a score name, or a mask."""
    if isinstance(warm_start, str) and warm_start == "sparseswaps":
        return solve_sparseswaps(problem, time_limit=time_limit).mask
    return warm_start_mask(problem, warm_start)
