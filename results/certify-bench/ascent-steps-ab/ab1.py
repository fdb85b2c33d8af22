import sys, time, json, numpy as np
sys.path.insert(0, sys.argv[1])
from instances.sets import load_set
from solvers.api import solve_layer
from solvers.sdp import dnn_ascent
from solvers.core.objective import mask_error_rows
pattern, mod = sys.argv[2], sys.argv[3]
probs = {p.name: p for p in load_set("smollm2-135m-l3", progress=False)}
pr = next(p for k, p in probs.items() if k.endswith(mod))
for row in (5, 77):
    W, H = pr.W[[row]], pr.H
    ss = solve_layer(W, H, method="sparseswaps", pattern=pattern, sparsity=0.5)
    err = mask_error_rows(W, H, ss.mask)[0]
    n = W.shape[1]; w = W[0]; Q = np.outer(w, w) * H
    p, groups = (n // 2, None) if pattern == "per-row" else (np.full(n // 4, 2), [np.arange(j, j + 4) for j in range(0, n, 4)])
    t0 = time.perf_counter()
    a = dnn_ascent.row_dnn_ascent_bound(Q, p, groups, upper=err, max_steps=20)
    print(json.dumps(dict(mod=mod, row=row, pattern=pattern, code=sys.argv[1], bound=a.bound / err, shor=a.shor / err, t=time.perf_counter() - t0, it=a.iterations)), flush=True)
