"""Instance files: one safetensors file per problem (arrays "W", "H") plus a JSON manifest per set.

H is stored in float64; W in float64, or float32 when ``meta["w_dtype"] == "float32"`` (weights that
are float32 in the model, stored losslessly). Both load as float64.

Layout: ``<cache>/<set>/manifest.json`` and ``<cache>/<set>/<problem>.safetensors``. The manifest
lists each problem's file, shapes, SHA-256 of the file and metadata. Every write goes to a
temporary name and is renamed into place, so a crash never leaves a half-written file under the
real name; the manifest is written last. No pickle anywhere.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

CACHE_ENV = "PRUNE_BENCH_CACHE"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class InstanceFileError(ValueError):
    """A corrupt, truncated, mismatched or non-finite instance file (the message names the file)."""


@dataclass
class Problem:
    """One layer problem of a set: ``name`` (e.g. "layer3.mlp.down_proj"), W, H (float64), meta."""

    name: str
    W: np.ndarray = field(repr=False)
    H: np.ndarray = field(repr=False)
    meta: dict = field(default_factory=dict)


def cache_dir() -> Path:
    """$PRUNE_BENCH_CACHE, else the user's cache dir (platformdirs) / prune-opt-bench."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    try:
        from platformdirs import user_cache_dir
        return Path(user_cache_dir("prune-opt-bench"))
    except ImportError:
        return Path.home() / ".cache" / "prune-opt-bench"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_name(problem_name: str) -> str:
    return problem_name.replace("/", "_") + ".safetensors"


def save_set(directory: Path, set_name: str, problems: list[Problem], set_meta: dict) -> None:
    """Write every problem and then the manifest, each atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for problem in problems:
        path = directory / _file_name(problem.name)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            W = np.ascontiguousarray(problem.W, dtype=np.float32 if problem.meta.get("w_dtype") == "float32" else np.float64)
            save_file({"W": W, "H": np.ascontiguousarray(problem.H, dtype=np.float64)}, tmp)
            digest = sha256_file(Path(tmp))
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        entries.append({"name": problem.name, "file": path.name, "sha256": digest,
                        "W_shape": list(problem.W.shape), "H_shape": list(problem.H.shape), "meta": problem.meta})
    manifest = {"format_version": FORMAT_VERSION, "set": set_name, "meta": set_meta, "problems": entries}
    atomic_write_bytes(directory / MANIFEST, json.dumps(manifest, indent=1, default=str).encode())


def read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except UnicodeDecodeError as err:
        raise InstanceFileError(f"{path}: corrupt manifest ({err})") from None
    except json.JSONDecodeError as err:
        raise InstanceFileError(f"{path}: corrupt manifest ({err})") from None
    if not isinstance(manifest, dict) or "problems" not in manifest:
        raise InstanceFileError(f"{path}: manifest has no 'problems' list")
    return manifest


ENTRY_FIELDS = {"name": str, "file": str, "sha256": str, "W_shape": list}


def check_entry(directory: Path, entry, number: int) -> Path:
    """The file of a manifest entry, after checking the entry: its fields are there with the right types,
    and its file is a plain name inside ``directory`` (no absolute path, separator or "..")."""
    where = f"{directory / MANIFEST}: problem entry {number}"
    if not isinstance(entry, dict):
        raise InstanceFileError(f"{where} is not an object")
    for field_name, kind in ENTRY_FIELDS.items():
        if not isinstance(entry.get(field_name), kind):
            raise InstanceFileError(f"{where} has no valid {field_name!r} ({kind.__name__} expected)")
    name = entry["file"]
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name or Path(name).is_absolute():
        raise InstanceFileError(f"{where}: file {name!r} is not a plain file name inside the set directory")
    return directory / name


def load_problem(directory: Path, entry: dict, set_meta: dict, number: int = 0) -> Problem:
    """Load and verify one problem: entry fields, hash, readable arrays, shapes, finiteness."""
    path = check_entry(directory, entry, number)
    if not path.exists():
        raise InstanceFileError(f"{path}: missing instance file")
    if sha256_file(path) != entry["sha256"]:
        raise InstanceFileError(f"{path}: content hash mismatch (corrupt or modified file)")
    try:
        arrays = load_file(path)
    except (SafetensorError, OSError, ValueError) as err:
        raise InstanceFileError(f"{path}: unreadable safetensors file ({err})") from None
    if set(arrays) != {"W", "H"}:
        raise InstanceFileError(f"{path}: expected arrays W and H, found {sorted(arrays)}")
    meta = entry.get("meta", {})
    if not isinstance(meta, dict):
        raise InstanceFileError(f"{path}: manifest 'meta' of {entry['name']!r} is not an object")
    W, H = arrays["W"].astype(np.float64), arrays["H"].astype(np.float64)
    if W.ndim != 2 or H.shape != (W.shape[1], W.shape[1]) or list(W.shape) != entry["W_shape"]:
        raise InstanceFileError(f"{path}: shape mismatch, W {W.shape} and H {H.shape} (manifest {entry['W_shape']})")
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(H))):
        raise InstanceFileError(f"{path}: W or H contains NaN or Inf")
    return Problem(entry["name"], W, H, dict(set_meta, **meta))


def load_saved_set(directory: Path) -> list[Problem]:
    manifest = read_manifest(directory)
    if not isinstance(manifest["problems"], list):
        raise InstanceFileError(f"{directory / MANIFEST}: 'problems' is not a list")
    meta = manifest.get("meta", {})
    if not isinstance(meta, dict):
        raise InstanceFileError(f"{directory / MANIFEST}: 'meta' is not an object")
    return [load_problem(directory, entry, meta, number) for number, entry in enumerate(manifest["problems"])]
