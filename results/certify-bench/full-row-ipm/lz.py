import sys, numpy as np
sys.path.insert(0, "/work/main")
import solvers.sdp.primal_dual as pd
from scipy.sparse.linalg import LinearOperator
count = [0]
def LO(shape, matvec, dtype):
    def mv(v):
        count[0] += 1; return matvec(v)
    return LinearOperator(shape, matvec=mv, dtype=dtype)
pd.LinearOperator = LO
mod = sys.argv[1]
H = np.load(f"/tmp/s29/{mod}_H.npy"); W = np.load(f"/tmp/s29/{mod}_W.npy"); n = W.shape[1]
for i in (3, 50, 100):
    w = W[i]; Q = w[:, None] * H * w[None, :]
    out = []
    for tol, ncv in ((1e-4, 20), (1e-4, 10), (1e-2, 10), (1e-2, 6)):
        pd.LANCZOS_TOLERANCE = tol; pd.LANCZOS_NCV = ncv; pd.WARM_LANCZOS = False; count[0] = 0
        r = pd.row_sdp_bound_ipm(Q, [n // 2], None, tolerance=1e-2)
        out.append((count[0], r.newton_steps, round(r.bound, 4)))
    print(i, out)
