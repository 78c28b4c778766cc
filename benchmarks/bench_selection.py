"""Selection benchmark: the shipped ``auto`` at the datasets' real sizes, leave-one-dataset-out, against Isolation
Forest at its defaults, the global best configuration and the per-task oracle.

For every held-out dataset (and its duplicates, ``metaad.meta.lodo.DUPLICATE_GROUPS``) the shipped knowledge base
without them is written to a temporary folder, and the shipped ``AutoDetector(knowledge=that_folder)`` is fitted,
unchanged, on each seed's protocol training split (stratified 70/30, scaled on the training part) of the dataset at
each size, and scored on the test split. ``iforest`` at its defaults is fitted on the same training split (all of
it, as a user's ``metaad detect --detector iforest`` does). The global best (the configuration with the best mean
AUROC over the other datasets' tasks) and the oracle (the best configuration of this task in hindsight) are read
from the knowledge base's matrix for the same task (mean over the seeds it holds).

Sizes: ``real`` is the dataset's size, capped at 50,000 rows (35,000 training rows; the knowledge base's largest
tasks have the same cap); ``500`` is the 500-row stratified subsample the previous knowledge base was built on.
With ``--labels 5,20`` ``auto.fit(X, y)`` also gets k known anomalies drawn from the training split (seeded).

Resumable: every (dataset, method, seed, size) is recorded as it finishes in ``--out`` (the benchmark results store);
run the same command again to continue. ``--summary`` writes the tables of BENCHMARKS.md section 5, from ``--out``
and any ``--extra-runs`` (so that the real-size and the 500-row runs can be written by two processes at once).

Usage::

    python benchmarks/bench_selection.py --sizes real,500 --seeds 0,1,2 --labels 0
    python benchmarks/bench_selection.py --sizes 500 --seeds 0,1,2 --labels 5,20
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

#: Largest table the real-size runs use (rows before the 70/30 split), as the knowledge base's tasks.
REAL_SIZE_CAP = 50_000


def known_anomalies(y_train: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` of the training split's anomalies marked 1, the rest 0 (seeded)."""
    rng = np.random.RandomState(1000 + seed)
    known = np.zeros(len(y_train), dtype=int)
    anomalies = np.flatnonzero(y_train == 1)
    known[rng.choice(anomalies, size=min(k, len(anomalies)), replace=False)] = 1
    return known


def run(args: argparse.Namespace) -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from metaad.benchmark.datasets import dataset_rows, discover_datasets
    from metaad.benchmark.protocol import protocol_split, read_trial_data
    from metaad.benchmark.store import ResultStore
    from metaad.detectors.registry import make_detector
    from metaad.meta.auto import AutoDetector
    from metaad.meta.knowledge import load_knowledge
    from metaad.meta.lodo import held_out_group

    log = logging.getLogger("bench_selection")
    kb = load_knowledge(args.knowledge)
    paths = discover_datasets([args.data])
    names = [d for d in kb.datasets if d in paths and (not args.datasets or d in args.datasets.split(","))]
    names.sort(key=lambda d: dataset_rows(paths[d]))
    seeds = [int(s) for s in args.seeds.split(",")]
    labels = [int(k) for k in args.labels.split(",")]
    store = ResultStore(args.out)
    done = store.completed_keys()
    start = time.perf_counter()
    with store.writing(), tempfile.TemporaryDirectory() as tmp:
        for name in names:
            n = dataset_rows(paths[name])
            sizes = sorted({min(n, REAL_SIZE_CAP) if s == "real" else min(n, int(s)) for s in args.sizes.split(",")})
            methods = [f"auto/{k}" for k in labels] + ["iforest/0"]
            todo = [(m, seed, size) for size in sizes for seed in seeds for m in methods if (name, m, seed, size) not in done]
            if not todo:
                continue
            folder = Path(tmp) / name
            kb.drop_datasets(held_out_group(kb, name)).save(folder)  # the knowledge without this dataset's group
            for size in sizes:
                X, y = read_trial_data(paths[name], size)
                for seed in seeds:
                    X_train, X_test, y_train, y_test = protocol_split(X, y, seed)
                    for method in methods:
                        if (name, method, seed, size) in done:
                            continue
                        family, k = method.split("/")
                        row = {"dataset": name, "config_id": method, "family": family, "seed": seed, "n_rows": size,
                               "params_json": "", "message": ""}
                        try:
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore")
                                t0 = time.perf_counter()
                                if family == "auto":
                                    det = AutoDetector(knowledge=str(folder), random_state=seed)
                                    det.fit(X_train, known_anomalies(y_train, int(k), seed) if int(k) else None)
                                    row["params_json"] = json.dumps(det.ensemble_)
                                    row["message"] = det.explanation_["confidence"]
                                else:
                                    det = make_detector("iforest", random_state=seed).fit(X_train)
                                t1 = time.perf_counter()
                                scores = det.decision_function(X_test)
                                t2 = time.perf_counter()
                            row.update(auroc=float(roc_auc_score(y_test, scores)),
                                       average_precision=float(average_precision_score(y_test, scores)),
                                       fit_seconds=t1 - t0, score_seconds=t2 - t1, status="ok")
                        except Exception as exc:  # noqa: BLE001  (recorded; the benchmark goes on)
                            row.update(status="error", message=f"{type(exc).__name__}: {exc}"[:500])
                        store.append(row)
                        log.info("%s@%d seed %d %s: %s %.3f (%.1f s)", name, size, seed, method, row["status"],
                                 row.get("auroc", float("nan")), row.get("fit_seconds", float("nan")))
        store.consolidate()
    log.info("done in %.0f s", time.perf_counter() - start)


