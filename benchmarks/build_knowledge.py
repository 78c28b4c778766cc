"""Build metaad's shipped knowledge base: benchmark the default zoo on the shared tabular datasets, then build.

Resumable: the benchmark records each trial as it finishes, and running the same command again skips them.

Usage (the command that built the shipped knowledge base is in benchmarks/results/knowledge_build.md)::

    python benchmarks/build_knowledge.py --data ../shared/datasets/tabular --max-rows 500 --seeds 0 \\
        --results /work/kbrun/knowledge_trials.parquet --out metaad/knowledge --workers 1
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/tabular")
    parser.add_argument("--zoo", default="default-v1")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--max-rows", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--results", default="knowledge_trials.parquet")
    parser.add_argument("--out", default="metaad/knowledge")
    parser.add_argument("--benchmark-only", action="store_true", help="run the trials, do not build the knowledge base")
    parser.add_argument("--no-run", action="store_true", help="do not run missing trials; use the recorded ones")
    parser.add_argument("--complete-only", action="store_true",
                        help="build from the datasets whose trials all finished (when the benchmark was stopped early)")
    parser.add_argument("--report", default="benchmarks/results/knowledge_build.md", help="markdown summary to write")
    parser.add_argument("--wall-seconds", type=float, default=None,
                        help="wall time of the whole (possibly resumed) benchmark, for the report; default this run's")
    parser.add_argument("--wall-note", default="",
                        help="how --wall-seconds was made up (runs, workers, machine load), for the report")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    log = logging.getLogger("build_knowledge")

    from metaad.engine.benchmark import discover_datasets, make_trials, run_benchmark
    from metaad.meta.zoo import get_zoo

    seeds = [int(s) for s in args.seeds.split(",")]
    # Smallest files first: an interrupted build then covers as many datasets as possible (the protocol is the same).
    datasets = dict(sorted(discover_datasets([args.data]).items(), key=lambda item: Path(item[1]).stat().st_size))
    zoo = get_zoo(args.zoo)
    trials = make_trials(datasets, zoo, seeds)
    log.info("%d datasets x %d configurations x %d seeds = %d trials", len(datasets), len(zoo), len(seeds), len(trials))
    start = time.perf_counter()
    last = [start]

    def progress(done: int, total: int, row: dict | None) -> None:
        now = time.perf_counter()
        if row is None or now - last[0] > 30 or done == total:
            last[0] = now
            log.info("%d/%d trials, %.0f s", done, total, now - start)

    if args.no_run:
        from metaad.engine.benchmark import load_results

        frame = load_results(args.results)
        frame = frame[frame["config_id"].isin({c.config_id for c in zoo}) & frame["dataset"].isin(datasets)]
    else:
        frame = run_benchmark(trials, args.results, workers=args.workers, time_limit=args.time_limit,
                              max_rows=args.max_rows, progress=progress)
    elapsed = time.perf_counter() - start
    log.info("benchmark: %d rows (%s) in %.0f s this run", len(frame), frame["status"].value_counts().to_dict(), elapsed)
    if args.benchmark_only:
        return 0
    from metaad.meta.knowledge import build_knowledge
    from metaad.meta.zoo import default_configurations

    wall = args.wall_seconds if args.wall_seconds is not None else elapsed
    if args.complete_only:
        counts = frame.groupby("dataset").size()
        complete = counts[counts == len(zoo) * len(seeds)].index
        frame = frame[frame["dataset"].isin(complete)].reset_index(drop=True)
        log.info("complete datasets: %d of %d", len(complete), len(datasets))
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    kb = build_knowledge(frame, [args.data], args.out, zoo_name=args.zoo, max_rows=args.max_rows, command=command,
                         build_seconds=round(wall, 1))
    log.info("knowledge base: %s", json.dumps({k: kb.manifest[k] for k in ("n_datasets", "n_configurations", "seeds")}))
    frame.to_parquet(Path(args.out) / "trials.parquet", index=False)  # the raw trials (times, statuses), for reference

    # PyOD defaults (the classical families at their default parameters) on the same splits.
    classical = [c for c in default_configurations() if c.family in {"iforest", "ecod", "copod", "hbos", "knn", "lof", "ocsvm", "pca", "loda"}]
    used = {name: datasets[name] for name in kb.performance.index}
    defaults = run_benchmark(make_trials(used, classical, seeds), str(args.results) + ".defaults.parquet", workers=args.workers,
                             time_limit=args.time_limit, max_rows=args.max_rows)
    write_report(args, kb, frame, defaults, command, wall)
    return 0


def write_report(args: argparse.Namespace, kb, frame, defaults, command: str, wall: float) -> None:  # noqa: ANN001
    """The markdown summary: command, time, coverage, top configurations, oracle vs single best, PyOD defaults."""

    from metaad.engine.report import summarize

    n_all = len(frame)
    frame = frame[frame["dataset"].isin(kb.performance.index)]
    summary = summarize(frame)
    configs, perf = summary["configurations"], kb.performance
    size = sum(p.stat().st_size for p in Path(args.out).iterdir())
    ok = frame[frame["status"] == "ok"]
    compute = float((ok["fit_seconds"] + ok["score_seconds"]).sum())
    n_trials = len(frame)
    # Per-trial overhead (splitting, scaling, hand-off, journal) from a one-worker wall time; unknown for mixed runs.
    overhead = max(0.0, wall - compute) / max(n_trials, 1) if args.workers == 1 and not args.wall_note else 0.0
    best_single = configs.sort_values("mean_auroc", ascending=False).index[0]
    oracle = float(perf.max(axis=1).mean())
    lines = [
        "# Knowledge base build (issue 4)", "",
        "## Command", "", "```", command, "```", "",
        f"- protocol: stratified subsample of at most {args.max_rows} rows per dataset (`train_test_split(train_size=max_rows, "
        "stratify=y, random_state=0)`, the same rows for every configuration; a subsample that would hold fewer than 10 anomalies "
        "takes min(10, all) anomalies first and fills with normal rows: cover, http, satimage-2 and smtp), then the standard stratified 70/30 split with "
        f"seed(s) {args.seeds}, StandardScaler fit on the training part, unsupervised fit, AUROC/AP on the test part;",
        f"- engine: local, {args.workers} worker process(es) (one CPU core, `nice -n 10`, one torch/BLAS thread), time limit "
        f"{args.time_limit:g} s per trial;",
        f"- **wall time: {wall:.0f} s ({wall / 60:.1f} min)** for {n_all} trials{f' ({args.wall_note})' if args.wall_note else ''}; "
        "the knowledge base itself (meta-features of the full datasets, matrices) and the PyOD-defaults run take a minute or two more;",
        f"- caveats: {len(kb.manifest['seeds'])} seed(s) and test parts of about 150 rows, so single AUROCs are noisy (datasets with "
        "few anomalies, e.g. smtp with 3 anomalies in its test part, most); the matrices hold the mean over the seeds; the "
        "oracle below is a max over 342 noisy estimates and so optimistic (`benchmarks/results/selection.md` measures by how much);",
        f"- trial status (datasets kept): {frame['status'].value_counts().to_dict()}; summed fit+score time of the ok trials "
        + (f"{compute:.0f} s, so about {overhead * 1000:.0f} ms per trial went to splitting, scaling, process hand-off and the "
           "journal." if overhead else f"{compute:.0f} s (per-trial overhead not separated: the runs used different numbers "
           "of workers)."), "",
        "## Coverage and size", "",
        f"- {kb.manifest['n_datasets']} datasets x {kb.manifest['n_configurations']} configurations (zoo `{args.zoo}`, families: "
        f"{', '.join(kb.manifest['families'])}), seeds {kb.manifest['seeds']};",
        f"- datasets: {', '.join(perf.index)};",
        f"- left out (every trial failed): {', '.join(kb.manifest['excluded_datasets']) or 'none'};",
        f"- shipped in `metaad/knowledge/`: {size / 1024:.0f} KiB; {int(perf.isna().sum().sum())} of {perf.size} matrix cells are "
        "NaN (configurations that failed on a dataset, e.g. more neighbours than rows).", "",
        "## Through Ray with more workers (projection)", "",
        "Trials are independent, so with W one-CPU workers the wall time is about (summed trial time + per-trial overhead) / W "
        "plus the cluster start (~10 s locally). From the measured per-trial times:", "",
        "| workers | projected wall time |", "|---:|---:|",
    ]
    for w in (1, 4, 16, 64):
        lines.append(f"| {w} | {(compute + overhead * n_trials) / w + (10 if w > 1 else 0):.0f} s |")
    lines += ["", "(The slowest single trial bounds it from below: "
              f"{float((ok['fit_seconds'] + ok['score_seconds']).max()):.1f} s.) The Ray engine gives the same metrics as the "
              "local engine (tests/engine/test_ray_engine.py).", "",
              "## Top configurations by average rank (AUROC, rank 1 = best per dataset)", "",
              "| config | family | mean rank | mean AUROC | mean AP |", "|---|---|---:|---:|---:|"]
    for cid, row in configs.head(15).iterrows():
        lines.append(f"| `{cid}` | {row['family']} | {row['mean_rank']:.1f} | {row['mean_auroc']:.3f} | {row['mean_ap']:.3f} |")
    lines += ["", "Per family (mean over its configurations; best = its best configuration):", "",
              "| family | configs | mean rank | best mean rank | mean AUROC | best mean AUROC |", "|---|---:|---:|---:|---:|---:|"]
    for fam, row in summary["families"].iterrows():
        lines.append(f"| {fam} | {int(row['n_configurations'])} | {row['mean_rank']:.1f} | {row['best_rank']:.1f} | "
                     f"{row['mean_auroc']:.3f} | {row['best_auroc']:.3f} |")
    params = json.loads(kb.configurations.loc[best_single, "params_json"])
    lines += ["", "## Oracle vs the best single configuration", "",
              f"- per-dataset best (oracle) average AUROC: **{oracle:.3f}**;",
              f"- best single configuration by average AUROC: `{best_single}` ({kb.configurations.loc[best_single, 'family']} "
              f"{json.dumps(params)}): **{configs.loc[best_single, 'mean_auroc']:.3f}**;",
              f"- the gap ({oracle - configs.loc[best_single, 'mean_auroc']:.3f}) bounds what per-dataset selection can win (loosely: the oracle profits from test-split noise, see selection.md).", "",
              "## PyOD defaults on the same splits", "",
              "| detector (default parameters) | mean AUROC | mean AP | failed |", "|---|---:|---:|---:|"]
    d_auroc = defaults[defaults["status"] == "ok"].groupby("family")[["auroc", "average_precision"]].mean()
    d_fail = defaults[defaults["status"] != "ok"].groupby("family").size()
    for fam, row in d_auroc.sort_values("auroc", ascending=False).iterrows():
        lines.append(f"| {fam} | {row['auroc']:.3f} | {row['average_precision']:.3f} | {int(d_fail.get(fam, 0))} |")
    per_dataset_default = defaults[defaults["status"] == "ok"].groupby("dataset")["auroc"].max()
    lines += ["", f"Best default detector per dataset, averaged: {per_dataset_default.mean():.3f} (vs zoo oracle {oracle:.3f}).", "",
              "## Per dataset", "", "| dataset | best config | best AUROC | median AUROC over the zoo |", "|---|---|---:|---:|"]
    for name, row in summary["datasets"].iterrows():
        lines.append(f"| {name} | `{row['best_config']}` | {row['best_auroc']:.3f} | {row['median_auroc']:.3f} |")
    Path(args.report).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
