"""Reference values carry provenance; only verified exact claims become optima; contradictions are reported
and repairable (``bench reference``)."""
import subprocess
import sys

import pytest

import solvers.registry
from benchmark.harness import run_benchmark
from instances.reference import References, read_references, write_references
from instances.sets import reference_paths
from solvers import MethodSpec, register
from solvers.registry import unregister
from solvers.core.result import MethodAnswer
from solvers.heuristics.scores import solve_magnitude

SET = "synthetic-2x8"  # no shipped reference file
KEY = ("synthetic-2x8", "per-row@0.5", "mask")


def _claims_optimal(problem, **kw):
    return MethodAnswer(solve_magnitude(problem).mask, lower_bound=0.0, status="optimal")


def _cached():
    return read_references(reference_paths(SET)[1])


def _bench(*args):
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], capture_output=True, text=True, timeout=300)


def test_only_verified_exact_claims_become_optima(tmp_path, cache, monkeypatch):
    monkeypatch.setitem(solvers.registry.METHODS, "user-claim", _claims_optimal)  # not a registered exact method
    run_benchmark([SET], solvers=["user-claim"], results=tmp_path, progress=False)
    assert _cached().get(*KEY).opt is None
    register(MethodSpec("exact-liar", _claims_optimal, exact=True))  # registered exact, but its claim is wrong
    try:
        records = run_benchmark([SET], solvers=["exact-liar"], results=tmp_path, progress=False)
    finally:
        unregister("exact-liar")
    assert "wrong_optimal_claim" in records[0]["flags"] and records[0]["status"] == "time_limit"
    assert _cached().get(*KEY).opt is None
    run_benchmark([SET], solvers=["brute-force"], results=tmp_path, progress=False)
    entry = _cached().get(*KEY)
    assert entry.opt is not None
    origin = entry.origin("opt")
    assert "method=brute-force" in origin and "proof=enumeration+cross-checked" in origin and "commit=" in origin


def test_a_hand_edited_optimum_below_the_truth_is_reported_and_repairable(tmp_path, cache):
    run_benchmark([SET], solvers=["brute-force"], results=tmp_path / "a", progress=False)
    refs = _cached()
    true_opt = refs.get(*KEY).opt
    refs.entries[("synthetic-2x8.bad",) + KEY[1:]] = refs.entries.pop(KEY)  # keep the other entry aside
    write_references(reference_paths(SET)[1], refs)
    text = reference_paths(SET)[1].read_text().replace("synthetic-2x8.bad", "synthetic-2x8")
    text = text.replace(repr(true_opt), repr(true_opt * 0.5))
    reference_paths(SET)[1].write_text(text)
    records = run_benchmark([SET], solvers=["brute-force"], results=tmp_path / "b", progress=False)
    flagged = [r for r in records if r["setting"] == "per-row@0.5"]
    assert all("reference_conflict" in r["flags"] and "disputed" in r["reference_conflict"] for r in flagged)
    out = _bench("reference", "--instances", SET, "--check", "--results", str(tmp_path / "b"))
    assert out.returncode == 1 and "disputed" in out.stdout
    out = _bench("reference", "--instances", SET, "--drop", "synthetic-2x8/per-row@0.5/mask")
    assert out.returncode == 0 and "dropped" in out.stdout
    again = run_benchmark([SET], solvers=["brute-force"], results=tmp_path / "c", progress=False)
    assert not any(r["flags"] for r in again)
    assert _cached().get(*KEY).opt == pytest.approx(true_opt, rel=1e-12)


def test_a_stored_bound_above_the_truth_is_refuted_not_kept(tmp_path, cache, capsys):
    refs = References()
    refs.update(*KEY, bound=1e9, provenance={"method": "hand"})
    write_references(reference_paths(SET)[1], refs)
    records = run_benchmark([SET], solvers=["wanda"], results=tmp_path, progress=False)
    record = next(r for r in records if r["setting"] == "per-row@0.5")
    assert "reference_conflict" in record["flags"] and "refuted" in record["reference_conflict"]
    assert "CONFLICT" in capsys.readouterr().err
    assert _cached().get(*KEY).bound < 1e9  # the refuted bound is gone from the cached file
    again = run_benchmark([SET], solvers=["magnitude"], results=tmp_path, progress=False)
    assert not any("reference_conflict" in r["flags"] for r in again)


def test_an_optimum_without_provenance_is_not_read_as_proven(tmp_path):
    path = tmp_path / "old.solu"
    path.write_text("=opt= a per-row@0.5 mask 1.5\n=opt= b per-row@0.5 mask 2.5 method=brute-force proof=enumeration\n")
    refs = read_references(path)
    assert refs.get("a", "per-row@0.5", "mask").opt is None
    assert refs.get("a", "per-row@0.5", "mask").best_bound == 1.5  # still a feasible value and a bound
    assert refs.get("b", "per-row@0.5", "mask").opt == 2.5
    with pytest.raises(ValueError, match="provenance field 'x' is not key=value"):
        path.write_text("=opt= a per-row@0.5 mask 1.5 x\n")
        read_references(path)


def test_bench_reference_lists_entries_with_provenance(tmp_path, cache):
    run_benchmark([SET], solvers=["brute-force"], results=tmp_path, progress=False)
    out = _bench("reference", "--instances", SET)
    assert out.returncode == 0 and "method=brute-force" in out.stdout
    out = _bench("reference", "--instances", SET, "--check")
    assert out.returncode == 0 and "0 problem(s)" in out.stdout
    out = _bench("reference", "--instances", SET, "--drop", "")
    assert out.returncode == 2 and "bench: error: --drop takes" in out.stderr
