"""Shor solves kept for the DNN ascent's first step (solvers.sdp.kept_solves): an ascent started from a kept solve
gives the same bound as one that solves its first step, below the brute-force optimum at every scale; the layer's
Shor rows fill the store within its budget and its ascent rows spend it, in one process and in a pool; certify
counts the reused solves (DNN ascent and ADMM multipliers); bad input."""
import numpy as np
import pytest
from conftest import ROW_CASES, random_row, row_optimum

from instances.synthetic import synthetic_layer
from solvers import solve_layer
from solvers.core.objective import mask_error_rows
from solvers.core.problem import make_problem
from solvers.sdp import dnn_ascent
from solvers.sdp.kept_solves import KeptSolves
from solvers.sdp.layer import LAYER_ROW_TOLERANCE, layer_row_bounds
from solvers.sdp.primal_dual import row_sdp_bound_ipm


@pytest.mark.parametrize("scale", [1e-12, 1.0, 1e12])
@pytest.mark.parametrize("case", range(len(ROW_CASES)))
def test_an_ascent_from_a_kept_solve_matches_one_that_solves_its_first_step(case, scale):
    n, counts, groups = ROW_CASES[case]
    Q = random_row(n, seed=80 + case) * scale
    optimum = row_optimum(Q, counts, groups)
    store = KeptSolves()
    assert store.put(3, row_sdp_bound_ipm(Q, counts, groups, tolerance=dnn_ascent.FINAL_TOLERANCE))
    first = store.get(3)
    assert first.X.dtype == np.float32
    reused = dnn_ascent.row_dnn_ascent_bound(Q, counts, groups, max_steps=8, first=first)
    solved = dnn_ascent.row_dnn_ascent_bound(Q, counts, groups, max_steps=8)
    assert reused.first_reused and not solved.first_reused
    assert reused.bound <= optimum * (1 + 1e-9) and reused.shor <= reused.bound
    assert reused.shor == pytest.approx(solved.shor, rel=1e-6)  # the same Shor solve, less a rounding margin
    assert reused.bound == pytest.approx(solved.bound, rel=1e-3)
    assert reused.iterations < solved.iterations  # the first step's iterations are not spent again


def test_a_kept_solve_of_the_wrong_shape_is_one_clear_error():
    Q = random_row(10, seed=1)
    other = row_sdp_bound_ipm(random_row(8, seed=2), 4)
    with pytest.raises(ValueError, match="first must be a primal-dual RowSDP"):
        dnn_ascent.row_dnn_ascent_bound(Q, 5, first=other)


def test_the_store_keeps_float32_solves_within_its_budget():
    Q = random_row(10, seed=3)
    solve = row_sdp_bound_ipm(Q, 5)
    one_row = 11 * 11 * 4 + sum(v.nbytes for v in (solve.s, solve.rho, solve.primal))
    store = KeptSolves(budget_bytes=2 * one_row)
    assert store.put(0, solve) and store.put(1, solve) and not store.put(2, solve)  # full: the third is not kept
    assert len(store) == 2 and store.used_bytes == 2 * one_row and 2 not in store
    store.put(0, solve)  # kept again for the same row: no double count
    assert store.used_bytes == 2 * one_row
    store.spend(0)
    store.spend(7)  # nothing kept there: nothing spent
    assert store.reused == 1 and len(store) == 1 and store.get(0) is None and store.has_room()
    assert not KeptSolves(budget_bytes=0).put(0, solve)
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="budget_bytes"):
            KeptSolves(budget_bytes=bad)


@pytest.mark.parametrize("relaxation", ["dnn-ascent", "dnn-multipliers"])
@pytest.mark.parametrize("workers", [1, 2])
def test_layer_shor_rows_fill_the_store_and_wide_dnn_rows_spend_it(workers, relaxation):
    W, H = synthetic_layer(6, 24, seed=4)
    pattern = make_problem(W, H, sparsity=0.5, pattern="per-row").pattern
    mask = solve_layer(W, H, 0.5, "per-row", "sparseswaps").mask
    errors = mask_error_rows(W, H, mask)
    store = KeptSolves()
    shor, _ = layer_row_bounds(W, H, pattern, workers=workers, kept=store)
    assert len(store) == 6 and all(store.get(i).X.dtype == np.float32 for i in range(6))
    order = np.array([5, 1, 2])
    ascent, _ = layer_row_bounds(W, H, pattern, order=order, workers=workers, relaxation=relaxation,
                                 max_iterations=5, uppers=errors, kept=store)
    cold, _ = layer_row_bounds(W, H, pattern, order=order, relaxation=relaxation, max_iterations=5, uppers=errors)
    assert store.reused == 3 and len(store) == 3 and all(store.get(i) is None for i in order)
    assert np.all(ascent[order] <= errors[order] * (1 + 1e-9))  # each row's bound below its mask's error
    np.testing.assert_allclose(ascent[order], cold[order], rtol=1e-3)
    np.testing.assert_allclose(shor, layer_row_bounds(W, H, pattern, tolerance=LAYER_ROW_TOLERANCE)[0], rtol=1e-9)


@pytest.mark.parametrize("wide_dnn,kind", [("multipliers", "dnn-multipliers"), ("ascent", "dnn-ascent")])
def test_certify_counts_the_wide_dnn_rows_that_reused_their_shor_solve(wide_dnn, kind):
    W, H = synthetic_layer(4, 160, seed=2)  # 4 rows: the Shor phase ends early, the rest goes to the wide DNN rows
    answer = solve_layer(W, H, method="certify", pattern="per-row", sparsity=0.5, time_limit=4.0, wide_dnn=wide_dnn)
    info = answer.info
    assert info["rows_reached"][kind] >= 1
    assert 1 <= info["ascent_first_reused"] <= info["rows_reached"][kind]
    assert 0 < answer.lower_bound <= answer.objective
