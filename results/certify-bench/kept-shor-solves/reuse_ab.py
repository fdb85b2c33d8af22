"""A/B: a 5-step DNN ascent of a full row solving its first (Shor) step, against one started from the row's kept
Shor solve (float32 X), alternating on the same rows; one BLAS thread."""
import sys, time, numpy as np
sys.path.insert(0, sys.argv[3] if len(sys.argv) > 3 else "/work/main")
from solvers.api import solve_layer
from solvers.sdp import dnn_ascent
from solvers.sdp.kept_solves import KeptSolves
from solvers.sdp.primal_dual import row_sdp_bound_ipm
from solvers.core.objective import mask_error_rows
pattern, mod = sys.argv[1], sys.argv[2]
H = np.load(f"/tmp/s29/{mod}_H.npy"); Wall = np.load(f"/tmp/s29/{mod}_W.npy")
for row in (5, 77, 200):
    W = Wall[[row]]
    ss = solve_layer(W, H, method="sparseswaps", pattern=pattern, sparsity=0.5)
    err = mask_error_rows(W, H, ss.mask)[0]
    n = W.shape[1]; w = W[0]; Q = np.outer(w, w) * H
    p, groups = ([n // 2], [np.arange(n)]) if pattern == "per-row" else (np.full(n // 4, 2), [np.arange(j, j + 4) for j in range(0, n, 4)])
    t0 = time.perf_counter()
    store = KeptSolves(); store.put(row, row_sdp_bound_ipm(Q, p, groups, tolerance=1e-2))
    shor_s = time.perf_counter() - t0
    res = {}
    for which in ("solve", "reuse", "solve", "reuse"):
        t0 = time.perf_counter()
        a = dnn_ascent.row_dnn_ascent_bound(Q, p, groups, upper=err, max_steps=5,
                                            first=store.get(row) if which == "reuse" else None)
        res.setdefault(which, []).append((time.perf_counter() - t0, a.bound / err, a.iterations))
    ts, tr = min(r[0] for r in res["solve"]), min(r[0] for r in res["reuse"])
    print(f"{mod} {pattern} r{row}: shor {shor_s:.2f}s | solve {ts:.2f}s bound {res['solve'][0][1]:.4f} it {res['solve'][0][2]} "
          f"| reuse {tr:.2f}s bound {res['reuse'][0][1]:.4f} it {res['reuse'][0][2]} | time ratio {tr/ts:.2f}", flush=True)
