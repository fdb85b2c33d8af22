"""Every registered method: feasibility, agreement with brute force, closed forms, contracts."""
import itertools

import numpy as np
import pytest
from conftest import PATTERN_CASES, brute_force_objective

from instances.synthetic import synthetic_layer
from solvers import EXACT_METHODS, METHODS, solve_layer
from solvers.core.objective import is_feasible, layer_error
from solvers.core.patterns import make_pattern
from solvers.registry import SPECS

HEURISTICS = sorted(set(METHODS) - EXACT_METHODS)


def _layer_for(pattern):
    return synthetic_layer(2, 8, seed=4) if pattern == "per-layer" else synthetic_layer(4, 8, seed=3)


@pytest.mark.parametrize("pattern, sparsity", PATTERN_CASES)
@pytest.mark.parametrize("objective", ["mask", "reconstruct"])
def test_every_method_feasible_and_above_brute_force(pattern, sparsity, objective):
    W, H = _layer_for(pattern)
    optimum = solve_layer(W, H, sparsity, pattern, "brute-force", objective=objective)
    assert optimum.status == "optimal" and optimum.lower_bound == pytest.approx(optimum.objective)
    for method in METHODS:
        spec = SPECS[method]
        if not spec.available:
            continue  # an optional anchor (gurobi) that is not installed here
        if not spec.takes(make_pattern(pattern, W.shape, sparsity).kind, objective):
            with pytest.raises(ValueError, match=f"not {objective} with"):
                solve_layer(W, H, sparsity, pattern, method, objective=objective)
            continue
        r = solve_layer(W, H, sparsity, pattern, method, objective=objective)
        assert r.status != "error", r.info
        assert r.mask.dtype == bool and r.mask.shape == W.shape
        assert is_feasible(r.mask, make_pattern(pattern, W.shape, sparsity))
        assert r.objective == pytest.approx(layer_error(W, H, r.mask, objective), rel=1e-12)
        assert r.objective >= optimum.objective * (1 - 1e-9), method
        assert r.lower_bound <= optimum.objective * (1 + 1e-9)


def test_brute_force_matches_independent_enumeration():
    W, H = synthetic_layer(3, 8, seed=7)
    r = solve_layer(W, H, 0.5, "per-row", "brute-force")
    expected = sum(brute_force_objective(W[i], H, itertools.combinations(range(8), 4)) for i in range(3))
    assert r.objective == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("pattern, sparsity", PATTERN_CASES)
def test_identity_gram_makes_magnitude_optimal(pattern, sparsity):
    W, _ = _layer_for(pattern)
    H = np.eye(W.shape[1])
    optimum = solve_layer(W, H, sparsity, pattern, "brute-force").objective
    assert solve_layer(W, H, sparsity, pattern, "magnitude").objective == pytest.approx(optimum, rel=1e-12)


@pytest.mark.parametrize("pattern, sparsity", PATTERN_CASES)
def test_diagonal_gram_makes_wanda_optimal(pattern, sparsity):
    W, _ = _layer_for(pattern)
    H = np.diag(np.random.default_rng(5).lognormal(0, 1, W.shape[1]))
    optimum = solve_layer(W, H, sparsity, pattern, "brute-force").objective
    assert solve_layer(W, H, sparsity, pattern, "wanda").objective == pytest.approx(optimum, rel=1e-12)


def test_sparsegpt_returns_refit_weights_zero_where_pruned():
    W, H = synthetic_layer(6, 256, seed=1)
    r = solve_layer(W, H, 0.5, "per-row", "sparsegpt")
    V = r.info["weights"]
    assert V.shape == W.shape and np.all(V[~r.mask] == 0)
    # its re-fit beats keeping the kept weights unchanged
    assert r.info["weights_error"] < r.objective


@pytest.mark.parametrize("sparsity", [0.5, 0.7])
def test_sparsegpt_row_budget_spans_blocks_and_block_quota_is_kept_as_an_option(sparsity):
    from solvers.heuristics.sparsegpt import allocate

    W, H = synthetic_layer(16, 300, seed=2)  # blocks of 128, 128 and 44 columns
    W[:, :128] *= np.linspace(0.2, 3.0, 16)[:, None]  # rows whose first block matters more or less
    starts = [0, 128, 256, 300]
    per_block = lambda mask: np.stack([(~mask[:, a:b]).sum(axis=1) for a, b in zip(starts, starts[1:])], axis=1)  # noqa: E731
    row = solve_layer(W, H, sparsity, "per-row", "sparsegpt")
    block = solve_layer(W, H, sparsity, "per-row", "sparsegpt", quota="block")
    pruned = make_pattern("per-row", W.shape, sparsity).prune
    for r in (row, block):
        assert np.all((~r.mask).sum(axis=1) == pruned)
    assert np.all(per_block(block.mask) == allocate(pruned, np.diff(starts))[None, :])
    assert not np.all(per_block(row.mask) == per_block(row.mask)[0])  # rows spend their budgets differently
    assert row.info["quota"] == "row" and block.info["quota"] == "block"


def test_torch_tensors_accepted():
    torch = pytest.importorskip("torch")
    W, H = synthetic_layer(4, 8, seed=0)
    r_np = solve_layer(W, H, 0.5, "per-row", "wanda")
    r_t = solve_layer(torch.tensor(W, dtype=torch.float32), torch.tensor(H, dtype=torch.float64), 0.5, "per-row", "wanda")
    assert np.array_equal(r_np.mask, r_t.mask)
