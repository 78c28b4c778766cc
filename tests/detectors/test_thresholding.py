"""Thresholds from contamination, a false-positive rate or a value: exact numbers and the edges of each range."""

from __future__ import annotations

import numpy as np
import pytest

from metaad.detectors.thresholding import parse_threshold, threshold_from_scores, validate_contamination
from metaad.exceptions import ParameterError


@pytest.mark.parametrize("value", [0.5, 1e-9, 0.1, np.float32(0.25), np.int64(0) + 0.3])
def test_contamination_in_range_comes_back_as_float(value):
    out = validate_contamination(value)
    assert isinstance(out, float) and out == pytest.approx(float(value))


@pytest.mark.parametrize(
    "value, message",
    [
        (0, r"contamination must be a number in \(0, 0.5\], got 0"),
        (0.0, r"in \(0, 0.5\], got 0.0"),
        (0.5000001, r"got 0.5000001"),
        (-0.1, r"got -0.1"),
        (True, r"contamination must be a number in \(0, 0.5\], got True"),
        ("0.1", r"must be a number .*got '0.1'"),
        (None, r"got None"),
    ],
)
def test_contamination_out_of_range_is_named(value, message):
    with pytest.raises(ParameterError, match=message):
        validate_contamination(value)


def test_parse_threshold_forms():
    rule, value = parse_threshold(None)
    assert rule == "contamination" and np.isnan(value)
    rule, value = parse_threshold("contamination")
    assert rule == "contamination" and np.isnan(value)
    assert parse_threshold("fpr:0.01") == ("fpr", 0.01)
    assert parse_threshold(" FPR :0.2") == ("fpr", 0.2)
    assert parse_threshold("value:3.5") == ("value", 3.5)
    assert parse_threshold(2) == ("value", 2.0) and isinstance(parse_threshold(2)[1], float)
    assert parse_threshold(np.float64(-1.5)) == ("value", -1.5)
    assert parse_threshold(0) == ("value", 0.0)


@pytest.mark.parametrize(
    "threshold, message",
    [
        (True, r"threshold must be None, 'contamination', 'fpr:R' or a number, got True"),
        (float("inf"), r"threshold must be finite, got inf"),
        (float("nan"), r"threshold must be finite"),
        ("fpr:abc", r"threshold='fpr:abc': 'abc' is not a number"),
        ("fpr:0", r"the false-positive rate must be in \(0, 1\)"),
        ("fpr:1", r"the false-positive rate must be in \(0, 1\)"),
        ("value:inf", r"threshold='value:inf' is not understood"),
        ("top:0.1", r"threshold='top:0.1' is not understood; expected None, 'contamination', 'fpr:R' \(0<R<1\) or a number"),
        ("0.5", r"is not understood"),
        ([0.1], r"is not understood"),
    ],
)
def test_bad_thresholds_are_named(threshold, message):
    with pytest.raises(ParameterError, match=message):
        parse_threshold(threshold)


def test_fpr_edges_inside_the_range_are_accepted():
    assert parse_threshold("fpr:0.999") == ("fpr", 0.999)
    assert parse_threshold("fpr:1e-6") == ("fpr", 1e-6)


def test_contamination_threshold_flags_that_share():
    scores = np.arange(1000, dtype=float)
    threshold = threshold_from_scores(scores, None, 0.1)
    assert threshold == pytest.approx(np.percentile(scores, 90.0))
    assert (scores > threshold).sum() == 100
    assert threshold_from_scores(scores, "contamination", 0.25) == pytest.approx(np.percentile(scores, 75.0))
    assert threshold_from_scores(list(range(11)), None, 0.5) == 5.0  # lists are accepted


def test_value_threshold_ignores_scores_and_contamination():
    assert threshold_from_scores(np.arange(10.0), 3.25, 0.1) == 3.25
    assert threshold_from_scores(np.arange(10.0), "value:-2", 0.9) == -2.0  # contamination is not even checked


def test_fpr_threshold_sets_the_suspected_anomalies_aside():
    scores = np.r_[np.arange(90, dtype=float), 1000 + np.arange(10, dtype=float)]  # 10 far anomalies
    threshold = threshold_from_scores(scores, "fpr:0.1", 0.1)
    kept = np.sort(scores)[:90]
    assert threshold == pytest.approx(np.quantile(kept, 0.9))
    assert threshold < 90  # the anomalies set aside do not drag the threshold up
    # rounding of the kept count: floor(7 * 0.9) = 6 of 7 rows are kept
    assert threshold_from_scores(np.arange(7.0), "fpr:0.5", 0.1) == pytest.approx(np.quantile(np.arange(6.0), 0.5))
    # at least one row is always kept
    assert threshold_from_scores(np.array([4.0]), "fpr:0.5", 0.5) == 4.0
    # the contamination is validated on this path
    with pytest.raises(ParameterError, match="contamination"):
        threshold_from_scores(scores, "fpr:0.1", 0.9)
