"""Reconstruction after the masks are chosen, at one of five granularities (arXiv 2510.14444).

- ``none``: pruned weights are zeroed, kept weights unchanged (``--objective mask``).
- ``matrix``: every matrix's kept weights re-fitted by damped least squares on its own inputs
  (``--objective reconstruct``, closed form, ``solvers.solve_layer(..., return_weights=True)``).
- ``submodule``: attention and MLP of each block separately: min over the kept weights of the part's linears of
  mean ||part_pruned(x) - part_dense(x)||^2 over the calibration inputs x of the part.
- ``block``: the same for the whole decoder block.
- ``model``: every decoder linear's kept weights against the language-modelling loss (next-token cross-entropy)
  on the calibration sequences, after all blocks are pruned: the "retraining" baseline.

Inputs (submodule, block): x is what the pruned model presents to the part, i.e. produced by the already pruned
and reconstructed earlier blocks (and, for the MLP, by the block's reconstructed attention); the target is the
dense part applied to that same x (the paper's sequential setting). Only linear weights change, and only kept
entries: gradients are masked and the mask is re-applied after each step, so pruned weights stay exactly zero
(biases and norms are left as they are).

Schedule: Adam (torch.optim.Adam, betas 0.9/0.999) for ``steps`` steps, learning rate ``lr`` decayed by a cosine
to 0; every step takes one calibration batch (``batch_size`` sequences, the batches of the pruning pass) in turn.
The part's loss on all calibration batches is measured before and after; if training made it worse the starting
weights are restored, so reconstruction never raises the calibration error of a part. Runs on the model's device.

Default learning rate 3e-3 (measured, SmolLM2-135M block 3, Wanda per-row 50 %, 64 x 256 calibration, output MSE of
the block against the dense block: masked weights 0.149, per-matrix least squares 0.095; submodule, 50 steps from
the masked weights, lr 1e-4 / 1e-3 / 3e-3 / 1e-2: 0.127 / 0.087 / 0.065 / 0.065, 16 steps at 3e-3: 0.091; at 1e-2
the attention part rose at 16 steps and was restored). The first runs used 1e-4, which left submodule and block
behind the closed-form matrix re-fit. ``model`` has its own default, 64 steps at lr 3e-5 (measured, Wanda per-row
50 %: held-out perplexity 111.9, calibration LM loss 5.13 -> 4.42; at 3e-3 the same run overfits the calibration
sequences, loss 0.50, held-out perplexity 1659).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

GRANULARITIES = ("none", "matrix", "submodule", "block", "model")
OBJECTIVE_OF = {"none": "mask", "matrix": "reconstruct"}  # the granularities solve_layer does itself
GRANULARITY_OF = {objective: granularity for granularity, objective in OBJECTIVE_OF.items()}  # --objective's meaning
DEFAULT_STEPS = {"submodule": 50, "block": 50, "model": 64}
DEFAULT_LRS = {"submodule": 3e-3, "block": 3e-3, "model": 3e-5}  # peak Adam learning rates (module docstring)


def _per_granularity(defaults: dict) -> str:
    """'50 (submodule, block), 64 (model)': a default table for a --help line."""
    by_value: dict = {}
    for granularity, value in defaults.items():
        by_value.setdefault(value, []).append(granularity)
    return ", ".join(f"{value:g} ({', '.join(names)})" for value, names in by_value.items())


STEPS_HELP = f"Adam steps per part (model: in all); default {_per_granularity(DEFAULT_STEPS)}"
LR_HELP = f"peak Adam learning rate (cosine decay to 0); default {_per_granularity(DEFAULT_LRS)}"


@dataclass(frozen=True)
class ReconSettings:
    """Granularity, Adam steps per part (model: in all) and peak learning rate (None: the granularity's default,
    ``DEFAULT_STEPS`` / ``DEFAULT_LRS``); validated once (``check``)."""

    granularity: str = "none"
    steps: int | None = None
    lr: float | None = None

    def check(self) -> "ReconSettings":
        if self.granularity not in GRANULARITIES:
            raise ValueError(f"unknown --reconstruct {self.granularity!r}; known: {', '.join(GRANULARITIES)}")
        if self.steps is not None and (not isinstance(self.steps, int) or self.steps < 0):
            raise ValueError(f"--recon-steps must be an integer >= 0; got {self.steps!r}")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"--recon-lr must be a number > 0; got {self.lr!r}")
        return self

    @property
    def objective(self) -> str:
        """The solve_layer objective of the masks: reconstruct for ``matrix``, mask otherwise."""
        return OBJECTIVE_OF.get(self.granularity, "mask")

    @property
    def trains(self) -> bool:
        return self.granularity in DEFAULT_STEPS

    @property
    def step_count(self) -> int:
        return DEFAULT_STEPS.get(self.granularity, 0) if self.steps is None else self.steps

    @property
    def learning_rate(self) -> float | None:
        return DEFAULT_LRS.get(self.granularity) if self.lr is None else self.lr

    def record_fields(self) -> dict:
        """What a record says of this setting (and what makes runs differ): granularity, steps run, peak lr."""
        return {"reconstruct": self.granularity, "recon_steps": self.step_count if self.trains else 0,
                "recon_lr": self.learning_rate if self.trains else None}


def linears_of(module) -> list:
    import torch

    return [m for m in module.modules() if isinstance(m, torch.nn.Linear)]


class Part:
    """A trainable piece of a block: its linears and how to run it on captured inputs ((args, kwargs) each)."""

    def __init__(self, name: str, run, capture_module, linears: list):
        self.name, self.run, self.capture_module, self.linears = name, run, capture_module, linears


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def block_parts(block, granularity: str) -> list[Part]:
    """The parts of a decoder block to reconstruct, in order: [attention, MLP] (submodule) or [block].

    Attention is the block's ``self_attn``; the MLP is its ``mlp`` (Llama, SmolLM2, Mistral, Qwen) or, for OPT-like
    blocks without one, ``fc2(activation_fn(fc1(x)))``. ValueError for a block of another shape.
    """
    if granularity == "block":
        return [Part("block", lambda b, a, k: _first(b(*a, **k)), None, linears_of(block))]
    if not hasattr(block, "self_attn"):
        raise ValueError(f"--reconstruct submodule: block {type(block).__name__} has no self_attn")
    attention = Part("attention", lambda b, a, k: _first(b.self_attn(*a, **k)), block.self_attn,
                     linears_of(block.self_attn))
    if hasattr(block, "mlp"):
        mlp = Part("mlp", lambda b, a, k: _first(b.mlp(*a, **k)), block.mlp, linears_of(block.mlp))
    elif all(hasattr(block, n) for n in ("fc1", "fc2", "activation_fn")):
        mlp = Part("mlp", lambda b, a, k: b.fc2(b.activation_fn(b.fc1(*a, **k))), block.fc1, [block.fc1, block.fc2])
    else:
        raise ValueError(f"--reconstruct submodule: block {type(block).__name__} has neither mlp nor fc1/fc2")
    return [attention, mlp]


def capture_inputs(block, module, inputs) -> list:
    """[(args, kwargs)] with which ``block`` calls ``module`` on each of ``inputs`` ((hidden, kwargs) batches)."""
    import torch

    if module is None:
        return [((hidden,), kwargs) for hidden, kwargs in inputs]
    captured = []

    def grab(mod, args, kwargs):
        captured.append((tuple(a.detach() if torch.is_tensor(a) else a for a in args), dict(kwargs)))

    handle = module.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        with torch.no_grad():
            for hidden, kwargs in inputs:
                block(hidden, **kwargs)
    finally:
        handle.remove()
    return captured


def _squared_error(part: Part, block, batch, target):
    """Mean squared difference between ``part`` of ``block`` on one captured (args, kwargs) batch and its target."""
    import torch

    args, kwargs = batch
    return torch.mean((part.run(block, args, kwargs).float() - target.float()) ** 2)


def _mean_squared_error(part: Part, block, batches, targets) -> float:
    import torch

    with torch.no_grad():
        total = sum(float(_squared_error(part, block, b, t)) for b, t in zip(batches, targets))
    return total / max(len(batches), 1)


def _masks(linears) -> list:
    return [(m.weight.detach() != 0) for m in linears]


def _train(params, masks, loss_of_step, steps: int, lr: float) -> None:
    """Adam with cosine decay over ``steps``; gradients masked, mask re-applied after each step."""
    import torch

    optimizer = torch.optim.Adam(params, lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of_step(step)
        loss.backward()
        for p, m in zip(params, masks):
            p.grad.mul_(m)
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            for p, m in zip(params, masks):
                p.mul_(m)


def _fit(owner, linears: list, loss_of_step, mean_loss, steps: int, lr: float) -> dict:
    """Train the kept weights of ``linears`` (inside module ``owner``, whose other parameters stay frozen) for
    ``steps`` (``_train``); ``mean_loss()`` is the calibration loss measured before and after, and the starting
    weights come back when it rose. Returns {loss_before, loss_after, steps, restored}."""
    import torch

    params, masks = [m.weight for m in linears], _masks(linears)
    before = mean_loss()
    start = [p.detach().clone() for p in params]
    if steps:
        flags = [p.requires_grad for p in owner.parameters()]
        for p in owner.parameters():
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        try:
            with torch.enable_grad():
                _train(params, masks, loss_of_step, steps, lr)
        finally:
            for p, flag in zip(owner.parameters(), flags):
                p.requires_grad_(flag)
    after = mean_loss()
    restored = after > before
    if restored:
        with torch.no_grad():
            for p, s in zip(params, start):
                p.copy_(s)
        after = before
    return {"loss_before": before, "loss_after": after, "steps": steps, "restored": restored}


def reconstruct_part(block, dense_block, part: Part, dense_part: Part, inputs, settings: ReconSettings) -> dict:
    """Train ``part`` of the pruned ``block`` towards ``dense_part`` of ``dense_block`` on the captured inputs;
    returns {part, loss_before, loss_after, steps, restored, seconds}."""
    import torch

    started = time.perf_counter()
    batches = capture_inputs(block, part.capture_module, inputs)
    with torch.no_grad():
        targets = [dense_part.run(dense_block, a, k).detach() for a, k in batches]

    def loss_of_step(step):
        return _squared_error(part, block, batches[step % len(batches)], targets[step % len(batches)])

    fit = _fit(block, part.linears, loss_of_step, lambda: _mean_squared_error(part, block, batches, targets),
               settings.step_count if batches else 0, settings.learning_rate)
    return {"part": part.name, **fit, "seconds": time.perf_counter() - started}


def reconstruct_block(block, dense_block, inputs, settings: ReconSettings) -> list[dict]:
    """Reconstruct the parts of one pruned block in order (module docstring)."""
    parts, dense_parts = block_parts(block, settings.granularity), block_parts(dense_block, settings.granularity)
    return [reconstruct_part(block, dense_block, p, d, inputs, settings) for p, d in zip(parts, dense_parts)]


def dense_copy(block):
    """A frozen dense copy of a block (the targets), before its weights are pruned."""
    out = copy.deepcopy(block)
    for p in out.parameters():
        p.requires_grad_(False)
    return out


def reconstruct_model(model, layers, tokens, settings: ReconSettings, batch_size: int = 8) -> dict:
    """``model`` granularity: all decoder linears' kept weights against the LM loss on ``tokens``; returns
    {part, loss_before, loss_after, steps, restored, seconds}."""
    import torch

    started = time.perf_counter()
    device = next(model.parameters()).device
    batches = [tokens[s : s + batch_size].to(device) for s in range(0, len(tokens), batch_size)]

    def lm_loss(batch):
        return model(batch, labels=batch, use_cache=False).loss

    def mean_loss() -> float:
        with torch.no_grad():
            return sum(float(lm_loss(b)) for b in batches) / len(batches)

    linears = [m for layer in layers for m in linears_of(layer)]
    fit = _fit(model, linears, lambda step: lm_loss(batches[step % len(batches)]), mean_loss, settings.step_count,
               settings.learning_rate)
    return {"part": "model", **fit, "seconds": time.perf_counter() - started}


def peak_memory_mb(device) -> float:
    """torch's peak allocated memory on CUDA, else the process's peak resident set size (ru_maxrss), in MiB."""
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
