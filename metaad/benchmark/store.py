"""The results store: a Parquet file plus an append-only journal, so that a killed benchmark loses nothing.

The driver appends each finished trial as one JSON line to the journal ``<out>.journal.jsonl`` (flushed and
fsynced), and consolidates the journal into ``<out>`` (Parquet, written atomically, duplicates dropped, then the
journal removed) when the run ends or is interrupted. A restarted run reads both and skips every trial already
recorded, whatever its status. A half-written last journal line (a crash mid-write) is cut off before the next
append, so it can never swallow the next result, and that trial simply runs again. One writer at a time: a
second process that opens the same store for writing gets a clear error (an advisory ``fcntl`` lock on
``<out>.lock``) instead of losing the other's trials.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaad.exceptions import DataError

#: The columns of a results table, in order.
RESULT_COLUMNS: tuple[str, ...] = (
    "dataset", "config_id", "family", "params_json", "seed", "n_rows", "auroc", "average_precision", "precision_at_n",
    "fit_seconds", "score_seconds", "peak_memory_mb", "status", "message",
)
#: The columns that identify a trial.
TRIAL_KEY: tuple[str, str, str, str] = ("dataset", "config_id", "seed", "n_rows")


class ResultStore:
    """The results of a benchmark: a Parquet file plus an append-only JSONL journal of the trials since.

    Parameters
    ----------
    out : path
        The Parquet file. The journal is ``<out>.journal.jsonl`` next to it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = ResultStore(pathlib.Path(tempfile.mkdtemp()) / "r.parquet")
    >>> with store.writing():
    ...     store.append({"dataset": "d", "config_id": "ecod-1", "seed": 0, "n_rows": 80, "status": "ok"})
    ...     frame = store.consolidate()
    >>> sorted(store.completed_keys()), len(frame)
    ([('d', 'ecod-1', 0, 80)], 1)
    """

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.path = Path(out)
        self.journal = self.path.with_name(self.path.name + ".journal.jsonl")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock_handle: Any = None

    @contextlib.contextmanager
    def writing(self) -> Any:
        """Hold the store's write lock (one writer at a time); repairs a torn journal tail on entry.

        Raises
        ------
        DataError
            When another process holds the lock.
        """
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_path.open("a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise DataError(f"{self.path}: another process is writing these results (lock {self.lock_path}); "
                            "wait for it to finish or write to another file") from None
        self._lock_handle = handle
        try:
            self._repair_journal()
            yield self
        finally:
            self._lock_handle = None
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()

    def _require_lock(self) -> None:
        if self._lock_handle is None:
            raise RuntimeError("ResultStore: append and consolidate need the write lock (use `with store.writing():`)")

    def _repair_journal(self) -> None:
        """Cut a half-written last line (a crash mid-append) so that the next append starts on a line of its own."""
        if not self.journal.exists():
            return
        with self.journal.open("rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)
                handle.flush()
                os.fsync(handle.fileno())

    def _read_journal(self) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        rows = []
        with self.journal.open("r", encoding="utf-8") as handle:
            for line in handle:
                with contextlib.suppress(json.JSONDecodeError):
                    rows.append(json.loads(line))
        return rows

    def load(self) -> pd.DataFrame:
        """Every recorded trial (Parquet and journal), one row per trial, in :data:`RESULT_COLUMNS` order."""
        frames = []
        if self.path.exists():
            frames.append(pd.read_parquet(self.path))
        journal = self._read_journal()
        if journal:
            frames.append(pd.DataFrame(journal))
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in RESULT_COLUMNS})
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        for column in RESULT_COLUMNS:
            if column not in frame:
                frame[column] = None
        frame["n_rows"] = pd.to_numeric(frame["n_rows"]).fillna(-1)  # -1: recorded before sizes were
        frame = frame.drop_duplicates(subset=list(TRIAL_KEY), keep="first")
        frame = frame[list(RESULT_COLUMNS)].reset_index(drop=True)
        for column in RESULT_COLUMNS:
            frame[column] = frame[column].astype(_dtype(column))
        return frame

    def completed_keys(self) -> set[tuple[str, str, int, int]]:
        """The ``(dataset, config_id, seed, n_rows)`` of every recorded trial."""
        return trial_keys(self.load())

    def append(self, row: dict[str, Any]) -> None:
        """Record one finished trial in the journal (one line, flushed and fsynced); needs :meth:`writing`."""
        self._require_lock()
        line = json.dumps({k: _plain(v) for k, v in row.items()}, separators=(",", ":")) + "\n"
        with self.journal.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def consolidate(self) -> pd.DataFrame:
        """Merge the journal into the Parquet file (atomically) and remove the journal; needs :meth:`writing`."""
        from metaad._io import atomic_write_bytes

        self._require_lock()
        frame = self.load()
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        atomic_write_bytes(self.path, buffer.getvalue())
        with contextlib.suppress(FileNotFoundError):
            self.journal.unlink()
        return frame


def task_name(dataset: str, n_rows: int | None) -> str:
    """The name of a task, one dataset at one size: ``"<dataset>@<n_rows>"`` (the dataset alone without a size).

    Examples
    --------
    >>> task_name("shuttle", 5000), task_name("shuttle", None)
    ('shuttle@5000', 'shuttle')
    """
    return str(dataset) if n_rows is None or int(n_rows) < 0 else f"{dataset}@{int(n_rows)}"


def performance_matrices(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """AUROC, AP and seconds matrices (tasks x config ids, mean over seeds) from results rows.

    Only finished trials (status ``ok``) count; a task is ``"<dataset>@<n_rows>"`` (the dataset's name alone for
    results without sizes).

    Examples
    --------
    >>> rows = pd.DataFrame({"dataset": ["a", "a", "b"], "config_id": ["x", "x", "x"], "seed": [0, 1, 0],
    ...                      "n_rows": [80, 80, 50], "auroc": [0.6, 0.8, 0.5], "average_precision": [0.1, 0.3, 0.2],
    ...                      "fit_seconds": [1.0, 3.0, 1.0], "score_seconds": [0.0, 0.0, 0.5], "status": ["ok"] * 3})
    >>> auroc, ap, seconds = performance_matrices(rows)
    >>> auroc.round(2).to_dict(), seconds.to_dict()
    ({'x': {'a@80': 0.7, 'b@50': 0.5}}, {'x': {'a@80': 2.0, 'b@50': 1.5}})
    """
    sizes = results["n_rows"] if "n_rows" in results else [None] * len(results)
    seconds = (results["fit_seconds"] + results["score_seconds"]) if "fit_seconds" in results else np.nan
    frame = results.assign(task=[task_name(d, n) for d, n in zip(results["dataset"], sizes)], seconds=seconds)
    ok = frame[frame["status"] == "ok"]
    tasks = sorted(frame["task"].unique())
    configs = sorted(frame["config_id"].unique())
    out = []
    for metric in ("auroc", "average_precision", "seconds"):
        matrix = ok.pivot_table(index="task", columns="config_id", values=metric, aggfunc="mean")
        matrix = matrix.reindex(index=tasks, columns=configs).astype("float64")
        matrix.index.name, matrix.columns.name = "task", None
        out.append(matrix)
    return out[0], out[1], out[2]


def trial_keys(frame: pd.DataFrame) -> set[tuple[str, str, int, int]]:
    """The :data:`TRIAL_KEY` tuples of a results table."""
    return set(zip(frame["dataset"], frame["config_id"], frame["seed"].astype(int), frame["n_rows"].astype(int)))


def _dtype(column: str) -> str:
    if column in ("seed", "n_rows"):
        return "int64"
    if column in ("auroc", "average_precision", "precision_at_n", "fit_seconds", "score_seconds", "peak_memory_mb"):
        return "float64"
    return "object"


def _plain(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def load_results(out: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a results file (and its journal, if a run is under way or was interrupted).

    Raises
    ------
    DataError
        When neither the file nor its journal exists.
    """
    store = ResultStore(out)
    if not store.path.exists() and not store.journal.exists():
        raise DataError(f"{out}: no such results file")
    return store.load()


__all__ = ["RESULT_COLUMNS", "TRIAL_KEY", "ResultStore", "load_results", "performance_matrices", "task_name", "trial_keys"]
