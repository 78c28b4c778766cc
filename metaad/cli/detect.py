"""``metaad detect``, ``metaad score``, ``metaad detectors`` and ``metaad datasets``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RichTable
from rich.text import Text

from metaad.cli._app import app, console, examples, fail


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


@app.command(epilog=examples(
    "metaad detect shuttle                                   # a bundled dataset: metrics too",
    "metaad detect payments.csv --label-col is_fraud --out runs/payments",
    "metaad detect sensors.parquet -d vae -p n_epochs=50 --threshold fpr:0.01 --out runs/sensors",
    "metaad detect sensors.parquet --out runs/sensors --force   # replace a folder metaad did not write",
))
def detect(
    input: str = typer.Argument(..., help="A CSV/Parquet/NPZ/.mat file, or a bundled dataset name (see `metaad datasets`)."),
    detector: str = typer.Option("auto", "--detector", "-d", help="Detector name (see `metaad detectors`); 'auto' selects one by meta-learning."),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="Column with 0/1 labels, used for evaluation only."),
    contamination: Optional[float] = typer.Option(None, "--contamination", help="Expected anomaly share in (0, 0.5] (default 0.1)."),
    threshold: Optional[str] = typer.Option(None, "--threshold", help="'contamination' (default), 'fpr:R' or a number."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="Random seed (0 to 2**32-1)."),
    param: Optional[list[str]] = typer.Option(None, "--param", "-p", help="Detector parameter KEY=VALUE (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default ./metaad-out/<input-stem>/)."),
    missing: str = typer.Option("impute", "--missing", help="Missing values: 'impute' (median/most frequent, with a warning) or 'error'."),
    force: bool = typer.Option(False, "--force", help="Replace --out even if it is a folder metaad did not write (everything in it is deleted)."),
    sep: Optional[str] = typer.Option(None, "--sep", help="CSV delimiter (default: detected among , ; tab |); '\\t' for tab."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="CSV text encoding (default UTF-8), e.g. latin-1."),
    drop_cols: Optional[str] = typer.Option(None, "--drop-cols", help="Comma-separated columns that are not features."),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Row id column: not a feature, copied into scores.csv."),
    known_anomalies_col: Optional[str] = typer.Option(
        None, "--known-anomalies-col",
        help="Column marking rows known to be anomalies (1; 0 or empty = unknown), given to fit(X, y) of auto or devnet. Not a feature; unlike --label-col it is learned from."),
) -> None:
    """Fit a detector on a table without labels; write scores, metrics, an HTML report and the model."""
    from metaad.workflow import detect as run_detect
    from metaad.workflow import load_input

    table = load_input(input, label_col, sep=sep, encoding=encoding)
    value = threshold
    if threshold is not None:
        try:
            value = float(threshold)
        except ValueError:
            value = threshold
    with console.status(f"fitting {detector} on {table.name} ({len(table.frame)} rows)"):
        result = run_detect(
            table, detector=detector, contamination=contamination, seed=seed, threshold=value,
            params=_parse_params(param), out_dir=out, missing=missing, force=force,
            drop_cols=tuple(c.strip() for c in (drop_cols or "").split(",") if c.strip()), id_col=id_col,
            known_anomalies_col=known_anomalies_col,
        )
    m = result.metrics
    console.print(Text.assemble(
        (m["detector"], "bold"), " on ", (table.name, "bold"), f": {m['n_rows']} rows, {m['n_anomalies_flagged']} flagged "
        f"(threshold {m['threshold']:.4g}), fit {m['fit_seconds']:.2f}s, score {m['score_seconds']:.2f}s"
    ))
    if m["auroc"] is not None:
        console.print(
            f"AUROC {m['auroc']:.4f}  AP {m['average_precision']:.4f}  F1 {m['f1']:.4f}  "
            f"precision {m['precision']:.4f}  recall {m['recall']:.4f}"
        )
    console.print(f"outputs written to {result.out_dir.resolve()}/")
    for name, path in result.files.items():
        console.print(f"  {name:<13} {path.resolve()}")


@app.command(epilog=examples(
    "metaad score runs/sensors/model new_sensors.parquet --out new_scores.csv",
    "metaad score runs/payments/model march.csv --label-col is_fraud --out march_scores.csv",
))
def score(
    model_dir: Path = typer.Argument(..., help="A model directory written by `metaad detect` (its model/ folder)."),
    input: str = typer.Argument(..., help="Table to score, with the same columns as at fit time."),
    out: Path = typer.Option(..., "--out", help="CSV file to write (row, score, is_anomaly)."),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="Label column to drop (and copy to the output)."),
    sep: Optional[str] = typer.Option(None, "--sep", help="CSV delimiter (default: detected among , ; tab |)."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="CSV text encoding (default UTF-8), e.g. latin-1."),
    chunk_rows: int = typer.Option(65_536, "--chunk-rows", help="Rows per chunk for CSV/Parquet input (memory bound)."),
    engine: str = typer.Option("local", "--engine", help="'local' (chunks in this process) or 'ray' (Ray Data; CSV/Parquet input)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to join with --engine ray (default: a local one)."),
) -> None:
    """Score a table with a saved model (CSV/Parquet files, Parquet folders and globs in chunks, memory bounded).

    Every row is scored as new data. For neighbour-based detectors (knn, lof) the training table scores lower
    here than in `metaad detect`'s scores.csv: detect scored each training row without itself, here a training
    row is its own nearest neighbour (in-sample vs out-of-sample), so fewer rows are flagged. A single CSV/TSV file
    is read whole (delimiter sniffing, --sep, --encoding, the model's id column); Parquet files, folders of them and
    globs are scored in chunks of --chunk-rows, with memory bounded whatever their size.
    """
    from metaad.workflow import load_input, score_with_model
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
    if chunkable(input) and not str(input).lower().endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
        from metaad.workflow import in_sample_note
        from metaad.persistence import load

        rows, flagged = score_table(model_dir, input, out, chunk_rows=chunk_rows, label_col=label_col)
        console.print(f"scored {rows} rows, {flagged} flagged; wrote {out.resolve()}")
        note = in_sample_note(load(model_dir))
        if note:
            console.print(note, soft_wrap=True)
        return
    table = load_input(input, label_col, sep=sep, encoding=encoding)
    frame = score_with_model(model_dir, table, out)
    console.print(f"scored {len(frame)} rows, {int(frame['is_anomaly'].sum())} flagged; wrote {out.resolve()}")
    if frame.attrs.get("note"):
        console.print(frame.attrs["note"], markup=False, highlight=False, soft_wrap=True)


@app.command(epilog=examples(
    "metaad detectors                 # every registered detector",
    "metaad detectors autoencoder     # its parameters, defaults and what they do",
))
def detectors(
    name: Optional[str] = typer.Argument(None, help="A detector: list its parameters, their defaults and meaning."),
) -> None:
    """List the registered detectors, or the parameters of one."""
    from metaad.cli._describe import parameter_rows
    from metaad.detectors.registry import get_detector_info, list_detectors

    if name is None:
        table = RichTable("name", "family", "description")
        for info in list_detectors(details=True):
            table.add_row(info.name, info.family, info.description)
        console.print(table)
        return
    info = get_detector_info(name)
    console.print(Text.assemble((info.name, "bold"), f" ({info.family}): {info.description}"))
    table = RichTable("parameter", "default", "description")
    for parameter, default, description in parameter_rows(info.cls):
        table.add_row(parameter, default, description)
    console.print(table)
    console.print(f"set one with: metaad detect INPUT -d {info.name} -p NAME=VALUE")


@app.command(epilog=examples("metaad datasets", "metaad detect wine"))
def datasets() -> None:
    """List the bundled datasets (usable as INPUT of `metaad detect`)."""
    from metaad.data.bundled import list_datasets

    table = RichTable("name", "rows", "features", "anomalies", "description")
    for info in list_datasets():
        table.add_row(info.name, str(info.n_rows), str(info.n_features), str(info.n_anomalies), info.description)
    console.print(table)
