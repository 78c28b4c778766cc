"""The four synthetic anomaly generators differ from the data the way their type says; the task scores detectors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from metaad.detectors.registry import make_detector
from metaad.exceptions import DataError
from metaad.meta.synthetic import (
    clustered_anomalies,
    dependency_anomalies,
    global_anomalies,
    local_anomalies,
    make_synthetic_task,
)


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    """Two correlated Gaussian modes in 4 columns."""
    rng = np.random.RandomState(0)
    cov = np.array([[1.0, 0.8, 0.0, 0.0], [0.8, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.6], [0.0, 0.0, 0.6, 1.0]])
    return np.r_[rng.multivariate_normal(np.zeros(4), cov, 1000), rng.multivariate_normal(np.full(4, 6.0), cov, 1000)]


def _nearest_mode_distance(rows: np.ndarray) -> np.ndarray:
    return np.minimum(np.linalg.norm(rows, axis=1), np.linalg.norm(rows - 6.0, axis=1))


def test_local_anomalies_are_near_the_modes_but_too_spread(X) -> None:
    fake = local_anomalies(X, 2000, random_state=0)
    real, fake_d = _nearest_mode_distance(X), _nearest_mode_distance(fake)
    assert np.median(fake_d) > 1.8 * np.median(real)  # covariance scaled by 5: spread sqrt(5) ~ 2.2 times
    assert np.median(fake_d) < 8  # still around the modes, not anywhere
    assert abs(fake.mean() - X.mean()) < 0.5


def test_global_anomalies_fill_the_inflated_bounding_box_uniformly(X) -> None:
    fake = global_anomalies(X, 4000, random_state=0)
    lo, hi = X.min(axis=0), X.max(axis=0)
    margin = 0.1 * (hi - lo)
    assert np.all(fake >= lo - margin - 1e-9) and np.all(fake <= hi + margin + 1e-9)
    assert ((fake < lo) | (fake > hi)).any(axis=1).mean() > 0.2  # a share lies beyond the data's range
    for j in range(X.shape[1]):  # uniform marginals
        assert stats.kstest((fake[:, j] - (lo[j] - margin[j])) / (hi[j] - lo[j] + 2 * margin[j]), "uniform").pvalue > 0.001


def test_dependency_anomalies_keep_the_marginals_and_break_the_correlations(X) -> None:
    fake = dependency_anomalies(X, 3000, random_state=0)
    for j in range(X.shape[1]):
        assert stats.ks_2samp(fake[:, j], X[:, j]).pvalue > 0.001
    real_corr, fake_corr = np.corrcoef(X, rowvar=False), np.corrcoef(fake, rowvar=False)
    assert real_corr[0, 1] > 0.8 and abs(fake_corr[0, 1]) < 0.1
    assert real_corr[0, 2] > 0.8 and abs(fake_corr[0, 2]) < 0.1  # the two modes made every pair correlated


def test_clustered_anomalies_are_tight_groups_away_from_the_data(X) -> None:
    fake = clustered_anomalies(X, 1000, random_state=0)
    assert np.median(_nearest_mode_distance(fake)) > 2 * np.median(_nearest_mode_distance(X))
    from sklearn.neighbors import NearestNeighbors

    def kth(points: np.ndarray, ref: np.ndarray) -> float:
        return float(np.median(NearestNeighbors(n_neighbors=10).fit(ref).kneighbors(points)[0][:, -1]))

    within_fake, within_real, fake_to_real = kth(fake, fake), kth(X[:1000], X), kth(fake, X)
    assert within_fake < 2 * within_real  # groups as dense as the normal modes
    assert fake_to_real > 2 * within_fake  # and away from the normal data


def test_task_scores_a_detector_per_type_and_detects_a_sign_flip(X) -> None:
    task = make_synthetic_task(X, random_state=0)
    assert len(task.X_real) == 500 and len(task.X_fit) == 1500 and all(len(v) == 50 for v in task.injected.values())
    good = task.evaluate(make_detector("knn", random_state=0))
    assert good["global"] > 0.95 and good["clustered"] > 0.8 and good["mean"] > 0.8

    class Flipped:
        def __init__(self, inner):  # noqa: ANN001
            self.inner = inner

        def fit(self, X):  # noqa: ANN001
            self.inner.fit(X)
            return self

        def decision_function(self, X):  # noqa: ANN001
            return -self.inner.decision_function(X)

    assert task.evaluate(Flipped(make_detector("knn", random_state=0)))["mean"] < 0.2


def test_task_is_seeded_and_bounded(X) -> None:
    a, b = make_synthetic_task(X, random_state=3), make_synthetic_task(X, random_state=3)
    np.testing.assert_array_equal(a.injected["local"], b.injected["local"])
    big = make_synthetic_task(np.random.RandomState(0).normal(size=(50_000, 3)), random_state=0)
    assert len(big.X_fit) == 2000 and len(big.X_real) == 500
    with pytest.raises(DataError, match="at least 20 rows"):
        make_synthetic_task(X[:10])
    with pytest.raises(DataError, match="unknown synthetic anomaly type"):
        make_synthetic_task(X, types=("weird",))


def test_memory_stays_bounded_on_a_wide_table() -> None:
    import tracemalloc

    X = np.random.RandomState(0).normal(size=(300, 5000))
    tracemalloc.start()
    task = make_synthetic_task(X, random_state=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 150e6, f"{peak / 1e6:.0f} MB: full covariances of 5,000 columns would take 800 MB"
    assert task.injected["local"].shape == (10, 5000) and np.isfinite(task.injected["clustered"]).all()
