"""The DNN row bound (solvers.sdp.dnn) and method certify: every bound <= brute-force and stored optima, at any
scale, also from deliberately inexact dual points; certify's mask at least SparseSwaps' quality; bad input."""
import math

import numpy as np
import pytest
from conftest import ROW_CASES, random_row, row_optimum

from instances.reference import setting_key
from instances.sets import load_references, tiny_cases
from instances.synthetic import synthetic_layer
from solvers import solve_layer
from solvers.sdp import dnn
from solvers.sdp.layer import layer_row_bounds
from solvers.sdp.primal_dual import row_sdp_bound_ipm
from solvers.sdp.shor import group_matrix


@pytest.mark.parametrize("scale", [1e-12, 1.0, 1e12])
@pytest.mark.parametrize("case", range(len(ROW_CASES)))
def test_dnn_bound_is_below_the_optimum_at_every_scale(case, scale):
    n, counts, groups = ROW_CASES[case]
    Q = random_row(n, seed=case) * scale
    optimum = row_optimum(Q, counts, groups)
    result = dnn.row_dnn_bound(Q, counts, groups)
    assert result.bound <= optimum * (1 + 1e-9)
    shor = row_sdp_bound_ipm(Q, counts, groups, tolerance=1e-8).bound
    assert result.bound >= shor * (1 - 1e-3)  # converged here: at least as strong as the Shor SDP it contains


def test_dnn_bound_matches_an_interior_point_solver():
    cp = pytest.importorskip("cvxpy")
    from solvers.sdp.qcr import shor_problem

    for seed, n in ((0, 8), (1, 12)):
        Q = random_row(n, seed)
        p = n // 2
        problem = shor_problem(Q, p, nonnegative=True)[0]
        problem.solve(solver=cp.CLARABEL)
        ours = dnn.row_dnn_bound(Q, p).bound
        assert ours <= problem.value * (1 + 1e-6) and ours >= problem.value * (1 - 1e-3)


def test_a_warm_start_from_shor_never_ends_below_shor():
    for case in range(len(ROW_CASES)):
        n, counts, groups = ROW_CASES[case]
        Q = random_row(n, seed=20 + case)
        warm = dnn.row_dnn_bound(Q, counts, groups, warm_start=True, max_iterations=200)
        shor = row_sdp_bound_ipm(Q, counts, groups, tolerance=1e-4).bound
        assert shor * (1 - 1e-6) <= warm.bound <= row_optimum(Q, counts, groups) * (1 + 1e-9)


@pytest.mark.parametrize("steps", [0, 1, 5, 30])
def test_an_inexact_solve_is_corrected_and_stays_valid(steps):
    n, counts, groups = ROW_CASES[0]
    Q = random_row(n, seed=7)
    result = dnn.row_dnn_bound(Q, counts, groups, max_iterations=steps)
    optimum = row_optimum(Q, counts, groups)
    assert result.bound <= optimum * (1 + 1e-9)
    if steps == 1:  # far from converged: b^T y alone would be a false certificate; the correction makes it valid
        assert result.dual_value > optimum and result.correction < 0


def test_any_dual_point_gives_a_valid_bound():
    """certified_value on random (wildly infeasible) dual points: the eigenvalue correction keeps each one valid."""
    rng = np.random.default_rng(11)
    for counts, groups in [([5], [np.arange(10)]), ([2, 3], [np.arange(5), np.arange(5, 10)])]:
        Q = random_row(10, seed=3)
        optimum = row_optimum(Q, counts, groups)
        A, b = dnn.constraint_matrix(10, group_matrix(10, groups), np.asarray(counts, float))
        C = np.zeros((11, 11))
        C[1:, 1:] = Q
        for _ in range(50):
            y = rng.standard_normal(A.shape[0]) * rng.choice([0.1, 1, 10])
            N = np.abs(rng.standard_normal((11, 11)))
            value, correction = dnn.certified_value(A, b, C.ravel(), y, ((N + N.T) / 2).ravel(), 11, 1 + sum(counts))
            assert value <= optimum * (1 + 1e-9) + 1e-9


def test_dnn_rows_through_the_layer_pool_match_single_rows():
    W, H = synthetic_layer(4, 12, seed=5)
    from solvers.core.patterns import make_pattern

    pattern = make_pattern("per-row", W.shape, 0.5)
    one, _ = layer_row_bounds(W, H, pattern, relaxation="dnn", max_iterations=400)
    two, _ = layer_row_bounds(W, H, pattern, relaxation="dnn", max_iterations=400, workers=2)
    np.testing.assert_allclose(one, two, rtol=1e-12)
    for i in range(4):
        Q = np.outer(W[i], W[i]) * H
        assert one[i] <= row_optimum(Q, [6], [np.arange(12)]) * (1 + 1e-9)
    with pytest.raises(ValueError, match="relaxation"):
        layer_row_bounds(W, H, pattern, relaxation="dnnn")
    with pytest.raises(ValueError, match="uppers"):
        layer_row_bounds(W, H, pattern, relaxation="dnn-ascent", uppers=np.ones(3))


