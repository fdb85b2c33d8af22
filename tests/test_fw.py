"""SparseFW: relaxation optimum, certified bounds, rounding feasibility, alpha-fixing."""
import numpy as np
import pytest
from conftest import PATTERN_CASES

from instances.synthetic import synthetic_layer
from solvers import solve_layer
from solvers.core.objective import is_feasible
from solvers.core.patterns import make_pattern, select_top
from solvers.core.problem import make_problem
from solvers.heuristics.scores import wanda_scores
from solvers.relaxation.fw_engine import frank_wolfe
from solvers.relaxation.sparsefw import fixed_by_alpha


def cvxpy_relaxation(W, H, pattern):
    import cvxpy as cp

    X = cp.Variable(W.shape)
    L = np.linalg.cholesky(H + 1e-12 * np.eye(len(H)))
    E = cp.multiply(W, 1 - X)
    flat = cp.reshape(X, (W.size,), order="C")
    constraints = [X >= 0, X <= 1] + [cp.sum(flat[list(g)]) == pattern.keep for g in pattern.groups]
    problem = cp.Problem(cp.Minimize(cp.sum_squares(E @ L)), constraints)
    problem.solve(solver=cp.CLARABEL)
    return problem.value


@pytest.mark.parametrize("variant", ["line-search", "bpcg", "open-loop"])
@pytest.mark.parametrize("pattern, sparsity", [("per-row", 0.5), ("2:4", None), ("per-layer", 0.6)])
def test_fw_converges_to_cvxpy_relaxation(variant, pattern, sparsity):
    W, H = synthetic_layer(3, 12, seed=6)
    p = make_pattern(pattern, W.shape, sparsity)
    reference = cvxpy_relaxation(W, H, p)
    start = select_top(wanda_scores(W, H), p)
    iterations = 20000 if variant == "open-loop" else 3000
    result = frank_wolfe(W, H, p, start, variant=variant, max_iterations=iterations, gap_tolerance=1e-9)
    assert result.lower_bound <= reference * (1 + 1e-6)
    tol = {"bpcg": 1e-5, "line-search": 5e-3, "open-loop": 1e-2}[variant]  # BPCG converges linearly, the others O(1/t)
    assert result.objective == pytest.approx(reference, rel=tol)
    X = result.X
    assert X.min() >= -1e-12 and X.max() <= 1 + 1e-12
    assert np.allclose(X.reshape(-1)[p.groups].sum(axis=1), p.keep)


@pytest.mark.parametrize("pattern, sparsity", PATTERN_CASES)
@pytest.mark.parametrize("options", [dict(), dict(alpha=0.0, strengthen="none"), dict(strengthen="diag-sdp"),
                                     dict(strengthen="min-eig", polish=True), dict(variant="bpcg")])
def test_fw_bound_below_optimum_and_mask_feasible(pattern, sparsity, options):
    W, H = synthetic_layer(2, 8, seed=4) if pattern == "per-layer" else synthetic_layer(4, 8, seed=3)
    optimum = solve_layer(W, H, sparsity, pattern, "brute-force").objective
    r = solve_layer(W, H, sparsity, pattern, "fw", **options)
    assert is_feasible(r.mask, make_pattern(pattern, W.shape, sparsity))
    assert np.isfinite(r.lower_bound) and 0 <= r.lower_bound <= optimum * (1 + 1e-9)
    assert r.objective >= optimum * (1 - 1e-12)
    if options.get("polish"):
        assert r.info["polished_objective"] <= r.info["rounded_objective"] * (1 + 1e-12)


def test_strengthened_bound_is_at_least_plain_bound_when_converged():
    W, H = synthetic_layer(6, 24, seed=8)
    plain = solve_layer(W, H, 0.5, "per-row", "fw", strengthen="none", certify_iterations=3000, alpha=0.5)
    strong = solve_layer(W, H, 0.5, "per-row", "fw", strengthen="diag-sdp", certify_iterations=3000, alpha=0.5)
    assert strong.lower_bound >= plain.lower_bound * (1 - 1e-6)


def test_alpha_fixing_keeps_fixed_weights_and_no_bound_from_fixed_run():
    W, H = synthetic_layer(5, 40, seed=2)
    problem = make_problem(W, H, sparsity=0.5)
    fixed = fixed_by_alpha(problem, 0.9)
    assert fixed.sum(axis=1).tolist() == [18] * 5
    r = solve_layer(W, H, 0.5, "per-row", "fw", alpha=0.9, certify=False)
    assert np.all(r.mask[fixed]) and r.info["bound_from_fixed_run"]
    assert r.lower_bound == -np.inf and r.info["lower_bound_source"] == "none"
    with pytest.raises(ValueError, match="alpha"):
        solve_layer(W, H, 0.5, "per-row", "fw", alpha=1.0)


def test_app_e_bound_holds_against_brute_force():
    W, H = synthetic_layer(3, 12, seed=1)
    optimum = solve_layer(W, H, 0.5, "per-row", "brute-force").objective
    r = solve_layer(W, H, 0.5, "per-row", "fw", alpha=0.0)
    assert r.info["rounded_objective"] - optimum <= r.info["app_e_bound"]


