"""Dense symmetric positive definite solves and inverses through LAPACK directly (scipy's wrappers
around them cost several times the factorization at the sizes of single rows)."""
from __future__ import annotations

import numpy as np
from scipy.linalg import lapack


def spd_solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A^{-1} b for symmetric positive definite A (LAPACK posv, Cholesky, A and b left intact); least
    squares if the Cholesky fails (a singular A, e.g. from a rank-deficient Gram matrix)."""
    _, x, info = lapack.dposv(A, b, lower=1)
    if info != 0:
        x = np.linalg.lstsq(A, b, rcond=None)[0]
    return x


def spd_inverse(A: np.ndarray) -> np.ndarray | None:
    """A^{-1} (symmetric) when A is numerically positive definite (Cholesky succeeds), else None."""
    factor, info = lapack.dpotrf(A, lower=1)
    if info != 0:
        return None
    inverse, info = lapack.dpotri(factor, lower=1)
    if info != 0:
        return None
    return symmetric_from_lower(inverse)


_LOWER_MASKS: dict[int, np.ndarray] = {}


def symmetric_from_lower(M: np.ndarray) -> np.ndarray:
    """The symmetric matrix whose lower triangle is M's (LAPACK potri fills only that one); the n x n
    lower-triangle mask is cached per n (np.tril rebuilds one per call)."""
    n = len(M)
    if n not in _LOWER_MASKS:
        _LOWER_MASKS[n] = np.tri(n, dtype=bool)
    return np.where(_LOWER_MASKS[n], M, M.T)
