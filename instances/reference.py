"""Reference values per instance, in the spirit of MIPLIB's ``.solu`` files.

One line per (instance, setting, objective) and kind:
    =opt=    <instance> <setting> <objective> <value>   proven optimum
    =best=   <instance> <setting> <objective> <value>   best known primal value (not proven)
    =bound=  <instance> <setting> <objective> <value>   best known lower bound
A setting is "per-row@0.5", "per-layer@0.6" or "2:4" (``setting_key``). Shipped files under
``instances/data`` are read-only; the harness updates a file of the same name in the set's cache
directory, and both are merged on reading.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .store import atomic_write_bytes

KINDS = ("opt", "best", "bound")


def setting_key(pattern: str, sparsity: float | None) -> str:
    """"per-row@0.5", "per-layer@0.5" or the N:M string itself."""
    if ":" in pattern:
        return pattern
    return f"{pattern}@{float(sparsity):g}"


@dataclass
class ReferenceEntry:
    opt: float | None = None
    best: float = math.inf
    bound: float = -math.inf

    @property
    def best_primal(self) -> float:
        return self.opt if self.opt is not None else self.best

    @property
    def best_bound(self) -> float:
        return self.opt if self.opt is not None else self.bound


@dataclass
class References:
    entries: dict = field(default_factory=dict)  # (instance, setting, objective) -> ReferenceEntry

    def get(self, instance: str, setting: str, objective: str) -> ReferenceEntry | None:
        return self.entries.get((instance, setting, objective))

    def update(self, instance: str, setting: str, objective: str, *, primal: float = math.inf,
               bound: float = -math.inf, proven: bool = False) -> ReferenceEntry:
        """Keep the smallest primal and largest bound; a proven optimum becomes ``opt``."""
        entry = self.entries.setdefault((instance, setting, objective), ReferenceEntry())
        entry.best = min(entry.best, primal)
        entry.bound = max(entry.bound, bound)
        if entry.opt is not None and primal < entry.opt - 1e-9 * abs(entry.opt):
            entry.opt = None  # a feasible value below a claimed optimum refutes the claim
        if proven and math.isfinite(primal) and (entry.opt is None or primal < entry.opt):
            entry.opt = primal
        return entry

    def merge(self, other: "References") -> "References":
        for (inst, setting, obj), e in other.entries.items():
            self.update(inst, setting, obj, primal=e.best, bound=e.bound)
            if e.opt is not None:
                self.update(inst, setting, obj, primal=e.opt, bound=e.opt, proven=True)
        return self

    def to_text(self) -> str:
        lines = ["# prune-opt-bench reference values: =kind= instance setting objective value"]
        for (inst, setting, obj), e in sorted(self.entries.items()):
            if e.opt is not None:
                lines.append(f"=opt= {inst} {setting} {obj} {e.opt!r}")
            if math.isfinite(e.best) and (e.opt is None or e.best != e.opt):
                lines.append(f"=best= {inst} {setting} {obj} {e.best!r}")
            if math.isfinite(e.bound) and (e.opt is None or e.bound != e.opt):
                lines.append(f"=bound= {inst} {setting} {obj} {e.bound!r}")
        return "\n".join(lines) + "\n"


def read_references(path: Path) -> References:
    """Parse a reference file; a missing file is empty, a malformed line is a ValueError naming it."""
    refs = References()
    if not path.exists():
        return refs
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        kind = parts[0].strip("=") if parts else ""
        try:
            if len(parts) != 5 or kind not in KINDS:
                raise ValueError
            value = float(parts[4])
        except ValueError:
            raise ValueError(f"{path}:{number}: malformed reference line {line!r}") from None
        inst, setting, obj = parts[1:4]
        if kind == "opt":
            refs.update(inst, setting, obj, primal=value, bound=value, proven=True)
        elif kind == "best":
            refs.update(inst, setting, obj, primal=value)
        else:
            refs.update(inst, setting, obj, bound=value)
    return refs


def write_references(path: Path, refs: References) -> None:
    atomic_write_bytes(path, refs.to_text().encode())
