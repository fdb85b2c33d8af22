"""The OPT code path (OPT-125m's architecture: model.decoder.layers, fc1/fc2, out_proj) on a tiny OPT built
locally from OPTConfig (random weights, the SmolLM2 tokenizer), since the hub is unreachable here: extraction,
whole-model pruning with --save, and bench eval --model on the saved model (OPT's key prefixes)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_opt(smollm2, tmp_path_factory):
    import torch
    from transformers import OPTConfig, OPTForCausalLM

    torch.manual_seed(0)
    config = OPTConfig(vocab_size=len(smollm2.tokenizer), hidden_size=32, num_hidden_layers=2, ffn_dim=64,
                       num_attention_heads=4, word_embed_proj_dim=32, max_position_embeddings=128)
    directory = tmp_path_factory.mktemp("tiny-opt")
    OPTForCausalLM(config).save_pretrained(directory, safe_serialization=True)
    smollm2.tokenizer.save_pretrained(directory)
    return directory


def _bench(env, *args):
    out = subprocess.run([sys.executable, "-m", "benchmark.cli", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_tiny_opt_extract_prune_save_and_eval(tiny_opt, tmp_path):
    env = dict(os.environ, PRUNE_BENCH_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1")
    calibration = ["--nsamples", "4", "--seqlen", "32", "--calibration", "corpus"]
    _bench(env, "extract", "--model", str(tiny_opt), "--layers", "0", "--name", "tiny-opt-l0", *calibration)
    from instances.store import load_saved_set

    problems = {p.name: p for p in load_saved_set(tmp_path / "cache" / "tiny-opt-l0")}
    assert set(problems) == {f"layer0.{m}" for m in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                     "self_attn.out_proj", "fc1", "fc2")}
    assert problems["layer0.fc1"].W.shape == (64, 32) and problems["layer0.fc2"].W.shape == (32, 64)
    for p in problems.values():
        assert np.allclose(p.H, p.H.T) and np.linalg.eigvalsh(p.H)[0] > -1e-8 * np.trace(p.H)
    _bench(env, "prune", "--model", str(tiny_opt), "--method", "wanda", "--blocks", "0", *calibration,
           "--eval-tokens", "256", "--save", str(tmp_path / "pruned"), "--out", str(tmp_path / "prune.json"),
           "--results", str(tmp_path / "r"), "--quiet")
    _bench(env, "eval", "--model", str(tmp_path / "pruned"), "--instances", "tiny-opt-l0", "--results",
           str(tmp_path / "r"), "--quiet")
    made = {m["module"]: m["error"] for m in json.loads((tmp_path / "prune.json").read_text())["modules"]}
    scored = {json.loads(line)["instance"]: json.loads(line) for line in
              (tmp_path / "r" / "records.jsonl").read_text().splitlines()}
    assert set(made) == set(scored) == set(problems)
    for name, error in made.items():
        assert scored[name]["objective"] == pytest.approx(error, rel=1e-9) and scored[name]["setting"] == "per-row@0.5"
