"""The method registry: one ``MethodSpec`` per method, from which every name set is derived.

A solve function takes (problem: LayerProblem, *, time_limit, seed, **options) and returns a
``MethodAnswer``. A spec says what the method is (``exact``: its "optimal" is a claim of proof; the
objectives and pattern kinds it takes; ``device``: it takes ``device=``; ``in_default_bench``: run when
``bench run`` names no solvers), its options (``solvers.options.Option``, declared once, validated by
``check_options`` before the method runs) and a ``preset``: fixed options that make a named variant
("fw-polish" is fw with polish=True). ``METHODS`` (name -> solve function with its preset) and the
name sets ``EXACT_METHODS``, ``DEVICE_METHODS``, ``MASK_ONLY_METHODS``, ``DEFAULT_EXCLUDED`` are read
from ``SPECS``; ``register(spec)`` adds a method at run time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from .certify import DNN_MAX_N, WIDE_DNN_SOLVERS, solve_certify
from .core.bandits import DISCOUNT, POLICIES
from .exact.bnb.branching import BRANCHINGS
from .exact.bnb.settings import DEFAULT_SETTINGS, NODE_POINTS, NODE_SDP_SOLVERS
from .exact.bnb.solve import solve_fw_bnb
from .exact.brute_force import DEFAULT_MAX_MASKS, solve_brute_force
from .exact.gurobi import solve_gurobi
from .exact.mip import BANDITS, FORMULATIONS, solve_mip
from .heuristics.lns.search import DEFAULT_BANDIT as LNS_BANDIT
from .heuristics.lns.solve import METHOD_STARTS, solve_lns
from .heuristics.scores import WARM_START_SCORES, solve_magnitude, solve_ria, solve_wanda
from .heuristics.sparsegpt import QUOTAS as SPARSEGPT_QUOTAS
from .heuristics.sparsegpt import solve_sparsegpt
from .heuristics.sparseswaps import solve_sparseswaps
from .options import Option, choice, positive_int, validate_options
from .relaxation.certificate import BM_ROUNDS, CERTIFY_SOLVERS, STRENGTHENINGS
from .relaxation.fw_engine import VARIANTS
from .relaxation.sparsefw import solve_fw
from .sdp.dnn_ascent import STEPS as DNN_ASCENT_STEPS
from .sdp.dnn_multipliers import ADMM_ITERATIONS
from .sdp.qcr import QCR_METHODS, SDP_MAX_N

ALL_OBJECTIVES = ("mask", "reconstruct")
ALL_PATTERNS = ("per-row", "per-layer", "N:M")


@dataclass(frozen=True)
class MethodSpec:
    """A registered method (module docstring)."""

    name: str
    solve: Callable
    exact: bool = False
    objectives: tuple = ALL_OBJECTIVES
    patterns: tuple = ALL_PATTERNS
    device: bool = False
    in_default_bench: bool = True
    options: dict = field(default_factory=dict)
    preset: dict = field(default_factory=dict)
    doc: str = ""
    origin: str = "built-in"  # or "entry point <dist>" / "import <module:name>" (solvers.plugins)
    requires: str = ""  # an optional package the method imports (``available`` says whether it is installed)

    def takes(self, pattern_kind: str, objective: str) -> bool:
        """Whether the method solves this pattern kind ("per-row", "per-layer", "N:M") and objective."""
        return pattern_kind in self.patterns and objective in self.objectives

    @property
    def available(self) -> bool:
        import importlib.util

        return not self.requires or importlib.util.find_spec(self.requires) is not None

    def run(self, problem, *, time_limit=None, seed=0, **options):
        """Solve with this spec's preset, overridden by ``options`` (validated first)."""
        return self.solve(problem, time_limit=time_limit, seed=seed, **(self.preset | self.check(options)))

    def check(self, options: dict) -> dict:
        return validate_options(self.name, self.options, options)

    def variant(self, name: str, doc: str = "", *, in_default_bench: bool = False, exact: bool | None = None,
                **preset) -> "MethodSpec":
        """A preset of this method under another name."""
        bad = set(preset) - set(self.options)
        if bad:
            raise ValueError(f"preset {name!r}: {self.name} has no option {', '.join(sorted(bad))}")
        return MethodSpec(name, self.solve, self.exact if exact is None else exact, self.objectives, self.patterns,
                          self.device, in_default_bench, self.options, self.preset | self.check(preset), doc,
                          self.origin, self.requires)


