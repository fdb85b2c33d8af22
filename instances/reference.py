"""Reference values per instance, in the spirit of MIPLIB's ``.solu`` files, each with its provenance.

One line per (instance, setting, objective) and kind, then ``key=value`` provenance fields:
    =opt=    <instance> <setting> <objective> <value> method=fw-bnb commit=... date=... proof=...
    =best=   <instance> <setting> <objective> <value> method=... commit=... date=...   best known primal value
    =bound=  <instance> <setting> <objective> <value> method=... commit=... date=...   best known lower bound
A setting is "per-row@0.5", "per-layer@0.6" or the N:M string itself (``setting_key``). Shipped files
under ``instances/data`` are read-only; the harness updates a file of the same name in the set's cache
directory, and both are merged on reading.

Trust rules: an optimum is stored only from a registered exact method whose claim survived
``solve_layer``'s cross-check, and only with provenance. An ``=opt=`` line without provenance (written
before provenance existed, or by hand) is read as a best value and a bound, not as an optimum. A
feasible value below a stored optimum or bound refutes it (feasible values are recomputed, so they are
certain): the refuted entry is dropped on merging and the refutation is returned as a conflict, never
silently. ``bench reference`` lists entries and conflicts and drops entries from the cached file.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .store import atomic_write_bytes

KINDS = ("opt", "best", "bound")
PROVENANCE_FIELDS = ("method", "commit", "date", "proof")
REFUTE_RTOL = 1e-9  # a value this far below a stored optimum or bound refutes it (recompute rounding: ~1e-16)


def setting_key(pattern: str, sparsity: float | None) -> str:
    """"per-row@0.5", "per-layer@0.5" or the N:M string itself."""
    if ":" in pattern:
        return pattern
    return f"{pattern}@{float(sparsity):g}"


@dataclass
class ReferenceEntry:
    """Best known values of one key and where each came from (``provenance[kind]``: dict of fields)."""

    opt: float | None = None
    best: float = math.inf
    bound: float = -math.inf
    provenance: dict = field(default_factory=dict)

    @property
    def best_primal(self) -> float:
        return self.opt if self.opt is not None else self.best

    @property
    def best_bound(self) -> float:
        return self.opt if self.opt is not None else self.bound

    def origin(self, kind: str) -> str:
        """The provenance of one kind in words ("unrecorded" when there is none)."""
        fields = self.provenance.get(kind) or {}
        return " ".join(f"{k}={v}" for k, v in fields.items()) or "unrecorded"


@dataclass
class Conflict:
    """A stored value contradicted by another (``kind`` refuted or disputed; ``by`` the contradicting one)."""

    key: tuple
    kind: str
    stored: float
    value: float
    stored_origin: str
    by: str
    refuted: bool  # True: certainly wrong (a feasible value below it); False: one of the two is wrong

    def __str__(self) -> str:
        inst, setting, obj = self.key
        verdict = "refuted by" if self.refuted else "disputed by"
        return (f"{inst} {setting} {obj}: stored {self.kind} {self.stored:.12g} ({self.stored_origin}) {verdict} "
                f"{self.value:.12g} ({self.by})")


def _words(provenance: dict | None) -> str:
    return " ".join(f"{k}={v}" for k, v in (provenance or {}).items()) or "unrecorded"


@dataclass
class References:
    entries: dict = field(default_factory=dict)  # (instance, setting, objective) -> ReferenceEntry
    conflicts: list = field(default_factory=list)  # Conflicts met while reading or merging

    def get(self, instance: str, setting: str, objective: str) -> ReferenceEntry | None:
        return self.entries.get((instance, setting, objective))

    def update(self, instance: str, setting: str, objective: str, *, primal: float = math.inf,
               bound: float = -math.inf, proven: bool = False, provenance: dict | None = None) -> list[Conflict]:
        """Keep the smallest primal and largest bound; a proven optimum (with provenance) becomes ``opt``.
        Returns the conflicts this update met (also kept in ``self.conflicts``)."""
        key = (instance, setting, objective)
        entry = self.entries.setdefault(key, ReferenceEntry())
        by = _words(provenance)
        found = []
        if math.isfinite(primal):
            for kind in ("opt", "bound"):
                stored = entry.opt if kind == "opt" else entry.bound
                if stored is not None and math.isfinite(stored) and primal < stored - REFUTE_RTOL * abs(stored):
                    found.append(Conflict(key, kind, stored, primal, entry.origin(kind), by, refuted=True))
                    if kind == "opt":
                        entry.opt = None
                    else:
                        entry.bound = -math.inf
                    entry.provenance.pop(kind, None)
        if math.isfinite(bound) and bound > entry.best_primal + REFUTE_RTOL * abs(entry.best_primal):
            found.append(Conflict(key, "opt" if entry.opt is not None else "best", entry.best_primal, bound,
                                  entry.origin("opt" if entry.opt is not None else "best"), f"bound {by}", refuted=False))
            bound = -math.inf  # a bound above a known feasible value is not kept
        if proven and entry.opt is not None and primal > entry.opt + REFUTE_RTOL * abs(entry.opt):
            found.append(Conflict(key, "opt", entry.opt, primal, entry.origin("opt"), f"optimum {by}", refuted=False))
            proven = False
        if primal < entry.best:
            entry.best = primal
            entry.provenance["best"] = dict(provenance or {})
        if bound > entry.bound:
            entry.bound = bound
            entry.provenance["bound"] = dict(provenance or {})
        if proven and provenance and math.isfinite(primal) and (entry.opt is None or primal < entry.opt):
            entry.opt = primal
            entry.provenance["opt"] = dict(provenance)
        self.conflicts += found
        return found

    def merge(self, other: "References") -> "References":
        for (inst, setting, obj), e in other.entries.items():
            self.update(inst, setting, obj, primal=e.best, provenance=e.provenance.get("best"))
            self.update(inst, setting, obj, bound=e.bound, provenance=e.provenance.get("bound"))
            if e.opt is not None:
                self.update(inst, setting, obj, primal=e.opt, bound=e.opt, proven=True, provenance=e.provenance.get("opt"))
        self.conflicts += other.conflicts
        return self

    def drop(self, instance: str, setting: str | None = None, objective: str | None = None,
             kind: str | None = None) -> int:
        """Remove matching entries (or one kind of them); returns how many values were removed."""
        removed = 0
        for key in [k for k in self.entries if k[0] == instance and setting in (None, k[1]) and objective in (None, k[2])]:
            entry = self.entries[key]
            if kind in (None, "opt") and entry.opt is not None:
                entry.opt, removed = None, removed + 1
            if kind in (None, "best") and math.isfinite(entry.best):
                entry.best, removed = math.inf, removed + 1
            if kind in (None, "bound") and math.isfinite(entry.bound):
                entry.bound, removed = -math.inf, removed + 1
            for k in KINDS if kind is None else (kind,):
                entry.provenance.pop(k, None)
            if entry.opt is None and not math.isfinite(entry.best) and not math.isfinite(entry.bound):
                del self.entries[key]
        return removed

    def to_text(self) -> str:
        lines = ["# prune-opt-bench reference values: =kind= instance setting objective value [provenance key=value ...]"]
        for (inst, setting, obj), e in sorted(self.entries.items()):
            values = [("opt", e.opt)] if e.opt is not None else []
            if math.isfinite(e.best) and (e.opt is None or e.best != e.opt):
                values.append(("best", e.best))
            if math.isfinite(e.bound) and (e.opt is None or e.bound != e.opt):
                values.append(("bound", e.bound))
            for kind, value in values:
                tail = " ".join(f"{k}={v}" for k, v in (e.provenance.get(kind) or {}).items())
                lines.append(f"={kind}= {inst} {setting} {obj} {value!r}" + (f" {tail}" if tail else ""))
        return "\n".join(lines) + "\n"


def _provenance(fields: list[str], where: str) -> dict:
    out = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise ValueError(f"{where}: provenance field {item!r} is not key=value")
        out[name] = value
    return out


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
        where = f"{path}:{number}"
        try:
            if len(parts) < 5 or kind not in KINDS:
                raise ValueError
            value = float(parts[4])
        except ValueError:
            raise ValueError(f"{where}: malformed reference line {line!r}") from None
        inst, setting, obj = parts[1:4]
        provenance = _provenance(parts[5:], where)
        if kind == "opt" and provenance:
            refs.update(inst, setting, obj, primal=value, bound=value, proven=True, provenance=provenance)
        elif kind == "opt":  # no provenance: a value that is both feasible and a bound, but no proven optimum
            refs.update(inst, setting, obj, primal=value, bound=value, provenance={"source": "unrecorded-opt"})
        elif kind == "best":
            refs.update(inst, setting, obj, primal=value, provenance=provenance)
        else:
            refs.update(inst, setting, obj, bound=value, provenance=provenance)
    return refs


def write_references(path: Path, refs: References) -> None:
    atomic_write_bytes(path, refs.to_text().encode())
