"""The selector: from a table's meta-features, the predicted AUROC and cost of every configuration.

It learns from a :class:`~metaad.meta.knowledge.KnowledgeBase`: tasks (a dataset at a size) x configurations
of test AUROC and of fit + score seconds, and tasks x meta-features. It predicts the *deviation* of a
configuration's AUROC from the task's mean AUROC (a task's level says nothing about which configuration to
choose); a nearest-neighbour estimate of the level turns deviations back into a predicted AUROC for display.

Models (``model=``):

``"global"``
    The mean deviation of each configuration over the training tasks: one ranking for every table.
``"knn"``
    The distance-weighted mean deviation over the ``n_neighbors`` nearest training tasks in standardized
    meta-feature space (the row count among the features, so a large table's neighbours are large tasks),
    shrunk towards the global one: ``shrinkage * knn + (1 - shrinkage) * global``.

(Matrix factorization, MetaOD-style, and a LightGBM regressor were evaluated on the 500-row knowledge base and
did not beat the global ranking by more than 0.0015 AUROC; they were removed, their figures are kept in
BENCHMARKS.md section 5.)

**Cost.** For each configuration a log-linear model of its seconds in the rows and columns of the task,
``log10 s = a + b log(rows) + c log(columns)`` (least squares over the training tasks, a little ridge), which
extrapolates to tables larger than any task. The ranking subtracts ``cost_weight`` AUROC per decade that a
configuration is predicted to be slower than the median configuration on this table: a slow one must earn it.

Examples
--------
>>> from metaad.meta.knowledge import synthetic_knowledge
>>> kb = synthetic_knowledge(n_datasets=30, random_state=0)
>>> selector = Selector(model="knn").fit(kb)
>>> ranking = selector.rank(kb.meta_features.iloc[0].to_dict())
>>> list(ranking.columns[:3])
['config_id', 'family', 'params_json']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metaad.exceptions import DataError, NotFittedError, ParameterError
from metaad.meta.knowledge import KnowledgeBase

MODELS: tuple[str, ...] = ("global", "knn")

#: Standardized meta-features are clipped to this many standard deviations, so that one extreme feature of a
#: new table cannot decide its neighbours alone.
FEATURE_CLIP = 5.0
#: Added to a neighbour's distance before inverting it into a weight, so an exact twin does not take all weight.
DISTANCE_FLOOR = 0.05
#: Ridge penalty of the cost models (in units of the squared log features).
COST_RIDGE = 1e-3
#: The deviation given to a configuration with no result on any training task: it ranks last.
UNSEEN_DEVIATION = -1.0


def _nanmean_columns(D: np.ndarray) -> np.ndarray:
    counts = np.isfinite(D).sum(axis=0)
    sums = np.nansum(D, axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _weighted_nanmean(D: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Rows of ``weights`` (m x n) average the rows of ``D`` (n x c), skipping NaN entries."""
    mask = np.isfinite(D)
    filled = np.where(mask, D, 0.0)
    totals = weights @ mask.astype(np.float64)
    return np.where(totals > 0, (weights @ filled) / np.maximum(totals, 1e-12), np.nan)


