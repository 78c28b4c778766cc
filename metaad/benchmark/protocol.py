"""The evaluation protocol: one trial, run exactly as the benchmark datasets are reported with.

A *trial* is one (dataset, size, configuration, seed): an optional stratified subsample of ``n_rows`` rows
(:func:`metaad.benchmark.datasets.subsample`, ``random_state=0``, the same rows for every seed and
configuration), a stratified 70/30 ``train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)``, a
``StandardScaler`` fit on the training part only, the detector fit on the training part **without labels**
(``random_state=seed``; on a random :data:`FIT_ROWS`-row sample of it when it is larger, as ``auto`` fits its
choice), and AUROC, average precision and precision@n (n = number of test anomalies) of its scores on the whole
test part, with the fit and score seconds.

``peak_memory_mb`` is the growth of the worker process's peak resident set size (``resource.getrusage``
``ru_maxrss``) during fit and score: cheap and counting every allocator (NumPy, PyTorch), but a lower bound, 0
when the trial stayed under a peak the long-lived worker had already reached. (:mod:`tracemalloc` was measured
to double the fit time of IForest, so it is not used.)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from metaad.benchmark.datasets import dataset_rows, load_labelled, sizes_for
from metaad.benchmark.store import RESULT_COLUMNS
from metaad.benchmark.zoo import MAX_TRAIN_ROWS, Configuration, fits_size
from metaad.exceptions import DataError


@dataclass(frozen=True)
class Trial:
    """One benchmark trial: a dataset file at ``n_rows`` rows, a configuration and a seed."""

    dataset: str
    path: str
    config: Configuration
    seed: int
    n_rows: int

    @property
    def key(self) -> tuple[str, str, int, int]:
        """``(dataset, config_id, seed, n_rows)``."""
        return (self.dataset, self.config.config_id, int(self.seed), int(self.n_rows))

    def to_task(self) -> dict[str, Any]:
        """A plain, picklable description for a worker process."""
        return {"dataset": self.dataset, "path": self.path, "family": self.config.family,
                "params_json": self.config.params_json, "config_id": self.config.config_id,
                "seed": int(self.seed), "n_rows": int(self.n_rows)}


#: Most training rows a configuration is fitted on; a larger training part is sampled (seeded by the trial's seed).
#: ``auto`` fits its choice the same way, so the knowledge base measures what ``auto`` runs: on large tables a
#: sample is both much faster and, for neighbour methods, better (clustered anomalies mask each other less in
#: 5,000 rows than in 50,000, as Isolation Forest's 256-row trees exploit).
FIT_ROWS = 5000


def fit_sample(n_rows: int, random_state: int, max_rows: int = FIT_ROWS) -> np.ndarray:
    """Sorted indices of at most ``max_rows`` of ``n_rows`` rows, drawn without replacement (all rows if fewer).

    Examples
    --------
    >>> fit_sample(10, 0, max_rows=20).tolist() == list(range(10)), len(fit_sample(10_000, 0))
    (True, 5000)
    """
    if n_rows <= max_rows:
        return np.arange(n_rows)
    return np.sort(np.random.RandomState(random_state).choice(n_rows, size=max_rows, replace=False))


def make_trials(datasets: dict[str, str], configurations: Iterable[Configuration], seeds: Iterable[int],
                sizes: Sequence[int | None] = (None,)) -> list[Trial]:
    """Every (dataset, size, configuration, seed), datasets outermost, then sizes ascending.

    Parameters
    ----------
    datasets : dict
        Dataset name -> file (from :func:`metaad.benchmark.datasets.discover_datasets`).
    configurations : iterable of Configuration
    seeds : iterable of int
    sizes : sequence of int or None, default (None,)
        Row counts to run each dataset at (None: all its rows); a size at or above a dataset's row count is
        that dataset at full size, so small datasets run once.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> np.savez(d / "toy.npz", X=np.zeros((300, 2)), y=np.r_[np.zeros(290), np.ones(10)])
    >>> trials = make_trials({"toy": str(d / "toy.npz")}, [Configuration("ecod", {})], [0], sizes=[100, 500, None])
    >>> [t.n_rows for t in trials]
    [100, 300]
    """
    configurations, seeds = list(configurations), [int(s) for s in seeds]
    return [Trial(name, path, cfg, seed, n_rows) for name, path in datasets.items() for n_rows in sizes_for(path, sizes)
            for cfg in configurations for seed in seeds]


def read_trial_data(path: str, n_rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The dataset's rows for a trial at ``n_rows`` rows (all of them when ``n_rows`` is None or not smaller)."""
    subsample = n_rows is not None and int(n_rows) < dataset_rows(str(path))
    return load_labelled(str(path), int(n_rows) if subsample else None)


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
    row.update({k: task.get(k) for k in ("dataset", "config_id", "family", "params_json", "seed", "n_rows")})
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
    >>> trial = Trial("toy", str(p), Configuration("iforest", {"n_estimators": 50}), seed=0, n_rows=100)
    >>> row = run_trial(trial.to_task())
    >>> row["status"], row["auroc"]
    ('ok', 1.0)
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    from metaad.detectors.registry import get_detector_info
    from metaad.evaluation.metrics import precision_at_n

    if "runner" in task:  # a trial of a higher layer (the search's), named "module:function"; it never raises either
        import importlib

        module, _, name = str(task["runner"]).partition(":")
        return getattr(importlib.import_module(module), name)(task)
    row = _base_row(task)
    try:
        X, y = read_trial_data(task["path"], task.get("n_rows"))
        seed = int(task["seed"])
        X_train, X_test, _, y_test = protocol_split(X, y, seed)
        config = Configuration.from_json(task["family"], task["params_json"])
        if not fits_size(config.family, X_train.shape[0]):
            row.update(status="skipped", message=f"{config.family} is not fitted on more than "
                       f"{MAX_TRAIN_ROWS[config.family]} training rows ({X_train.shape[0]} here)")
            return row
        accepted = get_detector_info(config.family).parameters
        overrides: dict[str, Any] = {"random_state": seed}
        overrides.update({k: v for k, v in (("device", "cpu"), ("n_threads", 1), ("verbose", False)) if k in accepted})
        detector = config.make_detector(**overrides)
        rss_before = _max_rss_mb()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            detector.fit(X_train[fit_sample(len(X_train), seed)])
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


__all__ = ["FIT_ROWS", "Trial", "error_row", "fit_sample", "make_trials", "protocol_split", "read_trial_data", "run_trial"]
