"""Run records: one flat JSON object per line, appended and flushed (fsync) one at a time.

A killed run loses no finished record; a torn last line from a kill is skipped with a warning on
reading, like any corrupt line, so the leaderboard never crashes on it.
"""
from __future__ import annotations

import datetime
import functools
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import warnings
from pathlib import Path

from .reconstruct import GRANULARITY_OF

RECORDS_FILE = "records.jsonl"
TRACKED_PACKAGES = ("numpy", "scipy", "pyscipopt", "cvxpy", "clarabel", "torch", "transformers", "dask")


@functools.lru_cache(maxsize=1)
def provenance() -> dict:
    """Machine, CPU, threads, git commit and library versions of this process (flat keys).

    Computed once per process, on first use: ``run_benchmark`` asks for it before any job starts, so the
    commit is the one checked out when the run began (the code it executes), not HEAD when a record is
    written; importing this module runs no git.
    """
    info = {"git_commit": _git_commit(), "machine": platform.node(), "cpu": _cpu_name(),
            "cpu_count": os.cpu_count(), "threads": int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)),
            "python": platform.python_version()}
    for package in TRACKED_PACKAGES:
        try:
            info[f"version_{package}"] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[f"version_{package}"] = None
    return info


def _git_commit() -> str:
    """Short HEAD commit of this checkout, "+dirty" with uncommitted changes to tracked files."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"



def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def to_json_line(record: dict) -> str:
    return json.dumps({k: _json_safe(v) for k, v in record.items()}, sort_keys=True, default=str)


def from_json(record: dict) -> dict:
    out = {}
    for key, value in record.items():
        out[key] = float(value) if value in ("inf", "-inf") else (math.nan if value is None and key in _FLOAT_FIELDS else value)
    return out


_FLOAT_FIELDS = {"objective", "relative_error", "lower_bound", "gap", "gap_to_best_bound", "time_s", "sparsity"}


class ResultsInUse(ValueError):
    """Another process is writing the same records file (its lock is held)."""


class RecordWriter:
    """Appends records to ``directory/records.jsonl``, flushing and syncing after each one.

    Writers lock ``<file>.lock`` (``filelock``; released when the process ends, also by a crash). An
    ``exclusive`` writer (``bench run``: it decides which jobs are left from the file) holds the lock
    from opening to ``close``, and a second one fails at once with ``ResultsInUse``; a shared writer
    (prune runs, which may run side by side) takes it for each record only. A torn last line (a crash
    mid-write) is closed with a newline before the next record, so it stays one corrupt line (skipped
    on reading, with a warning) and never swallows that record.
    """

    def __init__(self, directory: Path, file_name: str = RECORDS_FILE, *, exclusive: bool = True):
        from filelock import FileLock, Timeout

        self.path, self.exclusive = Path(directory) / file_name, exclusive
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(str(self.path) + ".lock")
            with self._lock.acquire(timeout=0 if exclusive else 60):
                self._handle = open(self.path, "ab")
                if exclusive:
                    self._lock.acquire()  # held (re-entrant count 2 -> 1 on leaving this block) until close
        except Timeout:
            raise ResultsInUse(f"{self.path} is being written by another bench run; wait for it to finish or use "
                               "another --results directory") from None
        except OSError as err:
            raise OSError(f"results directory {directory} is not writable: {err.strerror or err}") from None

    def _repair_tail(self) -> None:
        size = self.path.stat().st_size
        if size > 0:
            with open(self.path, "rb") as handle:
                handle.seek(size - 1)
                torn = handle.read(1) != b"\n"
            if torn:
                self._handle.write(b"\n")

    def write(self, record: dict) -> None:
        with self._lock.acquire(timeout=60):
            self._repair_tail()
            self._handle.write((to_json_line(record) + "\n").encode("utf-8"))
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()
        if self.exclusive and self._lock.is_locked:
            self._lock.release()


def read_records(directory: Path, file_name: str = RECORDS_FILE, required: str = "job_key") -> list[dict]:
    """All valid records of ``directory``; corrupt lines are skipped with a warning naming them."""
    path = Path(directory) / file_name
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or required not in record:
                raise ValueError("not a record")
        except ValueError:
            warnings.warn(f"{path}:{number}: skipping corrupt record line", stacklevel=2)
            print(f"warning: {path}:{number}: skipping corrupt record line", file=sys.stderr)
            continue
        records.append(from_json(record))
    return records


def prune_run_key(record: dict) -> tuple:
    """What makes two runs the same; N:M runs have no sparsity (None, read back from records as NaN). The training
    schedule (``recon_steps``, ``recon_lr``) is part of the key: runs with another schedule are other runs."""
    def number(value):
        return None if value is None or value != value else float(value)

    granularity = record.get("reconstruct") or GRANULARITY_OF[record["objective_kind"]]
    return (record["model"], record["method"], record["pattern"], number(record["sparsity"]), granularity,
            record["calibration"], record["nsamples"], record["seqlen"], record["eval_tokens"],
            int(record.get("recon_steps") or 0), number(record.get("recon_lr")))
