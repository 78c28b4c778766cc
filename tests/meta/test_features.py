"""Meta-features: same keys everywhere, finite, deterministic, fast."""

from __future__ import annotations

import time

import numpy as np
import pytest

from metaad.exceptions import DataError
from metaad.meta.features import compute_meta_features


def test_same_finite_keys_for_different_shapes() -> None:
    rng = np.random.RandomState(0)
    a = compute_meta_features(rng.normal(size=(300, 5)))
    b = compute_meta_features(np.c_[rng.exponential(size=(50, 1)), np.zeros((50, 1))])  # skewed + constant column
    c = compute_meta_features(rng.normal(size=(40, 1)))
    assert list(a) == list(b) == list(c)
    assert all(np.isfinite(v) for f in (a, b, c) for v in f.values())
    assert b["constant_fraction"] == 0.5 and b["skew_max"] > 1


def test_deterministic_and_describes_structure() -> None:
    rng = np.random.RandomState(1)
    base = rng.normal(size=(400, 1))
    correlated = np.c_[base, base + 0.01 * rng.normal(size=(400, 1)), rng.normal(size=(400, 1))]
    features = compute_meta_features(correlated)
    assert features == compute_meta_features(correlated)
    assert features["abs_correlation_max"] > 0.99
    assert features["pca_first_ratio"] > 0.6


@pytest.mark.slow  # a wall-clock bound: meaningful on an idle machine, flaky on a shared one
def test_fast_on_large_data() -> None:
    X = np.random.RandomState(0).normal(size=(100_000, 100))
    compute_meta_features(X[:500])  # warm imports
    start = time.perf_counter()
    compute_meta_features(X)
    assert time.perf_counter() - start < 3.0  # < 1 s on an idle core; slack for shared CI machines


def test_bad_input() -> None:
    with pytest.raises(DataError, match="2-D"):
        compute_meta_features(np.zeros(10))
    with pytest.raises(DataError, match="finite"):
        compute_meta_features(np.full((10, 2), np.nan))


def test_cardio_meta_features_raise_no_numpy_warning(shared_datasets) -> None:
    """A landmarker with infinite scores on cardio is described as uninformative, without a RuntimeWarning."""
    import warnings

    from metaad.meta.landmarks import selection_features
    from tests.conftest import load_npz

    X, _ = load_npz(shared_datasets, "cardio")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        features = selection_features(X)  # what AutoDetector computes: includes compute_meta_features on a sample
    assert sum(k.startswith("base.") for k in features) == 49  # a warning would have dropped these
    assert all(np.isfinite(v) for v in features.values())
