"""Drift detection on streams built from shared real datasets: the shipped StreamDetector's MMD tests against
River's drift detectors (ADWIN, KSWIN, PageHinkley) on the same stream of anomaly scores, in one run.

Streams (:func:`make_stream`): from a dataset's normal rows in random order with 2% of its anomalies mixed in;
a reference window, then ``n_windows`` windows of ``window`` rows; the change starts at window ``change``:

* ``none``: no change (every window is a null window);
* ``abrupt``: from the change, 30% of the features (drawn per stream) move by 0.5 of their standard deviation;
* ``gradual``: the same shift, growing linearly over 4 windows;
* ``new_mode``: from the change, 30% of the rows come from the dataset's other class (its anomaly class) as a
  new normal mode;
* ``rate``: the anomaly rate goes from 2% to 15%.

Ours: ``StreamDetector(iforest fitted on the reference window, adapt="none")`` with the permutation test (at
most 250 rows per window, 200 permutations) and with the linear-time test, at alpha = 0.05; a window alarms
when p < alpha. River's detectors (defaults) read the iforest score of every row; a window alarms when they
signal drift at least once in it. FPR = share of alarming windows before any change (all windows of ``none``
streams and the pre-change windows of the others); power = share of alarming windows after the change;
delay = rows from the change to the first alarm after it. alibi-detect is not installed here, so its
MMDDrift is not compared.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_drift.py            # writes results/drift.csv, drift.md
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _results import append_row  # noqa: E402

import metaad  # noqa: E402
from metaad.adapt import StreamDetector  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tabular"
RESULTS = Path(__file__).parent / "results"
DATASETS = ("shuttle", "magic.gamma", "satellite")
KINDS = ("none", "abrupt", "gradual", "new_mode", "rate")


def load(name: str, root: Path = SHARED) -> tuple[np.ndarray, np.ndarray]:
    data = np.load(root / f"{name}.npz")
    return np.asarray(data["X"], dtype=np.float64), data["y"].astype(int).ravel()


def make_stream(X: np.ndarray, y: np.ndarray, kind: str, seed: int, *, window: int = 250, n_windows: int = 16,
                change: int = 8, rate: float = 0.02, shift: float = 0.5, moved_seed: int | None = None,
                ) -> tuple[np.ndarray, np.ndarray, int]:
    """(rows, labels, first changed row); the first ``window`` rows are the reference window.

    ``shift`` is the move of the shifted features in standard deviations; ``moved_seed`` fixes which features
    move (so that two streams share one drift), else they are drawn from ``seed``'s generator.
    """
    rng = np.random.RandomState(seed)
    normal, anomalous = X[y == 0], X[y == 1]
    n = window * (n_windows + 1)
    change_row = window * (change + 1)
    post = np.arange(n) >= change_row
    rates = np.where(post & (kind == "rate"), 0.15, rate)
    labels = (rng.rand(n) < rates).astype(int)
    rows = normal[rng.choice(len(normal), n, replace=len(normal) < n)].copy()
    rows[labels == 1] = anomalous[rng.choice(len(anomalous), int(labels.sum()))]
    if kind == "new_mode":
        new = post & (labels == 0) & (rng.rand(n) < 0.3)
        rows[new] = anomalous[rng.choice(len(anomalous), int(new.sum()))]
    if kind in ("abrupt", "gradual"):
        chooser = rng if moved_seed is None else np.random.RandomState(moved_seed)
        moved = chooser.choice(X.shape[1], max(1, int(round(0.3 * X.shape[1]))), replace=False)
        ramp = np.clip((np.arange(n) - change_row + 1) / (4 * window), 0, 1) if kind == "gradual" else post.astype(float)
        rows[:, moved] += shift * normal[:, moved].std(0) * ramp[:, None]
    return rows, labels, change_row


def river_alarms(detector_cls, scores: np.ndarray, window: int) -> np.ndarray:  # noqa: ANN001
    """Rows (stream positions after the reference) where a River detector signals drift."""
    det = detector_cls()
    alarms = []
    for i, s in enumerate(scores):
        det.update(float(s))
        if det.drift_detected:
            alarms.append(i)
    return np.asarray(alarms, dtype=int)


def run_stream(rows: np.ndarray, change_row: int, window: int, seed: int) -> list[dict]:
    from river import drift

    reference, stream = rows[:window], rows[window:]
    change = change_row - window  # in stream positions
    n_windows = stream.shape[0] // window
    out = []
    scores = None
    for test in ("permutation", "linear"):
        det = metaad.make_detector("iforest", random_state=seed).fit(reference)
        sd = StreamDetector(det, window=window, adapt="none", test=test, max_test_rows=window, alpha=0.05, random_state=seed).fit(reference)
        start = time.perf_counter()
        s, _, reports = sd.process(stream)
        seconds = time.perf_counter() - start
        scores = s
        flags = np.array([r.drift for r in reports])
        kl = np.array([r.kl for r in reports])
        out.append({"method": f"mmd-{test}", "flags": flags, "kl": kl, "seconds": seconds,
                    "first_alarm": next((r.first_row + r.n_rows for r in reports if r.drift and r.first_row + r.n_rows > change), None)})
    for name, cls in (("river-adwin", drift.ADWIN), ("river-kswin", drift.KSWIN), ("river-pagehinkley", drift.PageHinkley)):
        start = time.perf_counter()
        alarms = river_alarms(cls, scores, window)
        seconds = time.perf_counter() - start
        flags = np.array([np.any((alarms >= w * window) & (alarms < (w + 1) * window)) for w in range(n_windows)])
        after = alarms[alarms >= change]
        out.append({"method": name, "flags": flags, "kl": None, "seconds": seconds,
                    "first_alarm": int(after[0]) + 1 if after.size else None})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--window", type=int, default=250)
    parser.add_argument("--out", type=Path, default=RESULTS / "drift.csv")
    args = parser.parse_args(argv)
    done = set()
    if args.out.exists():
        old = pd.read_csv(args.out)
        done = set(zip(old["dataset"], old["kind"], old["seed"]))
    machine = f"{platform.machine()} {platform.system()}"
    for name in args.datasets.split(","):
        X, y = load(name)
        for kind in KINDS:
            for seed in range(args.seeds):
                if (name, kind, seed) in done:
                    continue
                rows, _, change_row = make_stream(X, y, kind, seed, window=args.window)
                change_window = (change_row - args.window) // args.window
                for result in run_stream(rows, change_row, args.window, seed):
                    flags = result["flags"]
                    pre = flags[:change_window] if kind != "none" else flags
                    post = flags[change_window:] if kind != "none" else flags[:0]
                    delay = None
                    if kind != "none" and result["first_alarm"] is not None:
                        delay = result["first_alarm"] - (change_row - args.window)
                    kl = result["kl"]
                    append_row(args.out, {
                        "dataset": name, "kind": kind, "seed": seed, "method": result["method"], "window": args.window,
                        "null_windows": len(pre), "false_alarms": int(pre.sum()), "post_windows": len(post),
                        "detections": int(post.sum()), "delay_rows": delay,
                        "kl_pre": float(np.mean(kl[:change_window])) if kl is not None and kind != "none" else None,
                        "kl_post": float(np.mean(kl[change_window:])) if kl is not None and kind != "none" else None,
                        "seconds": round(result["seconds"], 3), "machine": machine,
                    })
                print(f"{name} {kind} seed {seed} done", flush=True)
    summarize(args.out)
    return 0


def markdown(table: pd.DataFrame) -> str:
    """A GitHub table (pandas' to_markdown needs tabulate, which is not a dependency)."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def summarize(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    rows = []
    for method, part in frame.groupby("method", sort=False):
        row = {"method": method, "FPR (null windows)": f"{part['false_alarms'].sum() / part['null_windows'].sum():.3f} "
               f"({int(part['false_alarms'].sum())}/{int(part['null_windows'].sum())})"}
        for kind in KINDS[1:]:
            k = part[part["kind"] == kind]
            power = k["detections"].sum() / max(k["post_windows"].sum(), 1)
            delay = k["delay_rows"].median()
            missed = int(k["delay_rows"].isna().sum())
            row[f"{kind}: power / median delay"] = f"{power:.2f} / {'-' if np.isnan(delay) else int(delay)}" + (f" ({missed} missed)" if missed else "")
        row["seconds"] = round(part["seconds"].sum(), 1)
        rows.append(row)
    table = pd.DataFrame(rows)
    text = markdown(table)
    (path.with_suffix(".md")).write_text(
        f"# Drift detection (benchmarks/bench_drift.py)\n\n`OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_drift.py`"
        f" on {frame['machine'].iloc[0]}, {pd.Timestamp.now(tz='UTC'):%Y-%m-%d}; datasets {', '.join(frame['dataset'].unique())}, "
        f"{frame['seed'].nunique()} seeds, window {frame['window'].iloc[0]} rows, change after 8 windows of 16.\n\n{text}\n")
    print(text)
    return table


if __name__ == "__main__":
    sys.exit(main())
