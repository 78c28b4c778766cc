"""Meta-features: a fixed-length numeric description of a tabular dataset, for choosing detectors.

The first set: size and dimensionality; statistical moments of the columns (skewness and kurtosis summaries,
discreteness, outlying values); correlation structure; PCA explained-variance summaries; and *landmarkers*,
statistics of the outlier scores of four fast detectors (HBOS, IForest, PCA, LODA) fitted on a subsample.
Everything but the size features is computed on a seeded subsample (at most ``max_rows`` rows), so the cost
does not grow with the data: under 1 s for 100,000 x 100 (measured 0.9 s on a busy CPU core).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from metaad.exceptions import DataError

#: The version of the feature set; a knowledge base stores it, and a selector checks it.
META_FEATURES_VERSION = 1
_LANDMARKERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("hbos", {}),
    ("iforest", {"n_estimators": 50}),
    ("pca", {}),
    ("loda", {"n_random_cuts": 50}),
)


def _summary(prefix: str, values: np.ndarray) -> dict[str, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {f"{prefix}_{s}": 0.0 for s in ("mean", "std", "min", "median", "max")}
    return {
        f"{prefix}_mean": float(values.mean()), f"{prefix}_std": float(values.std()),
        f"{prefix}_min": float(values.min()), f"{prefix}_median": float(np.median(values)),
        f"{prefix}_max": float(values.max()),
    }


def compute_meta_features(X: Any, *, max_rows: int = 2000, landmark_rows: int = 1000, random_state: int = 0) -> dict[str, float]:
    """Describe a dataset by a dictionary of finite floats (the same keys for every dataset).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric features (no labels).
    max_rows : int, default 2000
        Rows sampled for the moment, correlation and PCA features.
    landmark_rows : int, default 1000
        Rows (from that sample) the landmarker detectors are fitted on.
    random_state : int, default 0
        Seed of the subsampling and of the landmarkers.

    Returns
    -------
    dict of str to float

    Raises
    ------
    DataError
        For data that is not 2-D, has fewer than 5 rows, or holds non-finite values.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.RandomState(0).normal(size=(500, 4))
    >>> features = compute_meta_features(X)
    >>> features["n_samples"], features["n_features"]
    (500.0, 4.0)
    >>> all(np.isfinite(v) for v in features.values())
    True
    >>> compute_meta_features(X) == features
    True
    """
    from scipy import stats

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise DataError(f"meta-features need a 2-D array, got shape {X.shape}")
    if X.shape[0] < 5 or X.shape[1] < 1:
        raise DataError(f"meta-features need at least 5 rows and 1 column, got shape {X.shape}")
    n, d = X.shape
    rng = check_random_state(random_state)
    sample = X[np.sort(rng.choice(n, max_rows, replace=False))] if n > max_rows else X
    if not np.all(np.isfinite(sample)):
        raise DataError("meta-features need finite values; the data holds NaN or infinity")
    features: dict[str, float] = {
        "n_samples": float(n), "n_features": float(d), "log_n_samples": math.log(n), "log_n_features": math.log(d),
        "features_per_sample": d / n,
    }
    std = sample.std(axis=0)
    constant = std < 1e-12
    features["constant_fraction"] = float(constant.mean())
    Z = (sample - sample.mean(axis=0)) / np.where(constant, 1.0, std)
    unique_fraction = np.array([np.unique(col).size for col in sample.T]) / sample.shape[0]
    features["unique_fraction_mean"] = float(unique_fraction.mean())
    features["binary_fraction"] = float(np.mean([np.unique(col).size <= 2 for col in sample.T]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        skew = np.where(constant, 0.0, stats.skew(sample, axis=0))
        kurt = np.where(constant, 0.0, stats.kurtosis(sample, axis=0))
    features.update(_summary("skew", skew))
    features.update(_summary("kurtosis", kurt))
    features["skewed_fraction"] = float(np.mean(np.abs(skew) > 1))
    features["outlying_value_fraction"] = float(np.mean(np.abs(Z) > 3))
    features["outlying_row_fraction"] = float(np.mean(np.any(np.abs(Z) > 3, axis=1)))
    informative = Z[:, ~constant]
    if informative.shape[1] >= 2:
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(informative, rowvar=False)
        off = np.abs(corr[np.triu_indices_from(corr, k=1)])
        off = off[np.isfinite(off)]
        features.update({"abs_correlation_mean": float(off.mean()) if off.size else 0.0,
                         "abs_correlation_max": float(off.max()) if off.size else 0.0,
                         "strong_correlation_fraction": float(np.mean(off > 0.8)) if off.size else 0.0})
        eig = np.clip(np.linalg.eigvalsh(np.nan_to_num(corr))[::-1], 0, None)
        ratio = eig / max(eig.sum(), 1e-12)
        cumulative = np.cumsum(ratio)
        k90 = int(np.searchsorted(cumulative, 0.9) + 1)
        features.update({"pca_first_ratio": float(ratio[0]), "pca_top3_ratio": float(cumulative[min(2, ratio.size - 1)]),
                         "pca_components_90": float(k90), "pca_components_90_fraction": k90 / informative.shape[1],
                         "pca_eigen_entropy": float(-(ratio[ratio > 0] * np.log(ratio[ratio > 0])).sum() / math.log(ratio.size))})
    else:
        features.update(dict.fromkeys(("abs_correlation_mean", "abs_correlation_max", "strong_correlation_fraction"), 0.0))
        features.update({"pca_first_ratio": 1.0, "pca_top3_ratio": 1.0, "pca_components_90": 1.0,
                         "pca_components_90_fraction": 1.0, "pca_eigen_entropy": 0.0})
    features.update(_landmarkers(informative if informative.shape[1] else Z, landmark_rows, random_state))
    return {k: float(np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)) for k, v in features.items()}


def _landmarkers(Z: np.ndarray, landmark_rows: int, random_state: int) -> dict[str, float]:
    """Statistics of four fast detectors' standardized training scores."""
    from scipy import stats

    from metaad.detectors.registry import make_detector

    rows = Z[: min(landmark_rows, Z.shape[0])]
    out: dict[str, float] = {}
    for name, params in _LANDMARKERS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = make_detector(name, random_state=random_state, **params).fit(rows).decision_scores_
        except Exception:  # a landmarker that cannot fit (e.g. degenerate data) is described as uninformative
            scores = np.zeros(rows.shape[0])
        with np.errstate(invalid="ignore", over="ignore"):  # inf scores (e.g. PCA on a constant column): NaN spread
            spread = scores.std()
        # a landmarker whose scores have no finite spread is described as uninformative, like one that failed
        z = (scores - scores.mean()) / spread if spread > 1e-12 else np.zeros_like(scores)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[f"landmark_{name}_skew"] = float(stats.skew(z)) if spread > 1e-12 else 0.0
            out[f"landmark_{name}_kurtosis"] = float(stats.kurtosis(z)) if spread > 1e-12 else 0.0
        out[f"landmark_{name}_max_z"] = float(z.max())
        out[f"landmark_{name}_tail_fraction"] = float(np.mean(z > 3))
        out[f"landmark_{name}_top_gap"] = float(np.quantile(z, 0.99) - np.quantile(z, 0.9))
    return out
