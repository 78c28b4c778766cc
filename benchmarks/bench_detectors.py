"""Every issue-2 detector on the ../shared tabular datasets (≤ 20,000 rows) beside PyOD's own detector.

Protocol (../shared/datasets/README.md): for seeds 0, 1, 2 a stratified 70/30 split, fit on the training
part without labels, standard scaling fit on the training part only, AUROC and average precision on the
test part. metaad's detector and PyOD's counterpart (at its defaults) see exactly the same scaled arrays in
the same process, so the ratios are fair on a noisy machine. Results are appended per trial to a CSV, so an
interrupted run resumes where it stopped.

Run::

    .venv/bin/python benchmarks/bench_detectors.py --out benchmarks/results/detectors.csv
    .venv/bin/python benchmarks/bench_detectors.py --summarize benchmarks/results/detectors.csv
"""

from __future__ import annotations

import argparse
import csv
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

import metaad

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DETECTORS = ("iforest", "ecod", "copod", "hbos", "knn", "lof", "ocsvm", "pca", "loda", "autoencoder")
FIELDS = ("dataset", "n_rows", "n_features", "detector", "seed", "impl", "auroc", "average_precision", "fit_seconds", "score_seconds")


def pyod_counterpart(name: str, seed: int):
    """PyOD's own detector for ``name`` at its default settings."""
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.loda import LODA
    from pyod.models.lof import LOF
    from pyod.models.ocsvm import OCSVM
    from pyod.models.pca import PCA

    return {
        "iforest": lambda: IForest(random_state=seed),
        "ecod": ECOD,
        "copod": COPOD,
        "hbos": HBOS,
        "knn": KNN,
        "lof": LOF,
        "ocsvm": OCSVM,
        "pca": lambda: PCA(random_state=seed),
        "loda": lambda: LODA(random_state=seed),
        "autoencoder": lambda: AutoEncoder(random_state=seed, verbose=0),
    }[name]()


def datasets(max_rows: int) -> list[str]:
    index = pd.read_csv(SHARED / "INDEX.tsv", sep="\t")
    index = index[index["file"].str.startswith("tabular/") & (index["n_samples"] <= max_rows)]
    return sorted(index["name"])


def one_trial(name: str, dataset: str, seed: int, impl: str) -> dict:
    data = np.load(SHARED / "tabular" / f"{dataset}.npz")
    X, y = data["X"].astype(np.float64), data["y"].astype(int).ravel()
    X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std[std == 0] = 1.0
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    det = metaad.make_detector(name, random_state=seed) if impl == "metaad" else pyod_counterpart(name, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        det.fit(X_train)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        scores = np.nan_to_num(np.asarray(det.decision_function(X_test), dtype=np.float64), nan=0.0, posinf=1e300, neginf=-1e300)
        score_seconds = time.perf_counter() - start
    return {
        "dataset": dataset, "n_rows": X.shape[0], "n_features": X.shape[1], "detector": name, "seed": seed, "impl": impl,
        "auroc": roc_auc_score(y_test, scores), "average_precision": average_precision_score(y_test, scores),
        "fit_seconds": fit_seconds, "score_seconds": score_seconds,
    }


def run(out: Path, max_rows: int, seeds: list[int], detectors: list[str]) -> None:
    torch.set_num_threads(1)
    done = set()
    if out.exists():
        done = {(r["dataset"], r["detector"], int(r["seed"]), r["impl"]) for r in csv.DictReader(out.open())}
    out.parent.mkdir(parents=True, exist_ok=True)
    new_file = not out.exists()
    with out.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        for dataset in datasets(max_rows):
            for name in detectors:
                for seed in seeds:
                    for impl in ("metaad", "pyod"):
                        if (dataset, name, seed, impl) in done:
                            continue
                        row = one_trial(name, dataset, seed, impl)
                        writer.writerow(row)
                        handle.flush()
                        os.fsync(handle.fileno())


def summarize(path: Path) -> str:
    results = pd.read_csv(path)
    mean = results.groupby(["detector", "impl"])[["auroc", "average_precision", "fit_seconds", "score_seconds"]].mean().unstack("impl")
    n_sets = results.groupby("detector")["dataset"].nunique()
    lines = [
        "| detector | datasets | AUROC metaad | AUROC PyOD | AP metaad | AP PyOD | fit s metaad | fit s PyOD | fit ratio PyOD/metaad | score s metaad | score s PyOD |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for det in mean.index:
        m = mean.loc[det]
        lines.append(
            f"| {det} | {n_sets[det]} | {m[('auroc', 'metaad')]:.4f} | {m[('auroc', 'pyod')]:.4f} | "
            f"{m[('average_precision', 'metaad')]:.4f} | {m[('average_precision', 'pyod')]:.4f} | "
            f"{m[('fit_seconds', 'metaad')]:.3f} | {m[('fit_seconds', 'pyod')]:.3f} | "
            f"{m[('fit_seconds', 'pyod')] / m[('fit_seconds', 'metaad')]:.2f} | "
            f"{m[('score_seconds', 'metaad')]:.4f} | {m[('score_seconds', 'pyod')]:.4f} |"
        )
    per_dataset = results.groupby(["dataset", "detector", "impl"])["auroc"].mean().unstack(["detector", "impl"])
    lines += ["", "Per-dataset test AUROC (mean over seeds), metaad / PyOD:", ""]
    dets = sorted(results["detector"].unique())
    lines.append("| dataset | " + " | ".join(dets) + " |")
    lines.append("|---" * (len(dets) + 1) + "|")
    for dataset, row in per_dataset.iterrows():
        cells = [f"{row.get((d, 'metaad'), float('nan')):.3f} / {row.get((d, 'pyod'), float('nan')):.3f}" for d in dets]
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/detectors.csv"))
    parser.add_argument("--max-rows", type=int, default=20_000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    parser.add_argument("--summarize", type=Path, default=None)
    args = parser.parse_args()
    if args.summarize:
        print(summarize(args.summarize))
        return
    run(args.out, args.max_rows, [int(s) for s in args.seeds.split(",")], args.detectors.split(","))
    print(summarize(args.out))


if __name__ == "__main__":
    main()
