"""Rows of at most 128 inputs: certify's "dnn" (ADMM, eigenvalue-corrected) against dnn-multipliers, per row."""
import sys, time, numpy as np
sys.path.insert(0, "/work/main")
from instances.sets import load_set
from solvers.sdp.dnn import row_dnn_bound
from solvers.sdp.dnn_multipliers import row_dnn_multiplier_bound
from solvers.sdp.layer import DNN_TOLERANCE
from solvers.api import solve_layer
from solvers.core.objective import mask_error_rows
name = sys.argv[1]
out = []
for prob in load_set(name, progress=False)[:int(sys.argv[2])]:
    W, H = prob.W, prob.H
    ss = solve_layer(W, H, method="sparseswaps", pattern="per-row", sparsity=0.5)
    err = mask_error_rows(W, H, ss.mask)
    for i in range(min(2, W.shape[0])):
        w = W[i]; Q = np.outer(w, w) * H; n = len(w)
        t0 = time.perf_counter(); a = row_dnn_bound(Q, n // 2, None, tolerance=DNN_TOLERANCE); ta = time.perf_counter() - t0
        t0 = time.perf_counter(); b = row_dnn_multiplier_bound(Q, n // 2, None); tb = time.perf_counter() - t0
        out.append((a.bound / err[i], b.bound / err[i], ta, tb))
        print(f"{prob.name} r{i} dnn {a.bound/err[i]:.4f} {ta:.2f}s | mult {b.bound/err[i]:.4f} (shor {b.shor/err[i]:.4f}) {tb:.2f}s", flush=True)
o = np.array(out)
print("median dnn", np.median(o[:, 0]), "mult", np.median(o[:, 1]), "time", np.median(o[:, 2]), np.median(o[:, 3]))
