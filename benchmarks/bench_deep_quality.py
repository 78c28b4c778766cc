"""AUROC / average precision of the deep detectors beside PyOD detectors on the tabular corpus (≤ 20,000 rows).

Usage: nice -n 10 .venv/bin/python benchmarks/bench_deep_quality.py --seeds 0 [--max-rows 20000]
Protocol (../shared/datasets/README.md): stratified 70/30 split per seed, fit on the training part without
labels, AUROC and AP on the test part. DevNet is semi-supervised: it sees 5 labelled training anomalies
(the first five by index) and is marked so. All detectors at their defaults, one torch thread.
Appends to benchmarks/results/deep_quality.csv; --summarize writes benchmarks/results/deep_quality.md.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _results import append_row
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

import metaad

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tabular"
OUT = Path(__file__).resolve().parent / "results" / "deep_quality.csv"
DETECTORS = ("autoencoder", "vae", "deep_svdd", "wgan", "devnet", "iforest", "ecod", "knn")


def datasets(max_rows: int) -> list[str]:
    names = []
    for path in sorted(DATA.glob("*.npz")):
        if path.stem.startswith(("legacy_", "odds_")):
            continue
        with np.load(path) as data:
            if data["X"].shape[0] <= max_rows:
                names.append(path.stem)
    return names


def run(seeds: list[int], max_rows: int, detectors: list[str]) -> None:
    torch.set_num_threads(1)
    done = set()
    if OUT.exists():
        done = {(r["dataset"], r["detector"], int(r["seed"])) for r in csv.DictReader(OUT.open())}
    for ds in datasets(max_rows):
        data = np.load(DATA / f"{ds}.npz")
        X, y = data["X"].astype(np.float64), data["y"].astype(int).ravel()
        for seed in seeds:
            X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
            for name in detectors:
                if (ds, name, seed) in done:
                    continue
                params = {"random_state": seed}
                if name in ("autoencoder", "vae", "deep_svdd", "wgan", "devnet"):
                    params["n_threads"] = 1
                det = metaad.make_detector(name, **params)
                labels = None
                if name == "devnet":
                    labels = np.zeros_like(y_train)
                    labels[np.flatnonzero(y_train == 1)[:5]] = 1
                start = time.perf_counter()
                det.fit(X_train, labels)
                fit_s = time.perf_counter() - start
                scores = det.decision_function(X_test)
                row = {
                    "dataset": ds, "detector": name, "seed": seed, "n_rows": X.shape[0],
                    "auroc": round(roc_auc_score(y_test, scores), 4),
                    "average_precision": round(average_precision_score(y_test, scores), 4), "fit_s": round(fit_s, 2),
                }
                append_row(OUT, row)
                print(row, flush=True)


def summarize() -> None:
    frame = pd.read_csv(OUT)
    seeds = frame.groupby(["dataset", "detector"])["seed"].nunique()
    table = frame.pivot_table(index="dataset", columns="detector", values="auroc", aggfunc="mean")
    cols = [c for c in DETECTORS if c in table.columns]
    table = table[cols]
    lines = ["| dataset | " + " | ".join(c + (" (5 labels)" if c == "devnet" else "") for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for ds, row in table.iterrows():
        best = row.max()
        cells = [("**%.3f**" if v == best else "%.3f") % v if pd.notna(v) else "–" for v in row]
        lines.append(f"| {ds} | " + " | ".join(cells) + " |")
    means = table.dropna().mean()
    lines.append(f"| mean over {len(table.dropna())} complete datasets | " + " | ".join(f"{means[c]:.3f}" for c in cols) + " |")
    ranks = table.dropna().rank(axis=1, ascending=False).mean()
    lines.append("| mean rank | " + " | ".join(f"{ranks[c]:.2f}" for c in cols) + " |")
    header = f"AUROC, mean over seeds {sorted(frame['seed'].unique().tolist())} (seeds per cell: {seeds.min()}–{seeds.max()}).\n\n"
    (OUT.parent / "deep_quality.md").write_text(header + "\n".join(lines) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-rows", type=int, default=20000)
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    parser.add_argument("--summarize", action="store_true")
    args = parser.parse_args()
    if args.summarize:
        summarize()
    else:
        run(args.seeds, args.max_rows, args.detectors.split(","))
