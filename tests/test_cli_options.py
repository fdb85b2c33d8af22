"""Solver options from the command line: ``bench run --solvers "fw[strengthen=diag-bm,variant=bpcg]"``."""
import subprocess
import sys

import pytest

from benchmark.harness import run_benchmark
from benchmark.jobs import parse_solver, split_solvers


def test_split_and_parse_solver_entries():
    assert split_solvers("wanda,fw[strengthen=diag-bm,variant=bpcg],mip[formulation=factor]") == [
        "wanda", "fw[strengthen=diag-bm,variant=bpcg]", "mip[formulation=factor]"]
    assert parse_solver("fw[variant=bpcg,strengthen=diag-bm]") == (
        "fw[strengthen=diag-bm,variant=bpcg]", "fw", {"strengthen": "diag-bm", "variant": "bpcg"})
    assert parse_solver("fw-bnb[node_limit=10,node_sdp=false,gap_limit=1e-4]")[2] == {
        "node_limit": 10, "node_sdp": False, "gap_limit": 1e-4}
    assert parse_solver("wanda") == ("wanda", "wanda", {})
    for bad in ("fw[strengthen]", "fw[a=1", "fw]"):
        with pytest.raises(ValueError):
            split_solvers(bad) and parse_solver(bad)


def test_bracket_options_are_the_presets(tmp_path, cache):
    """fw[strengthen=diag-bm,variant=bpcg] is fw-bm: same answers, its own label and job key."""
    records = run_benchmark(["tiny"], solvers=["fw[strengthen=diag-bm,variant=bpcg]", "fw-bm"], results=tmp_path,
                            progress=False)
    by = {}
    for r in records:
        by.setdefault(r["solver"], {})[r["instance"]] = (r["objective"], r["lower_bound"])
    assert by["fw[strengthen=diag-bm,variant=bpcg]"] == by["fw-bm"]
    labelled = [r for r in records if r["solver"].startswith("fw[")]
    assert all(r["method"] == "fw" and "diag-bm" in r["solver_options"] for r in labelled)


def test_a_misspelt_option_exits_2_with_one_line(tmp_path, cache):
    out = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", "--instances", "tiny", "--solvers",
                          "wanda,fw[strengthn=diag-bm]", "--results", str(tmp_path), "--quiet"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        out.stderr.strip()] and "bench: error: method 'fw' has no option 'strengthn'" in out.stderr
    assert not (tmp_path / "records.jsonl").exists()


def test_only_runs_the_problems_whose_names_match_and_names_a_part_that_matches_none(tmp_path, cache):
    records = run_benchmark(["tiny"], solvers=["wanda"], only=["1x16", "2x8"], results=tmp_path, progress=False)
    assert sorted({r["instance"] for r in records}) == ["tiny-1x16", "tiny-2x8"]
    out = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", "--instances", "tiny", "--solvers", "wanda",
                          "--only", "o_proj", "--results", str(tmp_path / "none"), "--quiet"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "bench: error: --only o_proj matches no problem of set 'tiny'" in out.stderr
    assert not (tmp_path / "none" / "records.jsonl").exists()
