"""Perplexity of a causal LM on held-out text: exp(mean next-token negative log-likelihood).

The text is tokenized once and cut into non-overlapping windows of ``seqlen`` tokens (the last
partial window is dropped), as in the SparseGPT/Wanda evaluation; ``max_tokens`` caps the total.
Held-out sources never overlap the calibration text (``instances.corpus``).
"""
from __future__ import annotations

import math

from instances.corpus import load_text


def heldout_windows(tokenizer, source: str, seqlen: int, max_tokens: int | None = None):
    """Tensor (windows, seqlen) of held-out token ids."""
    ids = tokenizer(load_text(source, "heldout"), return_tensors="pt")["input_ids"][0]
    if max_tokens is not None:
        ids = ids[:max_tokens]
    count = ids.numel() // seqlen
    if count == 0:
        raise ValueError(f"held-out text has {ids.numel()} tokens, fewer than one window of {seqlen}")
    return ids[: count * seqlen].reshape(count, seqlen)


def perplexity(model, windows, batch_size: int = 4) -> float:
    import torch

    device = next(model.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            batch = windows[start : start + batch_size].to(device)
            logits = model(batch, use_cache=False).logits[:, :-1].float()
            targets = batch[:, 1:]
            nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                    reduction="sum")
            total += float(nll)
            count += targets.numel()
    return math.exp(total / count)
