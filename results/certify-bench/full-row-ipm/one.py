import sys, time, numpy as np
sys.path.insert(0, sys.argv[1])
from solvers.sdp.primal_dual import row_sdp_bound_ipm
mod, i = sys.argv[2], int(sys.argv[3])
H = np.load(f"/tmp/s29/{mod}_H.npy"); w = np.load(f"/tmp/s29/{mod}_W.npy")[i]; n = len(w)
Q = w[:, None] * H * w[None, :]
t = time.perf_counter(); r = row_sdp_bound_ipm(Q, [n // 2], None, tolerance=1e-2)
print(sys.argv[1], mod, i, "%.3f %.8g %d" % (time.perf_counter() - t, r.bound, r.newton_steps))