def _warm_start(default: str, sparseswaps: bool = False, methods: tuple = ()) -> Option:
    names = tuple(WARM_START_SCORES) + (("sparseswaps",) if sparseswaps else ()) + methods
    return Option("warm-start", default, "start mask: " + ", ".join(names) + " or a feasible mask array",
                  choices=names)


DEVICE = Option("device", None, "run the iterations with torch on this device (None: numpy on the CPU)")
NODE_LIMIT = positive_int("branch-and-bound nodes before stopping (None: no limit)", None, none_ok=True)
SDP_N = Option("int", SDP_MAX_N, "rows up to this width get the full Shor SDP's QCR (auto)", low=0)

FW_OPTIONS = {
    "alpha": Option("float", 0.9, "share of every group's budget fixed to the top Wanda weights", low=0, high=1,
                    open_high=True),
    "warm_start": _warm_start("wanda"),
    "variant": choice("Frank-Wolfe variant", "line-search", VARIANTS),
    "max_iterations": positive_int("FW iterations of the heuristic run", 200),
    "polish": Option("bool", False, "refine the rounded mask with SparseSwaps"),
    "certify": Option("bool", True, "compute a certified lower bound"),
    "strengthen": choice("diagonal strengthening of the certificate's relaxation", "diag-scaled", STRENGTHENINGS),
    "certify_iterations": positive_int("FW iterations of the certificate", 200),
    "certify_rounds": Option("int", BM_ROUNDS, "saddle rounds of diag-bm / row-sdp", low=0),
    "certify_solver": choice("solver of the certificate's relaxation", "auto", CERTIFY_SOLVERS),
    "device": DEVICE,
}
FW_BNB_OPTIONS = {
    "warm_start": _warm_start("sparseswaps", sparseswaps=True),
    "node_limit": NODE_LIMIT,
    "gap_limit": Option("float", 1e-6, "relative gap at which a block counts as solved", low=0),
    "bandit": choice("bandit choosing the node heuristics", "ucb", POLICIES),
    "dive_every": positive_int("a depth-first dive every this many nodes", 5),
    "qcr": choice("root convexification", "diag", QCR_METHODS),
    "sdp_max_n": SDP_N,
    "branching": choice("branching rule", "pseudocost", BRANCHINGS),
    "node_sdp": Option("bool", True, "diagonal SDP bound at every node"),
    "node_convexify": Option("bool", False, "FW at a node on the node SDP's convexification (exact.bnb.settings)"),
    "sdp_fixing": Option("bool", True, "fix entries by the node SDP's dual point (exact.bnb.settings)"),
    "node_point": choice("what a node branches on and rounds: its SDP's primal point or a FW run's",
                         DEFAULT_SETTINGS.node_point, NODE_POINTS),
    "enumerate_max": Option("int", DEFAULT_SETTINGS.enumerate_max,
                            "close a node by evaluating all its completions when it has at most this many (0: never)",
                            low=0),
    "node_sdp_solver": choice("node SDP solver: warm barrier, cold primal-dual, or auto (primal-dual on N:M rows)",
                              DEFAULT_SETTINGS.node_sdp_solver, NODE_SDP_SOLVERS),
    "root_ascent_steps": Option("int", DEFAULT_SETTINGS.root_ascent_steps,
                                "Shor solves of DNN multiplier ascent at a row's root; its multipliers then lift "
                                "every node bound of the row (0: never; exact.bnb.settings)", low=0),
    "root_ascent_after": Option("int", DEFAULT_SETTINGS.root_ascent_after,
                                "nodes of a row's tree before its root ascent, which then restarts the tree (0: first)",
                                low=0),
    "ascent_depth": Option("int", DEFAULT_SETTINGS.ascent_depth,
                           "deepest node bounded with the root ascent's multipliers (None: all; deeper: the row's Q)",
                           low=0, none_ok=True),
}
LNS_OPTIONS = {
    "warm_start": _warm_start("sparseswaps", sparseswaps=True, methods=METHOD_STARTS),
    "bandit": choice("bandit choosing neighbourhood and size", LNS_BANDIT, POLICIES),
    "discount": Option("float", None, f"thompson-discounted's forgetting factor per call (None: {DISCOUNT})", low=0,
                       open_low=True, high=1, none_ok=True),
    "min_size": Option("int", 16, "smallest free set (sizes double up to max_size)", low=2),
    "max_size": Option("int", 64, "largest free set", low=2),
    "sub_time": Option("float", 0.5, "seconds per fw-bnb sub-solve", low=0, open_low=True),
    "sub_nodes": positive_int("nodes per fw-bnb sub-solve", 200),
    "patience": positive_int("failed sub-problems in a row that settle a row", 12),
    "max_calls": positive_int("sub-problems per worker (None: until the time limit or all rows settle)", None,
                              none_ok=True),
    "workers": positive_int("processes, one BLAS thread each (None: the usable cores)", None, none_ok=True),
    "row_bounds": Option("any", None, "lower bounds per row (d_out numbers): search the largest gaps first"),
    "deterministic": Option("bool", False, "rewards by a work model, not seconds: a seed fixes the run"),
    "work_limit": Option("float", None, "deterministic only: stop at this much work per worker (nominal seconds)",
                         low=0, open_low=True, none_ok=True),
}
MIP_OPTIONS = {
    "formulation": choice("model of the quadratic objective", "qcr", FORMULATIONS),
    "warm_start": _warm_start("sparseswaps", sparseswaps=True),
    "node_limit": NODE_LIMIT,
    "gap_limit": Option("float", None, "SCIP's relative gap limit", low=0, none_ok=True),
    "threads": positive_int("SCIP's LP threads", 1),
    "scheduler": choice("SCIP heuristic scheduler's bandit", None, BANDITS, none_ok=True),
    "alns_bandit": choice("SCIP ALNS bandit", None, BANDITS, none_ok=True),
    "qcr": choice("root convexification", "auto", QCR_METHODS),
    "sdp_max_n": SDP_N,
    "verbose": Option("bool", False, "print SCIP's log"),
}

