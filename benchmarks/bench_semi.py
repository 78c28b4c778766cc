"""Semi-supervised benchmark: metaad with k known anomalies against PyOD's XGBOD and DevNet, same splits and labels.

ADBench's protocol for semi-supervised detectors: for each seed in 0, 1, 2 a stratified 70/30 split
(``train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)``), MinMax scaling fit on the training
part, ``k`` of the training part's anomalies marked as known (``bench_selection.known_anomalies``: the same draw
as the selection benchmark's label runs), every other training row unlabeled (0); test AUROC and average
precision on the test part, and the fit seconds. The training part is capped at ``--max-train`` rows (a seeded
stratified subsample, as the selection benchmark caps tables at 50,000 rows).

Methods (``--methods``):

* ``stacked``: metaad's stacked detector at its defaults (31 unsupervised members, consensus of the 5 the labels
  judge best); ``stacked_nopu``: the same without the positive-unlabeled weighting (``pu_weighting=None``);
* ``deep_sad``, ``devnet``: metaad's deep semi-supervised detectors at their defaults;
* ``auto``: ``AutoDetector(knowledge=<the shipped knowledge base without this dataset's group>).fit(X, y)``,
  leave-one-dataset-out (``metaad.meta.lodo.held_out_group``), which with labels also weighs the semi-supervised
  candidates and keeps ``stacked`` unless another leads it clearly (``metaad.meta.labelled``);
* ``xgbod``: PyOD's ``XGBOD`` at its defaults (41 unsupervised members, XGBoost on top); ``pyod_devnet``: PyOD's
  ``DevNet`` at its defaults.

Resumable: every (dataset, method, seed, k) is appended to ``--out`` (the benchmark results store) as it finishes;
run the same command again to continue. ``--summary`` writes the markdown tables.

Usage (the comparison in ``benchmarks/results/semi.md``: two processes side by side, then the summary)::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_semi.py --methods xgbod,stacked,auto,devnet \\
        --datasets vertebral,Pima,letter,musk,satimage-2,pendigits --out benchmarks/results/semi_v2_a.parquet
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_semi.py --methods xgbod,stacked,auto,devnet \\
        --datasets WDBC,vowels,cardio,thyroid,satellite,annthyroid --out benchmarks/results/semi_v2_b.parquet
    python benchmarks/bench_semi.py --summary-only \\
        --out benchmarks/results/semi_v2_a.parquet,benchmarks/results/semi_v2_b.parquet
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_selection import known_anomalies  # noqa: E402  (the same k labels as the selection benchmark)

#: Eleven-plus datasets of the shared corpus spanning sizes (240 to 11,183 rows) and domains (medical, image
#: features, letters, physics, chemistry), smallest first.
DEFAULT_DATASETS = ("vertebral,WDBC,Pima,vowels,letter,cardio,musk,thyroid,satimage-2,satellite,pendigits,"
                    "annthyroid,mammography")
METHODS = ("stacked", "stacked_nopu", "deep_sad", "devnet", "auto", "xgbod", "pyod_devnet")


def split(X: np.ndarray, y: np.ndarray, seed: int, max_train: int) -> tuple[np.ndarray, ...]:
    """Stratified 70/30 split, training part capped at ``max_train`` rows (stratified), MinMax fit on it."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    if len(X_train) > max_train:
        X_train, _, y_train, _ = train_test_split(X_train, y_train, train_size=max_train, stratify=y_train, random_state=seed)
    scaler = MinMaxScaler().fit(X_train)
    return scaler.transform(X_train), np.clip(scaler.transform(X_test), -1e6, 1e6), y_train, y_test


def fit_method(method: str, X: np.ndarray, known: np.ndarray, seed: int, knowledge: str | None):
    """The fitted detector of ``method`` (anything with ``decision_function``) and a note for the results."""
    if method in ("xgbod", "pyod_devnet"):
        with contextlib.redirect_stdout(io.StringIO()):
            if method == "xgbod":
                from pyod.models.xgbod import XGBOD

                return XGBOD(random_state=seed, n_jobs=1).fit(X, known), ""
            from pyod.models.devnet import DevNet

            return DevNet(random_seed=seed, device="cpu").fit(X, known), ""
    if method == "auto":
        from metaad.meta.auto import AutoDetector

        det = AutoDetector(knowledge=knowledge, random_state=seed).fit(X, known)
        return det, json.dumps(det.ensemble_)
    from metaad.detectors.registry import make_detector

    params = {"pu_weighting": None} if method == "stacked_nopu" else {}
    name = "stacked" if method.startswith("stacked") else method
    return make_detector(name, random_state=seed, **params).fit(X, known), ""


