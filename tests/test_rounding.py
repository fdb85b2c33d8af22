"""Masks rounded from a relaxation's point (solvers.sdp.rounding, certify's masks): feasible, their error exact and never
below the brute-force optimum, at every scale; never worse than the plain rounding; the optimum kept when the point is
the optimum; the layer's rows in one process and in a pool; bad input."""
import itertools

import numpy as np
import pytest
from conftest import ROW_CASES

from instances.synthetic import synthetic_layer
from solvers.core.objective import check_mask, mask_error_rows
from solvers.core.problem import make_problem
from solvers.sdp.layer import layer_row_bounds
from solvers.sdp.primal_dual import row_sdp_bound_ipm
from solvers.sdp.rounding import rounded_mask_row


def _row(n: int, seed: int, scale: float):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2 * n))
    H = (X @ X.T + 0.3 * np.outer(X[:, 0], X[:, 0])) * scale
    return rng.standard_normal(n) * scale, H


def _optimum(w, H, counts, groups):
    """(error, pruned indicator) of the best row by brute force."""
    Q = np.outer(w, w) * H
    best = (np.inf, None)
    for picked in itertools.product(*(itertools.combinations(g, p) for g, p in zip(groups, counts))):
        e = np.zeros(len(w))
        e[[j for part in picked for j in part]] = 1.0
        best = min(best, (float(e @ Q @ e), e), key=lambda t: t[0])
    return best


@pytest.mark.parametrize("scale", [1e-12, 1.0, 1e12])
@pytest.mark.parametrize("case", range(len(ROW_CASES)))
def test_a_rounded_mask_is_feasible_exact_and_not_below_the_optimum(case, scale):
    n, counts, groups = ROW_CASES[case]
    col_groups, keep = np.array(groups), len(groups[0]) - counts[0]
    for seed in range(3):
        w, H = _row(n, 10 * case + seed, scale)
        optimum, best = _optimum(w, H, counts, groups)
        shor = row_sdp_bound_ipm(np.outer(w, w) * H, counts, groups, tolerance=1e-2)
        for fractions in (shor.primal, np.random.default_rng(seed).random(n)):
            mask, error = rounded_mask_row(w, H, fractions, col_groups, keep)
            assert mask.dtype == bool and mask.shape == (n,)
            assert all(mask[g].sum() == keep for g in groups)  # keep per group: a feasible mask of the pattern
            assert error == pytest.approx(float(mask_error_rows(w[None], H, mask[None])[0]), rel=1e-12)
            assert error >= optimum * (1 - 1e-9)
            plain = np.ones(n, dtype=bool)
            for g in groups:
                plain[g[np.argsort(-fractions[g], kind="stable")[: len(g) - keep]]] = False
            assert error <= float(mask_error_rows(w[None], H, plain[None])[0]) * (1 + 1e-12)  # swaps only lower it
        at_optimum, error = rounded_mask_row(w, H, best, col_groups, keep)  # the optimum is a local optimum too
        assert error == pytest.approx(optimum, rel=1e-9)


def test_layer_rows_give_their_rounded_masks_in_one_process_in_a_pool_and_on_a_device():
    W, H = synthetic_layer(6, 40, seed=3)
    pytest.importorskip("torch")
    for pattern, sparsity in (("per-row", 0.5), ("2:4", None)):
        problem = make_problem(W, H, sparsity=sparsity, pattern=pattern)
        for relaxation, workers, device in (("shor", 1, None), ("shor", 2, None), ("dnn-ascent", 1, None),
                                            ("shor", 1, "cpu-torch")):
            bounds, info = layer_row_bounds(W, H, problem.pattern, relaxation=relaxation, workers=workers,
                                            max_iterations=4 if relaxation == "dnn-ascent" else None, rounding=True,
                                            device=device)
            assert sorted(info["rounded"]) == list(range(6))
            masks = np.stack([info["rounded"][i][0] for i in range(6)])
            check_mask(masks, problem.pattern)  # feasible for the pattern
            errors = np.array([info["rounded"][i][1] for i in range(6)])
            np.testing.assert_allclose(errors, mask_error_rows(W, H, masks), rtol=1e-9)
            assert np.all(bounds <= errors * (1 + 1e-9))
        assert "rounded" not in layer_row_bounds(W, H, problem.pattern)[1]


def test_bad_fractions_are_one_clear_error():
    w, H = _row(8, 1, 1.0)
    for bad in (np.zeros(7), np.full(8, np.nan)):
        with pytest.raises(ValueError, match="fractions must be"):
            rounded_mask_row(w, H, bad, np.arange(8)[None], 4)
