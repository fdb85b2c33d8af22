"""Exact and near-exact mask selection for layer-wise LLM pruning (no torch import here)."""
from .api import solve_layer
from .core.objective import layer_error, output_energy, relative_error
from .core.patterns import Pattern, make_pattern
from .core.problem import LayerProblem, make_problem
from .core.result import STATUSES, MethodAnswer, SolveResult
from .registry import EXACT_METHODS, METHODS, SPECS, MethodSpec, register

__all__ = ["solve_layer", "SolveResult", "LayerProblem", "make_problem", "Pattern", "make_pattern",
           "METHODS", "EXACT_METHODS", "SPECS", "MethodSpec", "MethodAnswer", "register", "STATUSES", "layer_error", "output_energy", "relative_error"]
