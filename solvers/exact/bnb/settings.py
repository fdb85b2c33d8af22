"""Tuning of the Frank-Wolfe branch-and-bound, grouped and documented once (after Boscia.jl's settings):
defaults are the measured choices; ``solve_fw_bnb`` takes them as options (``node_convexify``, ``sdp_fixing``)."""
from __future__ import annotations

from dataclasses import dataclass

BOUND_MARGIN = 1e-9  # absolute slack on the (unit-scaled) row bounds: rounding safety


@dataclass(frozen=True)
class Settings:
    """node_sdp_tolerance: relative barrier gap of node SDPs (their bounds are valid at any accuracy); with SDP
    fixing looser is faster: o_proj r504 n128 1e-3: 72 s / 4559 nodes, 1e-2: 45 s, 3e-2: 23 s / 1803 nodes,
    1e-1: 23 s; r181 3e-2: 124 s. Re-checked with the warm-start cap (``sdp.barrier.WARM_TAU_CAP``, session 20):
    3e-2 r181 24.0 s / r504 6.6 s; 1e-2 and 3e-3 slower (r181 open at 60 s).
    sdp_fixing: fix entries whose one-side child the node SDP's dual point bounds at the incumbent.
    rise_margin: fixing_increments' rises are shrunk by this factor before any fixing (rounding safety).
    node_convexify: FW at a node on the node SDP's convexification; measured: no clear gain (n64 sum
    10.3 -> 10.1 s; n128 o_proj: one slice better, one worse).
    node_fw_iterations: (a, b, cap): with node SDPs, FW iterations at a node = min(a + b * depth, cap) (FW only
    supplies a point); with dual fixing and 3e-2 node SDPs: o_proj n128 r504 24.2 -> 10.4 s, r181 89.5 -> 72.1 s
    vs (30, 10, none)."""

    node_sdp_tolerance: float = 3e-2
    sdp_fixing: bool = True
    rise_margin: float = 1 - 1e-6
    node_convexify: bool = False
    node_fw_iterations: tuple = (20, 5, 60)


DEFAULT_SETTINGS = Settings()
