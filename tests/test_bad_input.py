"""Bad input is a ValueError naming the problem, never a silent wrong answer."""
import numpy as np
import pytest

from instances.synthetic import synthetic_layer
from solvers import solve_layer

W, H = synthetic_layer(4, 8, seed=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(W=np.full((4, 8), np.nan)), "W contains non-finite"),
    (dict(H=np.full((8, 8), np.inf)), "H contains non-finite"),
    (dict(W=np.ones(8)), "W must be a non-empty 2-D"),
    (dict(H=np.eye(7)), r"H must have shape \(8, 8\)"),
    (dict(H=np.triu(np.ones((8, 8)))), "not symmetric"),
    (dict(H=-np.eye(8)), "not positive semidefinite"),
    (dict(sparsity=1.5), "sparsity"),
    (dict(sparsity=0.0), "sparsity"),
    (dict(pattern="3:5"), "divisible"),
    (dict(pattern="rows"), "unknown pattern"),
    (dict(method="oracle"), "unknown method"),
    (dict(objective="l1"), "unknown objective"),
    (dict(time_limit=-1), "time_limit"),
    (dict(W="abc"), "W is not a numeric array"),
    (dict(method="wanda", bogus_option=1), "bogus_option"),
    (dict(method="fw", device="gpu"), "option device='gpu' is not valid; device takes None/'cpu', 'cpu-torch', 'cuda'"),
    (dict(method="sparseswaps", device="cuda:x"), "option device='cuda:x' is not valid"),
    (dict(method="sparseswaps", pattern="per-layer", device="tpu"), "option device='tpu' is not valid"),
])
def test_bad_input_raises_value_error(kwargs, message):
    args = dict(W=W, H=H, sparsity=0.5, pattern="per-row", method="wanda") | kwargs
    with pytest.raises(ValueError, match=message):
        solve_layer(**args)


def test_semidefinite_rank_deficient_gram_is_accepted():
    X = np.random.default_rng(0).standard_normal((8, 3))
    r = solve_layer(W, X @ X.T, 0.5, "per-row", "sparseswaps")
    assert r.status == "heuristic"


def test_solvers_import_without_torch():
    import subprocess
    import sys

    code = "import sys, solvers; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("argv, message", [
    (["--methods", "wanda,oracle"], "unknown method 'oracle'"),
    (["--patterns", "0.5,half"], "bad setting 'half'"),
    (["--patterns", "1.5"], "sparsity"),
    (["--objectives", "mask,l1"], "unknown objective 'l1'"),
])
def test_prune_grid_rejects_bad_settings_before_loading_the_model(argv, message, capsys, tmp_path):
    from benchmark.prune_grid import main

    with pytest.raises(SystemExit) as stop:
        main(argv + ["--results", str(tmp_path)])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # no records file created


@pytest.mark.parametrize("kwargs, message", [
    (dict(sparsity="0.5"), "sparsity must be a fraction"),
    (dict(sparsity=[0.5]), "sparsity must be a fraction"),
    (dict(sparsity=True), "sparsity must be a fraction"),
    (dict(time_limit="5"), "time_limit must be a positive number"),
    (dict(time_limit=float("nan")), "time_limit must be a positive number"),
    (dict(seed=1.5), "seed must be an integer"),
    (dict(W=W.astype(complex)), "W is complex"),
    (dict(H=H.astype(complex)), "H is complex"),
    (dict(objective="reconstruct", damping=float("nan")), "damping must be a finite number"),
    (dict(objective="reconstruct", damping=float("inf")), "damping must be a finite number"),
    (dict(damping=-0.1), "damping must be a finite number"),
    (dict(method="fw", max_iterations=-1), "option max_iterations=-1 is not valid; max_iterations takes an integer >= 1"),
    (dict(method="fw", max_iterations=2.5), "max_iterations takes an integer"),
    (dict(method="fw-bnb", dive_every=0), "option dive_every=0"),
    (dict(method="sparsegpt", blocksize=0), "option blocksize=0"),
    (dict(method="fw-bm", certify_solver="pdsa"), r"certify_solver takes one of auto, fw, pdas"),
    (dict(method="mip", pattern="per-layer", qcr="sdpp"), "qcr takes one of auto, sdp, diag, min-eig"),
    (dict(method="fw", strengthen="diag"), "strengthen takes one of"),
    (dict(method="fw", polish="yes"), "polish takes a bool"),
    (dict(method="fw-polish", alpha=1.0), "alpha takes a number >= 0, < 1"),
    (dict(method="sparsegpt", damping_typo=0.5), "has no option 'damping_typo'; its options: blocksize"),
    (dict(method="exact", bogus=1), "method 'exact' has no option 'bogus'"),
])
def test_bad_values_and_options_are_one_clear_value_error(kwargs, message):
    args = dict(W=W, H=H, sparsity=0.5, pattern="per-row", method="wanda") | kwargs
    with pytest.raises(ValueError, match=message):
        solve_layer(**args)


def test_a_type_error_inside_a_method_is_not_taken_for_a_bad_option():
    from solvers import MethodSpec, register
    from solvers.registry import EXACT_METHODS, SPECS, unregister

    def broken(problem, *, time_limit=None, seed=0):
        raise TypeError("got an unexpected keyword argument 'inside'")

    register(MethodSpec("broken", broken))
    try:
        with pytest.raises(TypeError, match="inside"):
            solve_layer(W, H, 0.5, "per-row", "broken")
    finally:
        unregister("broken")
    assert "broken" not in SPECS and "broken" not in EXACT_METHODS


def test_sparsegpt_takes_the_problem_damping():
    """SparseGPT's OBS updates use solve_layer's damping (once SparseGPT's own option, silently shadowed)."""
    low = solve_layer(W, H, 0.5, "per-row", "sparsegpt", damping=0.01)
    high = solve_layer(W, H, 0.5, "per-row", "sparsegpt", damping=100.0)
    assert not np.allclose(low.info["weights"], high.info["weights"])
