"""``bench eval``: score masks made elsewhere on an instance set, as records beside the built-in methods.

Masks come from a safetensors file (``--masks``: one boolean tensor per module, keyed by the set's module
names such as ``layer3.self_attn.q_proj``, shape d_out x d_in, True = keep) or from a pruned Hugging Face
model directory (``--model``: the zeros of its weights; the tensor of module ``layer{L}.{sub}`` is the one
whose key ends in ``layers.{L}.{sub}.weight``, as the extraction names them). Each module becomes one
record (solver ``--name``, default ``user:<file or directory stem>``) with the objective recomputed by
``solvers.evaluate_mask``, the pattern the mask fits (checked against ``--pattern``/``--sparsity`` when
given), and its gap to the best known bound of the set's references (``gap_to_best_bound``), or to a
bound computed now with ``--bound fw-sdp``.

A weight that is zero in the dense model too (the offline GGUF model has some) is ambiguous in a pruned
model: kept or pruned, it adds nothing to the error. ``solvers.evaluate.resolve_ambiguous`` counts each as kept or pruned
so that the mask fits the most structured pattern it can (N:M, per-row, per-layer), with the fewest
counted as kept, and the record says how many there were (``ambiguous_zeros``).

Every module is read and checked before anything is written: a missing module, a shape mismatch, a
non-boolean or non-finite tensor or a mask that fits no pattern is one ValueError naming the module.
"""
from __future__ import annotations

import math
import re
import time
from pathlib import Path

import numpy as np

from instances import load_set
from instances.reference import setting_key
from solvers.core.patterns import check_pattern_name
from solvers.evaluate import candidate_patterns, check_boolean_mask, evaluate_mask, fitting_patterns, resolve_ambiguous
from solvers.plugins import find_method

from .jobs import job_key
from .records import RecordWriter, provenance, utc_now
from .runner import ReferenceBook


def read_mask_file(path: Path) -> dict[str, np.ndarray]:
    """{module: array} of a safetensors file (arrays as stored; checked by ``check_boolean_mask`` later)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--masks {path}: no such file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: _to_numpy(handle.get_tensor(key)) for key in handle.keys()}
    except Exception as err:  # noqa: BLE001 - safetensors raises its own error types for a bad header
        raise ValueError(f"--masks {path}: not a readable safetensors file ({type(err).__name__}: {err})") from None


def _to_numpy(tensor) -> np.ndarray:
    import torch

    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()
    return tensor.numpy()


def model_weights(directory: Path, names: list[str]) -> dict[str, np.ndarray]:
    """{module: weight (float32)} of the modules ``names`` ("layer{L}.{sub}") from a model directory's
    safetensors files; ValueError naming the modules without exactly one matching tensor."""
    from safetensors import safe_open

    directory = Path(directory)
    files = sorted(directory.glob("*.safetensors")) if directory.is_dir() else []
    if not files:
        raise ValueError(f"--model {directory}: no *.safetensors files there (save with bench prune --save DIR)")
    keys = {}
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            keys.update({key: file for key in handle.keys()})
    found, missing = {}, []
    for name in names:
        match = re.fullmatch(r"layer(\d+)\.(.+)", name)
        suffix = f"layers.{match.group(1)}.{match.group(2)}.weight" if match else f"{name}.weight"
        hits = [k for k in keys if k == suffix or k.endswith("." + suffix)]
        if len(hits) != 1:
            missing.append(f"{name} ({'no tensor' if not hits else 'several tensors'} ending in {suffix})")
            continue
        with safe_open(str(keys[hits[0]]), framework="pt") as handle:
            found[name] = _to_numpy(handle.get_tensor(hits[0])).astype(np.float64)
    if missing:
        raise ValueError(f"--model {directory}: modules of the set not found: {'; '.join(missing)}")
    return found


def masks_from_model(directory: Path, problems: dict, pattern: str | None, sparsity: float | None):
    """({module: mask}, {module: ambiguous zeros}, {module: (pattern, sparsity)}) of a pruned model directory:
    the first candidate pattern (``candidate_patterns``) that every module's mask can be resolved to fit,
    else each module's own first."""
    weights = model_weights(directory, list(problems))
    kept, loose = {}, {}
    for name, weight in weights.items():
        W = problems[name].W
        if weight.shape != W.shape:
            raise ValueError(f"{name}: the model's weight is {weight.shape[0]} x {weight.shape[1]}, the set's "
                             f"{W.shape[0]} x {W.shape[1]}")
        if not np.all(np.isfinite(weight)):
            raise ValueError(f"{name}: the model's weight has non-finite entries")
        kept[name], loose[name] = weight != 0, (weight == 0) & (W == 0)
    resolved = {name: [r for c in candidate_patterns(kept[name].shape, pattern)
                       if (r := resolve_ambiguous(kept[name], loose[name], c, sparsity)) is not None]
                for name in kept}
    common = _common_setting({name: [(r[1], r[2]) for r in rs] for name, rs in resolved.items()})
    masks, patterns = {}, {}
    for name, options in resolved.items():
        chosen = next((r for r in options if (r[1], r[2]) == common), options[0] if options else None)
        masks[name], patterns[name] = (chosen[0], chosen[1:]) if chosen else (kept[name], (pattern, sparsity))
    return masks, {name: int(x.sum()) for name, x in loose.items()}, patterns


