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
    assert a["wins cheap/shor/dnn"] == "1/1/0" and abs(a["gap [%]"] - 100 / 9) < 1e-9
    assert (layer["sparseswaps"], layer["certify"], layer["bound"], layer["earlier bound"]) == (14.0, 13.0, 11.0, 10.5)
    assert abs(layer["gap [%]"] - 100 * 2 / 13) < 1e-9


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
