"""Array backends: one code path for numpy arrays and torch tensors (CPU or GPU).

``namespace`` is numpy itself for numpy arrays, else array-api-compat's ``array_namespace`` (torch
with the Array API's function names); the few operations the standard lacks live here. torch is never imported by
this module: a torch namespace only appears when the caller passes torch tensors.
"""
from __future__ import annotations

import contextlib

import numpy as np
from array_api_compat import array_namespace, is_torch_array
from array_api_compat import device as device_of

__all__ = ["ONE_THREAD_MAX_N", "add_into", "axpy", "blas_threads_for", "check_device", "device_of", "inner",
           "keep_rows_top_k", "namespace", "one_blas_thread", "to_device", "to_numpy", "top_k_indices"]

ONE_THREAD_MAX_N = 256  # dense solves narrower than this run on one BLAS thread (threads only slow them)
COARSE_MIN_SIZE = 16384  # keep_rows_top_k partitions a float32 copy from this size on (below, the copy costs more:
                         # 1 x 128 took 21 us instead of 12)


def namespace(*arrays):
    """numpy itself when every input is a numpy array (numpy >= 2.1 has the Array API's names in its
    main namespace; the compat wrappers cost microseconds per call, most of FW's time on single rows),
    else array-api-compat's namespace (torch)."""
    if all(isinstance(a, np.ndarray) for a in arrays):
        return np
    return array_namespace(*arrays)


_threadpools = None


def blas_threads_for(n: int):
    """Context manager: BLAS / LAPACK on one thread for dense work of width n < ``ONE_THREAD_MAX_N``
    (threadpoolctl; ~12 us per use), else unchanged.

    For small dense factorizations threads only cost: with two threads on a busy 2-core machine
    LAPACK potri / potrs at n = 49-129 took 3-10x longer than with one.
    """
    if n >= ONE_THREAD_MAX_N:
        return contextlib.nullcontext()
    return one_blas_thread()


def one_blas_thread():
    """Context manager: BLAS / LAPACK on one thread inside it (threadpoolctl)."""
    return blas_controller().limit(limits=1, user_api="blas")


def blas_controller():
    """threadpoolctl's controller of the loaded BLAS / OpenMP libraries, made once (it scans them)."""
    global _threadpools
    if _threadpools is None:
        from threadpoolctl import ThreadpoolController

        _threadpools = ThreadpoolController()
    return _threadpools


def add_into(a, b, out):
    """a + b (broadcast) written into the preallocated ``out`` (numpy or torch); returns ``out``."""
    if is_torch_array(out):
        import torch

        return torch.add(a, b, out=out)
    return np.add(a, b, out=out)


def top_k_indices(grouped, k: int):
    """Column indices of the k largest entries of every row of ``grouped`` (any order)."""
    if is_torch_array(grouped):
        return grouped.topk(k, dim=1, sorted=False).indices
    size = grouped.shape[1]
    return np.argpartition(grouped, size - k, axis=1)[:, size - k:]


def keep_rows_top_k(scores, k: int):
    """Bool array of ``scores``'s shape marking the k largest entries of every row.

    numpy: a threshold per row from ``np.partition`` of a float32 copy (35% faster than partitioning
    float64 at 576 x 576): one float32 step below the rounded k-th value s*, so at most s* and values
    within that step of it, then one comparison in full precision. A row whose comparison marks exactly
    k entries got exactly its top k (any threshold set of size k is the top-k set); rows where rounding
    or ties give another count fall back to argpartition in float64, which breaks ties arbitrarily.
    Splitting only this over threads ran slower than one thread (after a GEMM on two OpenBLAS threads
    those threads still spin); ``solvers.relaxation.fw_row_split`` splits the whole FW iteration by rows instead.
    """
    if is_torch_array(scores):
        import torch

        chosen = top_k_indices(scores, k)
        return torch.zeros(scores.shape, dtype=torch.bool, device=scores.device).scatter_(1, chosen, True)
    size = scores.shape[1]
    if k in (0, size):
        return np.full(scores.shape, k == size)
    if scores.dtype == np.float64 and scores.size >= COARSE_MIN_SIZE:  # round(s*) is the float32 k-th value;
        # one float32 step below it is <= s*
        with np.errstate(over="ignore", under="ignore"):
            coarse = scores.astype(np.float32)
        kth = np.partition(coarse, size - k, axis=1)[:, size - k : size - k + 1]
        kth = np.nextafter(kth, np.float32(-np.inf)).astype(np.float64)
    else:
        kth = np.partition(scores, size - k, axis=1)[:, size - k : size - k + 1]
    mask = scores >= kth
    wrong = np.flatnonzero(mask.sum(axis=1) != k)
    if wrong.size:
        rows = np.zeros((wrong.size, size), dtype=bool)
        np.put_along_axis(rows, top_k_indices(scores[wrong], k), True, axis=1)
        mask[wrong] = rows
    return mask


def axpy(alpha: float, x, y, scratch=None):
    """y += alpha * x in place; returns y. With a preallocated ``scratch`` of x's shape (numpy) no
    temporary is allocated (fresh 2.6 MB temporaries cost page faults every FW iteration). BLAS daxpy
    was tried and dropped: with two OpenBLAS threads it ran 10x slower and slowed the next GEMM."""
    if scratch is None or not isinstance(y, np.ndarray):
        y += alpha * x
        return y
    np.multiply(x, alpha, out=scratch)
    np.add(y, scratch, out=y)
    return y


def inner(a, b) -> float:
    """sum(a * b) over all entries as a float: numpy by one BLAS dot (no temporary), torch by sum."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.flags.c_contiguous and b.flags.c_contiguous:
        return float(np.vdot(a, b))
    return float((a * b).sum())


def to_numpy(x) -> np.ndarray:
    """A numpy copy (or view) of a numpy array or a torch tensor on any device."""
    if is_torch_array(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def to_device(x, device: str | None):
    """``x`` as a torch tensor on ``device`` ("cuda", "cuda:N", "cpu-torch" for torch on the CPU),
    or unchanged for device None / "cpu" (numpy) and for x None. Any other device name is a ValueError."""
    check_device(device)
    if device in (None, "cpu") or x is None:
        return x
    import torch  # only reached when the caller asked for a torch device

    return torch.as_tensor(np.ascontiguousarray(x), device="cpu" if device == "cpu-torch" else device)


def check_device(device) -> None:
    """ValueError naming ``device`` unless it is one this package understands (see ``to_device``)."""
    if device in (None, "cpu", "cpu-torch", "cuda"):
        return
    if isinstance(device, str) and device.startswith("cuda:") and device[5:].isdigit():
        return
    raise ValueError(f"device must be None/'cpu' (numpy), 'cpu-torch', 'cuda' or 'cuda:N'; got {device!r}")
