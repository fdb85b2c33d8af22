import sys, numpy as np
sys.path.insert(0, "/work/main")
from instances.sets import load_set
for p in load_set("smollm2-135m-l3", progress=False):
    mod = p.name.split(".")[-1]
    np.save(f"/tmp/s29/{mod}_H.npy", p.H); np.save(f"/tmp/s29/{mod}_W.npy", p.W)
    print(p.name, p.W.shape, float(np.mean(p.W == 0)))
