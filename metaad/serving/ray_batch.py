"""Batch scoring through Ray Data: the same ``row,score,is_anomaly`` CSV as :func:`~metaad.serving.batch.score_table`.

The files are read by Ray Data (Parquet as is, CSV with every column as text, as the local path does),
scored by actors that each load the model once, and streamed back to this process in order
(``preserve_order``), which writes the CSV as the blocks arrive. Memory on the driver holds a few blocks;
the workers hold the model and one batch of ``chunk_rows`` rows each.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaad._io import atomic_file
from metaad.exceptions import DataError


class _Scorer:
    """A Ray Data actor: the model loaded once, then one pandas batch at a time."""

    def __init__(self, model_dir: str, label_col: str | None) -> None:
        from metaad.persistence import load

        self.model = load(model_dir)
        self.label_col = label_col

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from metaad.data.readers import _frame_labels

        labels = None
        if self.label_col is not None:
            if self.label_col not in batch.columns:
                raise DataError(f"label column {self.label_col!r} is not in the table")
            labels = _frame_labels(batch[self.label_col], self.label_col)
            batch = batch.drop(columns=[self.label_col])
        scores = np.asarray(self.model.decision_function(batch), dtype=np.float64) if len(batch) else np.zeros(0)
        out = pd.DataFrame({"score": scores, "is_anomaly": (~np.isfinite(scores) | (scores > self.model.threshold_)).astype(int)})
        if labels is not None:
            out["label"] = labels
        return out


def score_table_ray(
    model_dir: str | Path,
    source: str | Path,
    out: str | Path,
    *,
    chunk_rows: int = 65_536,
    label_col: str | None = None,
    address: str | None = None,
) -> tuple[int, int]:
    """Score ``source`` (as :func:`~metaad.serving.batch.score_table` reads it) on Ray; return (rows, flagged).

    Uses the running Ray instance, or starts a local one (``address=None``) or joins ``address``.

    Raises
    ------
    MetaADError
        When Ray is not installed; the same model and data errors as the local path (a schema error names
        the column and value; its row is counted within the failing batch).
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from metaad.engine.ray_engine import import_ray
    from metaad.serving.batch import load_scoring_pipeline, resolve_inputs

    model = load_scoring_pipeline(model_dir, chunk_rows)
    inputs = resolve_inputs(source)
    formats = {fmt for _, fmt, _ in inputs}
    delimiters = {sep for _, _, sep in inputs}
    if len(formats) > 1 or len(delimiters) > 1:
        raise DataError(f"{source} mixes CSV, TSV and Parquet files; the Ray engine reads one format per run")
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 **({} if address else {"num_cpus": os.cpu_count() or 1}))
        started = True
    try:
        import ray.data

        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        paths = [str(path) for path, _, _ in inputs]
        if formats == {"parquet"}:
            dataset = ray.data.read_parquet(paths)
        else:
            names = [*model.schema_.names, *([label_col] if label_col else [])]
            dataset = ray.data.read_csv(
                paths,
                parse_options=pa_csv.ParseOptions(delimiter=delimiters.pop()),
                convert_options=pa_csv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True),
            )
        actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
        scored = dataset.map_batches(
            _Scorer, fn_constructor_args=(str(model_dir), label_col), batch_size=chunk_rows,
            batch_format="pandas", compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
        )
        return _write(scored, Path(out))
    except Exception as exc:
        cause = _metaad_cause(exc)
        if cause is not None:
            raise cause from None
        raise
    finally:
        if started:
            ray.shutdown()


def _metaad_cause(exc: BaseException) -> BaseException | None:
    """The metaad error a Ray task raised, unwrapped from Ray's exception chain (so the CLI prints one line)."""
    from metaad.exceptions import MetaADError

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MetaADError):
            return exc
        exc = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
    return None


def _write(scored: Any, target: Path) -> tuple[int, int]:
    rows = flagged = 0
    header = True
    with atomic_file(target, "w", encoding="utf-8", newline="") as handle:
        for batch in scored.iter_batches(batch_format="pandas", batch_size=None):
            lines = pd.concat([pd.DataFrame({"row": np.arange(rows, rows + len(batch))}), batch.reset_index(drop=True)], axis=1)
            lines.to_csv(handle, header=header, index=False)
            header = False
            rows += len(batch)
            flagged += int(batch["is_anomaly"].sum())
        if header:
            handle.write("row,score,is_anomaly\n")
    return rows, flagged