_fw = MethodSpec("fw", solve_fw, device=True, options=FW_OPTIONS,
                 doc="SparseFW: Frank-Wolfe on the relaxed mask, rounded; certified lower bound")
_fw_bnb = MethodSpec("fw-bnb", solve_fw_bnb, exact=True, objectives=("mask",), options=FW_BNB_OPTIONS,
                     doc="Boscia-style Frank-Wolfe branch-and-bound on the QCR objective")
_lns = MethodSpec("lns", solve_lns, objectives=("mask",), in_default_bench=False, options=LNS_OPTIONS,
                  doc="large-neighbourhood search: free sets of a row re-solved exactly, chosen by a bandit")
_mip = MethodSpec("mip", solve_mip, exact=True, options=MIP_OPTIONS, doc="exact MIP through SCIP")

SPECS: dict[str, MethodSpec] = {}
METHODS: dict[str, Callable] = {}
# Name sets read from the specs (plain sets: other modules and tools read them); ``register`` keeps them current.
EXACT_METHODS: set[str] = set()
DEVICE_METHODS: set[str] = set()
MASK_ONLY_METHODS: set[str] = set()
DEFAULT_EXCLUDED: set[str] = set()


def register(spec: MethodSpec) -> MethodSpec:
    """Add (or replace) a method; it is then callable by name everywhere (solve_layer, bench run)."""
    if not isinstance(spec, MethodSpec):
        raise ValueError(f"register takes a MethodSpec; got {type(spec).__name__}")
    SPECS[spec.name] = spec
    METHODS[spec.name] = partial(spec.run)
    for names, member in ((EXACT_METHODS, spec.exact), (DEVICE_METHODS, spec.device),
                          (MASK_ONLY_METHODS, spec.objectives == ("mask",)), (DEFAULT_EXCLUDED, not spec.in_default_bench)):
        names.add(spec.name) if member else names.discard(spec.name)
    return spec


