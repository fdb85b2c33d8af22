"""Extraction end to end on the real offline model (SmolLM2-135M, GGUF from PyPI)."""
import numpy as np
import pytest

from instances.extract import calibration_tokens, collect_grams, extract
from instances.models import decoder_layers
from instances.store import Problem, load_saved_set, save_set

pytestmark = pytest.mark.slow


def test_grams_match_direct_activations_and_model_shapes(smollm2):
    import torch

    tokens = calibration_tokens(smollm2, "corpus", nsamples=3, seqlen=16, seed=1)
    grams = collect_grams(smollm2, tokens, [3], batch_size=2, progress=False)
    config = smollm2.model.config
    hidden, inter = config.hidden_size, config.intermediate_size
    kv = config.num_key_value_heads * (hidden // config.num_attention_heads)
    expected = {"self_attn.q_proj": (hidden, hidden), "self_attn.k_proj": (kv, hidden), "self_attn.v_proj": (kv, hidden),
                "self_attn.o_proj": (hidden, hidden), "mlp.gate_proj": (inter, hidden), "mlp.up_proj": (inter, hidden),
                "mlp.down_proj": (hidden, inter)}
    assert set(grams) == {f"layer3.{k}" for k in expected}
    for short, shape in expected.items():
        W, H = grams[f"layer3.{short}"]
        assert W.shape == shape and H.shape == (shape[1], shape[1])
        assert np.array_equal(H, H.T)
        assert np.linalg.eigvalsh(H)[0] >= -1e-9 * np.abs(H).max()

    captured = []
    block = decoder_layers(smollm2.model)[3]
    handle = block.mlp.down_proj.register_forward_pre_hook(lambda m, inp: captured.append(inp[0].detach().double()))
    with torch.no_grad():
        smollm2.model(tokens)
    handle.remove()
    X = captured[0].reshape(-1, inter).numpy()
    assert np.allclose(grams["layer3.mlp.down_proj"][1], X.T @ X, rtol=1e-10, atol=1e-8)
    W_model = block.mlp.down_proj.weight.detach().double().numpy()
    assert np.array_equal(grams["layer3.mlp.down_proj"][0], W_model)


def test_extract_metadata_and_round_trip(smollm2, tmp_path):
    problems, meta = extract(smollm2, [0], source="corpus", nsamples=2, seqlen=8, progress=False)
    assert meta["tokens"] == 16 and meta["calibration"] == "corpus" and "Q4_1" in meta["weights"]
    assert meta["model_id"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    save_set(tmp_path, "x", [Problem(k, W, H, {"w_dtype": "float32"}) for k, (W, H) in problems.items()], meta)
    loaded = {p.name: p for p in load_saved_set(tmp_path)}
    for name, (W, H) in problems.items():
        assert np.array_equal(loaded[name].W, W) and np.array_equal(loaded[name].H, H)
        assert loaded[name].meta["nsamples"] == 2


def test_layer_out_of_range(smollm2):
    tokens = calibration_tokens(smollm2, "corpus", nsamples=1, seqlen=4, seed=0)
    with pytest.raises(ValueError, match="out of range"):
        collect_grams(smollm2, tokens, [99], progress=False)
