"""Few-shot one-class MNIST, leave one digit out: a meta-learned initialization against training from scratch
and against ordinary pooled pretraining, each adapted on k normal images of the new digit.

For each held-out digit d (MNIST train split; 2,000 images per digit at most; the digit is never seen before
its k images):

* **meta-init**: :class:`metaad.adapt.meta_init.ReptileInitialization` with the one-class objective
  (first-order OC-MAML) meta-trained on the nine other digits, one task per digit: ``--iterations`` (500)
  meta-iterations of 4 tasks; per task a 20-step fine-tune on k in {10, 50} images, then a soft-AUROC loss on
  64 query images of the task against 64 images of the other eight digits. Then ``adapt(k images of d,
  n_steps)`` for ``n_steps`` in {20 (the fine-tune it was meta-trained for), 100, 300}.
* **reptile**: the same class with ``objective="reptile"`` (the earlier objective: 200 meta-iterations of 10
  Adam steps on 320 images of one digit), adapted with 100 steps (``--no-reptile`` skips it).
* **pooled**: an ``autoencoder`` fitted on the nine digits pooled (2,000 Adam steps), then ``partial_fit(k
  images, n_steps)`` with a fresh Adam, for ``n_steps`` in {20, 100, 300, 1000} (1000 only for k >= 50).
* **scratch**: an ``autoencoder`` fitted on the k images alone for ``n_steps`` in {20, 100, 300, 1000} steps
  (1000 only for k >= 50).

Same network (784-128-64-16 and back, pixels in [0, 1], no standardization), batch 32, learning rate 1e-3.
The summary gives every method the number of adaptation steps with the best *mean test* AUROC per k (chosen on
the test results themselves, from a wider grid for the baselines), and meta-init's 20 steps (the fine-tune it was
meta-trained for) apart. Test: the MNIST
test split, digit d normal and the nine others anomalous; AUROC of the reconstruction error. k = 10, 50, 100;
one seed per digit (the k images and the networks). ``--jobs`` digits run in parallel (one thread each).
Appends each finished digit to ``results/meta_init.csv`` (resumable by digit) and writes ``results/meta_init.md``.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_meta_init.py [--digits 0,1,2] [--jobs 2]
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))
from _results import append_row  # noqa: E402

import metaad  # noqa: E402
from metaad.adapt.meta_init import ReptileInitialization  # noqa: E402
from metaad.data.mnist import load_mnist  # noqa: E402

MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "images" / "mnist"
RESULTS = Path(__file__).parent / "results"
ARCH = {"hidden_sizes": (128, 64), "latent_size": 16}
KS = (10, 50, 100)
BASELINE_STEPS = (20, 100, 300, 1000)  # 1000 only for k >= 50 (at k = 10, 300 steps already overfit)
META_STEPS = 20  # the inner loop of meta-training
META_GRID = (20, 100, 300)  # adaptation steps tried for meta-init (20: as meta-trained)
POOLED_STEPS = 2000
REPTILE = {"iterations": 200, "steps": 100}
COLUMNS = ["digit", "k", "method", "steps", "auroc", "pretrain_seconds", "adapt_seconds", "iterations", "machine"]
_DATA: dict = {}


def _load() -> None:
    train_x, train_y = load_mnist(MNIST, "train")
    test_x, test_y = load_mnist(MNIST, "test")
    train_x = train_x.reshape(len(train_x), -1).astype(np.float32) / 255.0
    _DATA["per_digit"] = {d: train_x[train_y == d][:2000] for d in range(10)}
    _DATA["test_x"] = test_x.reshape(len(test_x), -1).astype(np.float32) / 255.0
    _DATA["test_y"] = test_y


def run_digit(digit: int, iterations: int, reptile: bool) -> list[dict]:
    """Every method, k and step setting for one held-out digit: the result rows."""
    import torch

    torch.set_num_threads(1)
    if not _DATA:
        _load()
    per_digit, test_x = _DATA["per_digit"], _DATA["test_x"]
    y_test = (_DATA["test_y"] != digit).astype(int)
    machine = f"{platform.machine()} {platform.system()}"
    common = dict(standardize=False, batch_size=32, learning_rate=1e-3, weight_decay=0.0, validation_fraction=0.0,
                  trim_fraction=0.0, n_threads=1, **ARCH)
    others = [per_digit[d] for d in range(10) if d != digit]
    inits = {}
    start = time.perf_counter()
    inits["meta-init"] = (ReptileInitialization(**ARCH, standardize=False, objective="one-class", n_iterations=iterations,
                                                tasks_per_iteration=4, support_sizes=(10, 50), n_query=64,
                                                inner_steps=META_STEPS, random_state=digit).fit(others), time.perf_counter() - start)
    if reptile:
        start = time.perf_counter()
        inits["reptile"] = (ReptileInitialization(**ARCH, standardize=False, objective="reptile", n_iterations=REPTILE["iterations"],
                                                  inner_steps=10, random_state=digit).fit(others), time.perf_counter() - start)
    start = time.perf_counter()
    pooled = metaad.make_detector("autoencoder", n_epochs=-(-POOLED_STEPS * 32 // 18_000), max_steps=POOLED_STEPS, random_state=digit,
                                  **common).fit(np.vstack(others))
    pooled_seconds = time.perf_counter() - start
    rows = []
    rng = np.random.RandomState(digit)

    def record(k: int, method: str, steps: int, det, pre: float, adapt: float) -> None:
        rows.append({"digit": digit, "k": k, "method": method, "steps": steps,
                     "auroc": round(float(roc_auc_score(y_test, det.decision_function(test_x))), 4),
                     "pretrain_seconds": round(pre, 2), "adapt_seconds": round(adapt, 3),
                     "iterations": iterations if method == "meta-init" else REPTILE["iterations"] if method == "reptile" else 0,
                     "machine": machine})

    for k in KS:
        shots = per_digit[digit][rng.choice(len(per_digit[digit]), k, replace=False)]
        for method, (init, seconds) in inits.items():
            for steps in META_GRID if method == "meta-init" else (REPTILE["steps"],):
                t = time.perf_counter()
                det = init.adapt(shots, n_steps=steps, random_state=digit)
                record(k, method, steps, det, seconds, time.perf_counter() - t)
        for steps in BASELINE_STEPS:
            if k < 50 and steps > 300:
                continue
            t = time.perf_counter()
            tuned = copy.deepcopy(pooled)
            tuned.optimizer_ = None  # a fresh Adam, as the other methods start with
            record(k, "pooled", steps, tuned.partial_fit(shots, n_steps=steps), pooled_seconds, time.perf_counter() - t)
            t = time.perf_counter()
            epochs = -(-steps // -(-k // 32))  # exactly `steps` steps
            scratch = metaad.make_detector("autoencoder", n_epochs=epochs, max_steps=steps, random_state=digit, **common)
            record(k, "scratch", steps, scratch.fit(shots), 0.0, time.perf_counter() - t)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--iterations", type=int, default=500, help="one-class meta-iterations")
    parser.add_argument("--jobs", type=int, default=1, help="digits run in parallel")
    parser.add_argument("--no-reptile", dest="reptile", action="store_false")
    parser.add_argument("--out", type=Path, default=RESULTS / "meta_init.csv")
    args = parser.parse_args(argv)
    done = set(pd.read_csv(args.out)["digit"]) if args.out.exists() else set()
    todo = [int(d) for d in args.digits.split(",") if int(d) not in done]
    start = time.perf_counter()

    def save(rows: list[dict]) -> None:
        for row in rows:
            append_row(args.out, row, COLUMNS)
        best = {m: max(r["auroc"] for r in rows if r["method"] == m and r["k"] == 10) for m in ("meta-init", "pooled", "scratch")}
        print(f"digit {rows[0]['digit']} done after {time.perf_counter() - start:.0f} s; k=10 (baselines' best steps): "
              + ", ".join(f"{m} {a:.4f}" for m, a in best.items()), flush=True)

    if args.jobs > 1 and len(todo) > 1:
        _load()  # once, shared with the forked workers
        with multiprocessing.get_context("fork").Pool(min(args.jobs, len(todo))) as pool:
            for rows in pool.imap_unordered(_run_star, [(d, args.iterations, args.reptile) for d in todo]):
                save(rows)
    else:
        for digit in todo:
            save(run_digit(digit, args.iterations, args.reptile))
    summarize(args.out, time.perf_counter() - start if todo else None, args.jobs)
    return 0


def _run_star(job: tuple[int, int, bool]) -> list[dict]:
    return run_digit(*job)


def _markdown(table: pd.DataFrame, prefix: str = "k=") -> str:
    names = [str(n) for n in table.index.names]
    head = "| " + " | ".join(names + [f"{prefix}{c}" for c in table.columns]) + " |"
    rows = ["| " + " | ".join([str(i) for i in (idx if isinstance(idx, tuple) else (idx,))] + [f"{v:.4f}" for v in values]) + " |"
            for idx, values in zip(table.index, table.to_numpy())]
    return "\n".join([head, "|" + "---|" * (len(names) + len(table.columns)), *rows])


def summarize(path: Path, wall_seconds: float | None = None, jobs: int = 1) -> str:
    frame = pd.read_csv(path)
    mean = frame.groupby(["method", "steps", "k"]).auroc.mean()
    per_digit: list[pd.DataFrame] = []
    lines = ["| k | meta-init, 20 steps (as meta-trained) | meta-init (best steps) | pooled (best steps) | scratch (best steps) "
             "| Reptile init (100 steps) | digits where meta-init beats both (best steps each) |", "|---|---|---|---|---|---|---|"]
    for k in KS:
        best = {}
        for method in ("meta-init", "pooled", "scratch"):
            part = mean.xs(method, level="method").xs(k, level="k")
            best[method] = (int(part.idxmax()), float(part.max()))
        rows = frame[frame.k == k]
        chosen = {m: rows[(rows.method == m) & (rows.steps == best[m][0])].set_index("digit").auroc for m in best}
        per_digit.append(pd.DataFrame(chosen).assign(k=k))
        wins = int(((chosen["meta-init"] > chosen["pooled"]) & (chosen["meta-init"] > chosen["scratch"])).sum())
        fixed = float(mean[("meta-init", META_STEPS, k)])
        reptile = rows[rows.method == "reptile"].auroc
        cells = [f"{fixed:.4f}"] + [f"{best[m][1]:.4f} ({best[m][0]})" for m in best]
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {reptile.mean():.4f} | {wins}/{len(chosen['meta-init'])} |"
                     if len(reptile) else f"| {k} | " + " | ".join(cells) + f" | - | {wins}/{len(chosen['meta-init'])} |")
    grid = frame[frame.method.isin(["meta-init", "pooled", "scratch"])].pivot_table(
        index=["method", "steps"], columns="k", values="auroc").round(4)
    per = pd.concat(per_digit).reset_index().set_index(["digit", "k"]).sort_index()
    digits = ",".join(str(d) for d in sorted(frame["digit"].unique()))
    seconds = frame.groupby("method").pretrain_seconds.mean()
    adapt = frame.groupby(["method", "steps"]).adapt_seconds.mean()
    text = "\n".join(lines)
    wall = f" Wall time of this run: {wall_seconds / 60:.1f} min with {jobs} parallel digit(s)." if wall_seconds else ""
    path.with_suffix(".md").write_text(
        f"# Few-shot one-class MNIST, leave one digit out (benchmarks/bench_meta_init.py)\n\n"
        f"`OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_meta_init.py --jobs 2` on {frame['machine'].iloc[0]} "
        f"(2 cores shared with other jobs), {pd.Timestamp.now(tz='UTC'):%Y-%m-%d}; digits {digits}; mean test AUROC over the "
        f"digits. meta-init: the one-class objective, {frame[frame.method == 'meta-init'].iterations.iloc[0]} meta-iterations "
        f"with a {META_STEPS}-step inner fine-tune. Adaptation steps (in brackets) chosen per method and k by the mean test "
        f"AUROC among {list(META_GRID)} (meta-init) and {list(BASELINE_STEPS)} (pooled, scratch; 1000 for k >= 50 only).\n\n"
        f"{text}\n\nEvery setting (mean AUROC):\n\n{_markdown(grid)}\n\n"
        f"Per digit (each method at the steps of the table above):\n\n{_markdown(per, prefix='')}\n\n"
        f"Seconds (mean per digit): pretraining " + ", ".join(f"{m} {s:.1f}" for m, s in seconds.items() if s > 0)
        + "; adaptation " + ", ".join(f"{m} ({s} steps) {v:.2f}" for (m, s), v in adapt.items()) + f".{wall}\n")
    print(text)
    return text


if __name__ == "__main__":
    sys.exit(main())
