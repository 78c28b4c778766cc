"""Benchmark trials: the protocol, one trial, and the resumable, loss-free results store.

A *trial* is one (dataset, configuration, seed). Its protocol is the one the datasets are reported with:
an optional stratified subsample of ``max_rows`` rows (``random_state=0``, the same rows for every seed and
every configuration), a stratified 70/30 ``train_test_split(X, y, test_size=0.3, stratify=y,
random_state=seed)``, a ``StandardScaler`` fit on the training part only, the detector fit on the training part
**without labels** (``random_state=seed``), and AUROC, average precision and precision@n (n = number of test
anomalies) of its scores on the test part.

Results are never lost: the driver appends each finished trial as one JSON line to the journal
``<out>.journal.jsonl`` (flushed and fsynced), and consolidates the journal into ``<out>`` (Parquet, written
atomically, duplicates dropped, then the journal removed) when the run ends or is interrupted. A restarted run
reads both and skips every trial already recorded, whatever its status; a half-written last journal line (a
crash mid-write) is ignored and that trial simply runs again.

``peak_memory_mb`` is the growth of the worker process's peak resident set size (``resource.getrusage``
``ru_maxrss``) during fit and score: cheap and counting every allocator (NumPy, PyTorch), but a lower bound, 0
when the trial stayed under a peak the long-lived worker had already reached. (:mod:`tracemalloc` was measured
to double the fit time of IForest, so it is not used.)
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaad.exceptions import DataError, ParameterError
from metaad.meta.zoo import Configuration

#: The columns of a results table, in order.
RESULT_COLUMNS: tuple[str, ...] = (
    "dataset", "config_id", "family", "params_json", "seed", "auroc", "average_precision", "precision_at_n",
    "fit_seconds", "score_seconds", "peak_memory_mb", "status", "message",
)
#: The columns that identify a trial.
TRIAL_KEY: tuple[str, str, str] = ("dataset", "config_id", "seed")


@dataclass(frozen=True)
class Trial:
    """One benchmark trial: a dataset file, a configuration and a seed."""

    dataset: str
    path: str
    config: Configuration
    seed: int

    @property
    def key(self) -> tuple[str, str, int]:
        """``(dataset, config_id, seed)``."""
        return (self.dataset, self.config.config_id, int(self.seed))

    def to_task(self, max_rows: int | None) -> dict[str, Any]:
        """A plain, picklable description for a worker process."""
        return {"dataset": self.dataset, "path": self.path, "family": self.config.family,
                "params_json": self.config.params_json, "config_id": self.config.config_id,
                "seed": int(self.seed), "max_rows": max_rows}


def discover_datasets(sources: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """Map dataset names (file stems) to paths, from files and folders (their readable files, not recursive).

    Raises
    ------
    DataError
        When a source does not exist, a folder holds no readable file, or two files share a name.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> np.savez(d / "toy.npz", X=np.zeros((4, 2)), y=np.array([0, 0, 0, 1]))
    >>> list(discover_datasets([d]))
    ['toy']
    """
    from metaad.data.readers import SUPPORTED_SUFFIXES

    def readable(p: Path) -> bool:
        return p.is_file() and any(p.name.lower().endswith(s) for s in SUPPORTED_SUFFIXES)

    def stem(p: Path) -> str:
        name = p.name
        for suffix in SUPPORTED_SUFFIXES:
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return p.stem

    found: dict[str, str] = {}
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if readable(p))
            if not files:
                raise DataError(f"{path}: no readable data file (expected {', '.join(SUPPORTED_SUFFIXES)})")
        elif path.exists():
            files = [path]
        else:
            raise DataError(f"{path}: no such file or folder")
        for file in files:
            name = stem(file)
            if name in found and found[name] != str(file):
                raise DataError(f"two datasets are named {name!r}: {found[name]} and {file}")
            found[name] = str(file)
    return found


def make_trials(datasets: dict[str, str], configurations: Iterable[Configuration], seeds: Iterable[int]) -> list[Trial]:
    """Every (dataset, configuration, seed), datasets outermost (so a dataset's trials run together)."""
    configurations, seeds = list(configurations), [int(s) for s in seeds]
    return [Trial(name, path, cfg, seed) for name, path in datasets.items() for cfg in configurations for seed in seeds]


#: A subsample keeps at least this many anomalies (when the dataset has them), so that datasets with very
#: rare anomalies (smtp: 30 in 95,156 rows) still give a test part with anomalies to rank.
MIN_SUBSAMPLE_ANOMALIES = 10


def subsample(X: np.ndarray, y: np.ndarray, max_rows: int, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A stratified subsample of ``max_rows`` rows holding at least ``MIN_SUBSAMPLE_ANOMALIES`` anomalies.

    When stratification would keep fewer anomalies, the anomalies are drawn first (all of them, up to the
    minimum) and the normal rows fill the rest, which raises the anomaly share of that subsample.

    Examples
    --------
    >>> X = np.arange(2000.0).reshape(1000, 2)
    >>> y = np.r_[np.zeros(995), np.ones(5)].astype(int)
    >>> Xs, ys = subsample(X, y, 100)
    >>> Xs.shape, int(ys.sum())
    ((100, 2), 5)
    """
    from sklearn.model_selection import train_test_split

    n_anomalies = int(y.sum())
    wanted = min(n_anomalies, MIN_SUBSAMPLE_ANOMALIES)
    if round(max_rows * n_anomalies / len(y)) >= wanted:
        X, _, y, _ = train_test_split(X, y, train_size=int(max_rows), stratify=y, random_state=random_state)
        return X, y
    rng = np.random.RandomState(random_state)
    anomalies = rng.choice(np.flatnonzero(y == 1), size=wanted, replace=False)
    normals = rng.choice(np.flatnonzero(y == 0), size=int(max_rows) - wanted, replace=False)
    rows = np.sort(np.r_[anomalies, normals])
    return X[rows], y[rows]


@lru_cache(maxsize=4)
def load_dataset(path: str, max_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read a labelled dataset as ``(X float64, y int)``, subsampled to ``max_rows`` (see :func:`subsample`).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "toy.npz"
    >>> np.savez(p, X=np.arange(200.0).reshape(100, 2), y=np.r_[np.zeros(90), np.ones(10)])
    >>> X, y = load_dataset(str(p), max_rows=50)
    >>> X.shape, int(y.sum())
    ((50, 2), 10)
    """
    from metaad.data.readers import read_table

    table = read_table(path)
    if table.labels is None:
        raise DataError(f"{path}: the benchmark needs labels (1 = anomaly) and this file has none")
    X = np.asarray(table.frame.to_numpy(dtype=np.float64))
    y = np.asarray(table.labels).astype(int).ravel()
    if max_rows is not None and X.shape[0] > max_rows:
        X, y = subsample(X, y, int(max_rows))
    return np.ascontiguousarray(X), y


def protocol_split(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One seed's split of the protocol: stratified 70/30, a ``StandardScaler`` fit on the training part only.

    Returns ``X_train, X_test, y_train, y_test`` with both parts scaled. Every trial uses it, and so does any
    replay of a trial (the selection benchmark refits configurations on exactly these rows).

    Examples
    --------
    >>> X = np.arange(40.0).reshape(20, 2)
    >>> y = np.r_[np.zeros(16), np.ones(4)].astype(int)
    >>> X_train, X_test, y_train, y_test = protocol_split(X, y, seed=0)
    >>> X_train.shape, X_test.shape, int(y_test.sum())
    ((14, 2), (6, 2), 1)
    >>> bool(np.allclose(X_train.mean(axis=0), 0))
    True
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=int(seed))
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def _base_row(task: dict[str, Any]) -> dict[str, Any]:
    row = dict.fromkeys(RESULT_COLUMNS)
    row.update({k: task[k] for k in ("dataset", "config_id", "family", "params_json", "seed")})
    row["message"] = ""
    return row


def error_row(task: dict[str, Any], status: str, message: str) -> dict[str, Any]:
    """The row recorded for a trial that did not finish (``status`` ``error`` or ``timeout``)."""
    row = _base_row(task)
    row.update(status=status, message=message[:500])
    return row


def run_trial(task: dict[str, Any]) -> dict[str, Any]:
    """Run one trial (a dict from :meth:`Trial.to_task`) and return its results row; never raises.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> rng = np.random.RandomState(0)
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "toy.npz"
    >>> np.savez(p, X=np.r_[rng.normal(size=(90, 3)), rng.normal(6, 1, size=(10, 3))], y=np.r_[np.zeros(90), np.ones(10)])
    >>> trial = Trial("toy", str(p), Configuration("iforest", {"n_estimators": 50}), seed=0)
    >>> row = run_trial(trial.to_task(max_rows=None))
    >>> row["status"], row["auroc"]
    ('ok', 1.0)
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    from metaad.detectors.registry import get_detector_info
    from metaad.evaluation.metrics import precision_at_n

    row = _base_row(task)
    try:
        X, y = load_dataset(task["path"], task.get("max_rows"))
        seed = int(task["seed"])
        X_train, X_test, _, y_test = protocol_split(X, y, seed)
        config = Configuration.from_json(task["family"], task["params_json"])
        accepted = get_detector_info(config.family).parameters
        overrides: dict[str, Any] = {"random_state": seed}
        overrides.update({k: v for k, v in (("device", "cpu"), ("n_threads", 1), ("verbose", False)) if k in accepted})
        detector = config.make_detector(**overrides)
        rss_before = _max_rss_mb()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            detector.fit(X_train)
            fitted = time.perf_counter()
            scores = np.asarray(detector.decision_function(X_test), dtype=np.float64)
            scored = time.perf_counter()
        peak = _max_rss_mb() - rss_before
        if not np.all(np.isfinite(scores)):
            raise DataError(f"{int((~np.isfinite(scores)).sum())} non-finite test scores")
        row.update(
            auroc=float(roc_auc_score(y_test, scores)),
            average_precision=float(average_precision_score(y_test, scores)),
            precision_at_n=float(precision_at_n(y_test, scores)),
            fit_seconds=fitted - start, score_seconds=scored - fitted, peak_memory_mb=peak, status="ok",
        )
    except Exception as exc:  # a failing configuration is recorded and the run goes on
        row.update(status="error", message=f"{type(exc).__name__}: {exc}"[:500])
    return row


def _max_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # pragma: no cover  (Windows)
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux


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
    >>> store.append({"dataset": "d", "config_id": "ecod-1", "seed": 0, "status": "ok"})
    >>> sorted(store.completed_keys())
    [('d', 'ecod-1', 0)]
    >>> len(store.consolidate())
    1
    """

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.path = Path(out)
        self.journal = self.path.with_name(self.path.name + ".journal.jsonl")

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
        frame = frame.drop_duplicates(subset=list(TRIAL_KEY), keep="first")
        frame = frame[list(RESULT_COLUMNS)].reset_index(drop=True)
        for column in RESULT_COLUMNS:
            frame[column] = frame[column].astype(_dtype(column))
        return frame

    def completed_keys(self) -> set[tuple[str, str, int]]:
        """The ``(dataset, config_id, seed)`` of every recorded trial."""
        frame = self.load()
        return set(zip(frame["dataset"], frame["config_id"], frame["seed"].astype(int)))

    def append(self, row: dict[str, Any]) -> None:
        """Record one finished trial in the journal (one line, flushed and fsynced)."""
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({k: _plain(v) for k, v in row.items()}, separators=(",", ":")) + "\n"
        with self.journal.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def consolidate(self) -> pd.DataFrame:
        """Merge the journal into the Parquet file (atomically) and remove the journal; returns all results."""
        from metaad._io import atomic_write_bytes

        frame = self.load()
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        atomic_write_bytes(self.path, buffer.getvalue())
        with contextlib.suppress(FileNotFoundError):
            self.journal.unlink()
        return frame


def _dtype(column: str) -> str:
    if column == "seed":
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


def run_benchmark(
    trials: Sequence[Trial],
    out: str | os.PathLike[str],
    *,
    engine: str = "local",
    workers: int | None = None,
    time_limit: float | None = None,
    max_rows: int | None = None,
    ray_address: str | None = None,
    progress: Any | None = None,
) -> pd.DataFrame:
    """Run the trials not yet recorded in ``out``, recording each as it finishes; return all results.

    Parameters
    ----------
    trials : sequence of Trial
        From :func:`make_trials`.
    out : path
        The results Parquet file (see :class:`ResultStore`).
    engine : {"local", "ray"}, default "local"
        Where trials run: a local process pool, or a Ray cluster.
    workers : int, optional
        Parallel trials (default: the CPU count for ``local``, the cluster's CPUs for ``ray``).
    time_limit : float, optional
        Seconds one trial may take before it is stopped and recorded with status ``timeout``.
    max_rows : int, optional
        Stratified subsample of each dataset (see the module docstring).
    ray_address : str, optional
        Address of a running Ray cluster (``engine="ray"``); default starts a local one.
    progress : callable, optional
        ``progress(done, total, row)`` after each finished trial; ``progress(done, total, None)`` once at start.

    Returns
    -------
    pandas.DataFrame
        Every recorded trial, one row per (dataset, config_id, seed).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> rng = np.random.RandomState(0)
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> np.savez(d / "toy.npz", X=rng.normal(size=(60, 3)), y=np.r_[np.zeros(54), np.ones(6)])
    >>> trials = make_trials(discover_datasets([d]), [Configuration("ecod", {})], seeds=[0, 1])
    >>> frame = run_benchmark(trials, d / "r.parquet", workers=1)
    >>> frame[["dataset", "seed", "status"]].values.tolist()
    [['toy', 0, 'ok'], ['toy', 1, 'ok']]
    """
    from metaad.engine import get_engine

    if time_limit is not None and time_limit <= 0:
        raise ParameterError(f"time_limit must be > 0 seconds, got {time_limit!r}")
    store = ResultStore(out)
    done_keys = store.completed_keys()
    todo = [t for t in trials if t.key not in done_keys]
    total, done = len(trials), len(trials) - len(todo)
    if progress is not None:
        progress(done, total, None)
    if todo:
        runner = get_engine(engine, workers=workers, ray_address=ray_address)
        try:
            for row in runner.run([t.to_task(max_rows) for t in todo], time_limit=time_limit):
                store.append(row)
                done += 1
                if progress is not None:
                    progress(done, total, row)
        finally:
            store.consolidate()
    frame = store.consolidate() if store.journal.exists() or not store.path.exists() else store.load()
    keys = {t.key for t in trials}
    mask = [k in keys for k in zip(frame["dataset"], frame["config_id"], frame["seed"].astype(int))]
    return frame[mask].reset_index(drop=True)
