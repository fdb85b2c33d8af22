"""The registry of named instance sets and their resolution.

Names:
- ``<model>-l<layer>``: every nn.Linear of decoder layer ``layer`` of ``model`` (an alias from
  ``instances.models.MODEL_ALIASES``, a hub id with "/" written as "--", or a local path), extracted
  and cached on first use. Registered: ``smollm2-135m-l3`` (offline default) and ``opt-125m-l3``.
- ``<model>-l<layer>-n<n>``: exact-size slices of that set (``instances.slices``).
- ``synthetic-<d_out>x<d_in>`` and ``synthetic-llm`` (1536x576 and 576x1536): the seeded generator.
- ``tiny``: small synthetic problems with stored brute-force optima (``data/tiny.solu``).
Calibration defaults: offline model: shipped corpus, 128 x 512 tokens (the corpus holds ~124k
calibration tokens, too few for the literature's 128 x 2048); other models: C4, 128 x 2048.
"""
from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

from .reference import References, read_references
from .slices import slice_problems
from .store import MANIFEST, Problem, cache_dir, load_saved_set, save_set
from .synthetic import synthetic_layer

DATA_DIR = Path(__file__).parent / "data"
REGISTERED = ["tiny", "synthetic-llm", "synthetic-1536x576", "synthetic-576x1536", "smollm2-135m-l3",
              "smollm2-135m-l3-n16", "smollm2-135m-l3-n32", "smollm2-135m-l3-n48", "smollm2-135m-l3-n64",
              "smollm2-135m-l3-n96", "smollm2-135m-l3-n128", "opt-125m-l3"]
OFFLINE_MODELS = {"smollm2-135m"}
TINY = [("tiny-4x8-a", 4, 8, 0), ("tiny-4x8-b", 4, 8, 1), ("tiny-2x8", 2, 8, 2), ("tiny-1x16", 1, 16, 3),
        ("tiny-3x12", 3, 12, 4)]

TINY_SETTINGS = [("per-row", 0.5), ("per-row", 0.75), ("2:4", None), ("per-layer", 0.5)]


PER_LAYER_MAX_WEIGHTS = 16


def tiny_cases():
    """(problem, pattern, sparsity) triples with stored optima."""
    for problem in load_set("tiny"):
        for pattern, sparsity in TINY_SETTINGS:
            if pattern == "per-layer" and problem.W.size > PER_LAYER_MAX_WEIGHTS:
                continue
            yield problem, pattern, sparsity


MODEL_SET = re.compile(r"^(?P<model>.+)-l(?P<layer>\d+)$")
SLICE_SET = re.compile(r"^(?P<base>.+-l\d+)-n(?P<n>\d+)$")
SYNTHETIC_SET = re.compile(r"^synthetic-(?P<d_out>\d+)x(?P<d_in>\d+)$")


def list_sets():
    """Yield the registered set names, then the extracted sets in the cache under other names (patterns above
    resolve further names)."""
    yield from REGISTERED
    yield from cached_sets()


def cached_sets() -> list[str]:
    """Names of the extracted sets in the instance cache that are not registered names."""
    root = cache_dir()
    found = sorted(p.parent.name for p in root.glob(f"*/{MANIFEST}")) if root.is_dir() else []
    return [name for name in found if name not in REGISTERED and not name.startswith(".")]


def default_calibration(model: str) -> dict:
    if model in OFFLINE_MODELS:
        return {"calibration": "corpus", "nsamples": 128, "seqlen": 512}
    return {"calibration": "c4", "nsamples": 128, "seqlen": 2048}


SYNTHETIC_MAX_D_IN = 8192          # H alone is d_in^2 float64: 512 MiB at this size
SYNTHETIC_MAX_WEIGHTS = 1 << 25    # d_out x d_in: 256 MiB of float64 weights
SLICE_MIN_N = 2


def check_set_name(name: str) -> str:
    """``name`` if it is a plain set name (one path component: no separator, not "." or "..", not hidden,
    no control characters), else ValueError: a set's directory is the cache root joined with its name,
    and nothing outside that directory may be written or deleted."""
    if not isinstance(name, str) or not name or len(name) > 200 or name.startswith(".") or \
            any(c in name for c in "/\\") or any(ord(c) < 32 for c in name):
        raise ValueError(f"bad instance set name {name!r}: use a plain name (letters, digits, '-', '_', '.'), "
                         "not a path, '.' or '..'")
    return name


def set_directory(name: str) -> Path:
    """The cache directory of set ``name`` (a hub id's "/" written as "--")."""
    return cache_dir() / check_set_name(name.replace("/", "--"))


def _unknown(name) -> ValueError:
    import difflib

    known = list(REGISTERED) + cached_sets()
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"unknown instance set {name!r}{hint} known sets: {', '.join(known)} "
                      "(also <model>-l<layer> for a model alias, a hub id written owner--name, or a local model "
                      "directory; <set>-n<n> slices; synthetic-<d_out>x<d_in>)")