def _dnn_options(W, dnn_kind: str) -> dict:
    """certify's options that give its DNN rows to ``dnn_kind``: rows wider than dnn_max_n get the wide DNN solver."""
    if dnn_kind == "dnn":
        return {"dnn_max_n": W.shape[1]}
    return {"dnn_max_n": W.shape[1] - 1, "wide_dnn": "ascent" if dnn_kind == "dnn-ascent" else "multipliers"}


@pytest.mark.parametrize("dnn_kind", ["dnn", "dnn-ascent", "dnn-multipliers"])
@pytest.mark.parametrize("pattern,sparsity", [("per-row", 0.5), ("per-row", 0.75), ("2:4", None), ("1:4", None)])
def test_certify_brackets_the_brute_forcerow_optimum(tiny_layer, pattern, sparsity, dnn_kind):
    W, H = tiny_layer
    options = {"sparsity": sparsity} if sparsity is not None else {}
    answer = solve_layer(W, H, method="certify", pattern=pattern, seed=0, **_dnn_options(W, dnn_kind), **options)
    optimum = solve_layer(W, H, method="brute-force", pattern=pattern, **options).objective
    swaps = solve_layer(W, H, method="sparseswaps", pattern=pattern, **options).objective
    assert answer.lower_bound <= optimum * (1 + 1e-9) and optimum <= answer.objective * (1 + 1e-9)
    assert answer.objective <= swaps * (1 + 1e-12)
    info = answer.info
    assert sum(info["bound_wins"].values()) == W.shape[0] == len(info["row_bound_source"])
    assert math.isclose(sum(info["row_bounds"]), answer.lower_bound, rel_tol=1e-9, abs_tol=1e-300)
    closed = answer.lower_bound >= answer.objective * (1 - 1e-9)  # rows whose gap is closed are skipped
    assert closed or (info["rows_reached"]["shor"] >= 1 and info["rows_reached"][dnn_kind] >= 1)
    assert info["dnn_solver"] == dnn_kind


@pytest.mark.parametrize("dnn_kind", ["dnn", "dnn-ascent", "dnn-multipliers"])
@pytest.mark.parametrize("scale_w,scale_h", [(1e-6, 1e-12), (1e6, 1e12), (1.0, 1e-12)])
@pytest.mark.parametrize("pattern,sparsity", [("per-row", 0.5), ("2:4", None)])
def test_certify_brackets_brute_force_at_extreme_scales(tiny_layer, pattern, sparsity, scale_w, scale_h, dnn_kind):
    W, H = tiny_layer
    W, H = W * scale_w, H * scale_h
    options = {"sparsity": sparsity} if sparsity is not None else {}
    answer = solve_layer(W, H, method="certify", pattern=pattern, **_dnn_options(W, dnn_kind), **options)
    assert answer.info["dnn_solver"] == dnn_kind
    optimum = solve_layer(W, H, method="brute-force", pattern=pattern, **options).objective
    assert 0 < answer.lower_bound <= optimum * (1 + 1e-9) and optimum <= answer.objective * (1 + 1e-9)
    assert answer.objective <= optimum * (1 + 1e-3)  # lns reaches the optimum of a 4 x 8 layer


def test_certify_bounds_are_below_the_stored_optima():
    checked = 0
    references = load_references("tiny")
    for problem, pattern, sparsity in tiny_cases():
        if pattern == "per-layer":
            continue
        entry = references.get(problem.name, setting_key(pattern, sparsity), "mask")
        for dnn_max_n, wide_dnn in ((128, "multipliers"), (1, "ascent"), (1, "multipliers")):  # ADMM, wide DNN
            answer = solve_layer(problem.W, problem.H, method="certify", pattern=pattern, sparsity=sparsity,
                                 dnn_max_n=dnn_max_n, wide_dnn=wide_dnn)
            # the stored optimum and an equally good mask may differ in the last bit (summation order): 1e-9 both ways
            assert answer.lower_bound <= entry.opt * (1 + 1e-9) and entry.opt <= answer.objective * (1 + 1e-9)
            checked += 1
    assert checked >= 18


@pytest.mark.parametrize("width", [96, 160])  # DNN rows by ADMM, by ascent
def test_certify_keeps_its_time_limit_and_bound(width):
    W, H = synthetic_layer(24, width, seed=2)
    answer = solve_layer(W, H, method="certify", pattern="per-row", sparsity=0.5, time_limit=3.0)
    assert answer.time_s <= 3.0 * 1.25 + 3.0
    assert 0 < answer.lower_bound <= answer.objective <= answer.info["start_mask_error"]
    assert answer.info["rounds"]["cheap"] >= 1  # the saddle's rounds (cheap bounds)


