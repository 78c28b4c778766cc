"""Meta-features for detector selection, computed fast on a subsample of the rows.

:func:`selection_features` describes a table by numbers the selector compares datasets with:

* **shape and types**: rows, columns, their ratio, binary / integer / low-cardinality columns;
* **moments**: per-column skewness and kurtosis, heavy-tail share;
* **correlation and PCA structure**: mean and max absolute correlation, variance explained by the first
  component, components for 90% of the variance, eigenvalue entropy;
* **landmarkers** (as MetaOD does): the outlier scores of five cheap detectors (HBOS, Isolation Forest, PCA
  reconstruction, LODA and k-nearest-neighbour distance) on the subsample, described by their spread, tails and
  skew, and by how much the landmarkers agree with one another (Spearman correlation of their scores).

Everything runs on at most ``max_rows`` rows drawn with a local seeded generator, so a 100,000 x 100 table is
described in a fraction of a second and the same table always gives the same numbers. The landmarkers are
written here in NumPy rather than through the registry: they only need to be cheap and deterministic, and the
feature names must not change when a detector's implementation does.

When the knowledge module of :mod:`metaad.meta.features` is installed, its ``compute_meta_features`` is computed
on the same subsample and added under a ``base.`` prefix.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from scipy import stats
from sklearn.ensemble import IsolationForest
from sklearn.utils import check_random_state

from metaad.exceptions import DataError

logger = logging.getLogger(__name__)

#: Version of the feature set: stored next to cached features so a change invalidates them.
FEATURES_VERSION = 1

LANDMARKERS: tuple[str, ...] = ("hbos", "iforest", "pca", "loda", "knn")


def _as_matrix(X: Any) -> np.ndarray:
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


def _safe(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _describe(prefix: str, values: np.ndarray) -> dict[str, float]:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {f"{prefix}.{k}": 0.0 for k in ("mean", "std", "min", "max")}
    return {
        f"{prefix}.mean": _safe(values.mean()),
        f"{prefix}.std": _safe(values.std()),
        f"{prefix}.min": _safe(values.min()),
        f"{prefix}.max": _safe(values.max()),
    }


# ------------------------------------------------------------------------------------------- landmarkers
def _histogram_outlierness(columns: np.ndarray, n_bins: int) -> np.ndarray:
    """Sum over columns of -log(smoothed histogram density) of each row's bin (constant columns add nothing)."""
    scores = np.zeros(columns.shape[0])
    for j in range(columns.shape[1]):
        col = columns[:, j]
        lo, hi = col.min(), col.max()
        if hi - lo < 1e-12:
            continue
        counts, edges = np.histogram(col, bins=n_bins, range=(lo, hi))
        density = (counts + 1.0) / (counts.sum() + n_bins)
        index = np.clip(np.searchsorted(edges, col, side="right") - 1, 0, n_bins - 1)
        scores -= np.log(density[index])
    return scores


def _hbos(Z: np.ndarray, n_bins: int = 10) -> np.ndarray:
    return _histogram_outlierness(Z, n_bins)


