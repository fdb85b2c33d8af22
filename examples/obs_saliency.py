"""An example plug-in method: the Optimal Brain Surgeon saliency, kept per group.

Score of weight (i, j): w_ij^2 / [H_d^{-1}]_jj with H_d = H + percdamp * mean(diag H) * I, the error of
removing w_ij alone when the other weights of row i are re-fitted (Hassibi & Stork 1993; the score
SparseGPT ranks by, Frantar & Alistarh 2023, here without its sequential weight updates). The largest
scores of every group of the problem's pattern are kept.

Run it without installing anything (from the repository root, or with this folder on PYTHONPATH):

    bench run --instances tiny --solvers "examples.obs_saliency:solve[percdamp=0.05]" --results results/plugin

or from Python: ``solve_layer(W, H, 0.5, method="examples.obs_saliency:solve")``. To ship it in a package,
declare it under the entry-point group ``prune_opt_bench.methods`` (README, "Bring your own method").
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from solvers import LayerProblem, MethodAnswer, select_top


def obs_scores(W: np.ndarray, H: np.ndarray, percdamp: float) -> np.ndarray:
    """w_ij^2 / [H_d^{-1}]_jj (module docstring); H_d is positive definite for percdamp > 0 and H != 0."""
    d_in = H.shape[0]
    scale = float(np.mean(np.diag(H)))
    H_d = H + (percdamp * scale if scale > 0 else 1.0) * np.eye(d_in)
    inverse_diagonal = np.diag(cho_solve(cho_factor(H_d), np.eye(d_in)))
    return W**2 / inverse_diagonal[None, :]


def solve(problem: LayerProblem, *, time_limit: float | None = None, seed: int = 0,
          percdamp: float = 0.01) -> MethodAnswer:
    """Keep the largest OBS saliencies w_ij^2 / [H_d^{-1}]_jj of every group."""
    if not percdamp > 0:
        raise ValueError(f"percdamp must be positive; got {percdamp}")
    mask = select_top(obs_scores(problem.W, problem.H, percdamp), problem.pattern)
    return MethodAnswer(mask, info={"score": "obs-saliency", "percdamp": percdamp})
