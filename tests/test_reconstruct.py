"""Reconstruction granularities (benchmark/reconstruct.py) on tiny Llama- and OPT-shaped models built locally
(random weights, random tokens): masks never change, no part's calibration error rises, submodule and block
reconstruction lower the block's output error, and bad values are one clear error."""
import copy
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.prune import block_inputs, prune_model
from benchmark.reconstruct import ReconSettings
from instances.models import LoadedModel, decoder_layers

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parent.parent


def _tiny(kind: str):
    torch.manual_seed(0)
    if kind == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM

        model = LlamaForCausalLM(LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64))
    else:
        from transformers import OPTConfig, OPTForCausalLM

        model = OPTForCausalLM(OPTConfig(vocab_size=128, hidden_size=32, num_hidden_layers=2, ffn_dim=64,
                                         num_attention_heads=4, word_embed_proj_dim=32, max_position_embeddings=64))
    return model.eval()


def _tokens():
    return torch.randint(0, 128, (16, 24), generator=torch.Generator().manual_seed(1))


def _run(model, granularity: str, steps: int = 40, pattern="per-row", sparsity=0.5):
    recon = ReconSettings(granularity, steps, 3e-3).check()
    loaded = LoadedModel(model, None, {"device": "cpu", "model_id": "tiny"})
    log: list = []
    modules = prune_model(loaded, method="wanda", sparsity=sparsity, pattern=pattern, objective=recon.objective,
                          tokens=_tokens(), progress=False, recon=recon, recon_log=log)
    return modules, log


def _block0_error(model, dense):
    inputs = block_inputs(dense, _tokens(), 8)
    block, reference = decoder_layers(model)[0], decoder_layers(dense)[0]
    with torch.no_grad():
        return sum(float(torch.sum((block(h, **k)[0] - reference(h, **k)[0]) ** 2)) for h, k in inputs)


def _zeros(model):
    return [(m.weight == 0) for layer in decoder_layers(model) for m in layer.modules() if isinstance(m, torch.nn.Linear)]


@pytest.mark.parametrize("kind", ["llama", "opt"])
@pytest.mark.parametrize("granularity,pattern", [("submodule", "per-row"), ("block", "per-row"), ("submodule", "2:4")])
def test_reconstruction_keeps_masks_lowers_block_error_and_never_raises_a_part(kind, granularity, pattern):
    dense = _tiny(kind)
    sparsity = None if ":" in pattern else 0.5
    baseline, trained = copy.deepcopy(dense), copy.deepcopy(dense)
    plain, _ = _run(baseline, "none", pattern=pattern, sparsity=sparsity)
    modules, log = _run(trained, granularity, pattern=pattern, sparsity=sparsity)
    assert [m["module"] for m in modules] == [m["module"] for m in plain]
    for m, zeros in zip(modules, _zeros(trained)):
        assert int(zeros.sum()) == m["zeros"] and m["zeros"] >= m["pruned"]  # the mask's zeros stay, nothing else
    first = [m for m in modules if m["module"].startswith("layer0.")]
    plain_first = [m for m in plain if m["module"].startswith("layer0.")]
    assert [m["mask_hash"] for m in first] == [m["mask_hash"] for m in plain_first]
    # the weight error is measured on the reconstructed weights, not the masked ones it started from
    assert any(m["weight_error"] != p["weight_error"] for m, p in zip(first, plain_first))
    for index, (m, z_trained, z_plain) in enumerate(zip(modules, _zeros(trained), _zeros(baseline))):
        if m in first:  # block 0 sees the same inputs in both runs: the same mask, zero for zero
            assert torch.equal(z_trained, z_plain), m["module"]
    parts = {"submodule": ["attention", "mlp"], "block": ["block"]}[granularity]
    assert [p["part"] for p in log] == parts * 2 and all(p["steps"] == 40 for p in log)
    assert all(p["loss_after"] <= p["loss_before"] for p in log)
    assert all(p["seconds"] > 0 for p in log)
    assert _block0_error(trained, dense) < _block0_error(baseline, dense)


