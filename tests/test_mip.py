"""SCIP MIP: stored optima reproduced, brute-force agreement, valid bounds under limits, configs."""
import numpy as np
import pytest

from instances import load_references
from instances.reference import setting_key
from instances.sets import tiny_cases
from instances.synthetic import synthetic_layer
from solvers import solve_layer
from solvers.core.objective import is_feasible
from solvers.core.patterns import make_pattern

pytest.importorskip("pyscipopt")
REFS = load_references("tiny")
CASES = [(p.name, p, pattern, sparsity) for p, pattern, sparsity in tiny_cases()]


@pytest.mark.parametrize("name, problem, pattern, sparsity", CASES, ids=[f"{c[0]}-{c[2]}-{c[3]}" for c in CASES])
@pytest.mark.parametrize("objective", ["mask", "reconstruct"])
def test_mip_reproduces_stored_optima(name, problem, pattern, sparsity, objective):
    optimum = REFS.get(name, setting_key(pattern, sparsity), objective).opt
    r = solve_layer(problem.W, problem.H, sparsity, pattern, "mip", objective=objective)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(optimum, rel=1e-7)
    assert r.lower_bound <= optimum * (1 + 1e-9) and r.lower_bound >= optimum * (1 - 1e-4)


@pytest.mark.parametrize("formulation", ["plain", "factor", "qcr"])
@pytest.mark.parametrize("pattern, sparsity", [("per-row", 0.5), ("2:4", None), ("per-layer", 0.5)])
def test_formulations_agree_with_brute_force(formulation, pattern, sparsity):
    W, H = synthetic_layer(2, 8, seed=9)
    optimum = solve_layer(W, H, sparsity, pattern, "brute-force").objective
    r = solve_layer(W, H, sparsity, pattern, "mip", formulation=formulation)
    assert r.status == "optimal" and r.objective == pytest.approx(optimum, rel=1e-7)
    assert r.lower_bound <= optimum * (1 + 1e-9)
    assert r.info["formulation"] == formulation


def test_limited_solve_returns_feasible_mask_and_valid_bound():
    W, H = synthetic_layer(1, 20, seed=1, outliers=3)
    optimum = solve_layer(W, H, 0.5, "per-row", "brute-force").objective
    r = solve_layer(W, H, 0.5, "per-row", "mip", formulation="factor", node_limit=1, warm_start="magnitude")
    assert r.status in ("time_limit", "optimal")
    assert is_feasible(r.mask, make_pattern("per-row", W.shape, 0.5))
    assert r.lower_bound <= optimum * (1 + 1e-9) and optimum <= r.objective * (1 + 1e-9)
    timed = solve_layer(W, H, 0.5, "per-row", "mip", formulation="plain", time_limit=0.05)
    assert timed.lower_bound <= optimum * (1 + 1e-9) and optimum <= timed.objective * (1 + 1e-9)


@pytest.mark.parametrize("method", ["mip-scheduler", "mip-alns-u", "mip-alns-e", "mip-alns-g", "mip-alns-i", "mip-diag"])
def test_named_configurations_are_exact(method):
    W, H = synthetic_layer(2, 12, seed=2)
    optimum = solve_layer(W, H, 0.5, "per-row", "brute-force").objective
    r = solve_layer(W, H, 0.5, "per-row", method)
    assert r.status == "optimal" and r.objective == pytest.approx(optimum, rel=1e-7)
    assert isinstance(r.info["heuristics"], dict) and r.info["trace"]


def test_qcr_sdp_bound_is_exact_reformulation():
    from solvers.sdp.qcr import sdp_convexify

    W, H = synthetic_layer(1, 12, seed=4)
    Q = np.outer(W[0], W[0]) * H
    conv = sdp_convexify(Q, 6)
    rng = np.random.default_rng(0)
    for _ in range(20):
        z = np.zeros(12)
        z[rng.choice(12, 6, replace=False)] = 1
        assert z @ Q @ z == pytest.approx(z @ conv.Q_psd @ z + conv.c @ z, rel=1e-9)
    assert np.linalg.eigvalsh(conv.Q_psd)[0] >= 0
    optimum = solve_layer(W, H, 0.5, "per-row", "brute-force").objective
    assert conv.relaxation_bound <= optimum * (1 + 1e-9)
    assert conv.relaxation_bound == pytest.approx(conv.sdp_bound, rel=1e-3)


def test_bad_mip_options():
    W, H = synthetic_layer(2, 8, seed=0)
    with pytest.raises(ValueError, match="formulation"):
        solve_layer(W, H, 0.5, "per-row", "mip", formulation="socp")
    with pytest.raises(ValueError, match="scheduler='thompson' is not valid; scheduler takes one of ucb"):
        solve_layer(W, H, 0.5, "per-row", "mip", scheduler="thompson")
