"""AUROC clean and under a PGD attack on the anomalies, for standard vs adversarially (PGD) trained detectors.

Usage: nice -n 10 .venv/bin/python benchmarks/bench_deep_robustness.py
epsilon is in standardized units (per-feature training std for cardio; the global pixel std for MNIST, where
pixels are in [0, 1] with std ≈ 0.31, so epsilon 0.1 ≈ 0.03 ≈ 8/255 in pixel units). Attack: 10 PGD steps
lowering each anomaly's score (metaad.evaluation.robust_auroc). Adversarial training: adversarial="pgd",
training epsilon = attack epsilon, 3 steps. Cardio: seed-0 stratified 70/30 split. MNIST: digit 0 normal.
Writes benchmarks/results/deep_robustness.csv.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

import metaad
from metaad.data import load_mnist
from metaad.evaluation import robust_auroc

ROOT = Path(__file__).resolve().parents[2] / "shared" / "datasets"
OUT = Path(__file__).resolve().parent / "results" / "deep_robustness.csv"


def main() -> None:
    torch.set_num_threads(1)
    data = np.load(ROOT / "tabular" / "cardio.npz")
    X, y = data["X"], data["y"].astype(int).ravel()
    X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    Xm, ym = load_mnist(ROOT / "images" / "mnist", "train")
    Xt, yt = load_mnist(ROOT / "images" / "mnist", "test")
    Xm, Xt = Xm.astype(np.float32) / 255, Xt.astype(np.float32) / 255
    cases = [
        ("cardio", "autoencoder", {}, X_train, X_test, y_test, (0.1, 0.3)),
        ("cardio", "deep_svdd", {}, X_train, X_test, y_test, (0.1, 0.3)),
        ("mnist_digit0", "autoencoder", {"n_epochs": 5}, Xm[ym == 0], Xt, (yt != 0).astype(int), (0.1,)),
    ]
    rows = []
    for ds, name, params, train, test, truth, epsilons in cases:
        for eps in epsilons:
            for training in ("standard", "pgd"):
                extra = {"adversarial": "pgd", "epsilon": eps} if training == "pgd" else {}
                start = time.perf_counter()
                det = metaad.make_detector(name, random_state=0, n_threads=1, **params, **extra).fit(train)
                fit_s = time.perf_counter() - start
                result = robust_auroc(det, test, truth, epsilon=eps, steps=10)
                row = {"dataset": ds, "detector": name, "training": training, "epsilon": eps,
                       "auroc_clean": round(result["auroc_clean"], 4), "auroc_attacked": round(result["auroc_attacked"], 4), "fit_s": round(fit_s, 1)}
                rows.append(row)
                print(row, flush=True)
    with OUT.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
