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
    (dict(method="fw", device="gpu"), "device must be .*'gpu'"),
    (dict(method="sparseswaps", device="cuda:x"), "device must be .*'cuda:x'"),
    (dict(method="sparseswaps", pattern="per-layer", device="tpu"), "device must be .*'tpu'"),
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