def warm_up(methods: list[str], knowledge: str | None) -> None:
    """Fit every method once on a small synthetic table, untimed, so that no timed fit pays for the imports and
    numba's compilation (the first timed fit of a process took 12 s instead of 2 for XGBOD on vertebral)."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.uniform(size=(300, 5)), rng.uniform(0.8, 1.2, size=(15, 5))])
    known = np.r_[np.zeros(300), np.ones(6), np.zeros(9)].astype(int)
    for method in methods:
        with warnings.catch_warnings(), contextlib.suppress(Exception):
            warnings.simplefilter("ignore")
            fit_method(method, X, known, 0, knowledge)


def run(args: argparse.Namespace) -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from metaad.benchmark.datasets import discover_datasets, load_labelled
    from metaad.benchmark.store import ResultStore
    from metaad.meta.knowledge import load_knowledge
    from metaad.meta.lodo import held_out_group

    log = logging.getLogger("bench_semi")
    paths = discover_datasets([args.data])
    names = [d for d in args.datasets.split(",") if d in paths]
    seeds = [int(s) for s in args.seeds.split(",")]
    labels = [int(k) for k in args.labels.split(",")]
    methods = args.methods.split(",")
    store = ResultStore(args.out.split(",")[0])
    done = store.completed_keys()
    kb = load_knowledge(args.knowledge) if "auto" in methods else None
    with store.writing(), tempfile.TemporaryDirectory() as tmp:
        warm_up(methods, args.knowledge)
        for name in names:
            todo = [(f"{m}/{k}", s) for s in seeds for k in labels for m in methods if (name, f"{m}/{k}", s, 0) not in done]
            if not todo:
                continue
            folder = None
            if kb is not None:
                folder = Path(tmp) / name
                kb.drop_datasets(held_out_group(kb, name)).save(folder)  # the knowledge without this dataset's group
            X, y = load_labelled(str(paths[name]))
            for seed in seeds:
                X_train, X_test, y_train, y_test = split(X, y, seed, args.max_train)
                for k in labels:
                    known = known_anomalies(y_train, k, seed)
                    for method in methods:
                        key = f"{method}/{k}"
                        if (name, key, seed, 0) in done:
                            continue
                        row = {"dataset": name, "config_id": key, "family": method, "seed": seed, "n_rows": 0,
                               "params_json": json.dumps({"k": k, "n_train": len(X_train)}), "message": ""}
                        try:
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore")
                                t0 = time.perf_counter()
                                det, note = fit_method(method, X_train, known, seed, None if folder is None else str(folder))
                                t1 = time.perf_counter()
                                scores = det.decision_function(X_test)
                            row.update(auroc=float(roc_auc_score(y_test, scores)),
                                       average_precision=float(average_precision_score(y_test, scores)),
                                       fit_seconds=t1 - t0, score_seconds=time.perf_counter() - t1, status="ok", message=note)
                        except Exception as exc:  # noqa: BLE001  (recorded; the benchmark goes on)
                            row.update(status="error", message=f"{type(exc).__name__}: {exc}"[:500])
                        store.append(row)
                        log.info("%s seed %d %s: %s %.3f (%.1f s)", name, seed, key, row["status"],
                                 row.get("auroc", float("nan")), row.get("fit_seconds", float("nan")))
        store.consolidate()


def summarize(args: argparse.Namespace) -> str:
    """Mean test AUROC / AP / fit seconds per method and k, over the (dataset, seed) runs every method finished
    (PyOD's DevNet, stopped early, on its own line)."""
    from metaad.benchmark.store import load_results

    stores = args.out.split(",")
    runs = pd.concat([load_results(out) for out in stores if Path(out).exists() or Path(out + ".journal.jsonl").exists()],
                     ignore_index=True)
    runs = runs[runs["status"] == "ok"].copy()
    runs["k"] = runs["config_id"].str.split("/").str[1].astype(int)
    runs["method"] = runs["config_id"].str.split("/").str[0]
    side = runs[runs["method"] == "pyod_devnet"]
    runs = runs[runs["method"] != "pyod_devnet"]
    lines = []
    slow = runs["method"].isin(["auto", "devnet"])  # run apart (auto is slow): fewer datasets may have finished
    fast_runs = set(zip(runs.loc[~slow, "dataset"], runs.loc[~slow, "seed"], runs.loc[~slow, "k"]))
    slow_runs = set(zip(runs.loc[slow, "dataset"], runs.loc[slow, "seed"], runs.loc[slow, "k"]))
    for label, chosen in (("every method", runs), ("the faster methods against XGBOD (more runs finished)", runs[~slow])):
        if label != "every method" and (not slow.any() or fast_runs <= slow_runs):
            continue
        lines += [f"## {label}", ""]
        lines += _tables(chosen, side if label == "every method" else side.iloc[:0])
    auto = runs[runs["method"] == "auto"]
    if not auto.empty:
        lines += ["## what `auto` chose", ""]
        for k, part in auto.groupby("k"):
            counts = part["message"].map(lambda m: ",".join(json.loads(m)) if m.startswith("[") else m).value_counts()
            lines.append(f"* k = {k}: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
        lines.append("")
    text = "\n".join(lines)
    if args.summary:
        Path(args.summary).write_text(text + "\n")
    return text


def _tables(runs: pd.DataFrame, side: pd.DataFrame) -> list[str]:
    lines = []
    for k, part in runs.groupby("k"):
        wide = part.pivot_table(index=["dataset", "seed"], columns="method", values=["auroc", "average_precision", "fit_seconds"])
        wide = wide.dropna()  # (dataset, seed) pairs every method finished
        per = wide.groupby(level="dataset").mean()
        auroc, ap, fit = per["auroc"], per["average_precision"], per["fit_seconds"]
        n_runs = wide.groupby(level="dataset").size()
        lines += [f"### k = {k} known anomalies: {len(per)} datasets, {len(wide)} (dataset, seed) runs", "",
                  "| method | mean test AUROC | vs XGBOD | datasets above XGBOD | mean AP | mean fit s | fit time / XGBOD's (median over datasets) |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for method in auroc.columns:
            diff = auroc[method] - auroc["xgbod"]
            ratio = (fit[method] / fit["xgbod"]).median()
            lines.append(f"| {method} | {auroc[method].mean():.4f} | {diff.mean():+.4f} | {int((diff > 0).sum())} | "
                         f"{ap[method].mean():.4f} | {fit[method].mean():.1f} | {ratio:.2f} |")
        lines += ["", "| dataset (seeds) | " + " | ".join(auroc.columns) + " |", "|---|" + "---:|" * len(auroc.columns)]
        for dataset, values in auroc.iterrows():
            lines.append(f"| {dataset} ({n_runs[dataset]}) | " + " | ".join(f"{v:.3f}" for v in values) + " |")
        lines.append("")
        pyod = side[side["k"] == k]
        if not pyod.empty:
            both = pyod.merge(part[part["method"] == "xgbod"], on=["dataset", "seed"], suffixes=("", "_xgbod"))
            lines += [f"PyOD DevNet (k = {k}, {both['dataset'].nunique()} datasets, {len(both)} runs): mean AUROC "
                      f"{both['auroc'].mean():.4f} against XGBOD's {both['auroc_xgbod'].mean():.4f} on the same runs.", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/tabular")
    parser.add_argument("--knowledge", default=None, help="knowledge base folder (default: the shipped one)")
    parser.add_argument("--datasets", default=DEFAULT_DATASETS)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--labels", default="5,20", help="known anomalies k")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--max-train", type=int, default=35_000, help="cap on training rows (50,000-row tables)")
    parser.add_argument("--out", default="benchmarks/results/semi_runs.parquet",
                        help="results store (runs append to the first; the summary reads every comma-separated one)")
    parser.add_argument("--summary", default="benchmarks/results/semi.md")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not args.summary_only:
        run(args)
    print(summarize(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
