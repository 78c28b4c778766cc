"""The mmd detector (the shared contract suite covers it through the registry; these check its own numbers)."""

from __future__ import annotations

import numpy as np
import pytest

import metaad
from metaad.exceptions import ParameterError


def test_score_is_the_squared_mmd_between_the_row_and_the_training_sample() -> None:
    X = np.random.RandomState(0).normal(size=(50, 2))
    det = metaad.make_detector("mmd", standardize=False, bandwidth=0.7).fit(X)
    z = np.array([[0.3, -1.0]])
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * 0.7**2))  # noqa: E731
    by_hand = 1.0 - 2.0 * np.mean([k(z[0], x) for x in X]) + np.mean([[k(a, b) for b in X] for a in X])
    assert det.decision_function(z)[0] == pytest.approx(by_hand, rel=1e-10)


def test_landmarks_are_a_seeded_subsample_and_scores_are_chunked() -> None:
    X = np.random.RandomState(1).normal(size=(2500, 3))
    det = metaad.make_detector("mmd", max_samples=300, random_state=0).fit(X)
    again = metaad.make_detector("mmd", max_samples=300, random_state=0).fit(X)
    assert det.landmarks_.shape == (300, 3)
    np.testing.assert_array_equal(det.landmarks_, again.landmarks_)
    assert det.decision_scores_.shape == (2500,)  # scored in chunks of 1,000 rows
    np.testing.assert_allclose(det.decision_function(X[1500:1510]), det.decision_scores_[1500:1510])


def test_median_heuristic_bandwidth_and_its_scale() -> None:
    X = np.random.RandomState(2).normal(size=(200, 4))
    wide = metaad.make_detector("mmd", bandwidth_scale=2.0).fit(X)
    base = metaad.make_detector("mmd").fit(X)
    assert wide.bandwidth_ == pytest.approx(2.0 * base.bandwidth_)
    with pytest.raises(ParameterError, match="bandwidth must be None or a number > 0"):
        metaad.make_detector("mmd", bandwidth=0.0)
    with pytest.raises(ParameterError, match="max_samples"):
        metaad.make_detector("mmd", max_samples=1)
