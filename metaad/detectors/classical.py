"""Classical detectors: thin adapters over PyOD under metaad's contract.

Each adapter exposes the PyOD estimator's useful parameters under the same names, fits the PyOD model in
``fit`` (never in ``__init__``), and is saved safely: PyOD models cannot be written without pickle, so the
saved state is the training matrix (safetensors) and the training scores; loading refits the same
deterministic model and checks that it reproduces the saved training scores, failing with a clear
:class:`~metaad.exceptions.ModelFileError` otherwise.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from metaad._constraints import Integral, Interval, Options, Real
from metaad.detectors._params import make_init
from metaad.detectors.base import BaseDetector
from metaad.detectors.registry import register
from metaad.exceptions import DataError, ModelFileError, ParameterError


class PyODAdapter(BaseDetector):
    """Base of the PyOD adapters; subclasses are generated from :data:`CLASSICAL_SPECS`."""

    _pyod_path: str = ""
    _pyod_params: tuple[str, ...] = ()
    _seeded: bool = False
    _tail_score: str = ""
    _test_params: dict[str, Any] = {}
    _adjust_kwargs: Any = None

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        """The base's cheap parameters plus the spec's ``test_params`` (e.g. fewer neighbours for small data)."""
        return {**super()._unit_test_params(), **cls._test_params}

    def _pyod_kwargs(self) -> dict[str, Any]:
        kwargs = {name: getattr(self, name) for name in self._pyod_params}
        kwargs["contamination"] = self.contamination
        if self._seeded:
            kwargs["random_state"] = self.seed_
        return kwargs

    def _fit(self, X: np.ndarray, y: np.ndarray | None, *, seed: int | None = None) -> None:
        if self._seeded:
            # The seed actually used is kept (and saved), so that a model fitted with random_state=None refits to
            # the same forest when it is loaded.
            self.seed_ = int(seed) if seed is not None else int(
                check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        module_name, _, class_name = self._pyod_path.rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        if isinstance(self.__dict__.get("n_neighbors"), int) and self.n_neighbors >= X.shape[0]:
            raise ParameterError(
                f"{self.registry_name}: n_neighbors={self.n_neighbors} needs more than {self.n_neighbors} training rows, "
                f"got {X.shape[0]}"
            )
        # Constant columns carry no information and break detectors that divide by a variance (PCA).
        spread = np.ptp(X, axis=0)
        self.informative_columns_ = np.flatnonzero(spread > 1e-12 * np.maximum(1.0, np.abs(X).max(axis=0)))
        if self.informative_columns_.size == 0:
            raise DataError(f"all {X.shape[1]} columns are constant in the training data: nothing to detect")
        kwargs = self._pyod_kwargs()
        if self._adjust_kwargs is not None:
            kwargs = self._adjust_kwargs(X[:, self.informative_columns_], kwargs)
        model = cls(**kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            model.fit(X[:, self.informative_columns_])
        self.model_ = model
        self.X_train_ = X
        self.decision_scores_ = np.asarray(model.decision_scores_, dtype=np.float64)

    def _score(self, X: np.ndarray) -> np.ndarray:
        if self._tail_score:
            return tail_probability_scores(self.X_train_[:, self.informative_columns_], X[:, self.informative_columns_],
                                           self._tail_score)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)
            return np.asarray(self.model_.decision_function(X[:, self.informative_columns_]), dtype=np.float64)

    def _get_fitted_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"X_train": self.X_train_, "decision_scores": self.decision_scores_}
        meta: dict[str, Any] = {"state": "refit-from-training-data", "threshold": self.threshold_}
        if self._seeded:
            meta["seed"] = self.seed_
        return arrays, meta

    def _set_fitted_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        X = np.ascontiguousarray(arrays["X_train"], dtype=np.float64)
        self.n_features_in_ = X.shape[1]
        self.feature_shape_ = (X.shape[1],)
        self._fit(X, None, seed=meta.get("seed"))
        saved = arrays["decision_scores"]
        if not np.allclose(self.decision_scores_, saved, rtol=1e-6, atol=1e-9):
            worst = float(np.max(np.abs(self.decision_scores_ - saved)))
            raise ModelFileError(
                f"{self.registry_name}: refitting from the saved training data did not reproduce the saved scores "
                f"(max difference {worst:.3g}); the installed PyOD/scikit-learn probably differ from the ones that saved it"
            )
        self.decision_scores_ = saved.astype(np.float64)
        self.threshold_ = float(meta["threshold"])
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)


def tail_probability_scores(train: np.ndarray, X: np.ndarray, kind: str) -> np.ndarray:
    """ECOD / COPOD scores of each row of ``X`` as if it alone were scored with the training rows ``train``.

    PyOD's ``ECOD``/``COPOD.decision_function`` compute the empirical CDFs (and the skewness) over the training
    rows *plus the whole scored batch*, so a row's score depends on which other rows are scored with it
    (scikit-learn's ``check_methods_subset_invariance`` fails, and ``metaad score`` on a file would give a
    row a different score from the same row scored alone). This computes, vectorized, exactly what PyOD
    gives for a batch of one row: tail probabilities over ``train`` plus that row, and the skewness sign of
    ``train`` plus that row. Training scores (``decision_scores_``) are PyOD's own.

    Examples
    --------
    >>> import numpy as np
    >>> from pyod.models.ecod import ECOD
    >>> rng = np.random.RandomState(0)
    >>> train, new = rng.normal(size=(100, 3)), rng.normal(size=(4, 3))
    >>> model = ECOD().fit(train)
    >>> alone = [model.decision_function(new[i:i + 1])[0] for i in range(4)]
    >>> bool(np.allclose(tail_probability_scores(train, new, "ecod"), alone))
    True
    """
    n = train.shape[0]
    ordered = np.sort(train, axis=0)
    at_most = np.column_stack([np.searchsorted(ordered[:, j], X[:, j], side="right") for j in range(X.shape[1])])
    at_least = n - np.column_stack([np.searchsorted(ordered[:, j], X[:, j], side="left") for j in range(X.shape[1])])
    left = -np.log((at_most + 1.0) / (n + 1.0))
    right = -np.log((at_least + 1.0) / (n + 1.0))
    # skewness (biased, as scipy.stats.skew) of each column of train plus the row, from centred power sums
    centre = train.mean(axis=0)
    sum2 = ((train - centre) ** 2).sum(axis=0)
    sum3 = ((train - centre) ** 3).sum(axis=0)
    d = X - centre
    size = n + 1.0
    mean = d / size
    moment2 = (sum2 + d**2) / size - mean**2
    moment3 = (sum3 + d**3) / size - 3.0 * mean * (sum2 + d**2) / size + 2.0 * mean**3
    skewness = np.where(moment2 > 0, np.sign(moment3), 0.0)
    skewed = left * -1 * np.sign(skewness - 1) + right * np.sign(skewness + 1)
    if kind == "ecod":
        outlyingness = np.maximum(skewed, np.maximum(left, right))
    elif kind == "copod":
        outlyingness = np.maximum(skewed, (left + right) / 2)
    else:
        raise ValueError(f"tail_probability_scores: kind must be 'ecod' or 'copod', got {kind!r}")
    return outlyingness.sum(axis=1)


@dataclass(frozen=True)
class ClassicalSpec:
    """How one PyOD detector is exposed: registry name, PyOD class, parameters and their defaults."""

    name: str
    class_name: str
    pyod_path: str
    description: str
    params: dict[str, Any]
    seeded: bool = False
    #: What some parameters accept (:mod:`metaad._constraints`); the others are checked by PyOD when it fits.
    constraints: dict[str, Any] | None = None
    #: Parameters for the contract suite's small data (see :meth:`BaseDetector._unit_test_params`).
    test_params: dict[str, Any] | None = None
    #: "ecod" or "copod": score new rows against the training data alone (see :func:`tail_probability_scores`).
    tail_score: str = ""
    #: ``f(X, kwargs) -> kwargs``: PyOD's arguments adjusted to the training data (see :func:`pca_rank_kwargs`).
    adjust_kwargs: Any = None


#: Principal components explaining less than this share of the variance are numerically zero.
PCA_MIN_VARIANCE_RATIO = 1e-9


def pca_rank_kwargs(X: np.ndarray, kwargs: dict[str, Any]) -> dict[str, Any]:
    """PyOD PCA's arguments with ``n_components`` capped at the data's numerical rank.

    PyOD's weighted PCA divides each row's distance to a component by that component's share of the variance;
    collinear columns give a component with a share of about 1e-17, and every score becomes infinite (cardio:
    21 columns of rank 20). Components explaining less than :data:`PCA_MIN_VARIANCE_RATIO` of the (standardized,
    when ``standardization``) variance are left out; an integer ``n_components`` above the rank is lowered to
    it, and ``n_components=None`` (all) becomes the rank. Fractional and "mle" values are PyOD's to handle.

    Examples
    --------
    >>> X = np.random.RandomState(0).normal(size=(100, 3))
    >>> X = np.c_[X, X[:, 0] + X[:, 1]]  # a fourth column that adds no direction
    >>> pca_rank_kwargs(X, {"n_components": None, "standardization": True})["n_components"]
    3
    """
    n_components = kwargs.get("n_components")
    if n_components is not None and not isinstance(n_components, (int, np.integer)):
        return kwargs
    Z = X - X.mean(axis=0)
    if kwargs.get("standardization", True):
        Z = Z / np.where(Z.std(axis=0) > 0, Z.std(axis=0), 1.0)
    variance = np.linalg.eigvalsh(Z.T @ Z)  # the squared singular values of Z, at a fraction of an SVD's cost
    rank = max(1, int((variance / max(variance.sum(), np.finfo(float).tiny) > PCA_MIN_VARIANCE_RATIO).sum()))
    limit = min(rank, X.shape[0] - 1) if X.shape[0] > 1 else rank
    return kwargs | {"n_components": max(1, min(limit, int(n_components) if n_components is not None else limit))}


_POSITIVE_INT = [Interval(Integral, 1, None)]


CLASSICAL_SPECS: tuple[ClassicalSpec, ...] = (
    ClassicalSpec("iforest", "IForestDetector", "pyod.models.iforest.IForest",
                  "Isolation Forest: rows isolated by few random splits are anomalous (Liu et al. 2008).",
                  {"n_estimators": 100, "max_samples": "auto", "max_features": 1.0, "bootstrap": False},
                  seeded=True, constraints={"n_estimators": _POSITIVE_INT}),
    ClassicalSpec("ecod", "ECODDetector", "pyod.models.ecod.ECOD",
                  "ECOD: empirical-CDF tail probabilities per feature, parameter-free (Li et al. 2022).", {},
                  tail_score="ecod"),
    ClassicalSpec("copod", "COPODDetector", "pyod.models.copod.COPOD",
                  "COPOD: copula-based tail probabilities, parameter-free (Li et al. 2020).", {},
                  tail_score="copod"),
    ClassicalSpec("hbos", "HBOSDetector", "pyod.models.hbos.HBOS",
                  "HBOS: histogram-based outlier score, features treated independently (Goldstein 2012).",
                  {"n_bins": 10, "alpha": 0.1, "tol": 0.5},
                  constraints={"n_bins": [Options("auto"), Interval(Integral, 1, None)],
                               "alpha": [Interval(Real, 0, 1, closed="neither")]}),
    ClassicalSpec("knn", "KNNDetector", "pyod.models.knn.KNN",
                  "k-nearest neighbours: distance to the k-th (or mean/median) neighbour.",
                  {"n_neighbors": 5, "method": "largest", "metric": "minkowski", "p": 2},
                  constraints={"n_neighbors": _POSITIVE_INT, "method": [Options("largest", "mean", "median")]}),
    ClassicalSpec("lof", "LOFDetector", "pyod.models.lof.LOF",
                  "Local Outlier Factor: density relative to the neighbours' density (Breunig et al. 2000).",
                  {"n_neighbors": 20, "metric": "minkowski", "p": 2}, constraints={"n_neighbors": _POSITIVE_INT},
                  test_params={"n_neighbors": 9}),  # the checks fit on 10 rows
    ClassicalSpec("ocsvm", "OCSVMDetector", "pyod.models.ocsvm.OCSVM",
                  "One-class SVM with an RBF kernel (Schoelkopf et al. 2001).",
                  {"kernel": "rbf", "nu": 0.5, "gamma": "auto", "degree": 3, "coef0": 0.0},
                  constraints={"nu": [Interval(Real, 0, 1, closed="right")],
                               "kernel": [Options("rbf", "linear", "poly", "sigmoid")]}),
    ClassicalSpec("pca", "PCADetector", "pyod.models.pca.PCA",
                  "PCA: weighted distance to the principal subspace (Shyu et al. 2003).",
                  {"n_components": None, "whiten": False, "weighted": True, "standardization": True},
                  seeded=True, adjust_kwargs=pca_rank_kwargs),
    ClassicalSpec("loda", "LODADetector", "pyod.models.loda.LODA",
                  "LODA: ensemble of one-dimensional histograms on random projections (Pevny 2016).",
                  {"n_bins": 10, "n_random_cuts": 100}, seeded=True,
                  constraints={"n_bins": _POSITIVE_INT, "n_random_cuts": _POSITIVE_INT}),
)


def _make_adapter(spec: ClassicalSpec) -> type[PyODAdapter]:
    """Generate the adapter class for ``spec`` with an explicit keyword-only signature (for get_params/clone)."""
    defaults = {**spec.params, "contamination": 0.1, "threshold": None, "random_state": None}
    __init__ = make_init(defaults, spec.class_name)
    param_doc = "\n".join(f"    {n} : default={d!r}\n        Passed to PyOD's {spec.pyod_path.rsplit('.', 1)[1]}." for n, d in spec.params.items())
    doc = (
        f"{spec.description}\n\nAdapter over ``{spec.pyod_path}``.\n\nParameters\n----------\n{param_doc}\n"
        "    contamination, threshold, random_state\n        See :class:`metaad.detectors.base.BaseDetector`.\n\n"
        f"Examples\n--------\n>>> import numpy as np, metaad\n>>> X = np.random.RandomState(0).normal(size=(200, 3))\n"
        f">>> det = metaad.make_detector({spec.name!r}).fit(X)\n>>> det.decision_scores_.shape\n(200,)\n"
    )
    cls = type(
        spec.class_name,
        (PyODAdapter,),
        {
            "__init__": __init__,
            "__doc__": doc,
            "__module__": __name__,
            "_pyod_path": spec.pyod_path,
            "_pyod_params": tuple(spec.params),
            "_seeded": spec.seeded,
            # parameters without a constraint here are checked by PyOD when it fits
            "_parameter_constraints": {**PyODAdapter._parameter_constraints, **dict.fromkeys(spec.params, "no_validation"),
                                       **(spec.constraints or {})},
            "_test_params": dict(spec.test_params or {}),
            "_tail_score": spec.tail_score,
            "_adjust_kwargs": staticmethod(spec.adjust_kwargs) if spec.adjust_kwargs is not None else None,
        },
    )
    return register(spec.name, family="classical", description=spec.description)(cls)


for _spec in CLASSICAL_SPECS:
    globals()[_spec.class_name] = _make_adapter(_spec)

__all__ = ["CLASSICAL_SPECS", "PCA_MIN_VARIANCE_RATIO", "ClassicalSpec", "PyODAdapter", "pca_rank_kwargs", "tail_probability_scores"] + [s.class_name for s in CLASSICAL_SPECS]
