import sys, time, numpy as np
sys.path.insert(0, sys.argv[1])
from instances.sets import load_set
from solvers.api import solve_layer
probs = {p.name: p for p in load_set("smollm2-135m-l3", progress=False)}
for mod, pattern in (("o_proj", "per-row"), ("k_proj", "2:4")):
    pr = next(p for k, p in probs.items() if k.endswith(mod))
    W = pr.W[:24]
    ss = solve_layer(W, pr.H, 0.5, pattern, "sparseswaps")
    r = solve_layer(W, pr.H, 0.5, pattern, "certify", time_limit=40, workers=1)
    print(sys.argv[1], mod, pattern, "ss %.5g certify %.5g (%.3f) bound %.5g gap %.2f%% rounded_rows %s t %.1f" % (ss.objective, r.objective, r.objective / ss.objective, r.lower_bound, 100 * (r.objective - r.lower_bound) / r.objective, r.info.get("rounded_rows"), r.time_s), flush=True)
