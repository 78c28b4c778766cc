"""A table in, anomaly scores out: preprocessing (schema, imputation, scaling, encoding) plus a detector."""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def _frame(self, X: Any) -> pd.DataFrame:
        """``X`` as a DataFrame; one row may be a dict or a pandas Series keyed by column name."""
        if isinstance(X, dict):
            return pd.DataFrame([X])
        if isinstance(X, pd.Series):
            return X.to_frame().T.infer_objects()
        return as_frame(X)

    def transform(self, X: Any) -> np.ndarray:
        """The preprocessed matrix the detector sees."""
        self._check_fitted()
        return self.preprocessor_.transform(self._frame(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly scores (higher = more anomalous); ``X`` a table, or one row as a dict or Series.

        Examples
        --------
        >>> import pandas as pd, metaad
        >>> df = pd.DataFrame({"amount": [1.0, 2.0, 1.5, 1.2] * 10, "country": ["fr", "de", "fr", "de"] * 10})
        >>> pipe = metaad.AnomalyPipeline(metaad.make_detector("ecod")).fit(df)
        >>> pipe.decision_function({"amount": 1.5, "country": "fr"}).shape
        (1,)
        """
        return self.detector_.decision_function(self.transform(X))

    def predict(self, X: Any) -> np.ndarray:
        """1 for anomalies, 0 otherwise."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def score_samples(self, X: Any) -> np.ndarray:
        """scikit-learn's sign: higher = more normal (``-decision_function``)."""
        return -self.decision_function(X)

    def predict_proba(self, X: Any, method: str = "linear") -> np.ndarray:
        """PyOD's (normal, anomaly) probabilities; see :meth:`metaad.BaseDetector.predict_proba`."""
        return self.detector_.predict_proba(self.transform(X), method=method)

    def predict_confidence(self, X: Any) -> np.ndarray:
        """PyOD's confidence in each 0/1 prediction; see :meth:`metaad.BaseDetector.predict_confidence`."""
        return self.detector_.predict_confidence(self.transform(X))

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
        frame = self._frame(X)
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


@dataclass
class Detection:
    """What :func:`detect` found in a table: per-row scores and flags, and the fitted pipeline.

    Attributes
    ----------
    scores : pandas.Series
        Anomaly score of each row (higher = more anomalous), indexed like the input table.
    is_anomaly : pandas.Series of bool
        ``scores > threshold``.
    threshold : float
    detector : str
        The registry name of the detector that scored the rows (for ``auto``, the family it chose).
    pipeline : AnomalyPipeline
        Fitted; score new rows with ``pipeline.decision_function(new)``, save it with :func:`metaad.save`.
    """

    scores: pd.Series
    is_anomaly: pd.Series
    threshold: float
    detector: str
    pipeline: AnomalyPipeline
    data: pd.DataFrame = field(repr=False)

    def top(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` most anomalous rows of the input table, with their ``score``, highest first."""
        order = self.scores.sort_values(ascending=False, kind="stable").index[: int(n)]
        return self.data.loc[order].assign(score=self.scores.loc[order])

    def __repr__(self) -> str:
        return (f"Detection(detector={self.detector!r}, {int(self.is_anomaly.sum())} of {len(self.scores)} rows "
                f"flagged, threshold={self.threshold:.4g})")


def detect(X: Any, detector: str = "auto", *, contamination: float = 0.1, random_state: Any = 0,
           **params: Any) -> Detection:
    """Fit a detector on a table and score its rows in one call, for notebooks; nothing is written to disk.

    The table is preprocessed as by the command line (numeric columns standardized, text columns one-hot
    encoded, missing values imputed with a warning). Drop label or ID columns first: every column is a feature.

    Parameters
    ----------
    X : pandas.DataFrame or 2-D array-like
        The rows to search for anomalies (mixed types accepted).
    detector : str, default "auto"
        A registered detector (:func:`metaad.list_detectors`); ``auto`` chooses one from the knowledge base.
    contamination : float, default 0.1
        Expected share of anomalies; sets the threshold.
    random_state : int or None, default 0
    **params
        Further parameters of the detector (e.g. ``n_neighbors=10`` for ``knn``).

    Returns
    -------
    Detection
        ``scores``, ``is_anomaly`` (indexed like ``X``), ``threshold``, ``detector``, ``top(n)`` and the
        fitted ``pipeline``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, metaad
    >>> rng = np.random.RandomState(0)
    >>> df = pd.DataFrame({"amount": rng.lognormal(size=200), "country": rng.choice(["fr", "de"], 200)})
    >>> df.loc[7, "amount"] = 500.0
    >>> found = metaad.detect(df, "knn")
    >>> found
    Detection(detector='knn', 20 of 200 rows flagged, threshold=...)
    >>> int(found.top(1).index[0]), bool(found.is_anomaly[7])
    (7, True)
    """
    from metaad.detectors.registry import get_detector_info, make_detector

    accepted = get_detector_info(detector).parameters
    options = {k: v for k, v in (("contamination", contamination), ("random_state", random_state)) if k in accepted}
    frame = as_frame(X)
    pipe = AnomalyPipeline(make_detector(detector, **{**options, **params})).fit(frame)
    scores = pd.Series(pipe.decision_scores_, index=frame.index, name="score")
    fitted = pipe.detector_
    name = getattr(fitted, "selected_", {}).get("family", fitted.registry_name)
    return Detection(scores=scores, is_anomaly=scores > pipe.threshold_, threshold=pipe.threshold_, detector=name,
                     pipeline=pipe, data=frame)
