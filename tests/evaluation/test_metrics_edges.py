"""Edges of the metrics that mutation testing found untested: tie-breaking, warning and error texts, JSON-safe
conversion."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from metaad.evaluation.metrics import _to_builtin, evaluate, precision_at_n
from metaad.exceptions import DataError, ParameterError


def test_precision_at_n_breaks_ties_by_position():
    scores = np.random.RandomState(0).randint(0, 3, size=300).astype(float)  # about 100 rows tie at the top score
    tied = np.flatnonzero(scores == 2)
    labels = np.zeros(300, dtype=int)
    labels[tied[:10]] = 1  # the first ten rows of the top score
    assert precision_at_n(labels, scores, n=10) == 1.0
    labels = np.zeros(300, dtype=int)
    labels[tied[10:20]] = 1  # ten later rows with the same score
    assert precision_at_n(labels, scores, n=10) == 0.0


def test_precision_at_n_messages():
    with pytest.raises(DataError, match=r"^precision_at_n needs n when y_true contains no anomaly \(no label equal to 1\)$"):
        precision_at_n([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ParameterError, match=r"n must be an integer between 1 and 3 \(the number of rows\), got 4"):
        precision_at_n([0, 1, 0], [0.1, 0.2, 0.3], n=4)
    with pytest.raises(ParameterError, match="got True"):
        precision_at_n([0, 1, 0], [0.1, 0.2, 0.3], n=True)
    assert precision_at_n([0, 1, 0], [0.1, 0.2, 0.3], n=3) == pytest.approx(1 / 3)
    assert precision_at_n([0, 1, 0], [0.1, 0.2, 0.3], n=np.int64(1)) == 0.0


def test_evaluate_nan_threshold_message():
    with pytest.raises(ParameterError, match="^threshold must be a number, got NaN$"):
        evaluate([0, 1], [0.1, 0.9], float("nan"))


@pytest.mark.parametrize("label, name", [(0, "normal"), (1, "anomaly")])
def test_single_class_warning_names_the_class(label, name):
    with pytest.warns(UserWarning, match=rf"^y_true contains only the '{name}' class \(3 rows\), so auroc, average_precision "
                      r"and precision_at_n are undefined and set to None$") as record:
        result = evaluate([label] * 3, [0.1, 0.5, 0.9], 0.4)
    assert not record[0].filename.endswith("metrics.py")  # attributed to the caller, not to metrics.py itself
    with pytest.warns(UserWarning, match=rf"only the '{name}' class \(1 rows\)"):
        evaluate([label], [0.5], 0.4)
    assert result["auroc"] is None and result["average_precision"] is None and result["precision_at_n"] is None
    assert result["n_true_anomalies"] == 3 * label


def test_two_classes_do_not_warn_and_predictions_are_integers():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], threshold=0.3)
    report = result["classification_report"]
    assert report["anomaly"]["support"] == 2 and isinstance(report["anomaly"]["support"], int)
    assert result["precision"] == pytest.approx(2 / 3) and result["recall"] == 1.0
    # a score equal to the threshold is not flagged (strictly greater)
    assert evaluate([0, 1], [0.5, 0.9], threshold=0.5)["precision"] == 1.0


def test_to_builtin_keeps_booleans_and_text():
    converted = _to_builtin({"flag": True, "name": "x", "support": np.int64(3), "p": np.float32(0.5), "nested": {"support": 2.0}})
    assert converted == {"flag": True, "name": "x", "support": 3, "p": 0.5, "nested": {"support": 2}}
    assert converted["flag"] is True and type(converted["support"]) is int and type(converted["p"]) is float
    assert type(converted["nested"]["support"]) is int


def test_no_predicted_anomaly_gives_zero_precision_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = evaluate([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], threshold=0.9)  # nothing flagged
    assert result["precision"] == 0.0 and result["recall"] == 0.0 and result["f1"] == 0.0
    assert result["classification_report"]["anomaly"]["precision"] == 0.0


def test_input_errors_name_the_argument():
    with pytest.raises(DataError, match=r"^y_true"):
        evaluate([0, 2], [0.1, 0.2], 0.5)
    with pytest.raises(DataError, match=r"^scores"):
        evaluate([0, 1], [0.1, float("nan")], 0.5)
