import sys, json, warnings, tempfile, time
warnings.simplefilter("ignore")
import numpy as np
from sklearn.metrics import roc_auc_score
from metaad.benchmark.datasets import discover_datasets, dataset_rows
from metaad.benchmark.protocol import protocol_split, read_trial_data
from metaad.meta.knowledge import load_knowledge
from metaad.meta.lodo import held_out_group
from metaad.meta.auto import AutoDetector
from metaad.meta import selection as steps
from metaad.detectors.registry import make_detector
kb = load_knowledge(sys.argv[1]); variants = json.loads(sys.argv[2])
paths = discover_datasets(["../shared/datasets/tabular"])
names = sorted(kb.datasets, key=lambda d: dataset_rows(paths[d]))
tmp = tempfile.mkdtemp(); res = {k: [] for k in variants}; res["iforest"] = []
for name in names:
    folder = f"{tmp}/{name}"; kb.drop_datasets(held_out_group(kb, name)).save(folder)
    n = min(dataset_rows(paths[name]), 50000)
    X, y = read_trial_data(paths[name], n); Xtr, Xte, ytr, yte = protocol_split(X, y, 0)
    res["iforest"].append(roc_auc_score(yte, make_detector("iforest", random_state=0).fit(Xtr).decision_function(Xte)))
    line = f"{name:20s} {n:6d} if {res['iforest'][-1]:.3f}"
    for key, v in variants.items():
        steps.SELECTOR_SETTINGS.update(v.get("selector", {})); steps.clear_cache()
        d = AutoDetector(knowledge=folder, random_state=0, **v.get("auto", {})).fit(Xtr)
        res[key].append(roc_auc_score(yte, d.decision_function(Xte)))
        steps.SELECTOR_SETTINGS.update({"shrinkage": 0.5}); steps.clear_cache()
        line += f" | {key} {res[key][-1]:.3f} {'+'.join(c.split('-')[0] for c in d.ensemble_)}"
    print(line, flush=True)
base = np.array(res["iforest"])
for k, v in res.items():
    d = np.array(v) - base
    print(f"{k:12s} mean {np.mean(v):.4f} vs iforest {d.mean():+.4f} worst {d.min():+.3f} n<-0.05 {(d < -0.05).sum()}")
