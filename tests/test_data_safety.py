"""Nothing is lost: set names, extraction's deletes, manifests, torn and shared record files, read-only
reference files, error records on resume, and requests that cannot run."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import solvers.registry
from benchmark.harness import run_benchmark
from benchmark.records import RecordWriter, ResultsInUse, read_records
from instances import load_set
from instances.sets import check_set_name, extract_set
from instances.store import InstanceFileError, Problem, load_saved_set, save_set


@pytest.mark.parametrize("name", [".", "..", "", "a/b", "../up", ".hidden", "x\\y", "tab\there"])
def test_set_names_must_be_plain(name, cache):
    with pytest.raises(ValueError, match="bad instance set name"):
        check_set_name(name)


def _fake_set(directory, name):
    save_set(directory, name, [Problem("m", np.ones((2, 4)), np.eye(4), {})], {"set": name})


def test_extraction_replaces_only_its_own_set(cache, monkeypatch):
    import instances.extract
    import instances.models

    for other in ("smollm2-135m-l3", "smollm2-135m-l3.old", "keep-me-l1"):
        _fake_set(cache / other, other)
    (cache / "user-notes").mkdir()
    (cache / "user-notes" / "file.txt").write_text("mine")
    monkeypatch.setattr(instances.models, "load_model", lambda model, device=None: object())
    monkeypatch.setattr(instances.extract, "extract", lambda loaded, layers, **kw: (
        {"layer3.mlp.down_proj": (np.full((2, 4), 2.0), 2 * np.eye(4))}, {}))
    extract_set("smollm2-135m", [3])
    assert load_saved_set(cache / "smollm2-135m-l3")[0].W[0, 0] == 2.0
    for other in ("smollm2-135m-l3.old", "keep-me-l1"):
        assert load_saved_set(cache / other)[0].W[0, 0] == 1.0
    assert (cache / "user-notes" / "file.txt").read_text() == "mine"
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no staging left behind
    with pytest.raises(ValueError, match="bad instance set name"):
        extract_set("smollm2-135m", [3], name=".")
    with pytest.raises(ValueError, match="not an instance set"):
        extract_set("smollm2-135m", [3], name="user-notes")
    assert (cache / "user-notes" / "file.txt").read_text() == "mine"


def test_cli_extract_with_dot_name_is_one_error_line(cache):
    out = subprocess.run([sys.executable, "-m", "benchmark.cli", "extract", "--model", "smollm2-135m", "--layers", "3",
                          "--name", "."], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("bench: error: bad instance set name")


@pytest.mark.parametrize("change, message", [
    (lambda e: e.update(file="/etc/passwd"), "not a plain file name"),
    (lambda e: e.update(file="../other/m.safetensors"), "not a plain file name"),
    (lambda e: e.pop("sha256"), "no valid 'sha256'"),
    (lambda e: e.update(W_shape="2x4"), "no valid 'W_shape'"),
    (lambda e: e.update(meta=[1]), "'meta' of 'm' is not an object"),
])
def test_malformed_manifest_entries_are_clear_errors(tmp_path, change, message):
    _fake_set(tmp_path / "s", "s")
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    change(manifest["problems"][0])
    (tmp_path / "s" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InstanceFileError, match=message):
        load_saved_set(tmp_path / "s")


def test_manifest_problems_not_a_list(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"problems": {"a": 1}}))
    with pytest.raises(InstanceFileError, match="not a list"):
        load_saved_set(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"problems": ["x"]}))
    with pytest.raises(InstanceFileError, match="entry 0 is not an object"):
        load_saved_set(tmp_path)


def test_torn_last_line_loses_no_following_record(tmp_path, cache):
    results = tmp_path / "res"
    first = run_benchmark(["tiny"], solvers=["wanda"], results=results, progress=False)
    path = results / "records.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])  # crash mid-write
    with pytest.warns(UserWarning, match="corrupt record line"):
        again = run_benchmark(["tiny"], solvers=["wanda", "magnitude"], results=results, progress=False)
    assert len(again) == 1 + 5  # the torn job again, and every new one
    with pytest.warns(UserWarning):
        keys = {r["job_key"] for r in read_records(results)}
    assert keys == {r["job_key"] for r in first} | {r["job_key"] for r in again}


def test_a_second_writer_on_one_results_folder_stops_at_once(tmp_path, cache):
    writer = RecordWriter(tmp_path)
    try:
        with pytest.raises(ResultsInUse, match="another bench run"):
            run_benchmark(["tiny"], solvers=["wanda"], results=tmp_path, progress=False)
    finally:
        writer.close()
    assert len(run_benchmark(["tiny"], solvers=["wanda"], results=tmp_path, progress=False)) == 5


def test_an_unwritable_reference_file_costs_no_record(tmp_path, cache, monkeypatch, capsys):
    import benchmark.runner

    def refuse(path, refs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(benchmark.runner, "write_references", refuse)
    records = run_benchmark(["tiny"], solvers=["wanda", "brute-force"], results=tmp_path, progress=False)
    assert len(records) == 10 and len(read_records(tmp_path)) == 10
    assert "reference values of tiny not updated" in capsys.readouterr().err


def _always_fails(problem, **kw):
    raise RuntimeError("transient failure")


def test_jobs_that_ended_in_an_error_run_again_on_resume(tmp_path, cache, monkeypatch, capsys):
    from solvers.heuristics.scores import solve_wanda

    monkeypatch.setitem(solvers.registry.METHODS, "flaky", _always_fails)
    first = run_benchmark(["tiny"], solvers=["flaky"], results=tmp_path, progress=False)
    assert all(r["status"] == "error" for r in first)
    kept = run_benchmark(["tiny"], solvers=["flaky"], results=tmp_path, progress=False, retry_errors=False)
    assert kept == []
    monkeypatch.setitem(solvers.registry.METHODS, "flaky", solve_wanda)
    again = run_benchmark(["tiny"], solvers=["flaky"], results=tmp_path, progress=False)
    assert len(again) == 5 and all(r["status"] == "heuristic" for r in again)
    assert "5 that ended in an error run again" in capsys.readouterr().out


@pytest.mark.parametrize("name, message", [
    ("synthetic-100000x100000", "out of range"),
    ("synthetic-0x16", "out of range"),
    ("smollm2-135m-l3-n0", "slice size n must be at least 2"),
])
def test_impossible_sets_fail_at_once(name, message, cache):
    with pytest.raises(ValueError, match=message):
        load_set(name)


def test_settings_that_do_not_fit_a_set_are_refused_before_any_job(tmp_path, cache):
    with pytest.raises(ValueError, match="setting 2:5 does not apply to tiny/tiny-4x8-a"):
        run_benchmark(["tiny"], solvers=["wanda"], patterns=["2:5"], results=tmp_path, progress=False)
    assert not (tmp_path / "records.jsonl").exists()
    out = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", "--instances", "tiny", "--pattern", "2:5",
                          "--solvers", "wanda", "--results", str(tmp_path), "--quiet"], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ))
    assert out.returncode == 2 and "bench: error: setting 2:5 does not apply" in out.stderr


def test_records_of_other_code_are_not_resumed_silently(tmp_path, cache, capsys):
    first = run_benchmark(["tiny"], solvers=["wanda"], results=tmp_path, progress=False)
    path = tmp_path / "records.jsonl"
    path.write_text(path.read_text().replace(f'"git_commit": "{first[0]["git_commit"]}"', '"git_commit": "0ld0c0de"'))
    again = run_benchmark(["tiny"], solvers=["wanda"], results=tmp_path, progress=False)
    assert len(again) == 5 and "5 made by other code (0ld0c0de" in capsys.readouterr().out
    path.write_text(path.read_text().replace(f'"git_commit": "{first[0]["git_commit"]}"', '"git_commit": "0ld0c0de"'))
    kept = run_benchmark(["tiny"], solvers=["wanda"], results=tmp_path, progress=False, resume_any_commit=True)
    assert kept == [] and "counted as done (--resume-any-commit)" in capsys.readouterr().out


def test_a_typo_in_a_set_name_is_caught_at_once_with_a_suggestion(cache):
    import time as clock

    started = clock.monotonic()
    with pytest.raises(ValueError, match="unknown instance set 'smolm2-135m-l3'; did you mean 'smollm2-135m-l3'"):
        load_set("smolm2-135m-l3")
    assert clock.monotonic() - started < 5


def test_offline_hub_fails_in_seconds(cache, monkeypatch):
    import time as clock

    from instances.models import ModelUnavailable, hub_reachable, load_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hub_reachable()
    started = clock.monotonic()
    with pytest.raises(ModelUnavailable, match="unreachable") as failure:
        load_model("opt-125m", "cpu")
    assert clock.monotonic() - started < 30
    # the way out names options each command really has (bench run takes --instances, not --model)
    assert "bench run --instances smollm2-135m-l3" in str(failure.value) and "bench run --instances DIR" in str(failure.value)
