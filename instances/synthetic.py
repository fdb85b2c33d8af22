"""Seeded synthetic layers with LLM-like structure.

Calibration inputs X (d_in x tokens) are correlated features (a low-rank mixture plus noise) with a
few outlier input channels whose activations are 10-50x larger (as observed in LLMs, Dettmers et al.
2022); weights are heavy-tailed (Student-t, 3 degrees of freedom). Returns W and H = X X^T (float64).
"""
from __future__ import annotations

import numpy as np


def synthetic_layer(d_out: int, d_in: int, *, tokens: int | None = None, rank: int | None = None,
                    outliers: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """W (d_out x d_in) and H = X X^T (d_in x d_in) of a synthetic LLM-like layer.

    ``tokens`` defaults to max(2 d_in, 64) (full-rank H), ``rank`` of the shared factors to
    max(2, d_in // 8), ``outliers`` (outlier channels) to max(1, d_in // 100).
    """
    rng = np.random.default_rng(seed)
    tokens = tokens or max(2 * d_in, 64)
    rank = rank or max(2, d_in // 8)
    outliers = outliers if outliers is not None else max(1, d_in // 100)
    mixing = rng.standard_normal((d_in, rank)) / np.sqrt(rank)
    X = mixing @ rng.standard_normal((rank, tokens)) + 0.5 * rng.standard_normal((d_in, tokens))
    X *= rng.lognormal(0.0, 0.5, size=(d_in, 1))  # uneven channel scales
    channels = rng.choice(d_in, size=min(outliers, d_in), replace=False)
    X[channels] *= rng.uniform(10.0, 50.0, size=(len(channels), 1))
    W = rng.standard_t(3, size=(d_out, d_in)) * 0.02
    H = X @ X.T
    return W, (H + H.T) / 2
