"""``metaad monitor``: score a stream, test each window for drift, adapt, and report (:mod:`metaad.adapt.monitor`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from metaad.cli._app import app, console, examples, fail


@app.command(epilog=examples(
    "metaad monitor runs/payments/model march.csv --window 2000 --out runs/march",
    "metaad monitor runs/sensors/model live.parquet --window 5000 --adapt finetune --alpha 0.01 --out runs/live",
    "cat today.csv | metaad monitor runs/sensors/model - --window 1000 --adapt refit --out runs/today",
))
def monitor(
    model_dir: Path = typer.Argument(..., help="A model directory (`metaad detect`'s model/ folder, or metaad.save's)."),
    stream: str = typer.Argument(..., help="CSV or Parquet file read in order, or '-' for CSV on standard input."),
    window: int = typer.Option(1000, "--window", "-w", min=8, help="Rows per window: each is tested for drift against the reference."),
    adapt: str = typer.Option("none", "--adapt", help="On drift: 'none' (report only), 'refit', 'finetune' (deep detectors) or 'meta'."),
    alpha: float = typer.Option(0.05, "--alpha", help="Level of the drift test: the share of windows that alarm when nothing drifts."),
    out: Path = typer.Option(..., "--out", help="Folder for scores.csv, windows.csv, events.jsonl, models/ and report.html."),
    meta_init: Optional[Path] = typer.Option(None, "--meta-init", help="With --adapt meta: a folder saved by ReptileInitialization.save (default: meta-trained on the reference window's segments)."),
    finetune_steps: int = typer.Option(50, "--finetune-steps", min=1, help="Optimizer steps of --adapt finetune/meta."),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="Label column to drop before scoring."),
    chunk_rows: int = typer.Option(10_000, "--chunk-rows", min=1, help="Rows read at a time (memory bound)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="'csv' or 'parquet' (default: from the file name; standard input is CSV)."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="Random seed of the tests and adaptations."),
) -> None:
    """Monitor a stream with a saved model: score every row, test each window for drift (MMD, KL), adapt, report."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from metaad.adapt.monitor import monitor as run_monitor

    if not 0 < alpha < 1:
        fail(f"--alpha={alpha} must be in (0, 1)")
    source = sys.stdin.buffer if stream == "-" else stream
    if stream != "-" and not Path(stream).is_file():
        fail(f"stream {stream!r} is not a file (use '-' for standard input)")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("reading the reference window")

        def progress(rows: int, windows: int, alerts: int) -> None:
            bar.update(task, description=f"{rows:,} rows, {windows} windows tested, {alerts} drift alerts")

        result = run_monitor(model_dir, source, out, window=window, adapt=adapt, alpha=alpha, fmt=fmt, chunk_rows=chunk_rows,
                             label_col=label_col, meta_init=meta_init, finetune_steps=finetune_steps, random_state=seed,
                             on_progress=progress)
    console.print(f"{result.n_rows:,} rows, {result.n_windows} windows tested, {result.n_alerts} drift alerts, "
                  f"{result.n_adaptations} adaptations in {result.seconds:.1f}s")
    for name, path in result.files.items():
        console.print(f"  {name:<13} {path.resolve()}")