def test_model_reconstruction_lowers_the_lm_loss_and_keeps_masks():
    model = _tiny("llama")
    modules, log = _run(model, "model", steps=30)
    assert len(log) == 1 and log[0]["part"] == "model" and log[0]["loss_after"] <= log[0]["loss_before"]
    for m, zeros in zip(modules, _zeros(model)):
        assert int(zeros.sum()) == m["zeros"]


def test_zero_steps_change_nothing():
    model = _tiny("llama")
    reference = copy.deepcopy(model)
    _run(reference, "none")
    _, log = _run(model, "block", steps=0)
    assert all(p["loss_after"] == p["loss_before"] for p in log)
    for a, b in zip(model.parameters(), reference.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("granularity,steps,lr,message", [
    ("foo", None, 1e-4, "unknown --reconstruct 'foo'"),
    ("block", -1, 1e-4, "--recon-steps must be an integer >= 0"),
    ("block", 5, -1.0, "--recon-lr must be a number > 0"),
])
def test_bad_settings_are_one_value_error(granularity, steps, lr, message):
    with pytest.raises(ValueError, match=message):
        ReconSettings(granularity, steps, lr).check()


@pytest.mark.parametrize("args,message", [
    (["--reconstruct", "foo"], "unknown --reconstruct 'foo'"),
    (["--reconstruct", "block", "--recon-steps", "-3"], "--recon-steps must be an integer >= 0"),
    (["--reconstruct", "block", "--recon-lr", "-0.1"], "--recon-lr must be a number > 0"),
    (["--reconstruct", "block", "--objective", "reconstruct"], "contradicts --reconstruct block"),
])
def test_bad_command_lines_exit_2_with_one_line(args, message):
    out = subprocess.run([sys.executable, "-m", "benchmark.cli", "prune", "--model", "no-such-model", "--method",
                          "wanda", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench: error:") and message in lines[0]


def test_the_training_schedule_is_part_of_a_runs_identity():
    """A resumed grid skips a finished cell only when its schedule matches; records written before the schedule
    fields existed (none / matrix) keep their identity."""
    from benchmark.records import prune_run_key

    base = {"model": "m", "method": "wanda", "pattern": "per-row", "sparsity": 0.5, "objective_kind": "mask",
            "calibration": "corpus", "nsamples": 64, "seqlen": 256, "eval_tokens": 16384}
    old_lr = {**base, **ReconSettings("submodule", 16, 1e-4).record_fields()}
    new_lr = {**base, **ReconSettings("submodule", 16, 3e-3).record_fields()}
    more_steps = {**base, **ReconSettings("submodule", 50, 1e-4).record_fields()}
    assert len({prune_run_key(r) for r in (old_lr, new_lr, more_steps)}) == 3
    assert prune_run_key(base) == prune_run_key({**base, **ReconSettings("none").record_fields()})
    assert prune_run_key({**base, "recon_lr": float("nan")}) == prune_run_key(base)


def test_each_granularity_has_its_own_default_schedule():
    """model-wide training needs a far smaller lr than a block (3e-3 overfit the calibration set: module docstring)."""
    from benchmark.reconstruct import LR_HELP, STEPS_HELP

    assert ReconSettings("block").check().record_fields() == {"reconstruct": "block", "recon_steps": 50, "recon_lr": 3e-3}
    assert ReconSettings("model").check().record_fields() == {"reconstruct": "model", "recon_steps": 64, "recon_lr": 3e-5}
    assert ReconSettings("model", 10, 1e-4).check().record_fields()["recon_lr"] == 1e-4  # given values win
    assert ReconSettings("matrix").check().record_fields() == {"reconstruct": "matrix", "recon_steps": 0,
                                                               "recon_lr": None}
    assert "3e-05 (model)" in LR_HELP and "64 (model)" in STEPS_HELP
