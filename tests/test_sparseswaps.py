"""SparseSwaps: monotone from its start and a true 1-swap local optimum."""
import numpy as np
import pytest

from instances.synthetic import synthetic_layer
from solvers import solve_layer
from solvers.core.objective import layer_error
from solvers.core.patterns import make_pattern


def _no_improving_swap(W, H, mask, pattern):
    """Check every swap inside every group by recomputing the objective from scratch."""
    base = layer_error(W, H, mask)
    flat = mask.reshape(-1)
    for group in pattern.groups:
        kept, pruned = group[flat[group]], group[~flat[group]]
        for j in pruned:
            for l in kept:
                trial = flat.copy()
                trial[j], trial[l] = True, False
                if layer_error(W, H, trial.reshape(mask.shape)) < base * (1 - 1e-9):
                    return False
    return True


@pytest.mark.parametrize("pattern, sparsity, shape", [
    ("per-row", 0.5, (5, 16)), ("per-row", 0.7, (3, 20)), ("2:4", None, (4, 16)), ("per-layer", 0.5, (4, 10)),
])
@pytest.mark.parametrize("start", ["magnitude", "wanda"])
def test_monotone_and_local_optimum(pattern, sparsity, shape, start):
    W, H = synthetic_layer(*shape, seed=11)
    start_value = solve_layer(W, H, sparsity, pattern, start).objective
    r = solve_layer(W, H, sparsity, pattern, "sparseswaps", warm_start=start)
    assert r.info["local_optimum"] is True
    assert r.objective <= start_value * (1 + 1e-12)
    assert r.info["start_mask_error"] == pytest.approx(start_value)
    assert _no_improving_swap(W, H, r.mask, make_pattern(pattern, W.shape, sparsity))


def test_warm_start_mask_array_and_bad_warm_start():
    W, H = synthetic_layer(3, 8, seed=2)
    start = solve_layer(W, H, 0.5, "per-row", "magnitude").mask
    r = solve_layer(W, H, 0.5, "per-row", "sparseswaps", warm_start=start)
    assert r.info["warm_start"] == "mask" and r.objective <= layer_error(W, H, start)
    with pytest.raises(ValueError, match="infeasible"):
        solve_layer(W, H, 0.5, "per-row", "sparseswaps", warm_start=np.ones((3, 8), dtype=bool))
    with pytest.raises(ValueError, match="warm_start"):
        solve_layer(W, H, 0.5, "per-row", "sparseswaps", warm_start="nope")


def test_iteration_limit_keeps_feasible_and_flags_not_converged():
    W, H = synthetic_layer(8, 32, seed=5)
    r = solve_layer(W, H, 0.5, "per-row", "sparseswaps", max_iters=1)
    assert r.status == "heuristic" and r.info["local_optimum"] is False
    assert r.mask.sum(axis=1).tolist() == [16] * 8


@pytest.mark.parametrize("device", ["cpu-torch", "cuda"])
@pytest.mark.parametrize("pattern, sparsity", [("per-row", 0.5), ("2:4", None), ("per-row", 0.6)])
def test_torch_path_gives_the_numpy_answer(device, pattern, sparsity):
    """Same swaps on torch tensors (CPU or GPU); chunking of rows does not change the answer."""
    torch = pytest.importorskip("torch")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device here; the GPU path is checked where one is present")
    W, H = synthetic_layer(40, 32, seed=6)
    ref = solve_layer(W, H, sparsity, pattern, "sparseswaps")
    out = solve_layer(W, H, sparsity, pattern, "sparseswaps", device=device, chunk_rows=16)
    assert out.info["device"] == device and out.info["local_optimum"]
    assert out.info["swaps"] == ref.info["swaps"]
    np.testing.assert_array_equal(out.mask, ref.mask)
    assert _no_improving_swap(W, H, out.mask, make_pattern(pattern, W.shape, sparsity))
