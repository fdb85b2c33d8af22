"""Sparsity patterns as groups of weight indices, each group keeping exactly ``keep`` weights.

Every pattern of the project is one ``Pattern``: an integer array ``groups`` of shape
(n_groups, group_size) holding flat (row-major) indices into W, and one ``keep`` count shared by
all groups. Selection, oracles, MIP constraints and the feasibility check all read this one object.

- ``per-row``: one group per row, keep = round((1 - s) * d_in).
- ``per-layer``: one group holding every weight, keep = round((1 - s) * d_out * d_in).
- ``"N:M"``: each row split into d_in / M groups of M consecutive inputs, keep = N.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

PATTERN_KINDS = ("per-row", "per-layer", "N:M")


@dataclass(frozen=True)
class Pattern:
    """A sparsity pattern bound to one weight shape.

    ``kind`` is "per-row", "per-layer" or "N:M"; ``name`` is what the user wrote ("2:4", ...).
    ``groups[g]`` lists the flat indices of group g; every group keeps exactly ``keep``.
    ``row_local`` is True when every group lies inside one row (rows are then independent).
    """

    name: str
    kind: str
    shape: tuple[int, int]
    keep: int
    groups: np.ndarray = field(repr=False)

    @property
    def row_local(self) -> bool:
        return self.kind != "per-layer"

    @property
    def group_size(self) -> int:
        return int(self.groups.shape[1])

    @property
    def prune(self) -> int:
        """Number of pruned weights per group."""
        return self.group_size - self.keep

    @property
    def sparsity(self) -> float:
        """Fraction of weights pruned (achieved, after rounding)."""
        return self.prune / self.group_size

    def row_groups(self) -> np.ndarray:
        """Column indices of the groups inside one row, shape (groups_per_row, group_size).

        Only for row-local patterns; every row has the same column grouping.
        """
        if not self.row_local:
            raise ValueError("per-layer groups span rows; row_groups() needs a row-local pattern")
        d_in = self.shape[1]
        return self.groups[: len(self.groups) // self.shape[0]] % d_in


def parse_nm(pattern: str) -> tuple[int, int] | None:
    """Return (N, M) for a string "N:M", None for other names; ValueError if malformed."""
    if ":" not in pattern:
        return None
    left, _, right = pattern.partition(":")
    try:
        n, m = int(left), int(right)
    except ValueError:
        raise ValueError(f"malformed N:M pattern {pattern!r}: expected two integers like '2:4'") from None
    if not 0 < n < m:
        raise ValueError(f"N:M pattern {pattern!r} needs 0 < N < M")
    return n, m


def check_pattern_name(pattern) -> None:
    """ValueError unless ``pattern`` is "per-row", "per-layer" or a well-formed "N:M"."""
    if not isinstance(pattern, str) or (pattern not in ("per-row", "per-layer") and parse_nm(pattern) is None):
        raise ValueError(f"unknown pattern {pattern!r}; known: 'per-row', 'per-layer' or 'N:M' such as '2:4'")


def parse_setting(text: str) -> tuple[str, float | None]:
    """The one setting syntax of the command lines: "per-row@0.5", "per-layer@0.6", "N:M" (no sparsity), or a
    bare fraction "0.5" (per-row). Returns (pattern, sparsity); ValueError naming a bad one."""
    text = text.strip()
    if ":" in text:
        check_pattern_name(text)
        return text, None
    pattern, _, value = text.rpartition("@")
    pattern = pattern or "per-row"
    try:
        sparsity = float(value)
    except ValueError:
        raise ValueError(f"bad setting {text!r}: use a pruned fraction (0.5), N:M (2:4) or pattern@fraction "
                         "(per-layer@0.5)") from None
    check_pattern_name(pattern)
    _check_sparsity(sparsity)
    return pattern, sparsity


def make_pattern(pattern: str, shape: tuple[int, int], sparsity: float | None) -> Pattern:
    """Build the groups of ``pattern`` for a weight matrix of ``shape`` = (d_out, d_in).

    ``sparsity`` is the pruned fraction in (0, 1); it is ignored for N:M patterns.
    """
    d_out, d_in = shape
    nm = parse_nm(pattern)
    if nm is not None:
        n, m = nm
        if d_in % m:
            raise ValueError(f"N:M pattern {pattern!r} needs d_in divisible by M; d_in = {d_in}")
        groups = np.arange(d_out * d_in, dtype=np.int64).reshape(d_out * d_in // m, m)
        return Pattern(pattern, "N:M", shape, n, groups)
    check_pattern_name(pattern)
    _check_sparsity(sparsity)
    flat = np.arange(d_out * d_in, dtype=np.int64)
    groups = flat.reshape(d_out, d_in) if pattern == "per-row" else flat.reshape(1, -1)
    keep = int(round((1.0 - sparsity) * groups.shape[1]))
    if not 0 < keep < groups.shape[1]:
        raise ValueError(
            f"sparsity {sparsity} leaves {keep} of {groups.shape[1]} weights per group; "
            "nothing would be pruned or nothing kept"
        )
    return Pattern(pattern, pattern, shape, keep, groups)


def _check_sparsity(sparsity: float | None) -> None:
    real = isinstance(sparsity, numbers.Real) and not isinstance(sparsity, (bool, np.bool_))
    if not real or not np.isfinite(sparsity) or not 0.0 < float(sparsity) < 1.0:
        raise ValueError(f"sparsity must be a fraction in (0, 1) pruned; got {sparsity!r}")


def select_top(scores: np.ndarray, pattern: Pattern) -> np.ndarray:
    """Keep the ``keep`` largest scores of every group; returns a bool mask (True = keep).

    Among equal scores the lower index is pruned, as in the reference code of Wanda and RIA (an ascending stable
    sort whose first entries are pruned), so the result is deterministic and matches theirs.
    """
    flat_scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    grouped = flat_scores[pattern.groups]
    order = np.argsort(grouped, axis=1, kind="stable")[:, pattern.prune :]
    mask = np.zeros(flat_scores.size, dtype=bool)
    mask[np.take_along_axis(pattern.groups, order, axis=1)] = True
    return mask.reshape(pattern.shape)


def group_violations(mask: np.ndarray, pattern: Pattern) -> np.ndarray:
    """Indices of groups whose kept count differs from ``pattern.keep``."""
    counts = np.asarray(mask, dtype=bool).reshape(-1)[pattern.groups].sum(axis=1)
    return np.flatnonzero(counts != pattern.keep)