class Selector:
    """Predict the AUROC and the cost of every configuration of a knowledge base for a new table.

    Parameters
    ----------
    model : {"global", "knn"}, default "knn"
        See the module docstring.
    n_neighbors : int, default 10
        Nearest tasks for ``knn``, for the level estimate and for explanations.
    shrinkage : float, default 0.5
        Weight of the ``knn`` model against the global ranking, in [0, 1].
    cost_weight : float, default 0.01
        AUROC subtracted per decade a configuration is predicted slower than the median one (0: ignore cost).

    Examples
    --------
    >>> from metaad.meta.knowledge import synthetic_knowledge
    >>> kb = synthetic_knowledge(n_datasets=30)
    >>> int(Selector(model="global").fit(kb).rank(kb.meta_features.iloc[0].to_dict())["rank"].iloc[0])
    1
    """

    def __init__(self, *, model: str = "knn", n_neighbors: int = 10, shrinkage: float = 0.5,
                 cost_weight: float = 0.01) -> None:
        self.model = model
        self.n_neighbors = n_neighbors
        self.shrinkage = shrinkage
        self.cost_weight = cost_weight

    # --------------------------------------------------------------------------------------- fit
    def fit(self, knowledge: KnowledgeBase) -> Selector:
        """Learn from ``knowledge``; returns ``self``."""
        if self.model not in MODELS:
            raise ParameterError(f"Selector: unknown model {self.model!r}; expected one of {', '.join(MODELS)}")
        if not 0.0 <= float(self.shrinkage) <= 1.0:
            raise ParameterError(f"Selector: shrinkage must be in [0, 1], got {self.shrinkage!r}")
        if float(self.cost_weight) < 0:
            raise ParameterError(f"Selector: cost_weight must be >= 0, got {self.cost_weight!r}")
        if len(knowledge.datasets) < 2:
            raise DataError(f"a selector needs results on at least 2 datasets, the knowledge has {len(knowledge.datasets)}")
        P = knowledge.performance.to_numpy(dtype=np.float64)
        self.level_ = np.nanmean(P, axis=1)
        # a configuration that failed on a task counts as an average one there (as a fallback would)
        self.deviation_ = np.nan_to_num(P - self.level_[:, None], nan=0.0)
        self.tasks_ = list(knowledge.tasks.index)
        self.task_datasets_ = list(knowledge.tasks["dataset"])
        self.datasets_ = knowledge.datasets
        self.config_ids_ = list(knowledge.performance.columns)
        self.configurations_ = knowledge.configurations.loc[self.config_ids_].copy()
        self.performance_ = knowledge.performance.copy()
        features = knowledge.meta_features.astype(np.float64).fillna(0.0)
        self.feature_names_ = list(features.columns)
        F = features.to_numpy(dtype=np.float64)
        self.feature_mean_ = F.mean(axis=0)
        scale = F.std(axis=0)
        self.feature_scale_ = np.where(scale > 1e-12, scale, 1.0)
        self.features_ = self._standardize(F)
        self.global_ = np.nan_to_num(_nanmean_columns(self.deviation_), nan=UNSEEN_DEVIATION)
        self._fit_cost(knowledge)
        return self

    def _size_design(self, features: pd.DataFrame | dict[str, float]) -> np.ndarray:
        frame = pd.DataFrame([features]) if isinstance(features, dict) else features
        rows = frame.get("shape.log_rows", pd.Series(np.zeros(len(frame)), index=frame.index))
        cols = frame.get("shape.log_columns", pd.Series(np.zeros(len(frame)), index=frame.index))
        return np.column_stack([np.ones(len(frame)), np.asarray(rows, dtype=np.float64), np.asarray(cols, dtype=np.float64)])

    def _fit_cost(self, knowledge: KnowledgeBase) -> None:
        """Per configuration: least squares of log10 seconds on (1, log rows, log columns); family model as fallback."""
        design = self._size_design(knowledge.meta_features)
        seconds = knowledge.seconds.reindex(columns=self.config_ids_).to_numpy(dtype=np.float64)
        target = np.log10(np.maximum(seconds, 1e-4))
        ridge = COST_RIDGE * np.diag([0.0, 1.0, 1.0])
        families = self.configurations_["family"].to_numpy()
        coef = np.full((len(self.config_ids_), design.shape[1]), np.nan)

        def solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.linalg.solve(A.T @ A + ridge * len(b), A.T @ b)

        for j in range(len(self.config_ids_)):
            ok = np.isfinite(target[:, j])
            if ok.sum() >= 6:
                coef[j] = solve(design[ok], target[ok, j])
        for family in np.unique(families):
            members = np.flatnonzero(families == family)
            rows, cols = np.nonzero(np.isfinite(target[:, members]))
            todo = [j for j in members if not np.isfinite(coef[j]).all()]
            if todo and len(rows) >= 6:
                fam_coef = solve(design[rows], target[rows, members[cols]])
                coef[todo] = fam_coef
        coef[~np.isfinite(coef).all(axis=1)] = np.nanmedian(coef, axis=0) if np.isfinite(coef).any() else 0.0
        self.cost_coef_ = coef

    def _standardize(self, F: np.ndarray) -> np.ndarray:
        return np.clip((F - self.feature_mean_) / self.feature_scale_, -FEATURE_CLIP, FEATURE_CLIP)

    # --------------------------------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "global_"):
            raise NotFittedError("this Selector is not fitted yet; call fit(knowledge) first")

    def _feature_matrix(self, features: Any) -> np.ndarray:
        """Rows of standardized meta-features in the training order; unknown names ignored, missing ones = mean."""
        frame = pd.DataFrame([features]) if isinstance(features, dict) else pd.DataFrame(features)
        frame = frame.reindex(columns=self.feature_names_)
        values = frame.to_numpy(dtype=np.float64)
        values = np.where(np.isfinite(values), values, self.feature_mean_[None, :])
        return self._standardize(values)

    def neighbours(self, features: Any, k: int | None = None) -> pd.DataFrame:
        """The ``k`` training tasks nearest to ``features``: columns ``task``, ``dataset`` and ``distance``.

        The distance is the root-mean-square difference of the standardized meta-features.
        """
        self._check_fitted()
        z = self._feature_matrix(features)[0]
        distance = np.sqrt(((self.features_ - z) ** 2).mean(axis=1))
        order = np.argsort(distance, kind="stable")[: k or self.n_neighbors]
        return pd.DataFrame({"task": [self.tasks_[i] for i in order], "dataset": [self.task_datasets_[i] for i in order],
                             "distance": distance[order]})

    def _knn_weights(self, Z: np.ndarray) -> np.ndarray:
        distance = np.sqrt(((Z[:, None, :] - self.features_[None, :, :]) ** 2).mean(axis=2))
        k = min(self.n_neighbors, len(self.tasks_))
        weights = np.zeros_like(distance)
        for r in range(distance.shape[0]):
            nearest = np.argsort(distance[r], kind="stable")[:k]
            weights[r, nearest] = 1.0 / (distance[r, nearest] + DISTANCE_FLOOR)
        return weights

    def predict_deviation(self, features: Any) -> np.ndarray:
        """Predicted AUROC deviation from the table's mean, shape (n_tables, n_configurations)."""
        self._check_fitted()
        Z = self._feature_matrix(features)
        base = np.repeat(self.global_[None, :], Z.shape[0], axis=0)
        if self.model == "global":
            return base
        model = _weighted_nanmean(self.deviation_, self._knn_weights(Z))
        model = np.where(np.isfinite(model), model, base)
        s = float(self.shrinkage)
        return s * model + (1.0 - s) * base

    def predict_level(self, features: Any) -> np.ndarray:
        """Predicted mean AUROC over the configurations (nearest-neighbour estimate), one per table."""
        self._check_fitted()
        weights = self._knn_weights(self._feature_matrix(features))
        return (weights @ self.level_) / weights.sum(axis=1)

    def predict_seconds(self, features: Any) -> np.ndarray:
        """Predicted fit + score seconds of every configuration, shape (n_tables, n_configurations)."""
        self._check_fitted()
        frame = pd.DataFrame([features]) if isinstance(features, dict) else pd.DataFrame(features)
        return 10.0 ** (self._size_design(frame) @ self.cost_coef_.T)

    def rank(self, features: dict[str, float] | pd.Series) -> pd.DataFrame:
        """Every configuration ranked for one table, best first.

        Returns
        -------
        pandas.DataFrame
            Columns ``config_id``, ``family``, ``params_json``, ``predicted_auroc``, ``predicted_seconds``,
            ``score`` (what the ranking sorts by: the predicted deviation from the table's mean, less the cost
            penalty) and ``rank`` (1 = best).
        """
        row = dict(features)
        deviation = self.predict_deviation(row)[0]
        level = self.predict_level(row)[0]
        seconds = self.predict_seconds(row)[0]
        slower = np.maximum(0.0, np.log10(seconds / np.median(seconds)))
        frame = pd.DataFrame({
            "config_id": self.config_ids_,
            "family": self.configurations_["family"].to_numpy(),
            "params_json": self.configurations_["params_json"].to_numpy(),
            "predicted_auroc": np.clip(level + deviation, 0.0, 1.0),
            "predicted_seconds": seconds,
            "score": deviation - float(self.cost_weight) * slower,
        })
        frame = frame.sort_values(["score", "config_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
        frame["rank"] = np.arange(1, len(frame) + 1)
        return frame


__all__ = ["MODELS", "Selector"]
