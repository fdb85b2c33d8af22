"""The DNN row bound by ascent over the non-negativity multipliers (solvers.sdp.dnn_ascent): every bound <= the
brute-force optimum at every scale and for every N >= 0 (a deliberately bad one too), never below its own Shor step,
above Shor where Shor leaves a gap, and below the DNN relaxation it approaches (Clarabel); bad input."""
import numpy as np
import pytest
from conftest import ROW_CASES, random_row, row_optimum

from solvers.sdp import dnn_ascent
from solvers.sdp.primal_dual import row_sdp_bound_ipm


@pytest.mark.parametrize("step_tolerance", [dnn_ascent.STEP_TOLERANCE, dnn_ascent.FINAL_TOLERANCE])
@pytest.mark.parametrize("warm_steps", [True, False])
@pytest.mark.parametrize("scale", [1e-12, 1.0, 1e12])
@pytest.mark.parametrize("case", range(len(ROW_CASES)))
def test_the_ascent_bound_is_below_the_optimum_and_above_its_shor_step(case, scale, warm_steps, step_tolerance):
    """With each step's Shor solve warm-started from the previous step's (the default) or cold; loose steps with the
    final re-solve (the default) or every step at the final tolerance (fw-bnb's)."""
    n, counts, groups = ROW_CASES[case]
    Q = random_row(n, seed=case) * scale
    optimum = row_optimum(Q, counts, groups)
    result = dnn_ascent.row_dnn_ascent_bound(Q, counts, groups, warm_steps=warm_steps, step_tolerance=step_tolerance)
    assert result.shor <= result.bound <= optimum * (1 + 1e-9)
    assert 0 <= result.warm_kept <= (result.steps - 1 if warm_steps else 0)
    assert result.shor >= row_sdp_bound_ipm(Q, counts, groups, tolerance=1e-8).bound * (1 - 2e-2)
    assert result.upper >= optimum * (1 - 1e-12)  # the target is a mask's error


def test_the_ascent_closes_part_of_shors_gap():
    closed = []
    for seed in range(6):
        Q = random_row(12, seed=40 + seed)
        optimum = row_optimum(Q, [6], [np.arange(12)])
        result = dnn_ascent.row_dnn_ascent_bound(Q, 6, upper=optimum, max_steps=60)
        assert result.bound <= optimum * (1 + 1e-9)
        if result.shor < optimum * (1 - 1e-3):  # Shor leaves a gap on this row
            closed.append((result.bound - result.shor) / (optimum - result.shor))
    assert closed and np.median(closed) > 0.2


