"""Run a benchmark: the trials not yet recorded, on an engine, each recorded as it finishes.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> from metaad.benchmark.datasets import discover_datasets
>>> from metaad.benchmark.protocol import make_trials
>>> from metaad.benchmark.zoo import Configuration
>>> rng = np.random.RandomState(0)
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> np.savez(d / "toy.npz", X=rng.normal(size=(60, 3)), y=np.r_[np.zeros(54), np.ones(6)])
>>> trials = make_trials(discover_datasets([d]), [Configuration("ecod", {})], seeds=[0])
>>> run_benchmark(trials, d / "r.parquet", workers=1)["status"].tolist()
['ok']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from metaad.benchmark.protocol import Trial
from metaad.benchmark.store import ResultStore
from metaad.exceptions import ParameterError


def run_benchmark(
    trials: Sequence[Trial],
    out: str | os.PathLike[str],
    *,
    engine: str = "local",
    workers: int | None = None,
    time_limit: float | None = None,
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
    >>> from metaad.benchmark.datasets import discover_datasets
    >>> from metaad.benchmark.protocol import make_trials
    >>> from metaad.benchmark.zoo import Configuration
    >>> trials = make_trials(discover_datasets([d]), [Configuration("ecod", {})], seeds=[0, 1])
    >>> frame = run_benchmark(trials, d / "r.parquet", workers=1)
    >>> frame[["dataset", "seed", "status"]].values.tolist()
    [['toy', 0, 'ok'], ['toy', 1, 'ok']]
    """
    from metaad.engine import get_engine

    if time_limit is not None and time_limit <= 0:
        raise ParameterError(f"time_limit must be > 0 seconds, got {time_limit!r}")
    store = ResultStore(out)
    with store.writing():
        done_keys = store.completed_keys()
        todo = [t for t in trials if t.key not in done_keys]
        total, done = len(trials), len(trials) - len(todo)
        if progress is not None:
            progress(done, total, None)
        if todo:
            runner = get_engine(engine, workers=workers, ray_address=ray_address)
            try:
                for row in runner.run([t.to_task() for t in todo], time_limit=time_limit):
                    store.append(row)
                    done += 1
                    if progress is not None:
                        progress(done, total, row)
            finally:
                store.consolidate()
        frame = store.consolidate() if store.journal.exists() or not store.path.exists() else store.load()
    keys = {t.key for t in trials}
    mask = [k in keys for k in zip(frame["dataset"], frame["config_id"], frame["seed"].astype(int), frame["n_rows"].astype(int))]
    return frame[mask].reset_index(drop=True)


__all__ = ["run_benchmark"]
