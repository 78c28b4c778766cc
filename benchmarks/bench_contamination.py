"""Contamination robustness: test AUROC as the share of anomalies in the training part grows from 0% to 20%.

For each dataset and seed: the README protocol's stratified 70/30 split (the test part is then capped at
5,000 rows by a stratified subsample with the same seed) fixes the **test part for every level**. The
training part's normal rows and anomalies are shuffled with the seed; ``N`` normal rows are kept, ``N`` =
min(normal training rows, 4 x anomalous training rows, 2,000) so that 20% is reachable with anomalies of
the training part only, and at contamination ``c`` the first ``round(c N / (1 - c))`` training anomalies are
added (the levels are nested: 5% holds the 2% anomalies). Every detector is fitted on the same rows without
labels at its defaults (``random_state`` = seed; metaad's deep detectors with one torch thread): metaad's
``autoencoder``, ``vae``, ``deep_svdd`` and ``iforest`` (``auto`` with ``--with-auto``), and in the same run
PyOD's ``IForest``, ``KNN``, ``ECOD`` and ``AutoEncoder`` (PyOD's defaults; AutoEncoder with ``verbose=0``).
Rows are appended to ``benchmarks/results/contamination.csv`` as they finish (a rerun skips what is there);
``benchmarks/results/contamination.md`` is rewritten from the CSV.

Run from the repository root::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_contamination.py
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import append_row  # noqa: E402

import metaad  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tabular"
RESULTS = Path(__file__).resolve().parent / "results"
CSV = RESULTS / "contamination.csv"
MD = RESULTS / "contamination.md"
MAX_NORMAL = 2000
MAX_TEST = 5000
LEVELS = (0.0, 0.02, 0.05, 0.10, 0.20)
COMMAND = "OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_contamination.py"
FIELDS = ["dataset", "detector", "contamination", "seed", "n_normal", "n_anomalies", "n_test", "auroc", "fit_s"]


def _pyod(name: str, seed: int) -> Any:
    if name == "pyod IForest":
        from pyod.models.iforest import IForest

        return IForest(random_state=seed)
    if name == "pyod KNN":
        from pyod.models.knn import KNN

        return KNN()
    if name == "pyod ECOD":
        from pyod.models.ecod import ECOD

        return ECOD()
    if name == "pyod AutoEncoder":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(random_state=seed, verbose=0)
    raise ValueError(f"unknown PyOD peer {name!r}")


def make(name: str, seed: int) -> Any:
    """An unfitted detector: metaad's by registry name, or a PyOD peer ("pyod NAME")."""
    if name.startswith("pyod "):
        return _pyod(name, seed)
    extra = {"n_threads": 1} if name in ("autoencoder", "vae", "deep_svdd") else {}
    return metaad.make_detector(name, random_state=seed, **extra)