def looks_like_model(model: str) -> bool:
    """An alias, a hub id (owner/name) or an existing local directory: only these are ever loaded."""
    from .models import MODEL_ALIASES

    return model in MODEL_ALIASES or "/" in model or Path(model).expanduser().is_dir()


def model_of(name: str) -> tuple[str, int]:
    match = MODEL_SET.match(name)
    if not match or not (looks_like_model(match["model"].replace("--", "/")) or (set_directory(name) / MANIFEST).exists()):
        raise _unknown(name)  # a name that is no model (a typo) is never sent to the hub
    return match["model"].replace("--", "/"), int(match["layer"])


def load_set(name: str, *, refresh: bool = False, device: str | None = None, progress: bool = True) -> list[Problem]:
    """The problems of set ``name``; model sets are extracted and cached on first use."""
    if not isinstance(name, str) or not name:
        raise _unknown(name)
    if name == "tiny":
        return [Problem(inst, *synthetic_layer(d_out, d_in, seed=seed), meta={"generator": "synthetic", "seed": seed})
                for inst, d_out, d_in, seed in TINY]
    if name == "synthetic-llm":
        return load_set("synthetic-1536x576") + load_set("synthetic-576x1536")
    if match := SYNTHETIC_SET.match(name):
        d_out, d_in = int(match["d_out"]), int(match["d_in"])
        if not (1 <= d_in <= SYNTHETIC_MAX_D_IN and 1 <= d_out and d_out * d_in <= SYNTHETIC_MAX_WEIGHTS):
            raise ValueError(f"synthetic set {name!r} is out of range: d_in must be 1..{SYNTHETIC_MAX_D_IN} and "
                             f"d_out x d_in at most {SYNTHETIC_MAX_WEIGHTS} weights")
        W, H = synthetic_layer(d_out, d_in, seed=0)
        return [Problem(f"synthetic-{d_out}x{d_in}", W, H, {"generator": "synthetic", "seed": 0})]
    if match := SLICE_SET.match(name):
        base = match["base"]
        if int(match["n"]) < SLICE_MIN_N:
            raise ValueError(f"slice set {name!r}: slice size n must be at least {SLICE_MIN_N}")
        return slice_problems(load_set(base, refresh=refresh, device=device, progress=progress), int(match["n"]), base)
    directory = set_directory(name)
    if not refresh and (directory / MANIFEST).exists():
        return load_saved_set(directory)  # any extracted set, by the name it was given (bench extract --name)
    model, layer = model_of(name)
    if refresh or not (directory / MANIFEST).exists():
        extract_set(model, [layer], name=name, device=device, progress=progress)
    return load_saved_set(directory)


def extract_set(model: str, layers: list[int], *, name: str | None = None, nsamples: int | None = None,
                seqlen: int | None = None, calibration: str | None = None, device: str | None = None,
                seed: int = 0, progress: bool = True) -> Path:
    """Extract every nn.Linear of ``layers`` of ``model`` into the cache; returns the set directory.

    The new set is written beside the old one and swapped in by renames, so a failed extraction
    leaves an existing (even bad) entry untouched until a good one replaces it.
    """
    from .extract import extract
    from .models import load_model

    defaults = default_calibration(model)
    calibration = calibration or defaults["calibration"]
    name = name or f"{model.replace('/', '--').lstrip('.')}-l{'-'.join(map(str, layers))}"
    directory = set_directory(name)  # checks the name before anything is loaded or written
    if directory.exists() and not (directory / MANIFEST).exists():
        raise ValueError(f"{directory} exists and is not an instance set (no {MANIFEST}); not replacing it")
    print(f"extracting {name}: model {model}, layers {layers}, calibration {calibration}", file=sys.stderr)
    loaded = load_model(model, device)
    problems, meta = extract(loaded, layers, source=calibration, nsamples=nsamples or defaults["nsamples"],
                             seqlen=seqlen or defaults["seqlen"], seed=seed, progress=progress)
    meta["set"] = name
    root = directory.parent
    root.mkdir(parents=True, exist_ok=True)
    # Staging and the replaced set live in fresh hidden directories of their own (never a set's name), so
    # nothing but this set's own directory is ever replaced or deleted.
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{directory.name}.staging-"))
    try:
        save_set(staging, name, [Problem(k, W, H, {"module": k, "w_dtype": "float32"}) for k, (W, H) in problems.items()],
                 meta)
        old = Path(tempfile.mkdtemp(dir=root, prefix=f".{directory.name}.old-"))
        if directory.exists():
            directory.rename(old / "set")
        staging.rename(directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if (old / "set" / "reference.solu").exists():
        shutil.copy2(old / "set" / "reference.solu", directory / "reference.solu")
    shutil.rmtree(old, ignore_errors=True)
    return directory


def reference_paths(name: str) -> tuple[Path, Path]:
    """(shipped read-only reference file, writable reference file in the cache) of set ``name``."""
    return DATA_DIR / f"{name}.solu", set_directory(name) / "reference.solu"


def load_references(name: str) -> References:
    shipped, cached = reference_paths(name)
    return read_references(shipped).merge(read_references(cached))
