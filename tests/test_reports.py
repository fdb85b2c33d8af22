"""benchmark.anchor_report and benchmark.certify_report: the tables pair and sum the right records."""
from benchmark.anchor_report import ratio_table


def test_anchor_report_ratios_come_from_the_same_instances():
    records = [{"instance_set": "s-n8", "instance": f"r{i}", "solver": solver, "time_s": t, "status": "optimal"}
               for i in range(3) for solver, t in (("a", 1.0 + i), ("b", 2.0 * (1.0 + i)))]
    records.append({"instance_set": "s-n8", "instance": "r3", "solver": "a", "time_s": 5.0, "status": "time_limit"})
    (row,) = ratio_table(records, ["a", "b"], "a")
    assert row["instances"] == 4 and row["a proven"] == 3 and row["b proven"] == 3
    assert row["b / a"] == "2.00 (2.00-2.00)"  # r3 has no b record: it is left out of the ratios


def test_certify_report_sums_the_layer_and_compares_bounds():
    from benchmark.certify_report import certify_table

    def record(solver, instance, objective, bound, date="2026-12-05"):
        return {"solver": solver, "instance": f"layer3.{instance}", "setting": "per-row@0.5", "objective": objective,
                "lower_bound": bound, "gap": 1 - bound / objective, "d_out": 2, "d_in": 8, "time_s": 1.0,
                "objective_kind": "mask", "date": date, "info_bound_wins": {"cheap": 1, "shor": 1, "dnn": 0},
                "info_rows_reached": {"shor": 2, "dnn": 0}}

    records = [record("sparseswaps", "a", 10.0, 0.0), record("certify", "a", 9.0, 8.0),
               record("sparseswaps", "b", 4.0, 0.0), record("certify", "b", 4.0, 2.0, date="2026-12-04"),
               record("certify", "b", 4.0, 3.0)]  # the newer record of b wins
    compare = [record("fw-sdp", "a", 10.0, 7.0), record("fw-sdp", "b", 5.0, 3.5)]
    (rows,) = certify_table(records, compare).values()
    a, b, layer = rows
    assert (b["bound"], b["earlier bound"], b["from"]) == (3.0, 3.5, "fw-sdp")
    assert a["wins cheap/shor/dnn/ascent/mult"] == "1/1/0/0/0" and abs(a["gap [%]"] - 100 / 9) < 1e-9
    assert (layer["sparseswaps"], layer["certify"], layer["bound"], layer["earlier bound"]) == (14.0, 13.0, 11.0, 10.5)
    assert abs(layer["gap [%]"] - 100 * 2 / 13) < 1e-9
    preset = [dict(records[1], solver="certify[workers=1]"), record("certify-like", "b", 4.0, 3.9)]
    (rows,) = certify_table(preset).values()  # a preset counts as certify; another name does not
    assert [r["module"] for r in rows] == ["a", "**layer**"] and rows[0]["bound"] == 8.0


def test_certify_report_reads_several_results_directories(tmp_path, capsys):
    import json

    from benchmark.certify_report import main
    from benchmark.records import RECORDS_FILE

    for module, bound in (("a", 8.0), ("b", 3.0)):
        (tmp_path / module).mkdir()
        record = {"solver": "certify[workers=1]", "instance": f"layer3.{module}", "setting": "per-row@0.5",
                  "objective": 10.0, "lower_bound": bound, "gap": 1 - bound / 10.0, "d_out": 2, "d_in": 8,
                  "time_s": 1.0, "objective_kind": "mask", "date": "2026-12-07", "job_key": module}
        (tmp_path / module / RECORDS_FILE).write_text(json.dumps(record) + "\n")
    main([f"{tmp_path / 'a'},{tmp_path / 'b'}"])
    out = capsys.readouterr().out
    assert "| a " in out and "| b " in out and "45" in out  # the layer: 1 - 11 / 20 = 45 %


