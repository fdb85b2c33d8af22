"""lns: the free-set sub-problem is the row's error up to a constant (at any scale), the search is monotone,
feasible for every pattern, exact on tiny instances, deterministic for a seed, and refuses bad options."""
import itertools

import numpy as np
import pytest

from instances.sets import TINY_SETTINGS, load_set
from solvers import solve_layer
from solvers.core.objective import check_mask, mask_error_rows
from solvers.core.problem import make_problem
from solvers.heuristics.lns.neighbourhoods import NEIGHBOURHOODS, RowState, free_set
from solvers.heuristics.lns.solve import solve_lns
from solvers.heuristics.lns.subproblem import free_subproblem


def _layer(d_out, d_in, seed=0, scale_w=1.0, scale_h=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(d_in, 3 * d_in)) * (1 + rng.random(d_in))[:, None]
    X[1::2] += 0.7 * X[::2]  # correlated inputs
    return rng.normal(size=(d_out, d_in)) * scale_w, (X @ X.T) * scale_h


def _row_error(w, H, keep):
    e = np.where(keep, 0.0, w)
    return float(e @ H @ e)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
@pytest.mark.parametrize("group_size", [None, 4])
def test_subproblem_is_the_row_error_up_to_a_constant(scale, group_size):
    W, H = _layer(1, 16, seed=3, scale_w=scale, scale_h=scale)
    w = W[0]
    keep = np.zeros(16, dtype=bool)
    keep[[0, 3, 5, 6, 9, 10, 12, 15]] = True  # 2 of every 4
    free = np.arange(4, 12)
    problem, start = free_subproblem(w, H, keep, free, group_size)
    assert np.array_equal(start[0], keep[free])
    assert np.linalg.eigvalsh(problem.W[0][:, None] * problem.H * problem.W[0][None, :])[0] >= 0
    offsets = []
    for kept in itertools.combinations(range(8), 4):
        choice = np.zeros(8, dtype=bool)
        choice[list(kept)] = True
        if group_size and not all(choice[g * 4 : g * 4 + 4].sum() == 2 for g in range(2)):
            continue
        row = keep.copy()
        row[free] = choice
        sub = float(mask_error_rows(problem.W, problem.H, choice[None, :])[0])
        offsets.append(_row_error(w, H, row) - sub)
    assert np.ptp(offsets) <= 1e-9 * max(abs(o) for o in offsets)


