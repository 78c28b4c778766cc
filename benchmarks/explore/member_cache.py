"""Cache of per-dataset candidate test scores, so that choice rules and ensembles can be evaluated without refitting.

For each dataset at real size (capped at 50,000 rows), seed SEED: auto (leave-one-dataset-out knowledge,
n_candidates=10, max_per_family=2) records its candidates with prior and synthetic evidence; each candidate plus a
few fixed configurations is fitted as auto fits its members (a 5,000-row sample of the training split) and its
test scores are saved. Output: OUT/records.jsonl and OUT/<dataset>.npz (y_test and one array per config_id).

    python benchmarks/explore/member_cache.py metaad/knowledge /tmp/cache 0
"""
import json, sys, tempfile, time, warnings
from pathlib import Path

warnings.simplefilter("ignore")
import numpy as np
from sklearn.metrics import roc_auc_score

from metaad.benchmark.datasets import dataset_rows, discover_datasets
from metaad.benchmark.protocol import fit_sample, protocol_split, read_trial_data
from metaad.meta import selection as steps
from metaad.meta.auto import AutoDetector
from metaad.meta.knowledge import load_knowledge
from metaad.meta.lodo import held_out_group

EXTRA = ["iforest-b0b04099", "copod-e2c395f4", "autoencoder-7c19939c", "knn-64d0fbe7"]
kb = load_knowledge(None if sys.argv[1] == "-" else sys.argv[1])
out = Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
done = {p.stem for p in out.glob("*.npz")}
paths = discover_datasets(["../shared/datasets/tabular"])
names = sorted(kb.datasets, key=lambda d: dataset_rows(paths[d]))
tmp = tempfile.mkdtemp()
cfg = kb.configurations
# the default iforest config id
ifo = cfg[(cfg["family"] == "iforest") & (cfg["params_json"] == "{}")].index
EXTRA = [c for c in EXTRA if c in cfg.index] + list(ifo)
with open(out / "records.jsonl", "a") as rec:
    for name in names:
        if name in done:
            continue
        folder = f"{tmp}/{name}"; kb.drop_datasets(held_out_group(kb, name)).save(folder)
        n = min(dataset_rows(paths[name]), 50000)
        X, y = read_trial_data(paths[name], n); Xtr, Xte, ytr, yte = protocol_split(X, y, seed)
        t = time.time()
        d = AutoDetector(knowledge=folder, random_state=seed, n_candidates=10, max_per_family=2).fit(Xtr)
        es = d._evidence_seed()
        rows = fit_sample(Xtr.shape[0], es, 5000)
        cands = {c["config_id"]: c for c in d.candidates_}
        scores = {"y_test": yte}
        for cid in list(cands) + [c for c in EXTRA if c not in cands]:
            c = cands.get(cid) or {"config_id": cid, "family": cfg.loc[cid, "family"], "params": json.loads(cfg.loc[cid, "params_json"])}
            try:
                t1 = time.perf_counter(); det = steps.build_detector(c, {"random_state": seed, "contamination": 0.1, "threshold": None}).fit(Xtr[rows])
                t2 = time.perf_counter(); s = det.decision_function(Xte); t3 = time.perf_counter()
            except Exception as exc:  # noqa: BLE001
                print(name, cid, exc); continue
            scores[cid] = s
            rec.write(json.dumps({"dataset": name, "n": n, "seed": seed, "config_id": cid, "family": c["family"], "candidate": cid in cands,
                                  "prior": c.get("prior"), "predicted": c.get("predicted_auroc"), "syn": c.get("synthetic_auroc"),
                                  "syn_types": c.get("synthetic"), "rank": c.get("rank"), "auroc": float(roc_auc_score(yte, np.nan_to_num(s, nan=0.0, posinf=1e300, neginf=-1e300))),
                                  "fit_s": t2 - t1, "score_us_per_row": 1e6 * (t3 - t2) / len(Xte), "n_train": len(Xtr), "d": X.shape[1],
                                  "shipped_ensemble": d.ensemble_}) + "\n")
        np.savez_compressed(out / f"{name}.npz", **scores)
        rec.flush(); print(name, n, round(time.time() - t, 1), flush=True)
