"""The method registry: a plain dict from method name to its solve function.

A solve function takes (problem: LayerProblem, *, time_limit, seed, **options) and returns a
``MethodAnswer``. Later issues add "fw", "mip", "fw-bnb" and the alias "exact".
"""
from __future__ import annotations

from .brute_force import solve_brute_force
from .scores import solve_magnitude, solve_ria, solve_wanda
from .sparsegpt import solve_sparsegpt
from .sparseswaps import solve_sparseswaps

METHODS = {
    "magnitude": solve_magnitude,
    "wanda": solve_wanda,
    "ria": solve_ria,
    "sparsegpt": solve_sparsegpt,
    "sparseswaps": solve_sparseswaps,
    "brute-force": solve_brute_force,
}

# Methods that prove optimality (their "optimal" status is a claim the harness checks).
EXACT_METHODS = {"brute-force"}
