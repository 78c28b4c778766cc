"""Few-shot one-class MNIST, leave one digit out: a Reptile initialization against training from scratch and
against ordinary pooled pretraining, each adapted with the same few steps on k normal images of the new digit.

For each held-out digit d (MNIST train split; 2,000 images per digit at most):

* **meta-init**: :class:`metaad.adapt.meta_init.ReptileInitialization` meta-trained on the nine other digits
  (one task per digit; ``--iterations`` (200) meta-iterations of 10 Adam steps on 320 images), then
  ``adapt(k images of d, n_steps)``;
* **pooled**: an ``autoencoder`` fitted on the nine digits pooled, for as many optimizer steps as meta-training
  took, then ``partial_fit(k images, n_steps)`` with a fresh Adam;
* **scratch**: an ``autoencoder`` fitted on the k images alone for ``n_steps`` steps.

Same network (784-128-64-16 and back, pixels in [0, 1], no standardization), batch 32, learning rate 1e-3,
``n_steps`` = 100 for every method and k. Test: the MNIST test split, digit d normal and the nine others
anomalous; AUROC of the reconstruction error. k = 10, 50, 100; one seed per digit (the k images and the
networks). Appends to ``results/meta_init.csv`` (resumable by digit) and writes ``results/meta_init.md``.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_meta_init.py [--digits 0,1,2]
"""

from __future__ import annotations

import argparse
import copy
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS / "meta_init.csv")
    args = parser.parse_args(argv)
    done = set(pd.read_csv(args.out)["digit"]) if args.out.exists() else set()
    train_x, train_y = load_mnist(MNIST, "train")
    test_x, test_y = load_mnist(MNIST, "test")
    train_x = train_x.reshape(len(train_x), -1).astype(np.float32) / 255.0
    test_x = test_x.reshape(len(test_x), -1).astype(np.float32) / 255.0
    per_digit = {d: train_x[train_y == d][:2000] for d in range(10)}
    machine = f"{platform.machine()} {platform.system()}"
    common = dict(standardize=False, batch_size=32, learning_rate=1e-3, weight_decay=0.0, validation_fraction=0.0,
                  trim_fraction=0.0, n_threads=1, **ARCH)
    for digit in (int(d) for d in args.digits.split(",")):
        if digit in done:
            continue
        rng = np.random.RandomState(digit)
        others = [per_digit[d] for d in range(10) if d != digit]
        start = time.perf_counter()
        meta = ReptileInitialization(**ARCH, standardize=False, n_iterations=args.iterations, inner_steps=10,
                                     inner_batch_size=32, random_state=digit).fit(others)
        meta_seconds = time.perf_counter() - start
        start = time.perf_counter()
        pooled = metaad.make_detector("autoencoder", n_epochs=-(-args.iterations * 10 * 32 // 18_000), max_steps=args.iterations * 10, random_state=digit,
                                      **common).fit(np.vstack(others))
        pooled_seconds = time.perf_counter() - start
        y_test = (test_y != digit).astype(int)
        for k in KS:
            shots = per_digit[digit][rng.choice(len(per_digit[digit]), k, replace=False)]
            models = {}
            t = time.perf_counter()
            models["meta-init"] = (meta.adapt(shots, n_steps=args.steps, random_state=digit), meta_seconds)
            models["meta-init"] = (models["meta-init"][0], meta_seconds, time.perf_counter() - t)
            t = time.perf_counter()
            tuned = copy.deepcopy(pooled)
            tuned.optimizer_ = None  # a fresh Adam, as the other two methods start with
            models["pooled"] = (tuned.partial_fit(shots, n_steps=args.steps), pooled_seconds, time.perf_counter() - t)
            t = time.perf_counter()
            epochs = -(-args.steps // -(-k // 32))  # exactly args.steps steps
            scratch = metaad.make_detector("autoencoder", n_epochs=epochs, max_steps=args.steps, random_state=digit, **common)
            models["scratch"] = (scratch.fit(shots), 0.0, time.perf_counter() - t)
            for method, (det, pre_seconds, adapt_seconds) in models.items():
                auroc = roc_auc_score(y_test, det.decision_function(test_x))
                append_row(args.out, {"digit": digit, "k": k, "method": method, "auroc": round(auroc, 4),
                                      "pretrain_seconds": round(pre_seconds, 2), "adapt_seconds": round(adapt_seconds, 3),
                                      "iterations": args.iterations, "steps": args.steps, "machine": machine})
            print(f"digit {digit} k={k}: " + ", ".join(
                f"{m} {roc_auc_score(y_test, d.decision_function(test_x)):.4f}" for m, (d, _, _) in models.items()), flush=True)
    summarize(args.out)
    return 0


def summarize(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    table = frame.pivot_table(index="k", columns="method", values="auroc", aggfunc="mean").round(4)
    wins = frame.pivot_table(index=["digit", "k"], columns="method", values="auroc")
    lines = ["| k | meta-init | pooled | scratch | meta-init beats both (digits) |", "|---|---|---|---|---|"]
    for k in table.index:
        part = wins.xs(k, level="k")
        n_win = int(((part["meta-init"] > part["pooled"]) & (part["meta-init"] > part["scratch"])).sum())
        lines.append(f"| {k} | {table.loc[k, 'meta-init']:.4f} | {table.loc[k, 'pooled']:.4f} | {table.loc[k, 'scratch']:.4f} | {n_win}/{len(part)} |")
    digits = ",".join(str(d) for d in sorted(frame["digit"].unique()))
    text = "\n".join(lines)
    path.with_suffix(".md").write_text(
        f"# Few-shot one-class MNIST, leave one digit out (benchmarks/bench_meta_init.py)\n\n"
        f"`OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_meta_init.py` on {frame['machine'].iloc[0]}, "
        f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%d}; digits {digits}; mean test AUROC over the digits; "
        f"{frame['iterations'].iloc[0]} meta-iterations, {frame['steps'].iloc[0]} adaptation steps.\n\n{text}\n\n"
        f"Seconds (mean): meta-training {frame[frame.method == 'meta-init'].pretrain_seconds.mean():.1f}, pooled pretraining "
        f"{frame[frame.method == 'pooled'].pretrain_seconds.mean():.1f}; adaptation "
        + ", ".join(f"{m} {s:.2f}" for m, s in frame.groupby('method').adapt_seconds.mean().items()) + ".\n")
    print(text)
    return table


if __name__ == "__main__":
    sys.exit(main())
