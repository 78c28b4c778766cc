"""Meta-features: one fixed-length numeric description of a table, for choosing its detector.

:func:`meta_features` describes a table by numbers that the selector compares tables with, and that a
knowledge base stores for each of its (dataset, size) tasks:

* **shape and types**: rows, columns, their ratio, constant / binary / integer / low-cardinality columns;
* **moments**: per-column skewness and kurtosis, heavy-tail share, values and rows beyond 3 standard deviations;
* **correlation and PCA structure**: mean and max absolute correlation, strongly correlated pairs, variance
  explained by the first (and first three) components, components for 90% of the variance, eigenvalue entropy;
* **landmarkers** (:mod:`metaad.meta.landmarkers`): the outlier scores of five cheap detectors on the sample,
  described by their spread, tails and skew, and by how much the landmarkers agree (Spearman correlation).

Everything but the shape runs on at most ``max_rows`` rows and ``max_columns`` columns drawn with a local
seeded generator, so time and memory do not grow with the table (a 300 x 10,000 table is described from 100
of its columns, not by a 10,000 x 10,000 correlation matrix), and the same table always gives the same numbers.
:data:`META_FEATURES_VERSION` is stored with every knowledge base; a selector refuses features of another version.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

from metaad.exceptions import DataError
from metaad.meta.landmarkers import LANDMARKERS, pca_residual, landmarker_scores, safe_float, score_features

#: The version of the feature set; a knowledge base records it and the selector checks it.
META_FEATURES_VERSION = 2


def as_matrix(X: Any) -> np.ndarray:
    """``X`` as a finite 2-D float matrix, or a :class:`DataError` naming the problem."""
    try:
        import pandas as pd

        if isinstance(X, pd.DataFrame):
            X = X.to_numpy(dtype=np.float64)
        array = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"the table must hold numbers only to compute meta-features: {exc}") from None
    if array.ndim != 2:
        raise DataError(f"meta-features need a 2-D table (rows x columns), got an array with {array.ndim} dimension(s)")
    if array.shape[0] < 2 or array.shape[1] < 1:
        raise DataError(f"meta-features need at least 2 rows and 1 column, got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"non-finite value at row {row}, column {col}; impute or drop missing values first")
    return array


def _robust_standardize(X: np.ndarray) -> np.ndarray:
    center = np.median(X, axis=0)
    spread = np.std(X, axis=0)
    spread[spread < 1e-12] = 1.0
    return (X - center) / spread


def _describe(prefix: str, values: np.ndarray) -> dict[str, float]:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {f"{prefix}.{k}": 0.0 for k in ("mean", "std", "min", "max")}
    return {
        f"{prefix}.mean": safe_float(values.mean()),
        f"{prefix}.std": safe_float(values.std()),
        f"{prefix}.min": safe_float(values.min()),
        f"{prefix}.max": safe_float(values.max()),
    }


def meta_features(X: Any, *, max_rows: int = 1000, max_columns: int = 100, random_state: Any = 0) -> dict[str, float]:
    """Describe the table ``X`` by meta-features, computed on at most ``max_rows`` x ``max_columns`` cells.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_columns)
        Numeric and finite (impute missing values first).
    max_rows, max_columns : int, default 1000 and 100
        Rows and columns drawn (without replacement, seeded) to compute everything but the shape.
    random_state : int, default 0
        Seed of the draws and of the random landmarkers.

    Returns
    -------
    dict of str to float
        Finite numbers, always the same names in the same order.

    Raises
    ------
    DataError
        For non-numeric or non-finite values, fewer than 2 rows, or an empty table.

    Examples
    --------
    >>> X = np.random.RandomState(0).normal(size=(500, 6))
    >>> feats = meta_features(X)
    >>> round(feats["shape.log_rows"], 4), round(feats["shape.log_columns"], 4)
    (6.2146, 1.7918)
    >>> all(np.isfinite(v) for v in feats.values()) and feats == meta_features(X)
    True
    >>> wide = meta_features(np.random.RandomState(0).normal(size=(300, 5000)))
    >>> sorted(wide) == sorted(feats), round(wide["shape.log_columns"], 2)
    (True, 8.52)
    """
    array = as_matrix(X)
    n_rows, n_cols = array.shape
    rng = check_random_state(random_state)
    if n_rows > max_rows:
        array = array[np.sort(rng.choice(n_rows, size=max_rows, replace=False))]
    if n_cols > max_columns:
        array = array[:, np.sort(rng.choice(n_cols, size=max_columns, replace=False))]
    varying = np.ptp(array, axis=0) > 1e-12 * np.maximum(1.0, np.abs(array).max(axis=0))
    features: dict[str, float] = {
        "shape.log_rows": math.log(n_rows),
        "shape.log_columns": math.log(n_cols),
        "shape.log_rows_per_column": math.log(n_rows / n_cols),
        "types.constant": float(1.0 - varying.mean()),
    }
    sample = array[:, varying] if varying.any() else array[:, :1]
    n_unique = np.array([np.unique(sample[:, j]).size for j in range(sample.shape[1])])
    features["types.binary"] = float((n_unique <= 2).mean())
    features["types.low_cardinality"] = float((n_unique <= 10).mean())
    features["types.integer"] = float(np.all(np.abs(sample - np.round(sample)) < 1e-9, axis=0).mean())
    features["types.unique_ratio"] = float(np.mean(n_unique / sample.shape[0]))

    Z = _robust_standardize(sample)
    spread = Z.std(axis=0)
    informative = spread > 1e-12
    Zi = Z[:, informative] if informative.any() else Z
    with np.errstate(all="ignore"):
        skew = np.nan_to_num(stats.skew(Zi, axis=0))
        kurt = np.nan_to_num(stats.kurtosis(Zi, axis=0))
    features.update(_describe("moments.skew", skew))
    features.update(_describe("moments.log_kurtosis", np.log1p(np.maximum(kurt + 3.0, 0.0))))
    features["moments.heavy_tail"] = float((np.abs(skew) > 1).mean())
    zs = (Zi - Zi.mean(axis=0)) / np.maximum(Zi.std(axis=0), 1e-12)
    beyond = np.abs(zs) > 3
    features["moments.beyond_3sd"] = float(beyond.mean())
    features["moments.rows_beyond_3sd"] = float(beyond.any(axis=1).mean())

    if Zi.shape[1] > 1:
        with np.errstate(all="ignore"):
            corr = np.nan_to_num(np.corrcoef(Zi, rowvar=False))
        upper = np.abs(corr[np.triu_indices_from(corr, k=1)])
        features["corr.mean_abs"] = float(upper.mean())
        features["corr.max_abs"] = float(upper.max())
        features["corr.share_above_0.5"] = float((upper > 0.5).mean())
        features["corr.share_above_0.8"] = float((upper > 0.8).mean())
    else:
        features.update(dict.fromkeys(("corr.mean_abs", "corr.max_abs", "corr.share_above_0.5", "corr.share_above_0.8"), 0.0))

    _, ratio = pca_residual(zs)
    positive = ratio[ratio > 0]
    cumulative = np.cumsum(ratio)
    features["pca.first_ratio"] = float(ratio[0]) if ratio.size else 1.0
    features["pca.top3_ratio"] = float(cumulative[min(2, ratio.size - 1)]) if ratio.size else 1.0
    features["pca.components_90"] = float((np.searchsorted(cumulative, 0.9) + 1) / max(1, ratio.size))
    features["pca.entropy"] = float(-(positive * np.log(positive)).sum() / math.log(max(2, ratio.size)))

    lm = landmarker_scores(zs, random_state=rng)
    for name in LANDMARKERS:
        features.update(score_features(name, lm[name]))
    ranks = {name: stats.rankdata(lm[name]) for name in LANDMARKERS}
    for i, a in enumerate(LANDMARKERS):
        for b in LANDMARKERS[i + 1:]:
            with np.errstate(all="ignore"):
                rho = np.corrcoef(ranks[a], ranks[b])[0, 1]
            features[f"agree.{a}_{b}"] = safe_float(rho)
    return {k: safe_float(v) for k, v in features.items()}


__all__ = ["META_FEATURES_VERSION", "meta_features"]