def unregister(name: str) -> MethodSpec:
    """Remove a method added by ``register`` (and from every name set); returns its spec."""
    spec = spec_of(name)
    del SPECS[name]
    METHODS.pop(name, None)
    for names in (EXACT_METHODS, DEVICE_METHODS, MASK_ONLY_METHODS, DEFAULT_EXCLUDED):
        names.discard(name)
    return spec


def solve_exact(problem, **options):
    """Dispatch to the faster exact method for this pattern and objective (``EXACT_CHOICE``)."""
    method = EXACT_CHOICE.get((problem.pattern.kind, problem.objective), "mip")
    answer = SPECS[method].run(problem, **options)
    answer.info["exact_method"] = method
    return answer


# "exact": the faster proven method per (pattern kind, objective), from measured medians on the real
# SmolLM2 slices (results/mip-bench, issue notes). With node SDP bounds fw-bnb proves the per-row
# n = 48 / 64 / 96 slices in a median 0.043 / 0.061 / 0.115 s vs SCIP's 1.09 / 2.11 / 12.1 s, and 2:4 rows (n = 48) in
# 0.1-0.6 s vs 3-8 s; per-layer stays with SCIP (fw-bnb takes at most 256 weights there) and so does
# the reconstruct objective (fw-bnb is mask-only).
EXACT_CHOICE = {("per-row", "mask"): "fw-bnb", ("N:M", "mask"): "fw-bnb", ("per-layer", "mask"): "mip"}


class _ExactSpec(MethodSpec):
    """``exact`` takes the options of the method it dispatches to; they are checked there."""

    def check(self, options: dict) -> dict:
        known = set(FW_BNB_OPTIONS) | set(MIP_OPTIONS)
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"method 'exact' has no option {', '.join(map(repr, unknown))}; it takes the options "
                             f"of fw-bnb ({', '.join(sorted(FW_BNB_OPTIONS))}) or mip ({', '.join(sorted(MIP_OPTIONS))})")
        return options


