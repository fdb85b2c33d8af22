"""Certificates hold at any scale: every exact method against brute force with W and H scaled by 10^k,
rows of very different sizes in one layer, and degenerate data (zero rows, W = 0, H = 0)."""
import numpy as np
import pytest

from instances.synthetic import synthetic_layer
from solvers import METHODS, solve_layer
from solvers.crosscheck import BOUND_RTOL, CLAIM_RTOL
from solvers.registry import SPECS

pytest.importorskip("pyscipopt")

EXACT = ["fw-bnb", "fw-bnb-root-only", "mip", "mip-diag", "mip-factor", "exact"] + \
    (["gurobi"] if SPECS["gurobi"].available else [])  # the optional anchor, where installed
BOUNDING = ["fw", "fw-bm", "fw-sdp"]  # heuristics with certified bounds: their bounds must hold at any scale too
CASES = [("per-row", 0.5, "mask"), ("2:4", None, "mask"), ("per-row", 0.5, "reconstruct")]


def _mask_only(method):
    return "reconstruct" not in SPECS[method].objectives


def _check(method, W, H, sparsity, pattern, objective, optimum):
    r = solve_layer(W, H, sparsity, pattern, method, objective=objective, time_limit=60)
    slack = 1e-300
    assert r.lower_bound <= optimum * (1 + BOUND_RTOL) + slack, (method, r.lower_bound, optimum)
    if r.status == "optimal":
        assert r.objective <= optimum * (1 + CLAIM_RTOL) + slack, (method, r.objective, optimum)
    return r


@pytest.mark.parametrize("k", [-12, -6, 0, 6, 12])
@pytest.mark.parametrize("pattern, sparsity, objective", CASES)
def test_exact_methods_are_right_at_every_scale_of_H(k, pattern, sparsity, objective):
    W, H = synthetic_layer(1, 16, seed=11)
    H = H * 10.0**k
    optimum = solve_layer(W, H, sparsity, pattern, "brute-force", objective=objective).objective
    for method in EXACT:
        if objective == "reconstruct" and _mask_only(method):
            continue
        r = _check(method, W, H, sparsity, pattern, objective, optimum)
        assert r.status == "optimal", (method, r.status, r.info.get("cross_check"))


@pytest.mark.parametrize("k", [-12, 12])
@pytest.mark.parametrize("pattern, sparsity", [("per-row", 0.5), ("2:4", None)])
def test_fw_bnb_branching_without_enumeration_is_right_at_extreme_scales(k, pattern, sparsity):
    """These 16-wide rows are small enough for fw-bnb to close by enumeration; with it off, node SDPs (the barrier
    per-row, the primal-dual method on N:M rows) and branching carry the proof at 10^-12 and 10^12 too."""
    W, H = synthetic_layer(2, 16, seed=5, outliers=1)
    W, H = W * 10.0**(k / 2), H * 10.0**k
    optimum = solve_layer(W, H, sparsity, pattern, "brute-force").objective
    r = solve_layer(W, H, sparsity, pattern, "fw-bnb", warm_start="magnitude", enumerate_max=0, time_limit=60)
    assert r.status == "optimal" and r.info["sdp_bounds"] > 0 and r.info["enumerated"] == 0
    assert r.objective <= optimum * (1 + CLAIM_RTOL) and r.lower_bound <= optimum * (1 + BOUND_RTOL)


@pytest.mark.parametrize("k", [-12, -6, 6, 12])
def test_exact_methods_are_right_at_every_scale_of_W(k):
    W, H = synthetic_layer(2, 12, seed=5)
    W = W * 10.0**k
    for pattern, sparsity, objective in CASES:
        optimum = solve_layer(W, H, sparsity, pattern, "brute-force", objective=objective).objective
        for method in EXACT:
            if not (objective == "reconstruct" and _mask_only(method)):
                _check(method, W, H, sparsity, pattern, objective, optimum)