def splits(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(normal training rows, anomalous training rows in the order they are added, test X, test y)."""
    data = np.load(DATA / f"{name}.npz")
    X, y = data["X"].astype(np.float64), data["y"].astype(int).ravel()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    if len(X_test) > MAX_TEST:
        X_test, _, y_test, _ = train_test_split(X_test, y_test, train_size=MAX_TEST, stratify=y_test, random_state=seed)
    rng = np.random.RandomState(seed)
    normal = X_train[rng.permutation(np.flatnonzero(y_train == 0))]
    anomalies = X_train[rng.permutation(np.flatnonzero(y_train == 1))]
    n_normal = min(len(normal), 4 * len(anomalies), MAX_NORMAL)
    return normal[:n_normal], anomalies, X_test, y_test


def run(datasets: list[str], detectors: list[str], seeds: list[int], levels: tuple[float, ...], log: Callable[[str], None]) -> None:
    done = set()
    if CSV.exists():
        with CSV.open() as f:
            done = {(r["dataset"], r["detector"], float(r["contamination"]), int(r["seed"])) for r in csv.DictReader(f)}
    for name in datasets:
        for seed in seeds:
            normal, anomalies, X_test, y_test = splits(name, seed)
            for level in levels:
                n_anomalies = int(round(level * len(normal) / (1 - level)))
                X_train = np.vstack([normal, anomalies[:n_anomalies]])
                for detector in detectors:
                    if (name, detector, level, seed) in done:
                        continue
                    start = time.perf_counter()
                    model = make(detector, seed).fit(X_train)
                    fit_s = time.perf_counter() - start
                    auroc = roc_auc_score(y_test, model.decision_function(X_test))
                    row = {"dataset": name, "detector": detector, "contamination": level, "seed": seed, "n_normal": len(normal),
                           "n_anomalies": n_anomalies, "n_test": len(X_test), "auroc": round(float(auroc), 4), "fit_s": round(fit_s, 2)}
                    append_row(CSV, row, FIELDS)
                    log(str(row))


def report() -> None:
    """Rewrite contamination.md from the CSV: mean AUROC over datasets and seeds per detector and level."""
    with CSV.open() as f:
        rows = list(csv.DictReader(f))
    detectors = list(dict.fromkeys(r["detector"] for r in rows))
    levels = sorted({float(r["contamination"]) for r in rows})
    datasets = sorted({r["dataset"] for r in rows})
    cell: dict[tuple[str, str, float], list[float]] = {}
    for r in rows:
        cell.setdefault((r["dataset"], r["detector"], float(r["contamination"])), []).append(float(r["auroc"]))

    def dataset_mean(det: str, level: float) -> tuple[float, int]:
        means = [float(np.mean(cell[(ds, det, level)])) for ds in datasets if (ds, det, level) in cell]
        return (float(np.mean(means)) if means else float("nan")), len(means)

    head = "| detector | " + " | ".join(f"{lv:.0%}" for lv in levels) + " | 0% → 20% | fit s (mean) |"
    lines = ["# Contamination robustness (AUROC as training contamination grows)", "",
             f"Command: `{COMMAND}`" + (f", then `{COMMAND} --with-auto` (resumes; adds auto)" if "auto" in detectors else "")
             + " (from the repository root).", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs, torch {torch.__version__}; "
             f"written {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.", "",
             (__doc__ or "").split("\n\n")[1].replace("\n", " "), "",
             f"Test AUROC, mean over the seeds ({', '.join(sorted({r['seed'] for r in rows}))}) then over the datasets "
             f"({', '.join(datasets)}); a detector's row is complete only where every dataset ran.", "",
             "## Mean over the datasets", "", head, "|---|" + "---|" * (len(levels) + 2)]
    for det in detectors:
        values = [dataset_mean(det, lv) for lv in levels]
        fit_s = np.mean([float(r["fit_s"]) for r in rows if r["detector"] == det])
        change = values[-1][0] - values[0][0] if levels[0] == 0.0 and levels[-1] == 0.2 else float("nan")
        counts = {n for _, n in values}
        note = "" if counts == {len(datasets)} else f" (datasets: {sorted(counts)})"
        lines.append(f"| {det}{note} | " + " | ".join(f"{v:.4f}" for v, _ in values) + f" | {change:+.4f} | {fit_s:.2f} |")
    lines += ["", "## Per dataset", "", "| dataset | detector | " + " | ".join(f"{lv:.0%}" for lv in levels) + " |",
              "|---|---|" + "---|" * len(levels)]
    sizes = {r["dataset"]: (r["n_normal"], r["n_test"]) for r in rows}
    for ds in datasets:
        for det in detectors:
            vals = [f"{np.mean(cell[(ds, det, lv)]):.4f}" if (ds, det, lv) in cell else "" for lv in levels]
            lines.append(f"| {ds} ({sizes[ds][0]} normal training rows, {sizes[ds][1]} test rows) | {det} | " + " | ".join(vals) + " |")
    MD.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[: 14 + len(detectors)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", default="cardio,thyroid,satellite,pendigits,shuttle")
    parser.add_argument("--detectors", default="autoencoder,vae,deep_svdd,iforest,pyod IForest,pyod KNN,pyod ECOD,pyod AutoEncoder")
    parser.add_argument("--with-auto", action="store_true", help="also metaad's auto (about 20 s a fit on two shared cores)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    if not args.report_only:
        detectors = args.detectors.split(",") + (["auto"] if args.with_auto else [])
        run(args.datasets.split(","), detectors, [int(s) for s in args.seeds.split(",")], LEVELS, lambda s: print(s, flush=True))
    report()


if __name__ == "__main__":
    main()
