"""Whole-model pruning on the real offline model (SmolLM2-135M) with a tiny token budget."""
import copy

import numpy as np
import pytest

from benchmark.perplexity import heldout_windows, perplexity
from benchmark.prune import _forget_gguf_quantizer, prune_model
from instances.extract import calibration_tokens
from instances.models import LoadedModel, decoder_layers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(smollm2):
    tokens = calibration_tokens(smollm2, "corpus", nsamples=4, seqlen=64, seed=0)
    windows = heldout_windows(smollm2.tokenizer, "corpus", 64, max_tokens=2048)
    return tokens, windows


def _copy(loaded):
    return LoadedModel(copy.deepcopy(loaded.model), loaded.tokenizer, loaded.provenance)


def test_magnitude_50_percent_exact_sparsity_perplexity_and_reload(smollm2, setup, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    tokens, windows = setup
    model = _copy(smollm2)
    dense = perplexity(model.model, windows)
    modules = prune_model(model, method="magnitude", sparsity=0.5, pattern="per-row", objective="mask",
                          tokens=tokens, progress=False)
    assert len(modules) == 7 * smollm2.model.config.num_hidden_layers
    for block in decoder_layers(model.model):
        for linear in (m for m in block.modules() if isinstance(m, torch.nn.Linear)):
            zeros_per_row = (linear.weight == 0).sum(dim=1)
            assert torch.all(zeros_per_row == linear.weight.shape[1] // 2)
    pruned = perplexity(model.model, windows)
    assert np.isfinite(dense) and np.isfinite(pruned) and dense < pruned
    _forget_gguf_quantizer(model.model)
    model.model.save_pretrained(tmp_path, safe_serialization=True)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert perplexity(reloaded, windows) == pytest.approx(pruned, rel=1e-6)


def test_two_four_pattern_and_reconstruct_never_worse_than_mask(smollm2, setup):
    tokens, _ = setup
    masked = prune_model(_copy(smollm2), method="wanda", sparsity=None, pattern="2:4", objective="mask",
                         tokens=tokens, blocks=[0], progress=False)
    refit = prune_model(_copy(smollm2), method="wanda", sparsity=None, pattern="2:4", objective="reconstruct",
                        tokens=tokens, blocks=[0], progress=False)
    for m, r in zip(masked, refit):
        assert m["module"] == r["module"] and m["mask_hash"] == r["mask_hash"]
        # exactly half pruned by the mask; de-quantized Q4_1 weights may hold extra exact zeros
        assert m["pruned"] == m["size"] // 2 and m["zeros"] >= m["pruned"]
        assert r["weight_error"] <= m["weight_error"] * (1 + 1e-9)
