import sys, json, warnings, tempfile, time
warnings.simplefilter("ignore")
import numpy as np
from metaad.benchmark.datasets import discover_datasets, dataset_rows
from metaad.benchmark.protocol import protocol_split, read_trial_data
from metaad.benchmark.store import task_name
from metaad.meta.knowledge import load_knowledge
from metaad.meta.lodo import held_out_group
from metaad.meta.auto import AutoDetector
kb = load_knowledge(sys.argv[1]); out = open(sys.argv[2], "a")
paths = discover_datasets(["../shared/datasets/tabular"])
names = sorted(kb.datasets, key=lambda d: dataset_rows(paths[d]))
tmp = tempfile.mkdtemp()
for name in names:
    folder = f"{tmp}/{name}"; kb.drop_datasets(held_out_group(kb, name)).save(folder)
    n = min(dataset_rows(paths[name]), 50000); task = task_name(name, n)
    X, y = read_trial_data(paths[name], n); Xtr, Xte, ytr, yte = protocol_split(X, y, 0)
    t = time.time()
    d = AutoDetector(knowledge=folder, random_state=0, n_candidates=10, max_per_family=2).fit(Xtr)
    for c in d.candidates_:
        out.write(json.dumps({"dataset": name, "task": task, "config_id": c["config_id"], "family": c["family"], "prior": c["prior"],
                              "predicted": c["predicted_auroc"], "syn": c.get("synthetic_auroc"), "syn_types": c.get("synthetic"),
                              "true": float(kb.performance.loc[task, c["config_id"]]), "rank": c["rank"]}) + "\n")
    out.flush(); print(name, n, round(time.time() - t, 1), flush=True)
