"""The per-row diagonal Shor SDP bound by the primal-dual (HKM) method (solvers.sdp.primal_dual)."""
import numpy as np
import pytest
from test_row_sdp import _brute_force, _clarabel_value, _diagonal_row, _fixed_optimum, _row_q

import solvers.sdp.primal_dual as row_sdp_ipm
from solvers.sdp.barrier import _newton_system, row_sdp_bound
from solvers.sdp.primal_dual import (
    constraint_values,
    max_step,
    product_constraint_values,
    row_sdp_bound_ipm,
    schur_matrix,
    times_dual_step,
)
from solvers.sdp.shor import dual_matrix as _matrix
from solvers.sdp.shor import group_matrix

GROUPS = [(None, [5]), ([np.arange(0, 5), np.arange(5, 10)], [2, 3])]


def _constraint_matrices(n, C):
    """A_k with Z(y) = C0 - sum_k y_k A_k, from differences of Z (so they follow shor.dual_matrix)."""
    Q = np.zeros((n, n))
    zero = np.zeros(1 + C.shape[1] + n)
    return [_matrix(Q, C, zero) - _matrix(Q, C, e) for e in np.eye(len(zero))]


@pytest.mark.parametrize("groups", [None, [np.arange(0, 3), np.arange(3, 7)]])
def test_schur_matrix_and_operators_match_their_definitions(groups):
    """M_kl = tr(A_k X A_l G), A(X)_k = <A_k, X>, X A^T(dy) = X sum_k dy_k A_k, A(X G) without the product;
    X = G gives the barrier's K."""
    n, rng = 7, np.random.default_rng(0)
    C = group_matrix(n, groups)
    As = _constraint_matrices(n, C)
    X, G = (a @ a.T for a in rng.standard_normal((2, n + 1, n + 1)))
    expected = [[np.trace(A @ X @ B @ G) for B in As] for A in As]
    np.testing.assert_allclose(schur_matrix(X, G, C), expected, atol=1e-10)
    np.testing.assert_allclose(schur_matrix(G, G, C), _newton_system(G, C)[1], atol=1e-10)
    np.testing.assert_allclose(constraint_values(X, C), [np.sum(A * X) for A in As], atol=1e-12)
    np.testing.assert_allclose(product_constraint_values(X, G, C), constraint_values(X @ G, C), atol=1e-10)
    dy = rng.standard_normal(len(As))
    np.testing.assert_allclose(times_dual_step(X, dy, C), X @ sum(d * A for d, A in zip(dy, As)), atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("groups, prune_counts", GROUPS)
def test_bound_is_the_sdp_optimum_and_below_brute_force(seed, groups, prune_counts):
    Q = _row_q(10, seed)
    result = row_sdp_bound_ipm(Q, prune_counts, groups, tolerance=1e-7)
    assert result.bound == pytest.approx(_clarabel_value(Q, groups, prune_counts), rel=1e-5)
    assert result.bound <= _brute_force(Q, groups or [np.arange(10)], prune_counts) * (1 + 1e-9)
    C = group_matrix(10, groups)  # the certificate: Z at the returned point is PSD
    Z = _matrix(Q, C, np.concatenate(([result.gamma], result.rho, result.s)))
    assert np.linalg.eigvalsh(Z)[0] >= -1e-9 * np.abs(Q).max()
    assert result.gamma + np.dot(prune_counts, result.rho) == pytest.approx(result.bound, rel=1e-9)


@pytest.mark.parametrize("n, groups, counts", [(64, None, 32), (64, "2:4", 2), (96, None, 60)])
def test_agrees_with_the_barrier_method_in_fewer_iterations(n, groups, counts):
    Q = _row_q(n, 5)
    if groups == "2:4":
        groups, counts = [np.arange(g, g + 4) for g in range(0, n, 4)], [counts] * (n // 4)
    primal_dual = row_sdp_bound_ipm(Q, counts, groups)
    barrier = row_sdp_bound(Q, counts, groups)
    assert primal_dual.bound == pytest.approx(barrier.bound, rel=1e-4)
    assert primal_dual.newton_steps < barrier.newton_steps / 3


def test_linear_term_and_delegated_cases():
    Q = _row_q(10, 2)
    q = np.linspace(-1.0, 1.0, 10)
    with_linear = row_sdp_bound_ipm(Q, 4, linear=q, tolerance=1e-7)
    assert with_linear.bound == pytest.approx(row_sdp_bound(Q, 4, linear=q, tolerance=1e-7).bound, rel=1e-5)
    assert row_sdp_bound_ipm(np.zeros((4, 4)), 2).bound == 0.0  # Q = 0: the barrier solver's exact answer
    groups = [np.arange(0, 5), np.arange(5, 10)]  # a group with nothing to choose: solved with it fixed
    assert row_sdp_bound_ipm(Q, [0, 3], groups).bound == pytest.approx(row_sdp_bound(Q, [0, 3], groups).bound)
    with pytest.raises(ValueError, match="square"):
        row_sdp_bound_ipm(np.ones((3, 4)), 1)
    with pytest.raises(ValueError, match="do not fit"):
        row_sdp_bound_ipm(np.eye(4), 5)
    with pytest.raises(ValueError, match="linear"):
        row_sdp_bound_ipm(Q, 4, linear=np.ones(3))


def test_stopped_early_the_bound_is_still_valid():
    Q = _row_q(12, 4)
    optimum = _brute_force(Q, [np.arange(12)], [6])
    for iterations in (1, 3):
        early = row_sdp_bound_ipm(Q, 6, max_iterations=iterations)
        assert early.bound <= optimum * (1 + 1e-9) and early.newton_steps <= iterations


@pytest.mark.parametrize("groups, prune_counts", GROUPS)
def test_cutoff_stops_early_with_a_valid_bound_and_nodes_solve_by_either_method(groups, prune_counts):
    """The IPM stops once its bound reaches ``cutoff`` (a valid bound, at least the cutoff, in fewer iterations);
    ``fixed_row_bound`` with ``solver=row_sdp_bound_ipm`` (fw-bnb's N:M node SDPs) agrees with the barrier's node
    bound and stays below the fixed row's brute-force optimum."""
    from solvers.sdp.barrier import fixed_row_bound

    index_groups = groups if groups is not None else [np.arange(10)]
    Q = _row_q(10, 5)
    full = row_sdp_bound_ipm(Q, prune_counts, groups, tolerance=1e-6)
    cut = row_sdp_bound_ipm(Q, prune_counts, groups, tolerance=1e-6, cutoff=0.9 * full.bound)
    assert 0.9 * full.bound <= cut.bound <= full.bound * (1 + 1e-6) and cut.newton_steps < full.newton_steps
    keep, prune = np.zeros(10, bool), np.zeros(10, bool)
    keep[index_groups[0][0]], prune[index_groups[-1][-1]] = True, True
    optimum = _fixed_optimum(Q, index_groups, prune_counts, keep, prune)
    by_ipm, warm = fixed_row_bound(Q, index_groups, prune_counts, keep, prune, (full.s, full.rho, full.tau),
                                   solver=row_sdp_bound_ipm, tolerance=1e-6)
    by_barrier, _ = fixed_row_bound(Q, index_groups, prune_counts, keep, prune, tolerance=1e-6)
    assert by_ipm == pytest.approx(by_barrier, rel=1e-4) and by_ipm <= optimum * (1 + 1e-9)
    assert warm[3][keep].max() == 0.0 and warm[3][prune].min() == 1.0  # the primal point on all n entries


@pytest.mark.parametrize("n", [40, 150])  # dense eigenvalue / Lanczos
def test_max_step_is_the_distance_to_the_boundary(n, monkeypatch):
    rng = np.random.default_rng(n)
    B = rng.standard_normal((n, n))
    P, D = B @ B.T / n + 0.1 * np.eye(n), rng.standard_normal((n, n))
    D = (D + D.T) / 2
    lower = np.linalg.cholesky(P)
    t = max_step(lower, D, 1e6)
    monkeypatch.setattr(row_sdp_ipm, "LANCZOS_MIN_N", 10**9)
    exact = max_step(lower, D, 1e6)  # from the dense eigenvalue
    assert np.linalg.eigvalsh(P + 0.999 * exact * D)[0] > 0 > np.linalg.eigvalsh(P + 1.001 * exact * D)[0]
    # Lanczos' Ritz value is at most the top eigenvalue: its step is at least the exact one, within the tolerance,
    # so the method's step (STEP_FRACTION of a grid point below it) stays inside the cone
    assert exact * (1 - 1e-9) <= t <= exact * (1 + row_sdp_ipm.LANCZOS_TOLERANCE)
    assert max_step(lower, D @ D, 5.0) == 5.0  # a PSD direction: only the cap binds
    monkeypatch.setattr(row_sdp_ipm, "LANCZOS_MIN_N", 0)
    monkeypatch.setattr(row_sdp_ipm, "FULL_ROW_MIN_N", 0)  # the full rows' looser eigenvalue
    loose = max_step(lower, D, 1e6)
    assert exact * (1 - 1e-9) <= loose <= exact * (1 + row_sdp_ipm.FULL_ROW_LANCZOS[0])
    assert loose * row_sdp_ipm.STEP_FRACTION < exact


def test_single_precision_directions_keep_the_bound(monkeypatch):
    """On full rows (``FULL_ROW_MIN_N``) the directions' n^3 products run in float32; the bound (from y's float64
    test) stays below brute force and within the stopping tolerance of the all-float64 run's."""
    Q = _row_q(10, 7)
    optimum = _brute_force(Q, [np.arange(10)], [5])
    monkeypatch.setattr(row_sdp_ipm, "FULL_ROW_MIN_N", 0)
    single = row_sdp_bound_ipm(Q, 5, tolerance=1e-6)
    monkeypatch.setattr(row_sdp_ipm, "FULL_ROW_MIN_N", 10**9)
    double = row_sdp_bound_ipm(Q, 5, tolerance=1e-6)
    assert single.bound <= optimum * (1 + 1e-9) and single.bound == pytest.approx(double.bound, rel=1e-5)
    Z = _matrix(Q, group_matrix(10, None), np.concatenate(([single.gamma], single.rho, single.s)))
    assert np.linalg.eigvalsh(Z)[0] >= -1e-9 * np.abs(Q).max()


def test_steps_past_the_boundary_are_halved_back(monkeypatch):
    """An overestimated largest step (as an inexact eigenvalue would give) leaves the cone; the next iteration
    halves the step until X and Z factor again, and the bound stays a certified one."""
    Q = _row_q(10, 3)
    exact = row_sdp_bound_ipm(Q, 5, tolerance=1e-7)
    true_max_step = row_sdp_ipm.max_step
    monkeypatch.setattr(row_sdp_ipm, "TRIAL_STEP_MAX_N", 0)  # step lengths from the (overestimated) eigenvalue
    monkeypatch.setattr(row_sdp_ipm, "max_step", lambda *args: 1.6 * true_max_step(*args))
    overshot = row_sdp_bound_ipm(Q, 5, tolerance=1e-7)
    assert overshot.bound <= _brute_force(Q, [np.arange(10)], [5]) * (1 + 1e-9)
    assert overshot.bound == pytest.approx(exact.bound, rel=1e-3)
    Z = _matrix(Q, group_matrix(10, None), np.concatenate(([overshot.gamma], overshot.rho, overshot.s)))
    assert np.linalg.eigvalsh(Z)[0] >= -1e-9 * np.abs(Q).max()


@pytest.mark.parametrize("groups, prune_counts", GROUPS)
def test_primal_point_and_tau_warm_start_the_barrier_nodes(groups, prune_counts):
    """The IPM's primal point e = x / X_00 (fw-bnb's root point to branch on) lies in [0, 1], meets every group's
    count up to the primal residual and is the optimum's indicator on a diagonal (tight) Q; its (s, rho, tau)
    warm-start ``fixed_row_bound`` to the same bound as a cold node solve, below brute force."""
    from solvers.sdp.barrier import fixed_row_bound

    index_groups = groups if groups is not None else [np.arange(10)]
    Q = _row_q(10, 3)
    result = row_sdp_bound_ipm(Q, prune_counts, groups, tolerance=1e-6)
    e = result.primal
    assert e.shape == (10,) and e.min() >= 0.0 and e.max() <= 1.0
    assert [e[g].sum() for g in index_groups] == pytest.approx(prune_counts, abs=1e-3)
    assert result.tau > 1.0 and 11 / result.tau <= 1e-5 * result.bound  # its central-path gap met the tolerance
    diagonal, expected = _diagonal_row(index_groups, prune_counts)
    tight = row_sdp_bound_ipm(diagonal, prune_counts, groups, tolerance=1e-8).primal
    assert tight == pytest.approx(expected, abs=1e-3)
    keep, prune = np.zeros(10, bool), np.zeros(10, bool)
    keep[index_groups[0][0]], prune[index_groups[-1][-1]] = True, True
    start = (result.s, result.rho, result.tau)
    warm, _ = fixed_row_bound(Q, index_groups, prune_counts, keep, prune, start, tolerance=1e-6)
    cold, _ = fixed_row_bound(Q, index_groups, prune_counts, keep, prune, tolerance=1e-6)
    assert warm == pytest.approx(cold, rel=1e-4)
    assert warm <= _fixed_optimum(Q, index_groups, prune_counts, keep, prune) * (1 + 1e-9)


def _nearby(Q, seed, size=0.05):
    """Q plus a small PSD change (an ascent step's move of the objective)."""
    v = np.random.default_rng(seed).standard_normal((len(Q), 2))
    return Q + size * float(np.mean(np.diag(Q))) * (v @ v.T) / len(Q)


@pytest.mark.parametrize("scale", [1e-12, 1.0, 1e12])
@pytest.mark.parametrize("groups, prune_counts", GROUPS)
def test_a_warm_start_from_a_nearby_problem_is_valid_and_close_to_cold(groups, prune_counts, scale):
    """From the result of a nearby problem (``warm``) the bound is <= the brute-force optimum and within 1e-3 of
    the cold solve's, at any scale of Q (at tolerance 1e-6 it stops with a primal residual ~5e-3, where a cold
    solve reaches ~1e-4: the warm bound is valid but a little looser)."""
    Q = _row_q(10, 3) * scale
    moved = _nearby(Q, 1)
    before = row_sdp_bound_ipm(Q, prune_counts, groups, tolerance=1e-6)
    cold = row_sdp_bound_ipm(moved, prune_counts, groups, tolerance=1e-6)
    warm = row_sdp_bound_ipm(moved, prune_counts, groups, tolerance=1e-6, warm=before)
    assert warm.bound == pytest.approx(cold.bound, rel=1e-3) and not cold.warm
    assert warm.bound <= _brute_force(moved, groups or [np.arange(10)], prune_counts) * (1 + 1e-9)


def _ascent_rows(pattern: str, n: int = 64):
    """(groups, counts) of a 64-wide per-row 50 % or 2:4 row."""
    return (None, n // 2) if pattern == "per-row" else ([np.arange(g, g + 4) for g in range(0, n, 4)], [2] * (n // 4))


@pytest.mark.parametrize("scale", [1e-12, 1.0, 1e12])
@pytest.mark.parametrize("pattern", ["per-row", "2:4"])
@pytest.mark.parametrize("tolerance", ["STEP_TOLERANCE", "FINAL_TOLERANCE"])
def test_a_warm_start_at_the_ascents_tolerance_needs_fewer_iterations(pattern, scale, tolerance):
    """At the DNN ascent's step tolerances (1e-1 for its steps, 1e-2 for its first and last solves and fw-bnb's
    ascent) on 64-wide rows moved a little: the warm run is kept, needs fewer iterations than a cold one (at 1e-2
    3-4 against 8-9) and its bound is within that tolerance of the cold bound."""
    from solvers.sdp import dnn_ascent

    tolerance = getattr(dnn_ascent, tolerance)
    groups, counts = _ascent_rows(pattern)
    for seed in range(3):
        Q = _row_q(64, seed) * scale
        moved = _nearby(Q, seed + 10)
        before = row_sdp_bound_ipm(Q, counts, groups, tolerance=tolerance)
        cold = row_sdp_bound_ipm(moved, counts, groups, tolerance=tolerance)
        warm = row_sdp_bound_ipm(moved, counts, groups, tolerance=tolerance, warm=before)
        assert warm.warm and warm.newton_steps < cold.newton_steps
        assert warm.bound == pytest.approx(cold.bound, rel=tolerance)


@pytest.mark.parametrize("pattern", ["per-row", "2:4"])
def test_a_warm_run_that_only_looks_converged_goes_on(pattern, monkeypatch):
    """At tolerance 1e-1 a warm run can reach the tolerance while X is still far from A(X) = b. With the residual
    limit lowered to 1e-2, every kept warm run ends within it (it went on past the tolerance, or was dropped and
    solved cold), its bound within the tolerance of the cold one, and some kept run needed more iterations than
    with the default limit."""
    groups, counts = _ascent_rows(pattern)
    C = group_matrix(64, groups)
    b = np.concatenate(([1.0], np.asarray(counts, dtype=float).ravel(), np.zeros(64)))
    went_on = 0
    for seed in range(3):
        Q = _row_q(64, seed)
        moved = _nearby(Q, seed + 10)
        before = row_sdp_bound_ipm(Q, counts, groups, tolerance=1e-1)
        cold = row_sdp_bound_ipm(moved, counts, groups, tolerance=1e-1)
        default = row_sdp_bound_ipm(moved, counts, groups, tolerance=1e-1, warm=before)
        with monkeypatch.context() as patch:
            patch.setattr(row_sdp_ipm, "WARM_RESIDUAL", 1e-2)
            strict = row_sdp_bound_ipm(moved, counts, groups, tolerance=1e-1, warm=before)
        assert strict.bound == pytest.approx(cold.bound, rel=1e-1)
        if strict.warm:
            assert np.max(np.abs(b - row_sdp_ipm.constraint_values(strict.X, C))) <= 1e-2
            went_on += strict.newton_steps > default.newton_steps
    assert went_on


@pytest.mark.parametrize("groups, prune_counts", GROUPS)
def test_a_warm_run_given_up_is_solved_cold(groups, prune_counts, monkeypatch):
    """A warm run that stalls with a large primal residual or runs too long is dropped: the result is the cold
    solve's (its iterations counted too), valid; a warm start from a far-off problem still gives a valid bound."""
    Q = _row_q(10, 6)
    optimum = _brute_force(Q, groups or [np.arange(10)], prune_counts)
    cold = row_sdp_bound_ipm(Q, prune_counts, groups, tolerance=1e-6)
    far = row_sdp_bound_ipm(_row_q(10, 7) * 1e6, prune_counts, groups, tolerance=1e-6)
    from_far = row_sdp_bound_ipm(Q, prune_counts, groups, tolerance=1e-6, warm=far)
    assert from_far.bound <= optimum * (1 + 1e-9) and from_far.bound == pytest.approx(cold.bound, rel=1e-4)
    for constant, value in (("WARM_RESIDUAL", -1.0), ("WARM_MAX_ITERATIONS", 1)):
        with monkeypatch.context() as patch:
            patch.setattr(row_sdp_ipm, constant, value)
            dropped = row_sdp_bound_ipm(Q, prune_counts, groups, tolerance=1e-6, warm=cold)
        assert not dropped.warm and dropped.bound == pytest.approx(cold.bound, rel=1e-12)
        assert dropped.newton_steps > cold.newton_steps


def test_a_bad_warm_start_is_one_clear_error():
    Q = _row_q(10, 2)
    other = row_sdp_bound_ipm(_row_q(8, 2), 4)
    with pytest.raises(ValueError, match="warm must be"):
        row_sdp_bound_ipm(Q, 5, warm=other)
    with pytest.raises(ValueError, match="warm must be"):
        row_sdp_bound_ipm(Q, 5, warm=row_sdp_bound(Q, 5))  # the barrier's result has no X
