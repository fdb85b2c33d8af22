"""Methods from outside the project (solvers.plugins): import paths and entry points, checked like built-ins."""
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from benchmark.checks import check_answer
from benchmark.harness import run_benchmark
from benchmark.records import read_records
from benchmark.runner import proves_optimum
from instances import load_set
from instances.reference import read_references
from instances.sets import reference_paths
from solvers import LayerProblem, MethodAnswer, SolveResult, find_method, make_problem, solve_layer
from solvers.plugins import load_entry_points
from solvers.registry import SPECS, unregister

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "examples.obs_saliency:solve"

PLUGIN_MODULE = '''
import numpy as np
from solvers import MethodAnswer, select_top
from solvers.exact.brute_force import solve_brute_force


def lying(problem, *, time_limit=None, seed=0):
    """Claims optimality for the magnitude mask."""
    return MethodAnswer(select_top(np.abs(problem.W), problem.pattern), status="optimal")


def honest(problem, *, time_limit=None, seed=0):
    """Claims optimality for the enumerated optimum (true, but a function is never an exact method)."""
    answer = solve_brute_force(problem, time_limit=time_limit)
    return MethodAnswer(answer.mask, lower_bound=answer.lower_bound, status="optimal")


def overbound(problem, *, time_limit=None, seed=0, factor: float = 10.0):
    """A heuristic mask with a 'bound' far above the optimum."""
    mask = select_top(np.abs(problem.W), problem.pattern)
    return MethodAnswer(mask, lower_bound=factor * float(np.sum(problem.W * (problem.W @ problem.H))))


def takes_damping(problem, *, time_limit=None, seed=0, damping=0.1):
    return MethodAnswer(select_top(np.abs(problem.W), problem.pattern))


def no_keywords(problem):
    return MethodAnswer(select_top(np.abs(problem.W), problem.pattern))


def not_an_answer(problem, *, time_limit=None, seed=0):
    return select_top(np.abs(problem.W), problem.pattern)
'''


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """A module ``user_plugins`` on sys.path (nothing installed)."""
    (tmp_path / "user_plugins.py").write_text(PLUGIN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "user_plugins"
    for name in [n for n in SPECS if n.startswith("user_plugins:")]:
        unregister(name)
    sys.modules.pop("user_plugins", None)


def _layer(seed=0, d_out=3, d_in=8):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d_in, 3 * d_in))
    return rng.standard_normal((d_out, d_in)), X @ X.T