def test_lns_report_compares_lns_from_fw_polish_with_the_same_runs_fw_polish():
    from benchmark.lns_report import fw_start_table

    def key(module, solver):
        return ("smollm2-135m-l3", "2:4", f"layer3.{module}", solver)

    def record(objective):
        return {"objective": objective, "time_s": 1.0, "time_limit": 400.0}

    records = {key("a", "fw-polish"): record(10.0), key("a", "lns"): record(9.0),
               key("b", "fw-polish"): record(4.0), key("b", "lns"): record(4.0),
               key("c", "lns"): record(1.0)}  # no fw-polish beside it: left out
    full = {key("a", "sparseswaps"): record(12.0)}
    text = "\n".join(fw_start_table(records, full))
    assert "Below fw-polish on 1 of 2 modules." in text
    assert "| a " in text and "| c " not in text
    assert "10.000" in text and "25.000" in text  # a: 10 % below fw-polish, 25 % below SparseSwaps; sum 14 -> 13
    assert "7.143" in text


def test_lns_report_reads_the_bandit_policy_from_the_solver_label_and_times_each_against_round_robin(tmp_path):
    import json

    from benchmark.lns_report import bandit_policy, bandit_table, by_policy

    assert bandit_policy("lns") == "thompson-budgeted" and bandit_policy("lns", "ucb") == "ucb"  # today's default, or given
    assert bandit_policy("lns-round-robin[workers=1]") == "round-robin"
    assert bandit_policy("lns[bandit=thompson,workers=1]") == "thompson"
    assert bandit_policy("sparseswaps") is None

    def record(solver, module, trace):
        return {"instance_set": "s", "setting": "per-row@0.5", "instance": f"layer3.{module}", "solver": solver,
                "objective": trace[-1][1], "time_limit": 10.0, "status": "heuristic", "info_trace": trace}

    lines = [record("lns-round-robin", "a", [[1.0, 5.0], [8.0, 4.0]]), record("lns", "a", [[1.0, 5.0], [4.0, 4.0]]),
             record("lns[bandit=thompson]", "a", [[2.0, 3.9]]),
             record("lns-round-robin", "b", [[1.0, 3.0], [10.0, 2.0]]), record("lns", "b", [[1.0, 2.5]]),
             record("lns[bandit=thompson]", "b", [[5.0, 2.0]]), record("sparseswaps", "b", [[0.0, 9.0]]),
             {**record("lns", "c", [[1.0, 1.0]]), "info_bandit": "exp3"},  # what ran wins over the label's default
             {**record("lns[bandit=thompson-discounted]", "c", [[1.0, 1.0]]), "info_bandit": "thompson-discounted"},
             {**record("lns[bandit=thompson-discounted,discount=0.9]", "c", [[1.0, 1.0]]),
              "info_bandit": "thompson-discounted"}]  # two discounts stay two policies
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    records = by_policy(path)
    assert {k[3] for k in records} == {"round-robin", "ucb", "thompson", "exp3", "thompson-discounted",
                                       "thompson-discounted[0.9]"}
    text = "\n".join(bandit_table(records))
    assert "- thompson: median time ratio to round-robin 0.38 (quartiles 0.31 - 0.44) over the 2 modules" in text
    assert "- ucb: median time ratio to round-robin 0.50 over the 1 modules" in text and "not reached on 1;" in text
    assert "over all 2 modules, a miss counted as slowest: inf." in text  # median of (0.5, miss)
    assert "over all 2 modules, a miss counted as slowest: 0.38. Summed final error 1.667 % below" in text
    assert "| a " in text and "2.5000" in text  # thompson's final 3.9 is 2.5 % below round-robin's 4.0


def test_lns_report_titles_say_the_recorded_workers():
    from benchmark.lns_report import workers_each

    assert workers_each({"a": {"info_workers": 1}, "b": {"info_workers": 1}}) == "1 worker each"
    assert workers_each({"a": {"info_workers": 2}}) == "2 workers each"
    assert workers_each({"a": {"info_workers": 1}, "b": {"info_workers": 2}}) == "1 / 2 workers each"
    assert workers_each({"a": {}}) == "workers not recorded"


