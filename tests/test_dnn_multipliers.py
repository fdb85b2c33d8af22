"""The DNN row bound from ADMM's multipliers certified by one Shor solve (solvers.sdp.dnn_multipliers): every bound
<= the brute-force optimum at every scale and for every pattern, from any number of ADMM iterations (a deliberately
inexact solve of 1-3 iterations too) and under a time limit; never below Shor; above Shor where Shor leaves a gap;
below the DNN relaxation (Clarabel); float32 and float64 iterates alike; a kept Shor solve reused; bad input."""
import numpy as np
import pytest
from conftest import ROW_CASES, random_row, row_optimum

from solvers.sdp import dnn_multipliers
from solvers.sdp.dnn_ascent import FINAL_TOLERANCE
from solvers.sdp.primal_dual import row_sdp_bound_ipm


@pytest.mark.parametrize("iterations", [1, 3, 50, 400])
@pytest.mark.parametrize("scale", [1e-12, 1.0, 1e12])
@pytest.mark.parametrize("case", range(len(ROW_CASES)))
def test_the_bound_is_below_the_optimum_and_never_below_shor(case, scale, iterations):
    n, counts, groups = ROW_CASES[case]
    Q = random_row(n, seed=100 + case) * scale
    optimum = row_optimum(Q, counts, groups)
    result = dnn_multipliers.row_dnn_multiplier_bound(Q, counts, groups, max_iterations=iterations)
    assert result.shor <= result.bound <= optimum * (1 + 1e-9)
    assert result.admm_iterations == iterations and not result.first_reused
    assert result.shor >= row_sdp_bound_ipm(Q, counts, groups, tolerance=1e-8).bound * (1 - 2e-2)
    if result.multipliers is not None:  # the certified multipliers won: N >= 0 with a zero diagonal
        assert np.all(result.multipliers.N >= 0) and np.all(np.diag(result.multipliers.N) == 0)


def test_the_multipliers_close_most_of_shors_gap_and_stay_below_the_dnn_relaxation():
    cp = pytest.importorskip("cvxpy")
    from solvers.sdp.qcr import shor_problem

    closed = []
    for seed, n in ((0, 8), (1, 12), (2, 12), (3, 10)):
        Q = random_row(n, seed)
        problem = shor_problem(Q, n // 2, row_sums=True, nonnegative=True)[0]
        problem.solve(solver=cp.CLARABEL)
        optimum = row_optimum(Q, [n // 2], [np.arange(n)])
        ours = dnn_multipliers.row_dnn_multiplier_bound(Q, n // 2)
        assert ours.shor <= ours.bound <= problem.value * (1 + 1e-6) and ours.bound <= optimum * (1 + 1e-9)
        if problem.value > ours.shor * (1 + 1e-4):
            closed.append((ours.bound - ours.shor) / (problem.value - ours.shor))
    assert closed and np.median(closed) > 0.5  # most of the way from Shor to the DNN value


def test_float32_and_float64_iterates_give_the_same_bound():
    n, counts, groups = ROW_CASES[2]
    Q = random_row(n, seed=7)
    single = dnn_multipliers.row_dnn_multiplier_bound(Q, counts, groups, max_iterations=100)
    double = dnn_multipliers.row_dnn_multiplier_bound(Q, counts, groups, max_iterations=100, single=False)
    assert single.bound == pytest.approx(double.bound, rel=1e-4)


def test_a_kept_shor_solve_is_reused_and_gives_the_same_bound():
    n, counts, groups = ROW_CASES[0]
    Q = random_row(n, seed=11)
    first = row_sdp_bound_ipm(Q, counts, groups, tolerance=FINAL_TOLERANCE)
    reused = dnn_multipliers.row_dnn_multiplier_bound(Q, counts, groups, first=first)
    solved = dnn_multipliers.row_dnn_multiplier_bound(Q, counts, groups)
    assert reused.first_reused and reused.bound == pytest.approx(solved.bound, rel=1e-6)
    assert reused.iterations < solved.iterations
    with pytest.raises(ValueError, match="first must be a primal-dual RowSDP"):
        dnn_multipliers.row_dnn_multiplier_bound(random_row(8, seed=1), 4, first=first)


def test_a_time_limit_zero_iterations_and_degenerate_rows_still_give_valid_bounds():
    n, counts, groups = ROW_CASES[1]
    Q = random_row(n, seed=13)
    optimum = row_optimum(Q, counts, groups)
    quick = dnn_multipliers.row_dnn_multiplier_bound(Q, counts, groups, time_limit=1e-4)
    assert quick.bound <= optimum * (1 + 1e-9)
    none = dnn_multipliers.row_dnn_multiplier_bound(Q, counts, groups, max_iterations=0)
    assert none.admm_iterations == 0 and none.bound == none.shor <= optimum * (1 + 1e-9)
    groups2 = [np.arange(4), np.arange(4, 8)]
    Q8 = random_row(8, seed=9)
    assert dnn_multipliers.row_dnn_multiplier_bound(Q8, [0, 2], groups2).bound <= row_optimum(Q8, [0, 2], groups2) * (
        1 + 1e-9)
    assert dnn_multipliers.row_dnn_multiplier_bound(np.zeros((6, 6)), 3).bound == 0.0


def test_bad_input_is_one_clear_error():
    Q = random_row(6, seed=1)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="max_iterations"):
            dnn_multipliers.row_dnn_multiplier_bound(Q, 3, max_iterations=bad)
    with pytest.raises(ValueError, match="prune_counts"):
        dnn_multipliers.row_dnn_multiplier_bound(Q, 7)
