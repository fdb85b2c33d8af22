"""Equal-time comparison on full rows: DNN ascent (5 / 20 steps, from the kept Shor solve) against ADMM's dual
multipliers certified by one Shor solve (ADMM from the same kept solve, float32 or float64 eigh)."""
import sys, time, math, numpy as np
sys.path.insert(0, "/work/main")
from scipy.linalg import cho_factor, cho_solve, eigh
from solvers.api import solve_layer
from solvers.sdp import dnn_ascent, dnn
from solvers.sdp.shor import checked_row_problem
from solvers.sdp.primal_dual import row_sdp_bound_ipm
from solvers.core.objective import mask_error_rows

def admm(Q, prune_counts, groups, first, iters, single, mu=0.1, checks=()):
    t0 = time.perf_counter()
    Q, C, p = checked_row_problem(Q, prune_counts, groups)
    n = Q.shape[0]; scale = float(np.mean(np.diag(Q))); Nn = n + 1
    A, b = dnn.constraint_matrix(n, C, p)
    Cm = np.zeros((Nn, Nn)); Cm[1:, 1:] = Q / scale; Cv = Cm.ravel()
    AAt = cho_factor((A @ A.T).toarray() + 1e-12 * np.eye(A.shape[0]))
    y = np.concatenate(([first.gamma], first.s, first.rho, np.zeros(n))) / scale
    S = (Cv - A.T @ y).reshape(Nn, Nn); S = (S + S.T) / 2
    X = np.asarray(first.X, dtype=np.float64)
    Nv = np.zeros(Nn * Nn)
    G = C.shape[1]
    out = {}
    for t in range(1, iters + 1):
        y = cho_solve(AAt, mu * (b - A @ X.ravel()) + A @ (Cv - Nv - S.ravel()))
        ATy = A.T @ y
        Nv = np.maximum(0.0, Cv - ATy - S.ravel() - mu * X.ravel())
        V = (Cv - ATy - Nv).reshape(Nn, Nn) - mu * X
        V = (V + V.T) / 2
        if single:
            values, vectors = eigh(V.astype(np.float32), driver="evd")
            values, vectors = values.astype(np.float64), vectors.astype(np.float64)
        else:
            values, vectors = np.linalg.eigh(V)
        neg = values < 0
        Vn = (vectors[:, neg] * values[neg]) @ vectors[:, neg].T
        S = V - Vn
        X = -Vn / mu
        if t % dnn.MU_EVERY == 0:
            pr = float(np.linalg.norm(A @ X.ravel() - b)) / (1 + float(np.linalg.norm(b)))
            dr = float(np.linalg.norm(ATy + Nv + S.ravel() - Cv)) / (1 + float(np.linalg.norm(Cv)))
            if pr > dnn.MU_RATIO * dr: mu *= dnn.MU_FACTOR
            elif dr > dnn.MU_RATIO * pr: mu /= dnn.MU_FACTOR
        if t in checks:
            Nm = Nv.reshape(Nn, Nn)[1:, 1:].copy() * scale
            Nm = (Nm + Nm.T) / 2; np.fill_diagonal(Nm, 0.0)
            out[t] = (Nm, -y[Nn + G:] * scale, time.perf_counter() - t0, int(neg.sum()))
    return out

pattern, mod, sparsity = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = [int(r) for r in sys.argv[4].split(",")] if len(sys.argv) > 4 else (5, 77)
H = np.load(f"/tmp/s29/{mod}_H.npy"); Wall = np.load(f"/tmp/s29/{mod}_W.npy")
for row in rows:
    W = Wall[[row]]
    ss = solve_layer(W, H, method="sparseswaps", pattern=pattern, sparsity=sparsity)
    err = mask_error_rows(W, H, ss.mask)[0]
    n = W.shape[1]; w = W[0]; Q = np.outer(w, w) * H
    p, groups = ([n - int(round((1 - sparsity) * n))], [np.arange(n)]) if pattern == "per-row" else (np.full(n // 4, 2), [np.arange(j, j + 4) for j in range(0, n, 4)])
    first = row_sdp_bound_ipm(Q, p, groups, tolerance=1e-2)
    line = [f"{mod} {pattern}{sparsity if pattern == 'per-row' else ''} r{row} shor {first.bound/err:.4f}"]
    for steps in (5, 20):
        t0 = time.perf_counter()
        a = dnn_ascent.row_dnn_ascent_bound(Q, p, groups, upper=err, max_steps=steps, first=first)
        line.append(f"asc{steps} {a.bound/err:.4f} {time.perf_counter()-t0:.1f}s")
    for single in ((True,) if len(sys.argv) > 5 else (True, False)):
        res = admm(Q, p, groups, first, 100 if single else 50, single, checks=(25, 50, 100))
        for t, (Nm, mus, secs, negs) in res.items():
            t1 = time.perf_counter()
            bound, _, it = dnn_ascent.multiplier_bound(Q, Nm, p, groups, mu=mus, tolerance=1e-2)
            line.append(f"admm{'32' if single else '64'}@{t} {bound/err:.4f} {secs:.1f}+{time.perf_counter()-t1:.1f}s")
    print(" | ".join(line), flush=True)
