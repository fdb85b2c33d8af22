import sys, time, numpy as np
sys.path.insert(0, "/work/main")
from instances.sets import load_set
from solvers.api import solve_layer
from solvers.sdp.primal_dual import row_sdp_bound_ipm
from solvers.heuristics.sparseswaps import swap_rows
from solvers.core.objective import mask_error_rows
probs = {p.name: p for p in load_set("smollm2-135m-l3", progress=False)}
mod = sys.argv[1]; pattern = sys.argv[2] if len(sys.argv) > 2 else "per-row"
pr = next(p for k, p in probs.items() if k.endswith(mod))
rows = [5, 77, 123]
rows = [r for r in rows if r < pr.W.shape[0]]
W = pr.W[rows]; H = pr.H; n = W.shape[1]
ss = solve_layer(W, H, method="sparseswaps", pattern=pattern, sparsity=0.5)
e_ss = mask_error_rows(W, H, ss.mask)
groups = None if pattern == "per-row" else [np.arange(j, j + 4) for j in range(0, n, 4)]
p = n // 2 if pattern == "per-row" else np.full(n // 4, 2)
col_groups = np.arange(n)[None, :] if pattern == "per-row" else np.arange(n).reshape(-1, 4)
keep = n // 2 if pattern == "per-row" else 2
for i, r in enumerate(rows):
    w = W[i]; Q = np.outer(w, w) * H
    t = time.perf_counter()
    sdp = row_sdp_bound_ipm(Q, p, groups, tolerance=1e-2)
    t_sdp = time.perf_counter() - t
    x = sdp.X[0, 1:] / sdp.X[0, 0]  # pruned fractions
    mask = np.ones(n, dtype=bool)
    for g in col_groups:
        mask[g[np.argsort(-x[g], kind="stable")[: len(g) - keep]]] = False
    e_round = mask_error_rows(w[None], H, mask[None])[0]
    t1 = time.perf_counter()
    polished, nsw, _ = swap_rows(w[None], H, mask[None], col_groups, keep, np.inf, 100000)
    t_sw = time.perf_counter() - t1
    e_pol = mask_error_rows(w[None], H, polished)[0]
    print(mod, pattern, r, "ss %.4g  sdp-round/ss %.3f  +swaps/ss %.4f  shor/ss %.3f  sdp %.2fs swaps %.2fs (%d)" % (e_ss[i], e_round / e_ss[i], e_pol / e_ss[i], sdp.bound / e_ss[i], t_sdp, t_sw, int(nsw[0])), flush=True)
