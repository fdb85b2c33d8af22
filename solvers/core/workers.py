"""How many worker processes a solver may start: one per usable core (the CPU affinity set, which a batch system
or ``taskset`` may restrict below ``os.cpu_count()``), and none beyond the caller inside a daemonic process (a Dask
worker, a multiprocessing pool worker), which may not have children."""
from __future__ import annotations

import multiprocessing
import os


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity call on this platform (macOS, Windows)
        return os.cpu_count() or 1


def worker_processes(tasks: int | None = None) -> int:
    """Processes to use for ``tasks`` independent pieces (None: no limit): the usable cores, 1 in a daemonic
    process."""
    if multiprocessing.current_process().daemon:
        return 1
    return max(1, min(usable_cores(), tasks if tasks is not None else usable_cores()))
