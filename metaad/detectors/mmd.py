"""The ``mmd`` detector: a row's outlierness is the squared MMD between its point mass and the training sample.

``MMD²(δ_z, P̂) = k(z, z) - 2 mean_i k(z, x_i) + mean_ij k(x_i, x_j)`` with an RBF kernel: the witness function
of the training sample against the row, shifted to be >= 0 (:func:`metaad.scores.mmd_point_scores`). It is the
kernel two-sample distance that the drift tests of :mod:`metaad.adapt` use, applied to one row at a time, so
a row far from every training row scores near ``1 + mean k``, a row in a dense region near 0.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.utils import check_random_state

from metaad._constraints import Interval
from metaad.detectors.base import BaseDetector
from metaad.detectors.registry import register
from metaad.exceptions import ModelFileError
from metaad.scores import median_heuristic, mmd_point_scores, rbf_kernel

#: Rows scored against the landmarks at a time (a chunk x max_samples kernel block: 8 MiB at 1,000 x 1,000).
_CHUNK = 1000


@register("mmd", family="classical", description="MMD witness: squared MMD between a row's point mass and the training sample (RBF, median heuristic).")
class MMDDetector(BaseDetector):
    """Kernel (MMD witness) detector with an RBF kernel whose width is the median heuristic.

    Parameters
    ----------
    max_samples : int, default=1000
        Training rows kept as the reference sample (landmarks), drawn at random beyond that: scoring costs
        ``max_samples`` kernel evaluations per row.
    bandwidth : float or None, default=None
        RBF width in standardized units; None: ``bandwidth_scale`` times the median distance between landmarks.
    bandwidth_scale : float, default=1.0
    standardize : bool, default=True
        Scale each column by the landmarks' mean and standard deviation first.
    contamination, threshold, random_state
        See :class:`metaad.detectors.base.BaseDetector`.

    Examples
    --------
    >>> import numpy as np, metaad
    >>> X = np.random.RandomState(0).normal(size=(300, 3))
    >>> det = metaad.make_detector("mmd", random_state=0).fit(X)
    >>> det.predict(np.array([[0.0, 0.0, 0.0], [6.0, 6.0, 6.0]])).tolist()
    [0, 1]
    """

    _refit_from_training_data: ClassVar[bool] = True  # saved as the classical adapters are (metaad._model_schema)
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **BaseDetector._parameter_constraints,
        "max_samples": [Interval(Integral, 2, 20_000)],
        "bandwidth": [None, Interval(Real, 0, None, closed="neither")],
        "bandwidth_scale": [Interval(Real, 0, None, closed="neither")],
        "standardize": [bool],
    }

    def __init__(self, *, max_samples: int = 1000, bandwidth: float | None = None, bandwidth_scale: float = 1.0,
                 standardize: bool = True, contamination: float = 0.1, threshold: str | float | None = None,
                 random_state: Any = None) -> None:
        self.max_samples = max_samples
        self.bandwidth = bandwidth
        self.bandwidth_scale = bandwidth_scale
        self.standardize = standardize
        self.contamination = contamination
        self.threshold = threshold
        self.random_state = random_state

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"random_state": 0, "max_samples": 200}

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        rng = check_random_state(self.random_state)
        landmarks = X if X.shape[0] <= self.max_samples else X[np.sort(rng.choice(X.shape[0], self.max_samples, replace=False))]
        self._fit_landmarks(np.ascontiguousarray(landmarks, dtype=np.float64))
        self.decision_scores_ = self._score(X)

    def _fit_landmarks(self, landmarks: np.ndarray) -> None:
        """Everything fitted follows from the landmarks alone, so that a saved model refits exactly."""
        self.landmarks_ = landmarks
        if self.standardize:
            std = landmarks.std(axis=0)
            std[std < 1e-12] = 1.0
            self.scaler_mean_, self.scaler_scale_ = landmarks.mean(axis=0), std
        else:
            self.scaler_mean_, self.scaler_scale_ = np.zeros(landmarks.shape[1]), np.ones(landmarks.shape[1])
        scaled = (landmarks - self.scaler_mean_) / self.scaler_scale_
        self.bandwidth_ = float(self.bandwidth) if self.bandwidth is not None else (
            float(self.bandwidth_scale) * median_heuristic(scaled, max_rows=scaled.shape[0]))
        self._scaled_landmarks = scaled
        m = scaled.shape[0]
        total = sum(float(rbf_kernel(scaled[i : i + _CHUNK], scaled, self.bandwidth_).sum()) for i in range(0, m, _CHUNK))
        self.self_similarity_ = total / (m * m)

    def _score(self, X: np.ndarray) -> np.ndarray:
        scaled = (X - self.scaler_mean_) / self.scaler_scale_
        return np.concatenate([
            mmd_point_scores(scaled[i : i + _CHUNK], self._scaled_landmarks, bandwidth=self.bandwidth_,
                             self_similarity=self.self_similarity_)
            for i in range(0, max(scaled.shape[0], 1), _CHUNK)
        ])[: X.shape[0]]

    # ------------------------------------------------------------------ persistence
    def _get_fitted_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"X_train": self.landmarks_, "decision_scores": self._score(self.landmarks_)}
        return arrays, {"state": "refit-from-training-data", "threshold": self.threshold_}

    def _set_fitted_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Refit from the stored landmarks; ``decision_scores_`` are then the landmarks' scores."""
        landmarks = np.ascontiguousarray(arrays["X_train"], dtype=np.float64)
        self.n_features_in_ = landmarks.shape[1]
        self.feature_shape_ = (landmarks.shape[1],)
        self._fit_landmarks(landmarks)
        saved = np.asarray(arrays["decision_scores"], dtype=np.float64)
        if not np.allclose(self._score(landmarks), saved, rtol=1e-6, atol=1e-9):
            raise ModelFileError("mmd: refitting from the saved landmarks did not reproduce the saved scores")
        self.decision_scores_ = saved
        self.threshold_ = float(meta["threshold"])
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
