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
from metaad.search.guard import DEFAULT_MARGIN, DEFAULT_TOP
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
    guard_margin: float | None = DEFAULT_MARGIN,
    guard_top: int = DEFAULT_TOP,
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
    guard_margin : float or None, default 0.05
        Without labels, ``auto``'s own choice is the incumbent: the search's ``guard_top`` best configurations and
        it are judged again on a fresh synthetic draw, and a configuration of the search replaces it only when it
        wins there by ``guard_margin`` (:mod:`metaad.search.guard`); otherwise the returned detector is ``auto``'s
        (an ``AutoDetector``). None: the search's best reward is taken as it is (the winner's curse included).
    Other parameters
        See :func:`metaad.search.loop.run_search`.

    Returns
    -------
    BaseDetector
        The chosen detector, fitted (``auto``'s ``AutoDetector`` when the guard keeps the incumbent), with ``search_`` (every trial: ``trial``, ``config_id``,
        ``family``, ``params_json``, ``reward``, ``evidence``, ``prior``, ``seconds``, ``status``, ``message``...)
        and ``tuning_`` (``best``, ``reward_definition``, ``settings``, ``stopped_by``, ``history``, and ``guard``: the
        fresh-draw comparison, see :mod:`metaad.search.guard`).

    Examples
    --------
    >>> import numpy as np, metaad
    >>> X = np.random.RandomState(0).normal(size=(300, 4))
    >>> det = metaad.tune(X, trials=4, batch_size=2, engine="inline", families=["ecod", "hbos", "knn"])
    >>> det.registry_name in ("auto", "ecod", "hbos", "knn"), len(det.search_) >= 4, det.tuning_["guard"]["choice"] in ("incumbent", "challenger")
    (True, True, True)
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
    return choose_final(result, array, margin=guard_margin, top=guard_top, knowledge=knowledge, families=families,
                        max_fit_rows=max_fit_rows, contamination=contamination, random_state=random_state, engine=engine,
                        workers=workers, ray_address=ray_address, trial_time_limit=trial_time_limit)


def choose_final(result: SearchResult, X: np.ndarray, *, margin: float | None = DEFAULT_MARGIN, top: int = DEFAULT_TOP,
                 auto: Any = None, knowledge: str | os.PathLike[str] | None = None, families: list[str] | None = None,
                 max_fit_rows: int | None = 5000, contamination: float = 0.1, random_state: int = 0,
                 engine: str = "local", workers: int | None = None, ray_address: str | None = None,
                 trial_time_limit: float | None = 120.0, cache: dict[str, Any] | None = None) -> Any:
    """The detector a search ends with: with labels (or ``margin`` None) its best configuration refitted
    (:func:`refit_best`); without, ``auto``'s choice unless a configuration of the search beats it on a fresh
    synthetic draw by ``margin`` (:func:`metaad.search.guard.guard`).

    ``auto`` is an ``AutoDetector`` already fitted on ``X`` with the same settings (fitted here when None);
    ``cache`` (a dict kept between calls on the same search and table, e.g. at several budgets) keeps the
    incumbent's fresh evaluation.
    """
    from dataclasses import replace

    from metaad.search.guard import guard, incumbent_members

    if margin is None or result.settings.get("labelled"):
        return refit_best(result, X, max_fit_rows=max_fit_rows, contamination=contamination, random_state=random_state)
    if auto is None:
        from metaad.meta.auto import AutoDetector

        auto = AutoDetector(knowledge=knowledge, families=families, max_fit_rows=max_fit_rows,
                            contamination=contamination, random_state=random_state).fit(X)
    cache = {} if cache is None else cache
    decision = guard(result, X, incumbent_members(auto), margin=float(margin), top=int(top), engine=engine,
                     workers=workers, ray_address=ray_address, trial_time_limit=trial_time_limit,
                     incumbent_reward=cache.get("incumbent"))
    cache["incumbent"] = decision.incumbent
    detector = None
    if decision.choice == "challenger":
        sub = result.trials[result.trials["config_id"] == decision.best["config_id"]]
        try:
            detector = refit_best(replace(result, trials=sub), X, max_fit_rows=max_fit_rows,
                                  contamination=contamination, random_state=random_state)
        except DataError as exc:
            logger.info("tune: the challenger cannot be fitted on the table (%s); auto's choice is kept", exc)
    if detector is None:
        detector = auto
        incumbent = decision.incumbent
        detector.tuning_ = {"best": {"config_id": "auto:" + "+".join(auto.ensemble_), "family": "auto",
                                     "params": {"ensemble": list(auto.ensemble_)},
                                     "reward": incumbent["reward"], "trial": -1},
                            "reward_definition": result.reward_definition, "settings": result.settings,
                            "stopped_by": result.stopped_by, "history": result.history,
                            "n_fit_rows": int(min(X.shape[0], max_fit_rows or X.shape[0]))}
        detector.search_ = result.trials.copy()
    detector.tuning_["guard"] = decision.as_dict()
    return detector


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


__all__ = ["SEARCH_ENGINES", "SEARCH_METHODS", "SearchResult", "choose_final", "refit_best", "run_search", "tune"]
