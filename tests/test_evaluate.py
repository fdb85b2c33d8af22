"""Scoring masks made elsewhere: solvers.evaluate_mask and bench eval (--masks, --model)."""
import json

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.leaderboard import build_leaderboards
from benchmark.records import read_records
from instances import load_set
from instances.sets import set_directory
from instances.store import Problem, save_set
from instances.synthetic import synthetic_layer
from solvers import detect_pattern, evaluate_mask, layer_error, solve_layer
from solvers.evaluate import candidate_patterns, resolve_ambiguous


def _cli(*args):
    with pytest.raises(SystemExit) as done:
        main(list(args))
    return done.value.code


@pytest.mark.parametrize("pattern, sparsity, detected", [("per-row", 0.5, "per-row"), ("2:4", None, "2:4"),
                                                         ("per-layer", 0.75, "per-layer"), ("per-row", 0.3, "per-row")])
def test_evaluate_mask_objective_pattern_and_certified_gap(pattern, sparsity, detected):
    W, H = synthetic_layer(3, 16, seed=5)
    made = solve_layer(W, H, sparsity, pattern, method="magnitude")
    fields = evaluate_mask(W, H, made.mask, bound="fw-sdp")
    assert fields["pattern"] == detected and fields["objective"] == pytest.approx(layer_error(W, H, made.mask), rel=1e-12)
    if sparsity is not None:
        assert fields["sparsity"] == sparsity  # the setting name the built-in methods use ("per-row@0.5")
    optimum = solve_layer(W, H, sparsity, pattern, method="exact").objective
    assert fields["lower_bound"] <= optimum * (1 + 1e-7) <= fields["objective"] * (1 + 1e-7) + 1e-12
    assert fields["gap"] == pytest.approx(max(0.0, (fields["objective"] - fields["lower_bound"]) / fields["objective"]))
    assert fields["gap"] >= (fields["objective"] - optimum) / fields["objective"] - 1e-7
    reconstruct = evaluate_mask(W, H, made.mask, "reconstruct")
    assert reconstruct["objective"] == pytest.approx(layer_error(W, H, made.mask, "reconstruct"), rel=1e-12)


def test_a_mask_is_scored_in_the_pattern_asked_for_or_refused():
    W, H = synthetic_layer(2, 8, seed=1)
    mask = solve_layer(W, H, None, "2:4", method="wanda").mask
    assert detect_pattern(mask).name == "2:4"
    assert evaluate_mask(W, H, mask, pattern="per-row")["pattern"] == "per-row"
    with pytest.raises(ValueError, match="does not fit 1:4"):
        evaluate_mask(W, H, mask, pattern="1:4")
    with pytest.raises(ValueError, match="must be boolean"):
        evaluate_mask(W, H, mask.astype(np.float32))
    with pytest.raises(ValueError, match="non-finite"):
        evaluate_mask(W, H, np.full(mask.shape, np.nan))
    with pytest.raises(ValueError, match="does not match the weights"):
        evaluate_mask(W, H, mask[:, :4])
    with pytest.raises(ValueError, match="fits no pattern"):
        evaluate_mask(W, H, np.ones_like(mask))


def test_ambiguous_zeros_are_resolved_to_fit_the_pattern():
    kept = np.array([[1, 1, 0, 0, 1, 0, 0, 0]], dtype=bool)  # 2:4 if one of the last group's zeros was kept
    loose = np.array([[0, 0, 0, 0, 0, 0, 1, 1]], dtype=bool)
    first = next(r for c in candidate_patterns(kept.shape) if (r := resolve_ambiguous(kept, loose, c)) is not None)
    mask, pattern, sparsity = first
    assert pattern == "2:4" and sparsity is None and mask.tolist() == [[1, 1, 0, 0, 1, 0, 1, 0]]
    assert resolve_ambiguous(kept, np.zeros_like(loose), ("?:4", 4)) is None


def _masks_file(tmp_path, masks):
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "my_masks.safetensors"
    save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in masks.items()}, str(path))
    return path


