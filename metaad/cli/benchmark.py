"""``metaad benchmark``, ``metaad benchmark-report`` and ``metaad knowledge build|info``."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from rich.text import Text

from metaad.cli._app import app, console, examples, fail

knowledge_app = typer.Typer(help="Build and inspect the knowledge base (performance matrix + meta-features).", no_args_is_help=True)
app.add_typer(knowledge_app, name="knowledge")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _check_results_file(path: Path) -> None:
    """Refuse, in one line, a file that is not the results of `metaad benchmark` (before anything reads it)."""
    if not path.exists():
        return  # the reader names a missing file (and finds an unconsolidated journal)
    try:
        import pyarrow.parquet as pq

        columns = set(pq.read_schema(path).names)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a non-Parquet file
        fail(f"{path} is not a Parquet file of benchmark results ({type(exc).__name__}: {exc})")
    missing = [c for c in ("dataset", "config_id", "seed", "status", "auroc") if c not in columns]
    if missing:
        fail(f"{path} is not a results file of `metaad benchmark`: it has no column {', '.join(map(repr, missing))}")


def _parse_seeds(value: str) -> list[int]:
    try:
        seeds = [int(s) for s in _split(value)]
    except ValueError:
        fail(f"--seeds expects comma-separated integers, got {value!r}")
    if not seeds:
        fail("--seeds is empty")
    return seeds


@app.command(epilog=examples(
    "metaad benchmark --data ../shared/datasets/tabular --detectors iforest,knn --seeds 0,1,2 --out results.parquet",
    "metaad benchmark --data my_tables/ --zoo default-v1 --max-rows 2000 --out results.parquet   # rerun to resume",
))
def benchmark(
    data: list[str] = typer.Option(..., "--data", help="Dataset files or folders (repeat, or separate with commas)."),
    out: Path = typer.Option(..., "--out", help="Results Parquet file; a run resumes from it."),
    zoo: Optional[str] = typer.Option(None, "--zoo", help="A named configuration zoo, e.g. default-v1."),
    detectors: Optional[str] = typer.Option(None, "--detectors", help="Comma-separated detector names, at their defaults."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Comma-separated split/model seeds."),
    engine: str = typer.Option("local", "--engine", help="local (process pool) or ray."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Address of a running Ray cluster."),
    max_rows: Optional[int] = typer.Option(None, "--max-rows", min=10, help="Stratified subsample of each dataset (random_state=0)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Seconds per trial before it is stopped (status timeout)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Parallel trials (default: CPU count)."),
) -> None:
    """Run every (dataset, configuration, seed) trial, recording each as it ends; rerun to resume."""
    from metaad.benchmark.datasets import discover_datasets
    from metaad.benchmark.protocol import make_trials
    from metaad.engine.run import run_benchmark
    from metaad.benchmark.zoo import Configuration, get_zoo

    if (zoo is None) == (detectors is None):
        fail("give exactly one of --zoo NAME or --detectors a,b,c")
    seed_list = _parse_seeds(seeds)  # every option is checked before any file is read
    configs = get_zoo(zoo) if zoo is not None else [Configuration(name, {}) for name in _split(detectors or "")]
    if detectors is not None:
        from metaad.detectors.registry import get_detector_info

        for cfg in configs:
            get_detector_info(cfg.family)
    sources = [part for item in data for part in _split(item)]
    datasets = discover_datasets(sources)
    trials = make_trials(datasets, configs, seed_list, sizes=[max_rows])
    console.print(f"{len(datasets)} datasets x {len(configs)} configurations x {len(trials) // max(1, len(datasets) * len(configs))} "
                  f"seeds = {len(trials)} trials -> {out}")
    start = time.perf_counter()
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("trials", total=len(trials))

        def progress(done: int, total: int, row: dict | None) -> None:
            if row is None:
                bar.update(task, completed=done, description=f"trials ({done} already recorded)" if done else "trials")
            else:
                bar.update(task, completed=done)

        frame = run_benchmark(trials, out, engine=engine, workers=workers, time_limit=time_limit,
                              ray_address=ray_address, progress=progress)
    counts = frame["status"].value_counts().to_dict()
    console.print(f"{len(frame)} trials recorded ({counts}) in {time.perf_counter() - start:.1f} s -> {out}")


@app.command("benchmark-report", epilog=examples("metaad benchmark-report results.parquet --out report/"))
def benchmark_report(
    results: Path = typer.Argument(..., help="Results Parquet file from `metaad benchmark`."),
    out: Path = typer.Option(..., "--out", help="Folder for benchmark_report.html and the summary CSVs."),
) -> None:
    """Average AUROC/AP and ranks per configuration and family, per-dataset table, rank plot and heat map."""
    from metaad.benchmark.store import load_results
    from metaad.benchmark.report import write_benchmark_report

    _check_results_file(results)
    page = write_benchmark_report(load_results(results), out)
    console.print(f"report written to {page}")


@knowledge_app.command("build", epilog=examples(
    "metaad knowledge build --results results.parquet --data ../shared/datasets/tabular --out kb/ --zoo default-v1",
))
def knowledge_build(
    results: Path = typer.Option(..., "--results", help="Results Parquet file from `metaad benchmark`."),
    data: list[str] = typer.Option(..., "--data", help="The dataset files or folders the results were run on."),
    out: Path = typer.Option(..., "--out", help="Knowledge base folder (written atomically)."),
    zoo: Optional[str] = typer.Option(None, "--zoo", help="Zoo name to record in the manifest."),
) -> None:
    """Performance matrix (datasets x configurations) + meta-features + manifest, from benchmark results."""
    from metaad.meta.knowledge import build_knowledge

    command = "metaad " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "metaad knowledge build"
    _check_results_file(results)
    kb = build_knowledge(results, [p for item in data for p in _split(item)], out, zoo_name=zoo, command=command)
    console.print(f"knowledge base: {kb.manifest['n_tasks']} tasks ({kb.manifest['n_datasets']} datasets at sizes "
                  f"{kb.manifest['sizes']}) x {kb.manifest['n_configurations']} configurations -> {out}")


@knowledge_app.command("info", epilog=examples("metaad knowledge info", "metaad knowledge info --path kb/ --json"))
def knowledge_info(
    path: Optional[Path] = typer.Option(None, "--path", help="A knowledge base folder (default: the shipped one)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What the (shipped) knowledge base holds and how it was built."""
    from metaad.meta.knowledge import load_knowledge

    info = load_knowledge(path).info()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        console.print(Text.assemble((str(key), "bold"), f": {value}"))