def test_reconstruct_objective_claims_no_bound():
    W, H = synthetic_layer(3, 8, seed=0)
    r = solve_layer(W, H, 0.5, "per-row", "fw", objective="reconstruct")
    assert r.lower_bound == -np.inf


def _torch_device(name):
    torch = pytest.importorskip("torch")
    if name == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device here; the GPU path is checked where one is present")
    return torch


@pytest.mark.parametrize("device", ["cpu-torch", "cuda"])
@pytest.mark.parametrize("variant", ["line-search", "bpcg"])
def test_torch_and_numpy_paths_agree(device, variant):
    """Same engine on torch tensors (CPU or GPU): same iterates up to float64 rounding."""
    torch = _torch_device(device)
    W, H = synthetic_layer(12, 32, seed=4)
    p = make_pattern("2:4", W.shape, None)
    start = select_top(np.abs(W), p)
    ref = frank_wolfe(W, H, p, start, variant=variant, max_iterations=60, gap_tolerance=0)
    dev = "cpu" if device == "cpu-torch" else device
    out = frank_wolfe(*(torch.as_tensor(a, device=dev) for a in (W, H)), p, torch.as_tensor(start, device=dev),
                      variant=variant, max_iterations=60, gap_tolerance=0)
    assert out.X.device.type == dev
    assert out.iterations == ref.iterations
    np.testing.assert_allclose(out.X.cpu().numpy(), ref.X, atol=1e-8)
    assert out.lower_bound == pytest.approx(ref.lower_bound, rel=1e-9)


@pytest.mark.parametrize("device", ["cpu-torch", "cuda"])
@pytest.mark.parametrize("method", ["fw", "fw-polish"])
def test_sparsefw_device_option_gives_the_numpy_answer(device, method):
    _torch_device(device)
    W, H = synthetic_layer(16, 32, seed=5)
    ref = solve_layer(W, H, 0.5, "per-row", method, alpha=0.5, certify_solver="fw")
    out = solve_layer(W, H, 0.5, "per-row", method, alpha=0.5, certify_solver="fw", device=device)
    assert out.info["device"] == device
    assert out.objective == pytest.approx(ref.objective, rel=1e-9)
    assert out.lower_bound == pytest.approx(ref.lower_bound, rel=1e-6)


@pytest.mark.parametrize("pattern", ["per-row", "2:4"])
@pytest.mark.parametrize("variant", ["line-search", "open-loop"])
def test_row_split_runs_the_engine_iterates(monkeypatch, pattern, variant):
    """Rows split over worker threads (fw_row_split) give fw_engine's own iterates, bound and gradient, also
    with fixings and a linear term."""
    import solvers.relaxation.fw_engine as fw_engine
    from solvers.relaxation.fw_row_split import SPLIT_MIN_ENTRIES, frank_wolfe_row_split

    W, H = synthetic_layer(64, SPLIT_MIN_ENTRIES // 64, seed=5)
    shape = make_pattern(pattern, W.shape, 0.5)
    start = select_top(wanda_scores(W, H), shape)
    rng = np.random.default_rng(0)
    fixed_keep = start & (rng.random(W.shape) < 0.05)
    fixed_prune = ~start & (rng.random(W.shape) < 0.05)
    linear = rng.random(W.shape)
    options = dict(linear=linear, fixed_keep=fixed_keep, fixed_prune=fixed_prune, variant=variant, max_iterations=60,
                   gap_tolerance=0.0)
    monkeypatch.setattr(fw_engine, "split_workers", lambda *args: 1)
    engine = frank_wolfe(W, H, shape, start, **options)
    split = frank_wolfe_row_split(W, H, shape, start, 3, **options)
    assert split.iterations == engine.iterations == 60
    np.testing.assert_allclose(split.X, engine.X, atol=1e-9)
    np.testing.assert_allclose(split.gradient, engine.gradient, rtol=1e-9, atol=1e-9 * np.abs(engine.gradient).max())
    assert split.objective == pytest.approx(engine.objective, rel=1e-9)
    assert split.lower_bound == pytest.approx(engine.lower_bound, rel=1e-9)
    assert np.all(split.X[fixed_keep] == 1.0) and np.all(split.X[fixed_prune] == 0.0)


def _split_run_objective(args):
    from solvers.relaxation.fw_row_split import frank_wolfe_row_split

    W, H, shape, start = args
    return frank_wolfe_row_split(W, H, shape, start, 2, max_iterations=5).objective


def test_row_split_works_in_a_forked_child_after_the_parent_used_it():
    """The worker-thread pool does not survive fork; a child (a harness job process) gets its own."""
    import multiprocessing

    from solvers.relaxation.fw_row_split import SPLIT_MIN_ENTRIES, frank_wolfe_row_split

    W, H = synthetic_layer(64, SPLIT_MIN_ENTRIES // 64, seed=6)
    shape = make_pattern("per-row", W.shape, 0.5)
    start = select_top(wanda_scores(W, H), shape)
    here = frank_wolfe_row_split(W, H, shape, start, 2, max_iterations=5).objective  # the parent's pool exists now
    with multiprocessing.get_context("fork").Pool(1) as pool:
        there = pool.apply_async(_split_run_objective, ((W, H, shape, start),)).get(timeout=120)
    assert there == pytest.approx(here, rel=1e-12)
