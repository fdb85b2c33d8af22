"""Instance store, registry, slices, references: round trips and every bad-input case."""
import json

import numpy as np
import pytest

import instances.extract
import instances.models
from instances import InstanceFileError, list_sets, load_set
from instances.corpus import corpus_split
from instances.reference import read_references, setting_key
from instances.sets import extract_set, load_references, set_directory
from instances.store import Problem, load_saved_set, save_set
from instances.synthetic import synthetic_layer
from solvers import solve_layer


def _saved(tmp_path, n=2):
    problems = [Problem(f"m{i}", *synthetic_layer(3, 8, seed=i), meta={"i": i}) for i in range(n)]
    save_set(tmp_path, "s", problems, {"origin": "test"})
    return problems


def test_round_trip(tmp_path):
    problems = _saved(tmp_path)
    loaded = load_saved_set(tmp_path)
    assert [p.name for p in loaded] == ["m0", "m1"]
    assert all(np.array_equal(a.W, b.W) and np.array_equal(a.H, b.H) for a, b in zip(problems, loaded))
    assert loaded[1].meta == {"origin": "test", "i": 1}


def test_truncated_file_is_named(tmp_path):
    _saved(tmp_path)
    path = tmp_path / "m0.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InstanceFileError, match="m0.safetensors.*hash mismatch"):
        load_saved_set(tmp_path)


def test_corrupt_file_with_matching_hash_is_named(tmp_path):
    _saved(tmp_path)
    (tmp_path / "m1.safetensors").write_bytes(b"not a safetensors file")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    import hashlib
    manifest["problems"][1]["sha256"] = hashlib.sha256(b"not a safetensors file").hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InstanceFileError, match="m1.safetensors.*unreadable"):
        load_saved_set(tmp_path)


def test_shape_mismatch_and_nan_are_named(tmp_path):
    W, H = synthetic_layer(3, 8, seed=0)
    save_set(tmp_path, "s", [Problem("bad", W, H[:4, :4])], {})
    with pytest.raises(InstanceFileError, match="bad.safetensors.*shape mismatch"):
        load_saved_set(tmp_path)
    W[0, 0] = np.nan
    save_set(tmp_path, "s", [Problem("nan", W, H)], {})
    with pytest.raises(InstanceFileError, match="nan.safetensors.*NaN"):
        load_saved_set(tmp_path)


def test_corrupt_manifest_and_missing_file(tmp_path):
    _saved(tmp_path)
    (tmp_path / "m0.safetensors").unlink()
    with pytest.raises(InstanceFileError, match="m0.safetensors: missing"):
        load_saved_set(tmp_path)
    (tmp_path / "manifest.json").write_text("{truncated")
    with pytest.raises(InstanceFileError, match="corrupt manifest"):
        load_saved_set(tmp_path)


def test_unknown_set_lists_known_sets():
    with pytest.raises(ValueError, match="unknown instance set 'nope'.*smollm2-135m-l3"):
        load_set("nope")
    assert "smollm2-135m-l3" in list(list_sets()) and "opt-125m-l3" in list(list_sets())


def test_reextraction_replaces_bad_entry_atomically(cache, monkeypatch):
    """A corrupt cache entry is reported, kept until a new extraction succeeds, then replaced whole."""
    calls = []

    def fake_extract(loaded, layers, **kw):
        calls.append(kw)
        W, H = synthetic_layer(4, 8, seed=len(calls))
        if len(calls) == 2:
            raise RuntimeError("extraction failed midway")
        return {"layer1.fc": (W, H)}, {"calibration": kw["source"]}

    monkeypatch.setattr(instances.extract, "extract", fake_extract)
    monkeypatch.setattr(instances.models, "load_model", lambda model, device=None: None)
    monkeypatch.setitem(instances.models.MODEL_ALIASES, "fake-model", "fake/model")  # a model name, not a typo
    load_set("fake-model-l1", progress=False)
    file = set_directory("fake-model-l1") / "layer1.fc.safetensors"
    file.write_bytes(b"garbage")
    with pytest.raises(InstanceFileError, match="layer1.fc.safetensors"):
        load_set("fake-model-l1")
    with pytest.raises(RuntimeError, match="midway"):
        extract_set("fake-model", [1], name="fake-model-l1")
    assert file.read_bytes() == b"garbage"  # a failed extraction leaves the old entry as it was
    problems = load_set("fake-model-l1", refresh=True, progress=False)
    assert problems[0].name == "layer1.fc" and np.array_equal(problems[0].W, synthetic_layer(4, 8, seed=3)[0].astype(np.float32))
    assert not any(p.name.endswith((".staging", ".old")) for p in cache.iterdir())


