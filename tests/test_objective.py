"""The objective module against direct formulas."""
import numpy as np
import pytest

from instances.synthetic import synthetic_layer
from solvers.core.objective import check_mask, damped_gram, layer_error, output_energy, refit_weights, relative_error
from solvers.core.patterns import make_pattern, select_top


def test_mask_error_equals_output_error_with_activations():
    rng = np.random.default_rng(0)
    W, X = rng.standard_normal((5, 12)), rng.standard_normal((12, 40))
    mask = rng.random((5, 12)) < 0.5
    direct = np.linalg.norm((W - W * mask) @ X) ** 2
    assert layer_error(W, X @ X.T, mask) == pytest.approx(direct, rel=1e-10)
    assert output_energy(W, X @ X.T) == pytest.approx(np.linalg.norm(W @ X) ** 2, rel=1e-10)


@pytest.mark.parametrize("sparsity", [0.2, 0.5, 0.8])  # pruned system smaller / equal / kept system smaller
def test_reconstruct_error_is_least_squares_refit(sparsity):
    """g(M) equals the least-squares re-fit residual computed directly on the damped problem."""
    W, H = synthetic_layer(3, 10, seed=1)
    mask = select_top(np.abs(W), make_pattern("per-row", W.shape, sparsity))
    Hd = damped_gram(H)
    L = np.linalg.cholesky(Hd)  # Hd = L L^T: residual of row i = ||L^T (w - v)||^2
    direct = 0.0
    for i in range(3):
        kept = np.flatnonzero(mask[i])
        v_kept, *_ = np.linalg.lstsq(L.T[:, kept], L.T @ W[i], rcond=None)
        r = L.T @ W[i] - L.T[:, kept] @ v_kept
        direct += r @ r
    assert layer_error(W, H, mask, "reconstruct") == pytest.approx(direct, rel=1e-8)
    V = refit_weights(W, H, mask)
    assert np.all(V[~mask] == 0)
    assert np.einsum("ij,jk,ik->", W - V, Hd, W - V) == pytest.approx(direct, rel=1e-8)


def test_reconstruct_never_above_mask_error_with_no_damping():
    W, H = synthetic_layer(4, 12, seed=2)
    mask = select_top(np.abs(W), make_pattern("per-row", W.shape, 0.5))
    assert layer_error(W, H, mask, "reconstruct", damping=0.0) <= layer_error(W, H, mask) * (1 + 1e-9)


def test_relative_error_and_mask_check():
    W, H = synthetic_layer(2, 8, seed=0)
    full = np.ones(W.shape, dtype=bool)
    assert relative_error(layer_error(W, H, ~full), W, H) == pytest.approx(1.0)
    pattern = make_pattern("2:4", W.shape, None)
    with pytest.raises(ValueError, match="infeasible"):
        check_mask(full, pattern)
    with pytest.raises(ValueError, match="bool"):
        check_mask(full.astype(int), pattern)


@pytest.mark.parametrize("objective", ["mask", "reconstruct"])
def test_return_weights_gives_the_weights_the_objective_measures(objective):
    """result.weights: W * mask, or the damped re-fit whose H_d-error is the reported objective."""
    from solvers import solve_layer

    W, H = synthetic_layer(6, 16, seed=7)
    r = solve_layer(W, H, 0.5, "2:4", "wanda", objective=objective, return_weights=True)
    assert r.weights is not None and np.all(r.weights[~r.mask] == 0)
    if objective == "mask":
        np.testing.assert_array_equal(r.weights, np.where(r.mask, W, 0.0))
        return
    np.testing.assert_allclose(r.weights, refit_weights(W, H, r.mask), rtol=1e-12, atol=1e-14)
    D = W - r.weights
    assert float(np.sum((D @ damped_gram(H)) * D)) == pytest.approx(r.objective, rel=1e-9)
    assert solve_layer(W, H, 0.5, "2:4", "wanda", objective=objective).weights is None
