"""The method registry: a plain dict from method name to its solve function.

A solve function takes (problem: LayerProblem, *, time_limit, seed, **options) and returns a
``MethodAnswer``. Later issues add "fw", "mip", "fw-bnb" and the alias "exact".
"""
from __future__ import annotations

from functools import partial

from .brute_force import solve_brute_force
from .mip import solve_mip
from .sparsefw import solve_fw
from .scores import solve_magnitude, solve_ria, solve_wanda
from .sparsegpt import solve_sparsegpt
from .sparseswaps import solve_sparseswaps

METHODS = {
    "magnitude": solve_magnitude,
    "wanda": solve_wanda,
    "ria": solve_ria,
    "sparsegpt": solve_sparsegpt,
    "sparseswaps": solve_sparseswaps,
    "fw": solve_fw,
    "fw-polish": partial(solve_fw, polish=True),
    "brute-force": solve_brute_force,
    "mip": solve_mip,
    "mip-factor": partial(solve_mip, formulation="factor"),
    "mip-plain": partial(solve_mip, formulation="plain"),
    "mip-scheduler": partial(solve_mip, scheduler="i"),
    **{f"mip-alns-{algo}": partial(solve_mip, alns_bandit=algo) for algo in ("u", "e", "g", "i")},
}
METHODS["exact"] = METHODS["mip"]  # the exact method of choice (issue 7 lets it pick fw-bnb too)

# Methods that prove optimality (their "optimal" status is a claim the harness checks).
EXACT_METHODS = {"brute-force", "mip", "mip-factor", "mip-plain", "mip-scheduler", "exact",
                 *(f"mip-alns-{a}" for a in "uegi")}
