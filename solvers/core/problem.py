"""The layer problem: weights W, Gram matrix H, a sparsity pattern and an objective kind.

All input validation lives here (``make_problem``), so solvers receive clean float64 arrays.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .objective import DEFAULT_DAMPING, check_objective, output_energy
from .patterns import Pattern, make_pattern

SYMMETRY_RTOL = 1e-8
PSD_RTOL = 1e-6


@dataclass(frozen=True)
class LayerProblem:
    """One layer: W (d_out x d_in), H (d_in x d_in, symmetric PSD, as given), pattern, objective.

    ``damping`` is the relative diagonal damping of the ``reconstruct`` objective.
    """

    W: np.ndarray = field(repr=False)
    H: np.ndarray = field(repr=False)
    pattern: Pattern
    objective: str = "mask"
    damping: float = DEFAULT_DAMPING

    @property
    def shape(self) -> tuple[int, int]:
        return self.W.shape

    @property
    def energy(self) -> float:
        """||W X||_F^2 = sum_i w_i^T H w_i."""
        return output_energy(self.W, self.H)


def is_real_number(value) -> bool:
    """A real scalar (int, float, numpy scalar), not a bool, string or array."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def to_numpy(array, name: str) -> np.ndarray:
    """float64 numpy copy of a numpy array or torch tensor (torch is never imported here)."""
    if hasattr(array, "detach"):  # a torch tensor
        if array.is_complex():
            raise ValueError(f"{name} is complex; pruning takes real weights and Gram matrices")
        array = array.detach().to("cpu").double().numpy()
    if np.iscomplexobj(array):
        raise ValueError(f"{name} is complex; pruning takes real weights and Gram matrices")
    try:
        out = np.array(array, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} is not a numeric array: {err}") from None
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contains non-finite values (NaN or Inf)")
    return out


def check_gram(H: np.ndarray, d_in: int) -> None:
    """Raise ValueError unless H is d_in x d_in, symmetric and (numerically) PSD."""
    if H.ndim != 2 or H.shape != (d_in, d_in):
        raise ValueError(f"H must have shape ({d_in}, {d_in}) to match W; got {H.shape}")
    scale = float(np.max(np.abs(H))) if H.size else 0.0
    if np.max(np.abs(H - H.T), initial=0.0) > SYMMETRY_RTOL * max(scale, 1e-300):
        raise ValueError("H is not symmetric")
    # Clearly non-PSD: a Cholesky factorisation fails even after a small relative shift.
    shift = PSD_RTOL * max(float(np.trace(H)) / d_in, scale * 1e-3, 1e-300)
    try:
        np.linalg.cholesky(H + shift * np.eye(d_in))
    except np.linalg.LinAlgError:
        raise ValueError("H is not positive semidefinite (Cholesky failed after a small diagonal shift)") from None


def make_problem(
    W, H, *, sparsity: float | None = 0.5, pattern: str = "per-row", objective: str = "mask",
    damping: float = DEFAULT_DAMPING,
) -> LayerProblem:
    """Validate inputs and build a ``LayerProblem``; every problem is a ``ValueError`` naming it."""
    W = to_numpy(W, "W")
    H = to_numpy(H, "H")
    if W.ndim != 2 or 0 in W.shape:
        raise ValueError(f"W must be a non-empty 2-D array (d_out x d_in); got shape {W.shape}")
    check_gram(H, W.shape[1])
    check_objective(objective)
    if not is_real_number(damping) or not (math.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping must be a finite number >= 0; got {damping!r}")
    if not isinstance(pattern, str):
        raise ValueError(f"pattern must be a string such as 'per-row', 'per-layer' or '2:4'; got {pattern!r}")
    return LayerProblem(W, H, make_pattern(pattern, W.shape, sparsity), objective, float(damping))