def _iforest(Z: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    model = IsolationForest(n_estimators=50, max_samples=min(256, Z.shape[0]), random_state=rng.randint(2**31 - 1))
    return -model.fit(Z).score_samples(Z)


def _pca(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centered = Z - Z.mean(axis=0)
    _, singular, vt = np.linalg.svd(centered, full_matrices=False)
    variance = singular**2
    total = variance.sum()
    ratio = variance / total if total > 0 else np.zeros_like(variance)
    keep = int(np.searchsorted(np.cumsum(ratio), 0.9) + 1) if total > 0 else 1
    keep = min(keep, max(1, Z.shape[1] - 1)) if Z.shape[1] > 1 else 1
    projected = centered @ vt[:keep].T @ vt[:keep]
    residual = ((centered - projected) ** 2).sum(axis=1)
    if Z.shape[1] == 1:
        residual = centered[:, 0] ** 2
    return residual, ratio


def _loda(Z: np.ndarray, rng: np.random.RandomState, n_projections: int = 50, n_bins: int = 10) -> np.ndarray:
    d = Z.shape[1]
    weights = rng.normal(size=(d, n_projections))
    if d > 1:  # sparse projections, as LODA: about sqrt(d) non-zero weights each
        weights[rng.rand(d, n_projections) > 1.0 / math.sqrt(d)] = 0.0
    return _histogram_outlierness(Z @ weights, n_bins) / n_projections


def _knn(Z: np.ndarray, k: int = 5) -> np.ndarray:
    squared = (Z**2).sum(axis=1)
    distances = np.maximum(squared[:, None] + squared[None, :] - 2.0 * Z @ Z.T, 0.0)
    np.fill_diagonal(distances, np.inf)
    k = min(k, Z.shape[0] - 1)
    return np.sqrt(np.partition(distances, k - 1, axis=1)[:, k - 1])


def landmarker_scores(Z: np.ndarray, random_state: Any = 0) -> dict[str, np.ndarray]:
    """Outlier scores of the five landmarkers on the (standardized) matrix ``Z``; higher = more anomalous.

    Examples
    --------
    >>> Z = np.random.RandomState(0).normal(size=(200, 4))
    >>> Z[0] = 8.0
    >>> scores = landmarker_scores(Z)
    >>> sorted(scores) == sorted(LANDMARKERS)
    True
    >>> [name for name, s in scores.items() if int(np.argmax(s)) == 0]
    ['hbos', 'iforest', 'loda', 'knn']
    """
    rng = check_random_state(random_state)
    return {
        "hbos": _hbos(Z),
        "iforest": _iforest(Z, rng),
        "pca": _pca(Z)[0],
        "loda": _loda(Z, rng),
        "knn": _knn(Z),
    }


def _score_features(name: str, scores: np.ndarray) -> dict[str, float]:
    s = np.asarray(scores, dtype=np.float64)
    spread = s.std()
    z = (s - s.mean()) / spread if spread > 1e-12 else np.zeros_like(s)
    q = np.quantile(s, [0.5, 0.9, 0.99])
    iqr = np.subtract(*np.quantile(s, [0.75, 0.25]))
    scale = iqr if iqr > 1e-12 else (spread if spread > 1e-12 else 1.0)
    return {
        f"lm.{name}.skew": _safe(stats.skew(z)) if spread > 1e-12 else 0.0,
        f"lm.{name}.kurtosis": _safe(np.log1p(max(stats.kurtosis(z) + 3.0, 0.0))) if spread > 1e-12 else 0.0,
        f"lm.{name}.tail3": _safe((z > 3).mean()),
        f"lm.{name}.q99_gap": _safe(np.log1p(max((q[2] - q[0]) / scale, 0.0))),
        f"lm.{name}.q90_gap": _safe(np.log1p(max((q[1] - q[0]) / scale, 0.0))),
        f"lm.{name}.cv": _safe(spread / (abs(s.mean()) + 1e-12)) if abs(s.mean()) > 1e-12 else 0.0,
    }


# ------------------------------------------------------------------------------------------- the features
def selection_features(X: Any, *, max_rows: int = 1000, random_state: Any = 0, include_base: bool = True) -> dict[str, float]:
    """Describe the table ``X`` by meta-features, computed on at most ``max_rows`` rows.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_columns)
        Numeric and finite (impute missing values first).
    max_rows : int, default 1000
        Rows drawn (without replacement, seeded) to compute everything but the shape.
    random_state : int, default 0
        Seed of the row draw and of the random landmarkers.
    include_base : bool, default True
        Add :func:`metaad.meta.features.compute_meta_features` (under ``base.``) when it is installed.

    Returns
    -------
    dict of str to float
        Finite numbers, in a fixed order of names for a given ``include_base``.

    Raises
    ------
    DataError
        For non-numeric or non-finite values, fewer than 2 rows, or an empty table.

    Examples
    --------
    >>> X = np.random.RandomState(0).normal(size=(500, 6))
    >>> feats = selection_features(X, include_base=False)
    >>> round(feats["shape.log_rows"], 4), round(feats["shape.log_columns"], 4)
    (6.2146, 1.7918)
    >>> all(np.isfinite(v) for v in feats.values())
    True
    """
    array = _as_matrix(X)
    n_rows, n_cols = array.shape
    rng = check_random_state(random_state)
    if n_rows > max_rows:
        array = array[np.sort(rng.choice(n_rows, size=max_rows, replace=False))]
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
    features["moments.beyond_3sd"] = float((np.abs(zs) > 3).mean())

    if Zi.shape[1] > 1:
        with np.errstate(all="ignore"):
            corr = np.nan_to_num(np.corrcoef(Zi, rowvar=False))
        upper = np.abs(corr[np.triu_indices_from(corr, k=1)])
        features["corr.mean_abs"] = float(upper.mean())
        features["corr.max_abs"] = float(upper.max())
        features["corr.share_above_0.5"] = float((upper > 0.5).mean())
    else:
        features.update({"corr.mean_abs": 0.0, "corr.max_abs": 0.0, "corr.share_above_0.5": 0.0})

    _, ratio = _pca(zs)
    positive = ratio[ratio > 0]
    features["pca.first_ratio"] = float(ratio[0]) if ratio.size else 1.0
    features["pca.components_90"] = float((np.searchsorted(np.cumsum(ratio), 0.9) + 1) / max(1, ratio.size))
    features["pca.entropy"] = float(-(positive * np.log(positive)).sum() / math.log(max(2, ratio.size)))

    lm = landmarker_scores(zs, random_state=rng)
    for name in LANDMARKERS:
        features.update(_score_features(name, lm[name]))
    ranks = {name: stats.rankdata(lm[name]) for name in LANDMARKERS}
    for i, a in enumerate(LANDMARKERS):
        for b in LANDMARKERS[i + 1:]:
            with np.errstate(all="ignore"):
                rho = np.corrcoef(ranks[a], ranks[b])[0, 1]
            features[f"agree.{a}_{b}"] = _safe(rho)
    if include_base:
        features.update(_base_features(sample))
    return {k: _safe(v) for k, v in features.items()}


def _base_features(sample: np.ndarray) -> dict[str, float]:
    """The colleague's first set of meta-features, if the module exists; nothing otherwise."""
    try:
        from metaad.meta.features import compute_meta_features
    except ImportError:
        return {}
    try:
        base = compute_meta_features(sample)
    except Exception as exc:  # noqa: BLE001  (an optional extra: it must never break selection)
        logger.warning("compute_meta_features failed (%s); continuing without the base meta-features", exc)
        return {}
    return {f"base.{k}": _safe(v) for k, v in base.items() if isinstance(v, (int, float, np.integer, np.floating))}


__all__ = ["FEATURES_VERSION", "LANDMARKERS", "landmarker_scores", "selection_features"]
