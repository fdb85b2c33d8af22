"""The one place where errors of masks are computed and masks are checked.

Units: squared output error summed over calibration tokens, i.e. ||(W - W_hat) X||_F^2 written
through the Gram matrix H = X X^T, with H exactly as given.

- ``mask`` objective:  f(M) = sum_i e_i^T H e_i,  e_i = w_i * (1 - m_i)   (pruned weights only).
- ``reconstruct`` objective: the kept weights of each row are re-fitted by least squares
  (the OBS / SparseGPT objective).  With pruned set P of a row and the damped Gram matrix
  H_d = H + delta * mean(diag H) * I  (delta = ``damping``, default 0.01 as in SparseGPT),
      g(M) = sum_i min_{v: v_P = 0} (w_i - v)^T H_d (w_i - v) = sum_i w_P^T [(H_d^{-1})_PP]^{-1} w_P.
  The damping keeps H_d invertible for rank-deficient H; the value is the exact optimum of the
  damped problem, so exact solvers and bounds of this objective all use H_d.
- relative error: objective / sum_i w_i^T H w_i  (= ||W X||_F^2, undamped H as given).
"""
from __future__ import annotations

import numpy as np

from .linalg import spd_inverse, spd_solve
from .patterns import Pattern, group_violations

OBJECTIVES = ("mask", "reconstruct")
DEFAULT_DAMPING = 0.01


def check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; known: {', '.join(OBJECTIVES)}")


def mask_error_rows(W: np.ndarray, H: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-row mask-only error e_i^T H e_i with e_i = w_i * (1 - m_i); shape (d_out,)."""
    E = np.where(mask, 0.0, W)
    return np.einsum("ij,ij->i", E @ H, E)


def damped_gram(H: np.ndarray, damping: float = DEFAULT_DAMPING) -> np.ndarray:
    """H + damping * mean(diag H) * I (SparseGPT's percdamp convention)."""
    if damping < 0:
        raise ValueError(f"damping must be >= 0; got {damping}")
    scale = float(np.mean(np.diag(H)))
    return H + damping * (scale if scale > 0 else 1.0) * np.eye(H.shape[0])


def refit_residual(w: np.ndarray, H_d: np.ndarray, keep: np.ndarray, H_inv: np.ndarray | None = None) -> np.ndarray:
    """Residual e = w - v of one row's least-squares re-fit: v minimises (w - v)^T H_d (w - v), v_P = 0.

    e_P = w_P and, with K the kept and P the pruned indices (k = |K|, p = |P|), either
      kept form   (k x k solve):  e_K = -(H_d)_KK^{-1} (H_d)_KP w_P,   or
      pruned form (p x p solve):  e = (H_d^{-1})_{:,P} [(H_d^{-1})_PP]^{-1} w_P,
    whichever system is smaller (the pruned form needs ``H_inv`` = H_d^{-1}). The error is e^T H_d e.
    """
    pruned = np.flatnonzero(~keep)
    kept = np.flatnonzero(keep)
    e = np.zeros_like(w, dtype=np.float64)
    if pruned.size == 0:
        return e
    if H_inv is not None and pruned.size < kept.size:
        x = spd_solve(H_inv[np.ix_(pruned, pruned)], w[pruned])
        e = H_inv[:, pruned] @ x
    elif kept.size:
        e[kept] = -spd_solve(H_d[np.ix_(kept, kept)], H_d[np.ix_(kept, pruned)] @ w[pruned])
    e[pruned] = w[pruned]
    return e


def reconstruct(W: np.ndarray, H: np.ndarray, mask: np.ndarray, damping: float = DEFAULT_DAMPING,
                weights: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """(per-row re-fit errors (d_out,), re-fitted weights or None).

    Row i's residual e_i comes from ``refit_residual`` (one Cholesky solve of the smaller of its kept and
    pruned systems); error e_i^T H_d e_i, weights v_i = w_i - e_i (exactly zero where pruned).
    """
    H_d = damped_gram(H, damping)
    pruned_counts = (~mask).sum(axis=1)
    H_inv = spd_inverse(H_d) if np.any(pruned_counts < mask.shape[1] - pruned_counts) else None
    E = np.stack([refit_residual(W[i], H_d, mask[i], H_inv) for i in range(W.shape[0])]) if W.shape[0] else \
        np.zeros(W.shape)
    errors = np.einsum("ij,ij->i", E @ H_d, E)
    return errors, (W - E if weights else None)


def reconstruct_error_rows(
    W: np.ndarray, H: np.ndarray, mask: np.ndarray, damping: float = DEFAULT_DAMPING
) -> np.ndarray:
    """Per-row error after least-squares re-fit of the kept weights (damped H); shape (d_out,)."""
    return reconstruct(W, H, mask, damping, weights=False)[0]


def refit_weights(W: np.ndarray, H: np.ndarray, mask: np.ndarray, damping: float = DEFAULT_DAMPING) -> np.ndarray:
    """Weights minimising sum_i (w_i - v_i)^T H_d (w_i - v_i) with v_i zero where pruned (see ``reconstruct``)."""
    return reconstruct(W, H, mask, damping)[1]


def error_rows(W: np.ndarray, H: np.ndarray, mask: np.ndarray, objective: str = "mask", damping: float = DEFAULT_DAMPING) -> np.ndarray:
    """Per-row error of ``mask`` under ``objective``; shape (d_out,)."""
    check_objective(objective)
    if objective == "mask":
        return mask_error_rows(W, H, mask)
    return reconstruct_error_rows(W, H, mask, damping)


def layer_error(W: np.ndarray, H: np.ndarray, mask: np.ndarray, objective: str = "mask", damping: float = DEFAULT_DAMPING) -> float:
    """Total error of ``mask`` under ``objective`` (see module docstring)."""
    return float(error_rows(W, H, mask, objective, damping).sum())


def output_energy(W: np.ndarray, H: np.ndarray) -> float:
    """||W X||_F^2 = sum_i w_i^T H w_i, the denominator of relative errors."""
    return float(np.einsum("ij,ij->", W @ H, W))


def relative_error(objective_value: float, W: np.ndarray, H: np.ndarray) -> float:
    """objective / ||W X||_F^2 (nan when the layer has no output energy)."""
    energy = output_energy(W, H)
    return objective_value / energy if energy > 0 else float("nan")


def check_mask(mask: np.ndarray, pattern: Pattern) -> None:
    """Raise ValueError unless ``mask`` is a bool array of the pattern's shape meeting every group count."""
    mask = np.asarray(mask)
    if mask.shape != pattern.shape:
        raise ValueError(f"mask has shape {mask.shape}, expected {pattern.shape}")
    if mask.dtype != bool:
        raise ValueError(f"mask must be a bool array (True = keep); got dtype {mask.dtype}")
    bad = group_violations(mask, pattern)
    if bad.size:
        counts = mask.reshape(-1)[pattern.groups[bad[0]]].sum()
        raise ValueError(
            f"mask infeasible for pattern {pattern.name!r}: {bad.size} group(s) do not keep exactly "
            f"{pattern.keep}; first is group {bad[0]} keeping {counts}"
        )


def is_feasible(mask: np.ndarray, pattern: Pattern) -> bool:
    try:
        check_mask(mask, pattern)
    except ValueError:
        return False
    return True
