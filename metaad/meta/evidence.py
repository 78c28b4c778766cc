"""Evidence that re-ranks the selector's top candidates: known anomalies, or synthetic ones without labels.

**Synthetic anomalies** (:func:`synthetic_evidence`): without any label, each candidate is fitted on part of the
user's table and judged by how well it separates held-out real rows from injected anomalies of ADBench's four
types (:mod:`metaad.meta.synthetic`), on at most a few thousand rows whatever the table's size.

**Known anomalies** (:func:`label_evidence`):

With ``y`` marking some known anomalies (1) and everything else unknown (0), each candidate is fitted on the
data without labels and its training scores are compared with the labels: the AUROC of the known anomalies
against the rest. The rest still hides unknown anomalies, so this AUROC underestimates the true one a little,
by about the same amount for every candidate, which is all a ranking needs.

The evidence is blended with the selector's prediction like a posterior mean, each weighted by how much it
is worth: ``(prior_strength * predicted + n_labels * observed) / (prior_strength + n_labels)``. With one label
the prior dominates; with twenty, the labels do.

Examples
--------
>>> blend_with_evidence({"a": 0.80, "b": 0.75}, {"a": 0.60, "b": 0.95}, n_labels=20, prior_strength=10)
{'a': 0.6667, 'b': 0.8833}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

#: With labels, candidates are judged on a stratified subsample of at most this many rows that keeps every
#: labelled anomaly; only the winner is refitted on the whole table.
LABEL_ROWS = 5000


def label_evidence(scores: np.ndarray, known: np.ndarray) -> dict[str, float]:
    """AUROC and average precision of ``scores`` for the known anomalies (``known == 1``) against the rest.

    Returns NaN for both when ``known`` has a single class.

    Examples
    --------
    >>> label_evidence(np.array([0.1, 0.2, 0.9, 0.3]), np.array([0, 0, 1, 0]))
    {'auroc': 1.0, 'average_precision': 1.0}
    """
    known = np.asarray(known).astype(int).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if known.min() == known.max():
        return {"auroc": float("nan"), "average_precision": float("nan")}
    return {"auroc": float(roc_auc_score(known, scores)), "average_precision": float(average_precision_score(known, scores))}


def blend_with_evidence(predicted: Mapping[str, float], observed: Mapping[str, float], *, n_labels: int,
                        prior_strength: float = 10.0) -> dict[str, float]:
    """Posterior-mean blend of the predicted and the observed AUROC of each candidate (rounded to 4 places).

    A candidate without evidence (NaN) keeps its prediction.
    """
    n = max(int(n_labels), 0)
    out = {}
    for key, prior in predicted.items():
        seen = observed.get(key, float("nan"))
        if n == 0 or not np.isfinite(seen):
            out[key] = round(float(prior), 4)
        else:
            out[key] = round(float((prior_strength * prior + n * seen) / (prior_strength + n)), 4)
    return out


def synthetic_evidence(candidates: list[dict[str, Any]], X: np.ndarray, overrides: dict[str, Any], *,
                       random_state: Any = None, log: Any = None, max_fit_rows: int = 2000,
                       fitted: dict[str, Any] | None = None) -> dict[str, Any]:
    """Judge each candidate on synthetic anomalies injected into ``X``; sets ``synthetic_auroc`` (mean over the
    types) and ``synthetic`` (per type) on each candidate dict (None when it cannot be fitted).

    The candidates are fitted on at most ``max_fit_rows`` rows of ``X`` drawn at random (none of the held-out
    ones); with a ``fitted`` dict, the fitted detectors are stored in it by config id, so that the chosen ones
    need not be fitted again (``auto`` does this on tables large enough to fill the fit part).

    Returns a description of the evidence (rows fitted on, held-out rows, injected rows per type) and, under
    ``"fit_rows"``, the indices of the rows fitted on.

    Examples
    --------
    >>> X = np.random.RandomState(0).normal(size=(400, 4))
    >>> cands = [{"config_id": "i", "family": "iforest", "params": {}}, {"config_id": "e", "family": "ecod", "params": {}}]
    >>> info = synthetic_evidence(cands, X, {"random_state": 0}, random_state=0)
    >>> info["n_fit"], sorted(cands[0]["synthetic"]) == sorted(info["types"])
    (300, True)
    """
    from metaad.exceptions import DataError, ParameterError
    from metaad.meta.selection import build_detector
    from metaad.meta.synthetic import make_synthetic_task

    task = make_synthetic_task(X, random_state=random_state, max_fit_rows=max_fit_rows)
    for cand in candidates:
        try:
            det = build_detector(cand, overrides)
            result = task.evaluate(det)
        except (DataError, ParameterError) as exc:
            if log is not None:
                log.info("auto: %s cannot be judged on synthetic anomalies (%s)", cand["config_id"], exc)
            cand["synthetic_auroc"], cand["synthetic"] = None, None
            continue
        if fitted is not None:
            fitted[cand["config_id"]] = det
        cand["synthetic_auroc"] = round(result.pop("mean"), 4)
        cand["synthetic"] = {k: round(v, 4) for k, v in result.items()}
    return {"n_fit": len(task.X_fit), "n_real": len(task.X_real), "types": list(task.injected),
            "n_injected": {k: len(v) for k, v in task.injected.items()}, "fit_rows": task.fit_rows}


def label_subsample(y: np.ndarray, max_rows: int = LABEL_ROWS, random_state: Any = None) -> np.ndarray:
    """Row indices of a subsample of at most ``max_rows`` rows that keeps every labelled anomaly (``y == 1``).

    Examples
    --------
    >>> y = np.r_[np.zeros(20000), np.ones(5)]
    >>> rows = label_subsample(y, 1000, random_state=0)
    >>> len(rows), int(y[rows].sum())
    (1000, 5)
    """
    from sklearn.utils import check_random_state

    y = np.asarray(y).ravel()
    if len(y) <= max_rows:
        return np.arange(len(y))
    rng = check_random_state(random_state)
    known = np.flatnonzero(y == 1)
    rest = np.flatnonzero(y != 1)
    fill = rng.choice(rest, size=max(0, max_rows - len(known)), replace=False)
    return np.sort(np.r_[known, fill])


__all__ = ["LABEL_ROWS", "blend_with_evidence", "label_evidence", "label_subsample", "synthetic_evidence"]
