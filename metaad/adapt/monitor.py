"""The job behind ``metaad monitor``: score a stream in order, test each window for drift, adapt, and write it all.

:func:`monitor` reads a CSV or Parquet file (or a binary stream such as standard input, CSV) in chunks, scores
every row with a saved model (a pipeline written by ``metaad detect``, or a detector saved with
:func:`metaad.save`) through a :class:`~metaad.adapt.stream.StreamDetector`, and appends as it goes:

``scores.csv``
    ``row, score, is_anomaly, threshold, version`` for every row;
``windows.csv``
    one line per window: MMD², p-value, test, KL, drift, flagged rows, threshold, score quantiles, adaptation;
``events.jsonl``
    one JSON object per alert (``drift``) and per adaptation (``adapted``, with the saved model's folder);
``models/vNNNN/``
    each adapted model version, saved atomically with :func:`metaad.save`;
``report.html``
    written at the end: score quantiles, MMD and its p-value, the threshold and the alerts over time.

The first ``window`` rows are the reference window: scored by the model as loaded, not tested. Memory holds
one chunk, one window and the reference, whatever the length of the stream (tests/adapt/test_monitor.py
measures the peak with ``tracemalloc`` on streams of different lengths).
"""

from __future__ import annotations

import copy
import csv
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from metaad.adapt.stream import StreamDetector, WindowReport
from metaad.exceptions import DataError, ParameterError
from metaad.persistence import load, save

SCORE_COLUMNS = ("row", "score", "is_anomaly", "threshold", "version")


@dataclass
class MonitorResult:
    """What a monitoring run did: rows, windows, alerts, adaptations and the files written."""

    n_rows: int
    n_windows: int
    n_alerts: int
    n_adaptations: int
    seconds: float
    files: dict[str, Path]


def _raw_chunks(source: str | Path | IO[bytes], fmt: str, chunk_rows: int, label_col: str | None) -> Iterator[tuple[Any, Any]]:
    """Chunks of a table for a bare detector (no schema): numeric columns as they are."""
    def split(batch: pa.RecordBatch) -> tuple[Any, Any]:
        frame = batch.to_pandas()
        labels = None
        if label_col is not None:
            if label_col not in frame.columns:
                raise DataError(f"label column {label_col!r} is not in the table; columns: {[str(c) for c in frame.columns]}")
            labels = frame.pop(label_col).to_numpy()
        return frame, labels

    try:
        if fmt == "parquet":
            for batch in pq.ParquetFile(source, pre_buffer=False, buffer_size=1 << 20).iter_batches(batch_size=chunk_rows):
                yield split(batch)
            return
        reader = pa_csv.open_csv(source, read_options=pa_csv.ReadOptions(block_size=min(1 << 20, max(chunk_rows * 64, 1 << 12))))
        for batch in reader:
            yield split(batch)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise DataError(f"the stream is not a readable {'Parquet' if fmt == 'parquet' else 'CSV'} table: {exc}") from None


def _chunks(model: Any, source: str | Path | IO[bytes], fmt: str, chunk_rows: int, label_col: str | None) -> Iterator[np.ndarray]:
    """The stream as numeric matrices in the model's input space (a pipeline's preprocessed features)."""
    from metaad.serving.batch import iter_frames

    if hasattr(model, "preprocessor_"):
        for frame, _ in iter_frames(source, model.schema_, fmt=fmt, chunk_rows=chunk_rows, label_col=label_col):
            if len(frame):
                yield model.transform(frame)
        return
    for frame, _ in _raw_chunks(source, fmt, chunk_rows, label_col):
        if not len(frame):
            continue
        try:
            yield frame.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError("a detector saved without a pipeline reads numeric columns only; score text columns with "
                            "a model from `metaad detect`") from None


