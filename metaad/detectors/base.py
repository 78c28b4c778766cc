"""The contract every metaad detector follows (scikit-learn compatible, with PyOD's names).

* ``fit(X, y=None)`` returns ``self`` and sets ``decision_scores_`` (training scores), ``threshold_`` and
  ``labels_``;
* ``decision_function(X)``: higher = more anomalous;
* ``predict(X)``: 1 for anomalies, 0 otherwise;
* ``score_samples(X)``: scikit-learn's sign, higher = more normal (``-decision_function``);
* ``predict_proba(X)`` and ``predict_confidence(X)``: PyOD's probability and confidence;
* ``contamination``, ``threshold`` and ``random_state`` mean the same everywhere;
* scoring methods take a 2-D array or DataFrame, or one row as a dict or a pandas Series;
* ``y``, for the detectors that use a few labels, is 0/1 (1 = known anomaly); anything else is refused.

scikit-learn's own check suite runs over every registered detector (tests/detectors/test_sklearn_checks.py;
TESTING.md lists the checks that cannot apply and why).

Subclasses implement ``_fit(X, y)`` and ``_score(X)``, plus ``_get_fitted_state`` / ``_set_fitted_state`` so
that :mod:`metaad.persistence` can save them without pickling, and declare what each parameter accepts in
``_parameter_constraints`` (:mod:`metaad._constraints`), checked in one place, :meth:`BaseDetector._validate_params`:
by ``fit``, by :func:`~metaad.detectors.registry.make_detector` and on the parameters of a model file.
"""

from __future__ import annotations

import abc
import inspect
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import erf
from scipy.stats import binom
from sklearn.base import BaseEstimator
from sklearn.utils import ClassifierTags
from sklearn.utils.validation import check_is_fitted

