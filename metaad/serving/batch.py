"""Score a table chunk by chunk: CSV or Parquet in, ``row,score,is_anomaly`` CSV out, bounded memory.

:func:`iter_frames` reads a CSV or Parquet file (a path or a binary file object) in batches with pyarrow and
checks each batch against the model's schema; :func:`score_frames` scores each batch and writes its lines
before reading the next. Memory holds one batch (``chunk_rows`` rows, or one 1 MiB CSV block; a Parquet
row group is decoded whole, so files written with huge row groups cost one row group) plus the model,
whatever the size of the table. ``POST /score/file`` uses both; :func:`score_table` (behind
``metaad score``) adds files, directories of Parquet files and globs.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from metaad._io import atomic_file
from metaad.data.preprocessing import MissingValuesWarning
from metaad.data.readers import _frame_labels
from metaad.data.schema import Schema
from metaad.exceptions import DataError, ModelFileError, ParameterError

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


Chunk = tuple[pd.DataFrame, "np.ndarray | None"]


def _checked(batch: pa.RecordBatch | pa.Table, schema: Schema, offset: int, label_col: str | None) -> Chunk:
    frame = batch.to_pandas()
    frame.index = pd.RangeIndex(offset, offset + len(frame))
    labels = None
    if label_col is not None:
        if label_col not in frame.columns:
            raise DataError(f"label column {label_col!r} is not in the table; columns: {[str(c) for c in frame.columns]}")
        labels = _frame_labels(frame[label_col], label_col)
        frame = frame.drop(columns=[label_col])
    return schema.validate(frame), labels


def iter_frames(
    source: str | Path | IO[bytes],
    schema: Schema,
    *,
    fmt: TableFormat,
    chunk_rows: int = CHUNK_ROWS,
    delimiter: str = ",",
    label_col: str | None = None,
    first_row: int = 0,
) -> Iterator[Chunk]:
    """Yield the table in ``source`` as (validated frame, labels or None) of at most ``chunk_rows`` rows
    (CSV: one 1 MiB block). ``label_col`` is split off and checked to hold 0/1; ``first_row`` numbers the
    rows when a table spans several files.

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
    >>> frames = [frame for frame, _ in iter_frames(io.BytesIO(b"c,x\\na,1\\nb,\\n"), schema, fmt="csv")]
    >>> frames[0].columns.tolist(), frames[0]["x"].tolist()
    (['x', 'c'], [1.0, nan])
    """
    offset = first_row
    try:
        if fmt == "parquet":
            # pre_buffer=False: with pyarrow's default (True) iter_batches kept every buffer it had read, and
            # memory grew with the file (125 -> 550 MiB allocated over 3 M rows x 20 columns); without it
            # allocation stays flat (~75 MiB) whatever the number of rows
            handle = pq.ParquetFile(source, pre_buffer=False, buffer_size=1 << 20)
            if handle.metadata.num_rows == 0:
                yield _checked(handle.schema_arrow.empty_table(), schema, offset, label_col)
                return
            for batch in handle.iter_batches(batch_size=chunk_rows):
                yield _checked(batch, schema, offset, label_col)
                offset += batch.num_rows
            return
        types = {name: pa.string() for name in [*schema.names, *([label_col] if label_col else [])]}
        reader = pa_csv.open_csv(
            source,
            read_options=pa_csv.ReadOptions(block_size=min(CSV_BLOCK_BYTES, max(chunk_rows * 64, 1 << 12))),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter),
            convert_options=pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )
        seen = False
        for batch in reader:
            seen = True
            yield _checked(batch, schema, offset, label_col)
            offset += batch.num_rows
        if not seen:
            yield _checked(reader.schema.empty_table(), schema, offset, label_col)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        what = "Parquet" if fmt == "parquet" else "CSV"
        where = f" after data row {offset}" if offset else ""
        name = f"{str(source)!r}" if isinstance(source, (str, Path)) else "the upload"
        raise DataError(f"{name} is not a readable {what} table{where}: {exc}") from None


def score_frames(model: Any, chunks: Iterator[Chunk], out: IO[str]) -> tuple[int, int]:
    """Score each frame with ``model`` (anything with ``decision_function`` and ``threshold_``: an
    AnomalyPipeline, a ServedModel) and write ``row,score,is_anomaly`` lines (and ``label`` when the chunks carry labels) to ``out`` as it
    goes; return (rows, flagged). A score that is not finite counts as an anomaly.

    Examples
    --------
    >>> import io, pandas as pd, metaad
    >>> df = pd.DataFrame({"x": [0.0, 1.0, 0.5, 0.2, 0.7] * 4})
    >>> df.loc[[7, 15], "x"] = [9.0, 8.0]
    >>> pipe = metaad.AnomalyPipeline(metaad.make_detector("ecod")).fit(df)
    >>> out = io.StringIO()
    >>> score_frames(pipe, iter([(df.iloc[:10], None), (df.iloc[10:], None)]), out)
    (20, 2)
    >>> out.getvalue().splitlines()[0]
    'row,score,is_anomaly'
    """
    rows = flagged = 0
    threshold = model.threshold_
    header = True
    for frame, labels in chunks:
        scores = np.asarray(model.decision_function(frame), dtype=np.float64) if len(frame) else np.zeros(0)
        is_anomaly = (~np.isfinite(scores) | (scores > threshold)).astype(int)
        lines = pd.DataFrame({"row": np.arange(rows, rows + len(frame)), "score": scores, "is_anomaly": is_anomaly})
        if labels is not None:
            lines["label"] = labels
        lines.to_csv(out, header=header, index=False)
        header = False
        rows += len(frame)
        flagged += int(is_anomaly.sum())
    if header:
        out.write("row,score,is_anomaly\n")
    return rows, flagged


def chunkable(source: str | Path) -> bool:
    """Whether :func:`score_table` reads ``source``: a CSV/TSV/Parquet file, a folder or a glob (not a
    bundled dataset name, nor ``.npz``/``.mat``, which are read whole).

    Examples
    --------
    >>> chunkable("new.parquet"), chunkable("runs/*.csv"), chunkable("data.npz"), chunkable("shuttle")
    (True, True, False, False)
    """
    text = str(source)
    if Path(text).is_dir() or any(ch in text for ch in "*?["):
        return True
    return text.lower().endswith((".parquet", ".pq", ".csv", ".csv.gz", ".tsv", ".tsv.gz"))


def resolve_inputs(source: str | Path) -> list[tuple[Path, TableFormat, str]]:
    """The files behind ``source`` with their format and CSV delimiter: one CSV/TSV (``.gz`` too) or Parquet
    file, a directory of Parquet files, or a glob pattern; in name order.

    Raises
    ------
    DataError
        When nothing matches, or a file has a suffix other than CSV/TSV/Parquet.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.parquet", "a.parquet", "notes.txt"):
    ...     _ = (folder / name).write_bytes(b"")
    >>> [(p.name, fmt) for p, fmt, _ in resolve_inputs(folder)]
    [('a.parquet', 'parquet'), ('b.parquet', 'parquet')]
    >>> [(p.name, sep) for p, _, sep in resolve_inputs(folder / "*.parquet")][:1]
    [('a.parquet', ',')]
    """
    text = str(source)
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".parquet", ".pq") and p.is_file())
        if not files:
            raise DataError(f"directory {text!r} holds no .parquet files")
    elif any(ch in text for ch in "*?["):
        import glob

        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise DataError(f"no file matches {text!r}")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"{text!r} does not exist")
    resolved = []
    for file in files:
        lowered = file.name.lower()
        if lowered.endswith((".parquet", ".pq")):
            resolved.append((file, "parquet", ","))
        elif lowered.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
            resolved.append((file, "csv", "\t" if ".tsv" in lowered else ","))
        else:
            raise DataError(f"file {str(file)!r} is neither CSV/TSV (.gz too) nor Parquet; chunked scoring reads those")
    return resolved


def load_scoring_pipeline(model_dir: str | Path, chunk_rows: int) -> Any:
    """The saved pipeline that chunked scoring needs (local or Ray), after checking ``chunk_rows``.

    Raises
    ------
    ParameterError
        When ``chunk_rows`` is not an integer >= 1.
    ModelFileError
        When ``model_dir`` holds a bare detector (no schema to read a table with).
    """
    from metaad.persistence import load
    from metaad.pipeline import AnomalyPipeline

    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ParameterError(f"chunk_rows={chunk_rows!r} must be an integer >= 1")
    model = load(model_dir)
    if not isinstance(model, AnomalyPipeline):
        raise ModelFileError(f"{model_dir} holds a bare detector; scoring a table needs a model saved by `metaad detect`")
    return model


def score_table(
    model_dir: str | Path,
    source: str | Path,
    out: str | Path,
    *,
    chunk_rows: int = CHUNK_ROWS,
    label_col: str | None = None,
) -> tuple[int, int]:
    """Score a table of any size with a saved pipeline, chunk by chunk; write ``row,score,is_anomaly`` CSV.

    ``source`` is a CSV/TSV or Parquet file, a directory of Parquet files or a glob (rows are numbered
    across files in name order). Memory holds the model and one chunk: ``chunk_rows`` rows of a Parquet file,
    or at most 1 MiB of CSV text, converted. ``out`` is written next to its place and moved there when
    complete, so an interrupted run leaves no partial file. Returns (rows scored, rows flagged).

    Raises
    ------
    ModelFileError
        When ``model_dir`` holds a bare detector (no schema).
    DataError, SchemaError
        Naming the file, column, row and value at fault.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd, metaad
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> df = pd.DataFrame({"x": [0.0, 1.0, 0.5, 9.0] * 25, "c": ["a", "b"] * 50})
    >>> model = metaad.save(metaad.AnomalyPipeline(metaad.make_detector("ecod")).fit(df), folder / "model")
    >>> df.to_csv(folder / "new.csv", index=False)
    >>> rows, flagged = score_table(model, folder / "new.csv", folder / "scores.csv", chunk_rows=16)
    >>> rows
    100
    >>> pd.read_csv(folder / "scores.csv").shape
    (100, 3)
    """
    model = load_scoring_pipeline(model_dir, chunk_rows)
    inputs = resolve_inputs(source)
    target = Path(out)

    def chunks() -> Iterator[Chunk]:
        first_row = 0
        for file, fmt, delimiter in inputs:
            for frame, labels in iter_frames(file, model.schema_, fmt=fmt, chunk_rows=chunk_rows,
                                             delimiter=delimiter, label_col=label_col, first_row=first_row):
                first_row += len(frame)
                yield frame, labels

    n_chunks = 0

    def counted() -> Iterator[Chunk]:
        nonlocal n_chunks
        for chunk in chunks():
            n_chunks += 1
            yield chunk

    with atomic_file(target, "w", encoding="utf-8", newline="") as handle, \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MissingValuesWarning)
        counts = score_frames(model, counted(), handle)
    imputed = [w for w in caught if issubclass(w.category, MissingValuesWarning)]
    for other in (w for w in caught if not issubclass(w.category, MissingValuesWarning)):
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    if imputed:  # one warning for the run, not one per chunk
        warnings.warn(f"{len(imputed)} of {n_chunks} chunks had missing or infinite values filled as at fit; "
                      f"the first: {imputed[0].message}", MissingValuesWarning, stacklevel=2)
    return counts
