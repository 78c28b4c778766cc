"""What a trial of the search is worth: evidence from the user's own table, with or without labels.

Without labels (:func:`synthetic_reward_data`), the evidence is the synthetic-anomaly AUROC of
:mod:`metaad.meta.synthetic`: a candidate is fitted on part of a bounded subsample of the table and judged by how
well it separates held-out real rows from injected anomalies of ADBench's four types (mean over the types).
The table never shows its labels to the search.

With known anomalies (:func:`label_reward_data`, ``y == 1`` on a few rows, 0 = unknown), the rows (a subsample
that keeps every known anomaly) are split in two stratified folds; a candidate is fitted on one fold, without
labels, and scores the other, so every labelled anomaly is judged by a candidate that never saw it; the evidence
is the mean over the folds of the AUROC of the known anomalies against the rest of the fold.

Either evidence can be blended with the meta prior (the selector's predicted AUROC for the configuration, or for
its nearest configuration of the zoo): ``reward = (1 - prior_weight) * evidence + prior_weight * prior``.

:func:`evaluate_trial` is the trial the engine runs (local process pool or Ray): it rebuilds the evidence from
the arrays in the task, fits the candidate and returns a row; it never raises, a failure is a row with status
``error`` and its reason.

Examples
--------
>>> import numpy as np
>>> X = np.random.RandomState(0).normal(size=(400, 4))
>>> data = synthetic_reward_data(X, fit_rows=200, random_state=0)
>>> row = evaluate_trial(trial_task(data, "ecod", {}, trial=0, seed=0))
>>> row["status"], 0.5 < row["evidence"] <= 1.0
('ok', True)
"""

from __future__ import annotations

import json
import time
import warnings
from typing import Any

import numpy as np

from metaad.exceptions import DataError

#: The engine's entry point for a search trial (see :func:`metaad.benchmark.protocol.run_trial`).
RUNNER = "metaad.search.reward:evaluate_trial"
#: The reward of a trial that failed or ran out of time: below any AUROC a working detector earns by chance.
FAILED_REWARD = 0.3


def synthetic_reward_data(X: np.ndarray, *, fit_rows: int = 1000, n_real: int = 400, random_state: Any = None) -> dict[str, Any]:
    """The unsupervised evidence as plain arrays: rows to fit on, held-out real rows, injected rows per type.

    The synthetic task is built once here (its mixture models are fitted once), and shipped with every trial.
    """
    from metaad.meta.synthetic import make_synthetic_task

    task = make_synthetic_task(np.asarray(X, dtype=np.float64), max_fit_rows=int(fit_rows), n_real=int(n_real),
                               random_state=random_state)
    return {"mode": "synthetic", "X_fit": task.X_fit, "X_real": task.X_real, "injected": dict(task.injected)}