def test_certify_runs_a_saddle_round_before_the_shor_probe(monkeypatch):
    """At a limit too short for the cheap share, the saddle's first round still runs before the Shor probe: a probe
    of every row (patched) would otherwise use the whole Shor share and leave most of 800 rows with no bound. The
    order of the calls is asserted (how many rows that round's bound reaches depends on the CPU time it gets: on a
    machine shared by three processes, 3 to 768 of 800 with the same code)."""
    import solvers.certify as certify

    calls = []
    for name in ("_saddle_round", "_improve"):
        def logged(*args, _name=name, _inner=getattr(certify, name), **kwargs):
            out = _inner(*args, **kwargs)
            calls.append((_name, out))
            return out
        monkeypatch.setattr(certify, name, logged)
    monkeypatch.setitem(certify.PHASE_ENDS, "cheap", 0.0)
    monkeypatch.setattr(certify, "SHOR_PROBE_ROWS", 10**6)
    W, H = synthetic_layer(800, 96, seed=2)
    answer = solve_layer(W, H, method="certify", pattern="per-row", sparsity=0.5, time_limit=4.0)
    names = [name for name, _ in calls]
    first_round = next(k for k, (name, rate) in enumerate(calls) if name == "_saddle_round" and rate != math.inf)
    assert first_round < names.index("_improve") and answer.info["rounds"]["cheap"] >= 1
    assert 0 < answer.lower_bound <= answer.objective <= answer.info["start_mask_error"]


@pytest.mark.parametrize("wide_dnn,kind", [("multipliers", "dnn-multipliers"), ("ascent", "dnn-ascent")])
def test_certify_shares_the_rest_in_rounds_of_lns_and_wide_dnn_rows(wide_dnn, kind):
    W, H = synthetic_layer(4, 160, seed=2)  # 4 rows: the Shor phase ends early, the rest goes to rounds
    answer = solve_layer(W, H, method="certify", pattern="per-row", sparsity=0.5, time_limit=4.0, wide_dnn=wide_dnn)
    info = answer.info
    assert info["dnn_solver"] == kind and info["rounds"]["dnn"] >= 1 and info["rows_reached"][kind] >= 1
    assert sum(info["ascent_rounds_by_steps"].values()) == info["rounds"]["dnn"]  # every round's steps a row
    assert 0 < answer.lower_bound <= answer.objective <= info["start_mask_error"]
    assert answer.time_s <= 4.0 * 1.25 + 3.0


def test_ascent_rows_get_fewer_steps_only_when_time_is_short():
    """``_fitted_steps``: all ``ascent_steps`` while every waiting row can have them, else as many as fit, never fewer
    than MIN_ASCENT_STEPS (nor more than asked)."""
    from solvers.certify import MIN_ASCENT_STEPS, _fitted_steps

    assert _fitted_steps(20, 100.0, 10, None) == 20  # not measured yet
    assert _fitted_steps(20, 1000.0, 10, 0.5) == 20  # 10 rows x 20 steps x 0.5 s = 100 s fit
    assert _fitted_steps(20, 60.0, 10, 0.5) == 12
    assert _fitted_steps(20, 1.0, 1000, 0.5) == MIN_ASCENT_STEPS
    assert _fitted_steps(3, 1.0, 1000, 0.5) == 3  # never more than asked
    assert _fitted_steps(20, 60.0, 0, 0.5) == 20


def test_certify_refuses_what_it_does_not_solve(tiny_layer):
    W, H = tiny_layer
    with pytest.raises(ValueError, match="per-layer"):
        solve_layer(W, H, method="certify", pattern="per-layer", sparsity=0.5)
    with pytest.raises(ValueError):
        solve_layer(W, H, method="certify", pattern="per-row", sparsity=0.5, objective="reconstruct")
    with pytest.raises(ValueError, match="dnn_iterations"):
        solve_layer(W, H, method="certify", pattern="per-row", sparsity=0.5, dnn_iterations=0)
    with pytest.raises(ValueError, match="ascent_steps"):
        solve_layer(W, H, method="certify", pattern="per-row", sparsity=0.5, ascent_steps=0)
    with pytest.raises(ValueError, match="prune_counts"):
        dnn.row_dnn_bound(np.eye(4), [5])


def test_certify_on_a_torch_device_gives_valid_bounds(tiny_layer):
    pytest.importorskip("torch")
    W, H = tiny_layer
    answer = solve_layer(W, H, method="certify", pattern="per-row", sparsity=0.5, device="cpu-torch", dnn=False)
    optimum = solve_layer(W, H, method="brute-force", pattern="per-row", sparsity=0.5).objective
    assert answer.lower_bound <= optimum * (1 + 1e-9) and optimum <= answer.objective * (1 + 1e-9)
    assert answer.info["bound_wins"]["dnn"] == 0


def test_certify_records_say_which_bound_won_perrandom_row(tmp_path, cache):
    from benchmark.harness import run_benchmark

    records = run_benchmark(["tiny"], solvers=["certify"], results=tmp_path, progress=False)
    assert records and all(not r["flags"] for r in records)
    for record in records:
        sources = record["info_row_bound_source"]
        assert len(sources) == record["d_out"] == len(record["info_row_bounds"])
        assert sum(record["info_bound_wins"].values()) == record["d_out"]
        assert math.isclose(sum(record["info_row_bounds"]), record["lower_bound"], rel_tol=1e-9, abs_tol=1e-300)
        assert 0 <= record["info_rounded_rows"] <= record["d_out"]  # rows whose mask a relaxation's point gave
