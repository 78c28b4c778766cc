"""Tuning benchmark: ``metaad.tune``'s search against ``auto``, random search and Optuna's TPE, leave-one-dataset-out.

For every held-out dataset (and its duplicates, ``metaad.meta.lodo.DUPLICATE_GROUPS``) the shipped knowledge base
without them is written to a temporary folder; every method sees only that knowledge and each seed's protocol
training split (stratified 70/30, scaled on the training part) of the dataset at its real size (capped at 50,000
rows, as bench_selection.py), and is scored on the test split. The search never sees the training labels in the
unsupervised setting; with ``--labels 5`` it gets 5 known anomalies of the training split (seeded, as
bench_selection.py draws them), which only change the reward.

Methods, all through the shipped code (``metaad.search.run_search`` + ``refit_best``, ``AutoDetector``):

* ``auto``: selection only (the shipped ``AutoDetector``);
* ``random``: random search over the same space (uniform, never updated);
* ``tpe``: Optuna's TPE over the same space (the ``bench`` extra);
* ``reinforce``: REINFORCE warm-started from the meta prior; ``reinforce-cold``: from a uniform policy.

Every search uses the same reward (same synthetic task or label folds, same prior blend) and runs ``max(budgets)``
trials once; the result at a smaller budget is the best of its first trials (by trial number), refitted. Each row
records the test AUROC/AP of the refitted best, its reward, and the best-so-far reward curve (``curve`` in
``params_json``), from which the trials each method needs to reach TPE's final reward are read.

Resumable: every (dataset, method@budget/labels, seed, n_rows) is recorded as it finishes in ``--out`` (the results
store) and every search keeps its trial log under ``--logs``; run the same command again to continue.

Usage::

    nice -n 10 python benchmarks/bench_tune.py --seeds 0 --labels 0
    nice -n 10 python benchmarks/bench_tune.py --seeds 0 --labels 5
    python benchmarks/bench_tune.py --summary-only
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

#: Largest table (rows before the 70/30 split), as bench_selection.py and the knowledge base's tasks.
REAL_SIZE_CAP = 50_000
#: The stated subset: 15 datasets from 129 to 49,097 rows and 6 to 166 columns, across chemistry, medicine, radar,
#: speech, handwriting, images, satellites and physics.
SUBSET = ("wine", "WBC", "vertebral", "Ionosphere", "Pima", "vowels", "letter", "cardio", "musk", "thyroid",
          "satimage-2", "pendigits", "mnist", "mammography", "shuttle")
SEARCHES = {"random": ("random", False), "tpe": ("tpe", False), "reinforce": ("reinforce", True),
            "reinforce-cold": ("reinforce", False)}


def known_anomalies(y_train: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` of the training split's anomalies marked 1, the rest 0 (seeded as bench_selection.py)."""
    rng = np.random.RandomState(1000 + seed)
    known = np.zeros(len(y_train), dtype=int)
    anomalies = np.flatnonzero(y_train == 1)
    known[rng.choice(anomalies, size=min(k, len(anomalies)), replace=False)] = 1
    return known


def _scores(det, X_test, y_test) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    s = det.decision_function(X_test)
    return {"auroc": float(roc_auc_score(y_test, s)), "average_precision": float(average_precision_score(y_test, s))}


