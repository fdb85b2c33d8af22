"""Row SDP bounds batched with torch (solvers.sdp.batched) against the numpy primal-dual solver."""
import numpy as np
import pytest
from conftest import synthetic_layer
from test_fw import _torch_device
from test_row_sdp import _brute_force

from solvers.api import solve_layer
from solvers.core.objective import mask_error_rows
from solvers.core.problem import make_problem
from solvers.sdp.layer import layer_row_bounds
from solvers.sdp.primal_dual import row_sdp_bound_ipm


def _device(name):
    _torch_device(name)  # skips without torch, or without CUDA for "cuda"
    return name


@pytest.mark.parametrize("device", ["cpu-torch", "cuda"])
@pytest.mark.parametrize("pattern", ["per-row", "2:4"])
def test_batched_bounds_are_the_numpy_solvers(device, pattern):
    """Same method, same step grid: the same bounds as row by row with numpy, in stacks of any size,
    each below the row's error under a feasible mask."""
    from solvers.sdp.batched import row_sdp_bounds_batched

    W, H = synthetic_layer(7, 40, seed=3)
    problem = make_problem(W, H, sparsity=0.5, pattern=pattern)
    groups = list(problem.pattern.row_groups())
    counts = [problem.pattern.prune] * len(groups)
    rows = [6, 0, 3, 2, 5]
    solved = [row_sdp_bound_ipm(W[i][:, None] * H * W[i][None, :], counts, groups, tolerance=1e-4) for i in rows]
    expected = [result.bound for result in solved]
    for stack in (2, 5):
        bounds, iterations, points = row_sdp_bounds_batched(W, H, rows, counts, groups, device=_device(device),
                                                            tolerance=1e-4, batch_rows=stack, points=True)
        np.testing.assert_allclose(bounds, expected, rtol=1e-7)
        np.testing.assert_allclose(points, [result.primal for result in solved], atol=1e-6)  # the primal points too
        assert iterations > 0
    mask = solve_layer(W, H, 0.5, pattern, "sparseswaps").mask
    assert np.all(bounds <= mask_error_rows(W, H, mask)[rows] * (1 + 1e-9))


def test_layer_row_bounds_on_a_torch_device_and_edge_cases():
    _device("cpu-torch")
    from solvers.sdp.batched import row_sdp_bounds_batched

    W, H = synthetic_layer(5, 24, seed=4)
    W[2] = 0.0  # a zero row: error 0 under every mask, bound 0
    problem = make_problem(W, H, sparsity=0.5, pattern="per-row")
    numpy_rows, _ = layer_row_bounds(W, H, problem.pattern, order=[4, 2, 1])
    torch_rows, info = layer_row_bounds(W, H, problem.pattern, order=[4, 2, 1], device="cpu-torch")
    np.testing.assert_allclose(torch_rows, numpy_rows, rtol=1e-7)  # NaN where neither ran (rows 0, 3)
    assert info["sdp_rows"] == 3 and torch_rows[2] == 0.0
    assert np.all(np.isnan(layer_row_bounds(W, H, problem.pattern, time_limit=0.0, device="cpu-torch")[0]))
    with pytest.raises(ValueError, match="device"):
        layer_row_bounds(W, H, problem.pattern, device="tpu")
    with pytest.raises(ValueError, match="prune count"):
        row_sdp_bounds_batched(W, H, [0], [0], device="cpu-torch")


def test_batched_bounds_are_below_brute_force_optima():
    _device("cpu-torch")
    from solvers.sdp.batched import row_sdp_bounds_batched

    W, H = synthetic_layer(4, 12, seed=6)
    bounds, _ = row_sdp_bounds_batched(W, H, range(4), [6], device="cpu-torch", tolerance=1e-6)
    for i in range(4):
        Q = W[i][:, None] * H * W[i][None, :]
        optimum = _brute_force(Q, [np.arange(12)], [6])
        assert bounds[i] <= optimum * (1 + 1e-9)
        assert bounds[i] == pytest.approx(row_sdp_bound_ipm(Q, [6], tolerance=1e-6).bound, rel=1e-7)


def test_batched_bounds_reject_bad_input():
    _device("cpu-torch")
    from solvers.sdp.batched import row_sdp_bounds_batched

    W, H = synthetic_layer(3, 8, seed=1)
    for bad_W, bad_H in ((W, H[:7, :7]), (W[0], H), (np.where(W > 0, np.nan, W), H)):
        with pytest.raises(ValueError, match="finite"):
            row_sdp_bounds_batched(bad_W, bad_H, [0], [4], device="cpu-torch")
    with pytest.raises(ValueError, match="row indices"):
        row_sdp_bounds_batched(W, H, [3], [4], device="cpu-torch")
    with pytest.raises(ValueError, match="device"):
        row_sdp_bounds_batched(W, H, [0], [4], device="gpu")