for _spec in [
    MethodSpec("magnitude", solve_magnitude, doc="keep the largest |W_ij| in every group"),
    MethodSpec("wanda", solve_wanda, doc="keep the largest |W_ij| ||X_j|| (Sun et al. 2023)"),
    MethodSpec("ria", solve_ria, options={
        "power": Option("float", 0.5, "exponent of ||X_j||", low=0),
        "row_abs_sums": Option("vector", None, "the full module's sum_k |W_ik| per row (default: W's)", none_ok=True),
        "col_abs_sums": Option("vector", None, "the full module's sum_k |W_kj| per column (default: W's)",
                               none_ok=True)},
               doc="relative importance x ||X_j||^0.5 (Zhang et al. 2024); per row = the reference's --per_outneuron mode (its default is one per-layer threshold); ties prune the lower index, as the references do"),
    MethodSpec("sparsegpt", solve_sparsegpt, options={
        "blocksize": positive_int("lazy update block width", 128),
        "quota": choice("per-row budget: across blocks by a carried threshold (row) or a share per block", "row",
                        SPARSEGPT_QUOTAS)},
               doc="OBS greedy with lazy 128-column blocks (Frantar & Alistarh 2023)"),
    MethodSpec("sparseswaps", solve_sparseswaps, device=True, options={
        "warm_start": _warm_start("wanda"), "max_iters": positive_int("swap passes", 100_000),
        "chunk_rows": positive_int("rows per pass (None: by memory)", None, none_ok=True), "device": DEVICE},
        doc="best-improvement 1-swaps within each group from a warm start"),
    _fw,
    _fw.variant("fw-polish", "fw + SparseSwaps polish", in_default_bench=True, polish=True),
    _fw.variant("fw-bm", "fw with the saddle-point diagonal bound (diag-bm)", strengthen="diag-bm", variant="bpcg"),
    _fw.variant("fw-sdp", "fw with per-row diagonal Shor SDP bounds", strengthen="row-sdp", variant="bpcg"),
    _lns,
    _lns.variant("lns-round-robin", "lns, neighbourhoods in turn", bandit="round-robin"),
    _fw_bnb,
    _fw_bnb.variant("fw-bnb-round-robin", "fw-bnb, heuristics in turn", bandit="round-robin"),
    _fw_bnb.variant("fw-bnb-pseudocost", "fw-bnb, pseudocost branching (the default since session 22)",
                    branching="pseudocost"),
    _fw_bnb.variant("fw-bnb-most-fractional", "fw-bnb, most-fractional branching (the default until session 22)",
                    branching="most-fractional"),
    _fw_bnb.variant("fw-bnb-root-only", "fw-bnb without node SDPs", node_sdp=False, qcr="auto"),
    MethodSpec("brute-force", solve_brute_force, exact=True, in_default_bench=False,
               options={"max_masks": positive_int("largest enumeration allowed", DEFAULT_MAX_MASKS)},
               doc="enumeration, for tiny instances and reference optima"),
    _mip,
    _mip.variant("mip-factor", "mip, factor form without QCR", formulation="factor"),
    _mip.variant("mip-plain", "mip, one quadratic constraint", formulation="plain"),
    _mip.variant("mip-diag", "mip with fw-bnb's root convexification (diagonal SDP)", qcr="diag"),
    _mip.variant("mip-scheduler", "mip with SCIP's bandit heuristic scheduler", scheduler="i"),
    *(_mip.variant(f"mip-alns-{a}", f"mip, ALNS bandit {a}", alns_bandit=a) for a in ("u", "e", "g", "i")),
    MethodSpec("gurobi", solve_gurobi, exact=True, objectives=("mask",), patterns=("per-row", "N:M"),
               in_default_bench=False, requires="gurobipy", options={
                   "warm_start": _warm_start("sparseswaps", sparseswaps=True),
                   "threads": positive_int("Gurobi's threads", 1),
                   "gap_limit": Option("float", 1e-6, "relative gap at which a row counts as solved", low=0)},
               doc="exact row MIQPs through Gurobi (optional extra 'anchors'; size-limited licence: n <= 192)"),
    MethodSpec("certify", solve_certify, device=True, objectives=("mask",), patterns=("per-row", "N:M"), in_default_bench=False,
               options={
                   "dnn": Option("bool", True, "DNN row bounds on the largest gaps after the Shor rows and lns"),
                   "dnn_max_n": Option("int", DNN_MAX_N, "widest row whose DNN bound is by eigenvalue-corrected ADMM "
                                       "(wider: by wide_dnn; 0: none)", low=0),
                   "wide_dnn": Option("str", "multipliers", "DNN bound of wider rows: ADMM's multipliers certified by "
                                      "a Shor solve, or ascent", choices=tuple(WIDE_DNN_SOLVERS)),
                   "admm_iterations": positive_int("ADMM iterations per wide DNN row at most (wide_dnn multipliers)",
                                                   ADMM_ITERATIONS),
                   "dnn_rows": positive_int("rows that get a DNN solve at most (None: as time allows)", None,
                                            none_ok=True),
                   "dnn_iterations": positive_int("ADMM steps per DNN row at most", 3000),
                   "ascent_steps": positive_int("Shor solves per DNN ascent row at most (and one final re-solve)",
                                                DNN_ASCENT_STEPS),
                   "search": Option("bool", True, "improve the SparseSwaps mask by lns, largest row gaps first"),
                   "workers": positive_int("processes for rows and lns (None: the usable cores)", None, none_ok=True),
                   "device": DEVICE},
               doc="best mask found (SparseSwaps, the relaxations' rounded points, lns) and the strongest certified bound "
                   "per row: FW saddle, diagonal Shor SDP, DNN relaxation (ADMM; wider rows: ADMM's multipliers "
                   "certified by a Shor solve, or ascent); info says which won per row"),
    _ExactSpec("exact", solve_exact, exact=True, in_default_bench=False,
               doc="the faster exact method for the pattern and objective"),
]:
    register(_spec)


def spec_of(method: str) -> MethodSpec:
    """The spec of a registered method; ValueError naming the known ones otherwise."""
    if method not in SPECS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(sorted(SPECS))}")
    return SPECS[method]
