"""Tuning of the Frank-Wolfe branch-and-bound, grouped and documented once (after Boscia.jl's settings):
defaults are the measured choices; ``solve_fw_bnb`` takes them as options (``node_convexify``, ``sdp_fixing``)."""
from __future__ import annotations

from dataclasses import dataclass


NODE_SDP_SOLVERS = ("auto", "barrier", "ipm")  # node SDPs: warm-started barrier, cold primal-dual; auto: by groups
NODE_POINTS = ("sdp", "fw")  # what a node branches on and rounds: its SDP's primal point, or a FW run's point
BOUND_MARGIN = 1e-9  # absolute slack on the (unit-scaled) row bounds: rounding safety


@dataclass(frozen=True)
class Settings:
    """node_sdp_tolerance: relative barrier gap of node SDPs (their bounds are valid at any accuracy); with SDP
    fixing looser is faster: o_proj r504 n128 1e-3: 72 s / 4559 nodes, 1e-2: 45 s, 3e-2: 23 s / 1803 nodes,
    1e-1: 23 s; r181 3e-2: 124 s. Re-checked with the warm-start cap (``sdp.barrier.WARM_TAU_CAP``, session 20):
    3e-2 r181 24.0 s / r504 6.6 s; 1e-2 and 3e-3 slower (r181 open at 60 s).
    root_sdp_tolerance: the root's diagonal SDP (its QCR and first bound) with node SDPs on; with node_point "sdp"
    (session 21, in-process A/B alternating per row, 2-3 repeats; medians of per-row time ratios 1e-2 / 1e-4):
    n48 0.81-0.83, n64 0.83, n96 0.77, n128 0.79-0.81 (sum 18.9 -> 11.8 s; o_proj r181 16.0 -> 8.6 s, r504 2.2 ->
    2.3 s); 3e-2 about the same as 1e-2, 1e-3 0.91-0.92. In the harness (results/anchor-bench/root-1e-2) Gurobi /
    fw-bnb rose from 1.47 / 1.53 / 3.74 / 35.4 to 1.62 / 1.68 / 3.91 / 37.1 (n48 / 64 / 96 / 128), but at 600 s the
    hardest o_proj rows lost: n256 r504 open at 1.7 % (191 s at 1e-4), n192 r181 open at 3.5 % (2.0 % at 1e-4); the
    node's own convexification (node_convexify) did not repair it (n192 r504 40 -> 65 s). So the default stayed 1e-4
    in session 21. Session 22 (root by the primal-dual method, pseudocost branching) re-measured it in-process
    (medians of per-row time ratios 1e-2 / 1e-4, alternating): n48 0.74, n64 0.74, n96 0.69, n128 0.76 (2 repeats),
    n192 0.86, n256 0.95 (one, 600 s; sums 46.8 -> 53.4 s and 154.4 -> 164.1 s); every row proven either way, the hard
    o_proj rows within +-20 % (n192 r181 36.5 -> 32.5 s, n256 r504 53.6 -> 65.4 s). The typical row being faster at
    every width, the default is 1e-2 since session 22. Without node SDPs the root QCR is the only bound: always 1e-4.
    sdp_fixing: fix entries whose one-side child the node SDP's dual point bounds at the incumbent.
    rise_margin: fixing_increments' rises are shrunk by this factor before any fixing (rounding safety).
    node_convexify: FW at a node on the node SDP's convexification; measured: no clear gain (n64 sum
    10.3 -> 10.1 s; n128 o_proj: one slice better, one worse).
    node_fw_iterations: (a, b, cap): with node SDPs, FW iterations at a node = min(a + b * depth, cap) (FW only
    supplies a point); with dual fixing and 3e-2 node SDPs: o_proj n128 r504 24.2 -> 10.4 s, r181 89.5 -> 72.1 s
    vs (30, 10, none).
    node_point: "sdp" (default since session 21): a node whose SDP gave a primal point (``barrier.row_sdp_bound``'s
    ``primal``, e = diag of Z^-1 / tau) branches on it and rounds it, with no FW run; "fw": FW on the root's QCR
    objective from the parent's active set supplies the point (``node_fw_iterations``). The SDP point is a better
    point to branch on (fewer nodes) and costs one solve with Z's factor instead of ~50 FW iterations. In-process
    A/B on the SmolLM2 slices (session 21, alternating per row, 2 repeats, 2-core machine; medians of per-row
    time ratios sdp / fw): n48 0.90, n64 0.92, n96 0.84, n128 0.86 (n128 sum 27.3 -> 17.4 s); o_proj n128 r504
    6.1 -> 2.1 s, r181 20.6 -> 14.9 s (9.3 s with FW's point at the root only); o_proj n192 r504 104.6 -> 41.3 s
    (1778 -> 991 and 22217 -> 13286 nodes). Same optima everywhere.
    enumerate_max: a node with at most this many completions is closed by evaluating them all (``bnb.enumeration``;
    below the root before its SDP, and at any node after its SDP fixings). Session 23, in-process A/B against 0
    (never), alternating per row, 2 repeats, medians of per-row time ratios (512 / 2048 / 8192): n48 0.68 / 0.63 /
    0.62, n64 0.68 / 0.67 / 0.69; (2048 / 8192): n96 0.77 / 0.75, n128 0.85 / 0.81 (sum 7.67 -> 7.11 / 7.04 s).
    Same optima everywhere.
    node_sdp_solver: what solves a node's SDP: "barrier" (``sdp.barrier``, warm-started from the parent's point), "ipm"
    (``sdp.primal_dual``, cold, ~6-8 iterations) or "auto": the IPM on rows with more than one group (N:M), the
    barrier on one-group (per-row) rows. Measured node by node on the SmolLM2 slices (session 23, same reduced rows):
    at 2:4 (n48, 8-12 groups) the warm barrier took 34-146 Newton steps, 2.5-13 ms, the IPM 6-8 iterations, 1.0-2.0
    ms, to equal or higher bounds; per-row (n128 slices) the warm barrier took 7-24 steps, 0.6-2.2 ms, faster than the
    IPM on rows wider than ~50 free entries (IPM 1.5-3.3 ms there), slower below (IPM 0.9-1.2 ms).
    root_ascent_steps / root_ascent_share: up to root_ascent_steps Shor solves of DNN multiplier ascent at a row's root
    (``sdp.dnn_ascent``, within root_ascent_share of the row's time) look for multipliers N >= 0 of E >= 0; when they
    lift the root's bound, every node SDP bound of the row is the Shor bound of the multiplier objective
    (``Block.bound_Q``), valid under any fixings (e^T N e >= 0 on binaries). 0 or 1: never (the default). Session 25,
    per-row 50 %, one run each, same optima everywhere: with 40 steps the nodes fell on nearly every row at n = 192 and
    256 (n256 o_proj r504 11281 -> 4661, q_proj r387 7747 -> 4175), so the hardest n256 rows got faster (70 -> 35 s,
    60 -> 24 s; the set's sum 157 -> 108 s), but the steps cost ~3 s a row at n = 256 (~1 s at n = 192), so the
    median row was 3.4x slower at n256 and the n192 set's sum rose 38 -> 48 s; on o_proj n128 r181 (20 steps) nodes rose
    (557 -> 1362): at 74 % of the nodes visited there the plain Shor bound of Q was above the root multipliers'.
    Switching to the multipliers mid-tree (after 200 nodes) was worse still (n256 o_proj r504 open at 600 s, 112 691
    nodes): the root's N is weaker than Q's own Shor bound far from the root, and the root's DNN fixings are where
    the gain comes from.
    root_ascent_after / ascent_depth (session 26; the ascent now carries the cardinality products too): the ascent
    waits until the row's tree has root_ascent_after nodes and then restarts the tree from the root (easy rows never
    pay for it; the ascent aims at the incumbent found by then); nodes deeper than ascent_depth are bounded with the
    row's own Q (None: every node uses the multipliers). 2:4 n192, 40 steps, one run each with the machine shared by
    two 1 h benchmarks (so only the ratios hold): with the ascent first on every row the nodes fell on every row
    (q_proj r387 395 -> 41, o_proj r504 3243 -> 889 nodes, 30.1 -> 9.5 s) but o_proj r181 went from proven in 32 s to
    open at 120 s, and the set's sum rose 78.6 -> 148.1 s (the ascent's ~1.2 s on easy rows). After 300 nodes: the
    rows under 300 nodes are untouched, r181 45.1 -> 22.8 s (depth 0) / 28.7 s (None), r504 42.3 -> 24.3 / 14.8 s,
    but rows just over 300 nodes pay the restart (q_proj r387 4.2 -> 6.7-6.9 s); sums 111.1 -> 81.1 / 74.4 s, median
    ratio 1.10 / 1.04. Per-row n128 after 300: o_proj r181 2.6 -> 5.0 s, r504 1.6 -> 3.3 s (the multipliers hurt
    these rows, as above). Per-row, one run each, two such runs at once on the 2 cores (medians of per-row time
    ratios against off; sums): after 1000 nodes n192 0.995 (52.3 -> 41.5 s; o_proj r181 39.3 -> 28.6 s), n256 1.002
    (179.6 -> 159.1 s; q_proj r387 64.1 -> 41.4 s; up_proj r562 10.0 -> 15.5 s, the worst row), 2:4 n192 0.993
    (82.4 -> 75.1 s; o_proj r504 31.2 -> 22.7 s); after 300 nodes n192 1.064 (62.7 s), n256 1.024 (120.3 s: q_proj
    r387 22.4 s, o_proj r504 87.2 -> 57.7 s, but rows of 300-900 nodes ~1.7x slower). Rows of fewer than 1000 nodes
    (every n <= 128 slice per-row, and most others) never run the ascent. So the default since session 26 is 40 steps
    after 1000 nodes, every node of the restarted tree bounded with the multipliers (ascent_depth None)."""

    node_sdp_tolerance: float = 3e-2
    root_sdp_tolerance: float = 1e-2
    sdp_fixing: bool = True
    rise_margin: float = 1 - 1e-6
    node_convexify: bool = False
    node_fw_iterations: tuple = (20, 5, 60)
    node_point: str = "sdp"
    enumerate_max: int = 8192
    node_sdp_solver: str = "auto"
    root_ascent_steps: int = 40
    root_ascent_share: float = 0.25
    root_ascent_after: int = 1000
    ascent_depth: int | None = None


DEFAULT_SETTINGS = Settings()