def test_bench_eval_masks_writes_records_beside_built_in_methods(tmp_path, cache):
    results = tmp_path / "results"
    assert _cli("run", "--instances", "tiny", "--solvers", "wanda,brute-force", "--results", str(results), "--quiet") == 0
    problems = load_set("tiny", progress=False)
    masks = {p.name: solve_layer(p.W, p.H, 0.5, method="ria").mask for p in problems}
    path = _masks_file(tmp_path, masks)
    assert _cli("eval", "--masks", str(path), "--instances", "tiny", "--results", str(results), "--quiet") == 0
    records = [r for r in read_records(results) if r["solver"] == "user:my_masks"]
    assert len(records) == 5
    for r, p in zip(sorted(records, key=lambda r: r["instance"]), sorted(problems, key=lambda p: p.name)):
        assert r["setting"] == "per-row@0.5" and not r["flags"]  # tiny-2x8's RIA mask is 2:4 too: the file says per-row
        assert r["objective"] == pytest.approx(layer_error(p.W, p.H, masks[p.name]), rel=1e-12)
        assert 0.0 <= r["gap_to_best_bound"] < 1.0 and r["best_known_bound"] <= r["objective"]
    board = build_leaderboards(results, plots=False)[0].read_text()
    assert "user:my_masks" in board and "wanda" in board
    import csv

    rows = list(csv.DictReader(open(results / "leaderboard" / "records.csv")))  # the flat export for pandas users
    assert {r["solver"] for r in rows} == {"wanda", "brute-force", "user:my_masks"} and len(rows) == 15
    pq = pytest.importorskip("pyarrow.parquet")  # the bench extra installs it
    table = pq.read_table(results / "leaderboard" / "records.parquet").to_pylist()
    assert [r["solver"] for r in table] == [r["solver"] for r in rows]
    assert [r["objective"] for r in table] == pytest.approx([float(r["objective"]) for r in rows], rel=1e-15)


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("tiny-2x8"), "no mask for module\\(s\\) tiny-2x8"),
    (lambda m: m.update({"tiny-2x8": m["tiny-2x8"].astype(np.float32)}), "tiny-2x8: a mask must be boolean"),
    (lambda m: m.update({"tiny-2x8": m["tiny-2x8"][:, :4].copy()}), "tiny-2x8: mask shape"),
    (lambda m: m.update({"tiny-2x8": np.ones((2, 8), dtype=bool)}), "tiny-2x8: the mask fits no pattern"),
])
def test_bench_eval_bad_masks_one_error_naming_the_module_nothing_written(change, message, tmp_path, cache, capsys):
    masks = {p.name: solve_layer(p.W, p.H, 0.5, method="wanda").mask for p in load_set("tiny", progress=False)}
    change(masks)
    path = _masks_file(tmp_path, masks)
    assert _cli("eval", "--masks", str(path), "--instances", "tiny", "--results", str(tmp_path / "r")) == 2
    err = capsys.readouterr().err
    assert err.startswith("bench: error:") and len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err), err
    assert not (tmp_path / "r").exists()


def test_bench_eval_model_reads_zeros_and_resolves_dense_zeros(tmp_path, cache):
    import torch
    from safetensors.torch import save_file

    rng = np.random.default_rng(0)
    problems = []
    for sub, (d_out, d_in) in {"self_attn.q_proj": (8, 16), "mlp.down_proj": (16, 32)}.items():
        W, H = synthetic_layer(d_out, d_in, seed=d_in)
        W[rng.random(W.shape) < 0.05] = 0.0  # exact zeros in the dense model, as in the GGUF one
        problems.append(Problem(f"layer2.{sub}", W, H, {"module": f"layer2.{sub}"}))
    save_set(set_directory("toy-l2"), "toy-l2", problems, {"set": "toy-l2"})
    tensors, expected = {}, {}
    for p in problems:
        r = solve_layer(p.W, p.H, 0.5, method="sparseswaps", return_weights=True)
        tensors[f"model.layers.2.{p.name.split('.', 1)[1]}.weight"] = torch.from_numpy(r.weights.astype(np.float32))
        expected[p.name] = r.objective
    tensors["model.embed_tokens.weight"] = torch.zeros(4, 4)
    (tmp_path / "pruned").mkdir()
    save_file(tensors, str(tmp_path / "pruned" / "model.safetensors"))
    assert _cli("eval", "--model", str(tmp_path / "pruned"), "--instances", "toy-l2", "--results",
                str(tmp_path / "r"), "--quiet") == 0
    records = {r["instance"]: r for r in read_records(tmp_path / "r")}
    assert set(records) == set(expected)
    for name, r in records.items():
        assert r["setting"] == "per-row@0.5" and not r["flags"], r
        assert r["objective"] == pytest.approx(expected[name], rel=1e-12) and r["solver"] == "user:pruned"
    assert sum(r["ambiguous_zeros"] for r in records.values()) > 0
    json.dumps(records)  # plain JSON values


@pytest.mark.parametrize("args, message", [(["--bound", "nope"], "unknown method 'nope'"),
                                           (["--sparsity", "1.5"], "--sparsity must be a pruned fraction"),
                                           (["--pattern", "diagonal"], "unknown pattern")])
def test_bench_eval_bad_options_are_refused_before_reading(args, message, tmp_path, cache, capsys):
    assert _cli("eval", "--masks", str(tmp_path / "absent.safetensors"), "--instances", "tiny", "--results",
                str(tmp_path / "r"), *args) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "r").exists()