def _append_csv(path: Path, header: tuple[str, ...] | list[str], rows: list[list[Any]]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(header)
        writer.writerows(rows)


def monitor(
    model_dir: str | os.PathLike[str],
    source: str | os.PathLike[str] | IO[bytes],
    out_dir: str | os.PathLike[str],
    *,
    window: int = 1000,
    adapt: str = "none",
    alpha: float = 0.05,
    fmt: str | None = None,
    chunk_rows: int = 10_000,
    label_col: str | None = None,
    meta_init: str | os.PathLike[str] | None = None,
    finetune_steps: int = 50,
    random_state: Any = 0,
    report: bool = True,
    on_progress: Callable[[int, int, int], None] | None = None,
) -> MonitorResult:
    """Monitor a stream with a saved model; see the module docstring for what is written to ``out_dir``.

    Parameters
    ----------
    model_dir : path
        A model folder (``metaad detect``'s ``model/`` or :func:`metaad.save`'s).
    source : path or binary file object
        CSV or Parquet (``fmt`` or the file's suffix says which; a file object is CSV unless ``fmt="parquet"``).
    window : int
        Rows per window.
    adapt : {"none", "refit", "finetune", "meta"}
    meta_init : path or None
        A folder saved by :meth:`ReptileInitialization.save` for ``adapt="meta"`` (None: meta-trained on segments
        of the reference window).
    on_progress : callable(rows, windows, alerts), optional
        Called after each chunk (the CLI's progress bar).

    Examples
    --------
    >>> import numpy as np, pandas as pd, tempfile, pathlib, metaad
    >>> from metaad.adapt.monitor import monitor
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> rng = np.random.RandomState(0)
    >>> _ = metaad.save(metaad.make_detector("ecod").fit(rng.normal(size=(300, 2))), folder / "model")
    >>> rows = np.vstack([rng.normal(size=(400, 2)), rng.normal(3.0, 1.0, size=(200, 2))])
    >>> pd.DataFrame(rows, columns=["a", "b"]).to_csv(folder / "stream.csv", index=False)
    >>> result = monitor(folder / "model", folder / "stream.csv", folder / "out", window=100, adapt="refit", report=False)
    >>> result.n_rows, result.n_windows, result.n_adaptations >= 1
    (600, 5, True)
    >>> sorted(p.name for p in (folder / "out").iterdir())
    ['events.jsonl', 'models', 'scores.csv', 'windows.csv']
    """
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {name: out / name for name in ("scores.csv", "windows.csv", "events.jsonl")}
    stale = [p.name for p in files.values() if p.exists()]
    if stale:
        raise ParameterError(f"{out} already holds {', '.join(stale)} of an earlier run; choose a new --out folder")
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ParameterError(f"chunk_rows={chunk_rows!r} must be an integer >= 1")
    if fmt is None:
        name = str(source).lower() if isinstance(source, (str, os.PathLike)) else ""
        fmt = "parquet" if name.endswith((".parquet", ".pq")) else "csv"
    if fmt not in ("csv", "parquet"):
        raise ParameterError(f"fmt={fmt!r}; expected 'csv' or 'parquet'")
    model = load(model_dir)
    detector = model.detector_ if hasattr(model, "preprocessor_") else model
    init = None
    if meta_init is not None:
        from metaad.adapt.meta_init import ReptileInitialization

        init = ReptileInitialization.load(meta_init)
    stream = StreamDetector(detector, window=window, adapt=adapt, alpha=alpha, finetune_steps=finetune_steps,
                            meta_init=init, random_state=random_state)
    stream._check_params()
    stream_rows = 0
    n_alerts = n_adaptations = 0
    pending: list[np.ndarray] = []
    n_pending = 0
    window_names = [f.name for f in fields(WindowReport)]

    def write_scores(first: int, scores: np.ndarray, flags: np.ndarray, threshold: Any, version: Any) -> None:
        thresholds, versions = np.broadcast_to(threshold, scores.shape), np.broadcast_to(version, scores.shape)
        _append_csv(files["scores.csv"], SCORE_COLUMNS, [
            [first + i, repr(float(s)), int(f), repr(float(t)), int(v)]
            for i, (s, f, t, v) in enumerate(zip(scores, flags, thresholds, versions))])

    def write_windows(reports: list[WindowReport], first_stream_row: int) -> None:
        nonlocal n_alerts, n_adaptations
        if not reports:
            return
        _append_csv(files["windows.csv"], window_names, [
            [value + first_stream_row if name == "first_row" else value for name, value in r.to_dict().items()] for r in reports])
        with files["events.jsonl"].open("a") as events:
            for r in reports:
                first = r.first_row + first_stream_row
                if r.drift:
                    n_alerts += 1
                    events.write(json.dumps({"event": "drift", "window": r.window, "first_row": first, "mmd2": r.mmd2,
                                             "p_value": r.p_value, "kl": r.kl, "alpha": alpha}) + "\n")
                if r.adapted:
                    n_adaptations += 1
                    folder = out / "models" / f"v{r.version:04d}"
                    if hasattr(model, "preprocessor_"):
                        version_model = copy.copy(model)
                        version_model.detector_ = stream.detector_
                    else:
                        version_model = stream.detector_
                    save(version_model, folder)
                    events.write(json.dumps({"event": "adapted", "window": r.window, "first_row": first, "policy": adapt,
                                             "version": r.version, "seconds": r.adapt_seconds, "model": str(folder)}) + "\n")

    reference_rows = 0
    for matrix in _chunks(model, source, fmt, chunk_rows, label_col):
        if not hasattr(stream, "detector_"):
            pending.append(matrix)
            n_pending += matrix.shape[0]
            if n_pending < window:
                continue
            rows = np.vstack(pending)
            pending = []
            reference = rows[:window]
            stream.fit(reference)
            scores = stream.detector_.decision_function(reference)
            write_scores(0, scores, (scores > stream.threshold_).astype(int), stream.threshold_, 0)
            reference_rows = window
            stream_rows = window
            matrix = rows[window:]
            if not matrix.shape[0]:
                if on_progress:
                    on_progress(stream_rows, 0, 0)
                continue
        threshold_before, version_before = stream.threshold_, stream.version_
        scores, flags, reports = stream.process(matrix)
        # each row records the threshold and model version it was scored with: they change as windows close
        thresholds, versions = _per_row(reports, threshold_before, version_before, scores.shape[0], stream_rows - reference_rows)
        write_scores(stream_rows, scores, flags, thresholds, versions)
        stream_rows += matrix.shape[0]
        write_windows(reports, reference_rows)
        if on_progress:
            on_progress(stream_rows, stream.n_windows_, n_alerts)
    if not hasattr(stream, "detector_"):
        raise DataError(f"the stream holds {n_pending} rows, fewer than one window ({window}) to take as the reference")
    write_windows(stream.flush(), reference_rows)
    for path in files.values():
        path.touch()
    if report:
        files["report.html"] = write_monitor_report(out, alpha=alpha, title=f"metaad monitor: {Path(str(source)).name if not hasattr(source, 'read') else 'stdin'}")
    return MonitorResult(stream_rows, stream.n_windows_, n_alerts, n_adaptations, time.perf_counter() - start, files)


def _per_row(reports: list[WindowReport], threshold: float, version: int, n: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """The threshold and model version each row of a chunk was scored with: they change after each window that
    closes inside the chunk (``offset``: the chunk's first row counted from the end of the reference window)."""
    thresholds, versions = np.full(n, threshold, dtype=np.float64), np.full(n, version, dtype=np.int64)
    for r in reports:
        end = max(r.first_row + r.n_rows - offset, 0)
        thresholds[end:], versions[end:] = r.threshold, r.version
    return thresholds, versions


def write_monitor_report(out_dir: str | os.PathLike[str], *, alpha: float = 0.05, title: str = "metaad monitor") -> Path:
    """``report.html`` from ``windows.csv`` and ``events.jsonl``: plots over time and the table of alerts."""
    import pandas as pd
    from matplotlib.figure import Figure

    from metaad.evaluation._html import STYLE, escape, image, section, table
    from metaad.evaluation.plots import figure_to_data_uri

    out = Path(out_dir)
    windows = pd.read_csv(out / "windows.csv") if (out / "windows.csv").stat().st_size else pd.DataFrame()
    body = [f"<h1>{escape(title)}</h1>"]
    if windows.empty:
        body.append("<p>No window was tested: the stream held only the reference window.</p>")
    else:
        x = windows["first_row"] + windows["n_rows"]
        fig = Figure(figsize=(10, 7.5))
        ax1, ax2, ax3 = fig.subplots(3, 1, sharex=True)
        ax1.fill_between(x, windows["score_q05"], windows["score_q95"], alpha=0.3, label="scores 5-95%")
        ax1.plot(x, windows["score_q50"], label="median score")
        ax1.plot(x, windows["threshold"], "k--", label="threshold")
        ax1.set_ylabel("score")
        ax1.legend(loc="upper left", fontsize=8)
        ax2.plot(x, windows["mmd2"], marker=".")
        ax2.set_ylabel("MMD²")
        ax3.semilogy(x, windows["p_value"].clip(lower=1e-6), marker=".")
        if alpha:
            ax3.axhline(alpha, color="r", linestyle=":", label=f"alpha {alpha}")
            ax3.legend(loc="lower left", fontsize=8)
        ax3.set_ylabel("p-value")
        ax3.set_xlabel("row")
        for ax in (ax1, ax2, ax3):
            for row in x[windows["drift"].astype(bool)]:
                ax.axvline(row, color="r", alpha=0.25)
            for row in x[windows["adapted"].astype(bool)]:
                ax.axvline(row, color="g", alpha=0.5, linestyle="--")
        fig.tight_layout()
        body.append(section("Over time", image(figure_to_data_uri(fig), "scores, MMD and p-values per window") +
                            "<p class='note'>Red lines: drift alerts; green dashed: adaptations.</p>"))
        alerts = windows[windows["drift"].astype(bool)]
        body.append(section(f"Alerts ({len(alerts)} of {len(windows)} windows)", table(
            ["window", "first row", "MMD²", "p-value", "KL", "adapted", "version"],
            alerts[["window", "first_row", "mmd2", "p_value", "kl", "adapted", "version"]].itertuples(index=False))))
    html = f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title><style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    from metaad._io import atomic_write_text

    return atomic_write_text(out / "report.html", html)
