"""``bench prune``: prune every linear layer of every decoder block, sequentially, and measure perplexity.

SparseGPT-style sequential calibration: the calibration inputs of block l are produced by blocks
< l that are already pruned. For each block: (1) one pass of the calibration batches through the
(still dense) block accumulates H = X X^T (float64) of every nn.Linear input; (2) every linear is
solved with ``solvers.solve_layer`` (any method; exact methods with ``--time-limit`` per module fall
back to their incumbent) and its weight replaced by W * mask, or with ``--objective reconstruct`` by
the damped least-squares re-fit of the kept weights (``solve_layer(..., return_weights=True)``; for the
same mask it never has a larger output error ||(W - W_new) X||^2 than zeroing, damping included,
since the damping term is smallest at the unchanged kept weights); (3) a
second pass through the pruned block gives the next block's inputs. Perplexity of the dense and
the pruned model is measured on held-out text that never overlaps the calibration text.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from instances.extract import calibration_tokens, gram_hook
from instances.models import decoder_layers, load_model
from solvers import solve_layer
from solvers.core.objective import output_energy

from .perplexity import heldout_windows, perplexity
from .reconstruct import GRANULARITY_OF, ReconSettings, dense_copy, peak_memory_mb, reconstruct_block, reconstruct_model
from .records import provenance, utc_now


class _Captured(Exception):
    pass


def block_inputs(model, tokens, batch_size: int):
    """[(hidden states, kwargs)] entering decoder block 0, one entry per calibration batch."""
    import torch

    first = decoder_layers(model)[0]
    captured = []

    def grab(module, args, kwargs):
        captured.append((args[0].detach(), dict(kwargs)))
        raise _Captured

    handle = first.register_forward_pre_hook(grab, with_kwargs=True)
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            for start in range(0, len(tokens), batch_size):
                try:
                    model(tokens[start : start + batch_size].to(device), use_cache=False)
                except _Captured:
                    pass
    finally:
        handle.remove()
    return captured


def _run_block(block, inputs):
    import torch

    with torch.no_grad():
        outs = []
        for hidden, kwargs in inputs:
            out = block(hidden, **kwargs)
            outs.append((out[0] if isinstance(out, tuple) else out, kwargs))
    return outs


def _block_grams(block, inputs) -> dict:
    import torch

    linears = {name: m for name, m in block.named_modules() if isinstance(m, torch.nn.Linear)}
    grams = {}
    handles = [module.register_forward_pre_hook(gram_hook(grams, name)) for name, module in linears.items()]
    try:
        _run_block(block, inputs)
    finally:
        for handle in handles:
            handle.remove()
    return {name: (linears[name], grams[name].cpu().numpy()) for name in linears}


def prune_model(loaded, *, method: str, sparsity: float | None, pattern: str, objective: str, tokens,
                batch_size: int = 8, time_limit: float | None = None, blocks: list[int] | None = None,
                progress: bool = True, method_options: dict | None = None, recon: ReconSettings | None = None,
                recon_log: list | None = None) -> list[dict]:
    """Prune ``loaded.model`` in place; returns one dict per pruned module (errors, status, counts).

    ``recon`` (``benchmark.reconstruct``): submodule / block reconstruction after each block's masks, model
    reconstruction after the last block; the parts' losses before and after go to ``recon_log`` with the seconds
    spent (``reconstruct_s``). For ``none`` / ``matrix`` pass ``objective`` mask / reconstruct (``recon.objective``).
    """
    import torch
    from tqdm.auto import tqdm

    from solvers.registry import DEVICE_METHODS

    layers = decoder_layers(loaded.model)
    chosen = set(range(len(layers)) if blocks is None else blocks)
    options = dict(method_options or {})
    model_device = next(loaded.model.parameters()).device
    if method in DEVICE_METHODS and model_device.type == "cuda":
        options.setdefault("device", str(model_device))  # the solver's iterations run on the model's GPU
    inputs = block_inputs(loaded.model, tokens, batch_size)
    modules = []
    log = recon_log if recon_log is not None else []
    by_block = recon is not None and recon.granularity in ("submodule", "block")
    for index in tqdm(range(max(chosen) + 1), desc="blocks", disable=not progress):
        block = layers[index]
        dense_block = dense_copy(block) if by_block and index in chosen else None
        pruned_here = []  # (record, linear, dense W, H): the weight error is measured once the block is final
        if index in chosen:
            for name, (linear, H) in _block_grams(block, inputs).items():
                W = linear.weight.detach().to("cpu", torch.float64).numpy()
                r = solve_layer(W, H, sparsity, pattern, method, objective=objective, time_limit=time_limit,
                                return_weights=True, **options)
                new = r.weights  # the damped re-fit for "reconstruct" (same solves as r.objective), else W * mask
                linear.weight.data.copy_(torch.from_numpy(new).to(linear.weight.dtype))
                modules.append({"module": f"layer{index}.{name}", "shape": list(W.shape), "status": r.status,
                                "error": r.objective, "relative_error": r.relative_error,
                                "lower_bound": r.lower_bound, "time_s": r.time_s,
                                "mask_hash": hashlib.sha256(np.packbits(r.mask).tobytes()).hexdigest()[:16],
                                "pruned": int((~r.mask).sum()), "zeros": int((linear.weight == 0).sum()),
                                "size": int(W.size)})
                pruned_here.append((modules[-1], linear, W, H))
        if dense_block is not None:
            log += [{"block": index, **part} for part in reconstruct_block(block, dense_block, inputs, recon)]
            del dense_block
        for module, linear, W, H in pruned_here:  # ||(W - W_final) X||^2, after the block's fit where there is one
            module["weight_error"] = output_energy(W - linear.weight.detach().to("cpu", torch.float64).numpy(), H)
        del pruned_here
        inputs = _run_block(block, inputs)
    if recon is not None and recon.granularity == "model":
        log.append({"block": None, **reconstruct_model(loaded.model, [layers[i] for i in sorted(chosen)], tokens,
                                                       recon, batch_size)})
    return modules


def _forget_gguf_quantizer(model) -> None:
    """A GGUF-loaded model holds de-quantized float32 weights, but transformers keeps its GGUF
    "quantizer" and refuses to save; drop it so the float32 weights are saved as a plain model."""
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    model.is_quantized = False


def prune_record(loaded, modules: list[dict], *, model: str, method: str, pattern: str, sparsity: float | None,
                 objective: str, dense_ppl: float, pruned_ppl: float, calibration: str, nsamples: int, seqlen: int,
                 eval_tokens: int, blocks, time_limit, time_s: float, saved_to=None, recon: ReconSettings | None = None,
                 recon_log: list | None = None) -> dict:
    """The flat record of one pruned model (fields documented in ``bench prune``); ``reconstruct`` is the
    granularity (``benchmark.reconstruct``), ``reconstruct_s`` the seconds its training took (0 for none / matrix,
    whose re-fit is inside the solves), ``peak_memory_mb`` torch's peak on CUDA or the process's peak RSS."""
    recon = recon or ReconSettings(GRANULARITY_OF[objective])
    log = recon_log or []
    zeros, size = sum(m["zeros"] for m in modules), sum(m["size"] for m in modules)
    return {"model": model, "model_id": loaded.provenance["model_id"], "method": method, "pattern": pattern,
            "sparsity": sparsity, "sparsity_achieved": zeros / size, "objective_kind": objective,
            "perplexity_dense": dense_ppl, "perplexity_pruned": pruned_ppl,
            "summed_layer_error": float(sum(m["error"] for m in modules)),
            "summed_weight_error": float(sum(m["weight_error"] for m in modules)),
            # ||(W - W_final) X||^2 summed over modules, X each module's calibration inputs when it was pruned; for
            # "model" the masked weights before the model-wide training (keeping every H to the end would cost ~1 GB)
            "weight_error_after": {"none": "mask", "model": "mask", "matrix": "matrix re-fit"}.get(
                recon.granularity, f"{recon.granularity} reconstruction"),
            "mean_relative_error": float(np.mean([m["relative_error"] for m in modules])),
            "calibration": calibration, "nsamples": nsamples, "seqlen": seqlen, "eval_tokens": eval_tokens,
            "eval_source": f"{calibration} held-out part", "blocks": "all" if blocks is None else blocks,
            "time_limit": time_limit, "time_s": time_s, "device": loaded.provenance["device"],
            **recon.record_fields(), "reconstruct_s": float(sum(p["seconds"] for p in log)),
            "recon_parts": log, "recon_restored": sum(bool(p["restored"]) for p in log),
            "peak_memory_mb": peak_memory_mb(next(loaded.model.parameters()).device),
            "date": utc_now(), "modules": modules, "saved_to": str(saved_to) if saved_to else None, **provenance()}


def check_prune_arguments(method: str, pattern: str, sparsity: float | None) -> None:
    """Raise ValueError naming the problem before any model is loaded."""
    from solvers.core.patterns import make_pattern
    from solvers.plugins import find_method

    find_method(method)  # built-in, entry point or 'pkg.module:function'; ValueError naming the known ones
    nm = pattern.split(":")
    make_pattern(pattern, (1, 1024 if len(nm) == 1 or not nm[1].isdigit() else 256 * int(nm[1])), sparsity)


def prepare(model: str, device: str | None, calibration: str, nsamples: int, seqlen: int,
            eval_tokens: int | None, seed: int = 0):
    """(loaded model, held-out windows, dense perplexity, calibration tokens): what every pruning run needs."""
    loaded = load_model(model, device)
    windows = heldout_windows(loaded.tokenizer, calibration, seqlen, eval_tokens)
    dense_ppl = perplexity(loaded.model, windows)
    tokens = calibration_tokens(loaded, calibration, nsamples, seqlen, seed)
    return loaded, windows, dense_ppl, tokens


def run_prune(*, model: str, method: str, sparsity: float | None, pattern: str, objective: str = "mask",
              nsamples: int = 128, seqlen: int = 512, calibration: str = "corpus", device: str | None = None,
              eval_tokens: int | None = None, time_limit: float | None = None, blocks: list[int] | None = None,
              save: Path | None = None, seed: int = 0, progress: bool = True,
              recon: ReconSettings | None = None) -> dict:
    """Prune ``model`` with ``method`` and return the record (see ``bench prune``). ``recon`` sets the
    reconstruction granularity; its objective replaces ``objective``."""
    check_prune_arguments(method, pattern, sparsity)
    if recon is not None:
        recon = recon.check()
        objective = recon.objective
    log: list = []
    started = time.perf_counter()
    loaded, windows, dense_ppl, tokens = prepare(model, device, calibration, nsamples, seqlen, eval_tokens, seed)
    modules = prune_model(loaded, method=method, sparsity=sparsity, pattern=pattern, objective=objective,
                          tokens=tokens, time_limit=time_limit, blocks=blocks, progress=progress, recon=recon,
                          recon_log=log)
    pruned_ppl = perplexity(loaded.model, windows)
    if save is not None:
        save = Path(save)
        save.mkdir(parents=True, exist_ok=True)
        _forget_gguf_quantizer(loaded.model)
        loaded.model.save_pretrained(save, safe_serialization=True)
        loaded.tokenizer.save_pretrained(save)
    return prune_record(loaded, modules, model=model, method=method, pattern=pattern, sparsity=sparsity,
                        objective=objective, dense_ppl=dense_ppl, pruned_ppl=pruned_ppl, calibration=calibration,
                        nsamples=nsamples, seqlen=seqlen, eval_tokens=int(windows.numel()), blocks=blocks,
                        time_limit=time_limit, time_s=time.perf_counter() - started, saved_to=save, recon=recon,
                        recon_log=log)
