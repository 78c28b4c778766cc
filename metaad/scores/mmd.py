"""Maximum mean discrepancy between two samples with an RBF kernel (Gretton et al., JMLR 2012).

The bandwidth defaults to the median heuristic: the median pairwise distance of the pooled samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from metaad._constraints import Integral, Interval, check_params
from metaad.exceptions import DataError, ParameterError
from metaad.scores._validation import as_rows


def _sq_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    d = (A**2).sum(1)[:, None] + (B**2).sum(1)[None, :] - 2.0 * A @ B.T
    return np.maximum(d, 0.0)


def median_heuristic(X: Any, Y: Any = None, *, max_rows: int = 1000, random_state: Any = 0) -> float:
    """Median Euclidean distance between distinct rows of the pooled samples (at most ``max_rows`` drawn).

    Examples
    --------
    >>> median_heuristic([[0.0], [1.0], [3.0]])
    2.0
    """
    pooled = as_rows(X, "X") if Y is None else np.vstack([as_rows(X, "X"), as_rows(Y, "Y")])
    if pooled.shape[0] > max_rows:
        pooled = pooled[check_random_state(random_state).choice(pooled.shape[0], max_rows, replace=False)]
    d = np.sqrt(_sq_distances(pooled, pooled))[np.triu_indices(pooled.shape[0], k=1)]
    median = float(np.median(d)) if d.size else 0.0
    return median if median > 0 else 1.0


def rbf_kernel(A: Any, B: Any, bandwidth: float) -> np.ndarray:
    """``exp(-||a - b||² / (2 bandwidth²))`` for every pair of rows.

    Examples
    --------
    >>> rbf_kernel([[0.0]], [[0.0], [1.0]], bandwidth=1.0).round(4).tolist()
    [[1.0, 0.6065]]
    """
    if not bandwidth > 0:
        raise ParameterError(f"bandwidth must be > 0, got {bandwidth!r}")
    return np.exp(-_sq_distances(as_rows(A, "A"), as_rows(B, "B")) / (2.0 * bandwidth**2))


def _mmd2(K: np.ndarray, n: int, unbiased: bool) -> float:
    Kxx, Kyy, Kxy = K[:n, :n], K[n:, n:], K[:n, n:]
    m = K.shape[0] - n
    if unbiased:
        xx = (Kxx.sum() - np.trace(Kxx)) / (n * (n - 1))
        yy = (Kyy.sum() - np.trace(Kyy)) / (m * (m - 1))
    else:
        xx, yy = Kxx.mean(), Kyy.mean()
    return float(xx + yy - 2.0 * Kxy.mean())


def _pair(X: Any, Y: Any, unbiased: bool) -> tuple[np.ndarray, np.ndarray]:
    a, b = as_rows(X, "X"), as_rows(Y, "Y")
    if a.shape[1] != b.shape[1]:
        raise DataError(f"X has {a.shape[1]} feature(s) but Y has {b.shape[1]}")
    if unbiased and min(a.shape[0], b.shape[0]) < 2:
        raise DataError("the unbiased MMD needs at least 2 rows in each sample")
    return a, b


def mmd_rbf(X: Any, Y: Any, *, bandwidth: float | None = None, unbiased: bool = True) -> float:
    """Squared MMD between samples ``X`` and ``Y`` with an RBF kernel.

    Parameters
    ----------
    X, Y : array-like of shape (n, d) and (m, d)
    bandwidth : float or None
        Kernel width; None uses :func:`median_heuristic` on the pooled samples.
    unbiased : bool, default=True
        The unbiased U-statistic (can be slightly negative when the samples agree) or the biased V-statistic.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 2))
    >>> abs(mmd_rbf(X, X, unbiased=False)) < 1e-12     # identical samples
    True
    >>> abs(mmd_rbf(X, rng.normal(size=(200, 2)))) < 0.02  # same distribution
    True
    >>> mmd_rbf(X, X + 2.0) > 0.3
    True
    """
    a, b = _pair(X, Y, unbiased)
    sigma = median_heuristic(a, b) if bandwidth is None else float(bandwidth)
    pooled = np.vstack([a, b])
    return _mmd2(rbf_kernel(pooled, pooled, sigma), a.shape[0], unbiased)


def mmd_permutation_test(
    X: Any, Y: Any, *, n_permutations: int = 200, bandwidth: float | None = None, random_state: Any = None
) -> tuple[float, float]:
    """Squared MMD and its permutation p-value (the share of label shuffles with an MMD at least as large).

    The kernel matrix is computed once, and the permutations are scored together: with ``S`` the 0/1
    matrix of which pooled rows each permutation puts in the first sample, the within- and between-sample
    kernel sums are column sums of ``S * (K @ S)`` (one matrix product for up to 256 permutations).

    Returns
    -------
    mmd2 : float
    p_value : float
        ``(1 + #{permuted >= observed}) / (1 + n_permutations)``.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> _, p = mmd_permutation_test(rng.normal(size=(60, 2)), rng.normal(1.0, 1, size=(60, 2)), random_state=0)
    >>> p < 0.05
    True
    """
    check_params({"n_permutations": [Interval(Integral, 1, None)]}, {"n_permutations": n_permutations})
    a, b = _pair(X, Y, True)
    sigma = median_heuristic(a, b) if bandwidth is None else float(bandwidth)
    pooled = np.vstack([a, b])
    K = rbf_kernel(pooled, pooled, sigma)
    n = a.shape[0]
    observed = _mmd2(K, n, True)
    rng = check_random_state(random_state)
    count = 0
    done = 0
    while done < n_permutations:
        size = min(256, int(n_permutations) - done)
        first = np.zeros((K.shape[0], size))
        for j in range(size):
            first[rng.permutation(K.shape[0])[:n], j] = 1.0
        count += int(np.sum(_mmd2_columns(K, first, n) >= observed - 1e-12 * abs(observed)))
        done += size
    return observed, (1.0 + count) / (1.0 + n_permutations)


def _mmd2_columns(K: np.ndarray, first: np.ndarray, n: int) -> np.ndarray:
    """Unbiased MMD² of every split given by the 0/1 columns of ``first`` (1 = the row is in the first sample)."""
    m = K.shape[0] - n
    second = 1.0 - first
    K_first = K @ first
    total = K.sum(axis=1)
    diag = np.diag(K)
    sum_xx = (first * K_first).sum(0) - diag @ first
    sum_xy = (second * K_first).sum(0)
    sum_yy = (second * (total[:, None] - K_first)).sum(0) - diag @ second
    return sum_xx / (n * (n - 1)) + sum_yy / (m * (m - 1)) - 2.0 * sum_xy / (n * m)


def mmd_linear_test(X: Any, Y: Any, *, bandwidth: float | None = None, random_state: Any = None) -> tuple[float, float]:
    """Linear-time squared MMD and its one-sided p-value from the normal limit (Gretton et al. 2012, §6).

    Rows are shuffled and paired; ``h_i = k(x, x') + k(y, y') - k(x, y') - k(x', y)`` over ``m = min(n, m)//2``
    pairs is an unbiased estimate of MMD² whose mean is asymptotically normal, so the p-value costs O(m)
    kernel evaluations instead of a permutation test's O(m²) per permutation. Less powerful than the
    permutation test at the same size; meant for large windows.

    Returns
    -------
    mmd2 : float
        The mean of ``h``.
    p_value : float
        ``1 - Phi(mean(h) / (std(h) / sqrt(m)))``.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> _, p_same = mmd_linear_test(rng.normal(size=(4000, 3)), rng.normal(size=(4000, 3)), random_state=0)
    >>> _, p_shift = mmd_linear_test(rng.normal(size=(4000, 3)), rng.normal(0.5, 1, size=(4000, 3)), random_state=0)
    >>> p_same > 0.05, p_shift < 1e-4
    (True, True)
    """
    from scipy.stats import norm

    a, b = _pair(X, Y, True)
    rng = check_random_state(random_state)
    half = min(a.shape[0], b.shape[0]) // 2
    if half < 2:
        raise DataError("the linear-time MMD needs at least 4 rows in each sample")
    a = a[rng.permutation(a.shape[0])[: 2 * half]]
    b = b[rng.permutation(b.shape[0])[: 2 * half]]
    sigma = median_heuristic(a, b, max_rows=500, random_state=rng) if bandwidth is None else float(bandwidth)

    def k(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.exp(-((u - v) ** 2).sum(1) / (2.0 * sigma**2))

    x1, x2, y1, y2 = a[0::2], a[1::2], b[0::2], b[1::2]
    h = k(x1, x2) + k(y1, y2) - k(x1, y2) - k(x2, y1)
    std = float(h.std(ddof=1))
    mean = float(h.mean())
    if std <= 0:
        return mean, 1.0 if mean <= 0 else 0.0
    return mean, float(norm.sf(mean / (std / np.sqrt(half))))


def mmd_point_scores(Z: Any, reference: Any, *, bandwidth: float, self_similarity: float | None = None) -> np.ndarray:
    """Squared MMD between each row's point mass and the reference sample: ``1 - 2 mean_i k(z, x_i) + mean_ij
    k(x_i, x_j)``, i.e. the witness function of the reference against the row, shifted to be >= 0.

    Higher means further from the reference distribution (a kernel density the row falls outside of).
    ``self_similarity`` is ``mean_ij k(x_i, x_j)`` when already known (it costs O(n²) otherwise).

    Examples
    --------
    >>> ref = np.random.RandomState(0).normal(size=(500, 2))
    >>> s = mmd_point_scores([[0.0, 0.0], [4.0, 4.0]], ref, bandwidth=1.0)
    >>> bool(s[1] > s[0] > 0)
    True
    """
    ref = as_rows(reference, "reference")
    Kzx = rbf_kernel(Z, ref, bandwidth)
    Kxx_mean = float(rbf_kernel(ref, ref, bandwidth).mean()) if self_similarity is None else float(self_similarity)
    return np.maximum(1.0 - 2.0 * Kzx.mean(axis=1) + Kxx_mean, 0.0)