def run(args: argparse.Namespace) -> None:
    from metaad.benchmark.datasets import dataset_rows, discover_datasets
    from metaad.benchmark.protocol import protocol_split, read_trial_data
    from metaad.benchmark.store import ResultStore
    from metaad.meta.auto import AutoDetector
    from metaad.meta.knowledge import load_knowledge
    from metaad.meta.lodo import held_out_group
    from metaad.search import choose_final, run_search
    from metaad.search.report import best_so_far

    log = logging.getLogger("bench_tune")
    kb = load_knowledge(args.knowledge)
    paths = discover_datasets([args.data])
    wanted = args.datasets.split(",") if args.datasets else list(SUBSET)
    names = sorted((d for d in wanted if d in paths and d in kb.datasets), key=lambda d: dataset_rows(paths[d]))
    seeds = [int(s) for s in args.seeds.split(",")]
    labels = [int(k) for k in args.labels.split(",")]
    budgets = sorted(int(b) for b in args.budgets.split(","))
    methods = args.methods.split(",")
    store = ResultStore(args.out)
    done = store.completed_keys()
    start = time.perf_counter()
    with store.writing(), tempfile.TemporaryDirectory() as tmp:
        for name in names:
            size = min(dataset_rows(paths[name]), REAL_SIZE_CAP)
            folder = None
            for seed in seeds:
                for k in labels:
                    keys = [(f"auto/{k}", 0)] * ("auto" in methods) + [(f"{m}@{b}/{k}", b) for m in methods if m != "auto" for b in budgets]
                    if all((name, key, seed, size) in done for key, _ in keys):
                        continue
                    if folder is None:
                        folder = Path(tmp) / name
                        kb.drop_datasets(held_out_group(kb, name)).save(folder)  # the knowledge without this dataset's group
                    X, y = read_trial_data(paths[name], size)
                    incumbent: dict = {}
                    X_train, X_test, y_train, y_test = protocol_split(X, y, seed)
                    known = known_anomalies(y_train, k, seed) if k else None
                    for method in methods:
                        base = {"dataset": name, "family": method, "seed": seed, "n_rows": size, "message": ""}
                        if method == "auto":
                            if (name, f"auto/{k}", seed, size) in done:
                                continue
                            row = dict(base, config_id=f"auto/{k}", params_json="")
                            try:
                                with warnings.catch_warnings():
                                    warnings.simplefilter("ignore")
                                    t0 = time.perf_counter()
                                    det = AutoDetector(knowledge=str(folder), random_state=seed).fit(X_train, known)
                                    row.update(_scores(det, X_test, y_test), fit_seconds=time.perf_counter() - t0, status="ok",
                                               params_json=json.dumps(det.ensemble_))
                            except Exception as exc:  # noqa: BLE001  (recorded; the benchmark goes on)
                                row.update(status="error", message=f"{type(exc).__name__}: {exc}"[:500])
                            store.append(row)
                            log.info("%s seed %d k=%d auto: %s %.3f", name, seed, k, row["status"], row.get("auroc", np.nan))
                            continue
                        todo = [b for b in budgets if (name, f"{method}@{b}/{k}", seed, size) not in done]
                        if not todo:
                            continue
                        search_method, warm = SEARCHES[method]
                        t0 = time.perf_counter()
                        try:
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore")
                                result = run_search(
                                    X_train, known, trials=max(budgets), method=search_method, warm_start=warm,
                                    knowledge=str(folder), engine=args.engine, workers=args.workers, fit_rows=args.fit_rows,
                                    trial_time_limit=args.trial_time_limit, random_state=seed,
                                    prior_weight=args.prior_weight,
                                    log_dir=Path(args.logs) / (f"{name}-s{seed}-k{k}-{method}" + ("" if args.prior_weight == 0.5 else f"-w{args.prior_weight:g}")))
                        except Exception as exc:  # noqa: BLE001
                            for b in todo:
                                store.append(dict(base, config_id=f"{method}@{b}/{k}", params_json="", status="error",
                                                  message=f"{type(exc).__name__}: {exc}"[:500]))
                            continue
                        search_seconds = time.perf_counter() - t0
                        curve = best_so_far(result.trials).round(5).tolist()
                        cache: dict = {}
                        if args.guard_margin is not None and not k and incumbent.get("det") is None:
                            with warnings.catch_warnings():  # auto's choice on this split: the guard's incumbent
                                warnings.simplefilter("ignore")
                                incumbent["det"] = AutoDetector(knowledge=str(folder), random_state=seed).fit(X_train)
                        for b in todo:
                            row = dict(base, config_id=f"{method}@{b}/{k}")
                            sub = result.trials[result.trials["trial"] < b]
                            try:
                                with warnings.catch_warnings():
                                    warnings.simplefilter("ignore")
                                    t1 = time.perf_counter()
                                    det = choose_final(dataclasses.replace(result, trials=sub), X_train, margin=args.guard_margin,
                                                       auto=incumbent.get("det"), random_state=seed, engine=args.engine,
                                                       workers=args.workers, trial_time_limit=args.trial_time_limit, cache=cache)
                                    guard_seconds = time.perf_counter() - t1
                                    row.update(_scores(det, X_test, y_test), status="ok")
                                best = det.tuning_["best"]
                                g = det.tuning_.get("guard") or {}
                                row["params_json"] = json.dumps({"best": best["config_id"], "reward": best["reward"],
                                                                 "curve": curve[:b], "guard": g.get("choice"),
                                                                 "guard_reason": g.get("reason"),
                                                                 "guard_seconds": round(guard_seconds, 2)})
                            except Exception as exc:  # noqa: BLE001
                                row.update(status="error", params_json="", message=f"{type(exc).__name__}: {exc}"[:500])
                            row["fit_seconds"] = search_seconds  # the whole search (max budget), not this budget's share
                            store.append(row)
                            log.info("%s seed %d k=%d %s@%d: %s %.3f (search %.0f s)", name, seed, k, method, b,
                                     row["status"], row.get("auroc", np.nan), search_seconds)
        store.consolidate()
    log.info("done in %.0f s", time.perf_counter() - start)