def _bench(*args, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


def test_example_plugin_runs_through_bench_run_checked_like_a_built_in(tmp_path, cache):
    env = dict(os.environ, PRUNE_BENCH_CACHE=str(cache))
    out = _bench("run", "--instances", "tiny", "--solvers", f"{EXAMPLE}[percdamp=0.05],wanda", "--results",
                 str(tmp_path), "--quiet", env=env)
    assert out.returncode == 0, out.stderr
    records = [r for r in read_records(tmp_path) if r["method"] == EXAMPLE]
    assert len(records) == 5 and {r["solver"] for r in records} == {f"{EXAMPLE}[percdamp=0.05]"}
    problems = {p.name: p for p in load_set("tiny", progress=False)}
    for r in records:
        assert not r["flags"] and r["status"] == "heuristic"
        direct = solve_layer(problems[r["instance"]].W, problems[r["instance"]].H, 0.5, method=EXAMPLE, percdamp=0.05)
        assert r["objective"] == pytest.approx(direct.objective, rel=1e-12)
    # the OBS saliency is a real heuristic: at most the error of magnitude pruning on these layers, mostly better
    for p in problems.values():
        obs = solve_layer(p.W, p.H, 0.5, method=EXAMPLE).objective
        assert obs <= solve_layer(p.W, p.H, 0.5, method="magnitude").objective * (1 + 1e-12)


def test_plugin_options_and_signature_are_checked_once(plugin_module):
    W, H = _layer()
    with pytest.raises(ValueError, match="no option 'percdam'"):
        solve_layer(W, H, 0.5, method=EXAMPLE, percdam=0.1)
    with pytest.raises(ValueError, match="percdamp='x' is not valid"):
        solve_layer(W, H, 0.5, method=EXAMPLE, percdamp="x")
    with pytest.raises(ValueError, match="damping have the names of solve_layer's own parameters"):
        find_method(f"{plugin_module}:takes_damping")
    with pytest.raises(ValueError, match="takes \\(problem, \\*, time_limit, seed"):
        find_method(f"{plugin_module}:no_keywords")
    with pytest.raises(ValueError, match="returned ndarray, not a solvers.MethodAnswer"):
        solve_layer(W, H, 0.5, method=f"{plugin_module}:not_an_answer")
    with pytest.raises(ValueError, match="has no 'missing'"):
        find_method(f"{plugin_module}:missing")
    with pytest.raises(ValueError, match="cannot import 'no_such_package.module'"):
        find_method("no_such_package.module:solve")
    with pytest.raises(ValueError, match="unknown method 'obs'.*pkg.module:function"):
        find_method("obs")
    assert find_method(EXAMPLE).options["percdamp"].default == 0.01


def test_plugin_claims_and_bounds_are_cross_checked(plugin_module):
    W, H = _layer(1)
    optimum = solve_layer(W, H, 0.5, method="brute-force").objective
    lying = solve_layer(W, H, 0.5, method=f"{plugin_module}:lying")
    assert lying.objective > optimum * (1 + 1e-9)  # the magnitude mask is not optimal here
    assert lying.status == "time_limit" and not lying.info["cross_check"]["passed"]
    honest = solve_layer(W, H, 0.5, method=f"{plugin_module}:honest")
    assert honest.status == "optimal" and honest.info["cross_check"]["passed"]
    over = solve_layer(W, H, 0.5, method=f"{plugin_module}:overbound", factor=10.0)
    assert over.info["cross_check"]["bound_replaced"] and over.lower_bound <= optimum * (1 + 1e-9)


def test_a_plugin_optimum_is_never_stored_unless_registered_exact(tmp_path, cache, plugin_module):
    records = run_benchmark(["synthetic-2x8"], solvers=[f"{plugin_module}:honest"], results=tmp_path, progress=False)
    assert records[0]["status"] == "optimal" and records[0]["cross_check"] == "passed" and not records[0]["flags"]
    assert not proves_optimum(records[0])
    entry = read_references(reference_paths("synthetic-2x8")[1]).get("synthetic-2x8", "per-row@0.5", "mask")
    assert entry.opt is None and entry.best_primal == pytest.approx(records[0]["objective"])


DIST_INFO = {
    "METADATA": "Metadata-Version: 2.1\nName: user-methods\nVersion: 0.1\n",
    "entry_points.txt": textwrap.dedent("""\
        [prune_opt_bench.methods]
        obs-ep = examples.obs_saliency:solve
        exact-ep = user_exact:SPEC
        """),
}
EXACT_MODULE = '''
from solvers import MethodSpec
from solvers.exact.brute_force import solve_brute_force

SPEC = MethodSpec("renamed-by-the-entry-point", solve_brute_force, exact=True, doc="enumeration, as a plug-in")
'''


@pytest.fixture
def installed_entry_points(tmp_path, monkeypatch):
    """A package's metadata on sys.path as an installed distribution would leave it (nothing pip-installed)."""
    dist = tmp_path / "user_methods-0.1.dist-info"
    dist.mkdir()
    for name, text in DIST_INFO.items():
        (dist / name).write_text(text)
    (tmp_path / "user_exact.py").write_text(EXACT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(ROOT))
    yield tmp_path
    for name in ("obs-ep", "exact-ep"):
        if name in SPECS:
            unregister(name)
    load_entry_points(force=True)


def test_entry_point_methods_load_by_name_in_this_and_a_fresh_process(installed_entry_points, tmp_path, cache):
    assert sorted(load_entry_points(force=True)) == ["exact-ep", "obs-ep"]
    assert SPECS["obs-ep"].origin == "entry point user-methods" and not SPECS["obs-ep"].exact
    assert SPECS["exact-ep"].exact and SPECS["exact-ep"].name == "exact-ep"
    W, H = _layer(2)
    assert solve_layer(W, H, 0.5, method="obs-ep").objective == solve_layer(W, H, 0.5, method=EXAMPLE).objective
    records = run_benchmark(["synthetic-2x8"], solvers=["exact-ep"], results=tmp_path / "r", progress=False)
    assert records[0]["status"] == "optimal" and proves_optimum(records[0])  # registered exact, claim checked
    entry = read_references(reference_paths("synthetic-2x8")[1]).get("synthetic-2x8", "per-row@0.5", "mask")
    assert entry.opt is not None and "method=exact-ep" in entry.origin("opt")
    # a fresh interpreter (as a Dask or spawned worker is) finds the entry point by name on its own
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(installed_entry_points), str(ROOT)]))
    code = ("import numpy as np, json; from solvers import solve_layer; rng = np.random.default_rng(0); "
            "W = rng.standard_normal((2, 8)); X = rng.standard_normal((8, 20)); "
            "print(json.dumps(solve_layer(W, X @ X.T, 0.5, method='obs-ep').status))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                         cwd=installed_entry_points)
    assert out.returncode == 0 and json.loads(out.stdout) == "heuristic", out.stderr


def test_an_entry_point_may_not_take_a_built_in_name(tmp_path, monkeypatch):
    dist = tmp_path / "bad_methods-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-methods\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[prune_opt_bench.methods]\nwanda = examples.obs_saliency:solve\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ValueError, match="takes the name 'wanda' of a built-in method"):
            load_entry_points(force=True)
    finally:
        monkeypatch.undo()
        load_entry_points(force=True)
    assert SPECS["wanda"].origin == "built-in"


def test_harness_flags_a_bound_above_the_answer():
    problem = make_problem(*_layer(3), sparsity=0.5)
    mask = solve_layer(problem.W, problem.H, 0.5, method="wanda").mask
    from solvers.core.objective import layer_error

    value = layer_error(problem.W, problem.H, mask)
    result = SolveResult(mask=mask, objective=value, lower_bound=2 * value, status="heuristic", time_s=0.0)
    assert "bound_above_objective" in check_answer(problem, problem.pattern, "mask", 0.01, result)
    assert isinstance(problem, LayerProblem) and MethodAnswer(mask).status == "heuristic"
    assert math.isfinite(value)
