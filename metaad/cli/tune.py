"""``metaad tune``: search the configuration for a table, then write what ``metaad detect`` writes, plus the search."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from metaad.cli._app import app, console, examples, fail


@app.command(epilog=examples(
    "metaad tune cardio.csv --label-col y --trials 50 --out runs/cardio      # labels evaluate only",
    "metaad tune payments.csv --known-anomalies-col fraud --trials 30 --time-limit 600",
    "metaad tune sensors.parquet --engine ray --out runs/sensors             # rerun the same command to resume",
))
def tune(
    input: str = typer.Argument(..., help="A CSV/Parquet/NPZ/.mat file, or a bundled dataset name (see `metaad datasets`)."),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="Column with 0/1 labels: evaluates the result only, never seen by the search."),
    known_anomalies_col: Optional[str] = typer.Option(
        None, "--known-anomalies-col",
        help="Column marking rows known to be anomalies (1; 0 or empty = unknown): the reward becomes their AUROC on rows the candidate was not fitted on. Not a feature."),
    trials: int = typer.Option(50, "--trials", min=1, help="Trials to run (repeated proposals reuse their reward and do not count)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Seconds for the whole search (over resumed runs too)."),
    engine: str = typer.Option("local", "--engine", help="'local' (a process pool) or 'ray' (a Ray cluster)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Parallel trials (default: the batch size, at most the CPUs)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to join with --engine ray (default: a local one)."),
    method: str = typer.Option("reinforce", "--method", help="'reinforce', 'ppo' (PPO-clip) or 'random' (random search)."),
    cold: bool = typer.Option(False, "--cold", help="Start from a uniform policy instead of the meta prior."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="Random seed of the search and the detector."),
    contamination: Optional[float] = typer.Option(None, "--contamination", help="Expected anomaly share in (0, 0.5] (default 0.1)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default ./metaad-out/<input-stem>/); also where the search resumes from."),
    force: bool = typer.Option(False, "--force", help="Replace --out even if it is a folder metaad did not write."),
    sep: Optional[str] = typer.Option(None, "--sep", help="CSV delimiter (default: detected among , ; tab |)."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="CSV text encoding (default UTF-8)."),
    drop_cols: Optional[str] = typer.Option(None, "--drop-cols", help="Comma-separated columns that are not features."),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Row id column: not a feature, copied into scores.csv."),
) -> None:
    """Search detector families, architectures and hyperparameters by REINFORCE; write detect's outputs plus tuning.html."""
    from metaad.workflow import load_input
    from metaad.search.job import tune_table

    if engine not in ("local", "ray"):
        fail(f"--engine={engine!r} is not one of ['local', 'ray']")
    if method not in ("reinforce", "ppo", "random"):
        fail(f"--method={method!r} is not one of ['reinforce', 'ppo', 'random']")
    table = load_input(input, label_col, sep=sep, encoding=encoding)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("best reward {task.fields[best]}"))
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"tuning on {table.name}", total=trials, best="-")

        def progress(done: int, total: int, best: float | None, row: dict | None) -> None:
            bar.update(task, completed=min(done, total), best="-" if best is None else f"{best:.4f}")

        result = tune_table(
            table, known_anomalies_col=known_anomalies_col, out_dir=out, trials=trials, time_limit=time_limit,
            engine=engine, workers=workers, ray_address=ray_address, seed=seed, contamination=contamination, force=force,
            drop_cols=tuple(c.strip() for c in (drop_cols or "").split(",") if c.strip()), id_col=id_col,
            progress=progress, method=method, warm_start=not cold)
    best, m = result.search.best, result.metrics
    console.print(Text.assemble(("best ", ""), (best["config_id"], "bold"), f" (reward {best['reward']:.4f}, trial {best['trial']}) ",
                                f"after {m['tuning']['n_trials']} trials ({result.search.stopped_by})"))
    console.print(f"refitted on {table.name}: {m['n_rows']} rows, {m['n_anomalies_flagged']} flagged")
    if m.get("auroc") is not None:
        console.print(f"AUROC {m['auroc']:.4f}  AP {m['average_precision']:.4f}  (labels from --label-col, never seen by the search)")
    console.print(f"outputs written to {result.out_dir.resolve()}/")
    for name, path in result.files.items():
        console.print(f"  {name:<13} {path.resolve()}")
