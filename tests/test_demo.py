"""The demo: every default heuristic on a layer, under its time limit, one row per (layer, setting, method)."""
from benchmark.demo import run_demo


def test_demo_rows_and_ratios_to_wanda():
    rows = run_demo([(8, 16)], ["0.5", "2:4"], ["magnitude", "wanda", "fw"], time_limit=5.0, progress=False)
    assert len(rows) == 6 and {r["status"] for r in rows} <= {"heuristic", "time_limit"}
    assert all(r["x wanda"] == 1.0 for r in rows if r["method"] == "wanda")
    assert all(0 <= r["rel. error"] < 1 and r["time [s]"] < 5.0 + 2.0 for r in rows)
