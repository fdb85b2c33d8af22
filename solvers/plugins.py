"""Methods from outside the project: installed plug-ins and importable functions.

Two ways in, both found by name wherever a method name is read (``solve_layer``, ``bench run``,
``bench prune``, and inside forked, process-pool and Dask workers, which resolve the name again):

- **Entry points.** An installed package declares, in its ``pyproject.toml``::

      [project.entry-points."prune_opt_bench.methods"]
      my-method = "my_package.module:spec_or_function"

  The target is a ``MethodSpec`` (registered under the entry point's name, with everything it
  declares: exact, objectives, patterns, options) or a solve function (see below). Entry points are
  read once per process, the first time a name is not a built-in one.
- **Import paths.** ``"pkg.module:function"`` names a function (or a ``MethodSpec``) of any importable
  module, no packaging needed: ``bench run --solvers "pkg.module:function[opt=value]"``.

A solve function has the signature of the built-in ones: ``solve(problem: LayerProblem, *, time_limit,
seed, **options) -> MethodAnswer``. Its keyword parameters with defaults are its options (kind from the
default's type: bool, int, float, str, anything else passes as is); with ``**options`` unknown names pass
through too. A function is never exact: its "optimal" is a claim that ``solve_layer`` cross-checks like
an exact method's, and so is any bound it returns (``solvers.crosscheck``); only a ``MethodSpec`` with
``exact=True`` can ever give a stored optimum (``benchmark.runner.proves_optimum``).
"""
from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points

from .options import Option, validate_options
from .registry import METHODS, SPECS, MethodSpec, register

ENTRY_POINT_GROUP = "prune_opt_bench.methods"
SOLVE_KEYWORDS = ("time_limit", "seed")
# solve_layer's own parameters: an option of one of these names could never reach the method.
RESERVED = ("W", "H", "sparsity", "pattern", "method", "objective", "damping", "return_weights")
_OPTION_KINDS = {bool: "bool", int: "int", float: "float", str: "str"}
_entry_points_read = False


@dataclass(frozen=True)
class FunctionSpec(MethodSpec):
    """A plug-in solve function's spec; ``open_options``: it takes ``**options``, so undeclared names pass."""

    open_options: bool = False

    def check(self, options: dict) -> dict:
        declared = {k: v for k, v in options.items() if k in self.options or not self.open_options}
        return validate_options(self.name, self.options, declared) | \
            {k: v for k, v in options.items() if k not in declared}


def spec_from_function(name: str, function, origin: str) -> FunctionSpec:
    """The spec of a plug-in solve function (module docstring); ValueError if its signature does not fit."""
    if not callable(function):
        raise ValueError(f"plug-in method {name!r} ({origin}): {type(function).__name__} is neither a MethodSpec "
                         "nor a solve function")
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    var_keyword = any(p.kind is p.VAR_KEYWORD for p in parameters)
    names = {p.name for p in parameters}
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not positional or not (var_keyword or set(SOLVE_KEYWORDS) <= names):
        raise ValueError(f"plug-in method {name!r} ({origin}): a solve function takes "
                         "(problem, *, time_limit, seed, **options); got " + f"{function.__name__}{inspect.signature(function)}")
    options = {p.name: Option(_OPTION_KINDS.get(type(p.default), "any"), p.default, "plug-in option")
               for p in parameters[1:] if p.default is not p.empty and p.name not in SOLVE_KEYWORDS
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    taken = sorted(set(options) & set(RESERVED))
    if taken:
        raise ValueError(f"plug-in method {name!r} ({origin}): option(s) {', '.join(taken)} have the names of "
                         "solve_layer's own parameters and would never reach the method; rename them "
                         "(the problem's damping is problem.damping)")
    doc = (inspect.getdoc(function) or "").strip().splitlines()
    return FunctionSpec(name, function, in_default_bench=False, options=options, doc=doc[0] if doc else "",
                        origin=origin, open_options=var_keyword)


def _spec_of_target(name: str, target, origin: str) -> MethodSpec:
    if isinstance(target, MethodSpec):
        fields = {f: getattr(target, f) for f in target.__dataclass_fields__}
        return type(target)(**(fields | {"name": name, "origin": origin, "in_default_bench": False}))
    return spec_from_function(name, target, origin)


def import_target(path: str):
    """The object named by ``"pkg.module:attribute"`` (dots in the attribute walk into it), imported from
    ``sys.path`` and the current directory."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"plug-in path {path!r}: expected 'pkg.module:function'")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())  # as ``python -m`` would: modules of the current directory import (uvicorn's rule)
    try:
        target = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"plug-in path {path!r}: cannot import {module_name!r} ({err})") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValueError(f"plug-in path {path!r}: module {module_name!r} has no {attribute!r}")
        target = getattr(target, part)
    return target


def load_entry_points(force: bool = False) -> list[str]:
    """Register every method of the ``prune_opt_bench.methods`` group (once per process unless ``force``);
    returns the names registered now. A broken entry point is a ValueError naming it and its package."""
    global _entry_points_read
    if _entry_points_read and not force:
        return []
    _entry_points_read = True
    names = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name in SPECS and SPECS[point.name].origin == "built-in":
            raise ValueError(f"plug-in {point.value!r} (package {_dist_name(point)}) takes the name {point.name!r} "
                             "of a built-in method; rename the entry point")
        try:
            target = point.load()
        except Exception as err:  # noqa: BLE001 - any import failure of a third-party package, named
            raise ValueError(f"plug-in method {point.name!r} = {point.value!r} (package {_dist_name(point)}) "
                             f"does not load: {type(err).__name__}: {err}") from None
        register(_spec_of_target(point.name, target, f"entry point {_dist_name(point)}"))
        names.append(point.name)
    return names


def _dist_name(point) -> str:
    dist = getattr(point, "dist", None)
    return getattr(dist, "name", None) or "unknown"


def find_method(name: str) -> MethodSpec:
    """The spec of method ``name``: a registered one, an installed entry point, or ``"pkg.module:function"``
    (imported and registered under that name). ValueError naming the known methods otherwise."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a method is named by a string; got {name!r}")
    entry, spec = METHODS.get(name), SPECS.get(name)
    if entry is not None and (spec is None or getattr(entry, "func", None) != spec.run):
        return spec_from_function(name, entry, "METHODS entry")  # a function put into METHODS by hand (tests, scripts)
    if name in SPECS:
        return SPECS[name]
    load_entry_points()
    if name in SPECS:
        return SPECS[name]
    if ":" in name:
        return register(_spec_of_target(name, import_target(name), f"import {name}"))
    raise ValueError(f"unknown method {name!r}; known: {', '.join(sorted(SPECS))}, or a plug-in 'pkg.module:function'")
