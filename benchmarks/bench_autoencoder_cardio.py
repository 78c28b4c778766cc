"""The autoencoder learns: test AUROC/AP on cardio (README protocol) and its training loss, per seed.

Run::

    .venv/bin/python benchmarks/bench_autoencoder_cardio.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

import metaad

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def main() -> None:
    torch.set_num_threads(1)
    data = np.load(SHARED / "tabular" / "cardio.npz")
    X, y = data["X"], data["y"].astype(int).ravel()
    print("| seed | test AUROC | test AP | epochs | first-epoch loss | best-epoch loss | fit s |")
    print("|---|---|---|---|---|---|---|")
    aurocs, aps = [], []
    for seed in (0, 1, 2):
        X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
        start = time.perf_counter()
        det = metaad.make_detector("autoencoder", random_state=seed).fit(X_train)
        fit_seconds = time.perf_counter() - start
        scores = det.decision_function(X_test)
        aurocs.append(roc_auc_score(y_test, scores))
        aps.append(average_precision_score(y_test, scores))
        h = det.history_
        print(f"| {seed} | {aurocs[-1]:.4f} | {aps[-1]:.4f} | {len(h.train_loss)} | {h.train_loss[0]:.4f} | "
              f"{h.train_loss[h.best_epoch]:.4f} | {fit_seconds:.2f} |")
    print(f"| mean | {np.mean(aurocs):.4f} | {np.mean(aps):.4f} | | | | |")


if __name__ == "__main__":
    main()