def test_free_sets_respect_groups_and_size():
    W, H = _layer(1, 32, seed=1)
    keep = np.tile([True, False], 16)
    state = RowState.of(W[0], H, np.diag(H), keep, 12)
    corr = H / np.sqrt(np.outer(np.diag(H), np.diag(H)))
    rng = np.random.default_rng(0)
    for function, name in NEIGHBOURHOODS:
        order = function(state, rng, corr)
        per_row = free_set(order, state, None)
        assert per_row.size == 12 and np.unique(per_row).size == 12, name
        nm = free_set(order, state, 4)
        assert nm.size == 12 and np.all(np.bincount(nm // 4)[np.unique(nm // 4)] == 4), name


@pytest.mark.parametrize("case", range(len(load_set("tiny"))))
@pytest.mark.parametrize("setting", [s for s in TINY_SETTINGS if s[0] != "per-layer"])  # per-layer: no optimum claim
def test_reaches_the_brute_force_optimum_on_tiny_instances(case, setting):
    problem = load_set("tiny")[case]
    pattern, sparsity = setting
    if pattern == "2:4" and problem.W.shape[1] % 4:
        pytest.skip("d_in not divisible by 4")
    kwargs = dict(sparsity=sparsity, pattern=pattern)
    best = solve_layer(problem.W, problem.H, method="brute-force", **kwargs)
    found = solve_layer(problem.W, problem.H, method="lns", warm_start="wanda", workers=1, **kwargs)
    assert found.objective <= best.objective * (1 + 1e-9) + 1e-12


@pytest.mark.parametrize("pattern,sparsity", [("per-row", 0.5), ("per-row", 0.7), ("2:4", None), ("per-layer", 0.5)])
def test_monotone_and_feasible(pattern, sparsity):
    W, H = _layer(6, 48, seed=2)
    problem = make_problem(W, H, sparsity=sparsity, pattern=pattern)
    for start in ("wanda", "sparseswaps"):
        answer = solve_lns(problem, warm_start=start, workers=1, min_size=8, max_size=16, max_calls=60)
        check_mask(answer.mask, problem.pattern)
        value = float(mask_error_rows(W, H, answer.mask).sum())
        assert value <= answer.info["start_mask_error"] * (1 + 1e-12)
        trace = [v for _, v in answer.info["trace"]]
        assert trace[0] == pytest.approx(answer.info["start_mask_error"]) and trace[-1] == pytest.approx(value)
        assert all(b <= a * (1 + 1e-12) for a, b in zip(trace, trace[1:]))
        if start == "wanda":
            assert value < answer.info["start_mask_error"]  # Wanda is never a local optimum here
        else:  # never worse than SparseSwaps run to its local optimum (inside the workers for row-local patterns)
            swaps = solve_layer(W, H, method="sparseswaps", sparsity=sparsity, pattern=pattern)
            assert value <= swaps.objective * (1 + 1e-12)
        assert sum(answer.info["calls"].values()) >= sum(answer.info["wins"].values())


def test_optimum_of_a_row_wider_than_every_free_set():
    W, H = _layer(1, 20, seed=5)
    best = solve_layer(W, H, method="brute-force", sparsity=0.5)
    found = solve_layer(W, H, method="lns", sparsity=0.5, warm_start="magnitude", workers=1, min_size=8,
                        max_size=16, patience=40)
    assert found.objective == pytest.approx(best.objective, rel=1e-9)


@pytest.mark.parametrize("workers", [1, 2])
def test_deterministic_for_a_seed(workers):
    W, H = _layer(8, 40, seed=4)
    problem = make_problem(W, H, sparsity=0.5)
    runs = [solve_lns(problem, seed=7, warm_start="wanda", workers=workers, min_size=8, max_size=32, max_calls=30,
                      deterministic=True) for _ in range(2)]
    assert np.array_equal(runs[0].mask, runs[1].mask)
    assert runs[0].info["calls"] == runs[1].info["calls"]


def test_a_work_limit_ends_a_deterministic_run_at_the_same_point_every_time():
    W, H = _layer(8, 40, seed=4)
    problem = make_problem(W, H, sparsity=0.5)
    options = dict(seed=3, warm_start="wanda", workers=1, min_size=8, max_size=32, deterministic=True)
    full = solve_lns(problem, max_calls=40, **options)
    assert full.info["work"] > 0
    limit = full.info["work"] / 2
    runs = [solve_lns(problem, work_limit=limit, **options) for _ in range(2)]
    assert np.array_equal(runs[0].mask, runs[1].mask) and runs[0].info["work_trace"] == runs[1].info["work_trace"]
    assert limit <= runs[0].info["work"] < full.info["work"]
    assert sum(runs[0].info["calls"].values()) < sum(full.info["calls"].values())
    trace = runs[0].info["work_trace"]  # (work, error): starts at the warm start, falls, ends at the answer
    assert trace[0] == [0.0, runs[0].info["start_mask_error"]]
    assert all(b[0] >= a[0] and b[1] <= a[1] for a, b in zip(trace, trace[1:]))
    assert trace[-1][1] == pytest.approx(float(mask_error_rows(W, H, runs[0].mask).sum()), rel=1e-9)
    with pytest.raises(ValueError, match="work_limit counts the work model of deterministic=True"):
        solve_layer(W, H, method="lns", sparsity=0.5, workers=1, work_limit=1.0)
    assert "work_trace" not in solve_layer(W, H, method="lns", sparsity=0.5, workers=1, max_calls=2).info


def test_round_robin_preset_and_method_warm_start():
    W, H = _layer(4, 32, seed=6)
    answer = solve_layer(W, H, method="lns-round-robin", sparsity=0.5, warm_start="fw-polish", workers=1,
                         max_calls=24, min_size=8, max_size=16)
    assert answer.info["bandit"] == "round-robin" and answer.info["warm_start"] == "fw-polish"
    assert solve_layer(W, H, method="lns", sparsity=0.5, workers=1, max_calls=2).info["bandit"] == "thompson-budgeted"
    polish = solve_layer(W, H, method="fw-polish", sparsity=0.5)
    assert answer.objective <= polish.objective * (1 + 1e-12)
    assert set(answer.info["calls"].values()) == {3.0}  # 24 calls per worker over 8 arms, in turn


def test_row_bounds_steer_rows_and_are_checked():
    W, H = _layer(4, 32, seed=8)
    problem = make_problem(W, H, sparsity=0.5)
    answer = solve_lns(problem, workers=1, row_bounds=np.zeros(4), max_calls=10, min_size=8, max_size=16)
    check_mask(answer.mask, problem.pattern)
    with pytest.raises(ValueError, match="row_bounds must be 4 finite numbers"):
        solve_lns(problem, row_bounds=np.zeros(3))


@pytest.mark.parametrize("options,message", [
    ({"min_size": 64, "max_size": 16}, "min_size 64 is above max_size 16"),
    ({"bandit": "greedy"}, "option bandit='greedy' is not valid"),
    ({"sub_time": 0}, "option sub_time=0 is not valid"),
    ({"warm_start": "mip"}, "option warm_start='mip' is not valid"),
])
def test_bad_options_are_one_clear_error(options, message):
    W, H = _layer(2, 16)
    with pytest.raises(ValueError, match=message):
        solve_layer(W, H, method="lns", sparsity=0.5, **options)


def test_reconstruct_objective_is_refused():
    W, H = _layer(2, 16)
    with pytest.raises(ValueError, match="lns"):
        solve_layer(W, H, method="lns", sparsity=0.5, objective="reconstruct")


def test_time_limit_is_kept_with_workers():
    W, H = _layer(64, 128, seed=9)
    answer = solve_layer(W, H, method="lns", sparsity=0.5, time_limit=2.0, workers=2)
    assert answer.time_s < max(1.25 * 2.0, 2.0 + 3.0)
    assert answer.objective <= answer.info["start_mask_error"] * (1 + 1e-12)


def _workers_in_child(queue):
    from solvers.core.workers import worker_processes

    queue.put(worker_processes(8))


def test_worker_processes_are_the_usable_cores_and_one_inside_a_daemon():
    import multiprocessing

    from solvers.core.workers import usable_cores, worker_processes

    assert worker_processes(1) == 1 and worker_processes() == usable_cores() >= 1
    queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_workers_in_child, args=(queue,), daemon=True)
    child.start()
    child.join(60)
    assert queue.get(timeout=5) == 1


@pytest.mark.parametrize("bandit", ["thompson", "thompson-discounted", "thompson-budgeted"])
@pytest.mark.parametrize("k", [-12, 12])
@pytest.mark.parametrize("pattern,sparsity", [("per-row", 0.5), ("2:4", None)])
def test_right_at_every_scale_of_W_and_H(k, pattern, sparsity, bandit):
    W, H = _layer(3, 20, seed=11)
    best = solve_layer(W, H, method="brute-force", sparsity=sparsity, pattern=pattern).objective
    for scale_w, scale_h in ((10.0**k, 1.0), (1.0, 10.0**k)):
        found = solve_layer(W * scale_w, H * scale_h, method="lns", sparsity=sparsity, pattern=pattern,
                            warm_start="magnitude", workers=1, min_size=8, max_size=16, patience=40, bandit=bandit)
        assert found.objective == pytest.approx(best * scale_w**2 * scale_h, rel=1e-9)


def test_records_carry_the_bandit_policy_that_ran(tmp_path, cache):
    from benchmark.harness import run_benchmark
    from benchmark.lns_report import by_policy

    solvers = ["lns-round-robin[max_calls=4,workers=1]", "lns[bandit=thompson,max_calls=4,workers=1]"]
    records = run_benchmark(["tiny"], solvers=solvers, results=tmp_path, progress=False)
    assert records and all(not r["flags"] and r["status"] != "error" for r in records)
    assert {r["solver"]: r["info_bandit"] for r in records} == dict(zip(solvers, ["round-robin", "thompson"]))
    assert {key[3] for key in by_policy(tmp_path / "records.jsonl")} == {"round-robin", "thompson"}


def test_a_discount_without_the_discounted_bandit_is_refused():
    W, H = _layer(2, 16, seed=3)
    with pytest.raises(ValueError, match="discount=0.9 acts only with bandit='thompson-discounted'"):
        solve_layer(W, H, method="lns", sparsity=0.5, workers=1, max_calls=2, discount=0.9)
    with pytest.raises(ValueError, match="discount=0.99 acts only"):  # the default value, given: refused as well
        solve_layer(W, H, method="lns", sparsity=0.5, workers=1, max_calls=2, bandit="ucb", discount=0.99)
    r = solve_layer(W, H, method="lns", sparsity=0.5, workers=1, max_calls=2, bandit="thompson-discounted",
                    discount=0.9)
    assert r.info["bandit"] == "thompson-discounted"
