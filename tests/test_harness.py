"""The harness end to end: CLI, resume after kill -9, flags on wrong solvers, leaderboards, Dask."""
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import solvers.registry
from benchmark.cli import main as bench_main
from benchmark.harness import run_benchmark
from benchmark.leaderboard import build_leaderboards
from benchmark.records import read_records
from instances import load_set
from solvers import solve_layer
from solvers.core.patterns import select_top
from solvers.core.result import MethodAnswer

DATA = Path(__file__).parent / "data"


def _bench(*args, env=None):
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], capture_output=True, text=True,
                          env=env or os.environ.copy(), timeout=300)


def test_cli_end_to_end_on_tiny(tmp_path, cache):
    out = _bench("run", "--instances", "tiny", "--solvers", "wanda,sparseswaps,brute-force", "--pattern", "per-row,2:4",
                 "--results", str(tmp_path / "res"), "--quiet")
    assert out.returncode == 0, out.stderr
    records = read_records(tmp_path / "res")
    assert len(records) == 5 * 2 * 3 and not any(r["flags"] for r in records)
    brute = [r for r in records if r["solver"] == "brute-force"]
    # optimal, and at the stored optimum up to rounding (objective and reference summed in other orders: 1e-16 seen)
    assert all(r["status"] == "optimal" and abs(r["gap_to_best_bound"]) <= 1e-12 for r in brute)
    for r in records:  # every record carries provenance and shape
        assert r["git_commit"] and r["cpu"] and r["version_numpy"] and r["d_out"] * r["d_in"] > 0
    out = _bench("leaderboard", "--results", str(tmp_path / "res"))
    assert out.returncode == 0, out.stderr
    html = (tmp_path / "res" / "leaderboard" / "tiny.html").read_text()
    assert "data:image/png;base64" in html and "sparseswaps" in html
    assert (tmp_path / "res" / "leaderboard" / "tiny.md").exists()


SLOW_SOLVER = """
import sys, time
import solvers.registry as reg
from solvers.heuristics.scores import solve_wanda
def slow(problem, **kw):
    time.sleep(0.4)
    return solve_wanda(problem, **kw)
reg.METHODS["slow-wanda"] = slow
from benchmark.cli import main
main(sys.argv[1:])
"""


