"""Extraction of layer problems (W, H = X X^T) from a causal LM.

Calibration sequences (``nsamples`` windows of ``seqlen`` tokens at seeded random offsets of the
calibration text, as in SparseGPT) run through the model; forward pre-hooks on every ``nn.Linear``
of the chosen decoder layers accumulate H += X^T X in float64 on the model's device, batch by
batch (activations are never stored). The forward stops after the last chosen layer.
H is the raw sum over tokens (not averaged): units of squared activation x tokens.
"""
from __future__ import annotations

import time

import numpy as np

from .corpus import load_text
from .models import LoadedModel, decoder_layers


class _StopForward(Exception):
    pass


def calibration_tokens(loaded: LoadedModel, source: str, nsamples: int, seqlen: int, seed: int, part: str = "calibration"):
    """Tensor (nsamples, seqlen) of token ids: random windows of the tokenized ``source`` text."""
    import torch

    if nsamples < 1 or seqlen < 2:
        raise ValueError(f"need nsamples >= 1 and seqlen >= 2; got {nsamples}, {seqlen}")
    ids = loaded.tokenizer(load_text(source, part), return_tensors="pt")["input_ids"][0]
    if ids.numel() <= seqlen:
        raise ValueError(f"calibration text has {ids.numel()} tokens, not more than seqlen={seqlen}")
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, ids.numel() - seqlen, (nsamples,), generator=generator)
    return torch.stack([ids[s : s + seqlen] for s in starts.tolist()])


def gram_hook(grams: dict, name: str):
    """Forward pre-hook adding X^T X (float64, on the input's device) of the module's input to grams[name]."""
    import torch

    def hook(module, inputs):
        x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).to(torch.float64)
        grams[name] = grams[name] + x.T @ x if name in grams else x.T @ x

    return hook


def collect_grams(loaded: LoadedModel, tokens, layers: list[int], batch_size: int = 8, progress: bool = True) -> dict:
    """{"layer{L}.{module}": (W, H)} for every nn.Linear in ``layers``; numpy float64 arrays."""
    import torch
    from tqdm.auto import tqdm

    model = loaded.model
    device = next(model.parameters()).device
    blocks = decoder_layers(model)
    bad = [layer for layer in layers if not 0 <= layer < len(blocks)]
    if bad:
        raise ValueError(f"layer(s) {bad} out of range: the model has {len(blocks)} decoder layers")
    grams, linears, handles = {}, {}, []

    for layer in layers:
        for sub, module in blocks[layer].named_modules():
            if isinstance(module, torch.nn.Linear):
                name = f"layer{layer}.{sub}"
                linears[name] = module
                handles.append(module.register_forward_pre_hook(gram_hook(grams, name)))

    def stop(module, inputs, output):
        raise _StopForward

    handles.append(blocks[max(layers)].register_forward_hook(stop))
    try:
        with torch.no_grad():
            for start in tqdm(range(0, len(tokens), batch_size), desc="calibration batches", disable=not progress):
                try:
                    model(tokens[start : start + batch_size].to(device))
                except _StopForward:
                    pass
    finally:
        for handle in handles:
            handle.remove()
    return {name: (linears[name].weight.detach().to("cpu", torch.float64).numpy(),
                   grams[name].to("cpu").numpy()) for name in linears}


def extract(loaded: LoadedModel, layers: list[int], *, source: str, nsamples: int, seqlen: int, seed: int = 0,
            batch_size: int = 8, progress: bool = True) -> tuple[dict, dict]:
    """Run calibration and return (problems {name: (W, H)}, metadata common to all of them)."""
    started = time.perf_counter()
    tokens = calibration_tokens(loaded, source, nsamples, seqlen, seed)
    problems = collect_grams(loaded, tokens, layers, batch_size, progress)
    meta = dict(loaded.provenance, layers=layers, calibration=source, nsamples=nsamples, seqlen=seqlen,
                tokens=int(tokens.numel()), seed=seed, dtype="float64 H, float32 weights stored",
                numpy=np.__version__, extract_seconds=round(time.perf_counter() - started, 2))
    return problems, meta
