"""The per-row diagonal Shor SDP bound by the dual barrier method (solvers.sdp.barrier)."""
import itertools

import numpy as np
import pytest
from conftest import PATTERN_CASES

from instances.synthetic import synthetic_layer
from solvers import solve_layer
from solvers.core.objective import mask_error_rows
from solvers.core.problem import make_problem
from solvers.sdp.barrier import _newton_system, fixed_row_bound, fixing_increments, row_sdp_bound
from solvers.sdp.layer import layer_row_bounds
from solvers.sdp.shor import dual_matrix as _matrix
from solvers.sdp.shor import group_matrix


def _row_q(n, seed):
    """Q = diag(w) H diag(w) with correlated inputs (a near-duplicate column), like real rows."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3 * n))
    X[1] = X[0] + 0.1 * X[1]
    w = rng.standard_normal(n)
    return w[:, None] * (X @ X.T) * w[None, :]


def _brute_force(Q, groups, prune_counts):
    """min e^T Q e over binary e with the given count in every group."""
    choices = [itertools.combinations(g, c) for g, c in zip(groups, prune_counts)]
    best = np.inf
    for picked in itertools.product(*choices):
        e = np.zeros(len(Q))
        e[[j for part in picked for j in part]] = 1.0
        best = min(best, e @ Q @ e)
    return best


def _clarabel_value(Q, groups, prune_counts):
    import cvxpy as cp

    n = len(Q)
    C = group_matrix(n, groups)
    gamma, rho, s = cp.Variable(), cp.Variable(C.shape[1]), cp.Variable(n)
    v = cp.reshape((s - C @ rho) / 2, (n, 1), order="C")
    Z = cp.bmat([[cp.reshape(-gamma, (1, 1), order="C"), v.T], [v, Q - cp.diag(s)]])
    problem = cp.Problem(cp.Maximize(gamma + np.asarray(prune_counts, float) @ rho), [(Z + Z.T) / 2 >> 0])
    return problem.solve(solver=cp.CLARABEL)


def test_newton_system_matches_the_traces():
    """grad_k = tr(G A_k), K_kl = tr(G A_k G A_l) for the structured A_k (one group and N:M groups)."""
    n = 8
    Q = _row_q(n, 0)
    for groups in (None, [np.arange(0, 4), np.arange(4, 8)]):
        C = group_matrix(n, groups)
        y = np.concatenate(([-1e3], 0.1 * np.arange(C.shape[1]), -np.ones(n)))
        Z = _matrix(Q, C, y)
        inverse = np.linalg.inv(Z)
        directions = [_matrix(Q, C, y + e) - Z for e in np.eye(len(y))]
        grad, K = _newton_system(inverse, C)
        np.testing.assert_allclose(grad, [np.trace(inverse @ A) for A in directions], atol=1e-12)
        expected = [[np.trace(inverse @ A @ inverse @ B) for B in directions] for A in directions]
        np.testing.assert_allclose(K, expected, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("groups, prune_counts", [(None, [5]), ([np.arange(0, 5), np.arange(5, 10)], [2, 3])])
def test_bound_is_the_sdp_optimum_and_below_brute_force(seed, groups, prune_counts):
    Q = _row_q(10, seed)
    result = row_sdp_bound(Q, prune_counts, groups, tolerance=1e-7)
    reference = _clarabel_value(Q, groups, prune_counts)
    assert result.bound == pytest.approx(reference, rel=1e-5)
    optimum = _brute_force(Q, groups or [np.arange(10)], prune_counts)
    assert result.bound <= optimum * (1 + 1e-9)
    # a certificate: Z(gamma, rho, s) is PSD, so gamma + p^T rho is a valid bound for any such point
    C = group_matrix(10, groups)
    Z = _matrix(Q, C, np.concatenate(([result.gamma], result.rho, result.s)))
    assert np.linalg.eigvalsh(Z)[0] >= -1e-9 * np.abs(Q).max()
    assert result.gamma + np.dot(prune_counts, result.rho) == pytest.approx(result.bound, rel=1e-9)


def test_bound_beats_the_plain_relaxation():
    """Shor with diag(E) = e is at least the convex QP relaxation over the hypersimplex."""
    import cvxpy as cp

    Q = _row_q(12, 3)
    e = cp.Variable(12)
    factor = np.linalg.cholesky(Q + 1e-12 * np.eye(12))
    plain = cp.Problem(cp.Minimize(cp.sum_squares(factor.T @ e)), [e >= 0, e <= 1, cp.sum(e) == 6]).solve()
    assert row_sdp_bound(Q, 6).bound >= plain * (1 - 1e-6)


def test_zero_row_and_bad_input():
    assert row_sdp_bound(np.zeros((4, 4)), 2).bound == 0.0
    with pytest.raises(ValueError, match="square"):
        row_sdp_bound(np.ones((3, 4)), 1)
    with pytest.raises(ValueError, match="do not fit"):
        row_sdp_bound(np.eye(4), 5)
    with pytest.raises(ValueError, match="partition"):
        row_sdp_bound(np.eye(4), [1, 1], [np.arange(0, 2), np.arange(1, 4)])


@pytest.mark.parametrize("pattern, sparsity", PATTERN_CASES)
def test_fw_row_sdp_bound_below_optimum_and_above_diag_scaled(pattern, sparsity):
    W, H = synthetic_layer(2, 8, seed=4) if pattern == "per-layer" else synthetic_layer(4, 8, seed=3)
    optimum = solve_layer(W, H, sparsity, pattern, "brute-force").objective
    options = dict(alpha=0.0, certify_iterations=300, max_iterations=300, variant="bpcg")
    cheap = solve_layer(W, H, sparsity, pattern, "fw", strengthen="diag-scaled", **options)
    strong = solve_layer(W, H, sparsity, pattern, "fw", strengthen="row-sdp", **options)
    assert cheap.lower_bound * (1 - 1e-9) <= strong.lower_bound <= optimum * (1 + 1e-9)
    if pattern != "per-layer":
        assert strong.info["sdp_rows"] == 4
        assert strong.info["cheap_bound"] <= strong.lower_bound * (1 + 1e-12)


def test_fw_row_sdp_closes_most_of_the_gap_on_correlated_rows():
    W, H = synthetic_layer(3, 16, seed=5)
    optimum = solve_layer(W, H, 0.5, "per-row", "brute-force").objective
    options = dict(alpha=0.0, certify_iterations=500, variant="bpcg")
    plain = solve_layer(W, H, 0.5, "per-row", "fw", strengthen="none", **options).lower_bound
    strong = solve_layer(W, H, 0.5, "per-row", "fw-sdp").lower_bound
    assert plain < strong <= optimum * (1 + 1e-9)
    assert (optimum - strong) < 0.3 * (optimum - plain)  # measured: 26% of the plain gap left


def test_layer_row_bounds_stop_at_the_time_limit_with_valid_rows():
    W, H = synthetic_layer(6, 40, seed=1)
    problem = make_problem(W, H, sparsity=0.5, pattern="per-row")
    bounds, info = layer_row_bounds(W, H, problem.pattern, time_limit=0.0)
    assert info["sdp_rows"] == 0 and np.all(np.isnan(bounds))
    order = np.arange(6)[::-1]
    bounds, info = layer_row_bounds(W, H, problem.pattern, order=order)
    assert info["sdp_rows"] == 6
    # row-wise valid: each row's bound is below that row's error under any feasible mask
    mask = solve_layer(W, H, 0.5, "per-row", "sparseswaps").mask
    assert np.all(bounds <= mask_error_rows(W, H, mask) * (1 + 1e-9))
    in_processes, info = layer_row_bounds(W, H, problem.pattern, order=order, workers=2)
    np.testing.assert_allclose(in_processes, bounds, rtol=1e-9)  # same rows, same answers
    assert info["sdp_rows"] == 6 and np.all(np.isnan(layer_row_bounds(W, H, problem.pattern, time_limit=0.0,
                                                                         workers=2)[0]))
    for bad in (0, 1.5, "2"):
        with pytest.raises(ValueError, match="workers must be a positive integer"):
            layer_row_bounds(W, H, problem.pattern, workers=bad)
    with pytest.raises(ValueError, match="row indices"):
        layer_row_bounds(W, H, problem.pattern, order=[0, 6])
    with pytest.raises(ValueError, match="row-local"):
        layer_row_bounds(W, H, make_problem(W, H, sparsity=0.5, pattern="per-layer").pattern)


def _fixed_optimum(Q, groups, prune_counts, keep, prune):
    """min e^T Q e over binary e with the group counts, e = 0 on ``keep`` and 1 on ``prune`` (brute force)."""
    best = np.inf
    for picked in itertools.product(*[itertools.combinations(g, c) for g, c in zip(groups, prune_counts)]):
        e = np.zeros(len(Q), bool)
        e[[j for part in picked for j in part]] = True
        if not np.any(e & keep) and np.all(e[prune]):
            best = min(best, e @ Q @ e)
    return best


@pytest.mark.parametrize("groups, prune_counts", [([np.arange(10)], [5]), ([np.arange(0, 5), np.arange(5, 10)], [2, 3])])
def test_fixed_row_bound_below_the_fixed_optimum(groups, prune_counts):
    Q = _row_q(10, 7)
    rng = np.random.default_rng(0)
    for _ in range(4):
        order = rng.permutation(10)
        keep, prune = np.zeros(10, bool), np.zeros(10, bool)
        keep[order[:2]], prune[order[2:3]] = True, True
        bound, warm = fixed_row_bound(Q, groups, prune_counts, keep, prune)
        best = _fixed_optimum(Q, groups, prune_counts, keep, prune)
        assert bound <= best * (1 + 1e-9)
        assert bound >= row_sdp_bound(Q, prune_counts, groups).bound * (1 - 1e-6)  # fixing only tightens
        # a child (one more entry kept) warm-started from this solve: same bound, still valid
        child_keep = keep.copy()
        child_keep[order[3]] = True
        cold, _ = fixed_row_bound(Q, groups, prune_counts, child_keep, prune, tolerance=1e-6)
        warmed, _ = fixed_row_bound(Q, groups, prune_counts, child_keep, prune, warm, tolerance=1e-6)
        assert warmed == pytest.approx(cold, rel=1e-4)
    everything = np.zeros(10, bool)
    everything[groups[0][: prune_counts[0] + 1]] = True  # more pruned than the group allows
    assert fixed_row_bound(Q, groups, prune_counts, np.zeros(10, bool), everything) == (np.inf, None)
    with pytest.raises(ValueError, match="both to keep and to prune"):
        fixed_row_bound(Q, groups, prune_counts, everything, everything)
    with pytest.raises(ValueError, match="length 10"):
        fixed_row_bound(Q, groups, prune_counts, np.zeros(9, bool), np.zeros(10, bool))


def test_warm_starts_that_fail_fall_back_to_the_cold_bound():
    """Starts at the boundary (the row's own optimum at a huge tau) or from another row's multipliers
    (feasible after rescaling, but not central) end at the cold start's bound, never below it or in an error."""
    Q = _row_q(12, 3)
    cold = row_sdp_bound(Q, 6, tolerance=1e-6)
    own = row_sdp_bound(Q, 6, tolerance=1e-6, start=(cold.s, cold.rho, 1e30))
    assert own.bound == pytest.approx(cold.bound, rel=1e-4)
    other = _row_q(12, 4)
    other_result = row_sdp_bound(other, 6, tolerance=1e-6)
    t = other_result.s / np.diag(other)  # the same diagonal shift of H in the other row's units
    start = (t * np.diag(Q), other_result.rho, other_result.tau)
    assert row_sdp_bound(Q, 6, tolerance=1e-6, start=start).bound == pytest.approx(cold.bound, rel=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_child_warm_started_from_a_tight_parent_resumes_near_its_own_tolerance(seed):
    """A parent solved to 1e-6 hands its child a tau far above what the child's loose tolerance needs; the start
    is capped near that tau (``WARM_TAU_CAP``), so the child centres in fewer Newton steps than a cold solve
    (uncapped, the first centring ran out of steps and restarted cold) and its bound is valid and within tolerance."""
    Q, groups = _row_q(40, seed), [np.arange(40)]
    _, warm = fixed_row_bound(Q, groups, [20], np.zeros(40, bool), np.zeros(40, bool), tolerance=1e-6)
    keep = np.zeros(40, bool)
    keep[np.argmax(warm[0])] = True
    free = ~keep
    child = dict(prune_counts=[20], groups=[np.arange(39)], linear=np.zeros(39))  # nothing pruned yet: no linear term
    exact = row_sdp_bound(Q[np.ix_(free, free)], tolerance=1e-8, **child).bound
    cold = row_sdp_bound(Q[np.ix_(free, free)], tolerance=3e-2, **child)
    warmed = row_sdp_bound(Q[np.ix_(free, free)], tolerance=3e-2, start=(warm[0][free], warm[1], warm[2]), **child)
    assert warmed.newton_steps < cold.newton_steps
    assert exact * (1 - 3e-2) <= warmed.bound <= exact * (1 + 1e-9)


def test_row_sdp_gaps_benchmark_orders_the_bounds():
    from benchmark.row_sdp_gaps import module_gaps

    W, H = synthetic_layer(5, 24, seed=2)
    rows = module_gaps(W, H, [0, 3], 0.5, compare_barrier=True, compare_tolerance=1e-2)
    assert [r["row"] for r in rows] == [0, 3]
    for r in rows:
        assert r["plain_bound"] <= r["sdp_bound"] * (1 + 1e-9) and r["sdp_bound"] <= r["best_error"] * (1 + 1e-9)
        assert 0 <= r["sdp_gap"] <= r["plain_gap"]
        assert r["sdp_bound"] == pytest.approx(r["barrier_bound"], rel=1e-4)  # two solvers, one SDP
        # a looser stop: a valid bound (below the best mask) within the stopping gap of the tight one
        assert r["sdp_bound"] * (1 - 1e-2) <= r["loose_bound"] <= r["best_error"] * (1 + 1e-9)
        assert r["loose_iterations"] <= r["sdp_iterations"]


@pytest.mark.parametrize("groups, prune_counts", [([np.arange(10)], [5]), ([np.arange(0, 5), np.arange(5, 10)], [2, 3])])
def test_fixing_increments_give_valid_child_bounds(groups, prune_counts):
    """The dual point's node bound lies between the SDP bound and the node's optimum, and node bound +
    rise(j, side) never exceeds the brute-force optimum of that child (j fixed too), whether the SDP
    was solved tightly or stopped after a few Newton steps."""
    Q = _row_q(10, 3)
    keep, prune = np.zeros(10, bool), np.zeros(10, bool)
    keep[7], prune[2] = True, True
    for options in ({"tolerance": 1e-6}, {"max_newton": 3}):
        bound, warm = fixed_row_bound(Q, groups, prune_counts, keep, prune, **options)
        base, rise_keep, rise_prune = fixing_increments(Q, groups, prune_counts, keep, prune, warm)
        assert base >= bound - 1e-9 * abs(bound)  # the hyperplane minimum of the same Lagrangian
        assert np.all(np.isnan(rise_keep[[2, 7]])) and np.all(np.isfinite(np.delete(rise_keep, [2, 7])))
        assert np.all(np.delete(rise_keep, [2, 7]) >= 0) and np.all(np.delete(rise_prune, [2, 7]) >= 0)
        rises, node_best = 0, np.inf
        for j in set(range(10)) - {2, 7}:
            for side, rise in (("keep", rise_keep[j]), ("prune", rise_prune[j])):
                child_keep, child_prune = keep.copy(), prune.copy()
                (child_keep if side == "keep" else child_prune)[j] = True
                best = _fixed_optimum(Q, groups, prune_counts, child_keep, child_prune)
                assert base + rise <= best * (1 + 1e-9) + 1e-9
                rises += rise > 1e-9 * abs(bound)
                node_best = min(node_best, best)
        assert base <= node_best * (1 + 1e-9) + 1e-9
        assert rises > 0  # the rises are not all zero: they can fix variables
    assert fixing_increments(Q, groups, prune_counts, keep, prune, None) is None


def _diagonal_row(index_groups, prune_counts):
    """(a diagonal 10 x 10 Q, where the Shor relaxation is tight, and its optimum's pruned indicator: the smallest
    diagonal entries of every group)."""
    d = np.arange(1.0, 11.0)[::-1]
    expected = np.zeros(10)
    for g, count in zip(index_groups, prune_counts):
        expected[g[np.argsort(d[g])[:count]]] = 1.0
    return np.diag(d), expected


@pytest.mark.parametrize("groups, prune_counts", [(None, [5]), ([np.arange(0, 5), np.arange(5, 10)], [2, 3])])
def test_primal_point_is_a_feasible_fraction_and_the_optimum_where_the_relaxation_is_tight(groups, prune_counts):
    """row_sdp_bound's primal e = G_0j / G_00 (G = Z^-1 at the last centred point) lies in [0, 1] with every group's
    count (primal feasibility of Z^-1 / tau on the central path); on a diagonal Q (a tight relaxation) it is the
    brute-force optimum's indicator; fixed_row_bound carries it over the whole row, fixed entries exact."""
    index_groups = groups if groups is not None else [np.arange(10)]
    result = row_sdp_bound(_row_q(10, 3), prune_counts, groups, tolerance=1e-6)
    e = result.primal
    assert e.shape == (10,) and e.min() > -1e-6 and e.max() < 1 + 1e-6
    assert [e[g].sum() for g in index_groups] == pytest.approx(prune_counts, abs=1e-4)
    diagonal, expected = _diagonal_row(index_groups, prune_counts)
    tight = row_sdp_bound(diagonal, prune_counts, groups, tolerance=1e-8).primal
    assert tight == pytest.approx(expected, abs=1e-3)
    keep, prune = np.zeros(10, bool), np.zeros(10, bool)
    keep[index_groups[0][0]], prune[index_groups[-1][-1]] = True, True
    _, warm = fixed_row_bound(_row_q(10, 3), index_groups, prune_counts, keep, prune)
    assert warm[3][keep] == pytest.approx(0.0) and warm[3][prune] == pytest.approx(1.0)
    free = ~(keep | prune)
    assert warm[3][free].min() > -1e-6 and warm[3][free].max() < 1 + 1e-6
