"""Landmarkers: five cheap, deterministic outlier detectors whose scores describe a table (as MetaOD does).

HBOS, Isolation Forest, PCA reconstruction, LODA and k-nearest-neighbour distance, written here in NumPy
rather than through the detector registry: they only need to be cheap and deterministic, and the meta-feature
names must not change when a detector's implementation does. :mod:`metaad.meta.features` describes their
scores (spread, tails, skew) and how much they agree.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats
from sklearn.ensemble import IsolationForest
from sklearn.utils import check_random_state


LANDMARKERS: tuple[str, ...] = ("hbos", "iforest", "pca", "loda", "knn")


def safe_float(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else 0.0


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


def pca_residual(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
        "pca": pca_residual(Z)[0],
        "loda": _loda(Z, rng),
        "knn": _knn(Z),
    }


def score_features(name: str, scores: np.ndarray) -> dict[str, float]:
    s = np.asarray(scores, dtype=np.float64)
    spread = s.std()
    z = (s - s.mean()) / spread if spread > 1e-12 else np.zeros_like(s)
    q = np.quantile(s, [0.5, 0.9, 0.99])
    iqr = np.subtract(*np.quantile(s, [0.75, 0.25]))
    scale = iqr if iqr > 1e-12 else (spread if spread > 1e-12 else 1.0)
    return {
        f"lm.{name}.skew": safe_float(stats.skew(z)) if spread > 1e-12 else 0.0,
        f"lm.{name}.kurtosis": safe_float(np.log1p(max(stats.kurtosis(z) + 3.0, 0.0))) if spread > 1e-12 else 0.0,
        f"lm.{name}.tail3": safe_float((z > 3).mean()),
        f"lm.{name}.q99_gap": safe_float(np.log1p(max((q[2] - q[0]) / scale, 0.0))),
        f"lm.{name}.q90_gap": safe_float(np.log1p(max((q[1] - q[0]) / scale, 0.0))),
        f"lm.{name}.cv": safe_float(spread / (abs(s.mean()) + 1e-12)) if abs(s.mean()) > 1e-12 else 0.0,
    }


__all__ = ["LANDMARKERS", "landmarker_scores", "pca_residual", "safe_float", "score_features"]
