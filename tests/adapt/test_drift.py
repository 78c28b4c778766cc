"""The drift tests are calibrated (false-positive rate under no drift matches alpha) and have power."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from metaad.adapt.drift import drift_test, score_kl
from metaad.exceptions import ParameterError

N_NULL = 200
ALPHA = 0.05


def _band(alpha: float = ALPHA, n: int = N_NULL) -> tuple[float, float]:
    """The central 99.9% binomial band of the number of false alarms in ``n`` independent null windows."""
    return binom.ppf(0.0005, n, alpha), binom.ppf(0.9995, n, alpha)


@pytest.mark.parametrize(("test", "rows"), [("permutation", 60), ("linear", 400)])
def test_false_positive_rate_under_no_drift_matches_alpha(test: str, rows: int) -> None:
    rng = np.random.RandomState(42)
    alarms = sum(
        drift_test(rng.normal(size=(rows, 3)), rng.normal(size=(rows, 3)), test=test, n_permutations=100, random_state=i).drift
        for i in range(N_NULL)
    )
    low, high = _band()
    assert low <= alarms <= high, f"{alarms} alarms in {N_NULL} null windows at alpha={ALPHA} (band {low}-{high})"


def test_subsampled_permutation_test_stays_calibrated_on_large_windows() -> None:
    """Windows beyond max_rows are subsampled: still two samples of the same law, so still calibrated."""
    rng = np.random.RandomState(7)
    p_values = [drift_test(rng.normal(size=(300, 2)), rng.normal(size=(300, 2)), test="permutation", max_rows=40,
                           n_permutations=50, random_state=i).p_value for i in range(N_NULL)]
    low, high = _band()
    assert low <= np.sum(np.asarray(p_values) < ALPHA) <= high


@pytest.mark.parametrize("test", ["permutation", "linear"])
def test_power_on_a_shifted_window(test: str) -> None:
    rng = np.random.RandomState(3)
    rows = 100 if test == "permutation" else 1000
    hits = [drift_test(rng.normal(size=(rows, 3)), rng.normal(0.5, 1.0, size=(rows, 3)), test=test, n_permutations=100,
                       random_state=i).drift for i in range(20)]
    assert np.mean(hits) >= 0.9


def test_auto_chooses_by_window_size_and_reports_kl() -> None:
    rng = np.random.RandomState(0)
    small = drift_test(rng.normal(size=(100, 2)), rng.normal(size=(100, 2)), random_state=0)
    large = drift_test(rng.normal(size=(800, 2)), rng.normal(size=(800, 2)), max_rows=500, random_state=0)
    assert (small.test, large.test, small.kl) == ("permutation", "linear", None)
    ref_scores, same, moved = rng.normal(size=300), rng.normal(size=300), rng.normal(1.5, 1.0, size=300)
    with_scores = drift_test(rng.normal(size=(300, 2)), rng.normal(size=(300, 2)), reference_scores=ref_scores,
                             recent_scores=moved, random_state=0)
    assert with_scores.kl == pytest.approx(score_kl(ref_scores, moved))
    assert score_kl(ref_scores, moved) > 5 * score_kl(ref_scores, same)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"alpha": 1.5}, "alpha"), ({"test": "ks"}, "test='ks'"), ({"max_rows": 2}, "max_rows"), ({"n_permutations": 0}, "n_permutations"),
])
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    X = np.random.RandomState(0).normal(size=(20, 2))
    with pytest.raises(ParameterError, match=message):
        drift_test(X, X, **kwargs)


def test_vectorized_permutations_equal_the_statistic_of_each_reindexed_split() -> None:
    """The permutation statistics computed together (one matrix product) equal the unbiased MMD² of each
    split computed the direct way, by re-indexing the kernel matrix."""
    from metaad.scores.mmd import _mmd2, _mmd2_columns, rbf_kernel

    rng = np.random.RandomState(0)
    pooled = rng.normal(size=(30, 2))
    K = rbf_kernel(pooled, pooled, 1.0)
    first = np.zeros((30, 5))
    direct = []
    for j in range(5):
        order = rng.permutation(30)
        first[order[:12], j] = 1.0
        direct.append(_mmd2(K[np.ix_(order, order)], 12, True))
    np.testing.assert_allclose(_mmd2_columns(K, first, 12), direct, rtol=1e-10, atol=1e-12)
