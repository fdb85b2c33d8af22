"""ADMM's DNN dual multipliers (N >= 0, products) certified by one Shor solve (sdp.dnn_ascent.multiplier_bound),
against the ascent, on full rows."""
import sys, time, math, numpy as np
sys.path.insert(0, "/work/main")
from scipy.linalg import cho_factor, cho_solve
from solvers.api import solve_layer
from solvers.sdp import dnn_ascent, dnn
from solvers.sdp.shor import checked_row_problem
from solvers.sdp.primal_dual import row_sdp_bound_ipm
from solvers.core.objective import mask_error_rows

def admm(Q, prune_counts, groups, iters, mu=0.1, checks=()):
    Q, C, p = checked_row_problem(Q, prune_counts, groups)
    n = Q.shape[0]; scale = float(np.mean(np.diag(Q))); Nn = n + 1
    A, b = dnn.constraint_matrix(n, C, p)
    Cm = np.zeros((Nn, Nn)); Cm[1:, 1:] = Q / scale; Cv = Cm.ravel()
    AAt = cho_factor((A @ A.T).toarray() + 1e-12 * np.eye(A.shape[0]))
    X, y, S = dnn._shor_start(Q, p, groups, C, scale, Nn, A, Cv, math.inf)
    Nv = np.zeros(Nn * Nn)
    G = C.shape[1]
    out = {}
    for t in range(1, iters + 1):
        y = cho_solve(AAt, mu * (b - A @ X.ravel()) + A @ (Cv - Nv - S.ravel()))
        ATy = A.T @ y
        Nv = np.maximum(0.0, Cv - ATy - S.ravel() - mu * X.ravel())
        V = (Cv - ATy - Nv).reshape(Nn, Nn) - mu * X
        V = (V + V.T) / 2
        values, vectors = np.linalg.eigh(V)
        pos = values > 0
        S = (vectors[:, pos] * values[pos]) @ vectors[:, pos].T
        X = (S - V) / mu
        if t % dnn.MU_EVERY == 0:
            pr = float(np.linalg.norm(A @ X.ravel() - b)) / (1 + float(np.linalg.norm(b)))
            dr = float(np.linalg.norm(ATy + Nv + S.ravel() - Cv)) / (1 + float(np.linalg.norm(Cv)))
            if pr > dnn.MU_RATIO * dr: mu *= dnn.MU_FACTOR
            elif dr > dnn.MU_RATIO * pr: mu /= dnn.MU_FACTOR
        if t in checks:
            Nm = Nv.reshape(Nn, Nn)[1:, 1:].copy() * scale
            Nm = (Nm + Nm.T) / 2; np.fill_diagonal(Nm, 0.0)
            mus = -y[Nn + G:] * scale
            out[t] = (Nm, mus)
    return out

pattern, mod, sparsity = sys.argv[1], sys.argv[2], float(sys.argv[3])
H = np.load(f"/tmp/s29/{mod}_H.npy"); Wall = np.load(f"/tmp/s29/{mod}_W.npy")
for row in (5, 77):
    W = Wall[[row]]
    ss = solve_layer(W, H, method="sparseswaps", pattern=pattern, sparsity=sparsity)
    err = mask_error_rows(W, H, ss.mask)[0]
    n = W.shape[1]; w = W[0]; Q = np.outer(w, w) * H
    p, groups = ([n - int(round((1 - sparsity) * n))], [np.arange(n)]) if pattern == "per-row" else (np.full(n // 4, 2), [np.arange(j, j + 4) for j in range(0, n, 4)])
    t0 = time.perf_counter()
    a = dnn_ascent.row_dnn_ascent_bound(Q, p, groups, upper=err, max_steps=20)
    print(f"{mod} r{row} ascent20 {a.bound/err:.4f} shor {a.shor/err:.4f} {time.perf_counter()-t0:.1f}s", flush=True)
    t0 = time.perf_counter()
    checks = (50, 100, 200, 400)
    res = admm(Q, p, groups, max(checks), checks=checks)
    ta = time.perf_counter() - t0
    for t, (Nm, mus) in res.items():
        t1 = time.perf_counter()
        bound, _, it = dnn_ascent.multiplier_bound(Q, Nm, p, groups, mu=mus, tolerance=1e-2)
        print(f"  admm {t} its (all {ta:.1f}s): certified by Shor {bound/err:.4f} ({time.perf_counter()-t1:.1f}s, {it} it)", flush=True)
