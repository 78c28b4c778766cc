"""MNIST one-class (Ruff et al. 2018 protocol): train on one digit's training images, test on all 10,000.

Usage: nice -n 10 .venv/bin/python benchmarks/bench_deep_mnist.py [--digits 0 1 ...] [--detectors autoencoder,deep_svdd,wgan]
       [--param autoencoder.n_epochs=30 --param autoencoder.max_steps=null]
Pixels are scaled to [0, 1], then each detector standardizes globally (one mean/std). CPU, one torch thread.
Epoch budgets (below) are chosen to fit all 10 digits in a CPU session; they are stated in the CSV.
Appends to benchmarks/results/deep_mnist.csv.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _results import append_row
from sklearn.metrics import roc_auc_score

import metaad
from metaad.data import load_mnist

MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "images" / "mnist"
OUT = Path(__file__).resolve().parent / "results" / "deep_mnist.csv"
BUDGETS = {
    "autoencoder": {"n_epochs": 5},
    "deep_svdd": {"n_epochs": 5, "pretrain_epochs": 5},
    "wgan": {"n_epochs": 5, "encoder_epochs": 3, "batch_size": 64},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--detectors", default="autoencoder,deep_svdd,wgan")
    parser.add_argument("--param", action="append", default=[],
                        help="override a budget: DETECTOR.KEY=VALUE (JSON value), e.g. autoencoder.max_steps=null")
    args = parser.parse_args()
    import json

    for item in args.param:
        target, _, raw = item.partition("=")
        det_name, _, key = target.partition(".")
        BUDGETS[det_name] = {**BUDGETS[det_name], key: json.loads(raw)}
    torch.set_num_threads(1)
    X_train, y_train = load_mnist(MNIST, "train")
    X_test, y_test = load_mnist(MNIST, "test")
    X_train, X_test = X_train.astype(np.float32) / 255, X_test.astype(np.float32) / 255
    for digit in args.digits:
        truth = (y_test != digit).astype(int)
        for name in args.detectors.split(","):
            det = metaad.make_detector(name, random_state=0, n_threads=1, **BUDGETS[name])
            start = time.perf_counter()
            det.fit(X_train[y_train == digit])
            fit_s = time.perf_counter() - start
            scores = det.decision_function(X_test)
            row = {"digit": digit, "detector": name, "auroc": round(roc_auc_score(truth, scores), 4), "fit_s": round(fit_s, 1),
                   "params": " ".join(f"{k}={v}" for k, v in BUDGETS[name].items())}
            if name == "wgan":
                row["auroc_critic_score"] = round(roc_auc_score(truth, det.critic_scores(X_test)), 4)
            append_row(OUT, row, ["digit", "detector", "auroc", "fit_s", "params", "auroc_critic_score"])
            print(row, flush=True)


if __name__ == "__main__":
    main()