def summarize(args: argparse.Namespace) -> str:
    """The markdown tables: per size class, auto against iforest, the global best and the oracle; per dataset."""
    from metaad.benchmark.store import load_results, task_name
    from metaad.meta.knowledge import load_knowledge
    from metaad.meta.lodo import held_out_group

    kb = load_knowledge(args.knowledge)
    runs = pd.concat([load_results(args.out), *[load_results(p) for p in args.extra_runs]], ignore_index=True)
    runs = runs[runs["status"] == "ok"]
    mean = runs.groupby(["dataset", "n_rows", "config_id"])[["auroc", "average_precision", "fit_seconds"]].mean()
    table = mean["auroc"].unstack("config_id")
    rows = []
    for (name, size), values in table.iterrows():
        task = task_name(name, size)
        if task not in kb.performance.index:
            continue
        train = kb.drop_datasets(held_out_group(kb, name))
        filled = train.performance.apply(lambda r: r.fillna(r.mean()), axis=1)
        global_best = filled.mean(axis=0).idxmax()
        perf = kb.performance.loc[task]
        gb = perf[global_best] if np.isfinite(perf[global_best]) else perf.mean()  # failed there: a random choice
        rows.append({"dataset": name, "n_rows": size, **{c: values[c] for c in values.index},
                     "global_best": gb, "oracle": perf.max(), "global_best_id": global_best})
    frame = pd.DataFrame(rows)
    lines = []
    largest = frame.groupby("dataset")["n_rows"].transform("max")
    small = (frame["n_rows"] == 500) | ((frame["n_rows"] == largest) & (largest <= 500))  # run with --sizes 500
    for label, mask in (("real size (capped at 50,000 rows)", frame["n_rows"] == largest),
                        ("500-row subsamples (a dataset of 500 rows or fewer at its own size)", small),
                        ("real size, the 27 datasets of more than 500 rows", frame["n_rows"] > 500)):
        part = frame[mask]
        if part.empty:
            continue
        autos = [c for c in part.columns if c.startswith("auto/")]
        lines += [f"### {label}: {len(part)} datasets", "",
                  "| method | mean test AUROC (datasets) | vs iforest | worst vs iforest | datasets > 0.05 below iforest |",
                  "|---|---:|---:|---:|---:|"]
        for method in autos + ["iforest/0", "global_best", "oracle"]:
            diff = (part[method] - part["iforest/0"]).dropna()
            if diff.empty:
                continue
            lines.append(f"| {method} | {part[method].mean():.4f} ({len(diff)}) | {diff.mean():+.4f} | {diff.min():+.4f} "
                         f"({part.loc[diff.idxmin(), 'dataset']}) | {int((diff < -0.05).sum())} |")
        lines.append("")
    per = frame.sort_values(["n_rows", "dataset"])
    lines += ["### Per dataset (mean over seeds)", "", "| dataset | rows | " + " | ".join(c for c in per.columns if c.startswith("auto/")) +
              " | iforest | global best | oracle |", "|---|---:|" + "---:|" * (sum(c.startswith("auto/") for c in per.columns) + 3)]
    for _, r in per.iterrows():
        autos = " | ".join("" if pd.isna(r[c]) else f"{r[c]:.3f}" for c in per.columns if c.startswith("auto/"))
        lines.append(f"| {r['dataset']} | {int(r['n_rows'])} | {autos} | {r['iforest/0']:.3f} | {r['global_best']:.3f} | {r['oracle']:.3f} |")
    fit = mean["fit_seconds"].unstack("config_id")
    lines += ["", f"auto's mean fit seconds: {fit.filter(like='auto/').mean().round(2).to_dict()}; iforest's: "
              f"{fit['iforest/0'].mean():.2f}."]
    text = "\n".join(lines) + "\n"
    if args.summary:
        Path(args.summary).write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/tabular")
    parser.add_argument("--knowledge", default=None, help="knowledge base folder (default: the shipped one)")
    parser.add_argument("--sizes", default="real,500", help="'real' (capped at 50,000 rows) and/or row counts")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--labels", default="0", help="known anomalies given to auto.fit(X, y): 0 = none")
    parser.add_argument("--datasets", default="", help="comma-separated subset (default: every dataset)")
    parser.add_argument("--out", default="benchmarks/results/selection_runs.parquet")
    parser.add_argument("--summary", default="benchmarks/results/selection.md")
    parser.add_argument("--summary-only", action="store_true")
    parser.add_argument("--extra-runs", nargs="*", default=[],
                        help="more results files (e.g. a --sizes 500 run written to another --out) for the summary")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not args.summary_only:
        run(args)
    print(summarize(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
