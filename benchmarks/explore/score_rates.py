"""Scoring cost of every knowledge-base configuration, fitted as auto fits its members (5,000 rows), one thread.

Prints microseconds per scored row at 10 and 40 columns (and 1,000 / 5,000 fitted rows for instance-based
families): the data behind ``metaad.meta.selection.SCORE_COST_US``.

    OMP_NUM_THREADS=1 python benchmarks/explore/score_rates.py
"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np, torch
torch.set_num_threads(1)
from metaad.meta import selection as steps
from metaad.meta.knowledge import load_knowledge

kb = load_knowledge(None)
rng = np.random.RandomState(0)
n_score = 10000
for cid, row in kb.configurations.sort_values("family").iterrows():
    if len(sys.argv) > 1 and row["family"] not in sys.argv[1].split(","):
        continue
    out = []
    for d, n_fit in ((10, 5000), (40, 5000), (40, 1000)):
        if n_fit == 1000 and row["family"] not in ("knn", "lof", "ocsvm"):
            continue
        X = rng.normal(size=(n_fit, d)); Q = rng.normal(size=(n_score, d))
        det = steps.build_detector({"family": row["family"], "params": json.loads(row["params_json"])}, {"random_state": 0}).fit(X)
        det.decision_function(Q[:100])
        best = np.inf
        for _ in range(2):
            t = time.perf_counter(); det.decision_function(Q); best = min(best, time.perf_counter() - t)
        out.append(f"d={d} fit={n_fit}: {1e6 * best / n_score:7.2f}")
    print(f"{cid:24s} {row['family']:12s}", " | ".join(out), flush=True)
