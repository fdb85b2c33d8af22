"""FW branch-and-bound: stored optima, brute force, valid bounds under limits, bandits."""
import numpy as np
import pytest

from instances import load_references
from instances.reference import setting_key
from instances.sets import tiny_cases
from instances.synthetic import synthetic_layer
from solvers import solve_layer
from solvers.core.bandits import POLICIES, Bandit
from solvers.core.objective import is_feasible
from solvers.core.patterns import make_pattern

REFS = load_references("tiny")
CASES = [(p.name, p, pattern, sparsity) for p, pattern, sparsity in tiny_cases()]


@pytest.mark.parametrize("name, problem, pattern, sparsity", CASES, ids=[f"{c[0]}-{c[2]}-{c[3]}" for c in CASES])
def test_fw_bnb_reproduces_stored_optima(name, problem, pattern, sparsity):
    optimum = REFS.get(name, setting_key(pattern, sparsity), "mask").opt
    r = solve_layer(problem.W, problem.H, sparsity, pattern, "fw-bnb", warm_start="magnitude")
    assert r.status == "optimal"
    assert r.objective == pytest.approx(optimum, rel=1e-9)
    assert optimum * (1 - 1e-6) <= r.lower_bound <= optimum * (1 + 1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_fw_bnb_agrees_with_brute_force_and_mip(seed):
    W, H = synthetic_layer(2, 16, seed=seed)
    optimum = solve_layer(W, H, 0.5, "per-row", "brute-force").objective
    r = solve_layer(W, H, 0.5, "per-row", "fw-bnb", warm_start="magnitude")
    assert r.status == "optimal" and r.objective == pytest.approx(optimum, rel=1e-9)
    mip = solve_layer(W, H, 0.5, "per-row", "mip")
    assert mip.objective == pytest.approx(r.objective, rel=1e-7)


@pytest.mark.parametrize("seed", [*range(4, 12), 38])  # 38: wrong claim under the old stale-bound tightening
@pytest.mark.parametrize("pattern", ["per-row", "2:4"])
@pytest.mark.parametrize("method, options", [("fw-bnb", {}), ("fw-bnb", {"enumerate_max": 0}),
                                             ("fw-bnb-most-fractional", {"enumerate_max": 0})],
                         ids=["fw-bnb", "fw-bnb-no-enumeration", "most-fractional-no-enumeration"])
def test_fw_bnb_never_claims_a_wrong_optimum(seed, pattern, method, options):
    """Many small random rows, bad warm starts: every "optimal" claim must equal brute force and
    every bound must lie below it (guards the dual tightening, which once used a stale bound). Without
    enumeration of small nodes these rows are solved by branching alone."""
    W, H = synthetic_layer(2, 16, seed=seed, outliers=seed % 3)
    exact = solve_layer(W, H, 0.5, pattern, "brute-force")
    r = solve_layer(W, H, 0.5, pattern, method, warm_start="magnitude", **options)
    assert r.status == "optimal" and r.objective == pytest.approx(exact.objective, rel=1e-9, abs=1e-12)
    assert r.lower_bound <= exact.objective * (1 + 1e-9)


def test_node_limit_returns_feasible_mask_and_valid_bound():
    W, H = synthetic_layer(1, 20, seed=3, outliers=3)
    optimum = solve_layer(W, H, 0.5, "per-row", "brute-force").objective
    r = solve_layer(W, H, 0.5, "per-row", "fw-bnb", node_limit=1, warm_start="magnitude", qcr="min-eig")
    assert is_feasible(r.mask, make_pattern("per-row", W.shape, 0.5))
    assert r.lower_bound <= optimum * (1 + 1e-9) and optimum <= r.objective * (1 + 1e-9)
    timed = solve_layer(W, H, 0.5, "per-row", "fw-bnb", time_limit=0.01, warm_start="magnitude")
    assert timed.lower_bound <= optimum * (1 + 1e-9) and optimum <= timed.objective * (1 + 1e-9)


@pytest.mark.parametrize("policy", POLICIES)
def test_every_bandit_policy_solves_and_reports(policy):
    W, H = synthetic_layer(2, 12, seed=5)
    optimum = solve_layer(W, H, 0.5, "per-row", "brute-force").objective
    r = solve_layer(W, H, 0.5, "per-row", "fw-bnb", bandit=policy, warm_start="magnitude", enumerate_max=0)
    assert r.objective == pytest.approx(optimum, rel=1e-9)
    # one heuristic call per node that ran FW (nodes closed by their SDP bound alone run none)
    assert sum(r.info["heuristic_calls"].values()) == r.info["nodes"] - r.info["sdp_pruned"] > 0
    enumerating = solve_layer(W, H, 0.5, "per-row", "fw-bnb", bandit=policy, warm_start="magnitude")
    assert enumerating.objective == pytest.approx(optimum, rel=1e-9)
    assert sum(enumerating.info["heuristic_calls"].values()) == \
        enumerating.info["nodes"] - enumerating.info["sdp_pruned"] - enumerating.info["enumerated"]
    assert set(r.info["bandit_weights"]) == set(r.info["heuristic_calls"])


def test_bandit_prefers_rewarding_arm():
    bandit = Bandit(3, "ucb", seed=0)
    for _ in range(300):
        arm = bandit.choose()
        bandit.update(arm, 0.9 if arm == 2 else 0.1)
    assert bandit.counts[2] > 200
    with pytest.raises(ValueError, match="bandit policy"):
        Bandit(3, "thompsen")


def test_thompson_stops_playing_arms_that_never_pay_when_all_rewards_are_small():
    """lns' rewards are mostly 0: UCB1's bonus (scale 1) keeps every arm in play, Thompson's posterior does not."""
    plays = {}
    for policy in ("ucb", "thompson"):
        bandit = Bandit(4, policy, seed=1)
        rng = np.random.default_rng(0)
        for _ in range(2000):
            arm = bandit.choose()
            bandit.update(arm, 0.6 if arm == 0 and rng.random() < 0.2 else 0.0)  # arm 0 pays 0.12 on average, others 0
        plays[policy] = bandit.counts[0] / bandit.counts.sum()
    assert plays["thompson"] > 0.8 > plays["ucb"]


def test_discounted_thompson_returns_to_an_arm_once_the_leader_stops_paying():
    """Half-way the paying arm changes (rows settle in lns): the undiscounted posterior keeps its memory of the
    old leader, the discounted one forgets it within a few hundred calls."""
    late = {}
    for policy in ("thompson", "thompson-discounted"):
        bandit, rng, plays = Bandit(2, policy, seed=0), np.random.default_rng(0), []
        for t in range(2000):
            arm = bandit.choose()
            bandit.update(arm, 0.5 if arm == (t >= 1000) and rng.random() < 0.5 else 0.0)
            plays += [arm] if t >= 1000 else []
        late[policy] = np.mean(plays)
        assert len(bandit.weights()) == 2 and all(0 < w < 1 for w in bandit.weights())
    assert late["thompson-discounted"] > 0.8 > late["thompson"]


def test_budgeted_thompson_prefers_the_arm_with_more_reward_per_cost():
    """Arm 0 pays more per call but costs 9x as much: plain Thompson plays it, the budgeted posterior (reward
    draw / cost draw) plays the cheap arm 1, which pays more per unit of cost; without costs it is Thompson."""
    share = {}
    for policy, costed in (("thompson", True), ("thompson-budgeted", True), ("thompson-budgeted", False)):
        bandit, rng = Bandit(2, policy, seed=0), np.random.default_rng(0)
        for _ in range(2000):
            arm = bandit.choose()
            paid = rng.random() < (0.5 if arm == 0 else 0.3)
            bandit.update(arm, 0.6 if paid else 0.0, (0.9 if arm == 0 else 0.1) if costed else None)
        share[policy, costed] = bandit.counts[1] / bandit.counts.sum()
    assert share["thompson-budgeted", True] > 0.8 and share["thompson", True] < 0.2
    assert share["thompson-budgeted", False] < 0.2


def test_pseudocost_branching_solves_with_branching_and_reports_it():
    W, H = synthetic_layer(1, 24, seed=7, outliers=2)
    exact = solve_layer(W, H, 0.5, "per-row", "mip")
    r = solve_layer(W, H, 0.5, "per-row", "fw-bnb", branching="pseudocost", warm_start="magnitude", qcr="min-eig")
    assert r.status == "optimal" and r.objective == pytest.approx(exact.objective, rel=1e-7)
    assert r.info["branching"] == "pseudocost" and r.info["nodes"] > 1
    with pytest.raises(ValueError, match="branching"):
        solve_layer(W, H, 0.5, "per-row", "fw-bnb", branching="random")


def test_fw_bnb_rejects_what_it_cannot_solve():
    W, H = synthetic_layer(4, 80, seed=0)
    with pytest.raises(ValueError, match="reconstruct"):
        solve_layer(W, H, 0.5, "per-row", "fw-bnb", objective="reconstruct")
    with pytest.raises(ValueError, match="per-layer"):
        solve_layer(W, H, 0.5, "per-layer", "fw-bnb")


def test_exact_dispatches_to_the_faster_method_and_is_optimal():
    W, H = synthetic_layer(2, 8, seed=1)
    optimum = solve_layer(W, H, 0.5, "per-row", "brute-force").objective
    answer = solve_layer(W, H, 0.5, "per-row", "exact")
    assert answer.info["exact_method"] == "fw-bnb" and answer.status == "optimal"
    assert answer.objective == pytest.approx(optimum, rel=1e-9)
    assert solve_layer(W, H, 0.5, "per-row", "exact", objective="reconstruct").info["exact_method"] == "mip"


@pytest.mark.parametrize("groups", [None, "2:4"])
def test_node_objective_is_exact_on_binaries_and_convex_on_the_face(groups, monkeypatch):
    """The node's convexification (node SDP multipliers s on free entries) equals e^T Q e on every
    binary e of the node's face and is convex there (Q_FF - diag s_F positive semidefinite)."""
    import itertools

    from solvers.exact.bnb.node import Block
    from solvers.exact.bnb.settings import Settings
    from solvers.exact.bnb.solve import _node_objective
    from solvers.sdp.barrier import fixed_row_bound

    W, H = synthetic_layer(1, 8, seed=3)
    Q = np.outer(W[0], W[0]) * H
    col_groups = [np.arange(8)] if groups is None else [np.arange(0, 4), np.arange(4, 8)]
    counts = 4 if groups is None else 2
    keep, prune = np.zeros(8, bool), np.zeros(8, bool)
    keep[1], prune[2] = True, True
    _, warm = fixed_row_bound(Q, col_groups, counts, keep, prune)
    block = Block(Q * 0, np.zeros((1, 8)), None, None, None, None, Q, col_groups, settings=Settings(node_convexify=True))
    Q_node, c_node = _node_objective(block, warm)
    free = ~(keep | prune)
    assert np.linalg.eigvalsh(Q_node[np.ix_(free, free)])[0] >= -1e-12
    for bits in itertools.product([0.0, 1.0], repeat=int(free.sum())):
        e = prune.astype(float)
        e[free] = bits
        assert e @ Q_node @ e + c_node[0] @ e == pytest.approx(e @ Q @ e, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_fw_bnb_with_node_convexification_agrees_with_brute_force(seed):
    W, H = synthetic_layer(2, 16, seed=seed)
    for pattern, sparsity in (("per-row", 0.5), ("2:4", None)):
        optimum = solve_layer(W, H, sparsity, pattern, "brute-force").objective
        r = solve_layer(W, H, sparsity, pattern, "fw-bnb", warm_start="magnitude", node_convexify=True)
        assert r.status == "optimal" and r.objective == pytest.approx(optimum, rel=1e-9)
        assert r.lower_bound <= optimum * (1 + 1e-9)


@pytest.mark.parametrize("seed", range(4, 8))
@pytest.mark.parametrize("pattern", ["per-row", "2:4"])
def test_fw_bnb_branching_on_the_node_sdp_point_or_a_fw_point_finds_the_brute_force_optimum(seed, pattern):
    """node_point="sdp" (nodes branch on and round their SDP's primal point, no FW run) and "fw" both prove the
    brute-force optimum; node-limited runs of either keep a valid bound."""
    W, H = synthetic_layer(2, 16, seed=seed, outliers=seed % 3)
    exact = solve_layer(W, H, 0.5, pattern, "brute-force").objective
    for solver in ("barrier", "ipm"):  # node SDPs by either method, branching only (no enumeration)
        r = solve_layer(W, H, 0.5, pattern, "fw-bnb", warm_start="magnitude", node_sdp_solver=solver, enumerate_max=0)
        assert r.status == "optimal" and r.objective == pytest.approx(exact, rel=1e-9, abs=1e-12)
        assert r.lower_bound <= exact * (1 + 1e-9) and r.info["sdp_bounds"] > 0
    for node_point in ("sdp", "fw"):
        r = solve_layer(W, H, 0.5, pattern, "fw-bnb", warm_start="magnitude", node_point=node_point)
        assert r.status == "optimal" and r.objective == pytest.approx(exact, rel=1e-9, abs=1e-12)
        assert r.lower_bound <= exact * (1 + 1e-9)
        limited = solve_layer(W, H, 0.5, pattern, "fw-bnb", warm_start="magnitude", node_point=node_point,
                              node_limit=2)
        assert is_feasible(limited.mask, make_pattern(pattern, W.shape, 0.5))
        assert limited.lower_bound <= exact * (1 + 1e-9) and limited.objective >= exact * (1 - 1e-9)


def test_fw_bnb_names_an_unknown_node_point():
    W, H = synthetic_layer(2, 16, seed=0)
    with pytest.raises(ValueError, match="node_point"):
        solve_layer(W, H, 0.5, "per-row", "fw-bnb", node_point="simplex")
    from solvers.core.problem import make_problem
    from solvers.exact.bnb.solve import solve_fw_bnb
    with pytest.raises(ValueError, match="node_point"):
        solve_fw_bnb(make_problem(W, H, sparsity=0.5, pattern="per-row"), node_point="simplex")


@pytest.mark.parametrize("free, keep", [(1, 0), (1, 1), (5, 2), (8, 4), (9, 9), (12, 5)])
def test_keep_choices_are_every_combination_once(free, keep):
    from itertools import combinations

    from solvers.exact.bnb.enumeration import keep_choices
    choices = keep_choices(free, keep)
    expected = {tuple(j in c for j in range(free)) for c in combinations(range(free), keep)}
    assert choices.shape == (len(expected), free) and {tuple(r) for r in choices.tolist()} == expected


@pytest.mark.parametrize("pattern", ["per-row", "2:4"])
def test_enumerated_nodes_give_the_brute_force_optimum(pattern):
    """Small nodes closed by enumeration (Settings.enumerate_max): every limit gives the brute-force optimum;
    the completions of a node are the product of its groups' choices, and a limit below that refuses."""
    from solvers.core.problem import make_problem
    from solvers.exact.bnb.blocks import row_block
    from solvers.exact.bnb.enumeration import completions
    W, H = synthetic_layer(2, 16, seed=5, outliers=1)
    exact = solve_layer(W, H, 0.5, pattern, "brute-force").objective
    for limit in (0, 16, 500, 100_000):
        r = solve_layer(W, H, 0.5, pattern, "fw-bnb", warm_start="magnitude", enumerate_max=limit)
        assert r.status == "optimal" and r.objective == pytest.approx(exact, rel=1e-9, abs=1e-12)
        assert r.lower_bound <= exact * (1 + 1e-9)
        if limit == 0:
            assert r.info["enumerated"] == 0
        if limit == 100_000:  # every root has fewer completions: closed there
            assert r.info["enumerated"] == r.info["nodes"] == 2
    problem = make_problem(W, H, sparsity=0.5, pattern=pattern)
    block = row_block(problem, np.ones(W.shape, dtype=bool) & (np.arange(16) % 2 == 0), 0, "min-eig", 0)[0]
    keep, prune = np.zeros((1, 16), dtype=bool), np.zeros((1, 16), dtype=bool)
    keep[0, 0], prune[0, 1] = True, True
    count = 2 * 6 ** 3 if pattern == "2:4" else 3432  # 2:4: C(2, 1) in group 0, C(4, 2) in 3 more; per-row C(14, 7)
    index, choices = completions(block, keep, prune, count)
    assert choices.shape == (count, 14) and len({tuple(r) for r in choices.tolist()}) == count
    assert set(index.tolist()) == set(range(2, 16))
    assert completions(block, keep, prune, count - 1) is None


@pytest.mark.parametrize("seed", range(4, 10))
@pytest.mark.parametrize("pattern", ["per-row", "2:4"])
@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
@pytest.mark.parametrize("after,depth", [(0, None), (0, 0), (3, 1)])
def test_fw_bnb_with_the_roots_dnn_multipliers_finds_the_brute_force_optimum(seed, pattern, scale, after, depth):
    """root_ascent_steps gives the rows the root's DNN multiplier objective for their node bounds (``dnn_rows``);
    branching alone (no enumeration) must still prove the brute-force optimum with a bound below it, at any scale,
    and a node-limited run keeps a valid bound; also with the multipliers only down to ``ascent_depth`` (the row's Q
    below) and with the ascent after ``root_ascent_after`` nodes (the tree then restarts)."""
    W, H = synthetic_layer(2, 16, seed=seed, outliers=seed % 3)
    W, H = W * scale, H * scale
    exact = solve_layer(W, H, 0.5, pattern, "brute-force").objective
    options = dict(warm_start="magnitude", root_ascent_steps=20, enumerate_max=0, root_ascent_after=after,
                   ascent_depth=depth)
    r = solve_layer(W, H, 0.5, pattern, "fw-bnb", **options)
    assert r.status == "optimal" and r.objective == pytest.approx(exact, rel=1e-9)
    assert r.lower_bound <= exact * (1 + 1e-9) and r.info["dnn_rows"] >= 1
    limited = solve_layer(W, H, 0.5, pattern, "fw-bnb", node_limit=2, **options)
    assert limited.lower_bound <= exact * (1 + 1e-9) and limited.objective >= exact * (1 - 1e-9)
    default = solve_layer(W, H, 0.5, pattern, "fw-bnb", warm_start="magnitude")
    assert default.info["nodes"] < 1000 and default.info["dnn_rows"] == 0  # the default waits for 1000 nodes
    off = solve_layer(W, H, 0.5, pattern, "fw-bnb", warm_start="magnitude", root_ascent_steps=0, root_ascent_after=0,
                      enumerate_max=0)
    assert off.info["dnn_rows"] == 0 and off.objective == pytest.approx(exact, rel=1e-9)


def test_fw_bnb_names_a_bad_root_ascent_option():
    W, H = synthetic_layer(2, 16, seed=0)
    for option in ({"root_ascent_steps": -1}, {"root_ascent_steps": "many"}, {"root_ascent_steps": 1.5},
                   {"root_ascent_after": -1}):
        with pytest.raises(ValueError, match="root_ascent"):
            solve_layer(W, H, 0.5, "per-row", "fw-bnb", **option)
    with pytest.raises(ValueError, match="ascent_depth"):
        solve_layer(W, H, 0.5, "per-row", "fw-bnb", ascent_depth=-2)
