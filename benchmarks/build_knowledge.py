"""Build metaad's shipped knowledge base: benchmark a zoo on the shared tabular datasets at several sizes, then build.

Resumable: the benchmark records each trial as it finishes (benchmarks/results/knowledge_trials.parquet and its
journal), and running the same command again skips them; commit the results file as the build goes.

Usage (the command that built the shipped knowledge base is in its manifest and in
benchmarks/results/knowledge_build.md)::

    python benchmarks/build_knowledge.py --data ../shared/datasets/tabular --zoo default-v2 \\
        --sizes 500,5000,50000 --seeds 0,1,2 --workers 2 --results benchmarks/results/knowledge_trials.parquet \\
        --out metaad/knowledge
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
    parser.add_argument("--zoo", default="default-v2")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--sizes", default="500,5000,50000",
                        help="row counts each dataset runs at (a dataset smaller than a size runs at its own size)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--engine", default="local", choices=("local", "ray"), help="where trials run (ray: a cluster)")
    parser.add_argument("--ray-address", default=None, help="a running Ray cluster (default: start a local one)")
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--results", default="benchmarks/results/knowledge_trials.parquet")
    parser.add_argument("--out", default="metaad/knowledge")
    parser.add_argument("--benchmark-only", action="store_true", help="run the trials, do not build the knowledge base")
    parser.add_argument("--no-run", action="store_true", help="do not run missing trials; build from the recorded ones")
    parser.add_argument("--report", default="benchmarks/results/knowledge_build.md", help="markdown summary to write")
    parser.add_argument("--wall-seconds", type=float, default=None,
                        help="wall time of the whole (possibly resumed) benchmark, for the report; default this run's")
    parser.add_argument("--wall-note", default="", help="how --wall-seconds was made up (runs, workers, machine load)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    log = logging.getLogger("build_knowledge")

    from metaad.benchmark.datasets import discover_datasets
    from metaad.benchmark.protocol import make_trials
    from metaad.benchmark.store import load_results, task_name
    from metaad.benchmark.zoo import get_zoo
    from metaad.engine.run import run_benchmark

    seeds = [int(s) for s in args.seeds.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    datasets = dict(sorted(discover_datasets([args.data]).items(), key=lambda item: Path(item[1]).stat().st_size))
    zoo = get_zoo(args.zoo)
    # Seed by seed, smaller sizes first: an interrupted build covers every dataset and size with the first seed.
    trials = sorted(make_trials(datasets, zoo, seeds, sizes=sizes), key=lambda t: (t.seed, t.n_rows))
    log.info("%d datasets x %d configurations x %d seeds at sizes %s = %d trials", len(datasets), len(zoo), len(seeds),
             sizes, len(trials))
    start = time.perf_counter()
    last = [start]

    def progress(done: int, total: int, row: dict | None) -> None:
        now = time.perf_counter()
        if row is None or now - last[0] > 30 or done == total:
            last[0] = now
            log.info("%d/%d trials, %.0f s", done, total, now - start)

    if args.no_run:
        frame = load_results(args.results)
        keys = {t.key for t in trials}
        frame = frame[[k in keys for k in zip(frame["dataset"], frame["config_id"], frame["seed"], frame["n_rows"])]]
    else:
        frame = run_benchmark(trials, args.results, engine=args.engine, workers=args.workers, time_limit=args.time_limit,
                              ray_address=args.ray_address, progress=progress)
    elapsed = time.perf_counter() - start
    log.info("benchmark: %d rows (%s) in %.0f s this run", len(frame), frame["status"].value_counts().to_dict(), elapsed)
    if args.benchmark_only:
        return 0
    from metaad.meta.knowledge import build_knowledge

    # Only tasks where every configuration has a result for every recorded seed of that task (a build stopped
    # part-way leaves some tasks with fewer seeds: they count with the seeds they have, all configurations alike).
    frame = frame.assign(task=[task_name(d, n) for d, n in zip(frame["dataset"], frame["n_rows"])])
    per_seed = frame.groupby(["task", "seed"])["config_id"].nunique()
    complete = per_seed[per_seed == len(zoo)].reset_index()[["task", "seed"]]
    frame = frame.merge(complete, on=["task", "seed"]).drop(columns="task")
    wall = args.wall_seconds if args.wall_seconds is not None else elapsed
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    kb = build_knowledge(frame, [args.data], args.out, zoo_name=args.zoo, command=command, build_seconds=round(wall, 1))
    log.info("knowledge base: %s", json.dumps({k: kb.manifest[k] for k in ("n_tasks", "n_datasets", "n_configurations", "sizes", "seeds")}))
    write_report(args, kb, frame, command, wall)
    return 0


def write_report(args: argparse.Namespace, kb, frame, command: str, wall: float) -> None:  # noqa: ANN001
    """The markdown summary: command, time, coverage, cost, oracle vs single best, per size."""
    from metaad.benchmark.report import summarize

    summary = summarize(frame)
    configs, perf = summary["configurations"], kb.performance
    ok = frame[frame["status"] == "ok"]
    compute = float((ok["fit_seconds"] + ok["score_seconds"]).sum())
    seeds_per_task = frame.groupby(["dataset", "n_rows"])["seed"].nunique()
    lines = [
        "# Knowledge base build (issue 9: experience at the sizes users have)", "",
        "## Command", "", "```", command, "```", "",
        f"- protocol: each dataset at the sizes {args.sizes} rows (stratified subsample, `random_state=0`, at least 10 "
        "anomalies kept; a dataset smaller than a size runs at its own size), the standard stratified 70/30 split per seed, "
        "StandardScaler fit on the training part, unsupervised fit, AUROC/AP on the test part; fit and score seconds "
        "recorded for every trial; `ocsvm` is not fitted on more than 10,000 training rows (status `skipped`);",
        f"- engine: {args.engine}, {args.workers} worker process(es) with one torch/BLAS thread each, `nice`, time limit "
        f"{args.time_limit:g} s per trial;",
        f"- **wall time: {wall:.0f} s ({wall / 3600:.1f} h)**{f' ({args.wall_note})' if args.wall_note else ''}; summed fit+score "
        f"time of the finished trials {compute:.0f} s;",
        f"- trial status: {frame['status'].value_counts().to_dict()};",
        f"- {kb.manifest['n_tasks']} tasks ({kb.manifest['n_datasets']} datasets) x {kb.manifest['n_configurations']} "
        f"configurations (zoo `{args.zoo}`); seeds per task: {seeds_per_task.value_counts().sort_index().to_dict()} "
        "(tasks: number of them).", "",
        "## Per size", "", "| size (rows) | tasks | oracle AUROC | best single configuration | its AUROC | iforest defaults |",
        "|---:|---:|---:|---|---:|---:|",
    ]
    iforest = next((c for c, row in kb.configurations.iterrows() if row["family"] == "iforest" and row["params_json"] == "{}"), None)
    for label, mask in (("<= 500", kb.tasks["n_rows"] <= 500), ("501-5,000", (kb.tasks["n_rows"] > 500) & (kb.tasks["n_rows"] <= 5000)),
                        ("> 5,000", kb.tasks["n_rows"] > 5000)):
        sub = perf[mask.to_numpy()]
        if sub.empty:
            continue
        best = sub.mean().idxmax()
        lines.append(f"| {label} | {len(sub)} | {sub.max(axis=1).mean():.3f} | `{best}` | {sub[best].mean():.3f} | "
                     f"{sub[iforest].mean() if iforest else float('nan'):.3f} |")
    lines += ["", "## Top configurations by average rank over tasks", "",
              "| config | family | mean rank | mean AUROC | mean AP |", "|---|---|---:|---:|---:|"]
    for cid, row in configs.head(15).iterrows():
        lines.append(f"| `{cid}` | {row['family']} | {row['mean_rank']:.1f} | {row['mean_auroc']:.3f} | {row['mean_ap']:.3f} |")
    lines += ["", "## Cost per family (median fit + score seconds of a trial, by size)", "",
              "| family | <= 500 | 501-5,000 | > 5,000 |", "|---|---:|---:|---:|"]
    ok = ok.assign(seconds=ok["fit_seconds"] + ok["score_seconds"],
                   size=ok["n_rows"].map(lambda n: "<= 500" if n <= 500 else ("501-5,000" if n <= 5000 else "> 5,000")))
    table = ok.pivot_table(index="family", columns="size", values="seconds", aggfunc="median")
    for fam, row in table.iterrows():
        lines.append(f"| {fam} | " + " | ".join(f"{row.get(c, float('nan')):.2f}" for c in ("<= 500", "501-5,000", "> 5,000")) + " |")
    Path(args.report).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