def test_lns_report_compares_deterministic_runs_by_work_not_seconds(tmp_path):
    from benchmark.lns_report import bandit_table

    def record(solver, policy, seconds, work):  # the same objectives over wall seconds and over work
        return {"instance_set": "s", "setting": "per-row@0.5", "instance": "layer3.a", "objective": 4.0,
                "solver": f"{solver}[deterministic=true,work_limit=20]", "time_limit": 300.0, "status": "heuristic",
                "info_trace": [[1.0, 5.0], [seconds, 4.0]], "info_work_trace": [[0.0, 5.0], [work, 4.0]],
                "info_work": 20.4}

    records = {("s", "per-row@0.5", "layer3.a", "round-robin"): record("lns-round-robin", "round-robin", 30.0, 16.0),
               ("s", "per-row@0.5", "layer3.a", "thompson"): record("lns", "thompson", 9.0, 4.0)}
    text = "\n".join(bandit_table(records))
    assert "equal work (lns's work model, 20 nominal s per module), seeded" in text
    assert "- thompson: median work ratio to round-robin 0.25 over the 1 modules" in text  # 4 / 16, not 9 / 30
    records[("s", "per-row@0.5", "layer3.a", "thompson")].pop("info_work_trace")  # mixed: back to seconds
    assert "- thompson: median time ratio to round-robin 0.30 over the 1 modules" in "\n".join(bandit_table(records))


def test_lns_full_tables_compare_lns_with_sparseswaps_and_fw_polish_under_a_label():
    from benchmark.lns_report import full_tables

    def record(solver, module, objective, **extra):
        return {"instance_set": "smollm2-135m-l3", "setting": "per-row@0.5", "instance": f"layer3.{module}",
                "solver": solver, "objective": objective, "time_limit": 180.0, **extra}

    records, earlier = {}, {}
    for module, (ss, lns, polish, bound) in {"a": (10.0, 9.0, 9.5, 5.0), "b": (4.0, 3.0, 3.5, 2.0)}.items():
        records[("smollm2-135m-l3", "per-row@0.5", f"layer3.{module}", "sparseswaps")] = record("sparseswaps", module, ss)
        records[("smollm2-135m-l3", "per-row@0.5", f"layer3.{module}", "lns")] = record("lns", module, lns)
        earlier[("smollm2-135m-l3", "per-row@0.5", f"layer3.{module}", "fw-polish")] = record("fw-polish", module, polish)
        earlier[("smollm2-135m-l3", "per-row@0.5", f"layer3.{module}", "fw-sdp")] = record("fw-sdp", module, 6.0,
                                                                                          lower_bound=bound)
    text = "\n".join(full_tables(records, earlier, " (thompson-budgeted)"))
    assert "### per-row@0.5, lns (thompson-budgeted) time limit 180 s per module" in text
    # sums: sparseswaps 14, fw-polish 13, lns 12 -> 14.286 % below sparseswaps, 7.692 % below fw-polish
    assert "| **sum**" in text and "14.286" in text and "7.692" in text
    assert "median 35.00" in text  # gap closed: a (10-9)/(10-5) = 20 %, b (4-3)/(4-2) = 50 %: median 35 %


def test_slice_root_gaps_bounds_stay_below_brute_force_optima_and_skip_dnn_above_its_width(monkeypatch):
    import itertools

    import numpy as np

    import instances.sets
    from benchmark.slice_root_gaps import slice_gaps
    from instances.store import Problem

    rng = np.random.default_rng(3)
    problems = []
    for i, n in enumerate((8, 10)):
        X = rng.standard_normal((n, 3 * n)) + rng.standard_normal((n, 1))  # correlated inputs: off-diagonal H
        problems.append(Problem(f"layer3.self_attn.o_proj.r{i}", rng.standard_normal((1, n)), X @ X.T))
    monkeypatch.setattr(instances.sets, "load_set", lambda name, progress=False: problems)
    optima = {}
    for problem in problems:
        w, n = problem.W[0], problem.W.shape[1]
        Q = np.outer(w, w) * problem.H
        optima[("s", problem.name)] = min(Q[np.ix_(c, c)].sum() for c in map(list, itertools.combinations(range(n), n // 2)))
    primal = {("s", problems[0].name, "sparseswaps"): 1.5 * optima[("s", problems[0].name)]}
    rows = slice_gaps("s", optima, primal, dnn_max_n=8)
    assert [r["n"] for r in rows] == [8, 10]
    for row in rows:
        assert row["gap_diag_sdp"] >= -1e-7 and row["gap_plain"] >= row["gap_diag_sdp"] - 1e-7  # bounds <= optimum
    assert rows[0]["gap_dnn"] >= -1e-7 and "gap_dnn" not in rows[1]  # n = 10 is wider than dnn_max_n
    assert abs(rows[0]["excess_sparseswaps"] - 0.5) < 1e-12 and "excess_sparseswaps" not in rows[1]
