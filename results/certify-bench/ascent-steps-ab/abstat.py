import json, numpy as np, collections
rows=[json.loads(l) for l in open('rows.jsonl')]
d = collections.defaultdict(dict)
for r in rows: d[(r['pattern'], r['mod'], r['row'])][r['code'][-4:]] = r
for pattern in ("2:4", "per-row"):
    ks = [k for k in d if k[0] == pattern and len(d[k]) == 2]
    tr = [d[k]['main']['t'] / d[k]['hour']['t'] for k in ks]
    lift = [(d[k]['main']['bound'] - d[k]['main']['shor']) - (d[k]['hour']['bound'] - d[k]['hour']['shor']) for k in ks]
    ratio = [(d[k]['main']['bound'] - d[k]['main']['shor']) / (d[k]['hour']['bound'] - d[k]['hour']['shor']) for k in ks]
    print(pattern, len(ks), "rows; time ratio median %.2f (%.2f-%.2f); lift diff median %+.4f (%+.4f..%+.4f); lift ratio median %.2f; higher on %d" % (
        np.median(tr), min(tr), max(tr), np.median(lift), min(lift), max(lift), np.median(ratio), sum(l > 0 for l in lift)))
    print("   old lift range %.4f-%.4f, new %.4f-%.4f; old time %.1f-%.1f s new %.1f-%.1f s (576-wide)" % (
        min(d[k]['hour']['bound'] - d[k]['hour']['shor'] for k in ks), max(d[k]['hour']['bound'] - d[k]['hour']['shor'] for k in ks),
        min(d[k]['main']['bound'] - d[k]['main']['shor'] for k in ks), max(d[k]['main']['bound'] - d[k]['main']['shor'] for k in ks),
        min(d[k]['hour']['t'] for k in ks if k[1] != 'down_proj'), max(d[k]['hour']['t'] for k in ks if k[1] != 'down_proj'),
        min(d[k]['main']['t'] for k in ks if k[1] != 'down_proj'), max(d[k]['main']['t'] for k in ks if k[1] != 'down_proj')))
