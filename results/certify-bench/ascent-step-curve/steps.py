import sys, time, json, numpy as np
sys.path.insert(0, "/work/main")
from solvers.api import solve_layer
from solvers.sdp import dnn_ascent
from solvers.core.objective import mask_error_rows
pattern, mod = sys.argv[1], sys.argv[2]
H = np.load(f"/tmp/s29/{mod}_H.npy"); Wall = np.load(f"/tmp/s29/{mod}_W.npy")
for row in (5, 77):
    W = Wall[[row]]
    ss = solve_layer(W, H, method="sparseswaps", pattern=pattern, sparsity=0.5)
    err = mask_error_rows(W, H, ss.mask)[0]
    n = W.shape[1]; w = W[0]; Q = np.outer(w, w) * H
    p, groups = (n // 2, None) if pattern == "per-row" else (np.full(n // 4, 2), [np.arange(j, j + 4) for j in range(0, n, 4)])
    out = []
    for steps in (1, 3, 5, 10, 20):
        t0 = time.perf_counter()
        a = dnn_ascent.row_dnn_ascent_bound(Q, p, groups, upper=err, max_steps=steps)
        out.append("%d: %.4f %.1fs" % (steps, a.bound / err, time.perf_counter() - t0))
    print(mod, pattern, row, " | ".join(out), flush=True)
