"""Exact and near-exact mask selection for layer-wise LLM pruning (no torch import here)."""
from .api import solve_layer
from .core.objective import layer_error, output_energy, relative_error
from .core.patterns import Pattern, make_pattern, select_top
from .core.problem import LayerProblem, make_problem
from .core.result import STATUSES, MethodAnswer, SolveResult
from .evaluate import detect_pattern, evaluate_mask
from .plugins import find_method
from .registry import EXACT_METHODS, METHODS, SPECS, MethodSpec, register

__all__ = ["solve_layer", "evaluate_mask", "detect_pattern", "SolveResult", "LayerProblem", "make_problem", "Pattern",
           "make_pattern", "select_top", "METHODS", "EXACT_METHODS", "SPECS", "MethodSpec", "MethodAnswer", "register",
           "find_method", "STATUSES", "layer_error", "output_energy", "relative_error"]
