"""The three ways in, end to end on a fresh copy of the working tree (no caches, no results, nothing installed
beyond the environment): prune the offline model with the example plug-in, save it, score the saved model
with ``bench eval --model``, and get the same per-module errors as the run that made it."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
PLUGIN = "examples.obs_saliency:solve"


def _fresh_copy(target: Path) -> Path:
    """The files ``git clone`` of this working tree would have (tracked and new, not ignored)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_prune_with_a_plugin_save_and_eval_the_model_gives_the_same_errors(tmp_path):
    pytest.importorskip("transformers")
    clone = _fresh_copy(tmp_path / "clone")
    env = dict(os.environ, PRUNE_BENCH_CACHE=str(tmp_path / "cache"), PYTHONPATH=str(clone))

    def bench(*args):
        out = subprocess.run([sys.executable, "-m", "benchmark.cli", *args], cwd=clone, env=env, capture_output=True,
                             text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    where = subprocess.run([sys.executable, "-c", "import solvers; print(solvers.__file__)"], cwd=clone, env=env,
                           capture_output=True, text=True).stdout
    assert Path(where.strip()).is_relative_to(clone)  # the copy's code runs, not the checkout's
    calibration = ["--nsamples", "4", "--seqlen", "64"]
    bench("extract", "--model", "smollm2-135m", "--layers", "0", "--name", "first-block", *calibration)
    bench("prune", "--model", "smollm2-135m", "--method", PLUGIN, "--blocks", "0", *calibration, "--eval-tokens", "512",
          "--save", str(tmp_path / "pruned"), "--out", str(tmp_path / "prune.json"), "--results", str(tmp_path / "r"),
          "--quiet")
    printed = bench("eval", "--model", str(tmp_path / "pruned"), "--instances", "first-block", "--results",
                    str(tmp_path / "r"), "--quiet")
    assert "7 records as 'user:pruned'" in printed
    made = {m["module"]: m for m in json.loads((tmp_path / "prune.json").read_text())["modules"]}
    scored = {}
    for line in (tmp_path / "r" / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        scored[record["instance"]] = record
    assert set(scored) == set(made) and len(made) == 7
    for name, module in made.items():
        assert scored[name]["objective"] == pytest.approx(module["error"], rel=1e-9), name
        assert scored[name]["setting"] == "per-row@0.5" and not scored[name]["flags"]
        assert scored[name]["kept"] == module["size"] - module["pruned"]
