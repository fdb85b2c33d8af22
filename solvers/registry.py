"""The method registry: a plain dict from method name to its solve function.

A solve function takes (problem: LayerProblem, *, time_limit, seed, **options) and returns a
``MethodAnswer``. Later issues add "fw", "mip", "fw-bnb" and the alias "exact".
"""
from __future__ import annotations

from functools import partial

from .brute_force import solve_brute_force
from .fw_bnb import solve_fw_bnb
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
    # SparseFW with the strongest bound: saddle-point diagonal strengthening (solvers.sparsefw, "diag-bm").
    "fw-bm": partial(solve_fw, strengthen="diag-bm", variant="bpcg"),
    # SparseFW with per-row diagonal Shor SDP bounds (solvers.row_sdp_ipm; "row-sdp"), the strongest and slowest.
    "fw-sdp": partial(solve_fw, strengthen="row-sdp", variant="bpcg"),
    "fw-bnb": solve_fw_bnb,
    "fw-bnb-round-robin": partial(solve_fw_bnb, bandit="round-robin"),
    "fw-bnb-pseudocost": partial(solve_fw_bnb, branching="pseudocost"),
    # fw-bnb as before node SDP bounds (root QCR by SCS's full Shor SDP only): shows what node SDPs buy.
    "fw-bnb-root-only": partial(solve_fw_bnb, node_sdp=False, qcr="auto"),
    "brute-force": solve_brute_force,
    "mip": solve_mip,
    "mip-factor": partial(solve_mip, formulation="factor"),
    "mip-plain": partial(solve_mip, formulation="plain"),
    # SCIP with the same root convexification as fw-bnb (diagonal Shor SDP by the barrier method).
    "mip-diag": partial(solve_mip, qcr="diag"),
    "mip-scheduler": partial(solve_mip, scheduler="i"),
    **{f"mip-alns-{algo}": partial(solve_mip, alns_bandit=algo) for algo in ("u", "e", "g", "i")},
}
# "exact": the faster proven method per (pattern kind, objective), from measured medians on the real
# SmolLM2 slices (results/mip-bench, issue notes). With node SDP bounds fw-bnb proves the per-row
# n = 48 / 64 / 96 slices in a median 0.043 / 0.061 / 0.115 s vs SCIP's 1.09 / 2.11 / 12.1 s, and 2:4 rows (n = 48) in
# 0.1-0.6 s vs 3-8 s; per-layer stays with SCIP (fw-bnb takes at most 256 weights there) and so does
# the reconstruct objective (fw-bnb is mask-only).
EXACT_CHOICE = {("per-row", "mask"): "fw-bnb", ("N:M", "mask"): "fw-bnb", ("per-layer", "mask"): "mip"}


def solve_exact(problem, **options):
    """Dispatch to the faster exact method for this pattern and objective (``EXACT_CHOICE``)."""
    method = EXACT_CHOICE.get((problem.pattern.kind, problem.objective), "mip")
    answer = METHODS[method](problem, **options)
    answer.info["exact_method"] = method
    return answer


METHODS["exact"] = solve_exact

# Methods that take ``device=`` ("cuda", ...) and then run their iterations with torch on that device.
DEVICE_METHODS = {"fw", "fw-polish", "fw-bm", "fw-sdp", "sparseswaps"}

# Methods that solve the mask objective only (they raise a ValueError for objective="reconstruct").
MASK_ONLY_METHODS = {"fw-bnb", "fw-bnb-round-robin", "fw-bnb-pseudocost", "fw-bnb-root-only"}

# Methods that prove optimality (their "optimal" status is a claim the harness checks).
EXACT_METHODS = {"brute-force", "fw-bnb", "fw-bnb-round-robin", "fw-bnb-pseudocost", "fw-bnb-root-only", "mip", "mip-diag",
                 "mip-factor", "mip-plain", "mip-scheduler", "exact",
                 *(f"mip-alns-{a}" for a in "uegi")}
