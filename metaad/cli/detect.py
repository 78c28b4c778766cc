"""``metaad detect``, ``metaad score``, ``metaad detectors`` and ``metaad datasets``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RichTable

from metaad.cli._app import app, console, fail


def _parse_params(pairs: list[str] | None) -> dict:
    params = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            fail(f"--param expects KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
        if isinstance(params[key], list):
            params[key] = tuple(params[key])
    return params


@app.command()
def detect(
    input: str = typer.Argument(..., help="A CSV/Parquet/NPZ/.mat file, or a bundled dataset name (see `metaad datasets`)."),
    detector: str = typer.Option("auto", "--detector", "-d", help="Detector name (see `metaad detectors`); 'auto' selects one by meta-learning."),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="Column with 0/1 labels, used for evaluation only."),
    contamination: Optional[float] = typer.Option(None, "--contamination", help="Expected anomaly share in (0, 0.5] (default 0.1)."),
    threshold: Optional[str] = typer.Option(None, "--threshold", help="'contamination' (default), 'fpr:R' or a number."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    param: Optional[list[str]] = typer.Option(None, "--param", "-p", help="Detector parameter KEY=VALUE (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default ./metaad-out/<input-stem>/)."),
    missing: str = typer.Option("impute", "--missing", help="Missing values: 'impute' (median/most frequent, with a warning) or 'error'."),
) -> None:
    """Fit a detector on a table without labels; write scores, metrics, an HTML report and the model."""
    from metaad.detection import detect as run_detect
    from metaad.detection import load_input

    table = load_input(input, label_col)
    value = threshold
    if threshold is not None:
        try:
            value = float(threshold)
        except ValueError:
            value = threshold
    with console.status(f"fitting {detector} on {table.name} ({len(table.frame)} rows)"):
        result = run_detect(
            table, detector=detector, contamination=contamination, seed=seed, threshold=value,
            params=_parse_params(param), out_dir=out, missing=missing,
        )
    m = result.metrics
    console.print(
        f"[bold]{m['detector']}[/] on [bold]{table.name}[/]: {m['n_rows']} rows, {m['n_anomalies_flagged']} flagged "
        f"(threshold {m['threshold']:.4g}), fit {m['fit_seconds']:.2f}s, score {m['score_seconds']:.2f}s"
    )
    if m["auroc"] is not None:
        console.print(
            f"AUROC {m['auroc']:.4f}  AP {m['average_precision']:.4f}  F1 {m['f1']:.4f}  "
            f"precision {m['precision']:.4f}  recall {m['recall']:.4f}"
        )
    console.print(f"outputs written to {result.out_dir.resolve()}/")
    for name, path in result.files.items():
        console.print(f"  {name:<13} {path.resolve()}")


@app.command()
def score(
    model_dir: Path = typer.Argument(..., help="A model directory written by `metaad detect` (its model/ folder)."),
    input: str = typer.Argument(..., help="Table to score, with the same columns as at fit time."),
    out: Path = typer.Option(..., "--out", help="CSV file to write (row, score, is_anomaly)."),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="Label column to drop (and copy to the output)."),
    chunk_rows: int = typer.Option(65_536, "--chunk-rows", help="Rows per chunk for CSV/Parquet input (memory bound)."),
    engine: str = typer.Option("local", "--engine", help="'local' (chunks in this process) or 'ray' (Ray Data; CSV/Parquet input)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to join with --engine ray (default: a local one)."),
) -> None:
    """Score a table with a saved model (CSV/Parquet files, Parquet folders and globs in chunks, memory bounded)."""
    from metaad.detection import load_input, score_with_model
    from metaad.serving.batch import chunkable, score_table

    if engine not in ("local", "ray"):
        fail(f"--engine={engine!r} is not one of ['local', 'ray']")
    if engine == "ray" and not chunkable(input):
        fail(f"--engine ray reads CSV/TSV or Parquet files, folders and globs; {input!r} is none of those")
    if engine == "ray":
        from metaad.serving.ray_batch import score_table_ray

        rows, flagged = score_table_ray(model_dir, input, out, chunk_rows=chunk_rows, label_col=label_col, address=ray_address)
        console.print(f"scored {rows} rows, {flagged} flagged; wrote {out.resolve()}")
        return
    if chunkable(input):
        rows, flagged = score_table(model_dir, input, out, chunk_rows=chunk_rows, label_col=label_col)
        console.print(f"scored {rows} rows, {flagged} flagged; wrote {out.resolve()}")
        return
    table = load_input(input, label_col)
    frame = score_with_model(model_dir, table, out)
    console.print(f"scored {len(frame)} rows, {int(frame['is_anomaly'].sum())} flagged; wrote {out.resolve()}")


@app.command()
def detectors() -> None:
    """List the registered detectors."""
    from metaad.detectors.registry import list_detectors

    table = RichTable("name", "family", "description")
    for info in list_detectors(details=True):
        table.add_row(info.name, info.family, info.description)
    console.print(table)


@app.command()
def datasets() -> None:
    """List the bundled datasets (usable as INPUT of `metaad detect`)."""
    from metaad.data.bundled import list_datasets

    table = RichTable("name", "rows", "features", "anomalies", "description")
    for info in list_datasets():
        table.add_row(info.name, str(info.n_rows), str(info.n_features), str(info.n_anomalies), info.description)
    console.print(table)
