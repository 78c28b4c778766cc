"""``tune``: a policy-gradient search over detector families, architectures and hyperparameters.

The loop (:mod:`metaad.search.loop`) proposes configurations from a factorized policy over the declared space
(:mod:`metaad.benchmark.space`; :mod:`metaad.search.policy`), warm-started from the meta prior, evaluates them in
parallel on the engine with a reward measured on the user's own table (:mod:`metaad.search.reward`: synthetic
anomalies without labels, held-out known anomalies with them), updates the policy by REINFORCE (or PPO-clip),
logs every trial and resumes after a kill. :func:`tune` refits the best configuration and returns it.

The returned detector is the best configuration's own registered detector (an ``IForestDetector``, a
``KNNDetector``...), so it saves, loads, serves and exports exactly like that detector; the search is attached as
``search_`` (the trial log as a DataFrame) and ``tuning_`` (the best trial, the reward's definition, the
settings). Those two are not part of the model file: the trial log lives in the search folder (``log_dir``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from metaad.exceptions import DataError, ParameterError
from metaad.search.loop import SEARCH_ENGINES, SEARCH_METHODS, SearchResult, run_search

logger = logging.getLogger(__name__)


def tune(
    X: Any,
    y: Any = None,
    trials: int = 50,
    time_limit: float | None = None,
    *,
    method: str = "reinforce",
    warm_start: bool = True,
    prior_weight: float = 0.5,
    batch_size: int = 4,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    trial_time_limit: float | None = 120.0,
    fit_rows: int = 1000,
    max_fit_rows: int | None = 5000,
    families: list[str] | None = None,
    knowledge: str | os.PathLike[str] | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    contamination: float = 0.1,
    random_state: int = 0,
    progress: Callable[..., None] | None = None,
) -> Any:
    """Search for the best detector configuration for ``X`` and return it fitted.

    The search (:func:`metaad.search.loop.run_search`) runs ``trials`` trials (and/or stops at ``time_limit``
    seconds); the configuration with the best reward is then refitted, on at most ``max_fit_rows`` rows drawn at
    random (as ``auto`` fits its choice), with ``contamination`` and ``random_state``. When it cannot be fitted
    there, the next best is.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_columns)
        The numeric table (see :class:`metaad.AnomalyPipeline` or ``metaad tune`` for mixed-type tables).
    y : array-like of {0, 1}, optional
        1 marks rows known to be anomalies (0 = unknown). They change the reward only; the detector is fitted
        without labels.
    trials, time_limit
        The budget.
    Other parameters
        See :func:`metaad.search.loop.run_search`.

    Returns
    -------
    BaseDetector
        The best configuration's detector, fitted, with ``search_`` (every trial: ``trial``, ``config_id``,
        ``family``, ``params_json``, ``reward``, ``evidence``, ``prior``, ``seconds``, ``status``, ``message``...)
        and ``tuning_`` (``best``, ``reward_definition``, ``settings``, ``stopped_by``, ``history``).

    Examples
    --------
    >>> import numpy as np, metaad
    >>> X = np.random.RandomState(0).normal(size=(300, 4))
    >>> det = metaad.tune(X, trials=4, batch_size=2, engine="inline", families=["ecod", "hbos", "knn"])
    >>> det.registry_name in ("ecod", "hbos", "knn"), len(det.search_) >= 4
    (True, True)
    >>> det.predict(X).shape
    (300,)
    """
    if max_fit_rows is not None and (isinstance(max_fit_rows, bool) or not isinstance(max_fit_rows, (int, np.integer)) or max_fit_rows < 1):
        raise ParameterError(f"max_fit_rows must be a positive integer or None, got {max_fit_rows!r}")
    array = np.asarray(X, dtype=np.float64)
    result = run_search(
        array, y, trials=trials, time_limit=time_limit, method=method, warm_start=warm_start, prior_weight=prior_weight,
        batch_size=batch_size, engine=engine, workers=workers, ray_address=ray_address, trial_time_limit=trial_time_limit,
        fit_rows=fit_rows, max_fit_rows=max_fit_rows or array.shape[0], families=families, knowledge=knowledge,
        log_dir=log_dir, random_state=random_state, progress=progress,
    )
    return refit_best(result, array, max_fit_rows=max_fit_rows, contamination=contamination, random_state=random_state)


def refit_best(result: SearchResult, X: np.ndarray, *, max_fit_rows: int | None = 5000, contamination: float = 0.1,
               random_state: int = 0) -> Any:
    """Fit the search's best configuration (or, when it cannot be fitted, the next best) on ``X``; attach the search."""
    from metaad.benchmark.protocol import fit_sample
    from metaad.meta.selection import build_detector

    rows = None if max_fit_rows is None else fit_sample(X.shape[0], int(random_state), int(max_fit_rows))
    sample = X if rows is None else X[rows]
    ok = result.trials[result.trials["status"] == "ok"].drop_duplicates("config_id")
    ok = ok.sort_values(["reward", "trial"], ascending=[False, True])
    overrides = {"contamination": contamination, "random_state": random_state}
    for row in ok.itertuples():
        cand = {"config_id": row.config_id, "family": row.family, "params": json.loads(row.params_json)}
        try:
            detector = build_detector(cand, overrides).fit(sample)
        except (DataError, ParameterError) as exc:
            logger.info("tune: %s cannot be fitted on the table (%s); trying the next best", row.config_id, exc)
            continue
        detector.search_ = result.trials.copy()
        detector.tuning_ = {"best": {**cand, "reward": float(row.reward), "trial": int(row.trial)},
                            "reward_definition": result.reward_definition, "settings": result.settings,
                            "stopped_by": result.stopped_by, "history": result.history,
                            "n_fit_rows": int(sample.shape[0])}
        return detector
    raise DataError(f"none of the {len(ok)} successful configurations of the search could be fitted on data of shape {X.shape}")


__all__ = ["SEARCH_ENGINES", "SEARCH_METHODS", "SearchResult", "refit_best", "run_search", "tune"]
