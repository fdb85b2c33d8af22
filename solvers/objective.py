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


def _pruned_solves(W: np.ndarray, H_inv: np.ndarray, mask: np.ndarray, chunk_bytes: float = 2e8):
    """Yield (rows, pruned column indices (R, p), x = [(H_d^{-1})_PP]^{-1} w_P (R, p)).

    Rows with the same pruned count are solved together as one batched linear solve.
    """
    counts = (~mask).sum(axis=1)
    for p in np.unique(counts):
        if p == 0:
            continue
        rows_all = np.flatnonzero(counts == p)
        chunk = max(1, int(chunk_bytes // (8 * p * p)))
        for r0 in range(0, rows_all.size, chunk):
            rows = rows_all[r0 : r0 + chunk]
            pruned = np.nonzero(~mask[rows])[1].reshape(rows.size, p)
            blocks = H_inv[pruned[:, :, None], pruned[:, None, :]]
            w_p = np.take_along_axis(W[rows], pruned, axis=1)
            yield rows, pruned, np.linalg.solve(blocks, w_p[..., None])[..., 0]


def _damped_inverse(H: np.ndarray, damping: float) -> np.ndarray:
    H_inv = np.linalg.inv(damped_gram(H, damping))
    return (H_inv + H_inv.T) / 2


def reconstruct(W: np.ndarray, H: np.ndarray, mask: np.ndarray, damping: float = DEFAULT_DAMPING,
                weights: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """(per-row re-fit errors (d_out,), re-fitted weights or None) from one pass of batched solves.

    Error of row i: w_P^T [(H_d^{-1})_PP]^{-1} w_P; weights: the minimiser of (w - v)^T H_d (w - v)
    with v zero where pruned, v = w - H_d^{-1}[:, P] [(H_d^{-1})_PP]^{-1} w_P (OBS update).
    """
    H_inv = _damped_inverse(H, damping)
    errors = np.zeros(W.shape[0])
    V = np.array(W, dtype=np.float64, copy=True) if weights else None
    for rows, pruned, x in _pruned_solves(W, H_inv, mask):
        errors[rows] = np.einsum("rp,rp->r", np.take_along_axis(W[rows], pruned, axis=1), x)
        if weights:
            V[rows] -= np.einsum("rpj,rp->rj", H_inv[pruned], x)
    if weights:
        V[~mask] = 0.0
    return errors, V


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
