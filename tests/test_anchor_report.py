"""benchmark.anchor_report: the side-by-side ratios pair each solver's time with the reference's on the same instance."""
from benchmark.anchor_report import ratio_table


def test_anchor_report_ratios_come_from_the_same_instances():
    records = [{"instance_set": "s-n8", "instance": f"r{i}", "solver": solver, "time_s": t, "status": "optimal"}
               for i in range(3) for solver, t in (("a", 1.0 + i), ("b", 2.0 * (1.0 + i)))]
    records.append({"instance_set": "s-n8", "instance": "r3", "solver": "a", "time_s": 5.0, "status": "time_limit"})
    (row,) = ratio_table(records, ["a", "b"], "a")
    assert row["instances"] == 4 and row["a proven"] == 3 and row["b proven"] == 3
    assert row["b / a"] == "2.00 (2.00-2.00)"  # r3 has no b record: it is left out of the ratios