def summarize(args: argparse.Namespace) -> str:
    """The markdown tables: mean test AUROC/AP per method and budget, against auto; trials to TPE's final reward."""
    from metaad.benchmark.store import load_results

    runs = load_results(args.out)
    runs = runs[runs["status"] == "ok"].copy()
    runs["labels"] = runs["config_id"].str.split("/").str[1].astype(int)
    runs["method"] = runs["config_id"].str.split("/").str[0]
    lines = []
    for k, part in runs.groupby("labels"):
        table = part.pivot_table(index=["dataset", "seed"], columns="method", values="auroc")
        ap = part.pivot_table(index=["dataset", "seed"], columns="method", values="average_precision")
        secs = part.pivot_table(index=["dataset", "seed"], columns="method", values="fit_seconds")
        if "auto" not in table:
            continue
        table = table.dropna()
        complete = table.index
        lines += [f"### {'unsupervised' if k == 0 else f'{k} known anomalies'}: {len(complete)} (dataset, seed) pairs", "",
                  "| method | mean test AUROC | mean test AP | vs auto (AUROC) | worst vs auto | datasets > 0.05 below auto | mean search seconds |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for method in sorted(table.columns, key=lambda m: (m != "auto", m.split("@")[0], int(m.split("@")[1]) if "@" in m else 0)):
            diff = table[method] - table["auto"]
            worst = diff.idxmin()
            lines.append(f"| {method} | {table[method].mean():.4f} | {ap.loc[complete, method].mean():.4f} | {diff.mean():+.4f} | "
                         f"{diff.min():+.4f} ({worst[0]}) | {int((diff < -0.05).sum())} | {secs.loc[complete, method].mean():.0f} |")
        lines.append("")
        # trials to reach TPE's final reward (same reward per dataset and seed, so comparable)
        curves = {}
        for r in part.itertuples():
            if "@" in r.method and r.params_json:
                m, b = r.method.split("@")
                if int(b) == max(int(x.split("@")[1]) for x in table.columns if "@" in x):
                    curves[(r.dataset, r.seed, m)] = json.loads(r.params_json)["curve"]
        reach = []
        for (d, s, m), curve in curves.items():
            target = curves.get((d, s, "tpe"))
            if target is None:
                continue  # tpe's own row: the trials TPE needed to reach its final reward
            hit = next((i + 1 for i, v in enumerate(curve) if v >= target[-1] - 1e-9), None)
            reach.append({"dataset": d, "seed": s, "method": m, "trials": hit, "tpe_final": target[-1], "final": curve[-1]})
        if reach:
            frame = pd.DataFrame(reach)
            lines += ["Trials each search needs to reach TPE's final reward (same reward; `never` = not within the budget):", "",
                      "| method | reached on | median trials when reached | mean final reward | TPE's mean final reward |", "|---|---:|---:|---:|---:|"]
            for m, g in frame.groupby("method"):
                hit = g["trials"].dropna()
                lines.append(f"| {m} | {len(hit)}/{len(g)} | {hit.median() if len(hit) else float('nan'):.0f} | "
                             f"{g['final'].mean():.4f} | {g['tpe_final'].mean():.4f} |")
            lines.append("")
        lines += ["Per dataset (test AUROC):", "", "| dataset | seed | " + " | ".join(table.columns) + " |",
                  "|---|---:|" + "---:|" * len(table.columns)]
        for (d, s), r in table.iterrows():
            lines.append(f"| {d} | {s} | " + " | ".join(f"{v:.3f}" for v in r) + " |")
        lines.append("")
    text = "\n".join(lines) + "\n"
    if args.summary:
        Path(args.summary).write_text(text)
    return text


def speed(trials: int = 50) -> str:
    """The speed target: a ``trials``-trial unsupervised search on a 10,000 x 30 table (local engine, 2 workers), with
    ``auto`` fitted on the same table in the same run as the peer."""
    from metaad.meta.auto import AutoDetector
    from metaad.search import tune

    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(9500, 30)), rng.normal(3, 1, size=(500, 30))]
    t0 = time.perf_counter()
    det = tune(X, trials=trials, engine="local", workers=2, random_state=0)
    t1 = time.perf_counter()
    AutoDetector(random_state=0).fit(X)
    t2 = time.perf_counter()
    run = det.search_[det.search_["status"] != "cached"]
    return (f"tune: {len(run)} trials + refit in {t1 - t0:.1f} s (trials' own seconds {run['seconds'].sum():.1f}); "
            f"auto: {t2 - t1:.1f} s; ratio {(t1 - t0) / (t2 - t1):.1f}x; best {det.tuning_['best']['config_id']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/tabular")
    parser.add_argument("--knowledge", default=None, help="knowledge base folder (default: the shipped one)")
    parser.add_argument("--datasets", default="", help="comma-separated subset (default: the stated SUBSET)")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--labels", default="0", help="known anomalies given to the search and auto: 0 = none")
    parser.add_argument("--budgets", default="20,50")
    parser.add_argument("--methods", default="auto,reinforce,tpe,random,reinforce-cold")
    parser.add_argument("--fit-rows", type=int, default=500, help="rows a candidate is fitted on during the search")
    parser.add_argument("--trial-time-limit", type=float, default=60.0)
    parser.add_argument("--prior-weight", type=float, default=0.5, help="the reward's weight on the meta prior (tune's default 0.5)")
    parser.add_argument("--guard-margin", type=float, default=0.05,
                        help="the search's pick must beat auto's on a fresh synthetic draw by this (tune's default); "
                             "a negative value: no guard (the search's best reward as it is, the 'before' protocol)")
    parser.add_argument("--engine", default="local")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/tune_runs.parquet")
    parser.add_argument("--logs", default="benchmarks/results/tune_logs")
    parser.add_argument("--summary", default="benchmarks/results/tune.md")
    parser.add_argument("--summary-only", action="store_true")
    parser.add_argument("--speed", action="store_true", help="only the speed check (50 trials on 10,000 x 30)")
    args = parser.parse_args(argv)
    if args.guard_margin is not None and args.guard_margin < 0:
        args.guard_margin = None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.speed:
        print(speed())
        return 0
    if not args.summary_only:
        run(args)
    print(summarize(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
