"""Meta-features: one system, fixed names, deterministic, bounded in rows and columns, clear errors."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

from metaad.exceptions import DataError
from metaad.meta.features import meta_features


def test_same_finite_names_for_any_shape() -> None:
    rng = np.random.RandomState(0)
    shapes = [rng.normal(size=(100, 1)), rng.normal(size=(5, 4)), np.c_[rng.exponential(size=(50, 1)), np.zeros((50, 1))]]
    described = [meta_features(X) for X in shapes]
    assert all(list(d) == list(described[0]) for d in described)
    assert all(np.isfinite(v) for d in described for v in d.values())


def test_deterministic_and_describes_structure() -> None:
    rng = np.random.RandomState(0)
    base = rng.normal(size=(400, 1))
    correlated = np.c_[base, base + 0.01 * rng.normal(size=(400, 1)), rng.normal(size=(400, 1))]
    features = meta_features(correlated)
    assert features == meta_features(correlated)
    assert features["corr.max_abs"] > 0.99 and features["pca.first_ratio"] > 0.6
    calm = rng.normal(size=(500, 5))
    spiky = calm.copy()
    spiky[:25] += 8.0
    a, b = meta_features(calm), meta_features(spiky)
    assert b["lm.knn.q99_gap"] > a["lm.knn.q99_gap"] and b["moments.rows_beyond_3sd"] > a["moments.rows_beyond_3sd"]


def test_memory_stays_bounded_on_a_wide_table() -> None:
    X = np.random.RandomState(0).normal(size=(300, 10_000))
    tracemalloc.start()
    features = meta_features(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200e6, f"{peak / 1e6:.0f} MB: a 10,000-column table must not build 10k x 10k matrices"
    assert features["shape.log_columns"] == pytest.approx(np.log(10_000))


def test_bad_input_names_the_cell() -> None:
    X = np.random.RandomState(0).normal(size=(300, 6))
    bad = X.copy()
    bad[7, 2] = np.nan
    with pytest.raises(DataError, match="row 7, column 2"):
        meta_features(bad)
    with pytest.raises(DataError, match="2-D"):
        meta_features(X[:, 0])
    with pytest.raises(DataError, match="numbers only"):
        meta_features(np.array([["a", "b"], ["c", "d"]]))


def test_cardio_raises_no_numpy_warning(shared_datasets) -> None:
    """A landmarker with infinite scores on cardio is described as uninformative, without a RuntimeWarning."""
    from tests.conftest import load_npz

    X, _ = load_npz(shared_datasets, "cardio")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        features = meta_features(X)
    assert all(np.isfinite(v) for v in features.values())