def test_rows_of_very_different_scales_in_one_layer():
    W, H = synthetic_layer(3, 12, seed=7)
    W = W * np.array([[1e-6], [1.0], [1e6]])
    for pattern, sparsity, objective in CASES:
        optimum = solve_layer(W, H, sparsity, pattern, "brute-force", objective=objective).objective
        for method in EXACT:
            if not (objective == "reconstruct" and _mask_only(method)):
                r = _check(method, W, H, sparsity, pattern, objective, optimum)
                assert r.status == "optimal", (method, pattern, objective, r.info.get("cross_check"))


@pytest.mark.parametrize("k", [-12, 12])
def test_certified_bounds_of_heuristics_hold_at_every_scale(k):
    W, H = synthetic_layer(2, 16, seed=2)
    H = H * 10.0**k
    for pattern, sparsity in [("per-row", 0.5), ("2:4", None)]:
        optimum = solve_layer(W, H, sparsity, pattern, "brute-force").objective
        for method in BOUNDING:
            r = _check(method, W, H, sparsity, pattern, "mask", optimum)
            assert np.isfinite(r.lower_bound) and r.lower_bound >= 0


@pytest.mark.slow
@pytest.mark.parametrize("k", range(-12, 13))
def test_full_scale_sweep_every_exact_method(k):
    """The whole sweep of the issue: 10^k for k in -12..12, every registered exact method."""
    from solvers import EXACT_METHODS

    W, H = synthetic_layer(1, 12, seed=11)
    H = H * 10.0**k
    for pattern, sparsity, objective in CASES + [("per-layer", 0.5, "mask")]:
        optimum = solve_layer(W, H, sparsity, pattern, "brute-force", objective=objective).objective
        # the SCIP heuristic-schedule variants (mip-scheduler, mip-alns-*) share mip's model and scaling
        for method in sorted(m for m in EXACT_METHODS if not m.startswith(("mip-alns", "mip-scheduler"))):
            kind = "N:M" if ":" in pattern else pattern
            if not SPECS[method].available or not SPECS[method].takes(kind, objective):
                continue
            _check(method, W, H, sparsity, pattern, objective, optimum)


@pytest.mark.parametrize("case", ["zero row", "W = 0", "H = 0"])
@pytest.mark.parametrize("pattern", ["per-row", "2:4", "per-layer"])
@pytest.mark.parametrize("objective", ["mask", "reconstruct"])
def test_degenerate_data_is_solved_not_an_error(case, pattern, objective):
    W, H = synthetic_layer(2, 8, seed=11)
    if case == "zero row":
        W[0] = 0.0
    elif case == "W = 0":
        W = 0 * W
    else:
        H = 0 * H
    sparsity = None if ":" in pattern else 0.5
    optimum = solve_layer(W, H, sparsity, pattern, "brute-force", objective=objective).objective
    for method in ["mip", "exact", "fw", "fw-sdp", "fw-bm"] + ([] if objective == "reconstruct" else ["fw-bnb"]):
        r = _check(method, W, H, sparsity, pattern, objective, optimum)
        assert not np.isnan(r.lower_bound)
        if method in ("mip", "exact", "fw-bnb"):
            assert r.status == "optimal"


def test_a_false_optimal_claim_is_downgraded(monkeypatch):
    """A method that claims "optimal" for a bad mask, with its value as the bound, is caught."""
    from solvers.core.result import MethodAnswer
    from solvers.heuristics.scores import solve_magnitude

    def liar(problem, **options):
        answer = solve_magnitude(problem)
        return MethodAnswer(answer.mask, lower_bound=1e30, status="optimal")

    monkeypatch.setitem(METHODS, "liar", liar)
    W, H = synthetic_layer(1, 16, seed=11)
    optimum = solve_layer(W, H, 0.5, "per-row", "brute-force").objective
    r = solve_layer(W, H, 0.5, "per-row", "liar")
    assert r.status == "time_limit"
    assert not r.info["cross_check"]["passed"]
    assert "exceeds the value" in r.info["cross_check"]["reason"]
    assert r.lower_bound <= optimum * (1 + BOUND_RTOL)
