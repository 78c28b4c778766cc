"""Detection metrics for anomaly scores: AUROC, average precision, precision@n, and a classification report.

Anomalies are the positive class (label ``1``); higher scores mean more anomalous.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn import metrics as sk_metrics

from metaad.evaluation._validation import check_binary, check_same_length, check_scores
from metaad.exceptions import DataError, ParameterError

METRIC_KEYS: tuple[str, ...] = (
    "auroc",
    "average_precision",
    "precision",
    "recall",
    "f1",
    "precision_at_n",
    "n_true_anomalies",
    "classification_report",
    "classification_report_text",
)
"""The keys of the dictionaries returned by :func:`evaluate` and :func:`empty_metrics`, in order."""

TARGET_NAMES: tuple[str, str] = ("normal", "anomaly")


def empty_metrics() -> dict[str, Any]:
    """Return the metrics dictionary with every value ``None``, for data without labels.

    Returns
    -------
    dict
        The keys of :func:`evaluate`, each mapped to ``None``.

    Examples
    --------
    >>> empty_metrics()["auroc"] is None
    True
    >>> list(empty_metrics()) == list(METRIC_KEYS)
    True
    """
    return dict.fromkeys(METRIC_KEYS)


def precision_at_n(y_true: Any, scores: Any, n: int | None = None) -> float:
    """Fraction of true anomalies among the ``n`` highest scores.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels, ``1`` for an anomaly and ``0`` for a normal row.
    scores : array-like of shape (n_samples,)
        Anomaly scores, higher is more anomalous.
    n : int, optional
        How many of the highest-scoring rows to look at. Defaults to the number of true anomalies, which makes
        precision@n equal to recall@n (also called R-precision). Ties are broken by position (earlier first).

    Returns
    -------
    float
        A value in ``[0, 1]``.

    Raises
    ------
    DataError
        If the inputs are invalid, or ``n`` is not given and ``y_true`` holds no anomaly.
    ParameterError
        If ``n`` is not between 1 and the number of rows.

    Examples
    --------
    >>> precision_at_n([0, 1, 0, 1, 0], [0.1, 0.9, 0.8, 0.3, 0.2])
    0.5
    >>> precision_at_n([0, 1, 0, 1, 0], [0.1, 0.9, 0.8, 0.3, 0.2], n=1)
    1.0
    """
    labels, values = _check_pair(y_true, scores)
    if n is None:
        n = int(labels.sum())
        if n == 0:
            raise DataError("precision_at_n needs n when y_true contains no anomaly (no label equal to 1)")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= labels.size:
        raise ParameterError(f"n must be an integer between 1 and {labels.size} (the number of rows), got {n!r}")
    order = np.argsort(-values, kind="stable")
    return float(labels[order[: int(n)]].mean())


def evaluate(
    y_true: Any,
    scores: Any,
    threshold: float,
    *,
    predictions: Any | None = None,
) -> dict[str, Any]:
    """Compute the detection metrics of anomaly scores against known labels.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels, ``1`` for an anomaly and ``0`` for a normal row.
    scores : array-like of shape (n_samples,)
        Anomaly scores, higher is more anomalous; must be finite.
    threshold : float
        Rows with ``score > threshold`` are predicted anomalous (unless ``predictions`` is given).
    predictions : array-like of shape (n_samples,), optional
        Predicted 0/1 labels to use instead of ``scores > threshold``.

    Returns
    -------
    dict
        JSON-safe values (Python floats, ints, strings, dicts, or ``None``) under the keys ``auroc``,
        ``average_precision``, ``precision``, ``recall``, ``f1`` (of the anomaly class), ``precision_at_n``
        (with n the number of true anomalies), ``n_true_anomalies``, ``classification_report`` (the dict of
        :func:`sklearn.metrics.classification_report` with target names ``normal``/``anomaly``) and
        ``classification_report_text`` (its text form). When ``y_true`` holds a single class, ``auroc``,
        ``average_precision`` and ``precision_at_n`` are ``None`` and a :class:`UserWarning` says why.

    Raises
    ------
    DataError
        If the lengths differ, a label is not 0/1, or a score is NaN or infinite.
    ParameterError
        If ``threshold`` is NaN.

    Examples
    --------
    >>> result = evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], threshold=0.3)
    >>> result["auroc"], result["precision"], result["recall"], result["precision_at_n"]
    (0.75, 0.6666666666666666, 1.0, 0.5)
    >>> result["classification_report"]["anomaly"]["support"]
    2
    """
    labels, values = _check_pair(y_true, scores)
    threshold = float(threshold)
    if math.isnan(threshold):
        raise ParameterError("threshold must be a number, got NaN")
    if predictions is None:
        predicted = (values > threshold).astype(int)
    else:
        predicted = check_binary(predictions, name="predictions")
        check_same_length(y_true=labels, predictions=predicted)

    n_true_anomalies = int(labels.sum())
    result = empty_metrics()
    result["n_true_anomalies"] = n_true_anomalies
    if n_true_anomalies in (0, labels.size):
        only = TARGET_NAMES[int(labels[0])]
        warnings.warn(
            f"y_true contains only the {only!r} class ({labels.size} rows), so auroc, average_precision and "
            "precision_at_n are undefined and set to None",
            UserWarning,
            stacklevel=2,
        )
    else:
        result["auroc"] = float(sk_metrics.roc_auc_score(labels, values))
        result["average_precision"] = float(sk_metrics.average_precision_score(labels, values))
        result["precision_at_n"] = precision_at_n(labels, values)

    precision, recall, f1, _ = sk_metrics.precision_recall_fscore_support(
        labels, predicted, labels=[1], average=None, zero_division=0
    )
    result["precision"] = float(precision[0])
    result["recall"] = float(recall[0])
    result["f1"] = float(f1[0])
    report_args = {"labels": [0, 1], "target_names": list(TARGET_NAMES), "zero_division": 0}
    result["classification_report"] = _to_builtin(
        sk_metrics.classification_report(labels, predicted, output_dict=True, **report_args)
    )
    result["classification_report_text"] = sk_metrics.classification_report(labels, predicted, **report_args)
    return result


def _check_pair(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    labels = check_binary(y_true, name="y_true")
    values = check_scores(scores, name="scores")
    check_same_length(y_true=labels, scores=values)
    return labels, values


def _to_builtin(value: Any, key: str = "") -> Any:
    """Turn numpy scalars inside nested dicts into Python numbers (``support`` counts into ints)."""
    if isinstance(value, dict):
        return {str(name): _to_builtin(item, str(name)) for name, item in value.items()}
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return int(value) if key == "support" else float(value)
    return value