from metaad._constraints import Check, Integral, Interval, check_params
from metaad.detectors.thresholding import CONTAMINATION, parse_threshold, threshold_from_scores
from metaad.detectors.validation import check_detector_input, column_mismatch, row_from_mapping
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
    #: What each parameter accepts (see :mod:`metaad._constraints`); a subclass extends its parent's table,
    #: ``{**Parent._parameter_constraints, "beta": [Interval(Real, 0, None)]}``. Checks that involve several
    #: parameters go in :meth:`_check_params`.
    #: Parameters renamed since model files were first written, old name -> new name: a model file that uses the
    #: old name still loads (:mod:`metaad._model_schema`), and ``make_detector`` names the new one.
    _renamed_params: ClassVar[dict[str, str]] = {}
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        "contamination": CONTAMINATION,
        # parse_threshold raises its own message naming what is wrong ("the false-positive rate must be in (0, 1)")
        "threshold": [Check("None, 'contamination', 'fpr:R' (0 < R < 1) or a number", lambda v: bool(parse_threshold(v)))],
        "random_state": [None, Interval(Integral, 0, 2**32 - 1), np.random.RandomState],
    }

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
        """Checks that ``_parameter_constraints`` cannot express (several parameters together); raise
        :class:`ParameterError` naming the parameters."""

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        """Cheap, seeded parameters for the shared contract suite (as River's ``_unit_test_params``).

        The contract tests (tests/detectors/test_contract.py, test_sklearn_checks.py) build every registered
        detector with these, so the whole suite stays fast. The default fixes ``random_state`` and, for a
        detector trained by the shared trainer (it has ``n_epochs``), trains a few short epochs; a detector
        whose defaults are too slow for a unit test overrides this classmethod.

        Examples
        --------
        >>> import metaad
        >>> type(metaad.make_detector("autoencoder"))._unit_test_params()["n_epochs"]
        5
        """
        accepted = inspect.signature(cls.__init__).parameters
        params: dict[str, Any] = {"random_state": 0}
        if "n_epochs" in accepted:
            params["n_epochs"] = 5
        return params

    def __sklearn_tags__(self):  # noqa: ANN204  (sklearn.utils.Tags)
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False  # refused with an error that says so (check_detector_input)
        tags.input_tags.allow_nan = False
        tags.input_tags.three_d_array = self._accepts_images
        if self._uses_labels:
            # y marks known anomalies: a binary target (1 = known anomaly, 0 = unknown), never multi-class.
            tags.classifier_tags = ClassifierTags(multi_class=False)
        return tags

    # ----------------------------------------------------------------- public API
    def _validate_params(self) -> None:
        """Every parameter against ``_parameter_constraints``, then :meth:`_check_params`.

        Examples
        --------
        >>> import metaad
        >>> metaad.make_detector("iforest", n_estimators=0)
        Traceback (most recent call last):
        ...
        metaad.exceptions.ParameterError: iforest: n_estimators must be a positive integer, got 0
        """
        check_params(self._parameter_constraints, self.get_params(deep=False), self.registry_name)
        self._check_params()

    def _validate_input(self, X: Any, *, reset: bool) -> np.ndarray:
        name = type(self).__name__
        if reset:
            array = check_detector_input(
                X, dtype=self._input_dtype, min_rows=2, allow_images=self._accepts_images, estimator_name=name
            )
            flat = array.reshape(array.shape[0], -1)
            if not (flat != flat[:1]).any():
                raise DataError(
                    f"all {flat.shape[1]} column(s) of X are constant over its {flat.shape[0]} rows: nothing to detect"
                )
            self.n_features_in_ = int(np.prod(array.shape[1:]))
            self.feature_shape_ = tuple(int(s) for s in array.shape[1:])
            names = _string_columns(X)
            if names is not None:
                self.feature_names_in_ = names
            else:
                self.__dict__.pop("feature_names_in_", None)
            return array
        fitted_names = getattr(self, "feature_names_in_", None)
        if isinstance(X, (dict, pd.Series)):
            X = row_from_mapping(X, fitted_names, self.n_features_in_)
        elif isinstance(X, pd.DataFrame) and fitted_names is not None:
            _check_column_names(X, fitted_names)
        return check_detector_input(
            X,
            dtype=self._input_dtype,
            min_rows=1,
            feature_shape=self.feature_shape_,
            allow_images=self._accepts_images,
            estimator_name=name,
        )

    def _validate_labels(self, y: Any, n_rows: int) -> np.ndarray | None:
        """``y`` as 0/1 integers for a detector that uses a few labels (None for the others, or no ``y``).

        ``y`` marks known anomalies: 1 = known anomaly, 0 = unknown (or normal). Anything else (multi-class
        labels, 0.5, -1, NaN, text) is an error naming the first offending row: it is never cast silently.
        """
        if y is None or not self._uses_labels:
            return None
        labels = np.asarray(y)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels.ravel()
        if labels.ndim != 1:
            raise DataError(f"{self.registry_name}: y must be 1-D (one 0/1 label per row), got shape {labels.shape}")
        if labels.shape[0] != n_rows:
            raise DataError(f"{self.registry_name}: y has {labels.shape[0]} labels for {n_rows} rows of X")
        if labels.dtype == object:
            try:
                labels = labels.astype(np.float64)
            except (TypeError, ValueError):
                pass
        valid = np.isin(labels, (0, 1)) if labels.dtype.kind in "biuf" else np.zeros(labels.shape, dtype=bool)
        if not valid.all():
            row = int(np.flatnonzero(~valid)[0])
            value = labels[row].item() if isinstance(labels[row], np.generic) else labels[row]
            hint = ""
            if labels.dtype.kind in "iuf" and set(np.unique(labels).tolist()) <= {-1, 1}:
                hint = "; scikit-learn's outlier labels (-1 = outlier, 1 = inlier)? pass (y == -1).astype(int)"
            raise DataError(
                f"{self.registry_name}: y must be 0 (unknown) or 1 (known anomaly); row {row} holds {value!r}{hint}"
            )
        return labels.astype(int)

    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Fit the detector on ``X`` (unlabeled; ``y`` is ignored unless the detector uses a few labels).

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_rows, n_features)
            Numeric and finite, at least 2 rows (images: N×H×W or N×C×H×W for deep detectors).
        y : array-like of {0, 1}, optional
            Only for detectors that use a few labels (``devnet``, ``auto``): 1 marks a known anomaly, 0 an
            unknown row. Other values are refused. Ignored by the other detectors.

        Returns
        -------
        self
        """
        self._validate_params()
        array = self._validate_input(X, reset=True)
        labels = self._validate_labels(y, array.shape[0])
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
        """Anomaly score of each row of ``X``: higher means more anomalous.

        ``X`` is a 2-D array or DataFrame, or a single row given as a dict or a pandas Series keyed by
        column name (for a detector fitted on a DataFrame).

        Examples
        --------
        >>> import numpy as np, pandas as pd, metaad
        >>> df = pd.DataFrame(np.random.RandomState(0).normal(size=(100, 2)), columns=["a", "b"])
        >>> det = metaad.make_detector("ecod").fit(df)
        >>> bool(det.decision_function({"b": 9.0, "a": 9.0})[0] > det.threshold_)
        True
        """
        self._check_fitted()
        return np.asarray(self._score(self._validate_input(X, reset=False)), dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """1 for rows whose score exceeds ``threshold_``, 0 otherwise (PyOD's convention, not sklearn's -1/1)."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def score_samples(self, X: Any) -> np.ndarray:
        """scikit-learn's sign convention: higher = more *normal*; the opposite of :meth:`decision_function`.

        As ``IsolationForest.score_samples``, so code written for scikit-learn's outlier detectors reads the
        scores the right way round.

        Examples
        --------
        >>> import numpy as np, metaad
        >>> X = np.random.RandomState(0).normal(size=(100, 3))
        >>> det = metaad.make_detector("knn").fit(X)
        >>> bool(np.array_equal(det.score_samples(X), -det.decision_function(X)))
        True
        """
        return -self.decision_function(X)

    def predict_proba(self, X: Any, method: str = "linear") -> np.ndarray:
        """Probability of each row being normal (column 0) or an anomaly (column 1), as PyOD computes it.

        Parameters
        ----------
        method : {"linear", "unify"}, default "linear"
            ``"linear"``: the score min-max scaled by the training scores' range, clipped to [0, 1].
            ``"unify"``: Kriegel et al.'s unification, ``erf((score - mean) / (std * sqrt(2)))`` of the
            training scores, clipped to [0, 1].

        Returns
        -------
        numpy.ndarray of shape (n_rows, 2)
            Rows sum to 1. These are calibrated only in the weak sense PyOD's are (a monotone rescaling of the
            score); use :meth:`predict_confidence` for how sure a 0/1 prediction is.

        Examples
        --------
        >>> import numpy as np, metaad
        >>> X = np.random.RandomState(0).normal(size=(200, 3))
        >>> det = metaad.make_detector("iforest", random_state=0).fit(X)
        >>> proba = det.predict_proba(np.vstack([X[:2], [[8.0, 8.0, 8.0]]]))
        >>> proba.shape, bool(np.allclose(proba.sum(axis=1), 1)), bool(proba[2, 1] > proba[0, 1])
        ((3, 2), True, True)
        """
        scores = self.decision_function(X)
        train = self.decision_scores_
        if method == "linear":
            low, high = float(train.min()), float(train.max())
            anomalous = (scores - low) / (high - low) if high > low else (scores > high).astype(np.float64)
        elif method == "unify":
            std = float(train.std())
            anomalous = erf((scores - float(train.mean())) / (std * np.sqrt(2.0))) if std > 0 else (
                scores > float(train.mean())).astype(np.float64)
        else:
            raise ParameterError(f"predict_proba: method must be 'linear' or 'unify', got {method!r}")
        anomalous = np.clip(anomalous, 0.0, 1.0)
        return np.column_stack([1.0 - anomalous, anomalous])

    def predict_confidence(self, X: Any) -> np.ndarray:
        """How confident each 0/1 :meth:`predict` is, in [0, 1] (PyOD's ``predict_confidence``, ExCeeD).

        Perini, Vercruyssen & Davis (2020): a row's score rank among the ``n`` training scores gives a
        posterior probability ``p = (1 + #(train <= score)) / (2 + n)`` of out-ranking a training row; the
        confidence that it is an anomaly is ``P[Binomial(n, p) > n - k]``, ``k`` being the number of training
        rows the threshold flags (``n * contamination`` with the default threshold). For a row predicted
        normal the confidence is one minus that.

        Examples
        --------
        >>> import numpy as np, metaad
        >>> X = np.random.RandomState(0).normal(size=(200, 3))
        >>> det = metaad.make_detector("knn").fit(X)
        >>> conf = det.predict_confidence(np.vstack([X[:1], [[9.0, 9.0, 9.0]]]))
        >>> bool(conf[1] > 0.99), bool(((conf >= 0) & (conf <= 1)).all())
        (True, True)
        """
        scores = self.decision_function(X)
        train = np.sort(self.decision_scores_)
        n = train.shape[0]
        n_flagged = int(np.sum(self.decision_scores_ > self.threshold_))
        rank = np.searchsorted(train, scores, side="right")
        posterior = (1.0 + rank) / (2.0 + n)
        confidence = binom.sf(n - n_flagged, n, posterior)
        predicted = scores > self.threshold_
        return np.where(predicted, confidence, 1.0 - confidence)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and return ``labels_`` (1 = anomaly)."""
        return self.fit(X, y).labels_

    @property
    def registry_name(self) -> str:
        """The name this detector is registered under."""
        return self._registry_name or type(self).__name__.lower()


def _string_columns(X: Any) -> np.ndarray | None:
    """The column names of a DataFrame whose names are all strings (scikit-learn's rule), else None."""
    if isinstance(X, pd.DataFrame) and len(X.columns) and all(isinstance(c, str) for c in X.columns):
        return np.asarray(list(X.columns), dtype=object)
    return None


def _check_column_names(X: pd.DataFrame, fitted: np.ndarray) -> None:
    """A DataFrame scored by a detector fitted on a DataFrame must have the same columns, in the same order."""
    given = [str(c) for c in X.columns]
    names = [str(n) for n in fitted]
    if given == names:
        return
    mismatch = column_mismatch(given, names)
    if mismatch:
        raise DataError(f"X has {mismatch} compared with the DataFrame the detector was fitted on")
    raise DataError(
        "X has the fitted columns in a different order; reorder them as at fit time: "
        f"X[{names[:10]!r}]" if len(names) <= 10 else "X has the fitted columns in a different order; use X[det.feature_names_in_]"
    )
