"""Turning anomaly scores into a decision: thresholds from ``contamination`` or a target false-positive rate.

Three forms of the ``threshold`` parameter are understood by every detector:

``None`` or ``"contamination"``
    The ``(1 - contamination)`` quantile of the training scores, so that a fraction ``contamination`` of the
    training rows is flagged (PyOD's rule).
``"fpr:R"`` (for example ``"fpr:0.01"``)
    Aim at a false-positive rate ``R`` on normal data. The training data may hold anomalies, so the highest
    ``contamination`` fraction of training scores is set aside as suspected anomalies and the threshold is the
    ``(1 - R)`` quantile of the remaining scores. With ``contamination`` near zero this is simply the
    ``(1 - R)`` quantile of all training scores.
a number, or ``"value:V"``
    A fixed score threshold.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from metaad._constraints import Interval, Real, check_params
from metaad.exceptions import ParameterError

ThresholdRule = tuple[Literal["contamination", "fpr", "value"], float]

#: What ``contamination`` accepts, for every detector (``BaseDetector._parameter_constraints``) and here.
CONTAMINATION = [Interval(Real, 0, 0.5, closed="right")]


def validate_contamination(contamination: float) -> float:
    """Check that ``contamination`` is a number in (0, 0.5] and return it as a float.

    Examples
    --------
    >>> validate_contamination(0.6)
    Traceback (most recent call last):
    ...
    metaad.exceptions.ParameterError: contamination must be a number in (0, 0.5], got 0.6
    """
    check_params({"contamination": CONTAMINATION}, {"contamination": contamination})
    return float(contamination)


def parse_threshold(threshold: str | float | None) -> ThresholdRule:
    """Parse a ``threshold`` parameter into a ``(rule, value)`` pair.

    Examples
    --------
    >>> parse_threshold(None)
    ('contamination', nan)
    >>> parse_threshold("fpr:0.01")
    ('fpr', 0.01)
    >>> parse_threshold(2.5)
    ('value', 2.5)
    """
    if threshold is None or threshold == "contamination":
        return ("contamination", float("nan"))
    if isinstance(threshold, bool):
        raise ParameterError(f"threshold must be None, 'contamination', 'fpr:R' or a number, got {threshold!r}")
    if isinstance(threshold, (int, float, np.floating, np.integer)):
        value = float(threshold)
        if not np.isfinite(value):
            raise ParameterError(f"threshold must be finite, got {threshold!r}")
        return ("value", value)
    if isinstance(threshold, str) and ":" in threshold:
        kind, _, raw = threshold.partition(":")
        kind = kind.strip().lower()
        try:
            value = float(raw)
        except ValueError:
            raise ParameterError(f"threshold={threshold!r}: {raw!r} is not a number") from None
        if kind == "fpr":
            if not (0.0 < value < 1.0):
                raise ParameterError(f"threshold={threshold!r}: the false-positive rate must be in (0, 1)")
            return ("fpr", value)
        if kind == "value" and np.isfinite(value):
            return ("value", value)
    raise ParameterError(
        f"threshold={threshold!r} is not understood; expected None, 'contamination', 'fpr:R' (0<R<1) or a number"
    )


def threshold_from_scores(scores: np.ndarray, threshold: str | float | None, contamination: float) -> float:
    """Compute the decision threshold from training ``scores`` (higher = more anomalous).

    Examples
    --------
    >>> scores = np.arange(100, dtype=float)
    >>> round(threshold_from_scores(scores, None, contamination=0.1), 2)
    89.1
    >>> round(threshold_from_scores(scores, "fpr:0.05", contamination=0.1), 2)
    84.55
    """
    rule, value = parse_threshold(threshold)
    if rule == "value":
        return value
    scores = np.asarray(scores, dtype=np.float64)
    contamination = validate_contamination(contamination)
    if rule == "contamination":
        return float(np.percentile(scores, 100.0 * (1.0 - contamination)))
    kept = np.sort(scores)[: max(1, int(np.floor(len(scores) * (1.0 - contamination))))]
    return float(np.quantile(kept, 1.0 - value))