def test_the_ascent_stays_below_the_dnn_relaxation():
    cp = pytest.importorskip("cvxpy")
    from solvers.sdp.qcr import shor_problem

    for seed, n in ((0, 8), (1, 12)):
        Q = random_row(n, seed)
        for products in (True, False):  # the DNN relaxation with its cardinality products, and without
            problem = shor_problem(Q, n // 2, row_sums=products, nonnegative=True)[0]
            problem.solve(solver=cp.CLARABEL)
            ours = dnn_ascent.row_dnn_ascent_bound(Q, n // 2, max_steps=80, products=products)
            assert ours.shor <= ours.bound <= problem.value * (1 + 1e-6)
            if products:
                assert ours.bound >= ours.shor + 0.5 * (problem.value - ours.shor)  # most of the way there


@pytest.mark.parametrize("case", range(len(ROW_CASES)))
def test_any_nonnegative_multiplier_gives_a_valid_bound(case):
    """Random, large, asymmetric N >= 0 (nothing like an ascent iterate) and loose, early-stopped solves."""
    n, counts, groups = ROW_CASES[case]
    Q = random_row(n, seed=60 + case)
    optimum = row_optimum(Q, counts, groups)
    rng = np.random.default_rng(case)
    for size in (0.01, 1.0, 100.0):
        N = np.abs(rng.standard_normal((n, n))) * size * float(np.mean(np.abs(Q)))
        for tolerance in (1e-1, 1e-6):
            bound, X, _ = dnn_ascent.multiplier_bound(Q, N, counts, groups, tolerance=tolerance)
            assert bound <= optimum * (1 + 1e-9) and X is not None


@pytest.mark.parametrize("case", range(len(ROW_CASES)))
def test_any_product_multiplier_gives_a_valid_bound(case):
    """Random, large product multipliers mu of either sign (with and without N): the bound stays below the optimum and
    the objective is exact on every feasible binary row (the products vanish there)."""
    import itertools
    n, counts, groups = ROW_CASES[case]
    Q = random_row(n, seed=90 + case)
    optimum = row_optimum(Q, counts, groups)
    rng = np.random.default_rng(case)
    members = groups if groups is not None else [np.arange(n)]
    counts_ = np.atleast_1d(counts)
    for size in (0.01, 1.0, 100.0):
        mu = rng.standard_normal(n) * size * float(np.mean(np.abs(Q)))
        N = np.abs(rng.standard_normal((n, n))) * float(np.mean(np.abs(Q))) if size == 1.0 else np.zeros((n, n))
        matrix, linear = dnn_ascent.multiplier_objective(Q, np.zeros((n, n)), mu, counts, groups)
        for picked in itertools.islice(itertools.product(*(itertools.combinations(g, p)
                                                           for g, p in zip(members, counts_))), 20):
            e = np.zeros(n)
            e[[j for part in picked for j in part]] = 1.0
            assert e @ matrix @ e + 2 * linear @ e == pytest.approx(e @ Q @ e, rel=1e-9, abs=1e-9 * np.abs(Q).sum())
        for tolerance in (1e-1, 1e-6):
            bound, X, _ = dnn_ascent.multiplier_bound(Q, N, counts, groups, mu=mu, tolerance=tolerance)
            assert bound <= optimum * (1 + 1e-9) and X is not None


def test_the_products_lift_the_ascent_on_two_of_four_rows():
    """N:M rows, where the products E 1_g = p_g e are strong: with them the ascent closes more of Shor's gap."""
    closed = {True: [], False: []}
    for seed in range(6):
        Q = random_row(12, seed=140 + seed)
        groups = [np.arange(g, g + 4) for g in range(0, 12, 4)]
        optimum = row_optimum(Q, [2, 2, 2], groups)
        for products in (True, False):
            result = dnn_ascent.row_dnn_ascent_bound(Q, [2, 2, 2], groups, upper=optimum, max_steps=40,
                                                     products=products)
            assert result.bound <= optimum * (1 + 1e-9)
            if result.shor < optimum * (1 - 1e-3):
                closed[products].append((result.bound - result.shor) / (optimum - result.shor))
    assert closed[True] and np.median(closed[True]) > np.median(closed[False])


def test_a_time_limit_or_one_step_still_gives_a_valid_bound():
    n, counts, groups = ROW_CASES[0]
    Q = random_row(n, seed=7)
    optimum = row_optimum(Q, counts, groups)
    one = dnn_ascent.row_dnn_ascent_bound(Q, counts, groups, max_steps=1)
    assert one.steps == 1 and one.bound == one.shor <= optimum * (1 + 1e-9)
    quick = dnn_ascent.row_dnn_ascent_bound(Q, counts, groups, time_limit=1e-4)
    assert quick.bound <= optimum * (1 + 1e-9)


def test_groups_with_nothing_to_choose_and_a_zerorandom_row():
    Q = random_row(8, seed=9)
    groups = [np.arange(4), np.arange(4, 8)]
    result = dnn_ascent.row_dnn_ascent_bound(Q, [0, 2], groups)
    assert result.steps == 1 and result.bound <= row_optimum(Q, [0, 2], groups) * (1 + 1e-9)
    assert dnn_ascent.row_dnn_ascent_bound(np.zeros((6, 6)), 3).bound == 0.0


def test_bad_input_is_one_clear_error():
    Q = random_row(6, seed=1)
    with pytest.raises(ValueError, match="max_steps"):
        dnn_ascent.row_dnn_ascent_bound(Q, 3, max_steps=0)
    with pytest.raises(ValueError, match="non-negative"):
        dnn_ascent.multiplier_bound(Q, -np.ones((6, 6)), 3)
    with pytest.raises(ValueError, match="mu must be"):
        dnn_ascent.multiplier_bound(Q, np.zeros((6, 6)), 3, mu=np.full(6, np.nan))
    with pytest.raises(ValueError, match="prune_counts"):
        dnn_ascent.row_dnn_ascent_bound(Q, 7)
    for tolerance in (0.0, 1.0, float("nan"), "0.1"):
        with pytest.raises(ValueError, match="step_tolerance"):
            dnn_ascent.row_dnn_ascent_bound(Q, 3, step_tolerance=tolerance)


@pytest.mark.slow
def test_the_ascent_stays_below_the_stored_optima_of_the_real_256_wide_slices():
    """The 14 SmolLM2 layer-3 slices of width 256 (per-row 50 %) against their optima, proven by fw-bnb and
    cross-checked (results/fw-bench/slice-root-gaps-to-n256.json lists them with the records they came from)."""
    import json
    from pathlib import Path

    from instances.sets import load_set

    stored = json.loads((Path(__file__).parents[1] / "results/fw-bench/slice-root-gaps-to-n256.json").read_text())
    optima = {entry["instance"]: entry["optimum"] for entry in stored if entry["n"] == 256}
    checked, rises = 0, []
    for problem in load_set("smollm2-135m-l3-n256", progress=False):
        w = problem.W[0]
        Q = np.outer(w, w) * problem.H
        optimum = optima[problem.name]
        result = dnn_ascent.row_dnn_ascent_bound(Q, len(w) // 2, upper=optimum * 1.01)
        assert result.shor <= result.bound <= optimum * (1 + 1e-9)
        rises.append(result.bound / result.shor - 1.0)
        checked += 1
    assert checked == len(optima) == 14 and np.median(rises) > 0.005  # and it does rise above Shor on real rows


def _fixed_optimum(Q, counts, groups, keep, prune):
    """Brute force over the rows that respect the fixings (keep: e_j = 0, prune: e_j = 1)."""
    import itertools
    best = np.inf
    for picked in itertools.product(*(itertools.combinations(g, p) for g, p in zip(groups, counts))):
        e = np.zeros(len(Q), dtype=bool)
        e[[j for part in picked for j in part]] = True
        if not (e[keep].any() or (~e[prune]).any()):
            best = min(best, float(e @ Q @ e))
    return best


@pytest.mark.parametrize("case", range(len(ROW_CASES)))
def test_the_multiplier_objective_bounds_every_node_below_its_fixed_optimum(case):
    """fw-bnb's node bounds with the root's multipliers (``multiplier_objective`` through ``fixed_row_bound`` and
    ``fixing_increments`` with a linear term): below the brute-force optimum under fixings, for the ascent's N and a
    random one; with N = 0 the same as the plain node bound."""
    from solvers.sdp.barrier import fixed_row_bound, fixing_increments
    n, counts, groups = ROW_CASES[case]
    Q = random_row(n, seed=80 + case)
    rng = np.random.default_rng(case)
    ascent = dnn_ascent.row_dnn_ascent_bound(Q, counts, groups, max_steps=30)
    random_N = np.abs(rng.standard_normal((n, n))) * float(np.mean(np.abs(Q)))
    random_mu = rng.standard_normal(n) * float(np.mean(np.abs(Q))) * 10.0
    for N, mu in (ascent.multipliers or (None, None), (random_N, random_mu), (random_N, None), (np.zeros((n, n)), None)):
        if N is None:
            continue
        matrix, linear = dnn_ascent.multiplier_objective(Q, N, mu, counts, groups)
        assert np.linalg.eigvalsh(matrix).min() >= -1e-9 * np.abs(matrix).max()  # PSD, as Q is
        for _ in range(6):
            keep, prune = np.zeros(n, bool), np.zeros(n, bool)
            picked = rng.choice(n, 3, replace=False)
            keep[picked[:2]], prune[picked[2]] = True, True
            optimum = _fixed_optimum(Q, counts, groups, keep, prune)
            bound, warm = fixed_row_bound(matrix, groups, counts, keep, prune, linear=linear, tolerance=1e-6)
            assert bound <= optimum * (1 + 1e-9)
            if warm is not None:
                increments = fixing_increments(matrix, groups, counts, keep, prune, warm, linear)
                if increments is not None:
                    assert increments[0] <= optimum * (1 + 1e-9)
                    for j in np.flatnonzero(~(keep | prune)):  # each child's bound from the same dual point
                        for side, rise in (("keep", increments[1][j]), ("prune", increments[2][j])):
                            if np.isnan(rise):  # j is fixed by its group's completion: no claim
                                continue
                            k, p = keep.copy(), prune.copy()
                            (k if side == "keep" else p)[j] = True
                            assert increments[0] + rise <= _fixed_optimum(Q, counts, groups, k, p) * (1 + 1e-7) + 1e-9
            if not N.any() and mu is None:
                plain, _ = fixed_row_bound(Q, groups, counts, keep, prune, tolerance=1e-6)
                assert bound == pytest.approx(plain, rel=1e-4)