def label_reward_data(X: np.ndarray, known: np.ndarray, *, max_rows: int = 2000, random_state: Any = None) -> dict[str, Any]:
    """The evidence from known anomalies as two folds: each fold's rows and labels, scored by a candidate fitted
    on the other fold.

    Raises
    ------
    DataError
        When ``known`` marks no anomaly.

    Examples
    --------
    >>> X = np.random.RandomState(0).normal(size=(300, 3))
    >>> known = np.zeros(300, dtype=int); known[:6] = 1
    >>> data = label_reward_data(X, known, random_state=0)
    >>> [int(y.sum()) for y in data["y"]], sum(len(x) for x in data["X"])
    ([3, 3], 300)
    """
    from sklearn.model_selection import StratifiedKFold
    from sklearn.utils import check_random_state

    from metaad.meta.evidence import label_subsample

    known = np.asarray(known).astype(int).ravel()
    if not known.any():
        raise DataError("the label reward needs at least one known anomaly (y == 1); without any, use the synthetic reward")
    rng = check_random_state(random_state)
    rows = label_subsample(known, int(max_rows), random_state=rng.randint(2**31 - 1))
    X, y = np.asarray(X, dtype=np.float64)[rows], known[rows]
    n_splits = 2
    if y.sum() >= n_splits:
        folds = [test for _, test in StratifiedKFold(n_splits, shuffle=True, random_state=rng.randint(2**31 - 1)).split(X, y)]
    else:  # one known anomaly: it sits in one fold; the other fold still yields a fitted half, and no AUROC
        order = rng.permutation(len(y))
        folds = [np.sort(order[: len(y) // 2]), np.sort(order[len(y) // 2:])]
    return {"mode": "labels", "X": [X[f] for f in folds], "y": [y[f] for f in folds]}


def trial_task(data: dict[str, Any], family: str, params: dict[str, Any], *, trial: int, seed: int, batch: int = 0) -> dict[str, Any]:
    """A task for the engine: the evidence, the configuration and the seed its detector is built with."""
    from metaad.benchmark.zoo import Configuration

    config = Configuration(family, {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()})
    return {"runner": RUNNER, "data": data, "family": family, "params_json": config.params_json,
            "config_id": config.config_id, "seed": int(seed), "trial": int(trial), "batch": int(batch),
            "dataset": "search", "n_rows": 0}


def _build(task: dict[str, Any]) -> Any:
    from metaad.benchmark.zoo import Configuration
    from metaad.detectors.registry import get_detector_info

    config = Configuration.from_json(task["family"], task["params_json"])
    accepted = get_detector_info(config.family).parameters
    overrides: dict[str, Any] = {"random_state": int(task["seed"])}
    overrides.update({k: v for k, v in (("device", "cpu"), ("n_threads", 1), ("verbose", False)) if k in accepted})
    return config.make_detector(**overrides)


def _auroc(y: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if y.min() == y.max():
        return float("nan")
    if not np.all(np.isfinite(scores)):
        raise DataError(f"{int((~np.isfinite(scores)).sum())} non-finite scores")
    return float(roc_auc_score(y, scores))


def evidence_of(task: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """Fit the task's candidate and measure its evidence: ``(value, details)``; raises on a failing candidate."""
    data = task["data"]
    if data["mode"] == "synthetic":
        from metaad.meta.synthetic import SyntheticTask

        result = SyntheticTask(data["X_fit"], data["X_real"], dict(data["injected"])).evaluate(_build(task))
        if not np.isfinite(result["mean"]):
            raise DataError("the synthetic AUROC is not finite")
        return float(result.pop("mean")), {k: round(v, 4) for k, v in result.items()}
    if data["mode"] == "labels":
        folds = []
        for k in range(len(data["X"])):
            fit_part = np.vstack([x for j, x in enumerate(data["X"]) if j != k])
            det = _build(task).fit(fit_part)
            folds.append(_auroc(data["y"][k], np.asarray(det.decision_function(data["X"][k]), dtype=np.float64)))
        observed = [f for f in folds if np.isfinite(f)]
        if not observed:
            raise DataError("no fold holds a known anomaly")
        return float(np.mean(observed)), {f"fold{k}": (None if not np.isfinite(v) else round(v, 4)) for k, v in enumerate(folds)}
    raise DataError(f"unknown reward mode {data['mode']!r}")


def evaluate_trial(task: dict[str, Any]) -> dict[str, Any]:
    """Run one search trial (a dict from :func:`trial_task`) and return its row; never raises."""
    row = {k: task.get(k) for k in ("trial", "batch", "config_id", "family", "params_json", "seed")}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, details = evidence_of(task)
        row.update(evidence=round(value, 6), details=json.dumps(details), status="ok", message="")
    except Exception as exc:  # a failing configuration is a low reward with its reason, never a crash
        row.update(evidence=None, details="{}", status="error", message=f"{type(exc).__name__}: {exc}"[:500])
    row["seconds"] = round(time.perf_counter() - start, 4)
    return row


__all__ = ["FAILED_REWARD", "RUNNER", "evaluate_trial", "evidence_of", "label_reward_data", "synthetic_reward_data",
           "trial_task"]
