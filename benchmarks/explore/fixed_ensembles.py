import sys, json, warnings, itertools, time
warnings.simplefilter("ignore")
import numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score
from metaad.benchmark.datasets import discover_datasets, dataset_rows
from metaad.benchmark.protocol import protocol_split, read_trial_data, fit_sample
from metaad.meta.knowledge import load_knowledge
kb = load_knowledge(sys.argv[1]); C = kb.configurations
ids = sys.argv[2].split(",")
paths = discover_datasets(["../shared/datasets/tabular"])
names = sorted(kb.datasets, key=lambda d: dataset_rows(paths[d]))
from metaad.benchmark.zoo import Configuration
store = {}
for name in names:
    n = min(dataset_rows(paths[name]), 50000)
    X, y = read_trial_data(paths[name], n); Xtr, Xte, ytr, yte = protocol_split(X, y, 0)
    rows = fit_sample(len(Xtr), 0)
    ranks = {}
    for cid in ids:
        cfg = Configuration.from_json(C.loc[cid, "family"], C.loc[cid, "params_json"])
        try:
            det = cfg.make_detector(random_state=0).fit(Xtr[rows])
            ref = np.sort(det.decision_scores_); s = det.decision_function(Xte)
            ranks[cid] = np.searchsorted(ref, s, side="right") / len(ref) + 1e-9 * (s - ref[0]) / (np.ptp(ref) or 1)
        except Exception as e:
            ranks[cid] = None
    store[name] = (yte, ranks)
    print(name, flush=True)
res = []
for k in range(1, 5):
    for combo in itertools.combinations(ids, k):
        vals = []
        for name, (yte, ranks) in store.items():
            parts = [ranks[c] for c in combo if ranks[c] is not None]
            vals.append(roc_auc_score(yte, np.mean(parts, axis=0)) if parts else 0.5)
        res.append((combo, vals))
base = dict(res)[(ids[0],)]
out = []
for combo, vals in res:
    d = np.array(vals) - np.array(base)
    out.append(("+".join(combo), np.mean(vals), d.mean(), d.min(), int((d < -0.05).sum())))
out.sort(key=lambda r: -r[1])
for r in out[:25]: print("%-70s %.4f %+.4f %+.3f %d" % r)
print("iforest alone", np.mean(base))
json.dump({n: {"names": list(store)} for n in []}, open("/dev/null", "w"))