def _common_setting(fits: dict) -> tuple | None:
    """The first (pattern, sparsity) of the first module's list that every module fits, else None."""
    lists = list(fits.values())
    return next((c for c in (lists[0] if lists else []) if all(c in other for other in lists[1:])), None)


def file_patterns(masks: dict, pattern: str | None, sparsity: float | None) -> dict:
    """{module: (pattern, sparsity)}: with ``pattern`` that one; else the most structured setting every mask of
    the file fits (so a 50 % per-row file is scored per-row@0.5 even where a small mask happens to be 2:4)."""
    if pattern is not None:
        return {name: (pattern, sparsity) for name in masks}
    fits = {}
    for name, mask in masks.items():
        try:
            fits[name] = fitting_patterns(check_boolean_mask(mask))
        except ValueError:
            fits[name] = []  # the error naming the module comes from score_masks
    common = _common_setting(fits)
    return {name: common if common else (None, None) for name in masks}


def score_masks(set_name: str, problems: dict, masks: dict, *, label: str, source: str, objective: str = "mask",
                pattern: str | None = None, sparsity: float | None = None, bound: str | None = None,
                time_limit: float | None = None, ambiguous: dict | None = None,
                patterns: dict | None = None) -> list[dict]:
    """One record per module of ``set_name`` (``problems``: its problems by name; nothing written, every module
    checked first)."""
    missing = sorted(set(problems) - set(masks))
    if missing:
        raise ValueError(f"{source}: no mask for module(s) {', '.join(missing)} of set {set_name!r} "
                         f"(it has {', '.join(sorted(masks)[:8]) or 'none'}{', ...' if len(masks) > 8 else ''})")
    records, base = [], dict(date=utc_now(), **provenance())
    for name, problem in problems.items():
        asked = (patterns or {}).get(name, (pattern, sparsity))
        try:
            mask = check_boolean_mask(masks[name], problem.W.shape)
            started = time.perf_counter()
            fields = evaluate_mask(problem.W, problem.H, mask, objective, pattern=asked[0], sparsity=asked[1],
                                   bound=bound, time_limit=time_limit)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        job = {"instance_set": set_name, "instance": name, "solver": label, "method": "user-mask",
               "solver_options": "", "pattern": fields["pattern"], "sparsity": fields["sparsity"],
               "setting": setting_key(fields["pattern"], fields["sparsity"]), "objective_kind": objective,
               "time_limit": None, "seed": 0}
        job["job_key"] = job_key(dict(job, solver_options={}))
        records.append(dict(job, **base, d_out=problem.W.shape[0], d_in=problem.W.shape[1], status="heuristic",
                            objective=fields["objective"], relative_error=fields["relative_error"],
                            lower_bound=fields["lower_bound"], gap=fields["gap"], flags="", error="",
                            time_s=math.nan, scoring_s=time.perf_counter() - started, source=source,
                            fits=fields["fits"], kept=fields["kept"], bound_method=fields["bound_method"],
                            ambiguous_zeros=(ambiguous or {}).get(name, 0)))
    return records


def run_eval(*, instances: str, masks: Path | None = None, model: Path | None = None, results: Path = Path("results"),
             name: str | None = None, objective: str = "mask", pattern: str | None = None,
             sparsity: float | None = None, bound: str | None = None, time_limit: float | None = None,
             progress: bool = True) -> list[dict]:
    """``bench eval``: score, then write every record and learn its feasible value (module docstring)."""
    if (masks is None) == (model is None):
        raise ValueError("give exactly one of --masks FILE.safetensors and --model DIR")
    if pattern is not None:
        check_pattern_name(pattern)
    if sparsity is not None and not (math.isfinite(sparsity) and 0.0 < sparsity < 1.0):
        raise ValueError(f"--sparsity must be a pruned fraction in (0, 1); got {sparsity}")
    if bound is not None:
        find_method(bound)  # an unknown --bound method is refused before anything is read
    source = Path(masks if masks is not None else model)
    label = name or f"user:{source.stem if masks is not None else source.name}"
    ambiguous = None
    loaded = read_mask_file(source) if masks is not None else None  # a bad file is refused before the set loads
    problems = {p.name: p for p in load_set(instances, progress=progress)}
    if loaded is not None:
        patterns = file_patterns(loaded, pattern, sparsity)
    else:
        loaded, ambiguous, patterns = masks_from_model(source, problems, pattern, sparsity)
    records = score_masks(instances, problems, loaded, label=label, source=str(source), objective=objective,
                          pattern=pattern, sparsity=sparsity, bound=bound, time_limit=time_limit, ambiguous=ambiguous,
                          patterns=patterns)
    book = ReferenceBook([instances])
    writer = RecordWriter(Path(results))
    try:
        for record in records:
            writer.write(book.finish(record))
            book.learn(record)
    finally:
        writer.close()
    return records