def test_resume_after_kill_loses_no_record(tmp_path, cache):
    results = tmp_path / "res"
    args = ["run", "--instances", "tiny", "--solvers", "slow-wanda", "--sparsity", "0.25,0.5,0.75",
            "--results", str(results), "--quiet"]
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SOLVER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    path = results / "records.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not path.exists() or len(path.read_text().splitlines()) < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = read_records(results)
    assert 3 <= len(before) < 15
    out = subprocess.run([sys.executable, "-c", SLOW_SOLVER, *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "resuming" in out.stdout
    after = read_records(results)
    keys = [r["job_key"] for r in after]
    assert len(keys) == len(set(keys)) == 15  # every job once: finished ones were skipped
    assert {r["job_key"]: r["objective"] for r in before}.items() <= {r["job_key"]: r["objective"] for r in after}.items()


def _liar(problem, **kw):
    """Claims optimality for the magnitude mask (wrong on tiny instances)."""
    return MethodAnswer(select_top(np.abs(problem.W), problem.pattern), lower_bound=-math.inf, status="optimal")


def _overbound(problem, **kw):
    """A lower bound far above any optimum."""
    return MethodAnswer(select_top(np.abs(problem.W), problem.pattern), lower_bound=1e9, status="time_limit")


def _infeasible(problem, **kw):
    return MethodAnswer(np.ones(problem.shape, dtype=bool), status="heuristic")


def test_flags_fire_on_wrong_solvers(tmp_path, cache, monkeypatch, capsys):
    for name, fn in [("liar", _liar), ("overbound", _overbound), ("infeasible", _infeasible)]:
        monkeypatch.setitem(solvers.registry.METHODS, name, fn)
    records = run_benchmark(["tiny"], solvers=["liar", "overbound", "infeasible", "wanda"], results=tmp_path,
                            progress=False)
    by_solver = {}
    for r in records:
        by_solver.setdefault(r["solver"], set()).update(f for f in r["flags"].split(",") if f)
    assert "wrong_optimal_claim" in by_solver["liar"]
    # a plug-in's bound is cross-checked in solve_layer like an exact method's: refuted and replaced
    assert "invalid_bound" in by_solver["overbound"]
    assert all(r["lower_bound"] <= r["objective"] for r in records if r["solver"] == "overbound")
    assert {"infeasible", "solver_error"} <= by_solver["infeasible"]
    assert not by_solver["wanda"]
    assert "FLAGGED [wrong_optimal_claim]" in capsys.readouterr().err
    # flagged answers never enter the reference values
    from instances import load_references
    entry = load_references("tiny").get("tiny-4x8-a", "per-row@0.5", "mask")
    assert entry.opt is not None and entry.bound <= entry.opt + 1e-12
    board = build_leaderboards(tmp_path, plots=False)[0].read_text()
    assert "Flagged answers" in board and "wrong_optimal_claim" in board


def test_leaderboard_from_fixed_records_matches_stored_table(tmp_path):
    shutil.copy(DATA / "records_fixed.jsonl", tmp_path / "records.jsonl")
    with pytest.warns(UserWarning, match="corrupt record line"):
        path = build_leaderboards(tmp_path, plots=False)[0]
    assert path.read_text() == (DATA / "expected_leaderboard.md").read_text()
    with pytest.warns(UserWarning):
        again = build_leaderboards(tmp_path, plots=False)[0].read_text()
    assert again == path.read_text()
    page = path.with_suffix(".html").read_text()
    assert page.count("<b>") >= 5 and "<b>0.1851</b>" in page and "bound from" in page  # best method value bold


def test_dask_local_cluster_gives_same_records_as_local(tmp_path, cache):
    distributed = pytest.importorskip("dask.distributed")
    # a plug-in by import path too: each Dask worker process resolves the name itself (solvers.plugins)
    kwargs = dict(solvers=["wanda", "sparseswaps", "brute-force", "examples.obs_saliency:solve[percdamp=0.05]"],
                  patterns=["per-row", "2:4"], progress=False)
    local = run_benchmark(["tiny"], results=tmp_path / "local", **kwargs)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = run_benchmark(["tiny"], results=tmp_path / "dask", scheduler=cluster.scheduler_address, **kwargs)
    fields = ("objective", "status", "lower_bound", "flags", "relative_error")
    assert len(remote) == 40 and not any(r["flags"] for r in remote)
    assert {r["job_key"]: tuple(r[f] for f in fields) for r in local} == {r["job_key"]: tuple(r[f] for f in fields) for r in remote}


def test_process_pool_gives_same_records(tmp_path, cache):
    kwargs = dict(solvers=["wanda", "sparseswaps", "examples.obs_saliency:solve"], patterns=["per-row"], progress=False)
    local = run_benchmark(["tiny"], results=tmp_path / "a", **kwargs)
    pooled = run_benchmark(["tiny"], results=tmp_path / "b", n_jobs=2, **kwargs)
    assert {r["job_key"]: r["objective"] for r in local} == {r["job_key"]: r["objective"] for r in pooled}


@pytest.mark.parametrize("args, message", [
    (["run", "--instances", "tiny", "--solvers", "nope"], "unknown solver"),
    (["run", "--instances", "nope"], "unknown instance set 'nope'"),
    (["run", "--instances", "tiny", "--sparsity", "1.5"], "sparsity must be a fraction"),
    (["run", "--instances", "tiny", "--sparsity", "abc"], "--sparsity takes comma-separated numbers"),
    (["run", "--instances", "tiny", "--pattern", "diagonal"], "unknown pattern"),
    (["run", "--instances", "tiny", "--time-limit", "-3"], "--time-limit"),
    (["leaderboard", "--results", "/nonexistent-results"], "no records"),
])
def test_bad_cli_input_exits_2_with_message(args, message, capsys, cache):
    with pytest.raises(SystemExit) as exit_info:
        bench_main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_unwritable_results_dir_is_clear_and_keeps_results(tmp_path, capsys, cache):
    blocker = tmp_path / "file"
    blocker.write_text("existing results stay")
    with pytest.raises(SystemExit) as exit_info:
        bench_main(["run", "--instances", "tiny", "--results", str(blocker / "sub")])
    assert exit_info.value.code == 2 and "not writable" in capsys.readouterr().err
    assert blocker.read_text() == "existing results stay"


def test_bad_set_name_leaves_no_results_file(tmp_path, capsys, cache):
    with pytest.raises(SystemExit):
        bench_main(["run", "--instances", "nope", "--results", str(tmp_path / "res")])
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize("args, message", [
    (["prune", "--model", "smollm2-135m", "--method", "nope"], "unknown method 'nope'"),
    (["prune", "--model", "smollm2-135m", "--method", "wanda", "--pattern", "5:4"], "0 < N < M"),
    (["prune", "--model", "smollm2-135m", "--method", "wanda", "--sparsity", "1.2"], "sparsity"),
    (["prune", "--model", "smollm2-135m", "--method", "wanda", "--blocks", "x-y"], "--blocks"),
])
def test_bad_prune_input_exits_2_before_loading_the_model(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_main(args + ["--results", str(tmp_path)])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_prune_run_key_survives_the_record_round_trip(tmp_path):
    """prune_grid resumes by key; an N:M run (sparsity None, stored as null, read back as NaN) must
    match its own record, or every 2:4 run would be repeated on resume."""
    from benchmark.leaderboard import model_table
    from benchmark.records import RecordWriter, prune_run_key

    base = {"model": "m", "method": "wanda", "objective_kind": "mask", "calibration": "corpus", "nsamples": 4,
            "seqlen": 64, "eval_tokens": 128, "perplexity_dense": 10.0, "perplexity_pruned": 20.0,
            "sparsity_achieved": 0.5, "summed_layer_error": 1.0, "time_s": 1.0, "device": "cpu"}
    written = [dict(base, pattern="2:4", sparsity=None), dict(base, pattern="per-row", sparsity=0.5),
               dict(base, pattern="2:4", sparsity=None, perplexity_pruned=21.0)]  # a repeat of the first
    writer = RecordWriter(tmp_path, "prune_records.jsonl")
    for record in written:
        writer.write(record)
    writer.close()
    read = read_records(tmp_path, "prune_records.jsonl", required="perplexity_pruned")
    assert [prune_run_key(r) for r in read] == [prune_run_key(r) for r in written]
    rows = model_table(tmp_path)
    assert len(rows) == 2
    repeated = next(r for r in rows if r["pattern"] == "2:4")
    assert repeated["runs"] == 2 and repeated["ppl pruned"] == 21.0


def _sleeper(problem, **kw):
    time.sleep(120)


def _dies(problem, **kw):
    os._exit(3)


def test_watchdog_stops_a_runaway_job_and_a_dying_one(tmp_path, cache, monkeypatch):
    import benchmark.runner

    monkeypatch.setattr(benchmark.runner, "WATCHDOG_GRACE_S", 1.0)
    monkeypatch.setitem(solvers.registry.METHODS, "sleeper", _sleeper)
    monkeypatch.setitem(solvers.registry.METHODS, "dies", _dies)
    started = time.monotonic()
    records = run_benchmark(["tiny"], solvers=["sleeper", "dies", "wanda"], time_limit=0.2, results=tmp_path,
                            progress=False, n_jobs=2)
    assert time.monotonic() - started < 60
    by_solver = {}
    for r in records:
        by_solver.setdefault(r["solver"], []).append(r)
    assert all(r["flags"] == "overrun" and "watchdog" in r["error"] for r in by_solver["sleeper"])
    assert all("job process died" in r["error"] for r in by_solver["dies"])
    assert len(by_solver["wanda"]) == 5 and not any(r["flags"] for r in by_solver["wanda"])


def test_reconstruct_records_carry_the_undamped_error_of_the_refit(tmp_path, cache):
    from solvers.core.objective import refit_weights

    records = run_benchmark(["tiny"], solvers=["wanda"], objective="reconstruct", results=tmp_path, progress=False)
    problems = {p.name: p for p in load_set("tiny", progress=False)}
    for r in records:
        p = problems[r["instance"]]
        mask = solve_layer(p.W, p.H, 0.5, method="wanda").mask
        D = p.W - refit_weights(p.W, p.H, mask)
        assert r["undamped_error"] == pytest.approx(float(np.sum((D @ p.H) * D)), rel=1e-9)
        assert r["undamped_error"] <= r["objective"] * (1 + 1e-12)  # the damping term only adds
    board = build_leaderboards(tmp_path, plots=False)[0].read_text()
    assert "mean undamped rel. error" in board


def test_prepare_solvers_imports_what_methods_require_and_skips_unknown_names(monkeypatch):
    """The runner pays a method's imports before forking its jobs (so ``time_s`` is the solve): a method's
    ``requires`` package is imported, the BLAS controller made; an unknown or uninstalled method is left to its jobs."""
    from dataclasses import replace

    import solvers.core.arrays as arrays
    from benchmark.runner import prepare_solvers

    spec = solvers.registry.SPECS["wanda"]
    monkeypatch.setitem(solvers.registry.SPECS, "needs-colorsys",
                        replace(spec, name="needs-colorsys", requires="colorsys"))
    monkeypatch.setitem(solvers.registry.SPECS, "needs-missing",
                        replace(spec, name="needs-missing", requires="no_such_package_here"))
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    monkeypatch.setattr(arrays, "_threadpools", None)
    prepare_solvers({"needs-colorsys", "needs-missing", "no-such-method"})
    assert "colorsys" in sys.modules and arrays._threadpools is not None


def _logged_magnitude(problem, **kw):
    with open(os.environ["WARM_UP_TEST_LOG"], "a") as log:
        log.write(f"{os.getpid()} {problem.W.shape[0]} {problem.W.shape[1]}\n")
    return MethodAnswer(select_top(np.abs(problem.W), problem.pattern), status="heuristic")


@pytest.mark.parametrize("warm_up", [False, True])
def test_warm_up_solves_a_one_row_problem_of_the_jobs_width_first_in_the_jobs_process(tmp_path, cache, monkeypatch,
                                                                                     warm_up):
    """``bench run --warm-up``: each job's process first solves a one-row problem of the job's width with its method
    (then the job, whose answer is unchanged); records say whether it was warmed."""
    log = tmp_path / "calls.txt"
    monkeypatch.setenv("WARM_UP_TEST_LOG", str(log))
    monkeypatch.setitem(solvers.registry.METHODS, "logged", _logged_magnitude)
    records = run_benchmark(["tiny"], solvers=["logged"], results=tmp_path / "res", progress=False, warm_up=warm_up)
    calls = [line.split() for line in log.read_text().splitlines()]
    by_process = {}
    for pid, rows, width in calls:
        by_process.setdefault(pid, []).append((int(rows), int(width)))
    shapes = {(r["d_out"], r["d_in"]) for r in records}
    assert len(by_process) == len(records) and all(r["warm_up"] is warm_up for r in records)
    for solved in by_process.values():
        assert solved[-1] in shapes
        assert solved[:-1] == ([(1, solved[-1][1])] if warm_up else [])
    plain = {p.name: solve_layer(p.W, p.H, 0.5, method="magnitude").objective for p in load_set("tiny", progress=False)}
    assert all(r["objective"] == pytest.approx(plain[r["instance"]], rel=1e-12) for r in records)
