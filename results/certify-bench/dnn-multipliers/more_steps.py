"""How much a row's DNN ascent gains from 20 to 30 and 40 steps (full 576-wide rows), from the kept Shor solve."""
import sys, time, numpy as np
sys.path.insert(0, "/work/main")
from solvers.api import solve_layer
from solvers.sdp import dnn_ascent
from solvers.sdp.kept_solves import KeptSolves
from solvers.sdp.primal_dual import row_sdp_bound_ipm
from solvers.core.objective import mask_error_rows
pattern, mod, sparsity = sys.argv[1], sys.argv[2], float(sys.argv[3])
H = np.load(f"/tmp/s29/{mod}_H.npy"); Wall = np.load(f"/tmp/s29/{mod}_W.npy")
for row in (5, 77):
    W = Wall[[row]]
    ss = solve_layer(W, H, method="sparseswaps", pattern=pattern, sparsity=sparsity)
    err = mask_error_rows(W, H, ss.mask)[0]
    n = W.shape[1]; w = W[0]; Q = np.outer(w, w) * H
    p, groups = ([n - int(round((1 - sparsity) * n))], [np.arange(n)]) if pattern == "per-row" else (np.full(n // 4, 2), [np.arange(j, j + 4) for j in range(0, n, 4)])
    first = row_sdp_bound_ipm(Q, p, groups, tolerance=1e-2)
    out = [f"shor {first.bound / err:.4f}"]
    for steps in (10, 20, 30, 40):
        t0 = time.perf_counter()
        a = dnn_ascent.row_dnn_ascent_bound(Q, p, groups, upper=err, max_steps=steps, first=first)
        out.append(f"{steps}: {a.bound / err:.4f} {time.perf_counter() - t0:.1f}s")
    print(mod, pattern, sparsity, row, " | ".join(out), flush=True)
