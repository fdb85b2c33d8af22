"""The per-row relaxation by primal-dual active set: exact optimum, valid bounds, edge cases."""
import numpy as np
import pytest
from test_fw import cvxpy_relaxation

from instances.synthetic import synthetic_layer
from solvers import solve_layer
from solvers.core.problem import make_problem
from solvers.relaxation.pdas import relaxation_pdas


@pytest.mark.parametrize("seed, n, sparsity", [(0, 12, 0.5), (1, 16, 0.25), (2, 20, 0.6), (3, 9, 0.5)])
def test_pdas_reaches_the_cvxpy_relaxation_optimum_with_a_tight_certificate(seed, n, sparsity):
    W, H = synthetic_layer(4, n, seed=seed)
    problem = make_problem(W, H, sparsity=sparsity, pattern="per-row")
    result = relaxation_pdas(problem)
    reference = cvxpy_relaxation(W, H, problem.pattern)
    assert result.converged.all()
    assert result.value == pytest.approx(reference, rel=1e-6)
    assert result.bound <= reference * (1 + 1e-7)
    assert result.value - result.bound <= 1e-9 * result.value  # exact optimum: the FW gap vanishes
    X = result.X
    assert np.all(X >= -1e-12) and np.all(X <= 1 + 1e-12)
    np.testing.assert_allclose(X.sum(axis=1), problem.pattern.keep, rtol=0, atol=1e-9)


def test_pdas_bound_is_below_the_integer_optimum():
    W, H = synthetic_layer(3, 14, seed=4)
    problem = make_problem(W, H, sparsity=0.5, pattern="per-row")
    optimum = solve_layer(W, H, 0.5, "per-row", "brute-force").objective
    assert relaxation_pdas(problem).bound <= optimum * (1 + 1e-9)


def test_pdas_with_a_linear_term_and_shifted_gram_matches_cvxpy():
    """The strengthened form f = sum (w*(1-x))^T H' (w*(1-x)) + linear . (1 - x) with H' = H - diag(d) PSD."""
    import cvxpy as cp

    W, H = synthetic_layer(2, 10, seed=5)
    d = 0.5 * np.linalg.eigvalsh(H)[0] * np.ones(10)
    H_s, linear = H - np.diag(d), W**2 * d[None, :]
    problem = make_problem(W, H, sparsity=0.5, pattern="per-row")
    result = relaxation_pdas(problem, H=H_s, linear=linear)
    X = cp.Variable(W.shape)
    L = np.linalg.cholesky(H_s)
    objective = cp.sum_squares(cp.multiply(W, 1 - X) @ L) + cp.sum(cp.multiply(linear, 1 - X))
    reference = cp.Problem(cp.Minimize(objective), [X >= 0, X <= 1, cp.sum(X, axis=1) == problem.pattern.keep])
    reference.solve(solver=cp.CLARABEL)
    assert result.value == pytest.approx(reference.value, rel=1e-6)
    assert result.bound <= reference.value * (1 + 1e-7)


def test_pdas_survives_zero_weights_and_a_singular_gram():
    """Rank-deficient H (fewer tokens than inputs) and a zero weight: bound still valid."""
    rng = np.random.default_rng(9)
    X_in = rng.standard_normal((12, 5))
    H = X_in @ X_in.T
    W = rng.standard_normal((3, 12))
    W[1, 3] = 0.0
    problem = make_problem(W, H, sparsity=0.5, pattern="per-row")
    result = relaxation_pdas(problem)
    reference = cvxpy_relaxation(W, H, problem.pattern)
    assert result.bound <= reference + 1e-7 * max(reference, 1.0)
    assert np.isfinite(result.bound)


def test_pdas_rejects_patterns_it_does_not_solve_and_bad_arrays():
    W, H = synthetic_layer(2, 8, seed=0)
    with pytest.raises(ValueError, match="per-row"):
        relaxation_pdas(make_problem(W, H, sparsity=None, pattern="2:4"))
    problem = make_problem(W, H, sparsity=0.5, pattern="per-row")
    with pytest.raises(ValueError, match="H must be"):
        relaxation_pdas(problem, H=H[:7, :7])
    with pytest.raises(ValueError, match="H must be"):
        relaxation_pdas(problem, H=np.full((8, 8), np.nan))
    with pytest.raises(ValueError, match="linear must be"):
        relaxation_pdas(problem, linear=np.ones((2, 7)))


def test_sparsefw_certifies_with_pdas_on_per_row_and_is_at_least_as_strong_as_fw():
    W, H = synthetic_layer(3, 14, seed=8)
    optimum = solve_layer(W, H, 0.5, "per-row", "brute-force").objective
    options = dict(alpha=0.5, certify_iterations=50)
    exact = solve_layer(W, H, 0.5, "per-row", "fw", **options)
    by_fw = solve_layer(W, H, 0.5, "per-row", "fw", certify_solver="fw", **options)
    assert exact.info["certify_solver"] == "pdas" and by_fw.info["certify_solver"] == "fw"
    assert by_fw.lower_bound <= exact.lower_bound * (1 + 1e-9) and exact.lower_bound <= optimum * (1 + 1e-9)
    with pytest.raises(ValueError, match="certify_solver"):
        solve_layer(W, H, 0.5, "per-row", "fw", certify_solver="newton", **options)


@pytest.mark.parametrize("free_count", [12, 9, 5])  # the whole row free / more free than fixed / fewer
def test_face_solves_equal_the_direct_solve_on_every_face_size(free_count):
    """Q_FF^-1 rhs through H^-1's Schur complement (or directly) matches numpy's solve, including the face
    with nothing fixed (no complement)."""
    from solvers.relaxation.pdas import _face_solve

    W, H = synthetic_layer(1, 12, seed=5)
    w = W[0]
    F = np.sort(np.random.default_rng(free_count).choice(12, free_count, replace=False))
    rhs = np.random.default_rng(1).standard_normal((free_count, 2))
    Q_FF = (w[:, None] * H * w[None, :])[np.ix_(F, F)]
    np.testing.assert_allclose(_face_solve(w, H, np.linalg.inv(H), F, rhs), np.linalg.solve(Q_FF, rhs), rtol=1e-8)
