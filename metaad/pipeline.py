"""A table in, anomaly scores out: preprocessing (schema, imputation, scaling, encoding) plus a detector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from metaad.data.preprocessing import TabularPreprocessor
from metaad.data.readers import as_frame
from metaad.detectors.base import BaseDetector
from metaad.exceptions import NotFittedError, ParameterError


class AnomalyPipeline(BaseEstimator):
    """Preprocess a table the same way at fit and at scoring time, then apply a detector.

    The input schema (column names, order, kinds, categories) is fitted with the data and enforced when
    scoring: a missing, extra or mistyped column raises :class:`~metaad.exceptions.SchemaError` naming it.

    Parameters
    ----------
    detector : BaseDetector
        An unfitted metaad detector (e.g. from :func:`metaad.make_detector`).
    preprocessor : TabularPreprocessor or None
        Default: standard scaling, one-hot categories, imputation with a warning.

    Examples
    --------
    >>> import pandas as pd, metaad
    >>> df = pd.DataFrame({"amount": [1.0, 2.0, 1.5, 50.0] * 10, "country": ["fr", "de", "fr", "xx"] * 10})
    >>> pipe = metaad.AnomalyPipeline(metaad.make_detector("ecod")).fit(df)
    >>> pipe.decision_function(df).shape
    (40,)
    """

    def __init__(self, detector: BaseDetector, preprocessor: TabularPreprocessor | None = None) -> None:
        self.detector = detector
        self.preprocessor = preprocessor

    def fit(self, X: Any, y: Any = None) -> AnomalyPipeline:
        """Fit the preprocessor and the detector on ``X`` (``y`` only for detectors that use a few labels)."""
        if not isinstance(self.detector, BaseDetector):
            raise ParameterError(f"detector must be a metaad detector, got {type(self.detector).__name__}")
        frame = as_frame(X)
        self.preprocessor_ = clone(self.preprocessor) if self.preprocessor is not None else TabularPreprocessor()
        matrix = self.preprocessor_.fit_transform(frame)
        self.detector_ = clone(self.detector).fit(matrix, y)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "detector_"):
            raise NotFittedError("this AnomalyPipeline is not fitted yet; call fit(X) first")

    def transform(self, X: Any) -> np.ndarray:
        """The preprocessed matrix the detector sees."""
        self._check_fitted()
        return self.preprocessor_.transform(as_frame(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly scores (higher = more anomalous)."""
        return self.detector_.decision_function(self.transform(X))

    def predict(self, X: Any) -> np.ndarray:
        """1 for anomalies, 0 otherwise."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    @property
    def threshold_(self) -> float:
        self._check_fitted()
        return float(self.detector_.threshold_)

    @property
    def decision_scores_(self) -> np.ndarray:
        self._check_fitted()
        return self.detector_.decision_scores_

    @property
    def schema_(self):
        self._check_fitted()
        return self.preprocessor_.schema_

    def explain(self, X: Any) -> pd.DataFrame:
        """Per-input-column contributions to each row's score (larger = pushes the score up more).

        From :func:`metaad.evaluation.explain.explain`: the detector's own ``explain`` (deep reconstruction
        detectors: each feature's share of the reconstruction error), else the model-agnostic score drop when
        the feature is set to its training median. One-hot columns of a categorical input are summed back into
        that input column.
        """
        from metaad.evaluation.explain import explain

        self._check_fitted()
        frame = as_frame(X)
        errors = explain(self.detector_, self.transform(frame))
        out_names = list(self.preprocessor_.feature_names_out_)
        columns = {}
        for spec in self.preprocessor_.schema_.columns:
            idx = [i for i, n in enumerate(out_names) if n == spec.name or n.startswith(f"{spec.name}=")]
            columns[spec.name] = errors[:, idx].sum(axis=1) if idx else np.zeros(len(frame))
        return pd.DataFrame(columns, index=frame.index)

    def _fitted_meta(self) -> dict[str, Any]:
        return {"feature_names_in": list(self.feature_names_in_)}

    @classmethod
    def _from_saved(cls, folder: Path, detector: BaseDetector, preprocessor_state: dict, meta: dict) -> AnomalyPipeline:
        preprocessor = TabularPreprocessor.from_dict(preprocessor_state)
        pipe = cls(detector=clone(detector), preprocessor=clone(preprocessor))
        pipe.detector_ = detector
        pipe.preprocessor_ = preprocessor
        pipe.feature_names_in_ = np.asarray(meta.get("feature_names_in", []), dtype=object)
        return pipe
