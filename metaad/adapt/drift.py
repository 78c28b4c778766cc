"""Drift between a reference window and a recent window: MMD on the features (with a calibrated p-value) and
KL divergence between the two windows' anomaly scores.

Two tests, both calibrated under "no drift" (tests/adapt/test_drift.py runs 200 null windows of each):

* ``"permutation"``: the unbiased MMD² with an RBF kernel at the median-heuristic bandwidth and a permutation
  p-value (:func:`metaad.scores.mmd_permutation_test`), on at most ``max_rows`` rows of each window drawn at
  random (a subsample of each window is still two samples of the same law under the null, so the test stays
  exact; the cost is bounded whatever the window size);
* ``"linear"``: the linear-time MMD with its normal-limit p-value (:func:`metaad.scores.mmd_linear_test`):
  O(n) for any window, less powerful at the same size.

``"auto"`` uses the permutation test when both windows fit in ``max_rows`` rows, else the linear test on
the whole windows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from metaad.exceptions import ParameterError
from metaad.scores import histogram_kl, mmd_linear_test, mmd_permutation_test
from metaad.scores._validation import as_rows

TESTS = ("auto", "permutation", "linear")


@dataclass(frozen=True)
class DriftResult:
    """One window's drift statistics: ``mmd2`` and its ``p_value`` (``test`` says which), the KL divergence
    of the recent scores from the reference scores (None without scores), and ``drift = p_value < alpha``."""

    mmd2: float
    p_value: float
    test: str
    kl: float | None
    alpha: float
    drift: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(alpha: float, test: str, max_rows: int, n_permutations: int) -> None:
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha!r}")
    if test not in TESTS:
        raise ParameterError(f"test={test!r}; expected one of {', '.join(TESTS)}")
    for name, value in (("max_rows", max_rows), ("n_permutations", n_permutations)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 4:
            raise ParameterError(f"{name} must be an integer >= 4, got {value!r}")


def drift_test(
    reference: Any,
    recent: Any,
    *,
    reference_scores: Any = None,
    recent_scores: Any = None,
    alpha: float = 0.05,
    test: str = "auto",
    max_rows: int = 500,
    n_permutations: int = 200,
    bandwidth: float | None = None,
    random_state: Any = None,
) -> DriftResult:
    """Test whether ``recent`` rows come from the distribution of the ``reference`` rows.

    Parameters
    ----------
    reference, recent : array-like of shape (n, d) and (m, d)
    reference_scores, recent_scores : array-like of shape (n,) and (m,), optional
        Anomaly scores of the two windows; when given, ``kl`` is the histogram KL(recent || reference).
    alpha : float, default=0.05
        Level of the test: ``drift`` is ``p_value < alpha``, so under no drift about ``alpha`` of the windows alarm.
    test : {"auto", "permutation", "linear"}
        See the module docstring.
    max_rows : int, default=500
        Rows of each window the permutation test uses (a random subsample beyond that).
    n_permutations : int, default=200
    bandwidth : float or None
        RBF width; None: the median heuristic on the pooled (subsampled) windows.

    Examples
    --------
    >>> rng = np.random.RandomState(1)
    >>> ref = rng.normal(size=(300, 3))
    >>> drift_test(ref, rng.normal(size=(300, 3)), random_state=0).drift
    False
    >>> result = drift_test(ref, rng.normal(0.5, 1.0, size=(300, 3)), random_state=0)
    >>> result.drift, result.test
    (True, 'permutation')
    """
    _check(alpha, test, max_rows, n_permutations)
    a, b = as_rows(reference, "reference"), as_rows(recent, "recent")
    rng = check_random_state(random_state)
    method = test
    if method == "auto":
        method = "permutation" if max(a.shape[0], b.shape[0]) <= max_rows else "linear"
    if method == "permutation":
        if a.shape[0] > max_rows:
            a = a[rng.choice(a.shape[0], max_rows, replace=False)]
        if b.shape[0] > max_rows:
            b = b[rng.choice(b.shape[0], max_rows, replace=False)]
        mmd2, p_value = mmd_permutation_test(a, b, n_permutations=int(n_permutations), bandwidth=bandwidth, random_state=rng)
    else:
        mmd2, p_value = mmd_linear_test(a, b, bandwidth=bandwidth, random_state=rng)
    kl = None
    if reference_scores is not None and recent_scores is not None:
        kl = score_kl(reference_scores, recent_scores)
    return DriftResult(float(mmd2), float(p_value), method, kl, float(alpha), bool(p_value < alpha))


def score_kl(reference_scores: Any, recent_scores: Any, *, bins: int = 20) -> float:
    """KL(recent || reference) between two windows' anomaly scores, on ``bins`` shared histogram bins
    (:func:`metaad.scores.histogram_kl`; few bins, as a window holds hundreds of scores, not thousands).

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> same = score_kl(rng.normal(size=500), rng.normal(size=500))
    >>> moved = score_kl(rng.normal(size=500), rng.normal(2.0, 1.0, size=500))
    >>> bool(moved > 10 * same)
    True
    """
    return histogram_kl(recent_scores, reference_scores, bins=bins, smoothing=0.5)
