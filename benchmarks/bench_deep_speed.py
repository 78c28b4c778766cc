"""Speed and AUROC of metaad's deep detectors against PyOD's, same data, same machine, one torch thread.

Usage: nice -n 10 .venv/bin/python benchmarks/bench_deep_speed.py shuttle cover --pyod-epoch-cap cover=2
Writes benchmarks/results/deep_speed.csv (one row per dataset × pair). Protocol: seed-0 stratified 70/30
split, fit on the training part without labels, AUROC on the test part. Both libraries at their defaults
unless an epoch cap is given for a dataset (stated in the output).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _results import append_row
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import metaad

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tabular"
OUT = Path(__file__).resolve().parent / "results" / "deep_speed.csv"


def pyod_model(name: str, n_features: int, cap: int | None):
    if name == "autoencoder":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(verbose=0, **({"epoch_num": cap} if cap else {}))
    if name == "vae":
        from pyod.models.vae import VAE

        return VAE(verbose=0, **({"epoch_num": cap} if cap else {}))
    from pyod.models.deep_svdd import DeepSVDD

    return DeepSVDD(n_features=n_features, verbose=0, random_state=0, **({"epochs": cap} if cap else {}))


def timed(model, X_train, X_test):
    start = time.perf_counter()
    model.fit(X_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = model.decision_function(X_test)
    return fit_s, time.perf_counter() - start, scores


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datasets", nargs="+")
    parser.add_argument("--detectors", default="autoencoder,deep_svdd,vae")
    parser.add_argument("--pyod-epoch-cap", action="append", default=[], help="dataset=epochs for PyOD")
    args = parser.parse_args()
    caps = {k: int(v) for k, v in (c.split("=") for c in args.pyod_epoch_cap)}
    torch.set_num_threads(1)
    rows = []
    for ds in args.datasets:
        data = np.load(DATA / f"{ds}.npz")
        X, y = data["X"].astype(np.float64), data["y"].astype(int).ravel()
        X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
        for name in args.detectors.split(","):
            ours = metaad.make_detector(name, random_state=0, n_threads=1)
            o_fit, o_score, o_s = timed(ours, X_train, X_test)
            theirs = pyod_model(name, X.shape[1], caps.get(ds))
            torch.set_num_threads(1)
            p_fit, p_score, p_s = timed(theirs, X_train, X_test)
            row = {
                "dataset": ds, "n_rows": X.shape[0], "detector": name, "pyod_epoch_cap": caps.get(ds, ""),
                "metaad_fit_s": round(o_fit, 2), "metaad_score_s": round(o_score, 3), "metaad_auroc": round(roc_auc_score(y_test, o_s), 4),
                "metaad_epochs_run": len(ours.history_.train_loss),
                "pyod_fit_s": round(p_fit, 2), "pyod_score_s": round(p_score, 3), "pyod_auroc": round(roc_auc_score(y_test, p_s), 4),
                "fit_speedup": round(p_fit / o_fit, 1),
            }
            rows.append(row)
            print(row, flush=True)
            append_row(OUT, row)


if __name__ == "__main__":
    main()
