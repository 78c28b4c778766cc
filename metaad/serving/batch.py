"""Score a table chunk by chunk: CSV or Parquet in, ``row,score,is_anomaly`` CSV out, bounded memory.

:func:`iter_frames` reads a CSV or Parquet file (a path or a binary file object) in batches with pyarrow and
checks each batch against the model's schema; :func:`score_frames` scores each batch and writes its lines
before reading the next. Memory holds one batch (``chunk_rows`` rows, or one 1 MiB CSV block) plus the
model, whatever the size of the table. ``POST /score/file`` uses both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from metaad.data.schema import Schema
from metaad.exceptions import DataError

TableFormat = Literal["csv", "parquet"]
#: Rows per batch: 65,536 rows x 20 float columns is 10 MiB as float64, small next to any model.
CHUNK_ROWS = 65_536
CSV_BLOCK_BYTES = 1 << 20
PARQUET_MAGIC = b"PAR1"


def sniff_format(head: bytes, content_type: str | None = None) -> TableFormat:
    """``"parquet"`` or ``"csv"`` from the content type, else from the first bytes (Parquet starts with PAR1).

    Examples
    --------
    >>> sniff_format(b"PAR1...."), sniff_format(b"a,b\\n1,2\\n"), sniff_format(b"", "text/csv; charset=utf-8")
    ('parquet', 'csv', 'csv')
    """
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv", "text/plain"):
        return "csv"
    if kind in ("application/vnd.apache.parquet", "application/parquet", "application/x-parquet"):
        return "parquet"
    return "parquet" if head.startswith(PARQUET_MAGIC) else "csv"


def _checked(batch: pa.RecordBatch | pa.Table, schema: Schema, offset: int) -> pd.DataFrame:
    frame = batch.to_pandas()
    frame.index = pd.RangeIndex(offset, offset + len(frame))
    return schema.validate(frame)


def iter_frames(
    source: str | Path | IO[bytes], schema: Schema, *, fmt: TableFormat, chunk_rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """Yield the table in ``source`` as validated frames of at most ``chunk_rows`` rows (CSV: one block).

    Each frame's index is its rows' position in the whole table (0 = the first data row), so a schema
    error names the row where it is in the file. CSV columns are read as text and converted by the schema
    (a numeric column holding ``"abc"`` is an error naming its column, row and value); empty fields are
    missing values.

    Raises
    ------
    DataError
        When the file is not valid CSV/Parquet; :class:`~metaad.exceptions.SchemaError` when its columns do
        not match ``schema``.

    Examples
    --------
    >>> import io, pandas as pd
    >>> schema = Schema.from_frame(pd.DataFrame({"x": [1.0], "c": ["a"]}))
    >>> frames = list(iter_frames(io.BytesIO(b"c,x\\na,1\\nb,\\n"), schema, fmt="csv"))
    >>> frames[0].columns.tolist(), frames[0]["x"].tolist()
    (['x', 'c'], [1.0, nan])
    """
    offset = 0
    try:
        if fmt == "parquet":
            handle = pq.ParquetFile(source)
            if handle.metadata.num_rows == 0:
                yield _checked(handle.schema_arrow.empty_table(), schema, 0)
                return
            for batch in handle.iter_batches(batch_size=chunk_rows):
                yield _checked(batch, schema, offset)
                offset += batch.num_rows
            return
        types = {name: pa.string() for name in schema.names}
        reader = pa_csv.open_csv(
            source,
            read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            convert_options=pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )
        seen = False
        for batch in reader:
            seen = True
            yield _checked(batch, schema, offset)
            offset += batch.num_rows
        if not seen:
            yield _checked(reader.schema.empty_table(), schema, 0)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        what = "Parquet" if fmt == "parquet" else "CSV"
        where = f" after data row {offset}" if offset else ""
        raise DataError(f"the upload is not a readable {what} table{where}: {exc}") from None


def score_frames(model: Any, frames: Iterator[pd.DataFrame], out: IO[str]) -> tuple[int, int]:
    """Score each frame with ``model`` (anything with ``decision_function`` and ``threshold_``: an
    AnomalyPipeline, a ServedModel) and write ``row,score,is_anomaly`` lines to ``out`` as it goes; return (rows, flagged).

    Examples
    --------
    >>> import io, pandas as pd, metaad
    >>> df = pd.DataFrame({"x": [0.0, 1.0, 0.5, 9.0] * 5})
    >>> pipe = metaad.AnomalyPipeline(metaad.make_detector("ecod")).fit(df)
    >>> out = io.StringIO()
    >>> score_frames(pipe, iter([df.iloc[:10], df.iloc[10:]]), out)
    (20, 4)
    >>> out.getvalue().splitlines()[0]
    'row,score,is_anomaly'
    """
    rows = flagged = 0
    threshold = model.threshold_
    header = True
    for frame in frames:
        scores = np.asarray(model.decision_function(frame), dtype=np.float64) if len(frame) else np.zeros(0)
        is_anomaly = (~np.isfinite(scores) | (scores > threshold)).astype(int)
        pd.DataFrame({"row": np.arange(rows, rows + len(frame)), "score": scores, "is_anomaly": is_anomaly}).to_csv(
            out, header=header, index=False
        )
        header = False
        rows += len(frame)
        flagged += int(is_anomaly.sum())
    if header:
        out.write("row,score,is_anomaly\n")
    return rows, flagged
