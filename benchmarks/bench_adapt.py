"""Adaptation after an abrupt drift, and streaming detection against River's HalfSpaceTrees, on streams built
from shared real datasets (:func:`bench_drift.make_stream`), in one run each.

Part ``adapt`` (issue target: after an abrupt drift, fine-tune or meta-init recovers to within 0.02 AUROC of a
detector refitted on the new distribution's full data within two windows, at a fraction of refit's time).
Stream: a reference window and 12 windows of 500 rows, 5% anomalies (the dataset's anomaly class); from
window 6 on, 30% of the features move by 2 standard deviations (anomalies too). One ``autoencoder``
(defaults, seeded) is fitted on the reference window; the shipped ``StreamDetector`` then runs with each policy
(``none``, ``refit``, ``finetune`` (20 steps), ``meta`` (20 steps from a Reptile initialization meta-trained on
k-means segments of the reference window)). The **oracle** is an ``autoencoder`` with the same parameters fitted
on 5,000 rows of the drifted distribution drawn apart from the stream (other seed, same moved features).
Reported: AUROC of each window's scores (each row scored by the model current when it arrived), at the first
and second window after the change window, and the seconds each adaptation took.

Part ``streaming``: the same kind of streams without drift and with the abrupt drift, 3 datasets; mean AUROC
over the windows and rows per second of ``StreamDetector(iforest, adapt="refit")`` and
``StreamDetector(autoencoder, adapt="finetune")`` against River's ``HalfSpaceTrees`` (10 trees, height 8,
window 250, feature limits from the reference window; ``score_one`` then ``learn_one`` per row, after learning
the reference window).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_adapt.py --part adapt
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_adapt.py --part streaming
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))
from _results import append_row  # noqa: E402
from bench_drift import load, make_stream, markdown  # noqa: E402

import metaad  # noqa: E402
from metaad.adapt import StreamDetector  # noqa: E402

RESULTS = Path(__file__).parent / "results"
WINDOW, N_WINDOWS, CHANGE = 500, 12, 6
MACHINE = f"{platform.machine()} {platform.system()}"


def window_aurocs(scores: np.ndarray, labels: np.ndarray) -> list[float | None]:
    out = []
    for w in range(len(scores) // WINDOW):
        y, s = labels[w * WINDOW : (w + 1) * WINDOW], scores[w * WINDOW : (w + 1) * WINDOW]
        out.append(float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else None)
    return out


def autoencoder(seed: int) -> metaad.BaseDetector:
    return metaad.make_detector("autoencoder", random_state=seed, n_threads=1)


def part_adapt(datasets: list[str], seeds: int, out: Path) -> None:
    done = set(zip(*[pd.read_csv(out)[c] for c in ("dataset", "seed")])) if out.exists() else set()
    for name in datasets:
        X, y = load(name)
        for seed in range(seeds):
            if (name, seed) in done:
                continue
            kw = dict(window=WINDOW, n_windows=N_WINDOWS, change=CHANGE, rate=0.05, shift=2.0, moved_seed=seed)
            rows, labels, change_row = make_stream(X, y, "abrupt", seed, **kw)
            reference, stream, stream_labels = rows[:WINDOW], rows[WINDOW:], labels[WINDOW:]
            other, _, other_change = make_stream(X, y, "abrupt", seed + 100, **{**kw, "n_windows": 2 * N_WINDOWS})
            drifted = other[other_change:][:5000]
            start = time.perf_counter()
            oracle = autoencoder(seed).fit(drifted)
            oracle_seconds = time.perf_counter() - start
            oracle_auroc = window_aurocs(oracle.decision_function(stream), stream_labels)
            start = time.perf_counter()
            base = autoencoder(seed).fit(reference)
            base_seconds = time.perf_counter() - start
            change_window = CHANGE
            results = {"oracle": (oracle_auroc, oracle_seconds, [])}
            for policy in ("none", "refit", "finetune", "meta"):
                sd = StreamDetector(copy.deepcopy(base), window=WINDOW, adapt=policy, finetune_steps=20, random_state=seed)
                start = time.perf_counter()
                sd.fit(reference)
                setup = time.perf_counter() - start  # the meta-training of "meta"
                scores, _, reports = sd.process(stream)
                adapt_seconds = [r.adapt_seconds for r in reports if r.adapted]
                results[policy] = (window_aurocs(scores, stream_labels), setup, adapt_seconds)
            for method, (aurocs, setup, adapt_seconds) in results.items():
                append_row(out, {
                    "dataset": name, "seed": seed, "method": method,
                    "auroc_before": np.mean([a for a in aurocs[:change_window] if a is not None]),
                    "auroc_change": aurocs[change_window], "auroc_next1": aurocs[change_window + 1],
                    "auroc_next2": aurocs[change_window + 2],
                    "auroc_after_mean": np.mean([a for a in aurocs[change_window + 1 :] if a is not None]),
                    "n_adaptations": len(adapt_seconds), "adapt_seconds_first": adapt_seconds[0] if adapt_seconds else None,
                    "setup_seconds": round(setup, 3), "base_fit_seconds": round(base_seconds, 3), "machine": MACHINE,
                })
            print(f"adapt {name} seed {seed}: " + ", ".join(f"{m} {r[0][change_window + 1]:.3f}" for m, r in results.items()), flush=True)
    frame = pd.read_csv(out)
    table = frame.groupby("method", sort=False)[["auroc_before", "auroc_change", "auroc_next1", "auroc_next2", "auroc_after_mean",
                                                 "adapt_seconds_first", "setup_seconds"]].mean().round(4).reset_index()
    oracle = frame[frame.method == "oracle"].set_index(["dataset", "seed"])
    gaps = []
    for method in ("finetune", "meta", "refit", "none"):
        part = frame[frame.method == method].set_index(["dataset", "seed"])
        best = np.maximum(part["auroc_next1"], part["auroc_next2"]) - oracle.loc[part.index, "auroc_next2"].combine(
            oracle.loc[part.index, "auroc_next1"], max)
        gaps.append(f"{method}: within 0.02 of the oracle by the second window after the change in "
                    f"{int((best >= -0.02).sum())}/{len(best)} streams (worst gap {best.min():+.3f})")
    text = markdown(table)
    (out.with_suffix(".md")).write_text(
        f"# Adaptation after an abrupt drift (benchmarks/bench_adapt.py --part adapt)\n\n"
        f"`OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_adapt.py --part adapt` on {MACHINE}, "
        f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%d}; datasets {', '.join(frame.dataset.unique())}, {frame.seed.nunique()} seed(s); "
        f"windows of {WINDOW} rows; mean over streams. auroc_change is the window in which the drift starts (scored by the old "
        f"model; adaptation happens at its end); next1/next2 the two windows after it.\n\n{text}\n\n" + "\n".join(f"- {g}" for g in gaps) + "\n")
    print(text)
    print("\n".join(gaps))


def part_streaming(datasets: list[str], seeds: int, out: Path) -> None:
    from river import anomaly

    done = set(zip(*[pd.read_csv(out)[c] for c in ("dataset", "kind", "seed")])) if out.exists() else set()
    for name in datasets:
        X, y = load(name)
        for kind in ("none", "abrupt"):
            for seed in range(seeds):
                if (name, kind, seed) in done:
                    continue
                rows, labels, _ = make_stream(X, y, kind, seed, window=WINDOW, n_windows=N_WINDOWS, change=CHANGE, rate=0.05,
                                              shift=2.0, moved_seed=seed)
                reference, stream, stream_labels = rows[:WINDOW], rows[WINDOW:], labels[WINDOW:]
                results = {}
                for method, det, policy in (("metaad iforest+refit", metaad.make_detector("iforest", random_state=seed), "refit"),
                                            ("metaad autoencoder+finetune", autoencoder(seed), "finetune")):
                    start = time.perf_counter()
                    sd = StreamDetector(det, window=WINDOW, adapt=policy, random_state=seed).fit(reference)
                    scores, _, _ = sd.process(stream)
                    seconds = time.perf_counter() - start
                    results[method] = (scores, seconds)
                low, high = reference.min(0), reference.max(0)
                start = time.perf_counter()
                hst = anomaly.HalfSpaceTrees(n_trees=10, height=8, window_size=250, seed=seed,
                                             limits={j: (float(low[j]), float(high[j]) if high[j] > low[j] else float(low[j]) + 1.0) for j in range(X.shape[1])})
                for row in reference:
                    hst.learn_one(dict(enumerate(row)))
                hst_scores = np.empty(len(stream))
                for i, row in enumerate(stream):
                    x = dict(enumerate(row))
                    hst_scores[i] = hst.score_one(x)
                    hst.learn_one(x)
                results["river HalfSpaceTrees"] = (hst_scores, time.perf_counter() - start)
                for method, (scores, seconds) in results.items():
                    aurocs = [a for a in window_aurocs(scores, stream_labels) if a is not None]
                    append_row(out, {"dataset": name, "kind": kind, "seed": seed, "method": method,
                                     "mean_window_auroc": round(float(np.mean(aurocs)), 4), "rows_per_s": round(len(stream) / seconds, 1),
                                     "machine": MACHINE})
                print(f"streaming {name} {kind} seed {seed}: " + ", ".join(
                    f"{m} {np.mean([a for a in window_aurocs(s, stream_labels) if a is not None]):.3f}" for m, (s, _) in results.items()), flush=True)
    frame = pd.read_csv(out)
    table = frame.pivot_table(index=["kind", "method"], values=["mean_window_auroc", "rows_per_s"], aggfunc="mean").round(3).reset_index()
    text = markdown(table)
    (out.with_suffix(".md")).write_text(
        f"# Streaming detection against River's HalfSpaceTrees (benchmarks/bench_adapt.py --part streaming)\n\n"
        f"`OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_adapt.py --part streaming` on {MACHINE}, "
        f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%d}; datasets {', '.join(frame.dataset.unique())}, {frame.seed.nunique()} seed(s); "
        f"mean over streams of the mean AUROC over windows of {WINDOW} rows.\n\n{text}\n")
    print(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("adapt", "streaming"), required=True)
    parser.add_argument("--datasets", default="satellite,magic.gamma,shuttle")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", UserWarning)
    datasets = args.datasets.split(",")
    if args.part == "adapt":
        part_adapt(datasets, args.seeds, args.out or RESULTS / "adapt.csv")
    else:
        part_streaming(datasets, args.seeds, args.out or RESULTS / "adapt_streaming.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