def test_slices_are_valid_blocks(cache, monkeypatch):
    W, H = synthetic_layer(10, 64, seed=0)
    monkeypatch.setattr(instances.extract, "extract", lambda *a, **k: ({"layer2.proj": (W, H)}, {}))
    monkeypatch.setattr(instances.models, "load_model", lambda model, device=None: None)
    monkeypatch.setitem(instances.models.MODEL_ALIASES, "fake", "fake/model")
    slices = load_set("fake-l2-n16", progress=False)
    assert len(slices) == 2 and [p.name for p in slices] == [p.name for p in load_set("fake-l2-n16")]
    for p in slices:
        row, start = p.meta["row"], p.meta["window_start"]
        assert p.W.shape == (1, 16) and start % 8 == 0
        assert np.array_equal(p.W[0], W[row, start:start + 16].astype(np.float32).astype(np.float64))
        assert np.array_equal(p.H, H[start:start + 16, start:start + 16])
    with pytest.raises(ValueError, match="exceeds d_in"):
        load_set("fake-l2-n128")


def test_slices_carry_module_statistics_so_ria_ranks_as_on_the_layer(cache, monkeypatch):
    """RIA's row and column sums on a slice are the full module's (the harness passes them on), so its scores
    are the layer's scores restricted to the window; over the slice's own single row they would not be."""
    from benchmark.jobs import make_jobs
    from benchmark.runner import run_job
    from instances.slices import MODULE_STATISTICS
    from solvers.core.objective import layer_error
    from solvers.core.patterns import make_pattern, select_top
    from solvers.heuristics.scores import ria_scores

    W, H = synthetic_layer(10, 64, seed=1)
    monkeypatch.setattr(instances.extract, "extract", lambda *a, **k: ({"layer2.proj": (W, H)}, {}))
    monkeypatch.setattr(instances.models, "load_model", lambda model, device=None: None)
    monkeypatch.setitem(instances.models.MODEL_ALIASES, "fake", "fake/model")
    full = load_set("fake-l2", progress=False)[0]
    layer_scores = ria_scores(full.W, full.H)
    for p in load_set("fake-l2-n16", progress=False):
        row, window = p.meta["row"], slice(p.meta["window_start"], p.meta["window_start"] + 16)
        stats = {k: np.asarray(v) for k, v in p.meta[MODULE_STATISTICS].items()}
        assert np.allclose(ria_scores(p.W, p.H, **stats), layer_scores[row : row + 1, window], rtol=1e-12)
        assert not np.allclose(ria_scores(p.W, p.H), layer_scores[row : row + 1, window])
        [job] = make_jobs({"fake-l2-n16": [p.name]}, ["ria"], [("per-row", 0.5)], "mask", None)
        record = run_job(job)
        expected = select_top(layer_scores[row : row + 1, window], make_pattern("per-row", p.W.shape, 0.5))
        assert record["status"] != "error" and record["objective"] == pytest.approx(layer_error(p.W, p.H, expected))
    with pytest.raises(ValueError, match="col_abs_sums has shape"):
        solve_layer(W, H, 0.5, "per-row", "ria", col_abs_sums=np.ones(3))
    with pytest.raises(ValueError, match="row_abs_sums"):
        solve_layer(W, H, 0.5, "per-row", "ria", row_abs_sums=-np.ones(10))


def test_tiny_references_reproduced_by_brute_force():
    from instances.sets import tiny_cases

    refs = load_references("tiny")
    checked = 0
    for problem, pattern, sparsity in tiny_cases():
        for objective in ("mask", "reconstruct"):
            entry = refs.get(problem.name, setting_key(pattern, sparsity), objective)
            r = solve_layer(problem.W, problem.H, sparsity, pattern, "brute-force", objective=objective)
            assert entry.opt == pytest.approx(r.objective, rel=1e-9)
            checked += 1
    assert checked == 34


def test_malformed_reference_line_is_named(tmp_path):
    path = tmp_path / "x.solu"
    path.write_text("=opt= a per-row@0.5 mask 1.0\n=opt= broken\n")
    with pytest.raises(ValueError, match="x.solu:2"):
        read_references(path)


def test_corpus_parts_do_not_overlap():
    calibration, heldout = corpus_split("calibration"), corpus_split("heldout")
    assert len(calibration) > 300_000 and len(heldout) > 100_000
    cal_paragraphs = set(calibration.split("\n\n"))
    assert not cal_paragraphs & set(heldout.split("\n\n"))
