"""How the guard's challengers fare on the test split (tune.md, "Does any challenger help?"); run from the repo root
with PYTHONPATH=. after bench_tune.py (it replays its trial logs): writes benchmarks/results/tune2_challengers.csv."""
import json, sys, tempfile, warnings, dataclasses
from pathlib import Path
import numpy as np, pandas as pd
sys.path.insert(0, "benchmarks")
from bench_tune import SUBSET, REAL_SIZE_CAP, _scores
from metaad.benchmark.datasets import dataset_rows, discover_datasets
from metaad.benchmark.protocol import protocol_split, read_trial_data
from metaad.meta.auto import AutoDetector
from metaad.meta.knowledge import load_knowledge
from metaad.meta.lodo import held_out_group
from metaad.search import run_search, refit_best
from metaad.search.guard import guard, incumbent_members
warnings.simplefilter("ignore")
def main():
    kb = load_knowledge(None); paths = discover_datasets(["../shared/datasets/tabular"])
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SUBSET:
            size = min(dataset_rows(paths[name]), REAL_SIZE_CAP)
            folder = Path(tmp) / name; kb.drop_datasets(held_out_group(kb, name)).save(folder)
            X, y = read_trial_data(paths[name], size); Xtr, Xte, ytr, yte = protocol_split(X, y, 0)
            auto = AutoDetector(knowledge=str(folder), random_state=0).fit(Xtr)
            a = _scores(auto, Xte, yte)["auroc"]
            seen = {}
            for method, warm in (("reinforce", True), ("tpe", False)):
                res = run_search(Xtr, None, trials=50, method=method, warm_start=warm, knowledge=str(folder), engine="local", workers=2,
                                 fit_rows=500, trial_time_limit=60.0, random_state=0, log_dir=f"benchmarks/results/tune_logs/{name}-s0-k0-{method}")
                for b in (20, 50):
                    sub = dataclasses.replace(res, trials=res.trials[res.trials.trial < b])
                    d = guard(sub, Xtr, incumbent_members(auto), engine="inline", top=4)
                    for r in d.challengers.itertuples():
                        if r.config_id not in seen:
                            try:
                                det = refit_best(dataclasses.replace(res, trials=res.trials[res.trials.config_id == r.config_id]), Xtr, random_state=0)
                                seen[r.config_id] = _scores(det, Xte, yte)["auroc"]
                            except Exception as e:
                                seen[r.config_id] = np.nan
                        out.append(dict(dataset=name, method=method, budget=b, config_id=r.config_id, family=r.family, search_reward=r.search_reward,
                                        fresh_evidence=r.fresh_evidence, prior=r.prior, test=seen[r.config_id],
                                        inc_evidence=d.incumbent["evidence"], inc_prior=d.incumbent["prior"], auto_test=a))
            pd.DataFrame(out).to_csv("benchmarks/results/tune2_challengers.csv", index=False)
            print(name, flush=True)

if __name__ == '__main__':
    main()
