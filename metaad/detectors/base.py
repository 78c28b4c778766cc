"""The contract every metaad detector follows (scikit-learn compatible, with PyOD's names).

* ``fit(X, y=None)`` returns ``self`` and sets ``decision_scores_`` (training scores), ``threshold_`` and
  ``labels_``;
* ``decision_function(X)``: higher = more anomalous;
* ``predict(X)``: 1 for anomalies, 0 otherwise;
* ``contamination``, ``threshold`` and ``random_state`` mean the same everywhere.

Subclasses implement ``_fit(X, y)`` and ``_score(X)``, plus ``_get_fitted_state`` / ``_set_fitted_state`` so
that :mod:`metaad.persistence` can save them without pickling.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from metaad.detectors.thresholding import parse_threshold, threshold_from_scores, validate_contamination
from metaad.detectors.validation import check_detector_input
from metaad.exceptions import DataError, NotFittedError, ParameterError
from sklearn.exceptions import NotFittedError as SklearnNotFittedError


class BaseDetector(BaseEstimator, metaclass=abc.ABCMeta):
    """Base class of every detector. Subclasses declare their parameters in ``__init__`` and only store them.

    Parameters
    ----------
    contamination : float, default=0.1
        Expected fraction of anomalies in the training data, in (0, 0.5]; sets the default threshold.
    threshold : None, "contamination", "fpr:R" or float, default=None
        How ``threshold_`` is chosen; see :mod:`metaad.detectors.thresholding`.
    random_state : int, numpy.random.RandomState or None, default=None
        Seed for every random draw of this detector (local: global RNGs are left alone).
    """

    _registry_name: ClassVar[str] = ""
    _input_dtype: ClassVar[type] = np.float64
    _accepts_images: ClassVar[bool] = False
    _uses_labels: ClassVar[bool] = False

    def __init__(self, *, contamination: float = 0.1, threshold: str | float | None = None, random_state: Any = None):
        self.contamination = contamination
        self.threshold = threshold
        self.random_state = random_state

    # ----------------------------------------------------------------- hooks for subclasses
    @abc.abstractmethod
    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        """Fit on validated ``X``; may set ``decision_scores_`` itself (else ``_score(X)`` is used)."""

    @abc.abstractmethod
    def _score(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores of validated ``X`` (higher = more anomalous)."""

    def _get_fitted_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays and JSON-safe metadata that reproduce the fitted detector (see :mod:`metaad.persistence`)."""
        raise ParameterError(f"{type(self).__name__} cannot be saved safely")

    def _set_fitted_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        raise ParameterError(f"{type(self).__name__} cannot be loaded")

    def _check_params(self) -> None:
        """Subclass-specific parameter checks; raise :class:`ParameterError` naming the parameter."""

    # ----------------------------------------------------------------- public API
    def _validate_params(self) -> None:
        validate_contamination(self.contamination)
        parse_threshold(self.threshold)
        self._check_params()

    def _validate_input(self, X: Any, *, reset: bool) -> np.ndarray:
        if reset:
            array = check_detector_input(X, dtype=self._input_dtype, min_rows=2, allow_images=self._accepts_images)
            flat = array.reshape(array.shape[0], -1)
            if not (flat != flat[:1]).any():
                raise DataError(
                    f"all {flat.shape[1]} column(s) of X are constant over its {flat.shape[0]} rows: nothing to detect"
                )
            self.n_features_in_ = int(np.prod(array.shape[1:]))
            self.feature_shape_ = tuple(int(s) for s in array.shape[1:])
            return array
        return check_detector_input(
            X,
            dtype=self._input_dtype,
            min_rows=1,
            feature_shape=self.feature_shape_,
            allow_images=self._accepts_images,
        )

    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Fit the detector on ``X`` (unlabeled; ``y`` is ignored unless the detector uses a few labels).

        Returns
        -------
        self
        """
        self._validate_params()
        array = self._validate_input(X, reset=True)
        labels = None
        if y is not None and self._uses_labels:
            labels = np.asarray(y).astype(int).ravel()
        self.__dict__.pop("decision_scores_", None)  # a refit must not reuse the previous fit's scores
        self._fit(array, labels)
        if not hasattr(self, "decision_scores_"):
            self.decision_scores_ = self._score(array)
        self.decision_scores_ = np.asarray(self.decision_scores_, dtype=np.float64)
        self._set_threshold()
        return self

    def _set_threshold(self) -> None:
        self.threshold_ = threshold_from_scores(self.decision_scores_, self.threshold, self.contamination)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)

    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self, "decision_scores_")
        except SklearnNotFittedError:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X) before scoring"
            ) from None

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score of each row of ``X``: higher means more anomalous."""
        self._check_fitted()
        return np.asarray(self._score(self._validate_input(X, reset=False)), dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """1 for rows whose score exceeds ``threshold_``, 0 otherwise."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and return ``labels_`` (1 = anomaly)."""
        return self.fit(X, y).labels_

    @property
    def registry_name(self) -> str:
        """The name this detector is registered under."""
        return self._registry_name or type(self).__name__.lower()
