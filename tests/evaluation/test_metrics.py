"""Metrics against hand-computed values and against scikit-learn."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from metaad.evaluation import empty_metrics, evaluate, precision_at_n
from metaad.evaluation.metrics import METRIC_KEYS
from metaad.exceptions import DataError, ParameterError

Y_SMALL = [0, 0, 1, 1]
SCORES_SMALL = [0.1, 0.4, 0.35, 0.8]


def test_hand_computed_small_example():
    # Pairs (anomaly, normal): (0.35 > 0.1), (0.35 < 0.4), (0.8 > 0.1), (0.8 > 0.4) -> 3 of 4 ordered.
    # Threshold 0.3 flags 0.4, 0.35, 0.8: two of three are anomalies, both anomalies found.
    result = evaluate(Y_SMALL, SCORES_SMALL, threshold=0.3)
    assert result["auroc"] == pytest.approx(0.75)
    # Ranking: 0.8 (1), 0.4 (0), 0.35 (1): AP = (1/1 + 2/3) / 2.
    assert result["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == pytest.approx(1.0)
    assert result["f1"] == pytest.approx(0.8)
    # Top 2 scores are 0.8 (anomaly) and 0.4 (normal).
    assert result["precision_at_n"] == pytest.approx(0.5)
    assert result["n_true_anomalies"] == 2
    report = result["classification_report"]
    assert report["anomaly"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1-score": 0.8, "support": 2}
    assert report["normal"]["recall"] == pytest.approx(0.5)
    assert report["accuracy"] == pytest.approx(0.75)
    assert "anomaly" in result["classification_report_text"]
    assert "normal" in result["classification_report_text"]


def test_keys_and_json_safety():
    result = evaluate(Y_SMALL, SCORES_SMALL, threshold=0.3)
    assert list(result) == list(METRIC_KEYS)
    round_tripped = json.loads(json.dumps(result))
    assert round_tripped["auroc"] == result["auroc"]
    for key in ("auroc", "average_precision", "precision", "recall", "f1", "precision_at_n"):
        assert type(result[key]) is float
    assert type(result["n_true_anomalies"]) is int
    assert type(result["classification_report"]["anomaly"]["support"]) is int


def test_explicit_predictions_override_threshold():
    result = evaluate(Y_SMALL, SCORES_SMALL, threshold=0.3, predictions=[0, 0, 0, 1])
    assert result["precision"] == 1.0
    assert result["recall"] == 0.5
    assert result["auroc"] == pytest.approx(0.75)  # ranking metrics still use the scores


def test_matches_sklearn_on_random_data():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.1).astype(int)
    scores = rng.normal(size=500) + 1.5 * y
    threshold = 1.0
    result = evaluate(y, scores, threshold=threshold)
    predicted = (scores > threshold).astype(int)
    assert result["auroc"] == pytest.approx(sk_metrics.roc_auc_score(y, scores))
    assert result["average_precision"] == pytest.approx(sk_metrics.average_precision_score(y, scores))
    assert result["precision"] == pytest.approx(sk_metrics.precision_score(y, predicted))
    assert result["recall"] == pytest.approx(sk_metrics.recall_score(y, predicted))
    assert result["f1"] == pytest.approx(sk_metrics.f1_score(y, predicted))
    n = int(y.sum())
    assert result["n_true_anomalies"] == n
    assert result["precision_at_n"] == pytest.approx(y[np.argsort(-scores)[:n]].mean())
    expected_report = sk_metrics.classification_report(
        y, predicted, target_names=["normal", "anomaly"], output_dict=True, zero_division=0
    )
    assert result["classification_report"]["weighted avg"]["f1-score"] == pytest.approx(
        expected_report["weighted avg"]["f1-score"]
    )


def test_precision_at_n_hand_example():
    y = [0, 1, 0, 1, 0, 1]
    scores = [0.9, 0.8, 0.1, 0.7, 0.6, 0.2]
    # Three anomalies; the top 3 are 0.9 (0), 0.8 (1), 0.7 (1).
    assert precision_at_n(y, scores) == pytest.approx(2 / 3)
    assert precision_at_n(y, scores, n=1) == 0.0
    assert precision_at_n(y, scores, n=2) == 0.5
    assert precision_at_n(y, scores, n=6) == 0.5


@pytest.mark.parametrize("n", [0, 7, 1.5, True])
def test_precision_at_n_rejects_bad_n(n):
    with pytest.raises(ParameterError, match="n must be an integer"):
        precision_at_n([0, 1, 0, 1, 0, 1], [0.1] * 6, n=n)


def test_precision_at_n_without_anomalies_needs_n():
    with pytest.raises(DataError, match="no anomaly"):
        precision_at_n([0, 0, 0], [0.1, 0.2, 0.3])


@pytest.mark.parametrize("only", [0, 1])
def test_single_class_warns_and_gives_none(only):
    with pytest.warns(UserWarning, match="only the .* class"):
        result = evaluate([only] * 4, SCORES_SMALL, threshold=0.3)
    assert result["auroc"] is None
    assert result["average_precision"] is None
    assert result["precision_at_n"] is None
    assert result["n_true_anomalies"] == 4 * only
    assert isinstance(result["precision"], float)
    assert set(result["classification_report"]) >= {"normal", "anomaly"}


def test_two_classes_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate(Y_SMALL, SCORES_SMALL, threshold=0.3)


def test_bad_label_is_named():
    with pytest.raises(DataError, match=r"y_true\[2\] is 2"):
        evaluate([0, 1, 2, 0], SCORES_SMALL, threshold=0.3)
    with pytest.raises(DataError, match=r"y_true\[1\] is 'x'"):
        evaluate([0, "x", 1, 0], SCORES_SMALL, threshold=0.3)


def test_nan_score_index_is_named():
    with pytest.raises(DataError, match=r"scores\[2\] is nan"):
        evaluate(Y_SMALL, [0.1, 0.2, np.nan, 0.4], threshold=0.3)
    with pytest.raises(DataError, match=r"scores\[0\] is inf"):
        precision_at_n(Y_SMALL, [np.inf, 0.2, 0.3, 0.4])


def test_length_mismatch():
    with pytest.raises(DataError, match="y_true has 4 entries, scores has 3"):
        evaluate(Y_SMALL, [0.1, 0.2, 0.3], threshold=0.3)
    with pytest.raises(DataError, match="predictions has 2"):
        evaluate(Y_SMALL, SCORES_SMALL, threshold=0.3, predictions=[0, 1])


def test_bad_predictions_and_threshold():
    with pytest.raises(DataError, match=r"predictions\[0\] is 5"):
        evaluate(Y_SMALL, SCORES_SMALL, threshold=0.3, predictions=[5, 0, 0, 0])
    with pytest.raises(ParameterError, match="threshold"):
        evaluate(Y_SMALL, SCORES_SMALL, threshold=float("nan"))


def test_boolean_and_float_labels_accepted():
    assert evaluate([False, False, True, True], SCORES_SMALL, 0.3)["auroc"] == pytest.approx(0.75)
    assert evaluate([0.0, 0.0, 1.0, 1.0], SCORES_SMALL, 0.3)["auroc"] == pytest.approx(0.75)


def test_empty_metrics():
    empty = empty_metrics()
    assert list(empty) == list(METRIC_KEYS)
    assert all(value is None for value in empty.values())
    assert set(empty) == set(evaluate(Y_SMALL, SCORES_SMALL, 0.3))
    empty["auroc"] = 1.0
    assert empty_metrics()["auroc"] is None  # a fresh dict each call
