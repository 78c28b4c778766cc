"""Speed of the shipped ``auto`` against Isolation Forest at its defaults, in one process, on generated tables.

For each table (50,000 x 30 and 2,000,000 x 20 by default: a Gaussian mixture of 5 correlated modes with 1%
of rows shifted as anomalies), one run each, in this order: ``iforest`` fit, ``auto`` fit, and the scoring speed
(rows per second of ``decision_function`` on the whole table) of both; then ``auto.fit(X, y)`` with 5 known
anomalies on a 35,000 x 30 table. Torch and BLAS use one thread (as the benchmark workers do). Unless
``--cold``, both are first fitted once on a small table of the same width, so that one-off imports are not
counted (the first ``torch.optim`` optimizer of a process imports ``torch._dynamo``, 1.5-6 s). Appends one row
per measurement to ``benchmarks/results/auto_speed.csv`` and prints the table for BENCHMARKS.md.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_auto_speed.py
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _results import append_row  # noqa: E402


COLUMNS = ("table", "iforest_fit_s", "auto_fit_s", "ratio", "auto_chose", "auto_rows_per_s", "iforest_rows_per_s",
           "auroc_auto", "auroc_iforest", "machine")


def make_table(n_rows: int, n_cols: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=4, size=(5, n_cols))
    mixing = rng.normal(size=(n_cols, n_cols)) / np.sqrt(n_cols)
    X = centers[rng.randint(0, 5, n_rows)] + rng.standard_normal((n_rows, n_cols)).astype(np.float64) @ mixing
    y = np.zeros(n_rows, dtype=int)
    y[rng.choice(n_rows, n_rows // 100, replace=False)] = 1
    X[y == 1] += rng.choice([-6.0, 6.0], size=(int(y.sum()), n_cols))
    return X, y


def timed(fn):  # noqa: ANN001, ANN201
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="50000x30,2000000x20")
    parser.add_argument("--labels-table", default="35000x30")
    parser.add_argument("--out", default="benchmarks/results/auto_speed.csv")
    parser.add_argument("--cold", action="store_true", help="no warm-up fit: one-off import costs are counted")
    args = parser.parse_args(argv)

    import torch
    from sklearn.metrics import roc_auc_score

    import metaad

    torch.set_num_threads(1)
    machine = f"{platform.machine()}, {torch.get_num_threads()} torch thread" + ("" if args.cold else ", warm")
    lines = ["| table | iforest fit s | auto fit s | ratio | auto chose | auto scores rows/s | iforest rows/s | "
             "AUROC auto / iforest |", "|---|---:|---:|---:|---|---:|---:|---|"]
    for spec in filter(None, args.tables.split(",")):  # --tables "" measures only the labelled fit
        n, d = (int(v) for v in spec.split("x"))
        X, y = make_table(n, d)
        if not args.cold:  # one-off imports out of the timings
            small = make_table(3000, d, seed=2)[0]
            metaad.make_detector("iforest", random_state=0).fit(small)
            metaad.make_detector("auto", random_state=0).fit(small)
        forest, t_forest = timed(lambda: metaad.make_detector("iforest", random_state=0).fit(X))
        auto, t_auto = timed(lambda: metaad.make_detector("auto", random_state=0).fit(X))
        s_auto, t_sa = timed(lambda: auto.decision_function(X))
        s_forest, t_sf = timed(lambda: forest.decision_function(X))
        row = {"table": spec, "iforest_fit_s": round(t_forest, 2), "auto_fit_s": round(t_auto, 2),
               "ratio": round(t_auto / t_forest, 2), "auto_chose": "+".join(auto.ensemble_),
               "auto_rows_per_s": round(n / t_sa), "iforest_rows_per_s": round(n / t_sf),
               "auroc_auto": round(roc_auc_score(y, s_auto), 4), "auroc_iforest": round(roc_auc_score(y, s_forest), 4),
               "machine": machine}
        append_row(Path(args.out), row, COLUMNS)
        lines.append(f"| {spec} | {row['iforest_fit_s']} | {row['auto_fit_s']} | {row['ratio']} | {row['auto_chose']} | "
                     f"{row['auto_rows_per_s']:,} | {row['iforest_rows_per_s']:,} | {row['auroc_auto']} / {row['auroc_iforest']} |")
        print(lines[-1], flush=True)
    n, d = (int(v) for v in args.labels_table.split("x"))
    X, y = make_table(n, d, seed=1)
    known = np.zeros(n, dtype=int)
    known[np.flatnonzero(y == 1)[:5]] = 1
    if not args.cold:  # the labelled path's own one-off imports (the semi-supervised detectors) out of the timing
        small, small_y = make_table(3000, d, seed=2)
        metaad.make_detector("auto", random_state=0).fit(small, ((small_y == 1) & (np.cumsum(small_y) <= 5)).astype(int))
    auto, t_auto = timed(lambda: metaad.make_detector("auto", random_state=0).fit(X, known))
    row = {"table": f"{args.labels_table} fit(X, y) 5 known", "auto_fit_s": round(t_auto, 2),
           "auto_chose": "+".join(auto.ensemble_), "auroc_auto": round(roc_auc_score(y, auto.decision_scores_), 4),
           "machine": machine}
    append_row(Path(args.out), row, COLUMNS)
    lines.append(f"| {row['table']} | | {row['auto_fit_s']} | | {row['auto_chose']} | | | {row['auroc_auto']} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
