"""Method options declared once, with type, allowed values and default, and validated once.

Every registered method lists its options as ``Option`` values (``solvers.registry``); ``validate_options``
checks a call's options against that list before the method runs: an unknown name or a bad value is
a ``ValueError`` that names the method, the option and what is allowed. Methods never see a misspelt
option, and a ``TypeError`` raised inside a method is never mistaken for one.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

KINDS = ("int", "float", "bool", "str", "warm-start", "device", "vector", "any")  # any: passed through (plug-ins)


@dataclass(frozen=True)
class Option:
    """One option: ``kind`` (see ``KINDS``), default, allowed ``choices`` (str), numeric range
    [low, high] (``open_low``/``open_high``: strict), ``none_ok`` (None allowed), one line of ``doc``."""

    kind: str
    default: object = None
    doc: str = ""
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    none_ok: bool = False

    def allowed(self) -> str:
        """What the option takes, in words (for error messages and docs)."""
        if self.choices:
            text = "one of " + ", ".join(map(str, self.choices))
        elif self.kind in ("int", "float"):
            text = ("an integer" if self.kind == "int" else "a number")
            if self.low is not None:
                text += f" {'>' if self.open_low else '>='} {self.low:g}"
            if self.high is not None:
                text += f"{',' if self.low is not None else ''} {'<' if self.open_high else '<='} {self.high:g}"
        elif self.kind == "warm-start":
            text = "a score name (magnitude, wanda, ria, sparseswaps where listed) or a mask array"
        elif self.kind == "device":
            text = "None/'cpu', 'cpu-torch', 'cuda' or 'cuda:N'"
        elif self.kind == "vector":
            text = "a 1-D array of finite numbers >= 0"
        elif self.kind == "any":
            text = "any value"
        else:
            text = f"a {self.kind}"
        return text + (" or None" if self.none_ok else "")

    def check(self, method: str, name: str, value):
        """``value`` if it fits, else ValueError naming method, option and what is allowed."""
        if self.kind == "any" or (value is None and (self.none_ok or self.kind == "device")):
            return value
        if self.kind == "device":
            from .core.arrays import check_device

            try:
                check_device(value)
            except ValueError:
                raise self._bad(method, name, value) from None
            return value
        if self.kind == "warm-start":
            if isinstance(value, str) and value in self.choices:
                return value
            if not isinstance(value, str) and np.ndim(value) == 2:
                return value  # a mask array: checked against the pattern by the method (warm_start_mask)
            raise self._bad(method, name, value)
        if self.kind == "vector":  # its length is checked by the method, which knows the shapes
            try:
                vector = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise self._bad(method, name, value) from None
            if vector.ndim != 1 or not np.all(np.isfinite(vector)) or np.any(vector < 0):
                raise self._bad(method, name, value)
            return vector
        if self.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise self._bad(method, name, value)
        if self.kind == "str":
            if isinstance(value, str) and (not self.choices or value in self.choices):
                return value
            raise self._bad(method, name, value)
        numeric = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
        if self.kind == "int":
            numeric = numeric and float(value).is_integer()
        if not numeric or not math.isfinite(float(value)) or not self._in_range(float(value)):
            raise self._bad(method, name, value)
        return int(value) if self.kind == "int" else float(value)

    def _in_range(self, x: float) -> bool:
        if self.low is not None and (x <= self.low if self.open_low else x < self.low):
            return False
        return not (self.high is not None and (x >= self.high if self.open_high else x > self.high))

    def _bad(self, method: str, name: str, value) -> ValueError:
        return ValueError(f"method {method!r}: option {name}={value!r} is not valid; {name} takes {self.allowed()}")


def validate_options(method: str, declared: dict[str, Option], given: dict) -> dict:
    """The given options, checked (unknown names and bad values are one ValueError each)."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        valid = ", ".join(sorted(declared)) or "none"
        raise ValueError(f"method {method!r} has no option {', '.join(map(repr, unknown))}; its options: {valid}")
    return {name: declared[name].check(method, name, value) for name, value in given.items()}


def positive_int(doc: str, default: int | None, none_ok: bool = False) -> Option:
    return Option("int", default, doc, low=1, none_ok=none_ok)


def choice(doc: str, default, choices, none_ok: bool = False) -> Option:
    return Option("str", default, doc, choices=tuple(choices), none_ok=none_ok)
